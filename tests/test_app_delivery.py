"""What the app sends the browser: compressed bodies, an index page without the data, a
grid that draws only the rows in view when there are thousands."""

from __future__ import annotations

import re

import pytest

from dashboard.app import create_app
from dashboard.page import ids as ids_module
from dashboard.page.components import grid as grid_module

ACCEPT = {"Accept-Encoding": "gzip, deflate, br, zstd"}


@pytest.fixture(scope="module")
def client():
    from dashboard.datadir import SHIPPED_DATA_DIR

    return create_app(SHIPPED_DATA_DIR, auth=None).server.test_client()


def test_index_page_carries_ids_not_the_first_page(client):
    page = client.get("/").get_data(as_text=True)
    assert len(page) < 40_000  # the first page's figures were embedded twice (~130 kB)
    for ident in (
        ids_module.MAP,
        ids_module.ACCRUAL,
        ids_module.BARS,
        ids_module.ACTIVATION,
        ids_module.GRID,
        ids_module.AS_OF,
        ids_module.SELECTION,
    ):
        assert f'"{ident}"' in page
    assert "hovertext" not in page and "rowData" not in page


def test_bundles_are_compressed_once_and_served_from_the_cache(client):
    page = client.get("/").get_data(as_text=True)
    bundle = re.search(
        r'src="(/_dash-component-suites/plotly/[^"]+|[^"]*dash_renderer[^"]+)"', page
    )
    assert bundle is not None
    first = client.get(bundle.group(1), headers=ACCEPT)
    assert first.headers["Content-Encoding"] in ("zstd", "br", "gzip")
    plain = client.get(bundle.group(1))
    assert "Content-Encoding" not in plain.headers
    assert len(first.get_data()) < len(plain.get_data()) / 2
    assert client.get(bundle.group(1), headers=ACCEPT).get_data() == first.get_data()


def test_data_responses_are_compressed_and_never_cached(client):
    first = client.get("/_dash-layout", headers=ACCEPT)
    assert first.headers["Content-Encoding"] in ("zstd", "br", "gzip")
    assert first.headers["Cache-Control"] == "no-store"
    topo = client.get("/assets/topojson/europe_50m.json", headers=ACCEPT)
    assert topo.status_code == 200 and topo.headers.get("Content-Encoding")


def test_the_grid_draws_every_row_up_to_a_few_hundred_sites():
    rows = [{"site_id": f"{i:04d}"} for i in range(grid_module.GRID_ALL_ROWS_MAX)]
    assert grid_module.sites_grid(rows).dashGridOptions["suppressRowVirtualisation"] is True
    rows.append({"site_id": "9999"})
    assert grid_module.sites_grid(rows).dashGridOptions["suppressRowVirtualisation"] is False


def test_the_trimmed_topojson_keeps_france_corsica_and_the_neighbours(client):
    import json

    # The map's topojsonURL is the basemap folder cut to the shipped trial's frame.
    layout = client.get("/_dash-layout").get_data(as_text=True)
    url = json.loads('"' + re.search(r'"topojsonURL":\s*"([^"]+)"', layout).group(1) + '"')
    assert url.startswith("/assets/topojson/") and url != "/assets/topojson/"
    served = client.get(url + "europe_50m.json")
    assert served.status_code == 200
    body = served.get_data()
    topo = json.loads(body)
    assert set(topo["objects"]) >= {"coastlines", "land", "ocean", "lakes", "rivers", "countries"}
    ids = {g.get("id") for g in topo["objects"]["countries"]["geometries"]}
    assert {"FRA", "ESP", "AND", "ITA", "CHE", "DEU", "BEL", "LUX", "GBR", "MCO"} <= ids
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]

    def points(arc_refs):
        for ref in arc_refs:
            x = y = 0
            for dx, dy in topo["arcs"][ref if ref >= 0 else ~ref]:
                x, y = x + dx, y + dy
                yield x * sx + tx, y * sy + ty

    corsica = [
        g
        for g in topo["objects"]["land"]["geometries"]
        if g["type"] == "Polygon"
        and all(8.4 < x < 9.7 and 41.2 < y < 43.1 for x, y in points(g["arcs"][0]))
    ]
    assert corsica  # Corsica's own land polygon
    assert len(body) < 120_000  # 197,840 bytes for all of Europe
    # Only the files the map asks for, only frames that parse: anything else is a 404.
    assert client.get("/assets/topojson/-10_36_15_56/secrets.json").status_code == 404
    assert client.get("/assets/topojson/999_36_15_56/europe_50m.json").status_code == 404
