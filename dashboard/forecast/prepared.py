"""The date-independent part of a forecast's inputs, prepared once per data version.

Why: the page asks for a forecast at whichever as-of date a user steps to. Parsing the
randomization dates, sorting them and matching each patient to a site row does not
depend on that date; at 2,000 sites / 200,000 patients it cost more than the whole
simulation (pandas filters and group-bys per date). :func:`prepare` does it once; the
per-date steps (:func:`classify`, :func:`since_open`, counts) are then binary searches
and ``bincount`` over sorted arrays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .sites import SitePlan

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class PreparedInputs:
    """Patients with a randomization date, sorted by it, and the sites as arrays.

    ``stamp`` (datetime64[ns] as int64) and ``day`` (date ordinal) per patient, sorted
    (stable); ``patient_site`` indexes ``site_keys`` (the distinct site ids of sites.csv),
    −1 for a site not in sites.csv. Per sites.csv row: ``site_ids``, ``site_key`` (index
    in ``site_keys``), ``status`` and ``activation`` (ordinal, NaN when unknown).
    """

    stamp: np.ndarray
    day: np.ndarray
    patient_site: np.ndarray
    site_ids: list[str]
    site_keys: list[str]
    site_key: np.ndarray
    status: np.ndarray
    activation: np.ndarray

    def count_by(self, when: dt.date | pd.Timestamp) -> int:
        """Patients randomized at or before ``when`` (a day: its midnight, as pandas compares)."""
        stamp = pd.Timestamp(when)
        try:
            value = stamp.as_unit("ns").value
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            # Beyond nanosecond timestamps (years before 1678 or after 2262): all or none.
            return len(self.stamp) if stamp.year > 1970 else 0
        return int(np.searchsorted(self.stamp, value, side="right"))

    def randomization_dates(self, n: int) -> pd.Series:
        """The first ``n`` randomization dates as the pandas Series the old code used."""
        return pd.Series(pd.to_datetime(self.stamp[:n], unit="ns"))


def prepare(sites: pd.DataFrame, enrollment: pd.DataFrame) -> PreparedInputs:
    """Sort and index one data version's patients and sites (see :class:`PreparedInputs`)."""
    rand = pd.to_datetime(enrollment["randomization_date"])
    has = rand.notna().to_numpy()
    stamps = rand[has].dt.as_unit("ns").to_numpy().astype("datetime64[ns]").astype(np.int64)
    order = np.argsort(stamps, kind="stable")
    stamps = stamps[order]
    days = stamps // (86_400 * 10**9) + _EPOCH_ORDINAL
    site_ids = [str(s) for s in sites["site_id"]]
    keys = list(dict.fromkeys(site_ids))
    index = {sid: i for i, sid in enumerate(keys)}
    patient_sites = enrollment.loc[has, "site_id"].astype(str).to_numpy()[order]
    patient_site = np.array([index.get(s, -1) for s in patient_sites], dtype=np.intp)
    activation = np.array(
        [
            np.nan if pd.isna(a) else float(pd.Timestamp(a).date().toordinal())
            for a in sites["activation_date"]
        ],
        dtype=float,
    )
    prep = PreparedInputs(
        stamp=stamps,
        day=days.astype(np.int64),
        patient_site=patient_site,
        site_ids=site_ids,
        site_keys=keys,
        site_key=np.array([index[s] for s in site_ids], dtype=np.intp),
        status=np.array(list(sites["status"]), dtype=object),
        activation=activation,
    )
    for array in (prep.stamp, prep.day, prep.patient_site, prep.site_key, prep.status):
        array.setflags(write=False)  # shared by the page's threads: read-only
    prep.activation.setflags(write=False)
    return prep


def classify(prep: PreparedInputs, cut: dt.date, trial_start: dt.date) -> SitePlan:
    """:func:`dashboard.forecast.sites.classify_sites` on prepared inputs (same rules)."""
    c = cut.toordinal()
    n = prep.count_by(cut)
    site = prep.patient_site[:n]
    known = site >= 0
    k_key = np.bincount(site[known], minlength=len(prep.site_keys))
    first_key = np.full(len(prep.site_keys), np.inf)
    keys_seen, first_row = np.unique(site[known], return_index=True)
    first_key[keys_seen] = prep.day[:n][known][first_row]  # sorted by date: first = earliest
    k = k_key[prep.site_key].astype(float)
    first = first_key[prep.site_key]
    recruiting = prep.status == "RECRUITING"
    not_yet = prep.status == "NOT_YET_RECRUITING"
    act = prep.activation
    opened = np.where(np.isnan(act), float(trial_start.toordinal()), act)
    early = recruiting & (k > 0) & (first < opened)
    opened = np.where(early, first, opened)
    is_open = recruiting & (opened <= c)
    planned = (recruiting & (opened > c)) | (not_yet & ~np.isnan(act) & (act > c))
    planned_day = np.where(recruiting, opened, act)
    open_rows = np.flatnonzero(is_open)
    planned_rows = np.flatnonzero(planned)
    left_out: list[tuple[str, str]] = []
    for i in np.flatnonzero(~is_open & ~planned):
        sid = prep.site_ids[i]
        if not_yet[i]:
            if np.isnan(act[i]):
                left_out.append((sid, "not yet recruiting, no planned activation date"))
            else:
                day = dt.date.fromordinal(int(act[i]))
                left_out.append((sid, f"not yet recruiting, planned activation {day} already past"))
        else:
            status: Any = prep.status[i]
            left_out.append((sid, f"status {status}"))
    notes: list[str] = []
    if early.any():
        ids = ", ".join(prep.site_ids[i] for i in np.flatnonzero(early))
        notes.append(
            f"site(s) {ids} randomized before their activation date: taken as open "
            "since their first randomization"
        )
    planned_dates = [dt.date.fromordinal(int(planned_day[i])) for i in planned_rows]
    return SitePlan(
        [prep.site_ids[i] for i in open_rows],
        k[open_rows],
        (c - opened[open_rows]).astype(float),
        [prep.site_ids[i] for i in planned_rows],
        planned_dates,
        np.array([(d - cut).days for d in planned_dates], dtype=float),
        left_out,
        notes,
    )


def since_open(prep: PreparedInputs, plan: SitePlan, cut: dt.date) -> float:
    """Σ over the open sites' patients of the days from the site's opening to the middle of
    the randomization day (the time data of the trend's likelihood)."""
    if not plan.open_ids:
        return 0.0
    opened = np.full(len(prep.site_keys), np.nan)
    index = {sid: i for i, sid in enumerate(prep.site_keys)}
    for sid, tau in zip(plan.open_ids, plan.tau, strict=True):
        opened[index[sid]] = cut.toordinal() - int(tau)
    n = prep.count_by(cut)
    site = prep.patient_site[:n]
    at = np.where(site >= 0, opened[np.maximum(site, 0)], np.nan)
    keep = ~np.isnan(at)
    if not keep.any():
        return 0.0
    return float(np.sum(np.maximum(prep.day[:n][keep] - at[keep] - 0.5, 0.0)))


def patients_at(prep: PreparedInputs, cut: dt.date, site_ids: list[str]) -> int:
    """Patients randomized by ``cut`` at the listed sites."""
    if not site_ids:
        return 0
    wanted = np.zeros(len(prep.site_keys) + 1, dtype=bool)
    index = {sid: i for i, sid in enumerate(prep.site_keys)}
    for sid in site_ids:
        if sid in index:
            wanted[index[sid]] = True
    site = prep.patient_site[: prep.count_by(cut)]
    return int(wanted[site].sum())  # −1 (not in sites.csv) indexes the trailing False
