"""The as-of dates the product answers for, and the one check every entry point uses.

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
from dataclasses import dataclass
from typing import Any

YEARS_BEFORE_START = 1
YEARS_AFTER_CUTOFF = 5


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
