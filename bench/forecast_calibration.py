"""Calibration of the recruitment forecasts on trials simulated from a known process.

Why: an 80 % interval is only useful if it holds the true date about 80 % of the time.
Each simulated trial has 43 sites with rates λ_i ~ Gamma(α, β) and staggered activations
(days ~ Gamma(1.6, scale 110), as the demo data), target 74. The forecast is made from the
day the 37th patient is randomized (half-way) and compared with the true date of the 74th.
Prints the coverage of the 80 % and 95 % intervals of the Poisson–gamma forecast, plug-in
and with parameter uncertainty, and the median absolute error (days) of the linear date and
of the Poisson–gamma median.

Run by hand:  python bench/forecast_calibration.py [--trials 1000] [--paths 2000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import time

# One BLAS thread per worker process: the work is many small forecasts, run in parallel.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from dashboard.forecast import forecast  # noqa: E402
from dashboard.registry import Trial  # noqa: E402
from tests.simulate import simulate_trial  # noqa: E402

N_SITES = 43
ALPHA = 1.5
BETA = 600.0  # mean rate 1/400 per site per day (~0.076 per month)
TARGET = 74
START = dt.date(2023, 1, 2)


def one_trial(seed: int, paths: int = 2000) -> dict[str, float | bool | None]:
    """Simulate one trial, forecast from half-way both ways; return hits and errors."""
    rng = np.random.default_rng(seed)
    activation = np.minimum(np.round(rng.gamma(1.6, 110.0, size=N_SITES)), 700)
    sites, enrollment, true_date = simulate_trial(
        N_SITES, ALPHA, BETA, activation, TARGET, rng, START
    )
    as_of = enrollment["randomization_date"].iloc[TARGET // 2 - 1].date()
    trial = Trial(
        nct_id="SIM",
        title="simulated",
        acronym=None,
        sponsor="",
        target=TARGET,
        start_date=START,
        planned_completion_date=START + dt.timedelta(days=1500),
        last_updated=None,
        overall_status=None,
    )
    out: dict[str, float | bool | None] = {}
    for label, pu in (("plugin", False), ("pu", True)):
        res = forecast(
            trial, sites, enrollment, as_of, paths=paths, seed=seed, parameter_uncertainty=pu
        )
        pg = res["poisson_gamma"]
        for name in ("interval_80", "interval_95"):
            lo, hi = pg[name]
            out[f"{label}_{name}"] = (
                lo is not None
                and hi is not None
                and dt.date.fromisoformat(lo) <= true_date <= dt.date.fromisoformat(hi)
            )
        med = pg["median_target_date"]
        out[f"{label}_median_error"] = (
            None if med is None else abs((dt.date.fromisoformat(med) - true_date).days)
        )
        out[f"{label}_drawn"] = pg["parameter_uncertainty"]
        out[f"{label}_at_bound"] = pg["alpha_at_bound"]
    lin = res["linear"]["predicted_target_date"]
    out["linear_error"] = (
        None if lin is None else abs((dt.date.fromisoformat(lin) - true_date).days)
    )
    return out


def _run(args: tuple[int, int]) -> dict[str, float | bool | None]:
    return one_trial(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    tasks = [(args.seed * 1_000_000 + i, args.paths) for i in range(args.trials)]
    with mp.Pool(args.jobs) as pool:
        rows = pool.map(_run, tasks, chunksize=10)
    elapsed = time.perf_counter() - t0
    n = len(rows)

    def share(key: str) -> float:
        return float(np.mean([bool(r[key]) for r in rows]))

    def med(key: str) -> str:
        vals = [r[key] for r in rows if r[key] is not None]
        return f"{np.median(vals):.0f}" if vals else "—"

    se80 = (0.8 * 0.2 / n) ** 0.5
    se95 = (0.95 * 0.05 / n) ** 0.5
    print(
        f"{n} simulated trials: {N_SITES} sites, α={ALPHA}, β={BETA}, target {TARGET}, "
        f"forecast from the {TARGET // 2}th randomization, {args.paths} paths each"
    )
    print(f"(binomial SE of a coverage: ±{se80:.3f} at 80 %, ±{se95:.3f} at 95 %)")
    print()
    print(f"{'Poisson–gamma':<28}{'80 % coverage':>14}{'95 % coverage':>15}{'median |err| d':>16}")
    for label, name in (("plugin", "plug-in (α, β fixed)"), ("pu", "with parameter uncertainty")):
        print(
            f"{name:<28}{share(label + '_interval_80'):>14.3f}{share(label + '_interval_95'):>15.3f}"
            f"{med(label + '_median_error'):>16}"
        )
    print(f"{'linear (accrualPlot)':<28}{'—':>14}{'—':>15}{med('linear_error'):>16}")
    print()
    print(
        f"α at its bound (no over-dispersion seen) in {share('pu_at_bound'):.1%} of trials; "
        f"parameters drawn in {share('pu_drawn'):.1%}"
    )
    drawn = [r for r in rows if r["pu_drawn"]]
    fallback = [r for r in rows if not r["pu_drawn"]]
    for name, group in (("parameters drawn", drawn), ("plug-in fallback", fallback)):
        if group:
            cov80 = np.mean([bool(r["pu_interval_80"]) for r in group])
            cov95 = np.mean([bool(r["pu_interval_95"]) for r in group])
            print(
                f"  {name:<18} {len(group):>5} trials: 80 % coverage {cov80:.3f}, 95 % {cov95:.3f}"
            )
    print(f"took {elapsed:.1f} s with {args.jobs} process(es)")


if __name__ == "__main__":
    main()
