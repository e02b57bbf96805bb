"""How many more sites would bring the target in by a deadline: a decision table.

Why: a sponsor deciding whether to open sites needs the answer under the conditions a new
site really meets: it opens after an activation lag, ramps up, recruits at a rate nobody
knows in advance, and slows down like the others. For each lag L and number k of extra
sites, P(target by the deadline) is the mean over the simulated paths of
P(Poisson(Λ_p + G_{k,p}·c_p) ≥ n): Λ_p the path's intensity of the existing sites by the
deadline, G_{k,p} ~ Gamma(k·α_p, β_p) the summed rates of k new sites drawn from the path's
fitted law, c_p = ∫_0^{D−L} ramp(s)·e^{−γ_p s} ds their exposure (linear ramp-up over
``ramp_days``, then the path's trend). G_{k,p} is increasing in k path by path (gamma
increments and bridges, :class:`NewSiteRates`), so P is monotone in k and the smallest k
for 80 % is found by bisection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .common import MAX_ADDITIONAL_SITES, TARGET_PROBABILITY
from .result import SitesNeeded, SitesNeededDeadline, SitesNeededRow
from .simulation import RateDraws, poisson_tail

DEFAULT_LAGS_DAYS = (0, 90, 180)
DEFAULT_RAMP_DAYS = 60
TABLE_K = (0, 1, 2, 5, 10, 20, 50, 100, 200)
#: The table is computed from at most this many paths (enough for two decimals).
TABLE_MAX_PATHS = 2500


@dataclass(frozen=True)
class Deadline:
    name: str
    day: dt.date


def ramp_exposure(gamma: np.ndarray, days: float, ramp: float) -> np.ndarray:
    """∫_0^days min(s/ramp, 1)·e^{−γs} ds per path, in closed form (0 when days ≤ 0).

    Up to a = min(days, ramp): ∫_0^a (s/ramp)·e^{−γs} ds = (1 − e^{−γa}(1 + γa))/(γ²·ramp)
    (a²/(2·ramp) at γ = 0); then ∫_a^days e^{−γs} ds = e^{−γa}·(1 − e^{−γ(days − a)})/γ.
    Computed once per distinct γ (13 on the trend grid), gathered per path.
    """
    values, index = np.unique(np.asarray(gamma, float), return_inverse=True)
    return _ramp_per_path(values, np.ravel(index), days, ramp)


def _ramp_per_path(values: np.ndarray, index: np.ndarray, days: float, ramp: float) -> np.ndarray:
    """:func:`ramp_exposure` from the paths' distinct γ (``values``) and each path's
    position in them (``index``): the table finds those once for all its rows."""
    if days <= 0 or len(index) == 0:
        return np.zeros(len(index))
    return _ramp_by_value(values, days, ramp)[index]


def _ramp_by_value(values: np.ndarray, days: float, ramp: float) -> np.ndarray:
    """:func:`ramp_exposure` for each distinct γ in ``values`` (days > 0)."""
    a = min(days, ramp) if ramp > 0 else 0.0
    small = np.abs(values) < 1e-12
    safe = np.where(small, 1.0, values)
    x = safe * a
    if ramp > 0:
        rising = np.where(
            small, a * a / (2 * ramp), -(np.expm1(-x) + x * np.exp(-x)) / (safe**2 * ramp)
        )
    else:
        rising = np.zeros(len(values))
    flat = np.where(small, days - a, np.exp(-x) * -np.expm1(-safe * (days - a)) / safe)
    return rising + flat


class NewSiteRates:
    """Summed rates G_k of k new sites on each path, for whichever k are asked, coherent in k.

    G_k ~ Gamma(k·α_p, β_p) on path p, and G is increasing in k path by path (so P(target)
    is monotone in k and the bisection is sound): going up, G_k = G_j + Gamma((k − j)α_p)/β_p
    (independent increments); between two known j < k < l, the gamma bridge
    G_k = G_j + (G_l − G_j)·Beta((k − j)α_p, (l − k)α_p) (a Gamma split by a Beta is two
    independent Gammas). Exact in law, a few variates per path per k instead of a Gamma
    quantile (~0.5 µs each).
    """

    def __init__(self, alpha: np.ndarray, beta: np.ndarray, rng: np.random.Generator) -> None:
        self.a, self.b, self.rng = alpha, beta, rng
        self.known: dict[int, np.ndarray] = {0: np.zeros(len(alpha))}

    def __call__(self, k: int) -> np.ndarray:
        if k in self.known:
            return self.known[k]
        below = max(j for j in self.known if j < k)
        above = [j for j in self.known if j > k]
        if not above:
            step = self.rng.standard_gamma((k - below) * self.a) / self.b
            value = self.known[below] + step
        else:
            top = min(above)
            w = self.rng.beta((k - below) * self.a, (top - k) * self.a)
            value = self.known[below] + (self.known[top] - self.known[below]) * w
        self.known[k] = value
        return value


def smallest_k(exact: dict[int, float], prob: Callable[[int], float]) -> int | None:
    """The fewest extra sites with P(target) ≥ TARGET_PROBABILITY (None: more than
    MAX_ADDITIONAL_SITES). ``exact``: P for every k of TABLE_K; ``prob``: P for any k.
    P is monotone in k: bracket from the table's own columns, then bisect."""
    above = [k for k in TABLE_K if exact[k] >= TARGET_PROBABILITY]
    if above and above[0] == 0:
        return 0
    if not above and prob(MAX_ADDITIONAL_SITES) < TARGET_PROBABILITY:
        return None
    hi = above[0] if above else MAX_ADDITIONAL_SITES
    lo = max(k for k in TABLE_K if k < hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if prob(mid) >= TARGET_PROBABILITY:
            hi = mid
        else:
            lo = mid
    return hi


def sites_needed_table(
    draws: RateDraws,
    alpha: np.ndarray,
    beta: np.ndarray,
    remaining: int,
    as_of: dt.date,
    deadlines: list[Deadline],
    lags: tuple[int, ...] = DEFAULT_LAGS_DAYS,
    ramp_days: int = DEFAULT_RAMP_DAYS,
    rng: np.random.Generator | None = None,
    max_paths: int | None = None,
) -> SitesNeeded:
    """The decision table: per deadline, per lag, P(target by deadline) for TABLE_K,
    from the first TABLE_MAX_PATHS paths (or ``max_paths``, when fewer)."""
    p = min(draws.paths, TABLE_MAX_PATHS, max_paths or TABLE_MAX_PATHS)
    rng = rng or np.random.default_rng(0)
    # The paths' distinct γ, found once: every row's exposure is computed per γ value.
    gamma_values, gamma_index = np.unique(draws.trend[:p, 0], return_inverse=True)
    gamma_index = np.ravel(gamma_index)
    a, b = np.asarray(alpha)[:p], np.asarray(beta)[:p]
    tables: list[SitesNeededDeadline] = []
    # The summed rates of k new sites depend on k only (not on the lag or the deadline):
    # drawn once per k (the table's columns first, in order), shared by every row.
    extra = NewSiteRates(a, b, rng)
    for k in TABLE_K:
        extra(k)
    tail = poisson_tail(remaining) if remaining > 0 else None

    for deadline in deadlines:
        days = (deadline.day - as_of).days
        rows: list[SitesNeededRow] = []
        if days <= 0:
            tables.append(
                SitesNeededDeadline(
                    deadline.name, deadline.day, f"{deadline.name} {deadline.day} already past", ()
                )
            )
            continue
        base = draws.cumulative_intensity(days)[:p, 0]
        for lag in lags:
            expo = _ramp_per_path(gamma_values, gamma_index, days - lag, ramp_days)

            def prob(k: int, base: np.ndarray = base, expo: np.ndarray = expo) -> float:
                if remaining <= 0:
                    return 1.0
                assert tail is not None
                return float(np.mean(tail(base + extra(k) * expo)))

            if tail is None:
                exact = {k: 1.0 for k in TABLE_K}
            else:
                # The table's columns in one call: (k, path) rows, one mean per row.
                lam = base[None, :] + np.stack([extra(k) for k in TABLE_K]) * expo[None, :]
                means = tail(lam).mean(axis=1)
                exact = {k: float(m) for k, m in zip(TABLE_K, means, strict=True)}
            probs = {str(k): round(p_k, 4) for k, p_k in exact.items()}
            smallest = smallest_k(exact, prob)
            rows.append(SitesNeededRow(int(lag), probs, smallest))
        tables.append(SitesNeededDeadline(deadline.name, deadline.day, None, tuple(rows)))
    return SitesNeeded(
        target_probability=TARGET_PROBABILITY,
        k_values=tuple(TABLE_K),
        lags_days=tuple(int(x) for x in lags),
        ramp_up_days=int(ramp_days),
        max_k=MAX_ADDITIONAL_SITES,
        new_site_rates="drawn from the fitted Gamma(α, β) law of each path, with its trend",
        paths=p,
        deadlines=tuple(tables),
    )
