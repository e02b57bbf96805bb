"""Synthetic demo enrollment, so the dashboard can be shown without real (blinded) data.

Sites recruit at uneven rates (gamma-distributed, as in a Poisson–gamma model), open in
a staggered way, and some never randomize anyone; a share of screened patients fail
screening and a few randomized patients withdraw. Everything written from it is marked
synthetic (:func:`dashboard.imports.write_demo` writes it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from .enrollment.canonical import ENROLLMENT_COLUMNS

DEFAULT_SEED = 10


def make_demo_enrollment(
    sites: pd.DataFrame, start: dt.date, cutoff: dt.date, seed: int = DEFAULT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (enrollment, sites with synthetic activation dates) for recruiting sites only."""
    rng = np.random.default_rng(seed)
    sites = sites.copy()
    recruiting = sites["status"] == "RECRUITING"
    span_days = (cutoff - start).days
    rows = []
    n = 0
    for idx in sites.index[recruiting]:
        # Activation: most sites open in the first 14 months, a few much later.
        offset = int(min(rng.gamma(1.6, 110.0), span_days - 60))
        activation = start + dt.timedelta(days=offset)
        typed: Any = sites.at[idx, "activation_date"]
        if pd.isna(typed):
            sites.at[idx, "activation_date"] = pd.Timestamp(activation)
        else:
            activation = pd.Timestamp(typed).date()
        open_days = max((cutoff - activation).days, 0)
        # Screening rate per day: uneven across sites (gamma shape 1.1), mean ~1 per 9 months.
        rate = rng.gamma(1.1, 1.0 / 1.1) / 400.0
        n_screened = rng.poisson(rate * open_days)
        days = np.sort(rng.integers(0, max(open_days, 1), size=n_screened))
        for day in days:
            n += 1
            screening = activation + dt.timedelta(days=int(day))
            failed = rng.random() < 0.28
            randomization = None
            if failed:
                status = "SCREEN_FAILED"
            else:
                randomization = screening + dt.timedelta(days=int(rng.integers(7, 29)))
                if randomization > cutoff:
                    status, randomization = "SCREENING", None
                elif rng.random() < 0.07:
                    status = "WITHDRAWN"
                elif (cutoff - randomization).days > 360 and rng.random() < 0.9:
                    status = "COMPLETED"
                else:
                    status = "RANDOMIZED"
            rows.append(
                {
                    "site_id": sites.at[idx, "site_id"],
                    "screening_date": pd.Timestamp(screening),
                    "randomization_date": pd.Timestamp(randomization) if randomization else pd.NaT,
                    "status": status,
                }
            )
    frame = pd.DataFrame(rows).sort_values(["screening_date", "site_id"], kind="stable")
    # Pseudonymised codes like an IWRS gives: site + sequence, never anything identifying.
    seq = frame.groupby("site_id").cumcount() + 1
    frame["patient_id"] = [f"S{sid}-{k:03d}" for sid, k in zip(frame["site_id"], seq, strict=True)]
    frame["randomization_date"] = pd.to_datetime(frame["randomization_date"])
    return frame[ENROLLMENT_COLUMNS].reset_index(drop=True), sites


class DemoRefused(RuntimeError):
    """``demo`` would replace a real enrollment; the message says how to force it."""


__all__ = ["DEFAULT_SEED", "DemoRefused", "make_demo_enrollment"]
