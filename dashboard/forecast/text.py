"""A few readable lines of the ``forecast --json`` object (the CLI's text output)."""

from __future__ import annotations

from typing import Any

from .common import TARGET_PROBABILITY


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
        f"({result['remaining']} to go); planned completion {result['planned_completion_date']}, "
        f"last patient in {result['last_patient_in_date']}"
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
    left = result["sites_left_out"]
    if left["count"]:
        lines.append(f"Sites left out ({left['count']}): {', '.join(left['site_ids'])}")
    for note in result["notes"]:
        lines.append(f"Note: {note}")
    return "\n".join(lines)
