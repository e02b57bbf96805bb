"""Callbacks: thin glue between the page's controls and metrics → figures.

Registered on one app by :func:`register` (never on a global app at import time). Every
callback reads the current data from the :class:`~dashboard.store.DataStore`, so the
numbers always come from the data dir's last good version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
import pandas as pd
from dash import Input, Output, State, ctx, dcc, no_update

from . import layout as L
from .exports import sites_table_csv
from .store import DataStore


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


def toggle(selection: list[str] | None, site_id: str | None) -> list[str]:
    current = list(selection or [])
    if not site_id:
        return current
    if site_id in current:
        current.remove(site_id)
    else:
        current.append(site_id)
    return sorted(current)


def _clicked_site(click_data: dict[str, Any] | None) -> str | None:
    if not click_data or not click_data.get("points"):
        return None
    custom = click_data["points"][0].get("customdata")
    if isinstance(custom, list):
        custom = custom[0] if custom else None
    return None if custom is None else str(custom)


def selection_text(highlighted: set[str] | None, total: int) -> str:
    if highlighted is None:
        return "No selection"
    return f"{len(highlighted)} of {total} sites selected"


def register(
    app: dash.Dash,
    store: DataStore,
    default_as_of: dt.date | None = None,
    cache: L.NumbersCache | None = None,
) -> None:
    """Attach the page's callbacks to ``app`` (numbers shared with the layout via ``cache``)."""
    cache = cache or L.NumbersCache()

    def resolve_as_of(value: str | None) -> dt.date:
        if value:
            try:
                return dt.date.fromisoformat(str(value)[:10])
            except ValueError:
                pass
        return default_as_of or store.get().data_cutoff

    @app.callback(
        Output(L.URL, "search"),
        Output(L.AS_OF, "date"),
        Input(L.URL, "search"),
        Input(L.AS_OF, "date"),
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
        Input(L.CLEAR_SELECTION, "n_clicks"),
        State(L.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def update_selection(map_click, bar_click, activation_click, cell_clicked, _clear, selection):
        """A click on a marker, bar, timeline point or table row toggles that site."""
        trigger = ctx.triggered_id
        if trigger == L.CLEAR_SELECTION:
            return [], [], None, None, None
        if trigger == L.GRID:
            site_id = (cell_clicked or {}).get("rowId")
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
        Input(L.AS_OF, "date"),
        Input(L.STATUS_FILTER, "value"),
        Input(L.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def refresh(date: str | None, statuses: list[str] | None, selection: list[str] | None):
        """Recount everything for the as-of date; emphasise the selected sites."""
        data = store.get()
        as_of = resolve_as_of(date)
        numbers = cache.get(data, as_of)
        highlighted = highlighted_sites(numbers.table, statuses, selection)
        selected = set(selection or ())
        # A new selection leaves the counts, alerts and accrual chart as they are.
        same_date = f"{L.AS_OF}.date" not in ctx.triggered_prop_ids
        return (
            no_update if same_date else L.as_of_text(as_of),
            no_update if same_date else L.alerts(data, store.errors, as_of),
            no_update if same_date else L.kpi_cards(numbers, data),
            L.map_figure(numbers, highlighted, selected),
            no_update if same_date else L.accrual(numbers, data),
            L.bars_figure(numbers, highlighted, selected),
            L.timeline_figure(numbers, data, highlighted, selected),
            L.grid_rows(numbers.table, highlighted, selected),
            selection_text(highlighted, len(numbers.table)),
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

    @app.callback(
        Output(L.DOWNLOAD, "data"),
        Input(L.EXPORT_BUTTON, "n_clicks"),
        State(L.AS_OF, "date"),
        prevent_initial_call=True,
    )
    def export_sites_csv(_n_clicks, date):
        """The per-site table as of the chosen date, formula-escaped, for a spreadsheet."""
        data = store.get()
        as_of = resolve_as_of(date)
        numbers = cache.get(data, as_of)
        name = (data.trial.acronym or data.trial.nct_id).lower()
        return dcc.send_string(
            "\ufeff" + sites_table_csv(numbers.table),
            filename=f"{name}-sites-as-of-{as_of.isoformat()}.csv",
            type="text/csv",
        )
