"""The Data page's callbacks: preview, confirm or cancel an upload; edit a site; refresh.

Every callback that changes anything starts with :func:`dashboard.roles.require_editor`:
a viewer's request (the page's own, or one typed by hand) is answered with a refusal and
changes nothing. Replies carry aggregates and messages only, never a patient row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, html

from ..datadir import acting_as
from ..enrollment import EnrollmentError
from ..enrollment.edc_reader import Limits
from ..import_preview import ImportPreview
from ..imports import import_enrollment
from ..pending_uploads import PendingUploads
from ..roles import NotAllowed, current_person, require_editor
from ..site_edits import EditRefused, edit_site
from ..store import LOAD_ERRORS, DataStore
from . import ids
from .history import history_rows
from .layout import in_service, preview_view, refusal_view, site_rows
from .messages import browser_safe_all
from .upload_route import data_fingerprint

logger = logging.getLogger(__name__)
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}


def _alert(text: str, color: str) -> html.Div:
    return html.Div(text, className=f"alert alert-{color} py-2", role="alert")


def register(
    app: dash.Dash,
    store: DataStore,
    uploads: PendingUploads,
    *,
    limits: Limits | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> None:
    limits = limits or Limits()
    paths = store.paths

    # The file goes from the browser to POST <page>/upload as raw bytes (see upload_route);
    # only the token of the held upload comes back, and the file input is emptied.
    app.clientside_callback(
        ClientsideFunction(namespace="data_page", function_name="upload"),
        Output(ids.UPLOAD_TOKEN, "data"),
        Output(ids.UPLOAD, "contents"),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.PREVIEW, "children"),
        Output(ids.CONFIRM, "disabled"),
        Output("data-confirm-bar", "style"),
        Output(ids.STATUS, "children"),
        Output(ids.DATA_VERSION, "data"),
        Input(ids.UPLOAD_TOKEN, "data"),
        Input(ids.CONFIRM, "n_clicks"),
        Input(ids.CANCEL, "n_clicks"),
        State(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def upload_flow(token: Any, _confirm: int, _cancel: int, version: Any) -> tuple:
        version = (version or 0) if isinstance(version, int) else 0
        nothing = (None, True, HIDDEN)
        try:
            person = require_editor()
        except NotAllowed as exc:
            return (*nothing, _alert(f"Refused: {exc}. Nothing changed.", "danger"), version)
        if isinstance(token, dict) and "error" in token:
            return (*nothing, _alert(f"Upload refused: {token['error']}", "danger"), version)
        key = token.get("token") if isinstance(token, dict) else None
        held = uploads.get(key, person.name)
        trigger = ctx.triggered_id
        if held is None:
            message = "This upload has expired or is unknown; upload the file again."
            return (*nothing, _alert(message, "warning") if key else None, version)
        if "done" in held.preview:  # a second Confirm of an import already made
            done = held.preview["done"]
            return (*nothing, _alert(str(done.get("message")), "success"), version)
        if trigger == ids.CANCEL:
            uploads.discard(held.token)
            return (*nothing, _alert(f"Cancelled: {held.name} was not imported.", "info"), version)
        if "refused" in held.preview:
            uploads.discard(held.token)
            return (refusal_view(held.name, held.preview["refused"]), True, HIDDEN, None, version)
        preview = ImportPreview.from_json(held.preview["preview"])
        if trigger != ids.CONFIRM:
            return (preview_view(preview), False, SHOWN, None, version)
        if held.preview.get("data_version") != data_fingerprint(paths):
            uploads.discard(held.token)
            message = (
                "The data in service changed since this preview (another import?). "
                "Nothing was imported; upload the file again for a fresh preview."
            )
            return (*nothing, _alert(message, "warning"), version + 1)
        if not uploads.claim(held):  # the same Confirm, sent twice: one request imports
            return (dash.no_update,) * 5
        with acting_as(person.name):
            try:
                report = import_enrollment(held.file, paths, limits=limits, today=today())
            except EnrollmentError as exc:
                uploads.discard(held.token)
                return (
                    refusal_view(held.name, browser_safe_all(exc.errors)),
                    True,
                    HIDDEN,
                    None,
                    version + 1,
                )
        done = (
            f"Imported {report['rows']} patients from {held.name} "
            f"({report['randomized']} randomized); data cut-off {report['data_cutoff']}. "
            "The dashboard shows them on its next load."
        )
        uploads.finish(held, {"message": done})
        return (*nothing, _alert(done, "success"), version + 1)

    @app.callback(
        Output(ids.SITES_STATUS, "children"),
        Output(ids.DATA_VERSION, "data", allow_duplicate=True),
        Input(ids.SITES_GRID, "cellValueChanged"),
        State(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def edit_cell(changes: Any, version: Any) -> tuple:
        version = (version or 0) if isinstance(version, int) else 0
        try:
            person = require_editor()
        except NotAllowed as exc:
            return _alert(f"Refused: {exc}. Nothing changed.", "danger"), version + 1
        messages = []
        for change in changes if isinstance(changes, list) else [changes]:
            if not isinstance(change, dict):
                continue
            row = change.get("data")
            site_id = row.get("site_id") if isinstance(row, dict) else None
            column = change.get("colId")
            try:
                data = store.get()
                with acting_as(person.name):
                    result = edit_site(
                        paths,
                        str(site_id),
                        str(column),
                        change.get("oldValue"),
                        change.get("value"),
                        trial_start=data.trial.start_date,
                        enrollment=data.enrollment,
                        today=today(),
                    )
            except EditRefused as exc:
                messages.append(_alert(f"Site {site_id}: not saved — {exc}", "danger"))
                continue
            except LOAD_ERRORS:
                messages.append(_alert("The data dir cannot be read; nothing saved.", "danger"))
                continue
            if result.old == result.new:
                continue
            saved = (
                f"Site {site_id}: {column} {result.old or 'blank'} → {result.new or 'blank'} "
                "saved (and logged)."
            )
            messages.append(_alert(saved, "success"))
            if result.warning:
                messages.append(_alert(f"Site {site_id}: {result.warning}", "warning"))
        return html.Div(messages), version + 1

    @app.callback(
        Output(ids.IN_SERVICE, "children"),
        Output(ids.SITES_GRID, "rowData"),
        Output(ids.HISTORY_GRID, "rowData"),
        Input(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def refresh(_version: Any) -> tuple:
        current_person()  # an authenticated request, like every other
        try:
            rows: Any = site_rows(store)
        except LOAD_ERRORS:  # sites.csv unreadable: the grid keeps what it shows
            rows = dash.no_update
        return in_service(store), rows, history_rows(paths)
