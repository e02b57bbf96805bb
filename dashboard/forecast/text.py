"""A few readable lines of the ``forecast --json`` object (the CLI's text output)."""

from __future__ import annotations

from typing import Any

from .common import MAX_FORECAST_DAYS, TARGET_PROBABILITY


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
