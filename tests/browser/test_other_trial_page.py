"""The page of another trial: the 15-site multinational record, started with `init`.

Its data dir is made as a new user would (init from the record, offline geocodes, import
of its own export); the expected numbers are counted by hand from the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from tests.helpers import serve_data_dir

from .conftest import open_page

pytestmark = pytest.mark.browser

DATA = Path(__file__).parent.parent / "data"
AS_OF = "2025-09-30"

#: Marker traces of the main map (lat/lon as drawn), the geo frame's ranges, and where each
#: drawn marker sits against the frame rectangle on screen.
PROBE = """() => {
  const gd = document.querySelector('#site-map .js-plotly-plot');
  const markers = gd.data.filter(t => t.type === 'scattergeo' && t.mode === 'markers'
                                      && (t.geo || 'geo') === 'geo');
  const frame = document.querySelector('#site-map g.geo:not(.geo2) .bg rect')
                        .getBoundingClientRect();
  const points = [...document.querySelectorAll('#site-map g.geo:not(.geo2) path.point')]
    .map(p => { const r = p.getBoundingClientRect();
                return [r.x + r.width / 2, r.y + r.height / 2]; });
  return {
    ids: markers.flatMap(t => t.customdata.map(c => c[0])),
    lat: markers.flatMap(t => t.lat), lon: markers.flatMap(t => t.lon),
    lonRange: gd.layout.geo.lonaxis.range, latRange: gd.layout.geo.lataxis.range,
    frame: [frame.left, frame.top, frame.right, frame.bottom],
    points: points,
    text: document.body.innerText + ' ' + document.querySelector('#site-map').textContent,
  };
}"""


@pytest.fixture(scope="module")
def multinational_url(tmp_path_factory) -> Iterator[str]:

    data_dir = tmp_path_factory.mktemp("orkids") / "data"
    runner = CliRunner()
    for args in (
        ["init", str(data_dir), "--registry", str(DATA / "registry" / "NCT09000015.json")],
        ["import-enrollment", str(DATA / "NCT09000015-export.csv"), "--cutoff", AS_OF],
    ):
        if args[0] != "init":
            args += ["--data-dir", str(data_dir)]
        result = runner.invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output

    yield from serve_data_dir(data_dir)


def test_multinational_page_draws_every_site_inside_its_own_map(browser_context, multinational_url):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{multinational_url}/?as_of={AS_OF}")
    page.wait_for_function(
        "() => document.querySelectorAll('#site-map g.geo:not(.geo2) path.point').length >= 15"
        " && document.querySelectorAll('#sites-grid .ag-row').length > 0",
        timeout=60_000,
    )
    found = page.evaluate(PROBE)
    page.close()
    assert errors == []
    assert sorted(found["ids"]) == [f"{i:02d}" for i in range(1, 16)]
    lon0, lon1 = found["lonRange"]
    lat0, lat1 = found["latRange"]
    outside = [
        (sid, lat, lon)
        for sid, lat, lon in zip(found["ids"], found["lat"], found["lon"], strict=True)
        if not (lon0 <= lon <= lon1 and lat0 <= lat <= lat1)
    ]
    assert outside == []
    # On screen too: the 15 drawn markers' centres lie inside the map's frame rectangle.
    left, top, right, bottom = found["frame"]
    assert len(found["points"]) == 15
    assert all(left <= x <= right and top <= y <= bottom for x, y in found["points"])
    text = found["text"]
    assert "NCT09000015" in text
    assert "/ 120" in text or "Target 120" in text
    for wording in ("SCLERITA", "Île-de-France", "360 days", "Paris area"):
        assert wording not in text


def test_sclerita_page_keeps_its_paris_inset(browser_context, app_url):
    watched = open_page(browser_context, app_url)
    title = watched.page.evaluate(
        "() => document.querySelector('#site-map .js-plotly-plot').layout.annotations[0].text"
    )
    inset = watched.page.locator("#site-map g.geo2 path.point").count()
    watched.close()
    assert title == "<b>Paris</b> area"
    assert inset == 8
