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
