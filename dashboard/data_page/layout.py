"""The Data page: upload an export, site settings in a grid, the history of changes.

The page is built per request for the person asking (:func:`dashboard.roles.current_person`):
a viewer gets no upload control and read-only cells. That is courtesy only; every change
is refused on the server to viewers (:mod:`dashboard.data_page.callbacks`).
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from .. import metrics
from ..import_preview import ImportPreview
from ..page.accessibility import MAIN_ID
from ..roles import Person
from ..sites import SitesError, load_sites
from ..store import LOAD_ERRORS, DataStore
from ..viewer_warnings import viewer_messages
from . import ids
from .history import history_rows

UPLOAD_ACCEPT = ".csv,.txt,.tsv,.xlsx"


def nav(active: str) -> html.Nav:
    """The tabs between the dashboard and this page (relative links: a proxy prefix works)."""
    links = [("Dashboard", "../", "dashboard"), ("Data", "./", "data")]
    current: dict[str, Any] = {"aria-current": "page"}
    return html.Nav(
        [
            html.A(
                label,
                href=href,
                className="nav-link" + (" active" if key == active else ""),
                **(current if key == active else {}),
            )
            for label, href, key in links
        ],
        className="nav nav-tabs app-nav controls mb-3",
    )


def in_service(store: DataStore) -> html.Div:
    """The counts in service now (what the dashboard shows at its cut-off)."""
    try:
        data = store.get()
    except LOAD_ERRORS as exc:
        return html.Div(
            [html.Div(m) for m in viewer_messages(exc)], className="alert alert-warning"
        )
    c = metrics.counts(data.enrollment, data.data_cutoff)
    label = "synthetic demo data" if data.synthetic else "imported data"
    return html.Div(
        [
            html.Span(f"In service ({label}), cut-off {data.data_cutoff.isoformat()}: "),
            html.Strong(f"{c.screened} screened"),
            html.Span(" · "),
            html.Strong(f"{c.screen_failed} screen failures"),
            html.Span(" · "),
            html.Strong(f"{c.randomized} randomized", id="data-in-service-randomized"),
        ],
        className="mb-2",
    )


def site_rows(store: DataStore) -> list[dict[str, Any]]:
    """sites.csv's rows as typed (never the demo's made-up dates) with each site's counts."""
    sites = load_sites(store.paths)
    try:
        data = store.get()
        cut = pd.Timestamp(data.data_cutoff)
        seen = data.enrollment[data.enrollment["screening_date"] <= cut]
        rand = data.enrollment[data.enrollment["randomization_date"] <= cut]
        counts = pd.DataFrame(
            {
                "screened": seen.groupby("site_id").size(),
                "randomized": rand.groupby("site_id").size(),
                "first_randomization": rand.groupby("site_id")["randomization_date"].min(),
            }
        )
    except LOAD_ERRORS:
        counts = pd.DataFrame(columns=["screened", "randomized", "first_randomization"])
    by_site: dict[Any, Any] = counts.to_dict("index")
    rows = []
    for site in sites.to_dict("records"):
        extra = by_site.get(site["site_id"], {})
        first = extra.get("first_randomization")
        rows.append(
            {
                "site_id": site["site_id"],
                "facility": site["facility"],
                "city": site["city"],
                "status": site["status"],
                "activation_date": _iso(site["activation_date"]),
                "target": "" if pd.isna(site["target"]) else int(site["target"]),
                "screened": _whole(extra.get("screened")),
                "randomized": _whole(extra.get("randomized")),
                "first_randomization": _iso(first),
            }
        )
    return rows


def _iso(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _whole(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def sites_grid(store: DataStore, editor: bool) -> html.Div:
    try:
        rows = site_rows(store)
        problem = None
    except (SitesError, OSError, ValueError) as exc:
        rows, problem = [], viewer_messages(exc)
    editable = {"editable": editor, "cellClass": "editable-cell" if editor else ""}
    columns = [
        {"field": "site_id", "headerName": "Site", "width": 80, "pinned": "left"},
        {"field": "facility", "headerName": "Facility", "flex": 2, "minWidth": 220},
        {"field": "city", "headerName": "City", "width": 140},
        {"field": "status", "headerName": "Registry status", "width": 170},
        {
            "field": "activation_date",
            "headerName": "Activation date (YYYY-MM-DD)",
            "width": 210,
            **editable,
        },
        {"field": "target", "headerName": "Target", "width": 100, **editable},
        {"field": "screened", "headerName": "Screened", "width": 110},
        {"field": "randomized", "headerName": "Randomized", "width": 120},
        {"field": "first_randomization", "headerName": "First randomization", "width": 170},
    ]
    return html.Div(
        [
            *(html.Div(m, className="alert alert-warning") for m in (problem or ())),
            dag.AgGrid(
                id=ids.SITES_GRID,
                rowData=rows,
                columnDefs=columns,
                defaultColDef={"sortable": True, "filter": True, "resizable": True},
                getRowId="params.data.site_id",
                dashGridOptions={
                    "singleClickEdit": True,
                    "stopEditingWhenCellsLoseFocus": True,
                    "animateRows": False,
                },
                style={"height": "420px"},
            ),
        ]
    )


def history_grid(store: DataStore) -> dag.AgGrid:
    columns = [
        {"field": "time", "headerName": "When (UTC)", "width": 190, "sort": "desc"},
        {"field": "user", "headerName": "Who", "width": 120},
        {"field": "via", "headerName": "Via", "width": 80},
        {"field": "what", "headerName": "What", "width": 170},
        {"field": "result", "headerName": "Outcome", "width": 110},
        {"field": "file", "headerName": "File", "width": 200},
        {"field": "rows", "headerName": "Rows", "width": 90},
        {"field": "details", "headerName": "Details", "flex": 1, "minWidth": 260},
        {"field": "sha256", "headerName": "SHA-256", "width": 130},
    ]
    return dag.AgGrid(
        id=ids.HISTORY_GRID,
        rowData=history_rows(store.paths),
        columnDefs=columns,
        defaultColDef={
            "sortable": True,
            "filter": True,
            "floatingFilter": True,
            "resizable": True,
        },
        dashGridOptions={"animateRows": False, "tooltipShowDelay": 300},
        style={"height": "360px"},
    )


def role_line(person: Person) -> html.Div:
    if person.editor:
        text = f"Signed in as {person.name} — editor: you can import exports and edit sites."
    else:
        text = (
            f"Signed in as {person.name} — viewer: this page is read-only for you "
            "(editors are named by `serve --editors`)."
        )
    return html.Div(text, id=ids.ROLE, className="text-muted mb-3")


def preview_view(preview: ImportPreview) -> html.Div:
    """The aggregates of a valid upload: totals before → after, changed and new sites."""

    def line(label: str, key: str) -> html.Tr:
        before, after = preview.before[key], preview.after[key]
        delta = after - before
        return html.Tr(
            [
                html.Td(label),
                html.Td(str(before), className="text-end"),
                html.Td(str(after), className="text-end fw-semibold", id=f"data-preview-{key}"),
                html.Td(f"{delta:+d}", className="text-end text-muted"),
            ]
        )

    totals = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(""),
                        html.Th(f"Now (cut-off {preview.cutoff_before or '—'})"),
                        html.Th(f"After import (cut-off {preview.cutoff_after})"),
                        html.Th("Change"),
                    ]
                )
            ),
            html.Tbody(
                [
                    line("Screened", "screened"),
                    line("Screen failures", "screen_failed"),
                    line("Randomized", "randomized"),
                ]
            ),
        ],
        className="table table-sm w-auto",
    )
    site_table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Site"),
                        html.Th("Facility"),
                        html.Th("Screened"),
                        html.Th("Randomized"),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(s.site_id),
                            html.Td(s.facility),
                            html.Td(f"{s.screened_before} → {s.screened_after}"),
                            html.Td(f"{s.randomized_before} → {s.randomized_after}"),
                        ]
                    )
                    for s in preview.sites_changed
                ]
            ),
        ],
        className="table table-sm w-auto",
    )
    return html.Div(
        [
            html.H4(f"Preview of {preview.file}: {preview.rows} patients — nothing changed yet"),
            html.Div(f"SHA-256 {preview.sha256}", className="text-muted small mb-2"),
            *(dbc.Alert(w, color="warning", className="py-2") for w in preview.warnings),
            totals,
            html.H5(f"Sites whose counts change ({len(preview.sites_changed)})"),
            site_table if preview.sites_changed else html.P("None."),
            html.P(
                "Sites that would start enrolling: "
                + (", ".join(preview.new_sites) if preview.new_sites else "none"),
                id="data-preview-new-sites",
            ),
            html.H5("Notices"),
            html.Ul([html.Li(n) for n in preview.notices]),
        ],
        className="data-preview",
    )


def refusal_view(name: str, messages: list[str]) -> html.Div:
    return dbc.Alert(
        [
            html.H4(f"{name} is refused: nothing changed", className="alert-heading"),
            html.Ul([html.Li(m) for m in messages], id="data-refusal-list"),
            html.P("Fix the export and upload it again.", className="mb-0"),
        ],
        color="danger",
        id="data-refusal",
    )


def page(store: DataStore, person: Person) -> html.Main:
    """The whole Data page for ``person``."""
    hidden = {"display": "none"}
    upload_note = (
        "Choose or drop an EDC/IWRS export (CSV or .xlsx, up to 50 MB). It is checked and "
        "previewed first; nothing changes until you click Confirm import."
        if person.editor
        else "Only editors can import exports."
    )
    # The page is one main landmark (the skip link of the shared index page lands on it).
    return html.Main(
        [
            nav("data"),
            html.H1("Data", className="page-title"),
            role_line(person),
            html.Div(in_service(store), id=ids.IN_SERVICE),
            html.H2("Import an enrollment export", className="h4 mt-4"),
            html.P(upload_note, id=ids.UPLOAD_HELP),
            dcc.Upload(
                id=ids.UPLOAD,
                children=html.Div(["Drop an export here or ", html.A("choose a file")]),
                accept=UPLOAD_ACCEPT,
                multiple=False,
                disabled=not person.editor,
                className="data-upload" if person.editor else "d-none",
                style={} if person.editor else hidden,
            ),
            dcc.Loading(html.Div(id=ids.PREVIEW), type="dot"),
            html.Div(
                [
                    dbc.Button(
                        "Confirm import", id=ids.CONFIRM, color="primary", disabled=True, n_clicks=0
                    ),
                    dbc.Button(
                        "Cancel", id=ids.CANCEL, color="secondary", className="ms-2", n_clicks=0
                    ),
                ],
                id="data-confirm-bar",
                className="my-2",
                style=hidden,
            ),
            html.Div(id=ids.STATUS, role="status"),
            html.H2("Sites", className="h4 mt-4"),
            html.P(
                "Activation date and target are yours to set"
                + (" — click a cell, type, press Enter." if person.editor else ".")
            ),
            html.Div(id=ids.SITES_STATUS, role="status"),
            sites_grid(store, person.editor),
            html.H2("History", className="h4 mt-4"),
            html.P("Every import, refusal and edit, newest first: who, when (UTC), outcome."),
            history_grid(store),
            dcc.Store(id=ids.UPLOAD_TOKEN),
            dcc.Store(id=ids.DATA_VERSION, data=0),
        ],
        className="container-fluid data-page py-3",
        id=MAIN_ID,
    )
