"""Forecast step: when will the trial reach its target, and how sure can we be?

Two methods, as pure functions of the trial, its sites and its enrollment as of one date:

* **Weighted linear** (the method of the R package accrualPlot): least squares of the
  cumulative count on the date, later points weighted more. What statisticians quote
  first; gives a date but no interval, and knows nothing of sites.
* **Poisson–gamma** (Anisimov & Fedorov 2007, *Statistics in Medicine* 26:4958): each site
  recruits as a Poisson process whose rate is drawn from a Gamma(α, β) law common to the
  sites. α and β are fitted by maximum likelihood across the open sites; each site's rate
  is then known through its posterior Gamma(α + k_i, β + τ_i), and sites that open later
  start at the prior. Monte Carlo paths give the distribution of the date the target is
  reached, P(target by a date), the expected count by a date, and how many more sites
  would be needed. The uncertainty of (α, β) itself is carried by drawing them per path
  from the normal approximation of the likelihood (otherwise intervals are too narrow).

Conventions (the same as :mod:`dashboard.metrics`):

* ``as_of`` is the end of that day: a patient randomized on ``as_of`` is counted, and a
  simulated time ``t`` days after ``as_of`` falls on day ``as_of + ceil(t)``.
* A site has been open ``τ_i = as_of − activation`` days (activation = ``activation_date``
  of sites.csv, else the trial start date).
* Sites are classified by :func:`classify_sites` (see its docstring): only RECRUITING sites
  opened by ``as_of`` give data; a RECRUITING site whose activation date is after ``as_of``
  (looking back in time) or a NOT_YET_RECRUITING site with a planned activation date after
  ``as_of`` opens at that date with the prior rate; every other site is left out and listed.
* Dates in the past of ``as_of`` have known outcomes: P(target by a past date) is 0 or 1 and
  the count by a past date is the observed count.
* No date is ever infinite or NaN: beyond ``MAX_FORECAST_DAYS`` a date is ``None`` with a
  reason.

The entry point is :func:`forecast` (the ``forecast`` CLI command and the dashboard call it);
the lower-level functions are public so that tests can check them against closed forms.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from .metrics import MONTH_DAYS, DateLike, to_date
from .registry import Trial

#: Bounds of the gamma shape α: the upper one stops the fit running to infinity when the
#: sites show no over-dispersion (the Poisson limit); the lower one keeps α + k_i > 0 sane.
ALPHA_MIN = 1e-4
ALPHA_MAX = 1e4
#: Bounds of ln β (β is a rate per day, so ln β spans ln α − ln(mean rate per day)).
LOG_BETA_MIN = -40.0
LOG_BETA_MAX = 50.0
DEFAULT_PATHS = 10_000
DEFAULT_SEED = 4789850
#: Probability the "additional sites needed" figure aims for, and how far it searches.
TARGET_PROBABILITY = 0.8
MAX_ADDITIONAL_SITES = 500
#: Chart grid: weekly points up to the later of the 97.5 % date and the planned completion,
#: never more than 5 years after as_of (≤ 262 points).
CHART_STEP_DAYS = 7
CHART_HORIZON_CAP_DAYS = 5 * 365
#: The chart's bands come from at most this many paths (plenty for a chart).
CHART_MAX_PATHS = 4000
#: Beyond this a forecast date is reported as None (no date arithmetic can overflow).
MAX_FORECAST_DAYS = 100 * 365
#: Paths simulated together: keeps the (paths × sites) temporaries a few MB (cache friendly).
CHUNK_PATHS = 256

QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)


# =========================================================================== helpers
def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _float(value: float | np.floating | None) -> float | None:
    """A plain JSON-safe float (None for NaN/inf)."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _days_to_date(as_of: dt.date, days: float) -> dt.date | None:
    """The calendar day of a simulated time ``days`` after the end of ``as_of``."""
    if not math.isfinite(days) or days > MAX_FORECAST_DAYS:
        return None
    return as_of + dt.timedelta(days=max(int(math.ceil(days - 1e-9)), 0))


def _randomization_dates(enrollment: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """Randomization dates ≤ as_of, sorted (whatever the later status, as metrics counts)."""
    dates = pd.to_datetime(enrollment["randomization_date"]).dropna()
    return dates[dates <= pd.Timestamp(as_of)].sort_values(kind="stable").reset_index(drop=True)


def _reached_date(dates: pd.Series, target: int, start: dt.date | None) -> dt.date | None:
    """Date the target-th patient was randomized (target 0: the trial start)."""
    if target <= 0:
        return start
    if len(dates) < target:
        return None
    return dates.iloc[target - 1].date()


# =========================================================================== linear
@dataclass(frozen=True)
class LinearForecast:
    """Result of the weighted linear method; ``reason`` says why there is no date."""

    slope_per_day: float | None
    predicted_target_date: dt.date | None
    reason: str | None
    points: int
    reached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "slope_per_day": _float(self.slope_per_day),
            "slope_per_month": None
            if self.slope_per_day is None
            else _float(self.slope_per_day * MONTH_DAYS),
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
    x = np.array([d.toordinal() for d in per_day.index.date], dtype=float)
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
    dates = dates[dates <= pd.Timestamp(cut)].sort_values(kind="stable").reset_index(drop=True)
    x, y = linear_points(dates, cut)
    total = len(dates)
    slope = weighted_slope(x, y) if len(x) >= 2 else None
    if total >= target:
        reached = _reached_date(dates, target, start)
        reason = None if reached else "target is 0 and the trial start date is unknown"
        return LinearForecast(slope, reached, reason, len(x), reached=True)
    if len(x) < 2:
        why = (
            "no randomization by as_of"
            if total == 0
            else "a single point (one randomization day, as_of on that day): no slope"
        )
        return LinearForecast(None, None, why, len(x))
    if slope is None or slope <= 0:
        return LinearForecast(
            slope,
            None,
            "slope is 0 (one randomization day only): the target is never reached",
            len(x),
        )
    days = (target - total) / slope
    if days > MAX_FORECAST_DAYS:
        return LinearForecast(
            slope, None, f"more than {MAX_FORECAST_DAYS // 365} years away at this pace", len(x)
        )
    predicted = dt.date.fromordinal(int(x[-1])) + dt.timedelta(days=int(math.ceil(days - 1e-9)))
    return LinearForecast(slope, predicted, None, len(x))


# =========================================================================== sites
@dataclass(frozen=True)
class SitePlan:
    """Which sites the Poisson–gamma model uses, and how.

    ``open_*``: RECRUITING sites opened by as_of (they give the data: k_i randomized in τ_i
    days). ``planned_*``: sites that open after as_of (start offset in days after as_of).
    ``left_out``: (site_id, reason) of the others.
    """

    open_ids: list[str]
    k: np.ndarray
    tau: np.ndarray
    planned_ids: list[str]
    planned_dates: list[dt.date]
    planned_offsets: np.ndarray
    left_out: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)


def classify_sites(
    sites: pd.DataFrame, enrollment: pd.DataFrame, as_of: DateLike, trial_start: dt.date
) -> SitePlan:
    """Split the sites into open (with data), planned (open later at the prior) and left out.

    * RECRUITING, opened (activation date, else trial start) on or before as_of: open;
      τ_i = as_of − opened in days, k_i = randomized there by as_of. A site that randomized
      before its recorded activation date is taken as open since its first randomization.
    * RECRUITING with an opening date after as_of: when looking back in time this is a site
      that was not open yet but did open on that date; it opens then, at the prior rate.
    * NOT_YET_RECRUITING with an activation date after as_of: a planned opening, at the prior.
      Without a date, or with a date already past, nobody knows when it opens: left out.
    * Any other status (completed, suspended, withdrawn...): no future recruitment, left out.
      Patients randomized at left-out sites still count in the total.
    """
    cut = to_date(as_of)
    cut_ts = pd.Timestamp(cut)
    rand = pd.to_datetime(enrollment["randomization_date"])
    in_window = enrollment[rand.notna() & (rand <= cut_ts)]
    k_by_site = {str(sid): int(n) for sid, n in in_window.groupby("site_id").size().items()}
    first_by_site = {
        str(sid): pd.Timestamp(first).date()
        for sid, first in pd.to_datetime(in_window["randomization_date"])
        .groupby(in_window["site_id"])
        .min()
        .items()
    }
    open_ids: list[str] = []
    k: list[int] = []
    tau: list[int] = []
    planned_ids: list[str] = []
    planned_dates: list[dt.date] = []
    left_out: list[tuple[str, str]] = []
    notes: list[str] = []
    early: list[str] = []
    for row in sites.itertuples(index=False):
        sid = str(row.site_id)
        act = row.activation_date
        known = not pd.isna(act)
        act_date = pd.Timestamp(act).date() if known else None
        n_here = k_by_site.get(sid, 0)
        if row.status == "RECRUITING":
            opened = act_date if known else trial_start
            if n_here > 0:
                first = first_by_site[sid]
                if first < opened:
                    early.append(sid)
                    opened = first
            if opened <= cut:
                open_ids.append(sid)
                k.append(n_here)
                tau.append((cut - opened).days)
            else:
                planned_ids.append(sid)
                planned_dates.append(opened)
        elif row.status == "NOT_YET_RECRUITING":
            if act_date is not None and act_date > cut:
                planned_ids.append(sid)
                planned_dates.append(act_date)
            elif act_date is None:
                left_out.append((sid, "not yet recruiting, no planned activation date"))
            else:
                left_out.append(
                    (sid, f"not yet recruiting, planned activation {act_date} already past")
                )
        else:
            left_out.append((sid, f"status {row.status}"))
    if early:
        notes.append(
            f"site(s) {', '.join(early)} randomized before their activation date: taken as open "
            "since their first randomization"
        )
    offsets = np.array([(d - cut).days for d in planned_dates], dtype=float)
    return SitePlan(
        open_ids,
        np.array(k, dtype=float),
        np.array(tau, dtype=float),
        planned_ids,
        planned_dates,
        offsets,
        left_out,
        notes,
    )


# =========================================================================== fit
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


# =========================================================================== simulation
@dataclass
class RateDraws:
    """Simulated recruitment rates: one row per path, one column per opening time.

    ``offsets[g]`` is the day (after as_of) at which group g of sites opens (offsets[0] = 0
    always, possibly an empty group); ``group_rates[p, g]`` is the summed rate per day of
    the sites of group g on path p. The cumulative rate is piecewise constant, stepping up
    at each offset, so the cumulative intensity is piecewise linear with knots at the
    offsets; everything below costs O(paths × groups) at most, never groups².
    ``prior_mean[p]`` is α/β on path p (the rate given to hypothetical extra sites).
    """

    offsets: np.ndarray
    group_rates: np.ndarray
    prior_mean: np.ndarray

    @property
    def paths(self) -> int:
        return int(self.group_rates.shape[0])

    @cached_property
    def rate(self) -> np.ndarray:
        """Total rate per day in segment g = [offsets[g], offsets[g+1]), per path."""
        return np.cumsum(self.group_rates, axis=1)

    @cached_property
    def knots(self) -> np.ndarray:
        """∫_0^{offsets[g]} Λ per path (column 0 is 0)."""
        out = np.zeros_like(self.group_rates)
        if out.shape[1] > 1:
            out[:, 1:] = np.cumsum(self.rate[:, :-1] * np.diff(self.offsets), axis=1)
        return out

    def cumulative_intensity(self, days: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """∫_0^t Λ(s) ds for each path (rows) and each t in ``days`` (columns)."""
        t = np.maximum(np.atleast_1d(np.asarray(days, dtype=float)), 0.0)
        seg = np.searchsorted(self.offsets, t, side="right") - 1  # same segment on all paths
        return self.knots[:, seg] + self.rate[:, seg] * (t - self.offsets[seg])

    def invert(self, e: np.ndarray) -> np.ndarray:
        """Times t with ∫_0^t Λ = e, for an array e of shape (p, m) on the first p paths.

        Find each e's segment among the path's knots (one batched searchsorted: row r is
        shifted by r·width so all rows stay sorted in one flat array), then
        t = offset + (e − knot) / rate. inf where the rate stays 0.
        """
        p, m = e.shape
        knots = self.knots[:p]
        groups = knots.shape[1]
        if groups == 1:
            seg = np.zeros(e.shape, dtype=np.intp)
        else:
            width = float(max(knots[:, -1].max(), e.max())) + 1.0
            shift = np.arange(p, dtype=float)[:, None] * width
            found = np.searchsorted((knots + shift).ravel(), (e + shift).ravel(), side="right")
            seg = found.reshape(p, m) - np.arange(p)[:, None] * groups - 1
            np.clip(seg, 0, groups - 1, out=seg)
        rows = np.arange(p)[:, None]
        r = self.rate[:p][rows, seg]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.offsets[seg] + (e - knots[rows, seg]) / r
        t[~(r > 0)] = np.inf
        return t

    def arrival_times(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Time (days after as_of) of the n-th further randomization on each path; inf if never.

        Given the rates the arrivals form a Poisson process, so the n-th arrival time is
        the inverse of the cumulative intensity at E ~ Gamma(n, 1): exact, vectorised.
        """
        if n <= 0:
            return np.zeros(self.paths)
        e = rng.standard_gamma(float(n), size=self.paths)
        return self.invert(e[:, None])[:, 0]

    def further_counts(
        self, step: float, points: int, cap: int, rng: np.random.Generator, max_paths: int
    ) -> np.ndarray:
        """Further randomizations by days 0, step, 2·step, ... on (up to) ``max_paths`` paths.

        On each path the arrivals are a unit-rate Poisson process in the time scale of the
        cumulative intensity: arrival c sits at E_c = sum of c Exp(1) draws, i.e. at time
        ∫Λ⁻¹(E_c). Only the first ``cap`` arrivals are drawn (the count is capped there),
        binned to the grid and accumulated: exact given the rates, coherent along a path,
        and far cheaper than a Poisson draw per grid point (~200 ns each in numpy).
        Returns an int array (paths, points).
        """
        p = min(self.paths, max_paths)
        if cap <= 0 or p == 0:
            return np.zeros((p, points), dtype=np.int64)
        e = np.cumsum(rng.standard_exponential((p, cap)), axis=1)
        t = self.invert(e)
        # Grid point g counts arrivals with t ≤ g·step: bin each arrival at ceil(t / step).
        with np.errstate(invalid="ignore"):
            idx = np.minimum(np.ceil(t / step), points).astype(np.intp)
        flat = (np.arange(p)[:, None] * (points + 1) + idx).ravel()
        hist = np.bincount(flat, minlength=p * (points + 1)).reshape(p, points + 1)
        return np.cumsum(hist[:, :points], axis=1)

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
        return float(np.mean(special.gammainc(n, lam)))


def draw_parameters(
    fit: GammaFit, paths: int, rng: np.random.Generator, parameter_uncertainty: bool = True
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(α, β) for each path: the plug-in estimate, or draws from N((ln α̂, ln β̂), H⁻¹).

    A drawn ln α above the bound is brought back to it and ln β moved by the same amount,
    which keeps the drawn mean rate α/β (the quantity the forecast depends on most).
    Returns (alpha, beta, drawn?).
    """
    la, lb = math.log(fit.alpha), math.log(fit.beta)
    if not parameter_uncertainty or fit.cov is None:
        return np.full(paths, fit.alpha), np.full(paths, fit.beta), False
    chol = np.linalg.cholesky(fit.cov)
    z = rng.standard_normal((paths, 2)) @ chol.T
    u = la + z[:, 0]
    v = lb + z[:, 1]
    lo, hi = math.log(ALPHA_MIN), math.log(ALPHA_MAX)
    shift = np.clip(u, lo, hi) - u
    return np.exp(u + shift), np.exp(v + shift), True


def draw_site_rates(
    alpha: np.ndarray | float,
    beta: np.ndarray | float,
    k: np.ndarray,
    tau: np.ndarray,
    start: np.ndarray,
    paths: int,
    rng: np.random.Generator,
) -> RateDraws:
    """Draw every site's rate from its posterior Gamma(α_p + k_i, β_p + τ_i) on each path p.

    Sites opening later have k = τ = 0 (the prior) and ``start`` > 0 days. ``alpha`` and
    ``beta`` are scalars (plug-in) or one value per path (parameter uncertainty). Paths are
    drawn in chunks of ``CHUNK_PATHS`` so no (paths × sites) array is ever materialised
    whole; within a chunk the gamma variates come from one vectorised call, then are summed
    per opening time (sites sorted by start, summed by slices).
    """
    k = np.asarray(k, dtype=float)
    tau = np.asarray(tau, dtype=float)
    start = np.asarray(start, dtype=float)
    alpha_p = np.broadcast_to(np.asarray(alpha, dtype=float), (paths,))
    beta_p = np.broadcast_to(np.asarray(beta, dtype=float), (paths,))
    varying = np.ndim(alpha) > 0 or np.ndim(beta) > 0
    offsets, group = np.unique(start, return_inverse=True)
    if len(offsets) == 0 or offsets[0] > 0:
        offsets = np.concatenate([[0.0], offsets])
        group = group + 1
    order = np.argsort(group, kind="stable")
    k_s, tau_s, group_s = k[order], tau[order], group[order]
    present, first = np.unique(group_s, return_index=True)
    group_rates = np.zeros((paths, len(offsets)))
    n_sites = len(k_s)
    if n_sites:
        for lo in range(0, paths, CHUNK_PATHS):
            hi = min(lo + CHUNK_PATHS, paths)
            if varying:
                shape = alpha_p[lo:hi, None] + k_s[None, :]
                draws = rng.standard_gamma(shape)
                draws /= beta_p[lo:hi, None] + tau_s[None, :]
            else:
                draws = rng.gamma(
                    alpha_p[0] + k_s, 1.0 / (beta_p[0] + tau_s), size=(hi - lo, n_sites)
                )
            group_rates[lo:hi, present] = np.add.reduceat(draws, first, axis=1)
    return RateDraws(offsets.astype(float), group_rates, np.asarray(alpha_p / beta_p, dtype=float))


def _quantile_days(t: np.ndarray, q: float) -> float:
    """Quantile of simulated times with infinite paths sorting last (inf if they reach it)."""
    return float(np.quantile(t, q, method="inverted_cdf"))


def _count_quantiles(counts: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles (inverted CDF: always an observed count) per column, one sort for all."""
    ordered = np.sort(counts, axis=0)
    m = ordered.shape[0]
    idx = [min(max(int(math.ceil(q * m - 1e-9)) - 1, 0), m - 1) for q in qs]
    return ordered[idx]


# =========================================================================== trial simulator
def simulate_trial(
    n_sites: int,
    alpha: float,
    beta: float,
    activation_days: np.ndarray,
    target: int,
    rng: np.random.Generator,
    start: dt.date = dt.date(2023, 1, 2),
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    """A synthetic trial from a known Poisson–gamma process, for calibration and tests.

    Each site gets a rate λ_i ~ Gamma(α, β) per day and opens ``activation_days[i]`` days
    after ``start`` (whole days); randomizations are the merged Poisson arrivals up to the
    target-th. Returns (sites, enrollment, true date of the target-th randomization).
    """
    lam = rng.gamma(alpha, 1.0 / beta, size=n_sites)
    act = np.round(np.asarray(activation_days, dtype=float))
    horizon = float(act.max()) + 365.0
    while True:
        # Every arrival before ``horizon`` (days after start), site by site.
        n_i = rng.poisson(lam * np.maximum(horizon - act, 0.0))
        site = np.repeat(np.arange(n_sites), n_i)
        times = act[site] + rng.uniform(0.0, 1.0, size=len(site)) * (horizon - act[site])
        if len(times) >= target or horizon > 1e6:
            break
        horizon *= 2
    if len(times) < target:
        raise ValueError("the simulated sites recruit too slowly to ever reach the target")
    order = np.argsort(times, kind="stable")[:target]
    all_t, all_s = times[order], site[order]
    # A time t in (d-1, d] days after start is randomized on day start + ceil(t).
    day = np.ceil(all_t).astype(int)
    width = max(2, len(str(n_sites)))
    ids = [str(i + 1).zfill(width) for i in range(n_sites)]
    sites = pd.DataFrame(
        {
            "site_id": ids,
            "facility": [f"Site {s}" for s in ids],
            "city": "City",
            "country": "France",
            "status": "RECRUITING",
            "activation_date": pd.to_datetime(
                [start + dt.timedelta(days=int(a)) for a in act]
            ).astype("datetime64[ns]"),
            "target": pd.array([pd.NA] * n_sites, dtype="Int64"),
        }
    )
    rand = pd.to_datetime([start + dt.timedelta(days=int(d)) for d in day]).astype("datetime64[ns]")
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{j:04d}" for j in range(len(day))],
            "site_id": [ids[s] for s in all_s],
            "screening_date": rand,
            "randomization_date": rand,
            "status": "RANDOMIZED",
        }
    )
    true_date = start + dt.timedelta(days=int(day[target - 1]))
    return sites, enrollment, true_date


# =========================================================================== forecast
def _by_dates(trial: Trial, by: DateLike | Iterable[DateLike] | None) -> list[dt.date]:
    dates = [trial.planned_completion_date]
    if trial.last_patient_in_date is not None:
        dates.append(trial.last_patient_in_date)
    if by is not None:
        extra = [by] if isinstance(by, dt.date | str | pd.Timestamp) else list(by)
        dates += [to_date(d) for d in extra]
    return sorted(set(dates))


def _empty_pg(reason: str | None) -> dict[str, Any]:
    return {
        "reason": reason,
        "alpha": None,
        "beta": None,
        "alpha_at_bound": None,
        "mean_rate_per_site_per_month": None,
        "parameter_uncertainty": False,
        "paths": 0,
        "seed": None,
        "sites_used": 0,
        "sites_planned": [],
        "median_target_date": None,
        "interval_80": [None, None],
        "interval_95": [None, None],
        "probability_by": {},
        "expected_by": {},
        "additional_sites_needed": None,
        "additional_sites_by": None,
        "additional_sites_reason": None,
        "chart": {"dates": [], "median": [], "lo80": [], "hi80": [], "lo95": [], "hi95": []},
    }


def forecast(
    trial: Trial,
    sites: pd.DataFrame,
    enrollment: pd.DataFrame,
    as_of: DateLike,
    target: int | None = None,
    by: DateLike | Iterable[DateLike] | None = None,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    parameter_uncertainty: bool = True,
) -> dict[str, Any]:
    """Both forecasts as one JSON-ready dict (the ``forecast --json`` object).

    Keys: as_of, target, randomized, remaining, planned_completion_date,
    last_patient_in_date, linear {...}, poisson_gamma {...}, sites_left_out {count,
    site_ids, reasons}, notes [...]. ``poisson_gamma.chart`` holds the weekly median path
    and 80 %/95 % bands of the cumulative randomized count (capped at the target: recruitment
    stops there). Same inputs and seed ⇒ same output; adding a ``by`` date changes nothing
    else (each use of randomness has its own stream).
    """
    cut = to_date(as_of)
    goal = trial.target if target is None else int(target)
    if goal < 0:
        raise ValueError("target must be ≥ 0")
    if paths < 1:
        raise ValueError("paths must be ≥ 1")
    if seed < 0:
        raise ValueError("seed must be ≥ 0")
    dates = _randomization_dates(enrollment, cut)
    total = len(dates)
    remaining = max(goal - total, 0)
    notes: list[str] = []
    if cut < trial.start_date:
        notes.append(f"as_of {cut} is before the trial start {trial.start_date}")
    by_dates = _by_dates(trial, by)
    reached = _reached_date(dates, goal, trial.start_date) if total >= goal else None

    lin = linear_forecast(dates, cut, goal, trial.start_date)
    plan = classify_sites(sites, enrollment, cut, trial.start_date)
    notes += plan.notes
    known = set(sites["site_id"].astype(str))
    rand_sites = enrollment.loc[
        pd.to_datetime(enrollment["randomization_date"]) <= pd.Timestamp(cut), "site_id"
    ].astype(str)
    outside = int((~rand_sites.isin(known)).sum())
    if outside:
        notes.append(
            f"{outside} randomized patient(s) at sites not in sites.csv: counted in the total only"
        )
    left_k = int(rand_sites.isin([sid for sid, _ in plan.left_out]).sum())
    if left_k:
        notes.append(
            f"{left_k} randomized patient(s) at left-out sites: counted in the total, "
            "not in the rate estimates"
        )

    pg = _poisson_gamma(
        trial,
        plan,
        dates,
        cut,
        goal,
        total,
        reached,
        by_dates,
        paths,
        seed,
        parameter_uncertainty,
        notes,
    )
    return {
        "as_of": cut.isoformat(),
        "target": goal,
        "randomized": total,
        "remaining": remaining,
        "target_reached_date": _iso(reached),
        "planned_completion_date": trial.planned_completion_date.isoformat(),
        "last_patient_in_date": _iso(trial.last_patient_in_date),
        "linear": lin.to_json(),
        "poisson_gamma": pg,
        "sites_left_out": {
            "count": len(plan.left_out),
            "site_ids": [sid for sid, _ in plan.left_out],
            "reasons": {sid: why for sid, why in plan.left_out},
        },
        "notes": notes,
    }


def _poisson_gamma(
    trial: Trial,
    plan: SitePlan,
    dates: pd.Series,
    cut: dt.date,
    goal: int,
    total: int,
    reached: dt.date | None,
    by_dates: list[dt.date],
    paths: int,
    seed: int,
    parameter_uncertainty: bool,
    notes: list[str],
) -> dict[str, Any]:
    remaining = max(goal - total, 0)
    streams = {
        name: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        for i, name in enumerate(("params", "rates", "times", "chart"))
    }

    def by_rng(day: dt.date) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(10, day.toordinal())))

    fit: GammaFit | None = None
    reason: str | None = None
    if not plan.open_ids:
        reason = "no site open by as_of: rates cannot be estimated"
    else:
        try:
            fit = fit_gamma_rates(plan.k, plan.tau)
        except ValueError as exc:
            reason = str(exc)
    if fit is None:
        notes.append(f"Poisson–gamma: no forecast ({reason})")
    out = _empty_pg(reason)
    out["sites_used"] = len(plan.open_ids)
    out["sites_planned"] = [
        {"site_id": sid, "activation_date": d.isoformat()}
        for sid, d in zip(plan.planned_ids, plan.planned_dates, strict=True)
    ]

    draws: RateDraws | None = None
    if fit is not None:
        if fit.note:
            notes.append(
                fit.note
                + (
                    ": parameter uncertainty not drawn, plug-in estimates used"
                    if parameter_uncertainty
                    else ""
                )
            )
        alpha_p, beta_p, drawn = draw_parameters(
            fit, paths, streams["params"], parameter_uncertainty
        )
        k_all = np.concatenate([plan.k, np.zeros(len(plan.planned_ids))])
        tau_all = np.concatenate([plan.tau, np.zeros(len(plan.planned_ids))])
        start_all = np.concatenate([np.zeros(len(plan.open_ids)), plan.planned_offsets])
        draws = draw_site_rates(
            alpha_p if drawn else fit.alpha,
            beta_p if drawn else fit.beta,
            k_all,
            tau_all,
            start_all,
            paths,
            streams["rates"],
        )
        out.update(
            {
                "alpha": _float(fit.alpha),
                "beta": _float(fit.beta),
                "alpha_at_bound": fit.at_bound,
                "mean_rate_per_site_per_month": _float(fit.mean_rate * MONTH_DAYS),
                "parameter_uncertainty": drawn,
                "paths": paths,
                "seed": seed,
            }
        )

    # --- target date distribution
    t_days: np.ndarray | None = None
    if reached is not None or goal <= total:
        d = reached
        out["median_target_date"] = _iso(d)
        out["interval_80"] = [_iso(d), _iso(d)]
        out["interval_95"] = [_iso(d), _iso(d)]
    elif draws is not None:
        t_days = draws.arrival_times(remaining, streams["times"])
        q = {p: _quantile_days(t_days, p) for p in QUANTILES}
        as_dates = {p: _days_to_date(cut, q[p]) for p in QUANTILES}
        out["median_target_date"] = _iso(as_dates[0.5])
        out["interval_80"] = [_iso(as_dates[0.1]), _iso(as_dates[0.9])]
        out["interval_95"] = [_iso(as_dates[0.025]), _iso(as_dates[0.975])]
        if any(v is None for v in as_dates.values()):
            notes.append(
                f"some forecast dates are more than {MAX_FORECAST_DAYS // 365} years away "
                "(or never reached): shown as null"
            )

    # --- probability and expected count by dates
    for day in by_dates:
        key = day.isoformat()
        days = (day - cut).days
        if days <= 0:
            observed = int((dates <= pd.Timestamp(day)).sum())
            out["probability_by"][key] = 1.0 if observed >= goal else 0.0
            out["expected_by"][key] = {"mean": float(observed), "lo80": observed, "hi80": observed}
            continue
        if total >= goal:
            out["probability_by"][key] = 1.0
        elif draws is not None:
            out["probability_by"][key] = draws.probability_by(remaining, days)
        else:
            out["probability_by"][key] = None
        if draws is None:
            out["expected_by"][key] = None
            continue
        lam = draws.cumulative_intensity(days)[:, 0]
        counts = total + by_rng(day).poisson(lam)
        lo, hi = _count_quantiles(counts, (0.1, 0.9))
        out["expected_by"][key] = {
            "mean": float(total + lam.mean()),
            "lo80": int(lo),
            "hi80": int(hi),
        }

    # --- additional sites for P ≥ TARGET_PROBABILITY by the planned completion
    plan_day = trial.planned_completion_date
    out["additional_sites_by"] = plan_day.isoformat()
    plan_days = (plan_day - cut).days
    if total >= goal:
        out["additional_sites_needed"] = 0
        out["additional_sites_reason"] = "target already reached"
    elif plan_days <= 0:
        out["additional_sites_reason"] = f"planned completion {plan_day} already past"
    elif draws is None:
        out["additional_sites_reason"] = reason
    else:
        m, why = _additional_sites(draws, remaining, plan_days)
        out["additional_sites_needed"] = m
        out["additional_sites_reason"] = why

    # --- chart
    out["chart"] = _chart(trial, draws, t_days, cut, total, goal, streams["chart"])
    return out


def _additional_sites(draws: RateDraws, n: int, days: float) -> tuple[int | None, str | None]:
    """Smallest m in 0..MAX_ADDITIONAL_SITES with P(target by date | m sites now) ≥ 0.8.

    Every path is reused for every m (common random numbers), so P is monotone in m and a
    bisection finds the same m as scanning 0, 1, 2, ...
    """
    if draws.probability_by(n, days, 0) >= TARGET_PROBABILITY:
        return 0, "already on track"
    if draws.probability_by(n, days, MAX_ADDITIONAL_SITES) < TARGET_PROBABILITY:
        return None, (
            f"more than {MAX_ADDITIONAL_SITES} sites at the mean rate would be needed "
            f"for P ≥ {TARGET_PROBABILITY:.0%}"
        )
    lo, hi = 0, MAX_ADDITIONAL_SITES  # P(lo) < goal ≤ P(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if draws.probability_by(n, days, mid) >= TARGET_PROBABILITY:
            hi = mid
        else:
            lo = mid
    return hi, f"sites opening now at the prior mean rate, for P ≥ {TARGET_PROBABILITY:.0%}"


def _chart(
    trial: Trial,
    draws: RateDraws | None,
    t_days: np.ndarray | None,
    cut: dt.date,
    total: int,
    goal: int,
    rng: np.random.Generator,
) -> dict[str, list[Any]]:
    """Weekly median and 80 %/95 % bands of the cumulative randomized count from as_of.

    The horizon is the later of the 97.5 % date and the planned completion, capped at
    5 years; counts are capped at the target since recruitment stops there. Drawn from the
    first ``CHART_MAX_PATHS`` paths (plenty for a chart, and cheap).
    """
    if draws is None or total >= goal:
        return {
            "dates": [cut.isoformat()],
            "median": [total],
            "lo80": [total],
            "hi80": [total],
            "lo95": [total],
            "hi95": [total],
        }
    end = max((trial.planned_completion_date - cut).days, 0)
    if t_days is not None:
        q975 = _quantile_days(t_days, 0.975)
        # An infinite 97.5 % date (paths that never get there): chart the longest horizon.
        end = max(end, int(math.ceil(q975))) if math.isfinite(q975) else CHART_HORIZON_CAP_DAYS
    end = min(max(end, CHART_STEP_DAYS), CHART_HORIZON_CAP_DAYS)
    grid = np.arange(0, end + CHART_STEP_DAYS, CHART_STEP_DAYS, dtype=float)
    cap = goal - total
    if cap <= len(grid):
        # Few patients to go: draw each path's arrivals (exact, coherent along the path).
        further = draws.further_counts(CHART_STEP_DAYS, len(grid), cap, rng, CHART_MAX_PATHS)
    else:
        # Many to go: one Poisson count per grid point is cheaper than every arrival.
        lam = draws.cumulative_intensity(grid)[:CHART_MAX_PATHS]
        further = np.minimum(rng.poisson(lam), cap)
    counts = total + further
    qs = _count_quantiles(counts, (0.5, 0.1, 0.9, 0.025, 0.975))
    return {
        "dates": [(cut + dt.timedelta(days=int(d))).isoformat() for d in grid],
        "median": [int(v) for v in qs[0]],
        "lo80": [int(v) for v in qs[1]],
        "hi80": [int(v) for v in qs[2]],
        "lo95": [int(v) for v in qs[3]],
        "hi95": [int(v) for v in qs[4]],
    }


# =========================================================================== text
def _pct(p: float | None) -> str:
    return "—" if p is None else f"{100 * p:.1f} %"


def format_forecast(result: dict[str, Any], synthetic: bool = False) -> str:
    """A few readable lines of the ``forecast --json`` object; says SYNTHETIC when it is."""
    lines = []
    if synthetic:
        lines.append("*** SYNTHETIC DEMO DATA — not trial results ***")
    goal = result["target"]
    lines.append(
        f"As of {result['as_of']}: randomized {result['randomized']} / {goal} "
        f"({result['remaining']} to go); planned completion {result['planned_completion_date']}"
        + (
            f", last patient in {result['last_patient_in_date']}"
            if result.get("last_patient_in_date")
            else ""
        )
    )
    lin = result["linear"]
    if lin["predicted_target_date"]:
        slope = lin["slope_per_month"]
        lines.append(
            f"Linear (accrualPlot): {goal} reached {lin['predicted_target_date']}"
            + (f" at {slope:.2f}/month" if slope is not None else "")
        )
    else:
        lines.append(f"Linear (accrualPlot): no date ({lin['reason']})")
    pg = result["poisson_gamma"]
    if pg["alpha"] is None and pg["median_target_date"] is None:
        lines.append(f"Poisson–gamma: no forecast ({pg['reason']})")
    else:
        if pg["alpha"] is not None:
            lines.append(
                f"Poisson–gamma: {pg['sites_used']} open + {len(pg['sites_planned'])} planned sites, "
                f"α={pg['alpha']:.3g}, β={pg['beta']:.3g}/day "
                f"({pg['mean_rate_per_site_per_month']:.3f}/site/month), parameter uncertainty "
                f"{'on' if pg['parameter_uncertainty'] else 'off'}, {pg['paths']} paths"
            )
        i80, i95 = pg["interval_80"], pg["interval_95"]
        lines.append(
            f"  {goal} reached: median {pg['median_target_date'] or '—'}; "
            f"80 % {i80[0] or '—'} – {i80[1] or '—'}; 95 % {i95[0] or '—'} – {i95[1] or '—'}"
        )
        for day, p in pg["probability_by"].items():
            exp = pg["expected_by"].get(day)
            extra = (
                f"; expected {exp['mean']:.1f} (80 % {exp['lo80']}–{exp['hi80']})" if exp else ""
            )
            lines.append(f"  P({goal} by {day}) = {_pct(p)}{extra}")
        m = pg["additional_sites_needed"]
        lines.append(
            f"  Additional sites for P ≥ {TARGET_PROBABILITY:.0%} by {pg['additional_sites_by']}: "
            + (f"{m}" if m is not None else "—")
            + (f" ({pg['additional_sites_reason']})" if pg["additional_sites_reason"] else "")
        )
    left = result["sites_left_out"]
    if left["count"]:
        lines.append(f"Sites left out ({left['count']}): {', '.join(left['site_ids'])}")
    for note in result["notes"]:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


__all__ = [
    "GammaFit",
    "LinearForecast",
    "RateDraws",
    "SitePlan",
    "classify_sites",
    "covariance_from_hessian",
    "draw_parameters",
    "draw_site_rates",
    "fit_gamma_rates",
    "forecast",
    "format_forecast",
    "linear_forecast",
    "linear_points",
    "negbin_hessian",
    "negbin_log_likelihood",
    "simulate_trial",
    "weighted_slope",
]
