"""How precise a simulated median date is, and how many paths the page simulates.

Why: the ``forecast`` command reports the Monte Carlo error of its median date next to
it, so a reader knows how many of its days are noise. The page does not simulate its
target date (:mod:`.completion_law` integrates it); its sites-needed table, chart bands
and expected counts come from :data:`PAGE_SIDE_PATHS` paths.
"""

from __future__ import annotations

import math

import numpy as np

#: The page's sites-needed table, chart bands and expected counts come from this many
#: paths (the CLI: 2,500 and 4,000 of its 10,000); their own Monte Carlo error is a few
#: percentage points.
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
