"""Maximum-likelihood Gamma(α, β) law of the site rates (negative-binomial marginal)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from .common import ALPHA_MAX, ALPHA_MIN


@dataclass(frozen=True)
class GammaFit:
    """Maximum-likelihood Gamma(α, β) of the site rates (β a rate per day).

    ``cov`` is the covariance of (ln α, ln β) from the inverse Hessian of the negative
    log-likelihood, or None when that Hessian is not positive definite or α sits at its
    bound (the normal approximation is then meaningless); ``note`` says which.
    """

    alpha: float
    beta: float
    cov: np.ndarray | None
    at_bound: bool
    log_likelihood: float
    converged: bool
    note: str | None = None

    @property
    def mean_rate(self) -> float:
        """Prior mean rate per site per day, α/β."""
        return self.alpha / self.beta


def _check_data(k: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(k, dtype=float)
    tau = np.asarray(tau, dtype=float)
    if k.shape != tau.shape or k.ndim != 1:
        raise ValueError("k and tau must be 1-d arrays of the same length")
    if np.any(k < 0) or np.any(tau < 0):
        raise ValueError("k and tau must be ≥ 0")
    return k, tau


def negbin_log_likelihood(
    log_alpha: float, log_beta: float, k: np.ndarray, tau: np.ndarray
) -> float:
    """Σ_i [α ln β − ln Γ(α) + ln Γ(α + k_i) − (α + k_i) ln(β + τ_i)] (constant terms dropped).

    Written as −α·log1p(τ/β) − k·ln(β + τ) + [ln Γ(α + k) − ln Γ(α)] so that it keeps its
    precision near the Poisson limit (α, β both large).
    """
    a, b = math.exp(log_alpha), math.exp(log_beta)
    return float(
        np.sum(
            -a * np.log1p(tau / b)
            - k * np.log(b + tau)
            + special.gammaln(a + k)
            - special.gammaln(a)
        )
    )


def _negloglik_grad(theta: np.ndarray, k: np.ndarray, tau: np.ndarray) -> tuple[float, np.ndarray]:
    u, v = float(theta[0]), float(theta[1])
    a, b = math.exp(u), math.exp(v)
    ll = negbin_log_likelihood(u, v, k, tau)
    d_a = np.sum(-np.log1p(tau / b) + special.digamma(a + k) - special.digamma(a))
    d_b = np.sum(a / b - (a + k) / (b + tau))
    return -ll, -np.array([a * d_a, b * d_b])


def negbin_hessian(log_alpha: float, log_beta: float, k: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Analytic Hessian of the NEGATIVE log-likelihood in (ln α, ln β).

    With ℓ_α = Σ[ln β − ψ(α) + ψ(α+k) − ln(β+τ)], ℓ_β = Σ[α/β − (α+k)/(β+τ)] and
    ℓ_αα = Σ[ψ'(α+k) − ψ'(α)], ℓ_ββ = Σ[(α+k)/(β+τ)² − α/β²], ℓ_αβ = Σ[1/β − 1/(β+τ)],
    the chain rule for α = e^u, β = e^v gives ℓ_uu = α²ℓ_αα + αℓ_α, ℓ_vv = β²ℓ_ββ + βℓ_β,
    ℓ_uv = αβ ℓ_αβ (the gradient terms vanish at an interior maximum, kept for checks).
    """
    k, tau = _check_data(k, tau)
    a, b = math.exp(log_alpha), math.exp(log_beta)
    l_a = np.sum(-np.log1p(tau / b) + special.digamma(a + k) - special.digamma(a))
    l_b = np.sum(a / b - (a + k) / (b + tau))
    l_aa = np.sum(special.polygamma(1, a + k) - special.polygamma(1, a))
    # β²ℓ_ββ = Σ[(α+k)β²/(β+τ)² − α], kept in that form for precision.
    b2_l_bb = np.sum((a + k) * (b / (b + tau)) ** 2 - a)
    ab_l_ab = np.sum(a * tau / (b + tau))  # αβ(1/β − 1/(β+τ)) = ατ/(β+τ)
    l_uu = a * a * l_aa + a * l_a
    l_vv = b2_l_bb + b * l_b
    return -np.array([[l_uu, ab_l_ab], [ab_l_ab, l_vv]], dtype=float)


def fit_gamma_rates(
    k: Sequence[float] | np.ndarray, tau: Sequence[float] | np.ndarray, alpha_max: float = ALPHA_MAX
) -> GammaFit:
    """Maximum likelihood of the negative-binomial marginal of the site counts.

    Optimised in (ln α, ln β) by scipy's trust-region Newton ("trust-exact") with the
    analytic gradient and Hessian, from two starting shapes (L-BFGS-B gives the same maxima
    but costs ~50× more per fit here). The likelihood has a long flat ridge towards the
    Poisson limit, so α is bounded by ``alpha_max``: the profile maximum at the bound is
    compared with the interior one and ``at_bound`` says when it wins (no over-dispersion).
    Sites with τ = 0 carry no information and are ignored. Raises ValueError when the data
    cannot identify the rates (no site with τ > 0, or no randomization at all).
    """
    k, tau = _check_data(np.asarray(k), np.asarray(tau))
    keep = tau > 0
    if np.any(k[~keep] > 0):
        raise ValueError("a site with τ = 0 cannot have randomized patients")
    k, tau = k[keep], tau[keep]
    if len(k) == 0:
        raise ValueError("no site has been open for a day: rates cannot be estimated")
    if k.sum() == 0:
        raise ValueError("no randomization at the open sites: rates cannot be estimated")
    u_max = math.log(alpha_max)
    u_min = math.log(ALPHA_MIN)
    mean_rate = k.sum() / tau.sum()
    best_u, best_v, best_ll, converged = u_max, 0.0, -math.inf, False
    for a0 in (0.5, 5.0):
        # Newton with a trust region (analytic gradient and Hessian): a handful of steps,
        # safe where the Hessian is indefinite; a step beyond the α bounds is clamped below.
        x0 = np.array([math.log(a0), math.log(a0 / mean_rate)])
        res = optimize.minimize(
            _negloglik_grad,
            x0,
            args=(k, tau),
            jac=True,
            hess=lambda x, k, tau: negbin_hessian(x[0], x[1], k, tau),
            method="trust-exact",
            options={"gtol": 1e-9, "maxiter": 200},
        )
        u = float(res.x[0])
        if not (u_min <= u <= u_max) or not np.all(np.isfinite(res.x)):
            continue
        if -res.fun > best_ll:
            best_u, best_v, best_ll = u, float(res.x[1]), -float(res.fun)
            converged = bool(res.success)
    u, v, ll = best_u, best_v, best_ll
    # At the bounds: the ridge towards the Poisson limit is so flat that the search may stop
    # short of α = alpha_max or run past it; compare with the profile maxima at the bounds.
    for u_b in (u_max, u_min):
        v_b = math.log(_beta_given_alpha(math.exp(u_b), k, tau))
        ll_b = negbin_log_likelihood(u_b, v_b, k, tau)
        if ll_b >= ll - 1e-9 and (u_b == u_max or ll_b > ll):
            u, v, ll, converged = u_b, v_b, ll_b, True
    at_bound = u >= u_max - 1e-6 or u <= u_min + 1e-6
    cov = None
    note = None
    if at_bound:
        note = f"gamma shape α at its bound {math.exp(u):g}" + (
            " (no over-dispersion between sites)" if u >= u_max - 1e-6 else ""
        )
    else:
        cov = covariance_from_hessian(negbin_hessian(u, v, k, tau))
        if cov is None:
            note = "Hessian of the likelihood not positive definite at the maximum"
    return GammaFit(
        alpha=math.exp(u),
        beta=math.exp(v),
        cov=cov,
        at_bound=at_bound,
        log_likelihood=ll,
        converged=converged,
        note=note,
    )


def covariance_from_hessian(hess: np.ndarray) -> np.ndarray | None:
    """Inverse of a Hessian of a negative log-likelihood, or None when not positive definite.

    Only then is the normal approximation N(θ̂, H⁻¹) a distribution at all.
    """
    if not np.all(np.isfinite(hess)):
        return None
    try:
        np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    cov = np.linalg.inv(hess)
    return (cov + cov.T) / 2


def _beta_given_alpha(alpha: float, k: np.ndarray, tau: np.ndarray) -> float:
    """Profile MLE of β for a fixed α: root of Σ[α/β − (α+k)/(β+τ)] = 0 (unique, bracketed)."""

    def score(log_b: float) -> float:
        b = math.exp(log_b)
        return float(np.sum(alpha / b - (alpha + k) / (b + tau)) * b)

    guess = math.log(alpha * tau.sum() / k.sum())
    lo, hi = guess - 5.0, guess + 5.0
    while score(lo) < 0:
        lo -= 5.0
    while score(hi) > 0:
        hi += 5.0
    return math.exp(optimize.brentq(score, lo, hi, xtol=1e-13, rtol=1e-13))
