"""Interaction: round trip of the as-of callback vs a bare echo callback, and server memory.

Each app runs under gunicorn (1 worker, so one cache) on a free loopback port. A single
client posts the callback exactly as the browser does when the as-of date changes:
first on 30 dates never asked before (cold: counts, figures and forecast computed), then
on the same 30 again (warm: served from the per-as-of cache). The floor is the bare echo
callback of ``bench/bare_app.py`` served the same way. Ratios, not seconds, are the result.

All apps run at once and their requests are interleaved (date by date: floor, 46 sites,
large), so that every ratio compares requests made under the same load of a shared
machine; a floor measured minutes apart moved the ratios by a factor of two.

    python bench/bench_interaction.py [--large DIR] [--compressed]   # DIR: bench/make_large.py
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import _post, as_of_dates, callback_body, gunicorn, main_callback  # noqa: E402

from dashboard.page.shared_replies import cache_dir  # noqa: E402
from dashboard.page.warmup import recent_weeks, warm_status  # noqa: E402
from dashboard.store import load_trial_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: First request of each app (loads data and imports): a date in no measured pass.
LOAD_DATE = "2023-05-31"

#: Time left to a worker, once the warm-up is done, to copy the replies into its cache.
ADOPT_SECONDS = 5


#: What Chromium sends on loopback: with ``--compressed`` the replies are compressed as a
#: browser gets them (the bare echo's 60 bytes stay below the compression threshold).
BROWSER_ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def timed_post(url: str, dep: dict, as_of: str, headers: dict[str, str] | None = None) -> float:
    body = callback_body(dep, as_of)
    t0 = time.perf_counter()
    status, _ = _post(url + "/_dash-update-component", body, timeout=300, headers=headers)
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError(f"HTTP {status} for as_of={as_of}")
    return elapsed


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def measure_all(
    targets: list[tuple[str, Path, str, str]], n: int, headers: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """``targets``: (name, data dir, app, output). Cold pass then warm pass, each date posted
    to every app in turn."""
    dates = as_of_dates(n, step_days=29)
    dashboards = {name: d for name, d, app, _ in targets if app.startswith("dashboard")}
    recent = {
        name: [x.isoformat() for x in recent_weeks(load_trial_data(d))]
        for name, d in dashboards.items()
    }
    for name, data_dir in dashboards.items():  # no reply of an earlier run: cold is cold
        shutil.rmtree(cache_dir(data_dir), ignore_errors=True)
        if set(recent[name]) & set(dates):
            print(f"note: {name}: a cold date is one of the recent weeks")
    with contextlib.ExitStack() as stack:
        servers = {}
        for name, data_dir, app, output in targets:
            server = stack.enter_context(gunicorn(data_dir, workers=1, app=app))
            dep = main_callback(server.url, output)
            timed_post(server.url, dep, LOAD_DATE, headers)  # loads data and imports
            servers[name] = (server, dep)
        times: dict[str, dict[str, list[float]]] = {
            name: {"recent": [], "cold": [], "warm": []} for name in servers
        }
        t0 = time.perf_counter()
        for data_dir in dashboards.values():
            wait_for_warm_up(data_dir)
        print(f"warm-up done {time.perf_counter() - t0:.0f} s after the apps answered")
        time.sleep(ADOPT_SECONDS)  # the worker sees it (a status read a second) and adopts
        weeks = max(len(r) for r in recent.values())
        for k in range(weeks):
            for name, (server, dep) in servers.items():
                days = recent.get(name) or recent[next(iter(recent))]
                as_of = days[k % len(days)]
                times[name]["recent"].append(timed_post(server.url, dep, as_of, headers))
        for phase in ("cold", "warm"):
            for as_of in dates:
                for name, (server, dep) in servers.items():
                    times[name][phase].append(timed_post(server.url, dep, as_of, headers))
        return {
            name: {
                **{
                    f"{phase}_p{q}": pct(times[name][phase], q)
                    for phase in ("recent", "cold", "warm")
                    for q in (50, 95)
                },
                "rss": server.rss_mib(),
            }
            for name, (server, _) in servers.items()
        }


def wait_for_warm_up(data_dir: Path, timeout: float = 900) -> None:
    """Until the app's warm-up has written all the recent weeks of ``data_dir``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = warm_status(data_dir)
        if status and status.get("done"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the warm-up of {data_dir} did not finish in {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=Path, help="data dir made by bench/make_large.py")
    parser.add_argument("-n", type=int, default=30, help="distinct as-of dates")
    parser.add_argument(
        "--compressed",
        action="store_true",
        help="send the browser's Accept-Encoding (replies compressed as a browser gets them)",
    )
    args = parser.parse_args()
    headers = BROWSER_ACCEPT_ENCODING if args.compressed else None
    targets = [
        ("bare echo (floor)", ROOT / "data", "bench.bare_app:server", "echo.children"),
        ("46 sites (shipped)", ROOT / "data", "dashboard.wsgi:server", "site-map.figure"),
    ]
    if args.large:
        targets.append((f"{args.large}", args.large, "dashboard.wsgi:server", "site-map.figure"))
    results = measure_all(targets, args.n, headers)
    floor = results.pop("bare echo (floor)")
    rows = list(results.items())
    ms = 1000
    if args.compressed:
        print(
            "replies compressed as the browser accepts (Accept-Encoding: gzip, deflate, br, zstd)"
        )
    print(
        "| app | cold p50 | cold p95 | warm p50 | warm p95 | p50 ratio cold / warm | p95 ratio cold / warm | RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| bare echo (floor) | {floor['cold_p50'] * ms:.1f} ms | {floor['cold_p95'] * ms:.1f} ms | "
        f"{floor['warm_p50'] * ms:.1f} ms | {floor['warm_p95'] * ms:.1f} ms | 1 | 1 | {floor['rss']:.0f} |"
    )
    for name, r in rows:
        print(
            f"| {name} | {r['cold_p50'] * ms:.0f} ms | {r['cold_p95'] * ms:.0f} ms | "
            f"{r['warm_p50'] * ms:.1f} ms | {r['warm_p95'] * ms:.1f} ms | "
            f"{r['cold_p50'] / floor['cold_p50']:.1f}× / {r['warm_p50'] / floor['warm_p50']:.1f}× | "
            f"{r['cold_p95'] / floor['cold_p95']:.1f}× / {r['warm_p95'] / floor['warm_p95']:.1f}× | "
            f"{r['rss']:.0f} |"
        )
    print()
    print("Recent weeks after the background warm-up (12 dates, each asked for the first time):")
    print()
    print("| app | p50 | p95 | p50 ratio | p95 ratio |")
    print("|---|---|---|---|---|")
    print(
        f"| bare echo (floor) | {floor['recent_p50'] * ms:.1f} ms | "
        f"{floor['recent_p95'] * ms:.1f} ms | 1 | 1 |"
    )
    for name, r in rows:
        print(
            f"| {name} | {r['recent_p50'] * ms:.1f} ms | {r['recent_p95'] * ms:.1f} ms | "
            f"{r['recent_p50'] / floor['recent_p50']:.1f}× | "
            f"{r['recent_p95'] / floor['recent_p95']:.1f}× |"
        )


if __name__ == "__main__":
    main()
