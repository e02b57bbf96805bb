"""Weighted linear forecast (the method of the R package accrualPlot)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import MONTH_DAYS, DateLike, to_date
from .common import MAX_FORECAST_DAYS, _float, _iso


@dataclass(frozen=True)
class LinearForecast:
    """Result of the weighted linear method; ``reason`` says why there is no date."""

    slope_per_day: float | None
    predicted_target_date: dt.date | None
    reason: str | None
    points: int
    reached: bool = False

    @property
    def slope_per_month(self) -> float | None:
        """Patients per month (a month of 365.25/12 days)."""
        return None if self.slope_per_day is None else _float(self.slope_per_day * MONTH_DAYS)

    def to_json(self) -> dict[str, Any]:
        return {
            "slope_per_day": _float(self.slope_per_day),
            "slope_per_month": self.slope_per_month,
            "predicted_target_date": _iso(self.predicted_target_date),
            "reason": self.reason,
            "points": self.points,
            "reached": self.reached,
        }


def linear_points(randomization_dates: pd.Series, as_of: DateLike) -> tuple[np.ndarray, np.ndarray]:
    """The (date ordinal, cumulative) points of the accrualPlot regression.

    One point per distinct randomization date ≤ as_of (cumulative at the end of that day),
    plus (as_of, total) when as_of is later than the last randomization: the days without
    a randomization since then are information too (they pull the slope down).
    """
    cut = to_date(as_of)
    dates = pd.to_datetime(pd.Series(randomization_dates)).dropna()
    dates = dates[dates <= pd.Timestamp(cut)]
    if dates.empty:
        return np.empty(0), np.empty(0)
    per_day = dates.dt.normalize().value_counts().sort_index()
    x = np.array([pd.Timestamp(d).toordinal() for d in per_day.index], dtype=np.float64)
    y = np.cumsum(per_day.to_numpy()).astype(float)
    if x[-1] < cut.toordinal():
        x = np.append(x, float(cut.toordinal()))
        y = np.append(y, y[-1])
    return x, y


def weighted_slope(x: np.ndarray, y: np.ndarray) -> float:
    """WLS slope of y on x with weights j/n for the j-th point (accrualPlot's weights)."""
    n = len(x)
    w = np.arange(1, n + 1, dtype=float) / n
    x0 = x - x[0]  # origin shift: same slope, no loss of precision on day ordinals
    xm = np.sum(w * x0) / np.sum(w)
    ym = np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (x0 - xm) * (y - ym)) / np.sum(w * (x0 - xm) ** 2))


def linear_forecast(
    randomization_dates: pd.Series,
    as_of: DateLike,
    target: int,
    start: dt.date | None = None,
) -> LinearForecast:
    """accrualPlot-compatible prediction of the date the target is reached.

    Predicted date = as_of + ceil((target − total) / b) days, b the weighted slope per day.
    The cumulative count never decreases, so b ≥ 0; b = 0 happens only with a single
    randomization day and as_of later than it (two points at the same height): no date.
    """
    cut = to_date(as_of)
    dates = pd.to_datetime(pd.Series(randomization_dates)).dropna()
    dates = dates[dates <= pd.Timestamp(cut)].sort_values(kind="stable")
    days = np.array([d.toordinal() for d in dates.dt.normalize()], dtype=np.int64)
    return linear_forecast_days(days, cut, target, start)


def linear_forecast_days(
    days: np.ndarray, cut: dt.date, target: int, start: dt.date | None = None
) -> LinearForecast:
    """:func:`linear_forecast` from the sorted day ordinals of the randomizations ≤ ``cut``
    (what the page has ready for any as-of date, see :mod:`.prepared`)."""
    days = np.asarray(days, dtype=np.int64)
    total = len(days)
    if total:
        per_day, counts = np.unique(days, return_counts=True)
        x = per_day.astype(np.float64)
        y = np.cumsum(counts).astype(float)
        if x[-1] < cut.toordinal():
            x = np.append(x, float(cut.toordinal()))
            y = np.append(y, y[-1])
    else:
        x, y = np.empty(0), np.empty(0)
    slope = weighted_slope(x, y) if len(x) >= 2 else None
    if total >= target:
        reached = start if target <= 0 else dt.date.fromordinal(int(days[target - 1]))
        reason = None if reached else "target is 0 and the trial start date is unknown"
        return LinearForecast(slope, reached, reason, len(x), reached=True)
    if len(x) < 2:
        why = (
            "no randomization by as_of"
            if total == 0
            else "a single point (one randomization day, as_of on that day): the linear trend "
            "cannot be estimated"
        )
        return LinearForecast(None, None, why, len(x))
    if slope is None or slope <= 0:
        return LinearForecast(
            slope,
            None,
            "a single randomization day: the linear trend cannot be estimated",
            len(x),
        )
    days_to_go = (target - total) / slope
    if days_to_go > MAX_FORECAST_DAYS:
        return LinearForecast(
            slope, None, f"more than {MAX_FORECAST_DAYS // 365} years away at this pace", len(x)
        )
    predicted = dt.date.fromordinal(int(x[-1])) + dt.timedelta(
        days=int(math.ceil(days_to_go - 1e-9))
    )
    return LinearForecast(slope, predicted, None, len(x))
