"""Preload hints: what the first screen needs and the browser would otherwise only ask for
once Dash has drawn the layout (a round trip each, after ~300 kB of layout).

dcc.Graph and dash-ag-grid load their code as lazy chunks when the first graph or grid
mounts, and plotly.js fetches the map's basemap (topojson) only when it draws the map,
the last thing the first screen waits for; plotly.js itself is already in the page
(``assets/plotly-partial.min.js``). Naming them in the index page lets the browser fetch
them alongside the page's scripts: the chunk loader finds the chunks in its cache;
plotly.js fetches with XMLHttpRequest, which never reuses a preload, so
``assets/basemap_preload.js`` takes the basemap (``fetch`` does reuse it) and puts it
where plotly.js looks first (``PlotlyGeoAssets.topojson[name]``). Same-origin URLs only
(offline first).
"""

from __future__ import annotations

import html as html_text
from collections.abc import Callable
from typing import Any

import dash

from .ids import MAP

#: Lazy chunks the dashboard's first screen always loads (paths under Dash's component suites).
FIRST_SCREEN_CHUNKS = ("dash/dcc/async-graph.js", "dash_ag_grid/async-community.js")


def chunk_links(app: dash.Dash) -> str:
    """``<link rel="preload">`` tags for :data:`FIRST_SCREEN_CHUNKS`, under the app's prefix."""
    prefix = app.config.requests_pathname_prefix
    return "".join(
        f'<link rel="preload" as="script" href="{prefix}_dash-component-suites/{chunk}">'
        for chunk in FIRST_SCREEN_CHUNKS
    )


def _map_graph(layout: Any) -> Any | None:
    for component in [layout, *layout._traverse()]:
        if getattr(component, "id", None) == MAP and hasattr(component, "figure"):
            return component
    return None


def basemap_urls(layout: Any) -> list[str]:
    """The topojson files plotly.js will fetch for the page's map: ``{topojsonURL}{scope}_
    {resolution}m.json`` per geo subplot (plotly's defaults: world, 110); [] without a map."""
    return [url for url, _ in _basemaps(layout)]


def _basemaps(layout: Any) -> list[tuple[str, str]]:
    """(URL, plotly.js's topojson name) of each basemap of the page's map."""
    graph = _map_graph(layout)
    if graph is None:
        return []
    base = (graph.config or {}).get("topojsonURL")
    figure = graph.figure
    if hasattr(figure, "to_plotly_json"):
        figure = figure.to_plotly_json()
    if not base or not isinstance(figure, dict):
        return []
    base = base if base.endswith("/") else base + "/"
    geos = [v for k, v in (figure.get("layout") or {}).items() if k.startswith("geo")]
    names = {
        f"{str(geo.get('scope') or 'world').replace(' ', '-')}_{geo.get('resolution') or 110}m"
        for geo in geos
        if isinstance(geo, dict)
    }
    return [(f"{base}{name}.json", name) for name in sorted(names)]


def _basemap_links(basemaps: list[tuple[str, str]]) -> str:
    # fetch() in basemap_preload.js: CORS mode, same-origin credentials (crossorigin=anonymous).
    return "".join(
        f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{html_text.escape(url)}" '
        f'data-topojson-name="{html_text.escape(name)}">'
        for url, name in basemaps
    )


def install_preloads(app: dash.Dash, first_page: Callable[[], Any]) -> None:
    """Add the hints to every index page: the chunks, and the basemap of ``first_page()``
    (the layout the page will ask for next; the layout function's cache makes it cheap)."""
    chunks = chunk_links(app)
    interpolate = app.interpolate_index

    def interpolate_index(**kwargs: Any) -> str:
        kwargs["css"] = kwargs.get("css", "") + chunks + _basemap_links(_basemaps(first_page()))
        return interpolate(**kwargs)

    # On this app only (a Dash index hook would apply to every app of the process).
    app.interpolate_index = interpolate_index  # type: ignore[method-assign,assignment]
