"""A synthetic trial from a known recruitment process, for tests and the calibration bench."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def simulate_trial(
    n_sites: int,
    alpha: float,
    beta: float,
    activation_days: np.ndarray,
    target: int,
    rng: np.random.Generator,
    start: dt.date = dt.date(2023, 1, 2),
    decline_per_year: float = 0.0,
    closure_after: np.ndarray | None = None,
    allow_never: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date | None]:
    """A synthetic trial from a known Poisson–gamma process, for calibration and tests.

    Each site gets a rate λ_i ~ Gamma(α, β) per day and opens ``activation_days[i]`` days
    after ``start`` (whole days); randomizations are the merged Poisson arrivals up to the
    target-th. Returns (sites, enrollment, true date of the target-th randomization).

    ``decline_per_year`` d: a site's rate is λ_i·(1 − d)^{years since it opened} (thinning
    of the constant-rate arrivals). ``closure_after[i]``: days after opening at which site i
    stops recruiting without notice (its status stays RECRUITING; inf: never). With
    ``allow_never`` a trial that never reaches the target returns every randomization and a
    true date of None.
    """
    lam = rng.gamma(alpha, 1.0 / beta, size=n_sites)
    act = np.round(np.asarray(activation_days, dtype=float))
    horizon = float(act.max()) + 365.0
    while True:
        # Every arrival before ``horizon`` (days after start), site by site.
        n_i = rng.poisson(lam * np.maximum(horizon - act, 0.0))
        site = np.repeat(np.arange(n_sites), n_i)
        times = act[site] + rng.uniform(0.0, 1.0, size=len(site)) * (horizon - act[site])
        since = times - act[site]
        keep = np.ones(len(times), dtype=bool)
        if decline_per_year > 0:
            gamma = -np.log1p(-decline_per_year) / 365.25
            keep &= rng.uniform(size=len(times)) < np.exp(-gamma * since)
        if closure_after is not None:
            keep &= since < np.asarray(closure_after, dtype=float)[site]
        times, site = times[keep], site[keep]
        if len(times) >= target or horizon > 1e5:
            break
        horizon *= 2
    never = len(times) < target
    if never and not allow_never:
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
    true_date = None if never else start + dt.timedelta(days=int(day[target - 1]))
    return sites, enrollment, true_date
