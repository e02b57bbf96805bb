"""The page assembled: header, alerts, KPI cards, map, accrual, per-site views, the sites
table and its printed twin.

:func:`serve_layout` is called on every page load (Dash layout function), so a reload
shows the data dir's current files.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Hashable

import cachetools
import dash_bootstrap_components as dbc
from dash import dcc, html

from ..basemap import topojson_url_for
from ..figures.bars import figure_height
from ..figures.map import map_subtitle
from ..store import LOAD_ERRORS, DataStore, TrialData
from ..viewer_warnings import viewer_messages
from .accessibility import MAIN_ID
from .chart_text import described_chart
from .components.alerts import alerts
from .components.charts import (
    ACCRUAL_HEIGHT,
    MAP_HEIGHT,
    accrual_chart,
    activation_chart,
    bars_chart,
    map_chart,
)
from .components.grid import grid_rows, sites_grid
from .components.header import header, status_options
from .components.kpi_cards import kpi_cards
from .components.panels import export_menu, graph, panel
from .components.print_table import print_panel
from .ids import (
    ACCRUAL,
    ACCRUAL_CSV,
    ACCRUAL_DOWNLOAD,
    ACCRUAL_XLSX,
    ACTIVATION,
    ALERTS,
    BARS,
    GRID_COUNT,
    KPIS,
    MAP,
    SELECTION,
    SITES_CSV,
    SITES_DOWNLOAD,
    SITES_XLSX,
    URL,
)
from .view_model import NumbersCache, PageNumbers, page_numbers


def page(
    data: TrialData,
    as_of: dt.date,
    *,
    store_errors: tuple[str, ...] = (),
    topojson_url: str | None = None,
    max_date: dt.date | None = None,
    numbers: PageNumbers | None = None,
) -> html.Div:
    """The whole page for one data version and as-of date (also usable by a snapshot)."""
    trial = data.trial
    max_date = max_date or max(dt.date.today(), trial.planned_completion_date, data.data_cutoff)
    numbers = numbers or page_numbers(data, as_of)
    head = header(data, as_of, max_date, status_options(numbers.status_counts))
    site_map = map_chart(numbers, validate=False)
    map_panel = panel(
        "Sites on the map",
        [
            *described_chart(
                "map",
                graph(
                    MAP, site_map, "site-map", topojson_url_for(topojson_url, site_map), MAP_HEIGHT
                ),
                numbers,
                data,
            ),
            html.Div(
                "Colour: registry status · marker area: randomized patients · hollow: none "
                "randomized yet. Sites sharing a location are spread slightly around it "
                "(thin line to the true point). Click a site to select it.",
                className="figure-note",
            ),
        ],
        subtitle=map_subtitle(len(data.sites), site_map),
        panel_id="panel-map",
    )
    accrual_panel = panel(
        "Accrual over time",
        described_chart(
            "accrual",
            graph(
                ACCRUAL,
                accrual_chart(numbers, data, validate=False),
                "accrual",
                height=ACCRUAL_HEIGHT,
            ),
            numbers,
            data,
        ),
        subtitle="Cumulative screened and randomized against the plan; "
        "forecast median with 80 % and 95 % intervals",
        tools=export_menu("accrual", ACCRUAL_CSV, ACCRUAL_XLSX, ACCRUAL_DOWNLOAD),
        panel_id="panel-accrual",
    )
    n_sites = len(numbers.table)
    bars_panel = panel(
        "Randomized per site",
        described_chart(
            "bars",
            graph(
                BARS,
                bars_chart(numbers, validate=False),
                "randomized-per-site",
                height=figure_height(n_sites),
            ),
            numbers,
            data,
        ),
        subtitle="Sorted by randomized count; colour: registry status"
        + ("; tick: site target" if numbers.table["target"].notna().any() else ""),
        panel_id="panel-bars",
    )
    activation_panel = panel(
        "Site activation → first randomization",
        described_chart(
            "activation",
            graph(
                ACTIVATION,
                activation_chart(numbers, data, validate=False),
                "site-activation",
                height=figure_height(n_sites),
            ),
            numbers,
            data,
        ),
        subtitle="Sites not yet activated first, then sites still waiting for their first patient",
        panel_id="panel-activation",
    )
    grid_panel = panel(
        "Sites",
        [sites_grid(grid_rows(numbers.table))],
        subtitle=html.Span(id=GRID_COUNT, children=f"{n_sites} sites"),
        tools=export_menu("sites", SITES_CSV, SITES_XLSX, SITES_DOWNLOAD),
        panel_id="panel-grid",
    )
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=SELECTION, data=[]),
            head,
            dbc.Container(
                [
                    html.Div(alerts(data, store_errors, as_of), id=ALERTS),
                    html.Div(kpi_cards(numbers, data), id=KPIS, className="mb-3"),
                    dbc.Row(
                        [
                            dbc.Col(map_panel, xs=12, xl=6, xxl=5),
                            dbc.Col(accrual_panel, xs=12, xl=6, xxl=7),
                        ],
                        className="g-3 mb-3",
                    ),
                    dbc.Row(
                        [
                            dbc.Col(bars_panel, xs=12, xl=5),
                            dbc.Col(activation_panel, xs=12, xl=7),
                        ],
                        className="g-3 mb-3",
                    ),
                    dbc.Row([dbc.Col(grid_panel, xs=12)], className="g-3 mb-3"),
                    # Paper and PNG get every row as a static table (the grid scrolls),
                    # filled after the first screen (chart_text.register).
                    print_panel(),
                    html.Footer(
                        [
                            f"Registry record {trial.nct_id}"
                            + (
                                f", last updated {trial.last_updated.isoformat()}"
                                if trial.last_updated
                                else ""
                            )
                            + f" · data version {data.version}"
                            + " · only per-site aggregates are shown; no patient-level data leave the server.",
                        ],
                        className="page-footer",
                    ),
                ],
                fluid=True,
                className="page-body",
                tag="main",
                id=MAIN_ID,
            ),
        ],
        className="page",
    )


def error_page(message: str) -> html.Div:
    """Shown when the data dir has never loaded: what is wrong, in the reader's words."""
    return dbc.Container(
        [
            html.H1("Recruitment dashboard", className="page-title mt-4"),
            dbc.Alert(
                [
                    html.Strong("The data directory cannot be loaded. "),
                    html.Pre(message, className="mb-0 mt-2 small"),
                ],
                color="danger",
                id="load-error",
            ),
        ],
        className="page-body",
        tag="main",
        id=MAIN_ID,
    )


class PageCache:
    """The last few pages built, by what they are made of: data version, as-of date, the
    store's errors and today's date (the picker's last day).

    Every page load asks for the layout; building it (figures, tables, the print table:
    ~300 kB of components at 46 sites) costs 100-250 ms of server time on the path to the
    first paint, while the page only changes when one of those four does. Pages are never
    changed after they are built (Dash only serialises them), so one object serves all.
    """

    def __init__(self, size: int = 4) -> None:
        self._pages: cachetools.LRUCache[Hashable, html.Div] = cachetools.LRUCache(size)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> html.Div | None:
        with self._lock:
            return self._pages.get(key)

    def put(self, key: Hashable, built: html.Div) -> None:
        with self._lock:
            self._pages[key] = built


def serve_layout(
    store: DataStore,
    default_as_of: dt.date | None = None,
    topojson_url: str | None = None,
    cache: NumbersCache | None = None,
    pages: PageCache | None = None,
) -> html.Div:
    """Dash layout function: current data, default as-of = ``default_as_of`` or the cut-off."""
    try:
        data = store.get()
    except LOAD_ERRORS as exc:
        # Viewers get file, line and rule only (no cell value, patient code or path).
        return error_page("\n".join(viewer_messages(exc)))
    as_of = default_as_of or data.data_cutoff
    key = (data.version, as_of, store.errors, topojson_url, dt.date.today())
    built = pages.get(key) if pages is not None else None
    if built is None:
        built = page(
            data,
            as_of,
            store_errors=store.errors,
            topojson_url=topojson_url,
            numbers=cache.get(data, as_of) if cache is not None else None,
        )
        if pages is not None:
            pages.put(key, built)
    return built
