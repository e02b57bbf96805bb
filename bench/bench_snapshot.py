"""How much does the weekly PDF cost compared with a plain Chromium screenshot?

Goal: the PDF snapshot of the shipped dashboard takes at most 1.5x a plain screenshot of
the same page in the same browser. All variants run against one app served on a loopback
port (so app start-up is counted once, separately), in rotating order to spread the noise
of a shared machine, and the median of N runs is reported:

- ``chromium --screenshot``: Chromium's own CLI, the one-liner a cron job might use. It
  shoots at the load event, before Dash has fetched its layout: a "Loading..." page.
- ``screenshot at load``: Playwright, same browser and flags as the snapshot, full-page
  PNG right after the load event (same caveat: figures not drawn yet).
- ``screenshot when drawn``: the same, after the snapshot's wait for every figure, the
  grid and fonts. The fair baseline: the first picture that shows the dashboard.
- ``PDF snapshot (--url)``: :func:`dashboard.snapshot.take_snapshot` on the running app:
  wait, print media, figures fitted to the page, A4 PDF with header and footer.
- ``PDF snapshot (own app)``: the ``snapshot`` command as cron runs it, starting and
  stopping its own app.

    python bench/bench_snapshot.py [--runs 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.serving import serve_app, snapshot_data_dir
from dashboard.snapshot import (
    CHROMIUM_ARGS,
    PDF_LAYOUT_WIDTH,
    PDF_VIEWPORT_HEIGHT,
    chromium_executable,
    take_snapshot,
    with_as_of,
)
from dashboard.snapshot_browser import WatchedPage
from dashboard.store import load_trial_data

GOAL_RATIO = 1.5


def chromium_cli_screenshot(url: str, out: Path) -> None:
    subprocess.run(
        [
            str(chromium_executable()),
            "--headless",
            *CHROMIUM_ARGS,
            "--hide-scrollbars",
            f"--window-size={PDF_LAYOUT_WIDTH},{PDF_VIEWPORT_HEIGHT}",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def playwright_screenshot(url: str, out: Path, *, drawn: bool) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(chromium_executable()), args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page(
                viewport={"width": PDF_LAYOUT_WIDTH, "height": PDF_VIEWPORT_HEIGHT}
            )
            guarded = WatchedPage(page, {"127.0.0.1", "localhost"}, time.monotonic() + 120)
            page.goto(url, wait_until="load")
            if drawn:
                guarded.settle()
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=SHIPPED_DATA_DIR)
    args = parser.parse_args()

    data = load_trial_data(args.data_dir)
    as_of = data.data_cutoff
    work = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    start = time.perf_counter()
    with serve_app(args.data_dir, as_of) as base:
        app_start = time.perf_counter() - start
        url = with_as_of(base, as_of)
        variants: dict[str, Callable[[], object]] = {
            "chromium --screenshot": lambda: chromium_cli_screenshot(url, work / "cli.png"),
            "screenshot at load": lambda: playwright_screenshot(
                url, work / "load.png", drawn=False
            ),
            "screenshot when drawn": lambda: playwright_screenshot(
                url, work / "drawn.png", drawn=True
            ),
            "PDF snapshot (--url)": lambda: take_snapshot(
                work / "url.pdf", data=data, url=base, as_of=as_of
            ),
            "PDF snapshot (own app)": lambda: snapshot_data_dir(
                work / "own.pdf", data=data, data_dir=args.data_dir, as_of=as_of
            ),
        }
        names = list(variants)
        timings: dict[str, list[float]] = {name: [] for name in names}
        variants[names[0]]()  # warm the OS file cache and the app's data store once
        for run in range(args.runs):
            order = names[run % len(names) :] + names[: run % len(names)]
            for name in order:
                timings[name].append(timed(variants[name]))

    medians = {name: statistics.median(values) for name, values in timings.items()}
    pdf = medians["PDF snapshot (--url)"]
    print(f"Snapshot benchmark: {data.trial.nct_id}, {len(data.sites)} sites, as of {as_of}")
    print(f"median of {args.runs} runs; app start-up (create_app + server) {app_start:.2f} s\n")
    print(f"{'variant':<26} {'median s':>9} {'min s':>7} {'max s':>7} {'PDF / this':>11}")
    print("-" * 64)
    for name in names:
        values = timings[name]
        print(
            f"{name:<26} {medians[name]:>9.2f} {min(values):>7.2f} {max(values):>7.2f} "
            f"{pdf / medians[name]:>10.2f}x"
        )
    for baseline in ("screenshot at load", "screenshot when drawn"):
        ratio = pdf / medians[baseline]
        verdict = "meets" if ratio <= GOAL_RATIO else "misses"
        print(f"\nPDF / {baseline}: {ratio:.2f}x ({verdict} the {GOAL_RATIO}x goal)")
    print(f"\nfiles in {work}")


if __name__ == "__main__":
    main()
