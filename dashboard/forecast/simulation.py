"""Simulated site rates and the arrival times, counts and probabilities they imply."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from .common import CHUNK_PATHS


def decay_integral(gamma: np.ndarray | float, u: np.ndarray | float) -> np.ndarray:
    """∫_0^u e^{−γs} ds = (1 − e^{−γu})/γ (= u when γ = 0), elementwise, u ≥ 0."""
    g = np.asarray(gamma, dtype=float)
    u = np.asarray(u, dtype=float)
    small = np.abs(g) < 1e-12
    safe = np.where(small, 1.0, g)
    return np.where(small, u, -np.expm1(-safe * u) / safe)


class PoissonTail:
    """P(Poisson(λ) ≥ n) = P(n, λ) for one n and many λ, by cubic Hermite interpolation.

    Why: the sites-needed table evaluates the regularized incomplete gamma ~10⁵ times per
    forecast (~0.2 µs each). Its derivative in λ is the Poisson pmf at n − 1, so a Hermite
    cubic on 2,048 nodes over λ ∈ [n − 12√n − 10, n + 12√n + 10] is exact to ~1e-9 (error
    ≤ h⁴·max|∂⁴P|/384); outside that range P is within 1e-10 of 0 or 1 and the end value
    is returned.
    """

    NODES = 2048

    def __init__(self, n: int) -> None:
        self.n = n
        spread = 12.0 * np.sqrt(n) + 10.0
        self.lo, self.hi = max(n - spread, 0.0), n + spread
        x = np.linspace(self.lo, self.hi, self.NODES)
        self.h = x[1] - x[0]
        f = special.gammainc(n, x)
        d = np.exp(special.xlogy(n - 1, x) - x - special.gammaln(n)) * self.h  # pmf · h
        # Per interval, the cubic in t ∈ [0, 1]: c0 + c1·t + c2·t² + c3·t³ (Horner below).
        f0, f1, d0, d1 = f[:-1], f[1:], d[:-1], d[1:]
        self.c = np.stack(
            [f0, d0, 3 * (f1 - f0) - 2 * d0 - d1, 2 * (f0 - f1) + d0 + d1], axis=1
        ).ravel()
        self.x = x

    def __call__(self, lam: np.ndarray) -> np.ndarray:
        pos = np.clip((np.asarray(lam, dtype=float) - self.lo) / self.h, 0.0, self.NODES - 1.0)
        i = np.minimum(pos.astype(np.intp), self.NODES - 2)
        t = pos - i
        i4 = 4 * i
        c = self.c
        return ((c[i4 + 3] * t + c[i4 + 2]) * t + c[i4 + 1]) * t + c[i4]


@functools.lru_cache(maxsize=32)
def poisson_tail(n: int) -> PoissonTail:
    """The :class:`PoissonTail` of ``n``, built once: consecutive as-of dates mostly have the
    same number still to randomize, and building one costs ~0.4 ms of a new date's reply."""
    return PoissonTail(n)


@dataclass
class RateDraws:
    """Simulated recruitment rates: one row per path, one column per opening time.

    ``offsets[g]`` is the day (after as_of) at which group g of sites opens (offsets[0] = 0
    always, possibly an empty group); ``group_rates[p, g]`` is the summed rate per day of
    the sites of group g on path p when they open. ``gamma[p]`` is the path's rate trend
    per day: every site's rate is multiplied by e^{−γ·dt} as time passes, so the total rate
    decays uniformly between openings and jumps at each offset. The cumulative intensity
    is then a closed form per segment; everything below costs O(paths × groups) at most.
    ``prior_mean[p]`` is α/β on path p (the rate given to hypothetical extra sites).
    """

    offsets: np.ndarray
    group_rates: np.ndarray
    prior_mean: np.ndarray
    gamma: np.ndarray | None = None

    @property
    def paths(self) -> int:
        return int(self.group_rates.shape[0])

    @cached_property
    def trend(self) -> np.ndarray:
        """γ per path, shape (paths, 1) (zeros without a trend)."""
        if self.gamma is None:
            return np.zeros((self.paths, 1))
        return np.asarray(self.gamma, dtype=float).reshape(-1, 1)

    @cached_property
    def rate(self) -> np.ndarray:
        """Total rate per day at the start of segment g = [offsets[g], offsets[g+1])."""
        if self.gamma is None or not np.any(self.trend):
            return np.cumsum(self.group_rates, axis=1)
        # One contiguous row per opening group (column steps over 10,000 paths are strided);
        # the decay factors per (distinct γ, gap), gathered per path.
        values, index = self._trend_values
        decay = np.exp(-values[None, :] * np.diff(self.offsets)[:, None])  # (gaps, γ values)
        out = np.array(self.group_rates.T)
        for g in range(1, out.shape[0]):
            out[g] += out[g - 1] * decay[g - 1][index]
        return out.T

    @cached_property
    def _trend_values(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct γ of the paths (13 on the trend grid) and each path's index in them:
        functions of (γ, gap) are computed once per distinct γ, not once per path."""
        values, index = np.unique(self.trend[:, 0], return_inverse=True)
        return values, np.ravel(index)

    @cached_property
    def knots(self) -> np.ndarray:
        """∫_0^{offsets[g]} Λ per path (column 0 is 0)."""
        out = np.zeros_like(self.group_rates)
        if out.shape[1] > 1:
            values, index = self._trend_values
            widths = decay_integral(values[:, None], np.diff(self.offsets)[None, :])[index]
            out[:, 1:] = np.cumsum(self.rate[:, :-1] * widths, axis=1)
        return out

    def cumulative_intensity(self, days: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """∫_0^t Λ(s) ds for each path (rows) and each t in ``days`` (columns)."""
        t = np.maximum(np.atleast_1d(np.asarray(days, dtype=float)), 0.0)
        seg = np.searchsorted(self.offsets, t, side="right") - 1  # same segment on all paths
        values, index = self._trend_values
        since = decay_integral(values[:, None], (t - self.offsets[seg])[None, :])[index]
        return self.knots[:, seg] + self.rate[:, seg] * since

    def invert(self, e: np.ndarray) -> np.ndarray:
        """Times t with ∫_0^t Λ = e, for an array e of shape (p, m) on the first p paths.

        Find each e's segment among the path's knots, then t = offset + (e − knot) / rate
        (or its trend form); inf where the rate stays 0. Why the care: the accrual chart
        inverts a thousand paths × every patient still to come on each new date.
        """
        p, m = e.shape
        knots = self.knots[:p]
        groups = knots.shape[1]
        g = self.trend[:p]  # (p, 1): broadcast along each row
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if groups == 1:
                # Every site open already (one segment from day 0): no per-arrival gather.
                r = self.rate[:p, :1]
                x = e - knots[:, :1]
                start: np.ndarray | float = self.offsets[0]
            else:
                seg = self._segments(knots, e)
                flat = seg + np.arange(p)[:, None] * groups
                r = np.take(self.rate[:p].ravel(), flat)
                x = e - np.take(knots.ravel(), flat)
                start = np.take(self.offsets, seg)
            x /= r
            never = ~(r > 0)
            small = np.abs(g) < 1e-12
            if small.all():  # no trend on these paths: u = x
                u = x
            else:
                # Invert (1 − e^{−γu})/γ = x: u = −ln(1 − γx)/γ; no solution when γx ≥ 1 (a
                # slowing path whose remaining intensity never gets there). In place: the
                # chart's arrays hold tens of thousands of arrivals.
                arg = g * x
                np.subtract(1.0, arg, out=arg)
                beyond = ~(arg > 0)
                arg[beyond] = 1.0
                u = np.log(arg, out=arg)
                u /= np.where(small, 1.0, g)
                np.negative(u, out=u)
                if small.any():
                    flat_rows = small[:, 0]
                    u[flat_rows] = x[flat_rows]
                never = never | (beyond & ~small)
            t = u + start
        t[never | ~np.isfinite(t)] = np.inf
        return t

    @staticmethod
    def _segments(knots: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Per element of e (p, m), the index g of the last knot ≤ it on its row (knot 0 is 0).

        Rows are searched at once in one flat sorted array (row r shifted by r·width). When
        every row of e is nondecreasing (the chart's cumulative sums; one column) and a row
        has more arrivals than later openings, the knots are placed among the e instead:
        fewer searches (paths × openings, not paths × arrivals), and a running count along
        each row gives the same indices.
        """
        p, m = e.shape
        groups = knots.shape[1]
        width = float(max(knots[:, -1].max(), e.max())) + 1.0
        shift = np.arange(p, dtype=float)[:, None] * width
        if groups - 1 > m or (m > 1 and not np.all(e[:, 1:] >= e[:, :-1])):
            found = np.searchsorted((knots + shift).ravel(), (e + shift).ravel(), side="right")
            seg = found.reshape(p, m) - np.arange(p)[:, None] * groups - 1
            return np.clip(seg, 0, groups - 1, out=seg)
        # Knot g ≥ 1 of row r lands before the first e ≥ it: every e from there on has it.
        # Positions are per row in [0, m] (m: after every e), marked in a (p, m + 1) array.
        before = np.searchsorted((e + shift).ravel(), (knots[:, 1:] + shift).ravel(), side="left")
        rows = np.repeat(np.arange(p), groups - 1)
        marks = np.bincount(before + rows, minlength=p * (m + 1)).reshape(p, m + 1)
        return np.cumsum(marks[:, :m], axis=1)

    def arrival_times(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Time (days after as_of) of the n-th further randomization on each path; inf if never.

        Given the rates the arrivals form a Poisson process, so the n-th arrival time is
        the inverse of the cumulative intensity at E ~ Gamma(n, 1): exact, vectorised.
        """
        if n <= 0:
            return np.zeros(self.paths)
        e = rng.standard_gamma(float(n), size=self.paths)
        return self.invert(e[:, None])[:, 0]

    def arrival_bins(
        self, step: float, points: int, cap: int, rng: np.random.Generator, max_paths: int
    ) -> np.ndarray:
        """Grid bin of each of the first ``cap`` further arrivals on (up to) ``max_paths``
        paths: arrival c is counted at grid points g ≥ bins[p, c] (days 0, step, 2·step, …);
        ``points`` when it falls beyond the grid. Nondecreasing along each row.

        On each path the arrivals are a unit-rate Poisson process in the time scale of the
        cumulative intensity: arrival c sits at E_c = sum of c Exp(1) draws, i.e. at time
        ∫Λ⁻¹(E_c). Only the first ``cap`` arrivals are drawn (the count is capped there):
        exact given the rates, coherent along a path, and far cheaper than a Poisson draw
        per grid point (~200 ns each in numpy). Returns an int array (paths, cap).
        """
        p = min(self.paths, max_paths)
        if cap <= 0 or p == 0:
            return np.zeros((p, 0), dtype=np.intp)
        e = np.cumsum(rng.standard_exponential((p, cap)), axis=1)
        t = self.invert(e)
        # Grid point g counts arrivals with t ≤ g·step: bin each arrival at ceil(t / step).
        with np.errstate(invalid="ignore"):
            return np.minimum(np.ceil(t / step), points).astype(np.intp)

    def probability_by(self, n: int, days: float, extra_sites: int = 0) -> float:
        """P(n more randomizations within ``days``), with ``extra_sites`` opening now.

        Rao–Blackwellised: the mean over paths of P(Poisson(∫Λ) ≥ n) = P(n, ∫Λ) (regularized
        lower incomplete gamma); smoother than counting simulated dates, and monotone in
        both ``days`` and ``extra_sites`` path by path.
        """
        if n <= 0:
            return 1.0
        if days <= 0:
            return 0.0
        lam = self.cumulative_intensity(days)[:, 0] + extra_sites * self.prior_mean * days
        if self.paths < PoissonTail.NODES:
            return float(np.mean(special.gammainc(n, lam)))
        return float(np.mean(poisson_tail(n)(lam)))


def draw_site_rates(
    alpha: np.ndarray | float,
    beta: np.ndarray | float,
    k: np.ndarray,
    tau: np.ndarray,
    start: np.ndarray,
    paths: int,
    rng: np.random.Generator,
    gamma: np.ndarray | None = None,
) -> RateDraws:
    """Draw every site's rate from its posterior Gamma(α_p + k_i, β_p + E_i) on each path p.

    Without a trend E_i = τ_i (days open). With a trend γ_p (rates λ_i·e^{−γ s}, s days
    since the site opened) the exposure is E_i = ∫_0^{τ_i} e^{−γ s} ds and the rate today
    is λ_i·e^{−γ τ_i}. Sites opening later have k = τ = 0 (the prior) and ``start`` > 0
    days. ``alpha``/``beta``/``gamma`` are scalars or one value per path. Paths are drawn
    per distinct γ and in chunks of ``CHUNK_PATHS``, so no (paths × sites) array is ever
    materialised whole; the gamma variates of a chunk come from one vectorised call (one per
    distinct (opening time, τ): sites sharing both are summed exactly in one variate), then
    are summed per opening time.
    """
    k = np.asarray(k, dtype=float)
    tau = np.asarray(tau, dtype=float)
    start = np.asarray(start, dtype=float)
    alpha_p = np.broadcast_to(np.asarray(alpha, dtype=float), (paths,))
    beta_p = np.broadcast_to(np.asarray(beta, dtype=float), (paths,))
    gamma_p = (
        np.zeros(paths) if gamma is None else np.broadcast_to(np.asarray(gamma, float), (paths,))
    )
    offsets, group = np.unique(start, return_inverse=True)
    if len(offsets) == 0 or offsets[0] > 0:
        offsets = np.concatenate([[0.0], offsets])
        group = group + 1
    # Sites of one opening group with the same days open share β_p + E(τ) on every path,
    # and a sum of Gamma(a_i, 1) is Gamma(Σ a_i, 1): one variate per (group, τ) instead of
    # one per site (exact in law; 2,000 sites have a few hundred distinct τ).
    keys, inverse, m = np.unique(
        np.stack([group.astype(float), tau]), axis=1, return_inverse=True, return_counts=True
    )
    k_sum = np.bincount(np.ravel(inverse), weights=k, minlength=keys.shape[1])
    group_s, tau_s = keys[0].astype(np.intp), keys[1]
    present, first = np.unique(group_s, return_index=True)
    group_rates = np.zeros((paths, len(offsets)))
    # Chunks of about CHUNK_PATHS × 256 variates (few distinct τ: many paths per chunk).
    chunk = max(CHUNK_PATHS, CHUNK_PATHS * 256 // max(len(m), 1))
    if len(k):
        for g in np.unique(gamma_p):
            rows = np.flatnonzero(gamma_p == g)
            exposure = decay_integral(g, tau_s)
            today = np.exp(-g * tau_s)
            for lo in range(0, len(rows), chunk):
                idx = rows[lo : lo + chunk]
                draws = rng.standard_gamma(alpha_p[idx, None] * m[None, :] + k_sum[None, :])
                draws /= beta_p[idx, None] + exposure[None, :]
                if g != 0.0:
                    draws *= today[None, :]
                group_rates[idx[:, None], present[None, :]] = np.add.reduceat(draws, first, axis=1)
    return RateDraws(
        offsets.astype(float),
        group_rates,
        np.asarray(alpha_p / beta_p, dtype=float),
        None if gamma is None else np.array(gamma_p, dtype=float),
    )


def _quantile_days(t: np.ndarray, q: float) -> float:
    """Quantile of simulated times with infinite paths sorting last (inf if they reach it)."""
    return float(np.quantile(t, q, method="inverted_cdf"))


def _ranks(m: int, qs: Sequence[float]) -> list[int]:
    """0-based order statistics of the inverted-CDF quantiles ``qs`` of m values."""
    return [min(max(int(math.ceil(q * m - 1e-9)) - 1, 0), m - 1) for q in qs]


def binned_count_quantiles(bins: np.ndarray, points: int, qs: Sequence[float]) -> np.ndarray:
    """The ``qs`` quantiles (inverted CDF) over paths of the count by each grid point, from
    :meth:`RateDraws.arrival_bins`, without building the (paths × points) counts.

    For integer counts X_p, the k-th smallest (0-based) is #{c ≥ 1: #{p: X_p ≥ c} ≥ m − k},
    and X_p(g) ≥ c ⇔ bins[p, c − 1] ≤ g: so per arrival c only the (m − k − 1)-th smallest
    bin is needed, and the count by g is the number of those at most g. The bins are small
    whole numbers (grid points), so that order statistic is read off each arrival's
    cumulative histogram of bins (one bincount of paths × cap, ~5× cheaper than
    partitioning it). Equal to :func:`_count_quantiles` of the counts.
    """
    m, cap = bins.shape
    grid = np.arange(points)
    if cap == 0 or m == 0:
        return np.zeros((len(qs), points), dtype=np.int64)
    ranks = [m - k - 1 for k in _ranks(m, qs)]
    top = int(bins.max()) + 1
    flat = (np.arange(cap) * top + bins).ravel()
    below = np.cumsum(np.bincount(flat, minlength=cap * top).reshape(cap, top), axis=1)
    # The r-th smallest bin of arrival c: the first bin value with more than r paths at or
    # below it (the last column holds all m paths, so there always is one).
    ordered = np.stack([(below > r).argmax(axis=1) for r in ranks])  # (qs, cap), rows sorted
    return np.stack([np.searchsorted(row, grid, side="right") for row in ordered])


def _count_quantiles(counts: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles (inverted CDF: always an observed count) per column."""
    idx = _ranks(counts.shape[0], qs)
    # Only these order statistics are needed: a partition (O(n) per column) gives exactly
    # the values a full sort would put there.
    ordered = np.partition(counts, sorted(set(idx)), axis=0)
    return ordered[idx]
