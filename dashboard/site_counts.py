"""The per-site table: each site's counts and activity as of one date.

Counted from :mod:`dashboard.cumulative`'s sorted dates (one bisection per site and
kind of date) when the frames allow it, else by filtering the enrollment; both give the
same table (tests/test_cumulative.py compares them on generated enrollments).
:mod:`dashboard.metrics` re-exports :func:`site_table` and the constants.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .cumulative import CountsIndex, build_index, per_site_frame
from .dates import DateLike, to_date

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
    else:
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
) -> pd.DataFrame:
    table = sites.set_index("site_id").join(by_site, how="left")
    for col in ("screened", "screen_failed", "randomized", "randomized_last_90_days"):
        table[col] = table[col].fillna(0).astype(int)
    if geocodes is not None and len(geocodes):
        geo = geocodes.set_index("site_id")[["lat", "lon", "precision"]].rename(
            columns={"precision": "geocode_precision"}
        )
        table = table.join(geo, how="left")
    else:
        table["lat"] = np.nan
        table["lon"] = np.nan
        table["geocode_precision"] = None
    total = int(table["randomized"].sum())
    table["share_of_randomized"] = (
        100.0 * table["randomized"] / total if total else pd.Series(0.0, index=table.index)
    )
    table["days_since_last_randomization"] = (cut - table["last_randomization"]).dt.days
    opened = table["activation_date"]
    if trial_start is not None:
        opened = opened.fillna(pd.Timestamp(trial_start))
    days_open = (cut - opened).dt.days
    months_open = days_open.where(days_open > 0) / MONTH_DAYS
    table["days_open"] = days_open.where(days_open >= 0)
    table["rate_per_month_since_activation"] = (table["randomized"] / months_open).where(
        opened <= cut
    )
    table["days_activation_to_first_randomization"] = (
        table["first_randomization"] - table["activation_date"]
    ).dt.days
    recruiting = table["status"] == "RECRUITING"
    table["no_randomization"] = recruiting & (table["randomized"] == 0)
    table["none_last_90_days"] = (
        recruiting & (table["randomized"] > 0) & (table["randomized_last_90_days"] == 0)
    )
    # Data inconsistencies the reader must see rather than have hidden: an activation
    # date after the site's first randomization (a typo, or the wrong date entered), and
    # patients at a site the registry does not call RECRUITING (the registry lags).
    table["activation_after_first_randomization"] = (
        table["activation_date"].notna()
        & table["first_randomization"].notna()
        & (table["activation_date"] > table["first_randomization"])
    )
    table["patients_at_non_recruiting_site"] = (table["status"].isin(REGISTRY_LAG_STATUSES)) & (
        table["screened"] > 0
    )
    activity = np.select(
        [table["no_randomization"], table["none_last_90_days"]],
        ["Recruiting, none randomized", "None in last 90 days"],
        default="",
    )
    inconsistent = np.where(
        table["activation_after_first_randomization"],
        "Data: activation date after first randomization",
        "",
    )
    lagging = np.where(
        table["patients_at_non_recruiting_site"],
        [f"Patients, but registry says {s.replace('_', ' ').lower()}" for s in table["status"]],
        "",
    )
    table["flag"] = [
        "; ".join(part for part in parts if part)
        for parts in zip(activity, inconsistent, lagging, strict=True)
    ]
    return table.reset_index()
