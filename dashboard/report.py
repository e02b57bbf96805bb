"""Plain-text rendering of the summary, for the terminal and e-mails."""

from __future__ import annotations

from typing import Any

from .registry import STATUS_LABELS


def _fmt_date(value: str | None) -> str:
    return value or "—"


def format_summary(s: dict[str, Any]) -> str:
    """A readable table of the ``summary --json`` object; says SYNTHETIC when it is."""
    t = s["trial"]
    lines = []
    if s["synthetic"]:
        lines.append("*** SYNTHETIC DEMO DATA — not trial results ***")
    lines.append(f"{t['nct_id']}  {t.get('acronym') or ''}  {t['title']}")
    lines.append(
        f"As of {s['as_of']} (data cut-off {_fmt_date(s.get('data_cutoff'))}); "
        f"start {t['start_date']}, planned completion {t['planned_completion_date']}"
    )
    for warning in s.get("warnings") or []:
        lines.append(f"Warning: {warning}")
    pct = s["percent_of_target"]
    lines.append(
        f"Randomized {s['randomized']} / {t['target']}"
        + (f" ({pct:.1f} %)" if pct is not None else "")
        + f"   Screened {s['screened']}   Screen failures {s['screen_failed']}"
        + (
            f" ({s['screen_fail_percent']:.1f} %)"
            if s.get("screen_fail_percent") is not None
            else ""
        )
    )
    by_status = ", ".join(
        f"{STATUS_LABELS.get(k, k)} {v}" for k, v in s["sites"]["by_status"].items()
    )
    lines.append(
        f"Sites {s['sites']['total']}: {by_status}; {s['sites']['enrolling']} have randomized ≥ 1"
    )
    pace = s.get("pace") or {}
    if pace:
        req = pace.get("required_rate_per_month")
        lines.append(
            f"Rate last 90 days {pace['current_rate_per_month']:.2f}/month; "
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
    for row in s["per_site"]:
        lines.append(
            f"{row['site_id']:<4} {row['facility'][:34]:<34} {row['city'][:22]:<22} "
            f"{STATUS_LABELS.get(row['status'], row['status']):<20} {row['screened']:>4} {row['randomized']:>4}  "
            f"{_fmt_date(row['first_randomization']):<10}  {_fmt_date(row['last_randomization']):<10}"
        )
    return "\n".join(lines)
