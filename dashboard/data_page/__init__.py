"""The Data page at ``/data``: editors import exports and edit sites in the browser.

It is a second Dash app on the dashboard's own Flask server (``url_base_pathname
"/data/"``), so it shares the server's basic auth, security headers, origin check and
compression but has its own layout, ids and callbacks: the dashboard page is untouched,
and its reply caches never see a Data page request. Both pages link to each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import dash
import flask

from ..enrollment.edc_reader import Limits
from ..page.accessibility import INDEX_STRING
from ..pending_uploads import PendingUploads
from ..roles import current_person
from ..store import DataStore
from . import callbacks, ids
from .layout import page
from .upload_route import install_upload_route

PATH = "/data/"


def install_data_page(
    main_app: dash.Dash,
    store: DataStore,
    uploads: PendingUploads,
    *,
    assets_dir: Path,
    limits: Limits | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> dash.Dash:
    """Mount the Data page on ``main_app``'s server (the dashboard's); return its Dash app."""
    server = main_app.server
    app = dash.Dash(
        __name__,
        server=server,
        url_base_pathname=PATH,
        assets_folder=str(assets_dir),
        assets_ignore=r"plotly-partial\.min\.js",  # the dashboard's plotly.js; no graph here
        external_stylesheets=[],
        external_scripts=[],
        serve_locally=True,
        title="Data — Recruitment dashboard",
        update_title=None,  # type: ignore[arg-type]  # None is documented; the stub says str
        compress=False,
        index_string=INDEX_STRING,  # lang, skip link: the dashboard's accessible index page
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    dash._get_app.APP = main_app  # the dashboard stays the process's default app

    def serve() -> dash.html.Main:
        return page(store, current_person())

    app.layout = serve
    app.validation_layout = _skeleton()  # type: ignore[assignment]  # Dash declares it None-typed
    callbacks.register(app, store, uploads, limits=limits, today=today)
    install_upload_route(server, PATH + "upload", store, uploads, limits=limits, today=today)
    server.add_url_rule(
        PATH.rstrip("/"),
        endpoint="data_page_redirect",
        view_func=lambda: flask.redirect(PATH, code=308),
    )
    return app


def _skeleton() -> dash.html.Div:
    import dash_ag_grid as dag
    import dash_bootstrap_components as dbc
    from dash import dcc, html

    return html.Div(
        [
            dcc.Upload(id=ids.UPLOAD),
            dcc.Store(id=ids.UPLOAD_TOKEN),
            dcc.Store(id=ids.DATA_VERSION),
            html.Div(id=ids.PREVIEW),
            html.Div(id=ids.STATUS),
            html.Div(id=ids.IN_SERVICE),
            html.Div(id=ids.SITES_STATUS),
            html.Div(id="data-confirm-bar"),
            dbc.Button(id=ids.CONFIRM),
            dbc.Button(id=ids.CANCEL),
            dag.AgGrid(id=ids.SITES_GRID),
            dag.AgGrid(id=ids.HISTORY_GRID),
        ]
    )
