"""The per-site table: each site's counts and activity as of one date.

Counted from :mod:`dashboard.cumulative`'s sorted dates (one bisection per site and
kind of date) when the frames allow it, else by filtering the enrollment; both give the
same table (tests/test_cumulative.py compares them on generated enrollments).
:mod:`dashboard.metrics` re-exports :func:`site_table` and the constants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cumulative import CountsIndex, build_index, per_site_frame
from .dates import DateLike, to_date
from .registry import LOCATION_STATUSES

MONTH_DAYS = 365.25 / 12
RATE_WINDOW_DAYS = 90
#: Registry statuses under which a site should have no patients; patients there mean the
#: registry record is behind the site's real state (it lags), and the page says so.
REGISTRY_LAG_STATUSES = ("NOT_YET_RECRUITING", "COMPLETED", "WITHDRAWN")


def site_table(
    sites: pd.DataFrame,
    geocodes: pd.DataFrame | None,
    enrollment: pd.DataFrame,
    as_of: DateLike,
    trial_start: dt.date | None = None,
    index: CountsIndex | None = None,
) -> pd.DataFrame:
    """One row per site (all sites, site-id order) with its counts and activity as of a date.

    Sites open from their activation date when known, else from the trial start date.
    ``index``: :func:`counts_index` of the same frames (the page keeps one per data
    version); without it one is built for this call.
    """
    cut = pd.Timestamp(to_date(as_of))
    index = index if index is not None else build_index(sites, enrollment)
    if index is not None:
        dtype = enrollment["randomization_date"].to_numpy().dtype  # datetime64 (build_index)
        by_site = per_site_frame(index, cut, RATE_WINDOW_DAYS, dtype)
        static = _static_parts(sites, geocodes, index)
        facts = site_facts(sites, index)
        return _site_table(sites, geocodes, by_site, cut, trial_start, static, facts)
    by_site = _per_site_by_filtering(enrollment, cut)
    return _site_table(sites, geocodes, by_site, cut, trial_start)


def counts_index(sites: pd.DataFrame, enrollment: pd.DataFrame) -> CountsIndex | None:
    """The sorted dates counts at any date come from (:mod:`dashboard.cumulative`), or None
    when the frames need counting by filtering."""
    return build_index(sites, enrollment)


def _per_site_by_filtering(enrollment: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    seen = enrollment[enrollment["screening_date"] <= cut]
    rand = enrollment[enrollment["randomization_date"] <= cut]
    return pd.DataFrame(
        {
            "screened": seen.groupby("site_id").size(),
            "screen_failed": seen[seen["status"] == "SCREEN_FAILED"].groupby("site_id").size(),
            "randomized": rand.groupby("site_id").size(),
            "randomized_last_90_days": rand[
                rand["randomization_date"] > cut - pd.Timedelta(days=RATE_WINDOW_DAYS)
            ]
            .groupby("site_id")
            .size(),
            "first_randomization": rand.groupby("site_id")["randomization_date"].min(),
            "last_randomization": rand.groupby("site_id")["randomization_date"].max(),
        }
    )


def _site_table(
    sites: pd.DataFrame,
    geocodes: pd.DataFrame | None,
    by_site: pd.DataFrame,
    cut: pd.Timestamp,
    trial_start: dt.date | None,
    static: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    facts: SiteFacts | None = None,
) -> pd.DataFrame:
    """The table from the per-site counts: joined to the sites and their geocodes, with
    every derived column computed on numpy arrays and added at once (column by column in
    pandas, ~40 operations cost ~7 ms even for 46 sites). Same values and dtypes as the
    pandas expressions written in the comments (tests/test_cumulative.py compares).
    ``static``: :func:`_static_parts`, given when ``by_site`` is
    :func:`dashboard.cumulative.per_site_frame` (int counts, one row per site in the sites'
    order): the three are then put side by side without a join, and the sites' statuses
    and activation dates are read from ``facts`` (:func:`site_facts`) when given."""
    if static is not None and by_site.index.equals(static[0].index):
        # Counted from the index: one row per site already, in the sites' order.
        parts: list[pd.DataFrame] = [static[0], by_site, static[1]]
        table = (
            by_site if facts is not None else by_site.join(static[0][["activation_date", "status"]])
        )
    else:
        facts = None
        table = sites.set_index("site_id").join(by_site, how="left")
        for col in ("screened", "screen_failed", "randomized", "randomized_last_90_days"):
            if table[col].dtype != np.int64:
                table[col] = table[col].fillna(0).astype(int)
        table = table.join(_geo_columns(table, geocodes), how="left")
        parts = [table]
    cut_ns = cut.as_unit("ns").value
    randomized = table["randomized"].to_numpy()
    screened = table["screened"].to_numpy()
    activation = facts.activation_ns if facts is not None else _ns(table["activation_date"])
    first, last = _ns(table["first_randomization"]), _ns(table["last_randomization"])
    total = int(randomized.sum())
    opened = activation
    if trial_start is not None:  # activation.fillna(trial start)
        opened = np.where(activation == _NAT, _ns_of(trial_start), activation)
    # (cut - opened).dt.days; then .where(days_open >= 0) and months over days > 0
    days_open = _days(cut_ns - opened, opened == _NAT)
    positive = days_open > 0
    months_open = np.where(positive, days_open, np.nan) / MONTH_DAYS
    if facts is not None:
        recruiting, lag, statuses = facts.recruiting, facts.lagging, facts.status
    else:
        recruiting = (table["status"] == "RECRUITING").to_numpy(dtype=bool)
        lag = table["status"].isin(REGISTRY_LAG_STATUSES).to_numpy(dtype=bool)
        statuses = table["status"].tolist()
    none_recent = table["randomized_last_90_days"].to_numpy() == 0
    derived = {
        "share_of_randomized": 100.0 * randomized / total
        if total
        else np.zeros(len(table), dtype=float),
        "days_since_last_randomization": _days(cut_ns - last, last == _NAT),
        "days_open": _where(days_open, days_open >= 0),
        "rate_per_month_since_activation": np.where(
            (opened != _NAT) & (opened <= cut_ns), randomized / months_open, np.nan
        ),
        "days_activation_to_first_randomization": _days(
            first - activation, (first == _NAT) | (activation == _NAT)
        ),
        "no_randomization": recruiting & (randomized == 0),
        "none_last_90_days": recruiting & (randomized > 0) & none_recent,
        # Data inconsistencies the reader must see rather than have hidden: an activation
        # date after the site's first randomization (a typo, or the wrong date entered),
        # and patients at a site the registry does not call RECRUITING (the registry lags).
        "activation_after_first_randomization": (activation != _NAT)
        & (first != _NAT)
        & (activation > first),
        "patients_at_non_recruiting_site": lag & (screened > 0),
    }
    derived["flag"] = _flags(
        derived["no_randomization"],
        derived["none_last_90_days"],
        derived["activation_after_first_randomization"],
        derived["patients_at_non_recruiting_site"],
        statuses,
    )
    extra = pd.DataFrame(derived, index=table.index)
    return pd.concat([*parts, extra], axis=1).reset_index()


def _geo_columns(table: pd.DataFrame, geocodes: pd.DataFrame | None) -> pd.DataFrame:
    """lat, lon and geocode_precision of each site of ``table`` (NaN where none)."""
    if geocodes is not None and len(geocodes):
        return geocodes.set_index("site_id")[["lat", "lon", "precision"]].rename(
            columns={"precision": "geocode_precision"}
        )
    return pd.DataFrame(
        {"lat": np.nan, "lon": np.nan, "geocode_precision": None}, index=table.index
    )


def _static_parts(
    sites: pd.DataFrame, geocodes: pd.DataFrame | None, index: CountsIndex
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The sites indexed by site id, and their geocode columns in the same order (kept in
    the data version's ``index``: they do not change with the date); None when the ids
    repeat (a join would then repeat rows: the caller joins instead)."""
    key = ("site_table", id(sites), id(geocodes))
    hit = index.memo.get(key)
    if hit is not None and hit[0] is sites and hit[1] is geocodes:
        return hit[2]
    base = sites.set_index("site_id")
    geo = _geo_columns(base, geocodes)
    parts = None
    if base.index.is_unique and geo.index.is_unique:
        parts = (base, base[[]].join(geo, how="left"))
    index.memo[key] = (sites, geocodes, parts)
    return parts


_NAT = np.iinfo(np.int64).min
#: A missing date among int64 nanoseconds (NaT's value).
NAT_NS = _NAT
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class SiteFacts:
    """What the page reads of the sites on every as-of date and that does not depend on it:
    ids, names, cities and statuses as lists, activation dates as int64 nanoseconds
    (missing: int64 min), statuses counted, and each site's name and city by id.

    Why: a new date on the page asks these of the site frame several times (the week card,
    the status counts, the table); read from pandas each time, they cost ~2 ms a date in
    a busy worker. Kept once per data version by :func:`site_facts`.
    """

    ids: list[Any]
    facility: list[Any]
    city: list[Any]
    status: list[Any]
    activation_ns: np.ndarray
    recruiting: np.ndarray
    lagging: np.ndarray
    status_counts: dict[str, int]
    facility_by_id: dict[Any, Any]
    city_by_id: dict[Any, Any]

    @classmethod
    def of(cls, sites: pd.DataFrame) -> SiteFacts:
        ids = sites["site_id"].tolist()
        facility, city = sites["facility"].tolist(), sites["city"].tolist()
        statuses = sites["status"]
        return cls(
            ids,
            facility,
            city,
            statuses.tolist(),
            _ns(sites["activation_date"]),
            (statuses == "RECRUITING").to_numpy(dtype=bool),
            statuses.isin(REGISTRY_LAG_STATUSES).to_numpy(dtype=bool),
            count_statuses(statuses),
            dict(zip(ids, facility, strict=True)),
            dict(zip(ids, city, strict=True)),
        )


def count_statuses(statuses: pd.Series) -> dict[str, int]:
    """Sites per ClinicalTrials.gov status (only statuses present, in canonical order)."""
    present = statuses.value_counts()
    return {s: int(present[s]) for s in LOCATION_STATUSES if s in present.index}


def site_facts(sites: pd.DataFrame, index: CountsIndex) -> SiteFacts | None:
    """:class:`SiteFacts` of ``sites``, kept in the data version's ``index``; None when the
    site ids repeat or the activation dates are not dates (the callers then read the
    frame)."""
    key = ("site_facts", id(sites))
    hit = index.memo.get(key)
    if hit is not None and hit[0] is sites:
        return hit[1]
    facts = None
    if sites["site_id"].is_unique and pd.api.types.is_datetime64_dtype(sites["activation_date"]):
        facts = SiteFacts.of(sites)
    index.memo[key] = (sites, facts)
    return facts


def _ns(column: pd.Series) -> np.ndarray:
    """A date column as int64 nanoseconds; missing: int64 min (NaT)."""
    return column.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _ns_of(day: dt.date) -> int:
    return int(pd.Timestamp(day).as_unit("ns").value)


def _days(delta_ns: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``Series.dt.days`` of a timedelta column: whole days (floored), int64, or float64
    with NaN where a date was missing."""
    days = np.where(missing, 0, delta_ns) // _NS_PER_DAY
    if not missing.any():
        return days
    out = days.astype(float)
    out[missing] = np.nan
    return out


def _where(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``Series.where(keep)``: NaN elsewhere (ints become floats only then)."""
    if keep.all():
        return values
    return np.where(keep, values, np.nan)


def _flags(
    none: np.ndarray,
    stale: np.ndarray,
    inconsistent: np.ndarray,
    lagging: np.ndarray,
    statuses: list[str],
) -> list[str]:
    """Each site's flag: its activity, then data inconsistencies, joined by "; "."""
    out = []
    for i in range(len(statuses)):
        parts = []
        if none[i]:
            parts.append("Recruiting, none randomized")
        elif stale[i]:
            parts.append("None in last 90 days")
        if inconsistent[i]:
            parts.append("Data: activation date after first randomization")
        if lagging[i]:
            status = statuses[i]
            parts.append(f"Patients, but registry says {status.replace('_', ' ').lower()}")
        out.append("; ".join(parts))
    return out
