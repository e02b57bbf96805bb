"""WCAG 2.1 AA in the real app: axe-core on every view, the main path by keyboard only.

axe-core (bundled by axe-playwright-python, injected into the test browser only) runs on
the dashboard at 1366 and 1920 px: on the hand-made data of tests/browser/conftest.py, on
the shipped demo, and after importing a real-style export (French Excel CSV without
activation dates, tests/helpers.py). No critical or serious violation may remain;
a moderate one only if the README's "Accessibility" section justifies it (tests/browser/
a11y.py: JUSTIFIED).

The keyboard test never touches the mouse: Tab from the top of the page to the as-of
date (typed), a status checkbox (Space), a row of the sites grid (Enter: the map and the
bars follow), then the PDF button (Enter), whose file must be tagged with a title and
the page's language.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR
from tests.browser.a11y import SHOW_GRID, assert_accessible
from tests.browser.conftest import open_page
from tests.helpers import CUTOFF as FIRST_DAY_CUTOFF
from tests.helpers import french_excel_csv, serve_data_dir

pytestmark = pytest.mark.browser

WIDTHS = (1366, 1920)


def _copy_of_shipped(root: Path) -> Path:
    shutil.copytree(
        SHIPPED_DATA_DIR, root, ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl")
    )
    return root


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_data_dir(_copy_of_shipped(tmp_path_factory.mktemp("a11y-demo") / "data"))


@pytest.fixture(scope="module")
def real_export_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shipped registry and sites with a real-style export imported (no activation
    dates): what a new user sees on the first day."""
    root = _copy_of_shipped(tmp_path_factory.mktemp("a11y-export") / "data")
    export = root.parent / "export.csv"
    export.write_bytes(french_excel_csv())
    result = CliRunner().invoke(
        main,
        ["import-enrollment", str(export), "--data-dir", str(root), "--cutoff", FIRST_DAY_CUTOFF],
    )
    assert result.exit_code == 0, result.output
    yield from serve_data_dir(root)


# ----------------------------------------------------------------------------- axe-core
@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_violation_on_the_test_data(browser_context, app_url, width):
    watched = open_page(browser_context, app_url + "/", viewport=(width, 900))
    try:
        assert_accessible(watched.page)
        watched.assert_clean()
    finally:
        watched.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_violation_on_the_shipped_demo(browser_context, demo_url, width):
    watched = open_page(browser_context, demo_url + "/", viewport=(width, 900))
    try:
        assert_accessible(watched.page)
        watched.assert_clean()
    finally:
        watched.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_violation_after_a_real_export(browser_context, real_export_url, width):
    watched = open_page(browser_context, real_export_url + "/", viewport=(width, 900))
    try:
        assert_accessible(watched.page)
        watched.assert_clean()
    finally:
        watched.close()


def test_a_selection_and_an_early_date_stay_accessible(browser_context, app_url):
    """Dimmed rows, highlighted bars and an as-of date before any patient: still AA."""
    watched = open_page(browser_context, app_url + "/?as_of=2023-01-15", viewport=(1366, 900))
    try:
        page = watched.page
        page.wait_for_function(
            "() => document.querySelector('#as-of-value').textContent === '2023-01-15'",
            timeout=30_000,
        )
        assert page.evaluate(SHOW_GRID)
        page.locator('#sites-grid .ag-row[row-id="05"] [col-id="facility"]').click()
        page.wait_for_selector('#sites-grid .ag-row[row-id="05"].row-selected', timeout=20_000)
        assert_accessible(page)
        watched.assert_clean()
    finally:
        watched.close()


# ----------------------------------------------------------------------------- charts in words
def test_each_chart_is_named_and_summarised(browser_context, app_url):
    watched = open_page(browser_context, app_url + "/?as_of=2024-06-30", viewport=(1366, 900))
    try:
        page = watched.page
        page.wait_for_function(
            "() => (document.querySelector('#accrual-summary') || {}).textContent"
            "?.includes('as of 2024-06-30')",
            timeout=30_000,
        )
        figures = page.evaluate(
            """() => [...document.querySelectorAll('[role=figure]')].map(f => ({
                name: f.getAttribute('aria-label'),
                text: document.getElementById(f.getAttribute('aria-describedby')).textContent,
            }))"""
        )
        names = [f["name"] for f in figures]
        assert names == [
            "Map of the sites",
            "Accrual over time",
            "Randomized per site",
            "Site activation to first randomization",
        ]
        text = {f["name"]: f["text"] for f in figures}
        # Hand counts as of 2024-06-30 (tests/browser/conftest.py): 8 screened, 6 randomized.
        assert text["Accrual over time"].startswith(
            "Accrual: 6 of 74 randomized as of 2024-06-30 (8 screened); plan 74 by 2026-02-28"
        )
        # Randomized by then: 32 ×2 (one completed), 34, 05 (withdrawn), 42, 22.
        assert text["Randomized per site"].startswith(
            "Randomized per site: 6 randomized at 5 of 46 sites; most: site 32 "
        )
        assert "5 with at least one randomized patient, 41 none yet" in text["Map of the sites"]
        # The data behind the bars, as a table: site 32 has 2 randomized.
        page.locator("#panel-bars details.chart-data > summary").click()
        row = page.locator("#site-bars-data tbody tr", has_text="32").first
        assert row.locator("td").nth(2).inner_text() == "2"
        watched.assert_clean()
    finally:
        watched.close()


# ----------------------------------------------------------------------------- keyboard
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  return {
    id: e.id, tag: e.tagName.toLowerCase(), type: e.type || '', value: e.value || '',
    role: e.getAttribute('role') || '', cls: (e.className || '').toString().slice(0, 80), text: (e.textContent || '').trim().slice(0, 40),
    rowId: e.closest('[row-id]') ? e.closest('[row-id]').getAttribute('row-id') : null,
    inGrid: !!e.closest('#sites-grid'),
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
  };
}"""


def tab_to(page, wanted, seen: list[dict], limit: int = 60) -> dict:
    """Press Tab until the focused element satisfies ``wanted``; every stop goes to ``seen``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        seen.append(focused)
        if focused and wanted(focused):
            return focused
    raise AssertionError(f"not reached with Tab; stops: {seen[-12:]}")


def wait_text(page, selector: str, expected: str) -> None:
    page.wait_for_function(
        "([s, w]) => { const e = document.querySelector(s); return e && e.textContent.trim() === w; }",
        arg=[selector, expected],
        timeout=90_000,  # a recount with a new forecast, on a busy machine
        polling=100,
    )


def test_main_path_by_keyboard_only(browser_context, app_url):
    """As of a date, a status, a site from the grid, the PDF: Tab, typing, Space, Enter."""
    import pypdf

    watched = open_page(browser_context, app_url + "/", viewport=(1366, 900))
    page = watched.page
    seen: list[dict] = []
    try:
        # The first stop is the skip link, to the main landmark.
        first = tab_to(page, lambda f: True, seen, limit=1)
        assert first["text"] == "Skip to content" and first["ring"]
        assert page.locator("main#main-content").count() == 1

        # The as-of date: typed into the native date field (month, day, year), Enter.
        date = tab_to(page, lambda f: f["id"] == "as-of-date", seen)
        assert date["ring"]
        page.keyboard.type("06302024")
        assert page.locator("#as-of-date").input_value() == "2024-06-30"
        page.keyboard.press("Enter")
        wait_text(page, "#as-of-value", "2024-06-30")
        wait_text(page, "#kpi-randomized-value", "6")
        assert "as_of=2024-06-30" in page.url

        # A status: Space ticks the checkbox; the sites of that status are selected.
        box = tab_to(page, lambda f: f["type"] == "checkbox", seen)
        assert box["ring"]
        page.keyboard.press("Space")
        recruiting = page.locator(
            "#status-filter input[type=checkbox]:checked + label, "
            "#status-filter input[type=checkbox]:checked ~ label"
        ).first.inner_text()
        count = int(re.search(r"\((\d+)\)", recruiting).group(1))
        wait_text(page, "#selection-text", f"{count} of 46 sites selected")
        page.keyboard.press("Space")  # untick: every status again
        wait_text(page, "#selection-text", "No selection")

        # Clear selection and both snapshot buttons come next, each with a ring.
        clear = tab_to(page, lambda f: f["id"] == "clear-selection", seen)
        pdf = tab_to(page, lambda f: f["id"] == "download-pdf", seen)
        assert clear["ring"] and pdf["ring"]

        # The grid: Tab reaches it; the arrows (from a header cell) or Tab (from a header
        # row) lead to a site's row; Enter on it selects that site.
        focused = tab_to(page, lambda f: f["inGrid"], seen, limit=300)
        print("Tab stops from the top to the sites grid:", len(seen))
        # Tabbing in, AG Grid first focuses the header row, then (in a task of its own) the
        # header cell it restores; a Tab pressed before that leaves the grid. A person is not
        # that fast: wait for the focus to settle.
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                """() => { const e = document.activeElement;
                    return !!e && !!e.closest('#sites-grid') && !e.classList.contains('ag-header-row'); }""",
                timeout=3_000,
            )
        focused = page.evaluate(FOCUSED)
        in_grid: list[dict] = [focused]
        for _ in range(60):
            if focused and focused["rowId"]:
                break
            grid_cell = focused and focused["role"] in ("columnheader", "gridcell")
            page.keyboard.press("ArrowDown" if grid_cell else "Tab")
            focused = page.evaluate(FOCUSED)
            in_grid.append(focused)
        assert focused and focused["rowId"] and focused["ring"], [str(f) for f in in_grid[:4]]
        site = focused["rowId"]
        page.keyboard.press("Enter")
        wait_text(page, "#selection-text", "1 of 46 sites selected")
        page.wait_for_selector(f'#sites-grid .ag-row[row-id="{site}"].row-selected', timeout=20_000)
        # The charts follow: the site's bar is outlined (line width 2), the others not.
        page.wait_for_function(
            """site => {
                const gd = document.querySelector('#site-bars .js-plotly-plot');
                for (const t of gd.data) {
                    const i = (t.customdata || []).findIndex(c => c[0] === site);
                    if (t.type === 'bar' && i >= 0) return t.marker.line.width[i] === 2;
                }
                return false;
            }""",
            arg=site,
            timeout=20_000,
        )
        page.keyboard.press("Enter")  # again: unselected
        wait_text(page, "#selection-text", "No selection")

        # No keyboard trap: Tab leaves the grid for the rest of the page.
        after = tab_to(page, lambda f: f is None or not f["inGrid"], seen, limit=60)
        assert after is None or not after["inGrid"]

        # Back to the PDF button with Shift+Tab, Enter: the snapshot of 2024-06-30.
        for _ in range(200):
            page.keyboard.press("Shift+Tab")
            if (page.evaluate(FOCUSED) or {}).get("id") == "download-pdf":
                break
        assert page.evaluate(FOCUSED)["id"] == "download-pdf"
        with page.expect_download(timeout=120_000) as download:
            page.keyboard.press("Enter")
        body = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename == "NCT04789850-2024-06-30.pdf"
        reader = pypdf.PdfReader(io.BytesIO(body))
        catalog = reader.trailer["/Root"]
        assert "/StructTreeRoot" in catalog  # tagged: a structure tree for screen readers
        assert catalog["/MarkInfo"]["/Marked"]
        assert catalog["/Lang"] == "en"
        assert reader.metadata.title == "SCLERITA (NCT04789850) recruitment as of 2024-06-30"
        watched.assert_clean()
    finally:
        watched.close()
