"""Which sites the Poisson–gamma model uses: open (with data), planned, left out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import DateLike, to_date


@dataclass(frozen=True)
class SitePlan:
    """Which sites the Poisson–gamma model uses, and how.

    ``open_*``: RECRUITING sites opened by as_of (they give the data: k_i randomized in τ_i
    days). ``planned_*``: sites that open after as_of (start offset in days after as_of).
    ``left_out``: (site_id, reason) of the others.
    """

    open_ids: list[str]
    k: np.ndarray
    tau: np.ndarray
    planned_ids: list[str]
    planned_dates: list[dt.date]
    planned_offsets: np.ndarray
    left_out: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)


def classify_sites(
    sites: pd.DataFrame, enrollment: pd.DataFrame, as_of: DateLike, trial_start: dt.date
) -> SitePlan:
    """Split the sites into open (with data), planned (open later at the prior) and left out.

    * RECRUITING, opened (activation date, else trial start) on or before as_of: open;
      τ_i = as_of − opened in days, k_i = randomized there by as_of. A site that randomized
      before its recorded activation date is taken as open since its first randomization.
    * RECRUITING with an opening date after as_of: when looking back in time this is a site
      that was not open yet but did open on that date; it opens then, at the prior rate.
    * NOT_YET_RECRUITING with an activation date after as_of: a planned opening, at the prior.
      Without a date, or with a date already past, nobody knows when it opens: left out.
    * Any other status (completed, suspended, withdrawn...): no future recruitment, left out.
      Patients randomized at left-out sites still count in the total.
    """
    cut = to_date(as_of)
    cut_ts = pd.Timestamp(cut)
    rand = pd.to_datetime(enrollment["randomization_date"])
    in_window = enrollment[rand.notna() & (rand <= cut_ts)]
    k_by_site = {str(sid): int(n) for sid, n in in_window.groupby("site_id").size().items()}
    first_by_site = {
        str(sid): pd.Timestamp(first).date()
        for sid, first in pd.to_datetime(in_window["randomization_date"])
        .groupby(in_window["site_id"])
        .min()
        .items()
    }
    open_ids: list[str] = []
    k: list[int] = []
    tau: list[int] = []
    planned_ids: list[str] = []
    planned_dates: list[dt.date] = []
    left_out: list[tuple[str, str]] = []
    notes: list[str] = []
    early: list[str] = []
    for row in sites.itertuples(index=False):
        sid = str(row.site_id)
        act: Any = row.activation_date
        act_date = None if pd.isna(act) else pd.Timestamp(act).date()
        n_here = k_by_site.get(sid, 0)
        if row.status == "RECRUITING":
            opened = act_date if act_date is not None else trial_start
            if n_here > 0:
                first = first_by_site[sid]
                if first < opened:
                    early.append(sid)
                    opened = first
            if opened <= cut:
                open_ids.append(sid)
                k.append(n_here)
                tau.append((cut - opened).days)
            else:
                planned_ids.append(sid)
                planned_dates.append(opened)
        elif row.status == "NOT_YET_RECRUITING":
            if act_date is not None and act_date > cut:
                planned_ids.append(sid)
                planned_dates.append(act_date)
            elif act_date is None:
                left_out.append((sid, "not yet recruiting, no planned activation date"))
            else:
                left_out.append(
                    (sid, f"not yet recruiting, planned activation {act_date} already past")
                )
        else:
            left_out.append((sid, f"status {row.status}"))
    if early:
        notes.append(
            f"site(s) {', '.join(early)} randomized before their activation date: taken as open "
            "since their first randomization"
        )
    offsets = np.array([(d - cut).days for d in planned_dates], dtype=float)
    return SitePlan(
        open_ids,
        np.array(k, dtype=float),
        np.array(tau, dtype=float),
        planned_ids,
        planned_dates,
        offsets,
        left_out,
        notes,
    )
