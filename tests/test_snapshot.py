"""The ``snapshot`` command: PDF and PNG of the real app in headless Chromium.

Each snapshot costs a Chromium run and a Dash app (tens of seconds on a busy machine), so
every file is made once per module and several tests read it. Browser tests are marked
``browser``; they need Debian's ``chromium`` and poppler's ``pdftotext``.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.metrics import week_changes
from dashboard.serving import serve_app, snapshot_data_dir
from dashboard.snapshot import (
    CHROMIUM_ARGS,
    CHROMIUM_ENV,
    SnapshotError,
    SnapshotResult,
    chromium_executable,
    header_template,
    png_size,
    take_snapshot,
)
from dashboard.store import load_trial_data
from tests.helpers import (
    SMALL_AS_OF,
    SMALL_COUNTS,
    SMALL_WEEK,
    SMALL_WEEK_SINCE,
    build_small_data_dir,
)

CHROMIUM = Path("/usr/bin/chromium")
needs_browser = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("pdftotext") is None,
    reason="needs Debian chromium and poppler-utils (pdftotext)",
)
A4_LANDSCAPE_PT = (842.0, 595.0)


# --------------------------------------------------------------------------- helpers
def pdf_text(path: Path) -> str:
    """Text of the PDF in reading order (proves the text is text, not pixels)."""
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_pages(path: Path) -> list[tuple[float, float]]:
    """(width, height) in points of every page."""
    from pypdf import PdfReader

    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in PdfReader(path).pages]


def png_pixel_stats(body: bytes) -> dict[str, float]:
    """Decode a PNG with Chromium itself and measure its luminance spread.

    No imaging library is a dependency; the browser the snapshot needs decodes PNGs.
    Every 7th pixel is sampled, plenty for "is there a picture".
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            return page.evaluate(
                """async (b64) => {
                  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                  const bmp = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
                  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
                  const ctx = canvas.getContext('2d');
                  ctx.drawImage(bmp, 0, 0);
                  const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
                  let n = 0, s = 0, s2 = 0;
                  for (let i = 0; i < d.length; i += 4 * 7) {
                    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
                    n += 1; s += y; s2 += y * y;
                  }
                  const mean = s / n;
                  return {width: bmp.width, height: bmp.height, mean, std: Math.sqrt(s2 / n - mean * mean)};
                }""",
                base64.b64encode(body).decode("ascii"),
            )
        finally:
            browser.close()


def run_snapshot(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["snapshot", *args])
    return result.exit_code, result.output


def copy_shipped(target: Path) -> Path:
    """A throw-away copy of the shipped demo data (as conftest's ``data_dir`` makes)."""
    shutil.copytree(
        SHIPPED_DATA_DIR,
        target,
        ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl"),
    )
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- module fixtures
@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_shipped(tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_data_dir(tmp_path_factory.mktemp("small") / "data")


@pytest.fixture(scope="module")
def demo_pdf(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The weekly PDF of the shipped demo through the CLI, default as-of (the cut-off)."""
    out = tmp_path_factory.mktemp("out") / "demo.pdf"
    code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(out))
    assert code == 0, output
    return out, output


@pytest.fixture(scope="module")
def small_pdf(small_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SnapshotResult:
    """The hand-counted trial through the Python API, so the result's details are seen."""
    out = tmp_path_factory.mktemp("out") / "small.pdf"
    return snapshot_data_dir(out, data_dir=small_dir, as_of=SMALL_AS_OF)


@pytest.fixture(scope="module")
def demo_png(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "demo.png"
    code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(out))
    assert code == 0, output
    return out


@pytest.fixture(scope="module")
def demo_png_x2(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "demo@2x.png"
    code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(out), "--scale", "2")
    assert code == 0, output
    return out


# --------------------------------------------------------------------------- PDF, demo data
@needs_browser
@pytest.mark.browser
def test_demo_pdf_is_a4_landscape_with_at_most_three_pages(demo_pdf: tuple[Path, str]) -> None:
    path, output = demo_pdf
    pages = pdf_pages(path)
    assert 1 <= len(pages) <= 3
    for width, height in pages:
        assert abs(width - A4_LANDSCAPE_PT[0]) <= 1 and abs(height - A4_LANDSCAPE_PT[1]) <= 1
    assert f"{len(pages)} page(s)" in output
    assert "blocked" not in output.lower()


@needs_browser
@pytest.mark.browser
def test_demo_pdf_text_is_selectable_and_states_trial_dates_and_counts(
    demo_dir: Path, demo_pdf: tuple[Path, str]
) -> None:
    path, _ = demo_pdf
    data = load_trial_data(demo_dir)
    cutoff = data.data_cutoff.isoformat()
    randomized = int((data.enrollment["randomization_date"].dt.date <= data.data_cutoff).sum())
    text = pdf_text(path)
    assert "NCT04789850" in text
    assert f"As of {cutoff}" in text  # running header, every page
    assert text.count("NCT04789850") >= 2  # header of every page, and the page itself
    assert re.search(rf"\b{randomized}\s*/\s*74\b", text), "randomized / target on the KPI card"
    assert "DEMO" in text  # synthetic data are badged
    assert re.search(r"Page 1 / [123]", text)
    # controls are not printed
    assert "Clear selection" not in text and "Export CSV" not in text


@needs_browser
@pytest.mark.browser
def test_demo_pdf_names_every_site_in_the_print_table(
    demo_dir: Path, demo_pdf: tuple[Path, str]
) -> None:
    """The grid scrolls; paper gets every row: each site id with its facility and city."""
    path, _ = demo_pdf
    sites = load_trial_data(demo_dir).sites
    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "All 46 sites, in site order." in lines
    for site in sites.itertuples():
        row = f"{site.site_id} {site.facility} {site.city}"
        assert any(line.startswith(row) for line in lines), row


# --------------------------------------------------------------------------- PDF, hand counts
@needs_browser
@pytest.mark.browser
def test_small_pdf_numbers_equal_hand_counts(small_pdf: SnapshotResult) -> None:
    assert small_pdf.kind == "pdf" and small_pdf.as_of == SMALL_AS_OF
    assert small_pdf.pages in (1, 2, 3)
    assert small_pdf.blocked_requests == [], "the page must not call outside this machine"
    assert small_pdf.as_of_method == "url"
    text = pdf_text(small_pdf.path)
    assert "NCT04789850" in text and "As of 2025-06-15" in text
    assert "data cut-off 2025-06-15" in text
    assert "DEMO" not in text  # real (non-synthetic) data: no badge
    assert re.search(rf"\b{SMALL_COUNTS['randomized']}\s*/\s*74\b", text)
    assert re.search(rf"\b{SMALL_COUNTS['screened']}\b", text)


@needs_browser
@pytest.mark.browser
def test_small_pdf_week_deltas_equal_hand_counts(
    small_dir: Path, small_pdf: SnapshotResult
) -> None:
    data = load_trial_data(small_dir)
    week = week_changes(data.sites, data.enrollment, SMALL_AS_OF)
    assert week.since == SMALL_WEEK_SINCE
    for key, value in SMALL_WEEK.items():
        assert getattr(week, key) == value, key  # metrics agree with the hand count first
    text = pdf_text(small_pdf.path)
    # KPI cards: randomized +2, screened +3; the sites card counts sites whose first
    # randomization fell in the week, and says so.
    for delta in (SMALL_WEEK["randomized"], SMALL_WEEK["screened"]):
        assert f"+{delta} this week" in text
    # (a narrow card may wrap it: compare with the PDF's line breaks as spaces)
    assert f"+{SMALL_WEEK['sites_enrolling']} site enrolling this week" in " ".join(text.split())


@needs_browser
@pytest.mark.browser
def test_small_pdf_has_a_this_week_section_listing_the_sites(
    small_dir: Path, small_pdf: SnapshotResult
) -> None:
    """The weekly PDF says what moved: sites that randomized, sites activated, deltas."""
    text = pdf_text(small_pdf.path)
    # A heading line (the KPI cards' "+2 this week" lines start with a sign or "no change").
    match = re.search(r"^\s*this week\b", text, flags=re.IGNORECASE | re.MULTILINE)
    assert match, "the snapshot needs a 'This week' section"
    section = text[match.start() : match.start() + 1500]
    sites = load_trial_data(small_dir).sites.set_index("site_id")
    for site_id in ("01", "02"):  # randomized in the week
        assert sites.at[site_id, "facility"] in section, site_id
    assert sites.at["04", "facility"] in section  # activated in the week
    assert f"+{SMALL_WEEK['sites_recruiting']}" in section


# --------------------------------------------------------------------------- PNG
@needs_browser
@pytest.mark.browser
def test_png_is_1920_wide_full_page_and_not_blank(demo_png: Path) -> None:
    body = demo_png.read_bytes()
    width, height = png_size(body)
    assert width == 1920
    assert height > 1080  # full page, not just the viewport
    stats = png_pixel_stats(body)
    assert (stats["width"], stats["height"]) == (width, height)
    assert stats["std"] > 15, stats  # a real picture, not a blank page
    assert 100 < stats["mean"] < 250, stats  # mostly light page with dark content


@needs_browser
@pytest.mark.browser
def test_png_scale_2_doubles_the_pixels(demo_png: Path, demo_png_x2: Path) -> None:
    width1, height1 = png_size(demo_png.read_bytes())
    width2, height2 = png_size(demo_png_x2.read_bytes())
    assert width2 == 2 * width1 == 3840
    assert abs(height2 - 2 * height1) <= 2


# --------------------------------------------------------------------------- offline
@needs_browser
@pytest.mark.browser
def test_requests_off_the_machine_are_blocked_and_reported(tmp_path: Path) -> None:
    """The guard itself: a page asking for an outside host gets nothing, and it is recorded."""
    import time

    from playwright.sync_api import sync_playwright

    from dashboard.snapshot import LOOPBACK_HOSTS
    from dashboard.snapshot_browser import WatchedPage

    (tmp_path / "index.html").write_text(
        '<img src="https://tile.example.org/x.png"><link rel="stylesheet" '
        'href="https://fonts.example.com/css"><p>local</p>',
        encoding="utf-8",
    )

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
            try:
                page = WatchedPage(browser.new_page(), set(LOOPBACK_HOSTS), time.monotonic() + 30)
                page.page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
                page.page.wait_for_load_state("load")
                assert sorted(page.blocked) == [
                    "https://fonts.example.com/css",
                    "https://tile.example.org/x.png",
                ]
                assert page.errors == []  # blocked requests are reported, not page errors
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- failures
def test_missing_chromium_fails_clearly(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-chromium"
    monkeypatch.setenv(CHROMIUM_ENV, str(missing))
    out = tmp_path / "x.pdf"
    code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(out))
    assert code != 0
    assert "Chromium not found" in output and str(missing) in output and CHROMIUM_ENV in output
    assert not out.exists()
    with pytest.raises(SnapshotError, match="Chromium not found"):
        chromium_executable()


def test_output_must_be_pdf_or_png(demo_dir: Path, tmp_path: Path) -> None:
    code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(tmp_path / "x.jpg"))
    assert code != 0 and ".pdf or .png" in output


@needs_browser
@pytest.mark.browser
def test_unreachable_url_fails_clearly(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    url = f"http://127.0.0.1:{free_port()}/"
    code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(out), "--url", url)
    assert code != 0
    assert "Snapshot failed" in output and "Cannot open" in output
    assert not out.exists()


@needs_browser
@pytest.mark.browser
def test_http_error_fails_clearly(demo_dir: Path, tmp_path: Path) -> None:
    """A server answering 500 (a broken deployment) gives a non-zero exit, not a PDF of it."""

    class Broken(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "x.pdf"
        url = f"http://127.0.0.1:{server.server_port}/"
        code, output = run_snapshot("--data-dir", str(demo_dir), "--out", str(out), "--url", url)
    finally:
        server.shutdown()
        server.server_close()
    assert code != 0 and "HTTP 500" in output
    assert not out.exists()


@needs_browser
@pytest.mark.browser
def test_timeout_fails_with_what_was_missing(demo_dir: Path, tmp_path: Path) -> None:
    """A page that never draws (here: plain HTML, no Dash) times out and says what it lacked."""

    class Plain(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>not a dashboard</p>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "x.pdf"
        url = f"http://127.0.0.1:{server.server_port}/"
        code, output = run_snapshot(
            "--data-dir", str(demo_dir), "--out", str(out), "--url", url, "--timeout", "8"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert code != 0
    assert "Timed out" in output and "plotly graphs" in output
    assert not out.exists()


# --------------------------------------------------------------------------- header
def test_header_text_is_escaped(small_dir: Path) -> None:
    """The header is HTML built from registry text: markup in a title must stay text."""
    from dataclasses import replace

    data = load_trial_data(small_dir)
    hostile = replace(data, trial=replace(data.trial, title='<img src=x onerror="alert(1)">'))
    html_text = header_template(hostile, dt.date(2025, 6, 15))
    assert "<img" not in html_text and "&lt;img src=x" in html_text
    assert "2025-06-15" in html_text and "NCT04789850" in html_text


# --------------------------------------------------------------------------- basic auth
@needs_browser
@pytest.mark.browser
@pytest.mark.slow
def test_download_png_behind_basic_auth_logs_the_snapshot_in(small_dir: Path) -> None:
    """The app's "Download PNG" behind basic auth: the server's Chromium gets the user's
    credentials (only for the app's origin); without them the snapshot fails clearly."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from dashboard.app import create_app
    from dashboard.security import Auth, hash_password

    password = "correct horse battery staple"
    app = create_app(small_dir, auth=Auth({"pm": hash_password(password)}))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        data = load_trial_data(small_dir)
        with pytest.raises(SnapshotError, match="AUTH_CREDENTIALS|HTTP 401"):
            take_snapshot(Path("/nonexistent/never.png"), url=url, data=data, timeout=30)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
            try:
                context = browser.new_context(
                    viewport={"width": 1920, "height": 1080},
                    accept_downloads=True,
                    http_credentials={"username": "pm", "password": password},
                )
                page = context.new_page()
                page.goto(url + "?as_of=2025-06-15")
                page.wait_for_selector("#download-png", timeout=60_000)
                page.wait_for_function(
                    "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4",
                    timeout=60_000,
                )
                with page.expect_download(timeout=150_000) as info:
                    page.get_by_role("button", name="Download PNG").click()
                download = info.value
                assert download.suggested_filename == "NCT04789850-2025-06-15.png"
                body = Path(download.path()).read_bytes()
                width, height = png_size(body)
                assert width == 1920 and height > 1080
                assert page.locator("#snapshot-status").text_content() == ""
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


#: What a reader of the PNG sees: per print-table row whether it lies inside the page's
#: drawn area, and every control (button, input, grid) that takes up room on the page.
_PNG_VIEW_JS = """() => {
  const shown = el => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden';
  };
  const height = document.documentElement.scrollHeight;
  const rows = [...document.querySelectorAll('#print-sites tbody tr')].map(tr => ({
    text: tr.innerText,
    inside: shown(tr) && tr.getBoundingClientRect().bottom + window.scrollY <= height,
  }));
  const controls = [...document.querySelectorAll(
      'button, .btn, input, .Select, .dash-dropdown, .ag-root-wrapper, .export-menu')]
    .filter(shown)
    .map(el => el.outerHTML.slice(0, 80));
  return {rows, controls, height};
}"""


@needs_browser
@pytest.mark.browser
def test_png_view_shows_every_site_row_and_no_control(demo_dir: Path) -> None:
    """The PNG's view (snapshot mode, 1920 px, screen media): the 46 rows and no button.

    Drives the page the way ``take_snapshot`` does for a PNG (its own ``_SNAPSHOT_MODE_JS``
    on the real app), then reads the laid-out page, which is what the full-page
    screenshot photographs.
    """
    from playwright.sync_api import sync_playwright

    from dashboard import snapshot as snap

    sites = load_trial_data(demo_dir).sites
    with serve_app(demo_dir) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url)
            page.wait_for_selector("#sites-grid .ag-row", timeout=60_000)
            # The print table is filled after the first screen (take_snapshot waits for it).
            page.wait_for_selector("#print-sites table tbody tr", state="attached", timeout=60_000)
            before = page.evaluate(_PNG_VIEW_JS)
            assert before["controls"], "on screen the controls are there"
            assert not any(r["inside"] for r in before["rows"]), "print table hidden on screen"
            page.evaluate(snap._SNAPSHOT_MODE_JS)
            view = page.evaluate(_PNG_VIEW_JS)
        finally:
            browser.close()
    assert view["controls"] == []
    assert len(view["rows"]) == len(sites) == 46
    assert all(r["inside"] for r in view["rows"])
    for site, row in zip(sites.itertuples(), view["rows"], strict=True):
        assert row["text"].split("\t")[:3] == [site.site_id, site.facility, site.city]
