"""The dashboard page in headless Chromium: what a PM sees, clicks and downloads.

Counts are the hand-counted ones of tests/browser/conftest.py. Every page must end with a
clean console and without a single request to another host than the app's.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.browser.conftest import (
    DASH_RESPONSES,
    EVIL_FACILITY,
    EVIL_SITE,
    Watched,
    open_page,
    wait_until_drawn,
)

pytestmark = pytest.mark.browser

#: The site id of a plotly point element (only a trace's first calcdata point holds the trace).
SITE_OF_POINT = """(p) => {
    const trace = p.closest('g.trace').__data__[0].trace;
    const c = trace.customdata[p.__data__.i];  // [site id, what the hover shows...]
    return String(Array.isArray(c) ? c[0] : c);
  }"""

#: Centre (viewport px) of the marker(s) of one site: [{geo, x, y}], main map and inset.
MARKER_CENTRES = (
    """(sid) => {
  const siteOf = """
    + SITE_OF_POINT
    + """;
  const out = [];
  for (const g of document.querySelectorAll('#site-map g.geo')) {
    const geo = g.classList.contains('geo2') ? 'geo2' : 'geo';
    for (const p of g.querySelectorAll('path.point')) {
      if (siteOf(p) === sid) {
        const r = p.getBoundingClientRect();
        out.push({geo: geo, x: r.x + r.width / 2, y: r.y + r.height / 2});
      }
    }
  }
  return out;
}"""
)

MAIN_MAP_SITE_IDS = (
    """() => {
  const siteOf = """
    + SITE_OF_POINT
    + """;
  return [...document.querySelectorAll('#site-map g.geo:not(.geo2) path.point')].map(siteOf);
}"""
)


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def wait_text(page, selector: str, expected: str, timeout_ms: float = 30_000) -> None:
    page.wait_for_function(
        """([sel, want]) => {
            const el = document.querySelector(sel);
            return el !== null && el.textContent.trim() === want;
        }""",
        arg=[selector, expected],
        timeout=timeout_ms,
        polling=100,
    )


@pytest.fixture(scope="module")
def loaded(browser_context, app_url) -> Iterator[Watched]:
    """One page at 1920×1080 for the read-only checks."""
    watched = open_page(browser_context, app_url + "/")
    yield watched
    watched.assert_clean()
    watched.close()


@pytest.fixture
def fresh(browser_context, app_url) -> Iterator[Watched]:
    watched = open_page(browser_context, app_url + "/")
    yield watched
    watched.assert_clean()
    watched.close()


# ----------------------------------------------------------------------------- what is shown
def test_title_sponsor_and_registry_link(loaded):
    page = loaded.page
    assert loaded.draw_seconds < 60
    title = text(page, "#page-title")
    assert "SCLERITA" in title and "Itacitinib" in title
    assert "SYNTHETIC" not in title  # this data set says synthetic: false
    link = page.locator("#nct-link")
    assert "NCT04789850" in link.inner_text()
    assert link.get_attribute("href") == "https://clinicaltrials.gov/study/NCT04789850"
    assert "Assistance Publique" in text(page, ".facts")
    assert text(page, "#data-cutoff") == "2025-06-30"
    assert page.title() == "Recruitment dashboard"


def test_kpis_match_hand_counts(loaded):
    page = loaded.page
    assert text(page, "#kpi-randomized-value") == "9"
    assert text(page, "#kpi-randomized-pct") == "12.2 %"
    assert text(page, "#kpi-screened-value") == "12"
    assert text(page, "#kpi-screen-fail") == "2 screen failures (16.7 %)"
    assert text(page, "#kpi-sites-value") == "43"
    assert text(page, "#kpi-sites-enrolling") == "6 have randomized ≥ 1"
    # The week (06-23, 06-30]: PX-TEST-0012 was screened on 06-20, nothing else moved.
    assert text(page, "#kpi-sites-delta") == "no new site enrolling this week"
    assert (
        page.locator("#kpi-week").text_content().startswith("This week · 2025-06-24 – 2025-06-30")
    )
    assert text(page, "#kpi-week-none") == "No change this week"


def test_every_site_is_a_marker_on_the_main_map(loaded):
    ids = loaded.page.evaluate(MAIN_MAP_SITE_IDS)
    assert len(ids) == 46
    assert sorted(ids) == [f"{i:02d}" for i in range(1, 47)]
    inset = loaded.page.locator("#site-map g.geo2 path.point").count()
    assert inset == 8  # Paris ×5, Boulogne-Billancourt, Bobigny, Créteil


@pytest.mark.parametrize("geo", ["geo", "geo2"])
def test_co_located_paris_sites_are_each_hoverable(loaded, geo):
    page = loaded.page
    for sid in ("32", "33"):  # the two La Pitié-Salpêtrière sites share one point
        centre = next(c for c in page.evaluate(MARKER_CENTRES, sid) if c["geo"] == geo)
        page.mouse.move(5, 5)
        page.mouse.move(centre["x"], centre["y"])
        page.wait_for_function(
            """(want) => [...document.querySelectorAll('#site-map .hoverlayer .hovertext')]
                 .some(h => h.textContent.includes(want))""",
            arg=f"site {sid}",
            timeout=10_000,
            polling=100,
        )
        hover = page.locator("#site-map .hoverlayer .hovertext").first.text_content()
        assert "La Pitié-Salpêtrière" in hover
        assert "Paris" in hover
        assert f"site {sid}" in hover
    page.mouse.move(5, 5)


def test_graphs_are_drawn_by_the_served_partial_plotly_js(loaded):
    """dcc.Graph found the app's own plotly.js (tools/plotly-bundle) and never fetched Dash's
    full bundle; it is Dash's plotly.js version, with the page's four trace types."""
    from plotly.offline import get_plotlyjs_version

    page = loaded.page
    assert page.evaluate("window.Plotly.version") == get_plotlyjs_version()
    traces = page.evaluate("Object.keys(window.Plotly.PlotSchema.get().traces).sort()")
    assert traces == ["bar", "choropleth", "scatter", "scattergeo"]
    scripts = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => /\\.js\\b/.test(n))"
    )
    assert any("/assets/plotly-partial.min.js" in s for s in scripts)
    assert not any("plotly.min.js" in s for s in scripts), scripts
    # plotly.js turns a trace of a type it lacks into a scatter: none may be turned.
    turned = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(g =>
             g._fullData.filter(t => (g.data[t.index].type || 'scatter') !== t.type)
               .map(t => g.id + ': ' + g.data[t.index].type))"""
    )
    assert turned == []


def test_preloaded_chunks_and_basemap_are_fetched_once(browser_context, app_url):
    """The index's preload hints are used, not fetched a second time (dashboard.page.preload)."""
    page = browser_context.new_page()
    try:
        cdp = browser_context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # a first visit
        requested: list[str] = []
        cdp.on("Network.requestWillBeSent", lambda e: requested.append(e["request"]["url"]))
        messages: list[str] = []
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.goto(app_url + "/")
        wait_until_drawn(page)
        page.wait_for_load_state("networkidle")
        for name in ("/async-graph.js", "/async-community.js", "/europe_50m.json"):
            assert sum(url.split("?")[0].endswith(name) for url in requested) == 1, name
        assert not [m for m in messages if "preload" in m], messages
    finally:
        page.close()


def test_table_has_one_row_per_site(loaded):
    page = loaded.page
    assert page.locator("#sites-grid .ag-center-cols-container .ag-row").count() == 46
    wait_text(page, "#sites-grid-count", "46 sites")


def test_no_patient_level_data_reaches_the_browser(loaded):
    assert DASH_RESPONSES, "layout and callback responses were recorded"
    for body in DASH_RESPONSES:
        assert "PX-TEST" not in body
        assert "patient_id" not in body
    assert "PX-TEST" not in loaded.page.content()


def _download(page, menu: str, item: str, tmp_path, timeout_ms: float = 30_000):
    """Open a panel's "Export" menu, click an item, return (suggested name, bytes)."""
    page.locator(f"#{menu} .dropdown-toggle").click()
    with page.expect_download(timeout=timeout_ms) as info:
        page.locator(f"#{item}").click()
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, path.read_bytes()


def test_export_menu_downloads_formula_safe_sites_csv(loaded, tmp_path):
    page = loaded.page
    name, raw = _download(page, "download-sites-menu", "export-sites-csv", tmp_path)
    assert name == "NCT04789850-sites-as-of-2025-06-30.csv"  # real data: no -DEMO
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("site_id,facility,city,status,")
    assert len(lines) == 47  # header + 46 sites, no patient row
    rows = {r["site_id"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert rows[EVIL_SITE]["facility"] == "'" + EVIL_FACILITY  # text, never a formula
    assert rows["32"]["randomized"] == "3" and rows["22"]["randomized"] == "2"  # by hand
    assert b"PX-TEST" not in raw and b"patient_id" not in raw


def test_export_menu_downloads_sites_xlsx_and_accrual(loaded, tmp_path):
    import openpyxl

    page = loaded.page
    name, raw = _download(page, "download-sites-menu", "export-sites-xlsx", tmp_path)
    assert name == "NCT04789850-sites-as-of-2025-06-30.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(raw))
    about = {row[0]: row[1] for row in workbook["About"].iter_rows(values_only=True)}
    assert about["Trial id"] == "NCT04789850" and about["Synthetic data"] == "no"
    assert about["As of"].date().isoformat() == "2025-06-30"
    sheet = workbook.active
    assert sheet.max_row == 47
    evil = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == EVIL_SITE)[1]
    assert evil.value == "'" + EVIL_FACILITY and evil.data_type == "s"
    name, raw = _download(page, "download-accrual-menu", "export-accrual-csv", tmp_path)
    assert name == "NCT04789850-accrual-as-of-2025-06-30.csv"
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "date,screened,randomized"
    assert lines[1] == "2023-02-02,0,0" and lines[-1] == "2025-06-30,12,9"  # hand counts


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_download_pdf_is_the_snapshot_of_the_as_of_date(browser_context, app_url, tmp_path):
    """Chromium on the server renders this page at ?as_of= and the PDF comes back."""
    watched = open_page(browser_context, app_url + "/?as_of=2024-06-30")
    try:
        page = watched.page
        wait_text(page, "#kpi-randomized-value", "6")
        with page.expect_download(timeout=150_000) as info:
            page.get_by_role("button", name="Download PDF").click()
            # Rendering takes seconds: the buttons say so meanwhile.
            page.wait_for_selector("#download-pdf[disabled]", timeout=10_000)
            assert page.locator("#download-png").is_disabled()
            assert page.locator("#snapshot-busy").is_visible()
        download = info.value
        assert download.suggested_filename == "NCT04789850-2024-06-30.pdf"
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        assert path.read_bytes().startswith(b"%PDF-")
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "NCT04789850" in text
        assert "As of 2024-06-30" in text  # the running header: the page's as-of date
        assert re.search(r"\b6\s*/\s*74\b", text)  # randomized by then
        assert "PX-TEST" not in text
        page.wait_for_selector("#download-pdf:not([disabled])", timeout=10_000)
        assert text_of_status(page) == ""
        watched.assert_clean()
    finally:
        watched.close()


def text_of_status(page) -> str:
    return page.locator("#snapshot-status").text_content().strip()


# ----------------------------------------------------------------------------- interaction
def test_as_of_picker_recounts_everything(fresh):
    page = fresh.page
    picker = page.locator("input#as-of-date")
    picker.fill("2024-06-30")
    picker.press("Enter")
    wait_text(page, "#kpi-randomized-value", "6")
    assert text(page, "#kpi-screened-value") == "8"
    assert text(page, "#as-of-value") == "2024-06-30"
    # The print table (PDF/PNG) is recounted too: columns 6 and 7 are screened, randomized.
    page.wait_for_function(
        """() => {
            const sum = n => [...document.querySelectorAll(
                `#print-sites tbody td:nth-child(${n})`)].reduce((a, td) => a + Number(td.textContent), 0);
            return sum(6) === 8 && sum(7) === 6;
        }""",
        timeout=20_000,
    )
    assert "as_of=2024-06-30" in page.url
    # An as-of date before the cut-off is never stale.
    assert page.locator("#stale-cutoff").count() == 0
    page.wait_for_function(
        """() => {
            const gd = document.querySelector('#accrual-chart .js-plotly-plot');
            const r = gd && gd.data.find(t => (t.name || '').startsWith('Randomized'));
            return r && r.y[r.y.length - 1] === 6;
        }""",
        timeout=20_000,
    )
    # After the cut-off by more than 14 days: counts stop at the cut-off, and the page says so.
    picker.fill("2025-08-01")
    picker.press("Enter")
    page.wait_for_selector("#stale-cutoff", timeout=30_000)
    assert "32 days before the as-of date" in text(page, "#stale-cutoff")
    assert text(page, "#kpi-randomized-value") == "9"


def test_as_of_in_the_url_is_bookmarkable(browser_context, app_url):
    watched = open_page(browser_context, app_url + "/?as_of=2024-06-30")
    try:
        wait_text(watched.page, "#kpi-randomized-value", "6")
        assert watched.page.locator("input#as-of-date").input_value() == "2024-06-30"
        watched.assert_clean()
    finally:
        watched.close()


def test_clicking_a_marker_selects_the_site_everywhere(fresh):
    page = fresh.page
    wait_text(page, "#selection-text", "No selection")
    centre = next(c for c in page.evaluate(MARKER_CENTRES, "42") if c["geo"] == "geo")
    page.mouse.click(centre["x"], centre["y"])
    wait_text(page, "#selection-text", "1 of 46 sites selected")
    page.wait_for_selector('#sites-grid .ag-row[row-id="42"].row-selected', timeout=20_000)
    assert page.locator("#sites-grid .ag-row.row-dimmed").count() >= 40
    bar_width = page.evaluate(
        """() => {
            const gd = document.querySelector('#site-bars .js-plotly-plot');
            for (const t of gd.data) {
                const i = (t.customdata || []).findIndex(c => c[0] === '42');
                if (t.type === 'bar' && i >= 0) return t.marker.line.width[i];
            }
            return null;
        }"""
    )
    assert bar_width == 2
    # Clicking the same marker again toggles it off.
    page.mouse.click(centre["x"], centre["y"])
    wait_text(page, "#selection-text", "No selection")
    # A table row selects too; "Clear selection" clears.
    page.locator('#sites-grid .ag-row[row-id="05"] [col-id="facility"]').click()
    wait_text(page, "#selection-text", "1 of 46 sites selected")
    page.wait_for_selector('#sites-grid .ag-row[row-id="05"].row-selected', timeout=20_000)
    page.locator("#clear-selection").click()
    wait_text(page, "#selection-text", "No selection")
    assert page.locator("#sites-grid .ag-row.row-dimmed").count() == 0


def test_readable_at_1366x768(browser_context, app_url):
    watched = open_page(browser_context, app_url + "/", viewport=(1366, 768))
    try:
        page = watched.page
        overflow = page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= 1366
        for card in ("#kpi-randomized", "#kpi-pace", "#panel-map"):
            box = page.locator(card).bounding_box()
            assert box is not None and box["width"] > 150
        map_box = page.locator("#site-map").bounding_box()
        assert map_box["width"] >= 560  # map and accrual share the width at 1366 px
        watched.assert_clean()
    finally:
        watched.close()


def test_reload_shows_current_files(browser_context, app_url, browser_data_dir):
    """Replacing the enrollment on disk shows on the next page load (no restart)."""
    enrollment = browser_data_dir / "enrollment.csv"
    original = enrollment.read_text(encoding="utf-8")
    extra = "PX-TEST-0013,42,2025-06-21,2025-06-29,RANDOMIZED\n"
    try:
        enrollment.write_text(original + extra, encoding="utf-8")
        watched = open_page(browser_context, app_url + "/")
        try:
            wait_text(watched.page, "#kpi-randomized-value", "10")
            watched.assert_clean()
        finally:
            watched.close()
    finally:
        enrollment.write_text(original, encoding="utf-8")


# ----------------------------------------------------------------------------- forecast
#: A whole percentage as the probability card words it: "37 %", "< 1 %", "> 99 %", "100 %".
PERCENT = re.compile(r"^(?:[<>] )?\d{1,3} %$")

#: (first x of the 80 % band, legend text of the accrual chart) as drawn.
BAND = """() => {
  const gd = document.querySelector('#accrual-chart .js-plotly-plot');
  const band = gd && gd.data.find(t => (t.name || '').endsWith('80 % interval'));
  const legend = [...document.querySelectorAll('#accrual-chart .legendtext')]
    .map(e => e.textContent);
  const fills = document.querySelectorAll('#accrual-chart .scatterlayer .trace path.js-fill');
  return band ? {start: band.x[0], legend: legend, fills: fills.length} : null;
}"""


def _forecast_state(page) -> dict:
    return {
        "value": text(page, "#kpi-forecast-probability-value"),
        "card": page.locator("#kpi-forecast-probability").text_content(),
        "date": text(page, "#kpi-forecast-date-value"),
        "band": page.evaluate(BAND),
    }


def test_forecast_band_and_probability_follow_the_as_of_date(browser_context, app_url):
    watched = open_page(browser_context, app_url + "/?as_of=2024-06-30")
    try:
        page = watched.page
        wait_text(page, "#kpi-randomized-value", "6")
        page.wait_for_function(
            "() => { const b = (" + BAND + ")(); return b && b.start === '2024-06-30'; }",
            timeout=30_000,
        )
        early = _forecast_state(page)
        picker = page.locator("input#as-of-date")
        picker.fill("2025-06-30")
        picker.press("Enter")
        wait_text(page, "#kpi-randomized-value", "9")
        page.wait_for_function(
            "() => { const b = (" + BAND + ")(); return b && b.start === '2025-06-30'; }",
            timeout=30_000,
        )
        late = _forecast_state(page)
        for state in (early, late):
            assert PERCENT.match(state["value"]), state["value"]
            assert state["card"].startswith("P(74 by 2026-02-28)")
            assert re.search(r"expected \d+ \(\d+–\d+\) by then", state["card"])
            assert re.match(r"^\d{4}-\d{2}-\d{2}$", state["date"]), state["date"]
            assert "Forecast 80 % interval" in state["band"]["legend"]
            assert "Forecast 95 % interval" in state["band"]["legend"]
            assert state["band"]["fills"] >= 2  # both bands are filled areas
            assert any(t.startswith("Linear trend: 74 on ") for t in state["band"]["legend"])
        assert early["card"] != late["card"]
        assert early["date"] != late["date"]
        watched.assert_clean()
    finally:
        watched.close()
