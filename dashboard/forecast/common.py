"""Constants and small helpers shared by the forecast modules (dates, JSON-safe numbers)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

#: Bounds of the gamma shape α: the upper one stops the fit running to infinity when the
#: sites show no over-dispersion (the Poisson limit); the lower one keeps α + k_i > 0 sane.
ALPHA_MIN = 1e-4
ALPHA_MAX = 1e4
DEFAULT_PATHS = 10_000
DEFAULT_SEED = 4789850
#: Probability the "additional sites needed" figure aims for, and how far it searches.
TARGET_PROBABILITY = 0.8
MAX_ADDITIONAL_SITES = 500
#: Chart grid: weekly points up to the later of the 97.5 % date and the planned completion,
#: never more than 5 years after as_of (≤ 262 points).
CHART_STEP_DAYS = 7
CHART_HORIZON_CAP_DAYS = 5 * 365
#: The chart's bands come from at most this many paths (plenty for a chart).
CHART_MAX_PATHS = 4000
#: Beyond this a forecast date is reported as None (no date arithmetic can overflow).
MAX_FORECAST_DAYS = 100 * 365
#: Paths simulated together: keeps the (paths × sites) temporaries a few MB (cache friendly).
CHUNK_PATHS = 256

QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _float(value: float | np.floating | None) -> float | None:
    """A plain JSON-safe float (None for NaN/inf)."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _days_to_date(as_of: dt.date, days: float) -> dt.date | None:
    """The calendar day of a simulated time ``days`` after the end of ``as_of``."""
    if not math.isfinite(days) or days > MAX_FORECAST_DAYS:
        return None
    return as_of + dt.timedelta(days=max(int(math.ceil(days - 1e-9)), 0))


def _randomization_dates(enrollment: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """Randomization dates ≤ as_of, sorted (whatever the later status, as metrics counts)."""
    dates = pd.to_datetime(enrollment["randomization_date"]).dropna()
    return dates[dates <= pd.Timestamp(as_of)].sort_values(kind="stable").reset_index(drop=True)


def _reached_date(dates: pd.Series, target: int, start: dt.date | None) -> dt.date | None:
    """Date the target-th patient was randomized (target 0: the trial start)."""
    if target <= 0:
        return start
    if len(dates) < target:
        return None
    return dates.iloc[target - 1].date()
