"""Maximum-likelihood Gamma(α, β) law of the site rates (negative-binomial marginal)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from .common import ALPHA_MAX, ALPHA_MIN
from .gamma_grid import fit_profile_grid


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


def negbin_hessian(log_alpha: float, log_beta: float, k: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Analytic Hessian of the NEGATIVE log-likelihood in (ln α, ln β).

    With ℓ_α = Σ[ln β − ψ(α) + ψ(α+k) − ln(β+τ)], ℓ_β = Σ[α/β − (α+k)/(β+τ)] and
    ℓ_αα = Σ[ψ'(α+k) − ψ'(α)], ℓ_ββ = Σ[(α+k)/(β+τ)² − α/β²], ℓ_αβ = Σ[1/β − 1/(β+τ)],
    the chain rule for α = e^u, β = e^v gives ℓ_uu = α²ℓ_αα + αℓ_α, ℓ_vv = β²ℓ_ββ + βℓ_β,
    ℓ_uv = αβ ℓ_αβ (the gradient terms vanish at an interior maximum, kept for checks).
    """
    k, tau = _check_data(k, tau)
    return _negbin_hessians(np.array([log_alpha]), np.array([log_beta]), k, tau[None, :])[0]


def _negbin_hessians(
    log_alpha: np.ndarray, log_beta: np.ndarray, k: np.ndarray, exposure: np.ndarray
) -> np.ndarray:
    """:func:`negbin_hessian` for each row of ``exposure`` (rows × sites) at its own
    (ln α, ln β): shape (rows, 2, 2). The trend grid takes its ~13 rows in one array step
    per term; a row's numbers do not depend on the others (α and β come from
    :func:`math.exp`, whose last bit numpy's exp may not match, and each sum runs along one
    contiguous row)."""
    a = np.array([math.exp(float(u)) for u in log_alpha])[:, None]
    b = np.array([math.exp(float(v)) for v in log_beta])[:, None]
    tau = exposure
    l_a = np.sum(-np.log1p(tau / b) + special.digamma(a + k) - special.digamma(a), axis=1)
    l_b = np.sum(a / b - (a + k) / (b + tau), axis=1)
    l_aa = np.sum(special.polygamma(1, a + k) - special.polygamma(1, a), axis=1)
    # β²ℓ_ββ = Σ[(α+k)β²/(β+τ)² − α], kept in that form for precision.
    b2_l_bb = np.sum((a + k) * (b / (b + tau)) ** 2 - a, axis=1)
    ab_l_ab = np.sum(a * tau / (b + tau), axis=1)  # αβ(1/β − 1/(β+τ)) = ατ/(β+τ)
    a, b = a[:, 0], b[:, 0]
    l_uu = a * a * l_aa + a * l_a
    l_vv = b2_l_bb + b * l_b
    return -np.stack([np.stack([l_uu, ab_l_ab], axis=1), np.stack([ab_l_ab, l_vv], axis=1)], axis=1)


def _checked_counts(k: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Which sites carry information (τ > 0); ValueError when the rates cannot be estimated."""
    keep = tau > 0
    if np.any(k[~keep] > 0):
        raise ValueError("a site with τ = 0 cannot have randomized patients")
    if not keep.any():
        raise ValueError("no site has been open for a day: rates cannot be estimated")
    if k[keep].sum() == 0:
        raise ValueError("no randomization at the open sites: rates cannot be estimated")
    return keep


def fit_gamma_rates(
    k: Sequence[float] | np.ndarray, tau: Sequence[float] | np.ndarray, alpha_max: float = ALPHA_MAX
) -> GammaFit:
    """Maximum likelihood of the negative-binomial marginal of the site counts.

    Optimised on the profile likelihood in ln α (β profiled out), by the bracketed Newton
    of :mod:`.gamma_grid` with the analytic slope and curvature. The likelihood has a long
    flat ridge towards the Poisson limit, so α is bounded by ``alpha_max``: the profile
    maximum at the bound is compared with the interior one and ``at_bound`` says when it
    wins (no over-dispersion). Sites with τ = 0 carry no information and are ignored.
    Raises ValueError when the data cannot identify the rates (no site with τ > 0, or no
    randomization at all).
    """
    k, tau = _check_data(np.asarray(k), np.asarray(tau))
    return fit_gamma_grid(k, tau[None, :], alpha_max)[0]


def fit_gamma_grid(
    k: np.ndarray, exposure: np.ndarray, alpha_max: float = ALPHA_MAX
) -> list[GammaFit]:
    """:func:`fit_gamma_rates` for each row of ``exposure`` (G × n) with the same counts.

    Why: the trend grid fits the same counts against ~13 exposure vectors; solving them
    together is one vectorised Newton instead of 13 searches. A site's exposure is 0 on
    every row or on none (E_i(γ) > 0 exactly when τ_i > 0).
    """
    k = np.asarray(k, dtype=float)
    exposure = np.atleast_2d(np.asarray(exposure, dtype=float))
    if exposure.shape[1] != k.shape[0] or k.ndim != 1:
        raise ValueError("k and tau must be 1-d arrays of the same length")
    if np.any(k < 0) or np.any(exposure < 0):
        raise ValueError("k and tau must be ≥ 0")
    keep = _checked_counts(k, exposure[0])
    k, exposure = k[keep], exposure[:, keep]
    u_max, u_min = math.log(alpha_max), math.log(ALPHA_MIN)
    us, vs, lls, conv = fit_profile_grid(k, exposure, alpha_max)
    bounds = [float(u) >= u_max - 1e-6 or float(u) <= u_min + 1e-6 for u in us]
    inside = [row for row, at_bound in enumerate(bounds) if not at_bound]
    # The interior rows' Hessians at once (one array step per term for the ~13 rows of the
    # trend grid, not 13 small calls): the same numbers as negbin_hessian row by row.
    hessians = dict(
        zip(inside, _negbin_hessians(us[inside], vs[inside], k, exposure[inside]), strict=True)
    )
    fits: list[GammaFit] = []
    for row, (u, v, ll, ok) in enumerate(zip(us, vs, lls, conv, strict=True)):
        u, v = float(u), float(v)
        at_bound = bounds[row]
        cov = None
        note = None
        if at_bound:
            note = f"gamma shape α at its bound {math.exp(u):g}" + (
                " (no over-dispersion between sites)" if u >= u_max - 1e-6 else ""
            )
        else:
            cov = covariance_from_hessian(hessians[row])
            if cov is None:
                note = "Hessian of the likelihood not positive definite at the maximum"
        fits.append(
            GammaFit(
                alpha=math.exp(u),
                beta=math.exp(v),
                cov=cov,
                at_bound=at_bound,
                log_likelihood=float(ll),
                converged=bool(ok),
                note=note,
            )
        )
    return fits


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
