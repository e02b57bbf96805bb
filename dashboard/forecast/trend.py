"""Site rates that change over time, and the plan's prior on the mean rate.

Why: real sites slow down as they work through their known patients (rare diseases above
all) or stop recruiting without notice; a model of constant rates then promises dates that
are months too early. And with one or two patients the data alone say almost nothing about
the mean rate, while the protocol's plan (the target over the planned recruitment period)
does say something.

* **Trend.** Each site recruits at λ_i·e^{−γ s}, s days since the site opened, with the
  λ_i ~ Gamma(α, β) as before. Given γ the counts keep a negative-binomial marginal with the
  exposure E_i(γ) = ∫_0^{τ_i} e^{−γ s} ds, and the randomization times add −γ·Σ s_ij to the
  log-likelihood. γ is given a posterior on a grid (:data:`TREND_GRID_PER_YEAR`), (α, β)
  profiled out at each point: the prior puts a quarter of its mass on "no change" (γ = 0), the rest
  on a normal N(0, :data:`TREND_PRIOR_SD_PER_YEAR`²) spread over the grid, so the constant
  and trending models are averaged by their evidence and a trial with no slowing keeps
  nearly all of the constant model's precision.
* **Plan prior** (Gajewski, Simon & Carlson 2008, *Statistics in Medicine* 27:2329; R
  package ``accrual``): the mean rate per site is given a prior centred on the plan's rate
  — the target over the site-days the sites would have by the planned completion — worth
  :data:`PRIOR_PSEUDO_PATIENTS` pseudo-patients (ln μ ~ N(ln μ_plan, 1/w)). The data's
  own precision on ln μ grows like the number randomized, so the prior's share
  w/(w + precision) fades as data accrue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from .common import ALPHA_MAX, ALPHA_MIN
from .gamma_fit import GammaFit, fit_gamma_grid
from .simulation import decay_integral

#: Grid of the rate trend γ, per year (positive: slowing). 0 must be on it.
TREND_GRID_PER_YEAR = np.round(np.arange(-1.0, 2.0001, 0.25), 6)
#: Prior of γ: a quarter of the mass on "no change" (the constant model), the rest N(0, sd²)
#: per year (chosen on the calibration bench: half on "no change" left falling rates at 0.55).
TREND_PRIOR_SD_PER_YEAR = 0.5
TREND_PRIOR_CONSTANT_MASS = 0.25
#: Weight of the plan's prior on the mean rate per site, in pseudo-patients.
PRIOR_PSEUDO_PATIENTS = 2.0
YEAR_DAYS = 365.25


@dataclass(frozen=True)
class PlanPrior:
    """Prior of the mean rate per site per day from the protocol's plan."""

    mean_rate: float
    pseudo_patients: float
    source: str


def plan_prior(
    target: int,
    remaining_days: float,
    tau: np.ndarray,
    planned_offsets: np.ndarray,
    pseudo_patients: float = PRIOR_PSEUDO_PATIENTS,
) -> PlanPrior | None:
    """The rate per site-day that reaches ``target`` at the planned completion.

    Site-days = Σ over open sites (τ_i + days to the planned completion) + Σ over planned
    sites (days from their opening to the planned completion), each at least 0. None when
    there are no site-days by the planned completion, or no weight.
    """
    open_days = np.maximum(np.asarray(tau, float) + remaining_days, 0.0)
    later = np.maximum(remaining_days - np.asarray(planned_offsets, float), 0.0)
    site_days = float(open_days.sum() + later.sum())
    if site_days <= 0 or target <= 0 or pseudo_patients <= 0:
        return None
    return PlanPrior(
        target / site_days,
        pseudo_patients,
        "plan: target over the site-days by the planned completion",
    )


@dataclass(frozen=True)
class TrendPosterior:
    """Grid posterior of the rate trend γ (per day) with the (α, β) fit at each point."""

    gammas: np.ndarray
    weights: np.ndarray
    fits: list[GammaFit]

    @property
    def mode(self) -> int:
        return int(np.argmax(self.weights))

    def change_per_year(self) -> dict[str, float | None]:
        """Posterior median and 80 %/95 % interval of the yearly change e^{−γ·year} − 1."""
        order = np.argsort(self.gammas)
        g, w = self.gammas[order], self.weights[order]
        cdf = np.cumsum(w)

        def q(p: float) -> float:
            i = min(int(np.searchsorted(cdf, p - 1e-12)), len(g) - 1)
            return float(math.exp(-g[i] * YEAR_DAYS) - 1.0)

        # Change is decreasing in γ: the interval's ends swap.
        return {
            "median": q(0.5),
            "lo80": q(0.9),
            "hi80": q(0.1),
            "lo95": q(0.975),
            "hi95": q(0.025),
            "probability_slowing": float(w[g > 0].sum()),
            "probability_constant_model": float(
                self.weights[np.flatnonzero(self.gammas == 0.0)].sum()
            ),
        }


def trend_prior_weights(gammas_per_year: np.ndarray) -> np.ndarray:
    """Prior mass on the grid: TREND_PRIOR_CONSTANT_MASS on γ = 0, the rest a discretised normal."""
    dens = np.exp(-0.5 * (gammas_per_year / TREND_PRIOR_SD_PER_YEAR) ** 2)
    w = (1.0 - TREND_PRIOR_CONSTANT_MASS) * dens / dens.sum()
    w[gammas_per_year == 0.0] += TREND_PRIOR_CONSTANT_MASS
    return w


def fit_trend(
    k: np.ndarray, tau: np.ndarray, since_open: float, with_trend: bool = True
) -> TrendPosterior:
    """Posterior over γ of :data:`TREND_GRID_PER_YEAR` (profile likelihood in (α, β)).

    ``since_open`` is Σ_j s_ij over every patient of the open sites (days from the site's
    opening to the middle of the randomization day). The likelihood of :func:`fit_gamma_rates`
    (which drops Σ k_i ln τ_i) is exactly the likelihood of the arrival *times* of a process
    of rate λ_i integrated over λ_i; with the trend, the exposure becomes E_i(γ) and each
    arrival adds ln e^{−γ s_ij}. Raises ValueError as :func:`fit_gamma_rates` when no rate
    can be estimated.
    """
    k = np.asarray(k, float)
    tau = np.asarray(tau, float)
    grid_year = TREND_GRID_PER_YEAR if with_trend else np.array([0.0])
    prior = trend_prior_weights(grid_year)
    gammas = grid_year / YEAR_DAYS
    # One vectorised fit over the whole grid (E_i(0) = τ_i: the constant model's row).
    fits: list[GammaFit] = fit_gamma_grid(k, decay_integral(gammas[:, None], tau[None, :]))
    logpost = np.array([f.log_likelihood for f in fits]) - gammas * since_open + np.log(prior)
    w = np.exp(logpost - logpost.max())
    return TrendPosterior(gammas, w / w.sum(), fits)


@dataclass(frozen=True)
class StratumNormal:
    """The law of (ln μ, ln α) given one γ of the grid: ln μ ~ N(m_post, sd_m²), then
    ln α = u_hat + slope·(ln μ − m_hat) + sd_u·Z (clipped to the bounds of α)."""

    m_post: float
    sd_m: float
    m_hat: float
    u_hat: float
    slope: float
    sd_u: float
    prior_share: float


def stratum_normal(fit: GammaFit, k_total: float, prior: PlanPrior | None) -> StratumNormal:
    """ln μ: the data's normal approximation (from the Hessian when there is one, else
    N(ln μ̂, 1/Σk)) combined with the plan prior by precision; ln α given ln μ: the
    conditional of the data's normal (fixed at α̂ without a covariance). Shared by the
    simulation (:func:`draw_path_parameters`) and the quadrature
    (:mod:`.completion_law`), so both integrate the same law."""
    u_hat, m_hat = math.log(fit.alpha), math.log(fit.mean_rate)
    if fit.cov is not None:
        c = fit.cov  # (ln α, ln β) → (ln α, ln μ = ln α − ln β)
        c_uu = c[0, 0]
        c_um = c[0, 0] - c[0, 1]
        c_mm = c[0, 0] + c[1, 1] - 2 * c[0, 1]
    else:
        c_uu, c_um, c_mm = 0.0, 0.0, 1.0 / max(k_total, 1e-9)
    prec_d = 1.0 / c_mm
    prec_p = prior.pseudo_patients if prior is not None else 0.0
    m_prior = math.log(prior.mean_rate) if prior is not None else 0.0
    m_post = (m_hat * prec_d + m_prior * prec_p) / (prec_d + prec_p)
    v_post = 1.0 / (prec_d + prec_p)
    slope = c_um / c_mm
    resid = max(c_uu - c_um * slope, 0.0)
    return StratumNormal(
        m_post, math.sqrt(v_post), m_hat, u_hat, slope, math.sqrt(resid), prec_p / (prec_d + prec_p)
    )


@dataclass(frozen=True)
class PathParameters:
    """(α, β, γ) per path, and what went into them (for the JSON)."""

    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    drawn: bool
    prior_share: float | None


def latin_hypercube_normals(n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of two independent standard normals, as a Latin hypercube: each column
    takes exactly one draw from each of the n equally likely slices of the normal law
    (a uniform point within its slice, slices paired at random between the columns).

    Why: the page's sites-needed table and chart bands are averages over the paths of
    functions that move smoothly with the path's mean rate and α; stratifying those two
    removes most of their Monte Carlo noise (see :data:`.precision.PAGE_SIDE_PATHS`: 600
    such paths are as precise as 1,000 independent ones, the table far more). Each draw
    still has the normal law: every average stays unbiased.
    """
    slices = np.stack([rng.permutation(n), rng.permutation(n)], axis=1)
    # Strictly inside (0, 1): ndtri is infinite at both ends.
    u = np.clip((slices + rng.random((n, 2))) / n, 2.0**-60, 1.0 - 2.0**-53)
    return special.ndtri(u)


def draw_path_parameters(
    posterior: TrendPosterior,
    k_total: float,
    prior: PlanPrior | None,
    paths: int,
    rng: np.random.Generator,
    parameter_uncertainty: bool = True,
) -> PathParameters:
    """γ by stratified sampling of its grid posterior, then (α, μ = α/β) per path, (ln μ,
    ln α) stratified too within each γ (:func:`latin_hypercube_normals`).

    ln μ: the data's normal approximation (from the Hessian when there is one, else
    N(ln μ̂, 1/Σk) — the mean rate's own uncertainty never disappears, even with α at its
    bound), combined with the plan prior by precision. ln α given ln μ: the conditional of
    the data's normal (fixed at α̂ without a covariance). Plug-in (no uncertainty): the
    posterior mode of γ with its (α̂, β̂), no prior.
    """
    if not parameter_uncertainty:
        fit = posterior.fits[posterior.mode]
        g = posterior.gammas[posterior.mode]
        return PathParameters(
            np.full(paths, fit.alpha), np.full(paths, fit.beta), np.full(paths, g), False, None
        )
    counts = np.floor(posterior.weights * paths).astype(int)
    short = paths - counts.sum()
    if short:
        frac = posterior.weights * paths - counts
        counts[np.argsort(-frac, kind="stable")[:short]] += 1
    alpha = np.empty(paths)
    beta = np.empty(paths)
    gamma = np.repeat(posterior.gammas, counts)
    share: float | None = None
    lo_u, hi_u = math.log(ALPHA_MIN), math.log(ALPHA_MAX)
    pos = 0
    for j, n in enumerate(counts):
        if n == 0:
            continue
        s = stratum_normal(posterior.fits[j], k_total, prior)
        if j == posterior.mode:
            share = s.prior_share
        z = latin_hypercube_normals(n, rng)
        m = s.m_post + s.sd_m * z[:, 0]
        u = np.clip(s.u_hat + s.slope * (m - s.m_hat) + s.sd_u * z[:, 1], lo_u, hi_u)
        alpha[pos : pos + n] = np.exp(u)
        beta[pos : pos + n] = np.exp(u - m)
        pos += n
    # Strata are contiguous; shuffle so any first-p paths (chart, table) are a fair sample.
    order = rng.permutation(paths)
    return PathParameters(alpha[order], beta[order], gamma[order], True, share)
