"""Cost of the Poisson–gamma forecast at portfolio scale, against its irreducible core.

Why: the forecast runs on every dashboard load of a new data version; at 2,000 sites and
10,000 paths its cost must stay within 2× of simply drawing the gamma variates it needs
(10,000 × 2,000 site rates, summed, plus 10,000 Gamma(n, Λ) totals). Everything else —
fitting (α, β), parameter draws, opening steps, quantiles, P(by date), the extra-sites
search, the chart bands, the pandas bookkeeping — has to fit in the other 1×.

The page's forecast (``--page DATA_DIR``): what a user stepping to an as-of date never
asked before waits for (:func:`dashboard.page.view_model.run_forecast`: sized to its median's
Monte Carlo error, inputs prepared once per data version), at 8 dates start + 60 + 29·i
days, interleaved with the same floor (10,000 paths × the sites' gamma variates, summed,
plus the 10,000 totals). Goals: ≤ 10 ms at 46 sites (data/), ≤ 80 ms at 2,000 sites
(/tmp/large/data from bench/make_large.py).

Run by hand:  python bench/bench_forecast.py [--sites 2000] [--paths 10000] [--repeat 5]
              python bench/bench_forecast.py --page data [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import numpy as np
import pandas as pd

from dashboard.forecast import classify_sites, fit_gamma_rates, forecast
from dashboard.registry import Trial

START = dt.date(2022, 1, 3)
AS_OF = dt.date(2025, 11, 20)


def make_trial(n_sites: int, seed: int = 1) -> tuple[Trial, pd.DataFrame, pd.DataFrame]:
    """2,000 sites: 90 % open at staggered dates, 10 % opening on ~50 later dates."""
    rng = np.random.default_rng(seed)
    span = (AS_OF - START).days
    n_later = n_sites // 10
    open_days = rng.integers(0, span - 30, size=n_sites - n_later)
    later_days = span + 7 * rng.integers(1, 52, size=n_later)
    act_days = np.concatenate([open_days, later_days])
    ids = [f"{i + 1:04d}" for i in range(n_sites)]
    status = ["RECRUITING"] * (n_sites - n_later) + ["NOT_YET_RECRUITING"] * n_later
    sites = pd.DataFrame(
        {
            "site_id": ids,
            "facility": [f"Centre {i}" for i in ids],
            "city": "Ville",
            "country": "France",
            "status": status,
            "activation_date": pd.to_datetime(
                [START + dt.timedelta(days=int(d)) for d in act_days]
            ).astype("datetime64[ns]"),
            "target": pd.array([pd.NA] * n_sites, dtype="Int64"),
        }
    )
    lam = rng.gamma(1.5, 1 / 600.0, size=n_sites)
    rows_site, rows_day = [], []
    for i in range(n_sites - n_later):
        n = rng.poisson(lam[i] * (span - act_days[i]))
        rows_site += [ids[i]] * n
        rows_day += list(act_days[i] + rng.integers(1, span - act_days[i] + 1, size=n))
    dates = pd.to_datetime([START + dt.timedelta(days=int(d)) for d in rows_day]).astype(
        "datetime64[ns]"
    )
    enrollment = pd.DataFrame(
        {
            "patient_id": [f"P{j}" for j in range(len(rows_site))],
            "site_id": rows_site,
            "screening_date": dates,
            "randomization_date": dates,
            "status": "RANDOMIZED",
        }
    )
    trial = Trial(
        nct_id="NCT99999999",
        title="bench",
        acronym=None,
        sponsor="",
        target=len(enrollment) + 2000,
        start_date=START,
        planned_completion_date=dt.date(2026, 12, 31),
        last_updated=None,
        overall_status="RECRUITING",
        treatment_days=360,
    )
    return trial, sites, enrollment


def gamma_core(
    alpha: float, beta: float, k: np.ndarray, tau: np.ndarray, n: int, paths: int
) -> None:
    """The variates alone: every site's rate on every path (one call), summed, then T."""
    rng = np.random.default_rng(0)
    total = rng.gamma(alpha + k, 1.0 / (beta + tau), size=(paths, len(k))).sum(axis=1)
    rng.gamma(float(n), 1.0 / total)


def timed_interleaved(fns: dict[str, object], repeat: int) -> dict[str, list[float]]:
    """Run the candidates in turn, ``repeat`` rounds, so they share the machine's load."""
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            out[name].append(time.perf_counter() - t0)
    return out


def page_bench(data_dir: str, repeat: int) -> None:
    """Cold page forecasts at 8 as-of dates against the gamma-variates floor, interleaved."""
    from pathlib import Path

    from dashboard.page.view_model import run_forecast
    from dashboard.store import DataStore

    data = DataStore(Path(data_dir)).get()
    start = data.trial.start_date
    dates = [start + dt.timedelta(days=60 + 29 * i) for i in range(8)]
    plan = classify_sites(data.sites, data.enrollment, data.data_cutoff, start)
    k = np.concatenate([plan.k, np.zeros(len(plan.planned_ids))])
    tau = np.concatenate([plan.tau, np.zeros(len(plan.planned_ids))])
    n = max(data.trial.target - int(plan.k.sum()), 1)
    t0 = time.perf_counter()
    run_forecast(data, data.data_cutoff)  # first request of this data version (prepares)
    first = time.perf_counter() - t0
    floor: list[float] = []
    page: list[float] = []
    detail: dict[dt.date, tuple[int, float | None]] = {}  # paths, median's numerical error
    for _ in range(repeat):
        for day in dates:
            t0 = time.perf_counter()
            gamma_core(1.0, 300.0, k, tau, n, 10_000)
            floor.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result, _ = run_forecast(data, day)
            page.append(time.perf_counter() - t0)
            pg = None if result is None else result.poisson_gamma
            detail[day] = (
                0 if pg is None else pg.paths,
                None if pg is None else pg.median_numerical_error_days,
            )
    base = statistics.median(floor)
    print(
        f"{data_dir}: {len(data.sites)} sites, {len(data.enrollment)} patients; "
        f"floor = 10,000 paths × {len(k)} gamma variates"
    )
    for day, (paths, err) in detail.items():
        shown = "—" if err is None else f"{err:.2f}"
        print(
            f"  as-of {day}: target date integrated (numerical error {shown} days), "
            f"{paths} paths for the bands and sites needed"
        )
    print(f"{'':<34}{'median ms':>10}{'p95 ms':>9}{'× floor':>9}")
    for name, times in (("floor (gamma variates alone)", floor), ("page forecast, new date", page)):
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"{name:<34}{1e3 * statistics.median(times):>10.1f}{1e3 * p95:>9.1f}"
            f"{statistics.median(times) / base:>9.2f}"
        )
    print(f"first forecast of this data version (prepares the inputs): {1e3 * first:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--page", metavar="DATA_DIR", help="bench the page's forecast instead")
    args = parser.parse_args()
    if args.page:
        page_bench(args.page, args.repeat)
        return
    trial, sites, enrollment = make_trial(args.sites)
    plan = classify_sites(sites, enrollment, AS_OF, trial.start_date)
    fit = fit_gamma_rates(plan.k, plan.tau)
    k = np.concatenate([plan.k, np.zeros(len(plan.planned_ids))])
    tau = np.concatenate([plan.tau, np.zeros(len(plan.planned_ids))])
    n = trial.target - len(enrollment)
    print(
        f"{args.sites} sites ({len(plan.open_ids)} open, {len(plan.planned_ids)} opening on "
        f"{len(set(plan.planned_offsets))} later dates), {len(enrollment)} randomized, "
        f"{n} to go, {args.paths} paths; fitted α={fit.alpha:.3f}, β={fit.beta:.1f}"
    )
    runs = timed_interleaved(
        {
            "gamma variates alone (the core)": lambda: gamma_core(
                fit.alpha, fit.beta, k, tau, n, args.paths
            ),
            "forecast(), parameter uncertainty (default)": lambda: forecast(
                trial, sites, enrollment, AS_OF, paths=args.paths, seed=1
            ),
            "forecast(), plug-in": lambda: forecast(
                trial,
                sites,
                enrollment,
                AS_OF,
                paths=args.paths,
                seed=1,
                parameter_uncertainty=False,
            ),
        },
        args.repeat,
    )
    core = runs["gamma variates alone (the core)"]
    full = runs["forecast(), parameter uncertainty (default)"]
    base = statistics.median(core)
    print()
    print(f"{'':<46}{'median s':>10}{'min s':>9}{'× core':>9}")
    for name, times in runs.items():
        print(
            f"{name:<46}{statistics.median(times):>10.3f}{min(times):>9.3f}"
            f"{statistics.median(times) / base:>9.2f}"
        )
    ratio = statistics.median(full) / base
    print()
    print(
        f"ratio forecast / core = {ratio:.2f} on medians, {min(full) / min(core):.2f} on minima "
        f"(goal ≤ 2): {'OK' if ratio <= 2 else 'TOO SLOW'}"
    )


if __name__ == "__main__":
    main()
