"""First paint and bytes to the browser: the dashboard vs a bare Dash page with one graph.

Both pages are served by gunicorn (1 worker each, both running) on loopback and opened in
the same headless Chromium run, alternately (one load of each per round), with the HTTP
cache off. Two times from navigation:

* "first screen": the map (``#site-map``, the bare page's only graph) is drawn, its
  topojson included (dcc.Graph's ``dash-graph--pending`` gone); the KPI cards above it
  come with the same layout, so this is what the user sees first;
* "first paint (all figures drawn)": every plotly figure on the page has drawn (each
  ``.js-plotly-plot`` has its ``.main-svg`` and is no longer pending) and nothing is loading.

Bytes are the sum of response body sizes (as transferred, compressed or not). Median of
N loads each; ratios are the result.

    python bench/bench_page.py [-n 5] [--large DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import gunicorn  # noqa: E402

from dashboard.snapshot import CHROMIUM_ARGS as SNAPSHOT_CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = list(SNAPSHOT_CHROMIUM_ARGS)  # one list of flags: dashboard.snapshot
#: A graph is drawn when it has its SVG and dcc.Graph's Plotly.react (topojson fetch
#: included) has resolved: the condition dashboard.snapshot waits for.
GRAPH_DRAWN = """(g) => !!g && !!g.querySelector('.main-svg') && !!g._fullLayout
    && !g.classList.contains('dash-graph--pending')"""
FIRST_SCREEN = f"""() => ({GRAPH_DRAWN})(document.querySelector('#site-map .js-plotly-plot'))"""
DRAWN = f"""() => {{
  const graphs = [...document.querySelectorAll('.js-plotly-plot')];
  return graphs.length > 0 && graphs.every({GRAPH_DRAWN})
    && !document.querySelector('[data-dash-is-loading="true"]');
}}"""


def load_once(browser, url: str) -> tuple[float, float, int, int]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    transferred = {"bytes": 0, "requests": 0}

    def finished(event):
        transferred["bytes"] += int(event.get("encodedDataLength", 0))
        transferred["requests"] += 1

    cdp.on("Network.loadingFinished", finished)
    t0 = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(FIRST_SCREEN, timeout=120_000, polling=50)
    first_screen = time.perf_counter() - t0
    page.wait_for_function(DRAWN, timeout=120_000, polling=50)
    elapsed = time.perf_counter() - t0
    page.wait_for_load_state("networkidle")
    context.close()
    return first_screen, elapsed, transferred["bytes"], transferred["requests"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--large", type=Path, help="data dir made by bench/make_large.py")
    args = parser.parse_args()
    targets = [("bare page, one graph (floor)", ROOT / "data", "bench.bare_app:server")]
    targets.append(("dashboard, 46 sites", ROOT / "data", "dashboard.wsgi:server"))
    if args.large:
        targets.append((f"dashboard, {args.large}", args.large, "dashboard.wsgi:server"))
    runs: dict[str, list[tuple[float, float, int, int]]] = {name: [] for name, _, _ in targets}
    with sync_playwright() as p, contextlib.ExitStack() as servers:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        urls = {}
        for name, data_dir, app in targets:
            urls[name] = servers.enter_context(gunicorn(data_dir, workers=1, app=app)).url
            load_once(browser, urls[name])  # warm the server (imports, data, caches)
        # Interleaved, one load of each page per round: the machine's load drifts over a
        # run (2 cores shared), and must weigh on the floor as on the dashboard.
        for _ in range(args.n):
            for name, url in urls.items():
                runs[name].append(load_once(browser, url))
        browser.close()
    results = {
        name: tuple(statistics.median(r[i] for r in loads) for i in range(4))
        for name, loads in runs.items()
    }
    floor_s, floor_t, floor_b, _ = results[targets[0][0]]
    print(
        "| page | first screen (KPIs + map drawn) | ratio | first paint (all figures drawn) "
        "| ratio | bytes transferred | ratio | requests |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (s, t, b, n) in results.items():
        print(
            f"| {name} | {s * 1000:.0f} ms | {s / floor_s:.2f}× | {t * 1000:.0f} ms | "
            f"{t / floor_t:.2f}× | {b / 1024:.0f} KiB | {b / floor_b:.2f}× | {n:.0f} |"
        )


if __name__ == "__main__":
    main()
