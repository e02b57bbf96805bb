"""Honest about time: what an as-of date means against the trial start and the data cut-off.

One function, :func:`as_of_warnings`, words every warning about dates, so ``summary``,
``forecast`` and the page say the same thing in the same words:

- an as-of before the trial start (nothing can have happened yet);
- an as-of more than :data:`STALE_CUTOFF_DAYS` days after the data cut-off (accrual after
  the cut-off is unknown, not zero);
- for a forecast, a ``--by`` or last-patient-in date already past at the as-of.

:func:`dashboard.forecast_from_cutoff.forecast_as_of` uses them for the forecast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .registry import Trial

#: An as-of this many days or fewer after the cut-off is "now" for a weekly export.
STALE_CUTOFF_DAYS = 14


@dataclass(frozen=True)
class Deadline:
    """A date a forecast is asked about, named as the reader knows it."""

    label: str  # "--by date", "last-patient-in date"
    date: dt.date


def as_of_warnings(
    trial_start: dt.date,
    data_cutoff: dt.date | None,
    as_of: dt.date,
    deadlines: Iterable[Deadline] = (),
) -> list[str]:
    """The warnings a reader must see before trusting numbers as of ``as_of``; [] when none.

    ``data_cutoff`` None: not known (no cut-off warning).
    """
    out: list[str] = []
    if as_of < trial_start:
        out.append(
            f"The as-of date {as_of.isoformat()} is before the trial start "
            f"{trial_start.isoformat()}: nothing is counted yet."
        )
    lag = 0 if data_cutoff is None else (as_of - data_cutoff).days
    if data_cutoff is not None and lag > STALE_CUTOFF_DAYS:
        out.append(
            f"Data cut-off {data_cutoff.isoformat()} is {lag} days before the as-of date "
            f"{as_of.isoformat()}: accrual after the cut-off is unknown, not zero; patients "
            "screened or randomized after it are not counted."
        )
    seen: set[dt.date] = set()
    for deadline in deadlines:
        if deadline.date < as_of and deadline.date not in seen:
            seen.add(deadline.date)
            out.append(
                f"The {deadline.label} {deadline.date.isoformat()} is already past at the "
                f"as-of date {as_of.isoformat()}."
            )
    return out


def forecast_deadlines(trial: Trial, by: Sequence[dt.date] = ()) -> list[Deadline]:
    """The dates a forecast answers for: each ``--by`` date, then the last-patient-in date."""
    lpi = trial.last_patient_in_date  # None: the trial states no treatment duration
    return [Deadline("--by date", d) for d in by] + (
        [Deadline("last-patient-in date", lpi)] if lpi is not None else []
    )


__all__ = ["STALE_CUTOFF_DAYS", "Deadline", "as_of_warnings", "forecast_deadlines"]
