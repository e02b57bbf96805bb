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
#: paths (the CLI: 2,500 and 4,000 of its 10,000), their mean rate and α stratified
#: (:func:`.trend.latin_hypercube_normals`). Over 30 seeds on SCLERITA's demo, the table's
#: cells moved by 0.06–0.44 percentage points (sd; 1,000 independent paths: 0.17–0.94)
#: and the chart's band edges by 0.26–0.46 patients (1,000 independent paths: 0.22–0.56).
PAGE_SIDE_PATHS = 600


def quantile_band_ranks(n: int, qs: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks of the order statistics at n·q ∓ z·√(n·q(1−q)) of n draws, per q,
    within the sample: a distribution-free band around each quantile q (the number of
    draws below the true quantile is binomial, sd √(n·q(1−q))). Needs no density."""
    qs = np.asarray(qs, float)
    half = z * np.sqrt(n * qs * (1.0 - qs))
    lo = np.clip(np.floor(n * qs - half), 0, n - 1).astype(np.intp)
    hi = np.clip(np.ceil(n * qs + half), 0, n - 1).astype(np.intp)
    return lo, hi


def median_error_days(t_days: np.ndarray) -> float:
    """Monte Carlo standard error of the median of ``t_days`` (days; inf if unknown).

    From the order statistics: with n draws the sample median's sampling law is that of
    the order statistic n/2, whose standard deviation is ≈ (t_(n/2 + √n/2) − t_(n/2 − √n/2))/2
    (:func:`quantile_band_ranks` at q = ½, z = 1). Needs no density estimate; infinite when
    that band reaches paths that never get there. That is the error of independent draws:
    the paths' stratified mean rates (:func:`.trend.latin_hypercube_normals`) make the
    true error smaller, so the figure errs on the safe side.
    """
    n = len(t_days)
    if n < 4:
        return math.inf
    lo, hi = (int(r[0]) for r in quantile_band_ranks(n, np.array([0.5]), 1.0))
    part = np.partition(t_days, (lo, hi))
    if not math.isfinite(float(part[hi])):
        return math.inf
    return float(part[hi] - part[lo]) / 2
