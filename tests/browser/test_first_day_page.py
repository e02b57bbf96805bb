"""The page in headless Chromium on a new user's first day (tests/test_first_day.py's data).

A copy of the shipped data dir, the French Excel export imported (no activation dates:
the normal first day), then the same with some dates typed (one after its site's first
randomization), and the page opened as of a date before the trial start. Each page must
draw every figure with a clean console; the counts are the hand counts of
tests/test_first_day.py. (The snapshot of the same data: tests/test_first_day.py.)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR
from tests.browser.conftest import open_page
from tests.helpers import CUTOFF, TYPED, french_excel_csv, serve_data_dir, type_into_sites

pytestmark = pytest.mark.browser


def _first_day_dir(root: Path, typed: dict) -> Path:
    shutil.copytree(
        SHIPPED_DATA_DIR, root, ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl")
    )
    type_into_sites(root, typed)
    export = root.parent / "export.csv"
    export.write_bytes(french_excel_csv())
    result = CliRunner().invoke(
        main, ["import-enrollment", str(export), "--data-dir", str(root), "--cutoff", CUTOFF]
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def no_dates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _first_day_dir(tmp_path_factory.mktemp("no-dates") / "data", {})


@pytest.fixture(scope="module")
def no_dates_url(no_dates_dir: Path) -> Iterator[str]:
    yield from serve_data_dir(no_dates_dir)


@pytest.fixture(scope="module")
def partial_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_data_dir(_first_day_dir(tmp_path_factory.mktemp("partial") / "data", TYPED))


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def test_page_with_no_activation_dates(browser_context, no_dates_url):
    watched = open_page(browser_context, no_dates_url + "/")
    try:
        page = watched.page
        assert _text(page, "#kpi-randomized-value") == "4"
        assert _text(page, "#kpi-screened-value") == "6"
        timeline = _text(page, "#site-activation")
        assert "no activation date" in timeline
        assert "registry says not yet recruiting" in _text(page, "#sites-grid")
        page.screenshot(
            path=str(Path(tempfile.gettempdir()) / "issue11-no-dates.png"), full_page=True
        )
        watched.assert_clean()
    finally:
        watched.close()


def test_page_with_partial_activation_dates(browser_context, partial_url):
    watched = open_page(browser_context, partial_url + "/")
    try:
        page = watched.page
        assert _text(page, "#kpi-randomized-value") == "4"
        timeline = _text(page, "#site-activation")
        assert "activation date after first patient" in timeline  # site 12's typo, drawn
        assert "no activation date" in timeline  # sites 22 and 31 have none
        assert "Data: activation date after first randomization" in _text(page, "#sites-grid")
        page.screenshot(
            path=str(Path(tempfile.gettempdir()) / "issue11-partial.png"), full_page=True
        )
        watched.assert_clean()
    finally:
        watched.close()


def test_page_as_of_before_the_trial_start(browser_context, partial_url):
    watched = open_page(browser_context, partial_url + "/?as_of=2022-12-01")
    try:
        page = watched.page
        page.wait_for_selector("#before-start", timeout=30_000)
        assert "before the trial start 2023-02-02" in _text(page, "#before-start")
        assert _text(page, "#kpi-randomized-value") == "0"
        page.screenshot(
            path=str(Path(tempfile.gettempdir()) / "issue11-before-start.png"), full_page=True
        )
        watched.assert_clean()
    finally:
        watched.close()
