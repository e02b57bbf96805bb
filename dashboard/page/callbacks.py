"""Callbacks: thin glue between the page's controls and metrics → figures.

Registered on one app by :func:`register` (never on a global app at import time). Every
callback reads the current data from the :class:`~dashboard.store.DataStore`, so the
numbers always come from the data dir's last good version.

The main callback (:func:`register`'s ``refresh``) has NAMED outputs: :data:`REFRESH`
maps a name to a component property, and :func:`refresh_outputs` returns a dict with the
same names. A new chart is one more entry in both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, State, ctx, no_update

from .. import dates
from ..compression import declare_body_key
from ..dates import AsOfRefused, as_of_range, parse_as_of
from ..store import DataStore, TrialData
from . import chart_text, ids
from .components.alerts import alerts
from .components.charts import (
    accrual_chart,
    accrual_observed,
    activation_chart,
    bars_chart,
    map_chart,
)
from .components.grid import grid_rows
from .components.header import as_of_text
from .components.kpi_cards import KpiCards
from .downloads import SnapshotDownloads, table_download
from .replies import OutputsCache, encode_output
from .shared_replies import SharedReplies
from .view_model import NumbersCache

#: The main callback's outputs by name: what :func:`refresh_outputs` fills.
REFRESH = {
    "as_of_text": Output(ids.AS_OF_TEXT, "children"),
    "alerts": Output(ids.ALERTS, "children"),
    "kpis": Output(ids.KPIS, "children"),
    "map": Output(ids.MAP, "figure"),
    "accrual": Output(ids.ACCRUAL, "figure"),
    "bars": Output(ids.BARS, "figure"),
    "activation": Output(ids.ACTIVATION, "figure"),
    "grid": Output(ids.GRID, "rowData"),
    "selection_text": Output(ids.SELECTION_TEXT, "children"),
}


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
    site_ids = set(table["site_id"].astype(str))
    if statuses:
        site_ids &= set(table.loc[table["status"].isin(statuses), "site_id"].astype(str))
    if clicked:
        site_ids &= clicked
    return site_ids


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


def refusal_alert(exc: Exception) -> dash.html.Div:
    """The page's answer to a refused request (an as-of date out of range): said plainly."""
    return dash.html.Div(str(exc), className="alert alert-danger py-2 mb-2", id="as-of-refused")


def selection_text(highlighted: set[str] | None, total: int) -> str:
    if highlighted is None:
        return "No selection"
    return f"{len(highlighted)} of {total} sites selected"


def refresh_outputs(
    numbers_cache: NumbersCache,
    data: TrialData,
    errors: tuple[str, ...],
    as_of: dt.date,
    statuses: list[str],
    selection: list[str],
    same_date: bool,
    encode: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """The main callback's outputs, by the names of :data:`REFRESH`.

    A new selection (``same_date``) leaves the counts, alerts and accrual chart as they are.
    ``encode`` (:func:`~dashboard.page.replies.encode_output`) is applied to each output,
    to those that do not show the forecast before it is waited for.
    """
    done: Callable[[Any], Any] = encode or (lambda value: value)
    numbers = numbers_cache.get(data, as_of)
    highlighted = highlighted_sites(numbers.table, statuses, selection)
    selected = set(selection or ())

    def on_new_date(make: Any) -> Any:
        return no_update if same_date else make()

    # What does not show the forecast first: it may still be running beside these
    # (:class:`~dashboard.page.view_model.PendingForecast`).
    # Encoded at once: their encoding is then done while the forecast still runs.
    counted = {
        "as_of_text": done(on_new_date(lambda: as_of_text(as_of))),
        "alerts": done(on_new_date(lambda: alerts(data, errors, as_of))),
        "map": done(map_chart(numbers, highlighted, selected, validate=False)),
        "bars": done(bars_chart(numbers, highlighted, selected, validate=False)),
        "activation": done(activation_chart(numbers, data, highlighted, selected, validate=False)),
        "grid": done(grid_rows(numbers.table, highlighted, selected)),
        "selection_text": done(selection_text(highlighted, len(numbers.table))),
    }
    # What shows the forecast, in two steps: the KPI cards and the accrual chart's observed
    # lines that do not show it are made while it still runs; then the rest, waiting for it.
    cards = None if same_date else KpiCards(numbers, data)
    observed = None if same_date else accrual_observed(numbers)
    forecast = {
        "kpis": done(no_update if cards is None else cards.finish()),
        "accrual": done(
            no_update
            if same_date
            else accrual_chart(numbers, data, validate=False, observed=observed)
        ),
    }
    return {**counted, **forecast}  # Dash matches named outputs by name, not by order


def register(
    app: dash.Dash,
    store: DataStore,
    default_as_of: dt.date | None = None,
    cache: NumbersCache | None = None,
    outputs: OutputsCache | None = None,
    shared: SharedReplies | None = None,
    on_miss: Callable[[TrialData], None] | None = None,
) -> None:
    """Attach the page's callbacks to ``app`` (numbers shared with the layout via ``cache``).

    ``shared``: replies to a date change shared by the workers of the data dir (and
    filled ahead by the warm-up); ``on_miss``: told of each reply not found in this
    process (:meth:`~dashboard.page.warmup.Warmer.ensure`).
    """
    numbers_cache = cache or NumbersCache()
    replies = outputs if outputs is not None else OutputsCache()
    snapshots = SnapshotDownloads(app.config.requests_pathname_prefix)

    def resolve_as_of(value: Any) -> dt.date:
        """The request's as-of date, refused (:class:`AsOfRefused`) outside the trial's range."""
        data = store.get()
        allowed = as_of_range(data.trial.start_date, data.data_cutoff)
        return dates.resolve_as_of(value, default_as_of or data.data_cutoff, allowed)

    @app.callback(
        output={"search": Output(ids.URL, "search"), "date": Output(ids.AS_OF, "value")},
        inputs={"search": Input(ids.URL, "search"), "date": Input(ids.AS_OF, "value")},
    )
    def sync_url_and_as_of(search: str | None, date: str | None) -> dict[str, Any]:
        """?as_of=YYYY-MM-DD in the URL sets the picker; the picker keeps the URL bookmarkable."""
        unchanged = {"search": no_update, "date": no_update}
        if ctx.triggered_id == ids.AS_OF:
            if not date:
                return unchanged
            wanted = f"?{urlencode({'as_of': str(date)[:10]})}"
            return {**unchanged, "search": wanted if wanted != search else no_update}
        from_url = parse_as_of(search)
        if from_url is None or from_url.isoformat() == str(date)[:10]:
            return unchanged
        return {**unchanged, "date": from_url.isoformat()}

    @app.callback(
        output={
            "selection": Output(ids.SELECTION, "data"),
            "statuses": Output(ids.STATUS_FILTER, "value"),
            "map_click": Output(ids.MAP, "clickData"),
            "bars_click": Output(ids.BARS, "clickData"),
            "activation_click": Output(ids.ACTIVATION, "clickData"),
        },
        inputs={
            "map_click": Input(ids.MAP, "clickData"),
            "bars_click": Input(ids.BARS, "clickData"),
            "activation_click": Input(ids.ACTIVATION, "clickData"),
            "cell_clicked": Input(ids.GRID, "cellClicked"),
            "cell_key": Input(ids.GRID, "eventData"),
            "clear": Input(ids.CLEAR_SELECTION, "n_clicks"),
            "selection": State(ids.SELECTION, "data"),
        },
        prevent_initial_call=True,
    )
    def update_selection(
        map_click: Any,
        bars_click: Any,
        activation_click: Any,
        cell_clicked: Any,
        cell_key: Any,
        clear: Any,
        selection: Any,
    ) -> dict[str, Any]:
        """A click on a marker, bar, activation row or table row toggles that site, and so
        does Enter or Space on a row of the table (its ``eventData``: the site id, set by
        assets/grid_keyboard.js)."""
        trigger = ctx.triggered_id
        unchanged = {
            "selection": no_update,
            "statuses": no_update,
            "map_click": no_update,
            "bars_click": no_update,
            "activation_click": no_update,
        }
        # Reset clickData so that clicking the same site again toggles it back.
        reset_clicks = {"map_click": None, "bars_click": None, "activation_click": None}
        if trigger == ids.CLEAR_SELECTION:
            return {"selection": [], "statuses": [], **reset_clicks}
        if trigger == ids.GRID:
            if f"{ids.GRID}.eventData" in ctx.triggered_prop_ids:
                cell_clicked = (
                    {"rowId": cell_key.get("data")} if isinstance(cell_key, dict) else None
                )
            site_id = cell_clicked.get("rowId") if isinstance(cell_clicked, dict) else None
            site_id = site_id if isinstance(site_id, str) else None
            return {**unchanged, "selection": toggle(selection, site_id)}
        click = {ids.MAP: map_click, ids.BARS: bars_click, ids.ACTIVATION: activation_click}
        site_id = _clicked_site(click.get(trigger))
        if site_id is None:  # the click data reset below, or a click on a non-site trace
            return unchanged
        return {**unchanged, "selection": toggle(selection, site_id), **reset_clicks}

    @app.callback(
        output=REFRESH,
        inputs={
            "date": Input(ids.AS_OF, "value"),
            "statuses": Input(ids.STATUS_FILTER, "value"),
            "selection": Input(ids.SELECTION, "data"),
        },
        prevent_initial_call=True,
    )
    def refresh(date: str | None, statuses: Any, selection: Any) -> dict[str, Any]:
        """Recount everything for the as-of date; emphasise the selected sites.

        The complete outputs, encoded, are kept per data version, as-of date, status
        filter and selection (:class:`~dashboard.page.replies.OutputsCache`): a view seen
        before is copied out, not redrawn. A plain date change is looked up next in the
        data dir's shared replies (another worker's, or the warm-up's), else computed
        and shared.
        """
        data = store.get()
        statuses, selection = strings(statuses), strings(selection)
        try:
            as_of = resolve_as_of(date)
        except AsOfRefused as exc:
            return {**dict.fromkeys(REFRESH, no_update), "alerts": refusal_alert(exc)}
        same_date = f"{ids.AS_OF}.value" not in ctx.triggered_prop_ids
        errors = store.errors
        key = replies.key(data, as_of, not same_date, statuses, selection, errors)
        hit = replies.get(data, key)
        if hit is None:
            if on_miss is not None:
                on_miss(data)
            # A plain date change is what every reader stepping the picker asks: shared.
            sharing = shared if not same_date and not statuses and not selection else None
            wide = sharing.key(data, as_of, True, (), (), errors) if sharing else ""
            found = sharing.get(wide) if sharing else None
            if found is None:
                found = refresh_outputs(
                    numbers_cache,
                    data,
                    errors,
                    as_of,
                    statuses,
                    selection,
                    same_date,
                    encode_output,
                )
                if sharing:
                    sharing.put(wide, found)
            hit = replies.put(data, key, found)
        # The reply is now a function of these numbered outputs (and the request): its
        # compressed form is kept too, so a view seen again is not compressed again.
        declare_body_key(f"refresh:{id(replies)}:{hit.serial}")
        return hit

    # The "Show data" tables and the print table come after the first screen (not in the
    # layout), from the same numbers: chart_text fills them at load and on each new date.
    chart_text.register(
        app,
        store,
        ids.AS_OF,
        ids.AS_OF_TEXT,
        numbers_cache,
        lambda: default_as_of,
        url=ids.URL,
        print_table_id=ids.PRINT_TABLE,
    )

    app.clientside_callback(
        """
        function(rows, allRows) {
            const shown = rows ? rows.length : 0;
            const total = allRows ? allRows.length : 0;
            return shown === total ? `${total} sites` : `${shown} of ${total} sites shown`;
        }
        """,
        Output(ids.GRID_COUNT, "children"),
        Input(ids.GRID, "virtualRowData"),
        State(ids.GRID, "rowData"),
    )

    def download_table(what: str, xlsx_id: str, date: str | None) -> Any:
        kind = "xlsx" if ctx.triggered_id == xlsx_id else "csv"
        try:
            as_of = resolve_as_of(date)
        except AsOfRefused as exc:
            dash.set_props(ids.ALERTS, {"children": refusal_alert(exc)})
            return no_update
        return table_download(store.get(), what, kind, as_of)

    @app.callback(
        Output(ids.SITES_DOWNLOAD, "data"),
        Input(ids.SITES_CSV, "n_clicks"),
        Input(ids.SITES_XLSX, "n_clicks"),
        State(ids.AS_OF, "value"),
        prevent_initial_call=True,
    )
    def export_sites(_csv: Any, _xlsx: Any, date: str | None) -> Any:
        """The per-site table as of the chosen date, for a spreadsheet."""
        return download_table("sites", ids.SITES_XLSX, date)

    @app.callback(
        Output(ids.ACCRUAL_DOWNLOAD, "data"),
        Input(ids.ACCRUAL_CSV, "n_clicks"),
        Input(ids.ACCRUAL_XLSX, "n_clicks"),
        State(ids.AS_OF, "value"),
        prevent_initial_call=True,
    )
    def export_accrual(_csv: Any, _xlsx: Any, date: str | None) -> Any:
        """The daily cumulative screened and randomized counts to the chosen date."""
        return download_table("accrual", ids.ACCRUAL_XLSX, date)

    @app.callback(
        output={
            "file": Output(ids.SNAPSHOT_DOWNLOAD, "data"),
            "status": Output(ids.SNAPSHOT_STATUS, "children"),
        },
        inputs={
            "pdf": Input(ids.PDF_BUTTON, "n_clicks"),
            "png": Input(ids.PNG_BUTTON, "n_clicks"),
            "date": State(ids.AS_OF, "value"),
        },
        prevent_initial_call=True,
        running=[
            (Output(ids.PDF_BUTTON, "disabled"), True, False),
            (Output(ids.PNG_BUTTON, "disabled"), True, False),
            (Output(ids.SNAPSHOT_BUSY, "style"), {"display": "inline"}, {"display": "none"}),
            (Output(ids.SNAPSHOT_STATUS, "children"), "", ""),
        ],
    )
    def download_snapshot(pdf: Any, png: Any, date: str | None) -> dict[str, Any]:
        """The ``snapshot`` command's PDF or PNG of this page for the as-of date
        (:class:`~dashboard.page.downloads.SnapshotDownloads`)."""
        kind = "png" if ctx.triggered_id == ids.PNG_BUTTON else "pdf"
        try:
            as_of = resolve_as_of(date)
        except AsOfRefused as exc:
            return {"file": no_update, "status": f"{kind.upper()} not made: {exc}"}
        body, status = snapshots.make(store.get(), kind, as_of)
        return {"file": no_update if body is None else body, "status": status}
