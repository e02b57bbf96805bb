"""Counts at any as-of date from sorted dates, built once per data version.

The as-of picker offers every day from the trial start to the cut-off, so the page counts
at dates nobody asked before. Filtering the enrollment frame for each one costs ~150 ms
at 2,000 sites / 200,000 patients; this index sorts each site's screening,
screen-failure and randomization dates once, and a count at a date is then a bisection
(``np.searchsorted``) per site, all sites at once: well under a millisecond.

The definitions are :mod:`dashboard.metrics`' own (a patient counts from the day of the
date, inclusive; a missing date never counts). :func:`build_index` returns None when the
frame is one the index cannot reproduce exactly (dates that are not datetimes, dates with
a time of day, repeated site ids): the callers then count by filtering, as before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9


def ns_of(value: dt.date | pd.Timestamp) -> int:
    """A day's midnight in nanoseconds since the epoch (the index's time unit)."""
    return int(pd.Timestamp(value).as_unit("ns").value)


@dataclass(frozen=True)
class DateIndex:
    """One kind of date (e.g. randomization) of every patient, sorted two ways.

    ``all_sorted``: every known date, sorted (totals, whatever the site). ``keys``: per
    known site, its dates as ``code × (R + 1) + rank`` (``rank``: position of the date
    among the distinct dates), sorted, so one bisection per site counts them all at once;
    ``starts[code]`` is where that site's keys begin. ``values``: the dates in ``keys``
    order, in the frame's own dtype (a site's first and last dates).
    """

    all_sorted: np.ndarray
    keys: np.ndarray
    starts: np.ndarray
    values: np.ndarray

    def total(self, cut_ns: int) -> int:
        """How many dates are ≤ the cut."""
        return int(np.searchsorted(self.all_sorted, cut_ns, side="right"))


@dataclass(frozen=True)
class CountsIndex:
    """Per site (in the sites frame's order) and in total: the sorted dates of screening,
    screen failure (screening date of SCREEN_FAILED patients) and randomization."""

    site_ids: pd.Index
    distinct: np.ndarray  # every distinct date (ns), sorted: ranks
    screened: DateIndex
    screen_failed: DateIndex
    randomized: DateIndex
    #: first randomization (ns) of every site id with one, sites frame or not, sorted
    first_randomized_sorted: np.ndarray
    #: other date-independent results kept with the index (it lives as long as its data
    #: version): :mod:`dashboard.site_counts` keeps the sites joined to their geocodes
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def width(self) -> int:
        return len(self.distinct) + 1

    def rank(self, cut_ns: int) -> int:
        """How many distinct dates are ≤ the cut: a date is ≤ the cut iff its rank is below."""
        return int(np.searchsorted(self.distinct, cut_ns, side="right"))

    def per_site(self, dates: DateIndex, cut_ns: int) -> np.ndarray:
        """How many dates of each site are ≤ the cut (int64, sites frame order)."""
        codes = np.arange(len(self.site_ids), dtype=np.int64)
        ends = np.searchsorted(dates.keys, codes * self.width + self.rank(cut_ns), side="left")
        return (ends - dates.starts).astype(np.int64)

    def sites_enrolling(self, cut_ns: int) -> int:
        """Distinct site ids (known to the sites frame or not) with a randomization ≤ cut."""
        return int(np.searchsorted(self.first_randomized_sorted, cut_ns, side="right"))


def _datetime_ns(series: pd.Series) -> np.ndarray | None:
    """The column as int64 nanoseconds (NaT: int64 min), or None when it is not plain dates."""
    if not pd.api.types.is_datetime64_dtype(series.dtype):
        return None
    values = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
    known = values != np.iinfo(np.int64).min
    if np.any(values[known] % NS_PER_DAY):  # a time of day: the daily series would differ
        return None
    return values


def _date_index(
    values_ns: np.ndarray,
    raw: np.ndarray,
    codes: np.ndarray,
    distinct: np.ndarray,
    n_sites: int,
    mask: np.ndarray,
) -> DateIndex:
    known = mask & (values_ns != np.iinfo(np.int64).min)
    all_sorted = np.sort(values_ns[known])
    at_site = known & (codes >= 0)
    keys = codes[at_site] * (len(distinct) + 1) + np.searchsorted(distinct, values_ns[at_site])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.searchsorted(keys, np.arange(n_sites, dtype=np.int64) * (len(distinct) + 1))
    return DateIndex(all_sorted, keys, starts, raw[at_site][order])


def build_index(sites: pd.DataFrame, enrollment: pd.DataFrame) -> CountsIndex | None:
    """The counts index of one sites frame and enrollment, or None (see the module doc)."""
    site_ids = pd.Index(sites["site_id"])
    if not site_ids.is_unique:
        return None
    screening = _datetime_ns(enrollment["screening_date"])
    randomization = _datetime_ns(enrollment["randomization_date"])
    if screening is None or randomization is None:
        return None
    nat = np.iinfo(np.int64).min
    distinct = np.unique(np.concatenate([screening, randomization]))
    distinct = distinct[distinct != nat]
    codes = site_ids.get_indexer(enrollment["site_id"]).astype(np.int64)
    everyone = np.ones(len(enrollment), dtype=bool)
    failed = (enrollment["status"] == "SCREEN_FAILED").fillna(False).to_numpy(dtype=bool)
    raw_screening = enrollment["screening_date"].to_numpy()
    raw_randomization = enrollment["randomization_date"].to_numpy()
    n = len(site_ids)
    randomized = randomization != nat
    first = (
        pd.Series(randomization[randomized])
        .groupby(enrollment["site_id"].to_numpy()[randomized])
        .min()
    )
    return CountsIndex(
        site_ids=site_ids,
        distinct=distinct,
        screened=_date_index(screening, raw_screening, codes, distinct, n, everyone),
        screen_failed=_date_index(screening, raw_screening, codes, distinct, n, failed),
        randomized=_date_index(randomization, raw_randomization, codes, distinct, n, everyone),
        first_randomized_sorted=np.sort(first.to_numpy(dtype=np.int64)),
    )


def per_site_frame(
    index: CountsIndex, cut: pd.Timestamp, window_days: int, dtype: np.dtype
) -> pd.DataFrame:
    """Per site (indexed by site id, sites frame order): screened, screen_failed,
    randomized and randomized in the ``window_days`` up to the cut, and the first and last
    randomization by the cut (NaT when none; ``dtype``: the enrollment column's)."""
    cut_ns = ns_of(cut)
    randomized = index.per_site(index.randomized, cut_ns)
    before_window = index.per_site(index.randomized, cut_ns - window_days * NS_PER_DAY)
    starts = index.randomized.starts
    some = randomized > 0
    values = index.randomized.values
    first = np.full(len(randomized), np.datetime64("NaT"), dtype=dtype)
    last = first.copy()
    first[some] = values[starts[some]]
    last[some] = values[starts[some] + randomized[some] - 1]
    return pd.DataFrame(
        {
            "screened": index.per_site(index.screened, cut_ns),
            "screen_failed": index.per_site(index.screen_failed, cut_ns),
            "randomized": randomized,
            "randomized_last_90_days": randomized - before_window,
            "first_randomization": first,
            "last_randomization": last,
        },
        index=pd.Index(index.site_ids, name="site_id"),
    )


def daily_cumulative(dates: DateIndex, days_ns: np.ndarray) -> np.ndarray:
    """Cumulative count of ``dates`` at the end of each day of ``days_ns`` (int64)."""
    return np.searchsorted(dates.all_sorted, days_ns, side="right").astype(np.int64)


__all__ = [
    "CountsIndex",
    "DateIndex",
    "build_index",
    "daily_cumulative",
    "ns_of",
    "per_site_frame",
]
