"""Plain text for the terminal: the ``summary`` and ``forecast`` commands' readable output,
and the forecast's trend and prior sentences the page repeats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .forecast.common import MAX_FORECAST_DAYS, TARGET_PROBABILITY
from .metrics import Summary
from .registry import STATUS_LABELS


def _fmt_date(value: str | None) -> str:
    return value or "—"


def format_summary(s: Summary) -> str:
    """A readable table of the summary; says SYNTHETIC when it is."""
    t = s.trial
    lines = []
    if s.synthetic:
        lines.append("*** SYNTHETIC DEMO DATA — not trial results ***")
    lines.append(f"{t.nct_id}  {t.acronym or ''}  {t.title}")
    lines.append(
        f"As of {s.as_of.isoformat()} (data cut-off {_fmt_date(_iso(s.data_cutoff))}); "
        f"start {t.start_date.isoformat()}, planned completion "
        f"{t.planned_completion_date.isoformat()}"
    )
    for warning in s.warnings:
        lines.append(f"Warning: {warning}")
    pct = s.percent_of_target
    lines.append(
        f"Randomized {s.randomized} / {t.target}"
        + (f" ({pct:.1f} %)" if pct is not None else "")
        + f"   Screened {s.screened}   Screen failures {s.screen_failed}"
        + (f" ({s.screen_fail_percent:.1f} %)" if s.screen_fail_percent is not None else "")
    )
    by_status = ", ".join(f"{STATUS_LABELS.get(k, k)} {v}" for k, v in s.sites.by_status.items())
    lines.append(f"Sites {s.sites.total}: {by_status}; {s.sites.enrolling} have randomized ≥ 1")
    req = s.pace.required_rate_per_month
    lines.append(
        f"Rate last 90 days {s.pace.current_rate_per_month:.2f}/month; "
        + (
            f"required to reach target by completion {req:.2f}/month"
            if req is not None
            else "no time left before planned completion"
        )
    )
    lines.append("")
    header = f"{'Site':<4} {'Facility':<34} {'City':<22} {'Status':<20} {'Scr':>4} {'Rand':>4}  {'First':<10}  {'Last':<10}"
    lines.append(header)
    lines.append("-" * len(header))
    for row in s.per_site:
        lines.append(
            f"{row.site_id:<4} {row.facility[:34]:<34} {row.city[:22]:<22} "
            f"{STATUS_LABELS.get(row.status, row.status):<20} {row.screened:>4} {row.randomized:>4}  "
            f"{_fmt_date(_iso(row.first_randomization)):<10}  "
            f"{_fmt_date(_iso(row.last_randomization)):<10}"
        )
    return "\n".join(lines)


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _pct(p: float | None) -> str:
    return "—" if p is None else f"{100 * p:.1f} %"


def format_forecast(result: dict[str, Any], synthetic: bool = False) -> str:
    """A few readable lines of the ``forecast --json`` object; says SYNTHETIC when it is."""
    lines = []
    if synthetic:
        lines.append("*** SYNTHETIC DEMO DATA — not trial results ***")
    goal = result["target"]
    lines.append(
        f"As of {result['as_of']}: randomized {result['randomized']} / {goal} "
        f"({result['remaining']} to go); planned completion {result['planned_completion_date']}"
        + (
            f", last patient in {result['last_patient_in_date']}"
            if result.get("last_patient_in_date")
            else ""
        )
    )
    lin = result["linear"]
    if lin["predicted_target_date"]:
        slope = lin["slope_per_month"]
        lines.append(
            f"Linear (accrualPlot): {goal} reached {lin['predicted_target_date']}"
            + (f" at {slope:.2f}/month" if slope is not None else "")
        )
    else:
        lines.append(f"Linear (accrualPlot): no date ({lin['reason']})")
    pg = result["poisson_gamma"]
    if pg["alpha"] is None and pg["median_target_date"] is None:
        lines.append(f"Poisson–gamma: no forecast ({pg['reason']})")
    else:
        if pg["alpha"] is not None:
            lines.append(
                f"Poisson–gamma: {pg['sites_used']} open + {len(pg['sites_planned'])} planned sites, "
                f"α={pg['alpha']:.3g}, β={pg['beta']:.3g}/day "
                f"({pg['mean_rate_per_site_per_month']:.3f}/site/month), parameter uncertainty "
                f"{'on' if pg['parameter_uncertainty'] else 'off'}, {pg['paths']} paths"
            )
        i80, i95 = pg["interval_80"], pg["interval_95"]
        lines.append(
            f"  {goal} reached: median {pg['median_target_date'] or '—'}; "
            f"80 % {i80[0] or '—'} – {i80[1] or '—'}; 95 % {i95[0] or '—'} – {i95[1] or '—'}"
        )
        if pg.get("probability_beyond_horizon"):
            lines.append(
                f"  not reached within {MAX_FORECAST_DAYS // 365} years in "
                f"{_pct(pg['probability_beyond_horizon'])} of the simulations "
                f"(never: {_pct(pg.get('probability_never'))})"
            )
        if pg.get("trend"):
            lines.append(f"  {trend_text(pg['trend'])}")
        if pg.get("prior"):
            lines.append(f"  {prior_text(pg['prior'])}")
        for day, p in pg["probability_by"].items():
            exp = pg["expected_by"].get(day)
            extra = (
                f"; expected {exp['mean']:.1f} (80 % {exp['lo80']}–{exp['hi80']})" if exp else ""
            )
            lines.append(f"  P({goal} by {day}) = {_pct(p)}{extra}")
        m = pg["additional_sites_needed"]
        lines.append(
            f"  Additional sites for P ≥ {TARGET_PROBABILITY:.0%} by {pg['additional_sites_by']}: "
            + (f"{m}" if m is not None else "—")
            + (f" ({pg['additional_sites_reason']})" if pg["additional_sites_reason"] else "")
        )
        lines += sites_needed_lines(pg.get("sites_needed"))
    left = result["sites_left_out"]
    if left["count"]:
        lines.append(f"Sites left out ({left['count']}): {', '.join(left['site_ids'])}")
    for note in result["notes"]:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _signed_pct(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{'−' if x < 0 else '+'}{abs(100 * x):.0f} %"


def trend_text(trend: dict[str, Any] | None) -> str:
    """ "accrual slowing: −23 %/year (80 % −41 % to 0 %)" — the site-rate trend's posterior."""
    if not trend or trend.get("change_per_year") is None:
        return "accrual trend: not estimated"
    med = trend["change_per_year"]
    lo, hi = trend["interval_80"]
    word = "slowing" if med < -0.005 else "speeding up" if med > 0.005 else "steady"
    return (
        f"accrual {word}: {_signed_pct(med)}/year per site "
        f"(80 % {_signed_pct(lo)} to {_signed_pct(hi)}; "
        f"P(slowing) {_pct(trend.get('probability_slowing'))})"
    )


def prior_text(prior: dict[str, Any] | None) -> str:
    """Which prior the mean rate has, and how much it weighs now."""
    if not prior:
        return "no prior on the mean rate"
    share = prior.get("share_of_mean_rate_precision")
    return (
        f"prior on the mean rate: the plan ({prior['mean_rate_per_site_per_month']:.3f}"
        f"/site/month), worth {prior['pseudo_patients']:g} patients"
        + (f" ({_pct(share)} of the precision now)" if share is not None else "")
    )


def sites_needed_lines(table: dict[str, Any] | None) -> list[str]:
    """The decision table as text: per deadline and lag, the smallest k for 80 %."""
    if not table:
        return []
    goal = f"{table['target_probability']:.0%}"
    lines = [
        f"  More sites for P ≥ {goal} (opening after a lag, {table['ramp_up_days']}-day ramp-up):"
    ]
    for block in table["deadlines"]:
        if block["reason"]:
            lines.append(f"    by {block['deadline']} {block['date']}: {block['reason']}")
            continue
        parts = []
        for row in block["rows"]:
            k = row["smallest_k_for_target_probability"]
            parts.append(
                f"lag {row['lag_days']} d → {k if k is not None else '> ' + str(table['max_k'])}"
            )
        lines.append(f"    by {block['deadline']} {block['date']}: " + "; ".join(parts))
    return lines
