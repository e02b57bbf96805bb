"""The index page names what the first screen needs (lazy chunks, the map's basemap) so the
browser fetches them with the scripts (dashboard.page.preload); Chromium's use of them is
checked in tests/browser/test_page.py."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.app import create_app
from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.page.layout import error_page
from dashboard.page.preload import FIRST_SCREEN_CHUNKS, basemap_urls

PRELOAD = re.compile(r'<link rel="preload" as="(\w+)"(?: crossorigin="anonymous")? href="([^"]+)"')


def test_index_preloads_the_chunks_and_the_maps_basemap_all_served_here() -> None:
    app = create_app(SHIPPED_DATA_DIR, auth=None)
    client = app.server.test_client()
    links = PRELOAD.findall(client.get("/").get_data(as_text=True))
    scripts = [url for kind, url in links if kind == "script"]
    fetches = [url for kind, url in links if kind == "fetch"]
    assert [s.split("_dash-component-suites/")[1] for s in scripts] == list(FIRST_SCREEN_CHUNKS)
    # SCLERITA's sites are all in France: one Europe basemap cut to the map's frame.
    assert len(fetches) == 1 and fetches[0].endswith("/europe_50m.json")
    assert fetches == basemap_urls(app.layout())
    for url in scripts + fetches:
        assert url.startswith("/")  # same origin: offline first
        response = client.get(url)
        assert response.status_code == 200 and len(response.get_data()) > 1000


def test_no_basemap_hint_without_a_map(tmp_path: Path) -> None:
    assert basemap_urls(error_page("no data")) == []
    app = create_app(tmp_path / "missing", auth=None)  # never loads: the error page
    links = PRELOAD.findall(app.server.test_client().get("/").get_data(as_text=True))
    assert [kind for kind, _ in links] == ["script", "script"]
