"""The Gamma(α, β) maximum likelihood for many exposure vectors at once (the trend grid).

Why: the trend posterior (:mod:`.trend`) needs the (α, β) fit at every point of its γ grid,
for every as-of date the page is asked for. One scipy trust-region search per grid point
cost ~30 ms each (≈ 13 per forecast); here the ~13 fits are one vectorised Newton
iteration over all grid points together, in pure numpy.

The method is the profile likelihood in u = ln α: for a fixed α the β maximising the
likelihood is the unique root of Σ[α/β − (α+k_i)/(β+E_i)] = 0 (found by a bracketed
Newton in ln β), and the profile's slope and curvature in u are closed forms (envelope
theorem: slope α·ℓ_α, curvature ℓ_uu − ℓ_uv²/ℓ_vv). A bracketed Newton on the slope then
finds the interior maximum between the α bounds; the profile at the bounds is compared
as in :func:`dashboard.forecast.gamma_fit.fit_gamma_rates` (α at its upper bound wins
ties within 1e-9: no over-dispersion).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .common import ALPHA_MAX, ALPHA_MIN

#: Newton tolerances in ln β and ln α (absolute), and the iteration caps.
_TOL_V = 1e-10
_TOL_U = 1e-9
#: The profile slope α·ℓ_α (log-likelihood per unit of ln α) taken as zero.
_TOL_SLOPE = 1e-11
_MAX_ITER = 200


class _Data:
    """The counts grouped by distinct k (the α-only terms cost O(distinct k))."""

    def __init__(self, k: np.ndarray, exposure: np.ndarray) -> None:
        self.k = k
        self.e = exposure  # (G, n)
        self.n = k.shape[0]
        self.k_sum = float(k.sum())
        self.k_values, self.k_counts = np.unique(k, return_counts=True)

    def psi_terms(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Σ_i[ψ(α+k_i) − ψ(α)] and Σ_i[ψ'(α+k_i) − ψ'(α)] per row."""
        ak = a[:, None] + self.k_values[None, :]
        d1 = (special.digamma(ak) * self.k_counts).sum(axis=1) - self.n * special.digamma(a)
        # ψ' as the Hurwitz ζ(2, x): a plain ufunc (scipy's polygamma wraps it in Python).
        d2 = (special.zeta(2.0, ak) * self.k_counts).sum(axis=1) - self.n * special.zeta(2.0, a)
        return d1, d2

    def gammaln_terms(self, a: np.ndarray) -> np.ndarray:
        """Σ_i[ln Γ(α+k_i) − ln Γ(α)] per row."""
        ak = a[:, None] + self.k_values[None, :]
        return (special.gammaln(ak) * self.k_counts).sum(axis=1) - self.n * special.gammaln(a)

    def beta_score(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """β·ℓ_β = Σ[α − (α+k)·β/(β+E)] and its derivative in ln β, per row."""
        frac = b[:, None] / (b[:, None] + self.e)
        ak = a[:, None] + self.k[None, :]
        f = self.n * a - (ak * frac).sum(axis=1)
        df = -(ak * frac * (1.0 - frac)).sum(axis=1)
        return f, df

    def log_likelihood(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """As :func:`dashboard.forecast.gamma_fit.negbin_log_likelihood`, per row."""
        be = b[:, None] + self.e
        return (
            -(a[:, None] * np.log1p(self.e / b[:, None])).sum(axis=1)
            - (self.k[None, :] * np.log(be)).sum(axis=1)
            + self.gammaln_terms(a)
        )


def _solve_beta(data: _Data, a: np.ndarray, v0: np.ndarray) -> np.ndarray:
    """ln β̂(α) per row: Newton on the (decreasing) score in ln β, kept inside the bracket
    the signs seen so far give (steps of 5 outwards until both ends are known)."""
    v = v0.copy()
    lo = np.full(len(v), -np.inf)
    hi = np.full(len(v), np.inf)
    active = np.ones(len(v), dtype=bool)
    for _ in range(_MAX_ITER):
        f, df = data.beta_score(a, np.exp(v))
        lo = np.where(f > 0, v, lo)
        hi = np.where(f < 0, v, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = v - f / df
        # Newton converges quadratically: a step under 1e-10 leaves an error far below it
        # (and rounding noise may put such a step just outside the bracket: still done).
        done = (np.abs(newton - v) < _TOL_V) | (f == 0) | (hi - lo < 1e-14)
        outside = ~np.isfinite(newton) | ~(df < 0) | (newton <= lo) | (newton >= hi)
        known = np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(invalid="ignore"):
            fallback = np.where(known, 0.5 * (lo + hi), np.where(f > 0, v + 5.0, v - 5.0))
        new = np.where(outside & ~done, fallback, newton)
        v = np.where(active, new, v)
        active &= ~done
        if not active.any():
            break
    return v


def _profile(
    data: _Data, u: np.ndarray, v0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ln β̂, slope, curvature, d ln β̂/du) of the profile log-likelihood in u = ln α."""
    a = np.exp(u)
    v = _solve_beta(data, a, v0)
    b = np.exp(v)
    frac = b[:, None] / (b[:, None] + data.e)  # β/(β+E)
    d1, d2 = data.psi_terms(a)
    l_a = d1 + np.log(frac).sum(axis=1)  # Σ[ψ(α+k) − ψ(α) − ln(1 + E/β)]
    ak = a[:, None] + data.k[None, :]
    l_uu = a * a * d2 + a * l_a
    l_vv = (ak * frac * frac).sum(axis=1) - data.n * a  # + β·ℓ_β, which is 0 at β̂
    l_uv = a * (1.0 - frac).sum(axis=1)  # Σ αE/(β+E)
    with np.errstate(divide="ignore", invalid="ignore"):
        curv = l_uu - l_uv * l_uv / l_vv
        dv_du = np.nan_to_num(-l_uv / l_vv)
    return v, a * l_a, curv, dv_du


def fit_profile_grid(
    k: np.ndarray, exposure: np.ndarray, alpha_max: float = ALPHA_MAX
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ln α̂, ln β̂, log-likelihood, converged) per row of ``exposure`` (G × n, all > 0).

    ``k`` (n,) are the counts (Σk > 0). The caller has already dropped sites with no
    exposure and checked the data (see :func:`dashboard.forecast.gamma_fit.fit_gamma_rates`).
    """
    data = _Data(np.asarray(k, float), np.atleast_2d(np.asarray(exposure, float)))
    rows = data.e.shape[0]
    u_max, u_min = math.log(alpha_max), math.log(ALPHA_MIN)

    def guess_v(u: np.ndarray) -> np.ndarray:
        return u + np.log(data.e.sum(axis=1) / data.k_sum)

    u_hi = np.full(rows, u_max)
    u_lo = np.full(rows, u_min)
    v_hi, s_hi, _, _ = _profile(data, u_hi, guess_v(u_hi))
    v_lo, s_lo, _, _ = _profile(data, u_lo, guess_v(u_lo))
    ll_hi = data.log_likelihood(np.exp(u_hi), np.exp(v_hi))
    ll_lo = data.log_likelihood(np.exp(u_lo), np.exp(v_lo))
    # An interior maximum needs the profile rising at u_min and falling at u_max.
    inner = (s_lo > 0) & (s_hi < 0)
    u = np.zeros(rows)
    v = guess_v(u)
    converged = np.zeros(rows, dtype=bool)
    lo, hi = u_lo.copy(), u_hi.copy()
    active = inner.copy()
    for _ in range(_MAX_ITER):
        if not active.any():
            break
        v_new, s, curv, dv_du = _profile(data, u, v)
        v = np.where(active, v_new, v)
        lo = np.where(active & (s > 0), u, lo)
        hi = np.where(active & (s < 0), u, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = np.where(curv < 0, u - s / curv, np.nan)
        # On a flat profile (α toward the Poisson limit: curvature ~1e-5) rounding noise in
        # the slope (~1e-12) still moves Newton by more than _TOL_U: a slope within that
        # noise is a maximum (ln α then within ~1e-6 of it), not a reason to iterate on.
        done = (np.abs(newton - u) < _TOL_U) | (np.abs(s) < _TOL_SLOPE) | (hi - lo < 1e-12)
        bisect = ~np.isfinite(newton) | (newton <= lo) | (newton >= hi)
        new = np.where(bisect & ~done, 0.5 * (lo + hi), newton)
        new = np.where(np.isfinite(new), new, u)
        # Warm start of ln β̂ at the next α: first order along the profile (dv/du).
        v = np.where(active, v + (new - u) * dv_du, v)
        u = np.where(active, new, u)
        converged |= active & done
        active &= ~done
    if inner.any():
        v = np.where(inner, _solve_beta(data, np.exp(u), v), v)
    ll = np.where(inner, data.log_likelihood(np.exp(u), np.exp(v)), -np.inf)
    # The bounds: α_max wins ties (the flat ridge to the Poisson limit), α_min must beat.
    take_hi = ll_hi >= ll - 1e-9
    u, v, ll = np.where(take_hi, u_hi, u), np.where(take_hi, v_hi, v), np.where(take_hi, ll_hi, ll)
    converged |= take_hi
    take_lo = ll_lo > ll
    u, v, ll = np.where(take_lo, u_lo, u), np.where(take_lo, v_lo, v), np.where(take_lo, ll_lo, ll)
    converged |= take_lo
    return u, v, ll, converged
