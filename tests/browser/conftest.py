"""Browser fixtures: the real app on a small hand-made data dir, driven by headless Chromium.

The data dir copies the shipped registry, sites and geocodes and adds an enrollment of 12
patients (ids "PX-TEST-0001".."PX-TEST-0012", distinctive so a leak is easy to spot),
counted by hand:

- at the cut-off 2025-06-30: 12 screened, 2 screen failures, 9 randomized (12.2 % of 74);
- as of 2024-06-30: 8 screened, 6 randomized.

Site 40's facility name is a spreadsheet formula (:data:`EVIL_FACILITY`), as anyone could
write it into the public registry record: the page shows it as text, exports escape it.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.snapshot import CHROMIUM_ARGS as SNAPSHOT_CHROMIUM_ARGS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = list(SNAPSHOT_CHROMIUM_ARGS)  # one list of flags: dashboard.snapshot
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

ENROLLMENT_CSV = """\
patient_id,site_id,screening_date,randomization_date,status
PX-TEST-0001,32,2023-03-01,2023-03-10,COMPLETED
PX-TEST-0002,32,2023-05-02,2023-05-20,RANDOMIZED
PX-TEST-0003,34,2023-06-01,,SCREEN_FAILED
PX-TEST-0004,34,2023-09-01,2023-09-15,RANDOMIZED
PX-TEST-0005,05,2024-01-10,2024-01-25,WITHDRAWN
PX-TEST-0006,42,2024-03-01,2024-03-12,RANDOMIZED
PX-TEST-0007,42,2024-04-01,,SCREEN_FAILED
PX-TEST-0008,22,2024-06-01,2024-06-10,RANDOMIZED
PX-TEST-0009,22,2024-11-01,2024-11-20,RANDOMIZED
PX-TEST-0010,08,2025-02-01,2025-02-14,RANDOMIZED
PX-TEST-0011,32,2025-05-01,2025-05-12,RANDOMIZED
PX-TEST-0012,42,2025-06-20,,SCREENING
"""
CUTOFF = "2025-06-30"
EVIL_SITE = "40"
EVIL_FACILITY = '=HYPERLINK("http://evil.example/x","CHU Rouen")'


@pytest.fixture(scope="session")
def browser_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "data"
    (root / "registry").mkdir(parents=True)
    shutil.copy(SHIPPED_DATA_DIR / "registry" / "NCT04789850.json", root / "registry")
    shutil.copy(SHIPPED_DATA_DIR / "geocodes.csv", root / "geocodes.csv")
    shutil.copy(SHIPPED_DATA_DIR / "trial.toml", root / "trial.toml")
    with (SHIPPED_DATA_DIR / "sites.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, sites = reader.fieldnames, list(reader)
    for site in sites:
        if site["site_id"] == EVIL_SITE:
            site["facility"] = EVIL_FACILITY
    with (root / "sites.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sites)
    (root / "enrollment.csv").write_text(ENROLLMENT_CSV, encoding="utf-8")
    meta = {"registry_file": "NCT04789850.json", "synthetic": False, "data_cutoff": CUTOFF}
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


#: Bodies of every layout and callback response the app sent (to look for patient data).
DASH_RESPONSES: list[str] = []


@pytest.fixture(scope="session")
def app_url(browser_data_dir: Path) -> Iterator[str]:
    """The real app (``create_app``) on a free loopback port, in a background thread."""
    from flask import request
    from werkzeug.serving import WSGIRequestHandler, make_server

    from dashboard.app import create_app

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            pass

    # The page as served: its forecast in the companion process beside the counts.
    app = create_app(browser_data_dir, auth=None, forecast_process=True)

    @app.server.after_request
    def record(response):
        if request.path.startswith(("/_dash-layout", "/_dash-update-component")):
            DASH_RESPONSES.append(response.get_data(as_text=True))
        return response

    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app._dashboard_forecasts.close()


#: The Playwright fixtures are package-scoped: a sync Playwright left running in the main
#: thread would make every later ``sync_playwright()`` of the same pytest run (the
#: ``snapshot`` tests in tests/test_snapshot.py) fail with "Sync API inside the asyncio
#: loop". Package scope stops it when the last browser test is done.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def browser_context(browser) -> Iterator[object]:
    """One context for the session: pages share its HTTP cache (plotly.js is 4.7 MB)."""
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, device_scale_factor=1, accept_downloads=True
    )
    foreign: list[str] = []

    def route(route) -> None:
        host = urlparse(route.request.url).hostname
        if host in LOCAL_HOSTS:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    context.foreign_requests = foreign  # type: ignore[attr-defined]
    try:
        yield context
    finally:
        context.close()


@dataclass
class Watched:
    """A page with everything that must stay empty: console errors, foreign requests."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    draw_seconds: float = 0.0

    def assert_clean(self) -> None:
        assert self.foreign_requests == [], "requests left the machine"
        assert self.console_errors == [], "browser console errors"

    def close(self) -> None:
        self.page.close()


def open_page(context, url: str, viewport=(1920, 1080)) -> Watched:
    """A new page of ``context`` at ``url``, drawn; it records console errors, and shares
    the context's list of blocked foreign requests."""
    page = context.new_page()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    watched = Watched(page, foreign_requests=context.foreign_requests)

    def on_console(message) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.console_errors.append(f"pageerror: {exc}"))
    page.goto(url)
    watched.draw_seconds = wait_until_drawn(page)
    return watched


#: The page is drawn: four figures, 46 main-map markers, grid rows, no pending callback.
DRAWN = """() => {
  const plots = document.querySelectorAll('.js-plotly-plot .main-svg');
  const points = document.querySelectorAll('#site-map g.geo:not(.geo2) path.point');
  const rows = document.querySelectorAll('#sites-grid .ag-center-cols-container .ag-row');
  return plots.length >= 4 && points.length >= 46 && rows.length > 0
    && !document.querySelector('._dash-loading')
    && !document.querySelector('[data-dash-is-loading="true"]');
}"""


def wait_until_drawn(page, timeout_ms: float = 60_000) -> float:
    started = time.perf_counter()
    page.wait_for_function(DRAWN, timeout=timeout_ms, polling=100)
    return time.perf_counter() - started
