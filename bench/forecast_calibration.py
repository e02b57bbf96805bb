"""Calibration of the recruitment forecasts on trials simulated from known processes.

Why: an 80 % interval is only useful if it holds the true date about 80 % of the time, and
not only in the world the model was written for. Each simulated trial has 43 sites with
staggered activations (days ~ Gamma(1.6, scale 110), as the demo data; activation dates known,
as typed into sites.csv), target 74, planned completion 1,500 days after the start (the plan
prior's rate). Worlds:

* ``spread``: rates λ_i ~ Gamma(1.5, 600) (mean 1/400 per site per day); ``identical``:
  every site at 1/400 per day;
* from a ``quarter`` (the 18th randomization) or ``half`` (the 37th) of the target;
* ``falling``: every site's rate falls 30 % a year from its opening;
* ``closures``: each site stops without notice after Exp(mean 1,000 days) (status unchanged);
* ``openings``: half the sites open 1–2 years after the start (known future dates).

Per world: coverage of the Poisson–gamma 80 % / 95 % intervals (an interval whose upper end
is "never / beyond the horizon" covers a trial that never gets there, and any date above its
lower end), median absolute error in days of its median and of the linear (accrualPlot)
date, and the share of trials with no linear date.

Run by hand:  python bench/forecast_calibration.py [--trials 200] [--paths 2000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

# One BLAS thread per worker process: the work is many small forecasts, run in parallel.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from dashboard.forecast import forecast  # noqa: E402
from dashboard.registry import Trial  # noqa: E402
from tests.simulate import simulate_trial  # noqa: E402

N_SITES = 43
ALPHA = 1.5
BETA = 600.0  # mean rate 1/400 per site per day (~0.076 per month)
TARGET = 74
START = dt.date(2023, 1, 2)
PLAN_DAYS = 1500

#: name → (alpha, forecast from the n-th randomization, decline/year, closures, openings)
WORLDS: dict[str, tuple[float, int, float, bool, bool]] = {
    "spread, quarter": (ALPHA, TARGET // 4, 0.0, False, False),
    "identical, quarter": (1e7, TARGET // 4, 0.0, False, False),
    "spread, half": (ALPHA, TARGET // 2, 0.0, False, False),
    "identical, half": (1e7, TARGET // 2, 0.0, False, False),
    "falling 30 %/y, half": (ALPHA, TARGET // 2, 0.3, False, False),
    "falling 30 %/y, quarter": (ALPHA, TARGET // 4, 0.3, False, False),
    "closures, half": (ALPHA, TARGET // 2, 0.0, True, False),
    "openings, quarter": (ALPHA, TARGET // 4, 0.0, False, True),
}


def one_trial(world: str, seed: int, paths: int) -> dict[str, object]:
    """Simulate one trial of a world, forecast from its as-of; return hits and errors."""
    alpha, nth, decline, closures, openings = WORLDS[world]
    rng = np.random.default_rng(seed)
    activation = np.minimum(np.round(rng.gamma(1.6, 110.0, size=N_SITES)), 700)
    if openings:
        later = np.arange(N_SITES) % 2 == 1
        activation[later] = np.round(365 + rng.uniform(0, 365, size=later.sum()))
    closure = rng.exponential(1000.0, size=N_SITES) if closures else None
    sites, enrollment, true_date = simulate_trial(
        N_SITES,
        alpha,
        alpha * 400.0,
        activation,
        TARGET,
        rng,
        START,
        decline,
        closure,
        allow_never=True,
    )
    if len(enrollment) < nth:  # never got as far as the forecast point: not a forecast
        return {"world": world, "skipped": True}
    as_of = enrollment["randomization_date"].iloc[nth - 1].date()
    trial = Trial(
        nct_id="SIM",
        title="simulated",
        acronym=None,
        sponsor="",
        target=TARGET,
        start_date=START,
        planned_completion_date=START + dt.timedelta(days=PLAN_DAYS),
        last_updated=None,
        overall_status=None,
        treatment_days=360,
    )
    res = forecast(trial, sites, enrollment, as_of, paths=paths, seed=seed).to_json()
    pg = res["poisson_gamma"]
    out: dict[str, object] = {"world": world, "never": true_date is None, "skipped": False}
    for name in ("interval_80", "interval_95"):
        lo, hi = pg[name]
        lo_ok = lo is not None and (true_date is None or dt.date.fromisoformat(lo) <= true_date)
        hi_ok = hi is None or (true_date is not None and true_date <= dt.date.fromisoformat(hi))
        out[name] = lo_ok and hi_ok
    med = pg["median_target_date"]
    lin = res["linear"]["predicted_target_date"]
    out["pg_error"] = (
        None
        if med is None or true_date is None
        else abs((dt.date.fromisoformat(med) - true_date).days)
    )
    out["linear_error"] = (
        None
        if lin is None or true_date is None
        else abs((dt.date.fromisoformat(lin) - true_date).days)
    )
    out["linear_none"] = lin is None
    out["slowing"] = (pg.get("trend") or {}).get("change_per_year")
    return out


def _run(args: tuple[str, int, int]) -> dict[str, object]:
    return one_trial(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per world")
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS))
    args = parser.parse_args()
    t0 = time.perf_counter()
    tasks = [
        (world, args.seed * 1_000_000 + w * 10_000 + i, args.paths)
        for w, world in enumerate(args.worlds)
        for i in range(args.trials)
    ]
    with mp.Pool(args.jobs) as pool:
        rows = pool.map(_run, tasks, chunksize=5)
    elapsed = time.perf_counter() - t0
    n = args.trials
    print(
        f"{n} simulated trials per world: {N_SITES} sites, target {TARGET}, "
        f"{args.paths} paths each, seed {args.seed}"
    )
    print(
        f"(binomial SE of a coverage: ±{(0.16 / n) ** 0.5:.3f} at 80 %, ±{(0.0475 / n) ** 0.5:.3f} at 95 %)"
    )
    print()
    head = f"{'world':<26}{'80 % cov':>9}{'95 % cov':>9}{'PG |err| d':>11}{'linear |err| d':>15}{'no linear':>10}{'never':>7}{'trend/y':>9}{'n':>5}"
    print(head)
    for world in args.worlds:
        group = [r for r in rows if r["world"] == world and not r["skipped"]]

        def med(key: str, group: list = group) -> str:
            vals = [r[key] for r in group if r[key] is not None]
            return f"{np.median(vals):.0f}" if vals else "—"

        cov80 = np.mean([bool(r["interval_80"]) for r in group])
        cov95 = np.mean([bool(r["interval_95"]) for r in group])
        none = np.mean([bool(r["linear_none"]) for r in group])
        never = np.mean([bool(r["never"]) for r in group])
        trend = np.median([r["slowing"] for r in group if r["slowing"] is not None])
        print(
            f"{world:<26}{cov80:>9.3f}{cov95:>9.3f}{med('pg_error'):>11}{med('linear_error'):>15}"
            f"{none:>10.2f}{never:>7.2f}{100 * trend:>8.0f}%{len(group):>5}"
        )
    print(f"\ntook {elapsed:.1f} s with {args.jobs} process(es)")


if __name__ == "__main__":
    main()
