"""Dates: the one place where values become dates, and where as-of dates are judged.

- Coercion and parsing: :func:`to_date` (a date, ISO text or Timestamp), :func:`parse_date`
  (what a request carries: a date or None, never an error), :func:`parse_iso_date` (a
  typed ISO date, ``YYYY-MM`` meaning the first of the month where allowed), :func:`iso`
  (a value's ISO text or None), :func:`optional_date` (a value's date or None).
- The as-of range (below) and the as-of warnings (:func:`as_of_warnings`).

The as-of dates the product answers for, and the one check every entry point uses:

An as-of date recounts the trial to that day: the accrual series, the forecast paths and
the exports all grow with the span between the trial start and the date. A date typed in
a URL or posted by a crafted request (9999-12-31, 0001-01-01) would cost minutes of CPU
and gigabytes of memory for a view nobody needs. So a request's date must lie in

    trial start − 1 year  …  data cut-off + 5 years

(a year before the start shows the empty trial; five years after the cut-off covers any
forecast horizon a steering committee asks about). Outside it the page, the downloads,
``?as_of=`` and the CLI's ``--as-of`` all refuse with the same message, before any work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

import pandas as pd

DateLike = dt.date | str | pd.Timestamp

#: An as-of this many days or fewer after the cut-off is "now" for a weekly export.
STALE_CUTOFF_DAYS = 14

YEARS_BEFORE_START = 1
YEARS_AFTER_CUTOFF = 5


def to_date(value: DateLike) -> dt.date:
    """Accept a date, an ISO string or a Timestamp; return a plain date."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def iso(value: Any) -> str | None:
    """A date-like value's ISO text; None for None, NaN or NaT."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date().isoformat()


def optional_date(value: Any) -> dt.date | None:
    """A date-like value as a date; None for None, NaN or NaT (a site not started yet)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def parse_iso_date(text: str, *, month_precision: bool = False) -> dt.date:
    """``YYYY-MM-DD`` (and ``YYYY-MM`` as the first of that month when ``month_precision``);
    ``ValueError`` otherwise, for the caller to word with its own location."""
    if month_precision and len(text) == 7:
        return dt.date.fromisoformat(text + "-01")
    return dt.date.fromisoformat(text)


class AsOfRefused(ValueError):
    """An as-of date outside :class:`AsOfRange` (or not a date); the message says the range."""


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a non-leap year
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class AsOfRange:
    """The dates this trial's views are computed for (both ends included)."""

    earliest: dt.date
    latest: dt.date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.earliest <= day <= self.latest

    def refusal(self, shown: str) -> str:
        return (
            f"As-of date {shown} refused: choose a date from {self.earliest.isoformat()} "
            f"(a year before the trial start) to {self.latest.isoformat()} "
            "(five years after the data cut-off)."
        )


def as_of_range(start: dt.date, cutoff: dt.date) -> AsOfRange:
    """The allowed range for a trial that started on ``start`` with data cut at ``cutoff``."""
    earliest = _add_years(start, -YEARS_BEFORE_START) if start.year > 1 else start
    latest = _add_years(max(cutoff, start), YEARS_AFTER_CUTOFF) if cutoff.year < 9990 else cutoff
    return AsOfRange(earliest, latest)


def parse_date(raw: Any) -> dt.date | None:
    """An ISO ``YYYY-MM-DD`` (a datetime string's first 10 characters), else None.

    Anything else a request may carry (a number, a list, a dict) is None, never an error.
    """
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if not isinstance(raw, str) or len(raw) < 10:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return None


def check_as_of(day: dt.date, allowed: AsOfRange) -> dt.date:
    """``day`` when it is in ``allowed``; else :class:`AsOfRefused` with the range."""
    if day not in allowed:
        raise AsOfRefused(allowed.refusal(day.isoformat()))
    return day


def resolve_as_of(raw: Any, default: dt.date, allowed: AsOfRange) -> dt.date:
    """The as-of date a request asks for: ``raw`` if given and valid, ``default`` if absent.

    A value that is present but not a date, or a date out of range, is refused — never
    silently replaced by the cut-off, which would show the reader numbers for a day
    they did not ask for.
    """
    if raw is None or raw == "":
        return default
    day = parse_date(raw)
    if day is None:
        shown = repr(raw)[:40] if isinstance(raw, str) else "(not a date)"
        raise AsOfRefused(allowed.refusal(shown))
    return check_as_of(day, allowed)


# --------------------------------------------------------------------------- as-of warnings
# One function, :func:`as_of_warnings`, words every warning about dates, so ``summary``,
# ``forecast`` and the page say the same thing in the same words: an as-of before the
# trial start (nothing can have happened yet); an as-of more than STALE_CUTOFF_DAYS days
# after the data cut-off (accrual after the cut-off is unknown, not zero); for a
# forecast, a ``--by`` or last-patient-in date already past at the as-of.
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


class HasLastPatientIn(Protocol):
    """A trial as far as deadlines go (:class:`dashboard.registry.Trial` is one); dates
    imports nothing of the product, so every module may use it."""

    @property
    def last_patient_in_date(self) -> dt.date | None: ...


def forecast_deadlines(trial: HasLastPatientIn, by: Sequence[dt.date] = ()) -> list[Deadline]:
    """The dates a forecast answers for: each ``--by`` date, then the last-patient-in date."""
    lpi = trial.last_patient_in_date  # None: the trial states no treatment duration
    return [Deadline("--by date", d) for d in by] + (
        [Deadline("last-patient-in date", lpi)] if lpi is not None else []
    )


def parse_as_of(search: str | None) -> dt.date | None:
    """The ``?as_of=YYYY-MM-DD`` of a page URL (its query string), if any and valid: how a
    bookmarked or mailed link names its date."""
    if not search:
        return None
    values = parse_qs(search.lstrip("?")).get("as_of")
    if not values:
        return None
    try:
        return dt.date.fromisoformat(values[0])
    except ValueError:
        return None


__all__ = [
    "STALE_CUTOFF_DAYS",
    "AsOfRange",
    "AsOfRefused",
    "DateLike",
    "Deadline",
    "as_of_range",
    "as_of_warnings",
    "check_as_of",
    "forecast_deadlines",
    "iso",
    "parse_as_of",
    "parse_date",
    "parse_iso_date",
    "resolve_as_of",
    "to_date",
]
