"""How precise a simulated median date is, and how many paths a given precision needs.

Why: the page asks for a forecast at every as-of date a user steps to; 10,000 paths (what
the CLI uses) are more than the page's headline needs when the target date is already
well pinned down. The page therefore starts from :data:`PAGE_PILOT_PATHS` paths and only
simulates more when the Monte Carlo error of the median date exceeds
:data:`PAGE_MEDIAN_ERROR_DAYS`, up to the CLI's 10,000.
"""

from __future__ import annotations

import math

import numpy as np

#: The page's first try, and the precision it wants on the median target date.
PAGE_PILOT_PATHS = 1000
PAGE_MEDIAN_ERROR_DAYS = 1.0
#: The page's sites-needed table and chart bands come from at most this many paths (the
#: CLI: 2,500 and 4,000); their own Monte Carlo error is a few percentage points.
PAGE_SIDE_PATHS = 1000


def median_error_days(t_days: np.ndarray) -> float:
    """Monte Carlo standard error of the median of ``t_days`` (days; inf if unknown).

    From the order statistics: with n draws the sample median's sampling law is that of
    the order statistic n/2, whose standard deviation is ≈ (t_(n/2 + √n/2) − t_(n/2 − √n/2))/2
    (the binomial count of draws below the true median has sd √n/2). Needs no density
    estimate; infinite when that band reaches paths that never get there.
    """
    n = len(t_days)
    if n < 4:
        return math.inf
    half = 0.5 * math.sqrt(n)
    lo = max(int(math.floor(n / 2 - half)), 0)
    hi = min(int(math.ceil(n / 2 + half)), n - 1)
    part = np.partition(t_days, (lo, hi))
    if not math.isfinite(float(part[hi])):
        return math.inf
    return float(part[hi] - part[lo]) / 2


def paths_for_error(paths: int, error: float, wanted: float, most: int) -> int:
    """Paths that bring an error seen with ``paths`` under ``wanted`` (error ∝ 1/√n),
    with a 25 % margin, rounded up to a multiple of 500 and at most ``most``."""
    if not math.isfinite(error):
        return most
    need = paths * (error / wanted) ** 2 * 1.25
    return int(min(most, max(paths, 500 * math.ceil(need / 500))))
