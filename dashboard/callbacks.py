"""Callbacks: thin glue between the page's controls and metrics → figures.

Registered on one app by :func:`register` (never on a global app at import time). Every
callback reads the current data from the :class:`~dashboard.store.DataStore`, so the
numbers always come from the data dir's last good version.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
import flask
import pandas as pd
from dash import Input, Output, State, ctx, dcc, no_update

from . import chart_text, dates, tabular
from . import layout as L
from .bind_guard import own_base_url
from .compression import declare_body_key
from .dates import AsOfRefused, as_of_range
from .export_about import export_about, export_filename
from .print_table import PRINT_TABLE, print_table
from .store import DataStore

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Seconds a snapshot may take (page load, forecast, Chromium print) before it is abandoned.
SNAPSHOT_TIMEOUT_S = 90.0
#: One Chromium at a time per server process: a second click waits this long, then is told
#: to retry (a hospital VM has few cores; ten Chromiums at once help nobody).
SNAPSHOT_QUEUE_WAIT_S = 60.0


def parse_as_of(search: str | None) -> dt.date | None:
    """The ``?as_of=YYYY-MM-DD`` of a page URL, if any and valid."""
    if not search:
        return None
    values = parse_qs(search.lstrip("?")).get("as_of")
    if not values:
        return None
    try:
        return dt.date.fromisoformat(values[0])
    except ValueError:
        return None


def highlighted_sites(
    table: pd.DataFrame, statuses: Collection[str] | None, clicked: Collection[str] | None
) -> set[str] | None:
    """Sites to emphasise (the others are dimmed), or None when nothing is selected.

    The status filter and the clicked sites combine like filters: a site is highlighted
    when its status is among the chosen ones (if any are chosen) and it was clicked (if
    any was clicked).
    """
    statuses = set(statuses or ())
    clicked = set(clicked or ())
    if not statuses and not clicked:
        return None
    ids = set(table["site_id"].astype(str))
    if statuses:
        ids &= set(table.loc[table["status"].isin(statuses), "site_id"].astype(str))
    if clicked:
        ids &= clicked
    return ids


def strings(value: Any) -> list[str]:
    """A list of strings from a request's input; anything else (a number, a dict, a list
    holding dicts: only a crafted request sends them) counts as nothing chosen."""
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str)]


def toggle(selection: list[str] | None, site_id: str | None) -> list[str]:
    current = strings(selection)
    if not site_id:
        return current
    if site_id in current:
        current.remove(site_id)
    else:
        current.append(site_id)
    return sorted(current)


def _clicked_site(click_data: dict[str, Any] | None) -> str | None:
    if not isinstance(click_data, dict) or not isinstance(click_data.get("points"), list):
        return None
    if not click_data["points"] or not isinstance(click_data["points"][0], dict):
        return None
    custom = click_data["points"][0].get("customdata")
    if isinstance(custom, list):
        custom = custom[0] if custom else None
    return None if custom is None else str(custom)


def basic_credentials(authorization: Any) -> dict[str, str] | None:
    """The request's basic-auth user and password (``flask.request.authorization``), to
    log the snapshot browser in as the same user; None without basic auth."""
    if authorization is None or getattr(authorization, "type", None) != "basic":
        return None
    username, password = authorization.username, authorization.password
    if not username or password is None:
        return None
    return {"username": username, "password": password}


def refusal_alert(exc: Exception) -> dash.html.Div:
    """The page's answer to a refused request (an as-of date out of range): said plainly."""
    return dash.html.Div(str(exc), className="alert alert-danger py-2 mb-2", id="as-of-refused")


def selection_text(highlighted: set[str] | None, total: int) -> str:
    if highlighted is None:
        return "No selection"
    return f"{len(highlighted)} of {total} sites selected"


def register(
    app: dash.Dash,
    store: DataStore,
    default_as_of: dt.date | None = None,
    cache: L.NumbersCache | None = None,
    outputs: L.OutputsCache | None = None,
) -> None:
    """Attach the page's callbacks to ``app`` (numbers shared with the layout via ``cache``)."""
    cache = cache or L.NumbersCache()
    outputs = outputs if outputs is not None else L.OutputsCache()

    def resolve_as_of(value: Any) -> dt.date:
        """The request's as-of date, refused (:class:`AsOfRefused`) outside the trial's range."""
        data = store.get()
        allowed = as_of_range(data.trial.start_date, data.data_cutoff)
        return dates.resolve_as_of(value, default_as_of or data.data_cutoff, allowed)

    @app.callback(
        Output(L.URL, "search"),
        Output(L.AS_OF, "value"),
        Input(L.URL, "search"),
        Input(L.AS_OF, "value"),
    )
    def sync_url_and_as_of(search: str | None, date: str | None):
        """?as_of=YYYY-MM-DD in the URL sets the picker; the picker keeps the URL bookmarkable."""
        if ctx.triggered_id == L.AS_OF:
            if not date:
                return no_update, no_update
            wanted = f"?{urlencode({'as_of': str(date)[:10]})}"
            return (wanted if wanted != search else no_update), no_update
        from_url = parse_as_of(search)
        if from_url is None or from_url.isoformat() == str(date)[:10]:
            return no_update, no_update
        return no_update, from_url.isoformat()

    @app.callback(
        Output(L.SELECTION, "data"),
        Output(L.STATUS_FILTER, "value"),
        Output(L.MAP, "clickData"),
        Output(L.BARS, "clickData"),
        Output(L.ACTIVATION, "clickData"),
        Input(L.MAP, "clickData"),
        Input(L.BARS, "clickData"),
        Input(L.ACTIVATION, "clickData"),
        Input(L.GRID, "cellClicked"),
        Input(L.GRID, "eventData"),
        Input(L.CLEAR_SELECTION, "n_clicks"),
        State(L.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def update_selection(
        map_click, bar_click, activation_click, cell_clicked, cell_key, _clear, selection
    ):
        """A click on a marker, bar, timeline point or table row toggles that site, and so
        does Enter or Space on a row of the table (its ``eventData``: the site id)."""
        trigger = ctx.triggered_id
        if trigger == L.CLEAR_SELECTION:
            return [], [], None, None, None
        if trigger == L.GRID:
            if f"{L.GRID}.eventData" in ctx.triggered_prop_ids:
                cell_clicked = (
                    {"rowId": cell_key.get("data")} if isinstance(cell_key, dict) else None
                )
            site_id = cell_clicked.get("rowId") if isinstance(cell_clicked, dict) else None
            site_id = site_id if isinstance(site_id, str) else None
            return toggle(selection, site_id), no_update, no_update, no_update, no_update
        click = {L.MAP: map_click, L.BARS: bar_click, L.ACTIVATION: activation_click}.get(trigger)
        site_id = _clicked_site(click)
        if site_id is None:  # the click data reset below, or a click on a non-site trace
            return no_update, no_update, no_update, no_update, no_update
        # Reset clickData so that clicking the same site again toggles it back.
        return toggle(selection, site_id), no_update, None, None, None

    @app.callback(
        Output(L.AS_OF_TEXT, "children"),
        Output(L.ALERTS, "children"),
        Output(L.KPIS, "children"),
        Output(L.MAP, "figure"),
        Output(L.ACCRUAL, "figure"),
        Output(L.BARS, "figure"),
        Output(L.ACTIVATION, "figure"),
        Output(L.GRID, "rowData"),
        Output(L.SELECTION_TEXT, "children"),
        Output(PRINT_TABLE, "children"),
        Input(L.AS_OF, "value"),
        Input(L.STATUS_FILTER, "value"),
        Input(L.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def refresh(date: str | None, statuses: list[str] | None, selection: list[str] | None):
        """Recount everything for the as-of date; emphasise the selected sites.

        The complete outputs, encoded, are kept per data version, as-of date, status
        filter and selection (:class:`~dashboard.layout.OutputsCache`): a view seen before
        is copied out, not redrawn.
        """
        data = store.get()
        statuses, selection = strings(statuses), strings(selection)
        try:
            as_of = resolve_as_of(date)
        except AsOfRefused as exc:
            return (no_update, refusal_alert(exc), *(no_update,) * 8)
        # A new selection leaves the counts, alerts and accrual chart as they are.
        same_date = f"{L.AS_OF}.value" not in ctx.triggered_prop_ids
        errors = store.errors
        key = outputs.key(data, as_of, not same_date, statuses, selection, errors)
        hit = outputs.get(data, key)
        if hit is None:
            hit = outputs.put(
                data,
                key,
                tuple(
                    L.encode_output(value)
                    for value in refresh_outputs(
                        data, errors, as_of, statuses, selection, same_date
                    )
                ),
            )
        # The reply is now a function of these numbered outputs (and the request): its
        # compressed form is kept too, so a view seen again is not compressed again.
        declare_body_key(f"refresh:{id(outputs)}:{hit.serial}")
        return hit

    def refresh_outputs(data, errors, as_of, statuses, selection, same_date):
        numbers = cache.get(data, as_of)
        highlighted = highlighted_sites(numbers.table, statuses, selection)
        selected = set(selection or ())
        return (
            no_update if same_date else L.as_of_text(as_of),
            no_update if same_date else L.alerts(data, errors, as_of),
            no_update if same_date else L.kpi_cards(numbers, data),
            L.map_figure(numbers, highlighted, selected, validate=False),
            no_update if same_date else L.accrual(numbers, data, validate=False),
            L.bars_figure(numbers, highlighted, selected, validate=False),
            L.timeline_figure(numbers, data, highlighted, selected, validate=False),
            L.grid_rows(numbers.table, highlighted, selected),
            selection_text(highlighted, len(numbers.table)),
            no_update if same_date else print_table(numbers.table),
        )

    app.clientside_callback(
        """
        function(rows, allRows) {
            const shown = rows ? rows.length : 0;
            const total = allRows ? allRows.length : 0;
            return shown === total ? `${total} sites` : `${shown} of ${total} sites shown`;
        }
        """,
        Output(L.GRID_COUNT, "children"),
        Input(L.GRID, "virtualRowData"),
        State(L.GRID, "rowData"),
    )

    def table_download(what: str, kind: str, date: str | None) -> Any:
        """The sites table or the accrual series as of the date, as the ``export`` command
        writes it (:mod:`dashboard.tabular`: aggregates only, formulas escaped)."""
        data = store.get()
        try:
            as_of = resolve_as_of(date)
        except AsOfRefused as exc:
            dash.set_props(L.ALERTS, {"children": refusal_alert(exc)})
            return no_update
        frame = (
            tabular.sites_export_frame(data, as_of)
            if what == "sites"
            else tabular.accrual_export_frame(data, as_of)
        )
        filename = export_filename(data, what, as_of, kind)
        if kind == "csv":
            return dcc.send_bytes(tabular.to_csv_bytes(frame), filename, type="text/csv")
        body = tabular.to_xlsx_bytes(frame, what, export_about(data, what, as_of))
        return dcc.send_bytes(body, filename, type=XLSX_TYPE)

    @app.callback(
        Output(L.SITES_DOWNLOAD, "data"),
        Input(L.SITES_CSV, "n_clicks"),
        Input(L.SITES_XLSX, "n_clicks"),
        State(L.AS_OF, "value"),
        prevent_initial_call=True,
    )
    def export_sites(_csv, _xlsx, date):
        """The per-site table as of the chosen date, for a spreadsheet."""
        return table_download("sites", "xlsx" if ctx.triggered_id == L.SITES_XLSX else "csv", date)

    @app.callback(
        Output(L.ACCRUAL_DOWNLOAD, "data"),
        Input(L.ACCRUAL_CSV, "n_clicks"),
        Input(L.ACCRUAL_XLSX, "n_clicks"),
        State(L.AS_OF, "value"),
        prevent_initial_call=True,
    )
    def export_accrual(_csv, _xlsx, date):
        """The daily cumulative screened and randomized counts to the chosen date."""
        kind = "xlsx" if ctx.triggered_id == L.ACCRUAL_XLSX else "csv"
        return table_download("accrual", kind, date)

    chart_text.register(app, store, L.AS_OF, L.AS_OF_TEXT, cache, lambda: default_as_of)

    snapshot_slot = threading.Semaphore(1)

    @app.callback(
        Output(L.SNAPSHOT_DOWNLOAD, "data"),
        Output(L.SNAPSHOT_STATUS, "children"),
        Input(L.PDF_BUTTON, "n_clicks"),
        Input(L.PNG_BUTTON, "n_clicks"),
        State(L.AS_OF, "value"),
        prevent_initial_call=True,
        running=[
            (Output(L.PDF_BUTTON, "disabled"), True, False),
            (Output(L.PNG_BUTTON, "disabled"), True, False),
            (Output(L.SNAPSHOT_BUSY, "style"), {"display": "inline"}, {"display": "none"}),
            (Output(L.SNAPSHOT_STATUS, "children"), "", ""),
        ],
    )
    def download_snapshot(_pdf, _png, date):
        """The ``snapshot`` command's PDF or PNG of this page for the as-of date.

        Chromium on the server opens this same app at ``?as_of=`` (its own address, see
        :func:`own_base_url`), logged in as the requesting user when basic auth is on. The
        app must serve other requests meanwhile: ``serve`` runs Flask's threaded server, and
        gunicorn needs 2 workers or threads.
        """
        from .snapshot import SnapshotError, take_snapshot

        kind = "png" if ctx.triggered_id == L.PNG_BUTTON else "pdf"
        data = store.get()
        try:
            as_of = resolve_as_of(date)
        except AsOfRefused as exc:
            return no_update, f"{kind.upper()} not made: {exc}"
        filename = f"{data.trial.nct_id}-{as_of.isoformat()}.{kind}"
        environ = flask.request.environ
        if not environ.get("wsgi.multithread") and not environ.get("wsgi.multiprocess"):
            # This request would hold the only worker while Chromium waits for the page.
            return no_update, (
                f"{kind.upper()} not made: this server handles one request at a time. Run "
                "gunicorn with --workers 2 (or --threads 2), or `recruitment-dashboard "
                "snapshot`."
            )
        try:
            base = own_base_url(environ, app.config.requests_pathname_prefix)
        except ValueError as exc:
            return no_update, f"{kind.upper()} not made: {exc}"
        credentials = basic_credentials(flask.request.authorization)
        if not snapshot_slot.acquire(timeout=SNAPSHOT_QUEUE_WAIT_S):
            return no_update, "Another snapshot is being made; try again in a minute."
        try:
            with tempfile.TemporaryDirectory(prefix="snapshot-") as tmp:
                out = Path(tmp) / filename
                take_snapshot(
                    out,
                    url=base,
                    as_of=as_of,
                    data=data,
                    timeout=SNAPSHOT_TIMEOUT_S,
                    http_credentials=credentials,
                )
                body = out.read_bytes()
        except SnapshotError as exc:
            logger.warning("snapshot for %s failed: %s", as_of, exc)
            return no_update, f"{kind.upper()} not made: {exc}"
        except Exception as exc:  # Playwright missing or broken: say so, keep the page
            logger.exception("snapshot for %s failed", as_of)
            return no_update, f"{kind.upper()} not made: {type(exc).__name__}: {exc}"
        finally:
            snapshot_slot.release()
        media = "application/pdf" if kind == "pdf" else "image/png"
        return dcc.send_bytes(body, filename, type=media), ""
