"""The law of the date the target is reached, by numerical integration instead of paths.

Why: on a trial like SCLERITA's demo the completion is years away and its law is wide, so
10,000 simulated paths still leave the median date ±7–21 days of Monte Carlo error, and
drawing them is most of what the page waits for when a user steps to a new date. The
same model can be integrated instead:

* Given the path parameters θ = (α, β, γ), each open site's rate is Gamma(α + k_i,
  β + E_i(γ)) (times e^{−γτ_i} today) and each planned site's Gamma(α, β) from its
  opening; the cumulative intensity Λ(t) by t days after as_of is a weighted sum of those
  independent gammas. It is replaced by the gamma law with the same mean and variance
  (the moment-matched approximation of Anisimov & Fedorov 2007, §3), so the count by t
  is negative binomial and P(target by t | θ) = I_{1/(1+B)}(n, A) (a regularized
  incomplete beta; A, B the matched shape and rate).
* θ is integrated out by quadrature over the law :func:`.trend.draw_path_parameters`
  samples from: γ on its grid with its posterior weights, ln μ given γ normal, ln α given
  ln μ normal (clipped at the bounds of α), by Gauss–Hermite rules.

What remains is a deterministic, monotone P(target by t): its quantiles carry no Monte
Carlo error. Its own numerical error (the quadrature) is estimated by a coarser rule on
the same integral, and reported in place of the Monte Carlo error.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import special

from .common import ALPHA_MAX, ALPHA_MIN
from .precision import quantile_band_ranks
from .simulation import decay_integral
from .trend import PlanPrior, StratumNormal, TrendPosterior, stratum_normal

#: Gauss–Hermite nodes on ln μ and on ln α given ln μ by default (:func:`parameter_nodes`;
#: :func:`integrate_completion` walks :data:`RULES` instead).
MU_NODES = 16
ALPHA_NODES = 4
#: γ strata lighter than this move no quantile by a visible amount (≤ 1e-5 of P each).
MIN_STRATUM_WEIGHT = 1e-5
#: Nodes lighter than this share of the whole are left out (their total is < 1e-6).
MIN_NODE_WEIGHT = 1e-9
#: Beyond this many standard deviations of the count from n, P is taken as 0 or 1, where
#: the intensity's gamma shape is at least TAIL_MIN_SHAPE (see :func:`negbin_tail`).
TAIL_SD = 12.0
TAIL_MIN_SHAPE = 4.0
TAIL_MIN_MEAN = 1.0
#: Points of the first, coarse grid of days that brackets each quantile when neither a
#: coarser rule's guesses nor simulated brackets are given.
GRID_POINTS = 24


@functools.lru_cache(maxsize=16)
def _gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for E f(Z), Z ~ N(0, 1)."""
    if n <= 1:
        return np.zeros(1), np.ones(1)
    x, w = hermegauss(n)
    return x, w / w.sum()


def negbin_tail(n: int, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """P(N ≥ n) for N Poisson given an intensity of that mean and variance, the intensity
    taken as the gamma law with those moments (N then negative binomial:
    P = I_{v/(v+μ)}(n, μ²/v)). 0 where the mean is 0; a plain Poisson tail without variance.

    The count's mean and variance are μ and μ + v: more than :data:`TAIL_SD` standard
    deviations from n, with a shape μ²/v of at least :data:`TAIL_MIN_SHAPE` (a light
    enough tail: below ~1e-8) and a mean of at least :data:`TAIL_MIN_MEAN` (less skewed
    than a Poisson count of mean 1), the tail is taken as 0 or 1 and needs no betainc
    (most nodes at most t: the quantile search's first grid spans a century). Other
    nodes are always computed.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - n) / np.sqrt(mean + var)
        light = mean * mean >= TAIL_MIN_SHAPE * var
    out = ((z > TAIL_SD) & light).astype(float)
    # A mean under TAIL_MIN_MEAN is too skewed for the shortcut below it (Poisson mean
    # 0.05: P(N ≥ 3) ≈ 2.6e-5 although 3 is 12.6 standard deviations out).
    mid = ((np.abs(z) <= TAIL_SD) | ~light | (mean < TAIL_MIN_MEAN)) & (mean > 0)
    if mid.any():
        mu, v = mean[mid], var[mid]
        spread = v > 1e-12 * mu
        vs = np.where(spread, v, 1.0)
        shape, x = mu * mu / vs, vs / (vs + mu)
        if n <= SUM_MAX_TERMS and mu.size >= SUM_MIN_ELEMENTS_PER_TERM * n:
            p = _negbin_tail_by_sum(n, shape, x)
        else:
            p = special.betainc(float(n), shape, x)
        if not spread.all():  # no variance: a plain Poisson tail (only there: as dear)
            p[~spread] = special.gammainc(float(n), mu[~spread])
        out[mid] = p
    return out


#: :func:`negbin_tail` sums the n first probabilities itself (n array steps) rather than
#: call scipy's incomplete beta (~0.3 µs an element, whatever n) when n is at most this
#: and there are at least this many elements per term: then the sum is cheaper (measured
#: 2–3× on the quadrature's larger evaluations; slower on small arrays).
SUM_MAX_TERMS = 150
SUM_MIN_ELEMENTS_PER_TERM = 14


def _negbin_tail_by_sum(n: int, shape: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(N ≥ n) = 1 − Σ_{j<n} P(N = j) for N negative binomial with P(N = j) =
    Γ(shape + j)/(Γ(shape) j!)·(1 − x)^shape·x^j: the same number as
    ``betainc(n, shape, x)``, by the recurrence P(j+1) = P(j)·(shape + j)·x/(j + 1).

    Exact up to rounding (n positive terms, no cancellation but the final 1 − sum near
    P ≈ 0). Where (1 − x)^shape underflows the first terms the incomplete beta is used.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # x = 1: no first terms (betainc)
        log_first = shape * np.log1p(-x)
    safe = log_first > -700.0
    term = np.exp(np.where(safe, log_first, 0.0))
    total = term.copy()
    factor = np.empty_like(term)
    for j in range(n - 1):
        np.add(shape, j, out=factor)
        factor *= x
        factor *= 1.0 / (j + 1)
        term *= factor
        total += term
    out = np.clip(1.0 - total, 0.0, 1.0)
    if not safe.all():
        out[~safe] = special.betainc(float(n), shape[~safe], x[~safe])
    return out


@dataclass(frozen=True)
class Nodes:
    """Quadrature nodes of θ: α, β, the index of γ in ``gammas``, and their weights."""

    alpha: np.ndarray
    beta: np.ndarray
    gamma_index: np.ndarray
    gammas: np.ndarray
    weight: np.ndarray


def parameter_nodes(
    posterior: TrendPosterior,
    k_total: float,
    prior: PlanPrior | None,
    mu_nodes: int = MU_NODES,
    alpha_nodes: int = ALPHA_NODES,
    parameter_uncertainty: bool = True,
    strata: list[tuple[int, StratumNormal]] | None = None,
) -> Nodes:
    """The quadrature of the law of θ that the simulation draws paths from.

    ``strata``: :func:`kept_strata` of the same arguments when already known (the rules
    of :func:`integrate_completion` share them)."""
    if not parameter_uncertainty:
        fit = posterior.fits[posterior.mode]
        return Nodes(
            np.array([fit.alpha]),
            np.array([fit.beta]),
            np.zeros(1, dtype=np.intp),
            np.array([posterior.gammas[posterior.mode]]),
            np.ones(1),
        )
    if strata is None:
        strata = kept_strata(posterior, k_total, prior)
    kept = [j for j, _ in strata]
    xm, wm = _gauss_hermite(mu_nodes)
    xa, wa = _gauss_hermite(alpha_nodes)
    lo_u, hi_u = math.log(ALPHA_MIN), math.log(ALPHA_MAX)
    # Every stratum's (ln μ, ln α) grid at once, stratum by stratum in order (the same
    # numbers, in the same order, as one stratum at a time). Without a covariance ln α
    # is fixed given ln μ: one node on it.
    spread = [s.sd_u > 0 for _, s in strata]
    groups = [strata] if len(set(spread)) <= 1 else [[one] for one in strata]
    alphas, betas, index, weights = [], [], [], []
    pos = 0
    for group in groups:
        za, wz = (xa, wa) if group[0][1].sd_u > 0 else (np.zeros(1), np.ones(1))
        col = np.array([[s.m_post, s.sd_m, s.u_hat, s.slope, s.m_hat, s.sd_u] for _, s in group])
        m_post, sd_m, u_hat, slope, m_hat, sd_u = (c[:, None, None] for c in col.T)
        m = m_post + sd_m * xm[None, :, None]  # (strata, μ nodes, 1)
        u = np.clip(u_hat + slope * (m - m_hat) + sd_u * za[None, None, :], lo_u, hi_u)
        w = np.array([posterior.weights[j] for j, _ in group])[:, None, None]
        alphas.append(np.exp(u).ravel())
        betas.append(np.exp(u - m).ravel())
        per = u.shape[1] * u.shape[2]
        index.append(np.repeat(np.arange(pos, pos + len(group), dtype=np.intp), per))
        weights.append((w * wm[None, :, None] * wz[None, None, :]).ravel())
        pos += len(group)
    weight = np.concatenate(weights)
    # Nodes in the far tails of the rule (a 16-point rule's outer weights are ~1e-10) move
    # no probability visibly; leaving them out saves a quarter of the evaluations.
    use = weight > MIN_NODE_WEIGHT * weight.sum()
    weight = weight[use]
    return Nodes(
        np.concatenate(alphas)[use],
        np.concatenate(betas)[use],
        np.concatenate(index)[use],
        np.asarray(posterior.gammas, float)[kept],
        weight / weight.sum(),
    )


def kept_strata(
    posterior: TrendPosterior, k_total: float, prior: PlanPrior | None
) -> list[tuple[int, StratumNormal]]:
    """The γ strata heavier than :data:`MIN_STRATUM_WEIGHT` (their index on the grid) and
    the normal law of (ln μ, ln α) on each: the same for every rule."""
    return [
        (j, stratum_normal(posterior.fits[j], k_total, prior))
        for j, w in enumerate(posterior.weights)
        if w > MIN_STRATUM_WEIGHT
    ]


@dataclass(frozen=True)
class OpenSites:
    """What the open sites contribute on each γ of a grid, whatever the rule on (α, β):
    sites with the same days open grouped (their counts summed), and per (γ, group) the
    exposure so far and today's decay factor."""

    gammas: np.ndarray
    counts: np.ndarray
    k_sum: np.ndarray
    exposure: np.ndarray
    today: np.ndarray

    @classmethod
    def of(cls, gammas: np.ndarray, k: np.ndarray, tau: np.ndarray) -> OpenSites:
        # Sites with the same days open share β + E and e^{−γτ}: sum their k and count.
        taus, inverse, counts = np.unique(
            np.asarray(tau, float), return_inverse=True, return_counts=True
        )
        k_sum = np.bincount(np.ravel(inverse), weights=np.asarray(k, float), minlength=len(taus))
        g = np.asarray(gammas, float)
        exposure = decay_integral(g[:, None], taus[None, :])  # (γ, τ groups)
        today = np.exp(-g[:, None] * taus[None, :])
        return cls(g, counts, k_sum, exposure, today)


class CompletionLaw:
    """P(n more randomizations within t days | θ) on every quadrature node, and its mixture.

    ``k``, ``tau``: the open sites' counts and days open; ``planned_offsets``: days after
    as_of at which the planned sites open (at the prior rate). The per-node moments of the
    open sites' rate today do not depend on t and are computed once; the planned sites'
    exposure sums depend on (γ, t) only.
    """

    def __init__(
        self,
        nodes: Nodes,
        k: np.ndarray,
        tau: np.ndarray,
        planned_offsets: np.ndarray,
        open_sites: OpenSites | None = None,
    ) -> None:
        self.nodes = nodes
        if open_sites is None or not np.array_equal(open_sites.gammas, nodes.gammas):
            open_sites = OpenSites.of(nodes.gammas, k, tau)
        e = open_sites.exposure[nodes.gamma_index]  # (nodes, groups)
        c = open_sites.today[nodes.gamma_index]
        a = nodes.alpha[:, None] * open_sites.counts[None, :] + open_sites.k_sum[None, :]
        b = nodes.beta[:, None] + e
        ratio = c / b
        self.mean_open = np.sum(a * ratio, axis=1)  # E rate today, per node
        self.var_open = np.sum(a * ratio * ratio, axis=1)
        offsets, per = np.unique(np.asarray(planned_offsets, float), return_counts=True)
        self.planned_offsets = offsets
        self.planned_counts = per.astype(float)
        self.prior_mean = nodes.alpha / nodes.beta
        self.prior_var = nodes.alpha / nodes.beta**2

    def moments(
        self, days: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of Λ(t) per node (rows: all, or those of ``rows``) and t
        (columns)."""
        t = np.maximum(np.asarray(days, float), 0.0)
        g = self.nodes.gammas
        index, mean_open, var_open = self.nodes.gamma_index, self.mean_open, self.var_open
        prior_mean, prior_var = self.prior_mean, self.prior_var
        if rows is not None:
            index, mean_open, var_open = index[rows], mean_open[rows], var_open[rows]
            prior_mean, prior_var = prior_mean[rows], prior_var[rows]
        d = decay_integral(g[:, None], t[None, :])[index]
        mean = mean_open[:, None] * d
        var = var_open[:, None] * d * d
        if len(self.planned_offsets):
            since = np.maximum(t[None, :] - self.planned_offsets[:, None], 0.0)  # (offsets, t)
            dp = decay_integral(g[:, None, None], since[None, :, :])  # (γ, offsets, t)
            m1 = np.einsum("o,got->gt", self.planned_counts, dp)[index]
            m2 = np.einsum("o,got->gt", self.planned_counts, dp * dp)[index]
            mean = mean + prior_mean[:, None] * m1
            var = var + prior_var[:, None] * m2
        return mean, var

    def conditional(self, n: int, days: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """P(N(t) ≥ n | θ) per node (all, or those of ``rows``) and t: the moment-matched
        negative binomial tail."""
        return negbin_tail(n, *self.moments(days, rows))

    def probability(self, n: int, days: np.ndarray) -> np.ndarray:
        """P(n more randomizations within each t of ``days``): the mixture over θ."""
        if n <= 0:
            return np.ones(len(np.atleast_1d(days)))
        return self.nodes.weight @ self.conditional(n, np.atleast_1d(days))

    def probability_never(self, n: int) -> float:
        """P(the target is never reached): slowing paths whose total intensity is finite."""
        if n <= 0:
            return 0.0
        g = self.nodes.gammas[self.nodes.gamma_index]
        slowing = g > 0
        if not slowing.any():
            return 0.0
        # Λ(∞) = (rate today + planned) / γ on slowing nodes: the count is NB there.
        t_inf = 1e7 / max(float(g[slowing].min()), 1e-12)
        rows = np.flatnonzero(slowing)
        with np.errstate(over="ignore", invalid="ignore"):  # growing γ of the grid: unused
            p = self.conditional(n, np.array([t_inf]), rows)[:, 0]
        return float(self.nodes.weight[rows] @ (1.0 - p))

    def quantile_days(
        self,
        n: int,
        qs: np.ndarray,
        horizon: float,
        near: np.ndarray | None = None,
        brackets: np.ndarray | None = None,
    ) -> np.ndarray:
        """Smallest whole day d ≤ horizon with P(by d) ≥ q, per q (inf when beyond).

        The first evaluation is at the horizon and, given ``near`` guesses (another rule's
        quantiles), at each guess and the day before it; given ``brackets``, at those days;
        else on a coarse geometric grid. Then every q's bracket shrinks at once, each step
        one evaluation of P at two adjacent days per q (:func:`_next_days`): where a
        Newton step from the nearer end, with the slope the last pair measured, says P
        crosses q. A guess within a day of the answer is settled by the first evaluation,
        a few days off by the second. Guesses and brackets only save evaluations: the
        answer is the same whatever they are (P(by day 0) is 0 and the horizon is always
        evaluated, so every q reached by the horizon has a bracket).
        """
        qs = np.asarray(qs, float)
        if n <= 0:
            return np.zeros(len(qs))
        if brackets is not None:
            first = np.asarray(brackets, float)
        elif near is not None:
            g = np.ceil(np.asarray(near, float))
            first = np.concatenate([g - 1.0, g])
        else:
            first = np.geomspace(1.0, max(horizon, 2.0), GRID_POINTS)
        first = first[np.isfinite(first)]
        grid = np.unique(np.ceil(np.clip(np.append(first, horizon), 1.0, horizon)))
        cdf = np.maximum.accumulate(self.probability(n, grid))
        grid, cdf = np.concatenate([[0.0], grid]), np.concatenate([[0.0], cdf])
        at = np.searchsorted(cdf, qs, side="left")  # first evaluated day with P ≥ q
        out = np.full(len(qs), np.inf)
        todo = at < len(grid)
        at = np.minimum(at, len(grid) - 1)
        lo_d, lo_p = grid[np.maximum(at - 1, 0)], cdf[np.maximum(at - 1, 0)]
        hi_d, hi_p = grid[at], cdf[at]
        # The slope of P per day where two adjacent days were evaluated (the guesses).
        slope = np.zeros(len(qs))
        if near is not None:
            for side in (lo_d, hi_d):
                pos = np.searchsorted(grid, side)
                pair = (pos + 1 < len(grid)) & (
                    grid[np.minimum(pos + 1, len(grid) - 1)] == side + 1
                )
                rise = cdf[np.minimum(pos + 1, len(grid) - 1)] - cdf[pos]
                slope = np.where(pair & (slope == 0), rise, slope)
        for _ in range(MAX_SEARCH_STEPS):
            active = todo & (hi_d - lo_d > 1)
            if not active.any():
                break
            idx = np.flatnonzero(active)
            a, b = _next_days(qs[idx], lo_d[idx], lo_p[idx], hi_d[idx], hi_p[idx], slope[idx])
            days = np.concatenate([a, b])
            values = np.unique(days)
            p = self.probability(n, values)
            pa, pb = p[np.searchsorted(values, a)], p[np.searchsorted(values, b)]
            slope[idx] = np.where(b > a, (pb - pa) / np.maximum(b - a, 1.0), slope[idx])
            for d, pd in ((a, pa), (b, pb)):
                q = qs[idx]
                up = pd >= q
                take_hi = up & (d < hi_d[idx])
                take_lo = ~up & (d > lo_d[idx])
                hi_d[idx] = np.where(take_hi, d, hi_d[idx])
                hi_p[idx] = np.where(take_hi, pd, hi_p[idx])
                lo_d[idx] = np.where(take_lo, d, lo_d[idx])
                lo_p[idx] = np.where(take_lo, pd, lo_p[idx])
        else:  # pragma: no cover - every step shrinks a bracket of at most 36,500 days
            raise RuntimeError("quantile search did not converge")
        out[todo] = hi_d[todo]
        return out


#: A search step's estimate goes at most this share of the bracket's width from the end it
#: starts from: a step that misses the root still halves the bracket (a bisection).
BISECT_BELOW = 0.5
#: Steps of :meth:`CompletionLaw.quantile_days` before giving up (each shrinks every open
#: bracket: a bracket over a century of days needs at most ~2·log2(36,500) bisections).
MAX_SEARCH_STEPS = 200


def _next_days(
    qs: np.ndarray,
    lo: np.ndarray,
    lo_p: np.ndarray,
    hi: np.ndarray,
    hi_p: np.ndarray,
    slope: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Two adjacent days strictly inside each bracket (lo, hi) to evaluate next (equal when
    only one fits): around where P is expected to reach q.

    With a measured slope, a Newton step from the bracket end whose P is nearer q; else
    the chord between the ends. The estimate is kept at least one day inside each end
    and, on wide brackets, at most half-way towards the far end, so that a bracket the
    step misses still shrinks by half.
    """
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = lo + (qs - lo_p) / (hi_p - lo_p) * width
        from_lo = lo + (qs - lo_p) / slope
        from_hi = hi - (hi_p - qs) / slope
    newton = np.where(qs - lo_p <= hi_p - qs, from_lo, from_hi)
    est = np.where((slope > 0) & np.isfinite(newton), newton, chord)
    est = np.where(np.isfinite(est), est, lo + width / 2)
    # A Newton step from one end lands near the root; one that would fall deep into the
    # far half is not trusted beyond the middle (the pair then still halves the bracket).
    nearer_lo = qs - lo_p <= hi_p - qs
    half = lo + width * BISECT_BELOW
    est = np.where(nearer_lo, np.minimum(est, np.maximum(half, lo + 1)), est)
    est = np.where(~nearer_lo, np.maximum(est, np.minimum(half, hi - 1)), est)
    a = np.clip(np.floor(est), lo + 1, hi - 1)
    b = np.minimum(a + 1, hi - 1)
    return a, b


#: Quadrature rules (ln μ nodes, ln α nodes), coarse to fine: the next is used while the
#: median moves by more than :data:`WANTED_ERROR_DAYS` from one rule to the next.
RULES = ((10, 3), (16, 4), (32, 6), (48, 8))
WANTED_ERROR_DAYS = 1.0
#: Standard normal quantile of the simulated brackets (:func:`simulated_brackets`).
BRACKET_Z = 3.0


@dataclass(frozen=True)
class IntegratedLaw:
    """The target date's law by quadrature: quantiles (days after as_of, inf beyond the
    horizon), P(never), P(beyond the horizon), the median's numerical error (days: how
    far it moved from the previous, coarser rule) and the law itself for P(by a date)."""

    quantile_days: dict[float, float]
    probability_never: float
    probability_beyond: float
    error_days: float
    law: CompletionLaw


def simulated_brackets(simulated: np.ndarray, qs: np.ndarray, z: float = BRACKET_Z) -> np.ndarray:
    """Days that bracket each quantile of ``qs``, from simulated target dates (days; inf
    for paths that never get there): the order statistics at ranks n·q ∓ z·√(n·q(1−q))
    (:func:`.precision.quantile_band_ranks`), a distribution-free confidence interval of
    the quantile (z = 3: it holds the true
    quantile with probability ≈ 0.997). A few hundred paths bracket every quantile to a few
    per cent, where a grid over a century of days is ~25 evaluations wide.

    Where a rank falls among the paths that never get there (a slowing trial), its end is
    infinite: the latest finite date and its double and quadruple stand in for it, so that
    a quantile just short of P(ever) is not searched for by halving a century."""
    t = np.asarray(simulated, float)
    n = len(t)
    if n == 0:
        return np.zeros(0)
    ranks = np.unique(np.concatenate(quantile_band_ranks(n, qs, z)))
    days = np.partition(t, ranks)[ranks]
    if np.isinf(days).any():
        finite = t[np.isfinite(t)]
        if len(finite):
            days = np.concatenate([days, float(finite.max()) * np.array([1.0, 2.0, 4.0])])
    return days


def integrate_completion(
    posterior: TrendPosterior,
    k_total: float,
    prior: PlanPrior | None,
    k: np.ndarray,
    tau: np.ndarray,
    planned_offsets: np.ndarray,
    remaining: int,
    quantiles: tuple[float, ...],
    horizon: float,
    parameter_uncertainty: bool = True,
    simulated: np.ndarray | None = None,
) -> IntegratedLaw:
    """P(target by t) integrated over the model (see the module docstring), on the first
    rule of :data:`RULES` after the first whose median agrees with the previous rule's
    within a day.

    ``simulated``: target dates of simulated paths (days), used only to bracket the
    quantiles (:func:`simulated_brackets`); the result does not depend on them. The
    coarsest rule is only asked for its median, near the next rule's: all it is needed for
    is the numerical error of the median.
    """

    # What every rule shares: the strata's normal laws and the open sites' exposures on
    # their γ (without parameter uncertainty there is one rule, one γ: nothing to share).
    strata = kept_strata(posterior, k_total, prior) if parameter_uncertainty else None
    open_sites = (
        None
        if strata is None
        else OpenSites.of(np.asarray(posterior.gammas, float)[[j for j, _ in strata]], k, tau)
    )

    def law_for(rule: tuple[int, int]) -> CompletionLaw:
        nodes = parameter_nodes(posterior, k_total, prior, *rule, parameter_uncertainty, strata)
        return CompletionLaw(nodes, k, tau, planned_offsets, open_sites)

    def difference(a: float, b: float) -> float:
        return 0.0 if math.isinf(a) and math.isinf(b) else abs(a - b)

    qs = np.asarray(quantiles, float)
    middle = int(np.argmin(np.abs(qs - 0.5)))
    brackets = None if simulated is None else simulated_brackets(simulated, qs)
    error = 0.0  # one node without parameter uncertainty: nothing to integrate
    if not parameter_uncertainty:
        law = law_for(RULES[0])
        days = law.quantile_days(remaining, qs, horizon, brackets=brackets)
    else:
        law = law_for(RULES[1])
        days = law.quantile_days(remaining, qs, horizon, brackets=brackets)
        coarse = law_for(RULES[0]).quantile_days(
            remaining, qs[middle : middle + 1], horizon, near=days[middle : middle + 1]
        )
        error = difference(days[middle], coarse[0])
        for rule in RULES[2:]:
            if error <= WANTED_ERROR_DAYS:
                break
            previous = days
            law = law_for(rule)
            days = law.quantile_days(remaining, qs, horizon, near=previous)
            error = difference(days[middle], previous[middle])
    beyond = 1.0 - float(law.probability(remaining, np.array([horizon]))[0])
    return IntegratedLaw(
        {float(q): float(d) for q, d in zip(qs, days, strict=True)},
        law.probability_never(remaining),
        max(beyond, 0.0),
        float(error),
        law,
    )
