"""A panel's frame (title, subtitle, tools), its graph and its Export menu."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from ...figures import theme
from ..ids import MAP


def export_menu(what: str, csv_id: str, xlsx_id: str, download_id: str) -> list[Any]:
    """A panel's small "Export" menu: its table as CSV (UTF-8 with BOM) or XLSX, the same
    files as ``recruitment-dashboard export --what <what>``."""
    return [
        dbc.DropdownMenu(
            [
                dbc.DropdownMenuItem("Download CSV", id=csv_id),
                dbc.DropdownMenuItem("Download XLSX", id=xlsx_id),
            ],
            label="Export",
            color="primary",  # drawn as an outline button by dashboard.css (.export-menu)
            size="sm",
            align_end=True,
            id=f"{download_id}-menu",
            className="export-menu",
        ),
        dcc.Download(id=download_id),
    ]


def panel(
    title: str, body: Any, subtitle: Any = None, tools: Any = None, panel_id: str | None = None
):
    head = html.Div(
        [
            html.Div(
                [
                    html.H2(title, className="panel-title"),
                    html.Div(subtitle, className="panel-subtitle"),
                ],
            ),
            html.Div(tools, className="panel-tools") if tools is not None else None,
        ],
        className="panel-head",
    )
    return dbc.Card(
        [head, dbc.CardBody(body, className="panel-body")], className="panel h-100", id=panel_id
    )


def graph(
    graph_id: str,
    figure: Any,
    filename: str,
    topojson_url: str | None = None,
    height: int | None = None,
):
    config = theme.graph_config(filename, topojson_url=topojson_url)
    if graph_id == MAP:
        config["scrollZoom"] = False
    return dcc.Graph(
        id=graph_id,
        figure=figure,
        config=config,
        responsive=True,
        style={"height": f"{height}px"} if height else None,
        className="panel-graph",
    )
