"""The sites table on screen: an AG Grid of one aggregate row per site."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import numpy as np
import pandas as pd

from ...figures.theme import iso_days
from ...registry import STATUS_LABELS
from ..ids import GRID


def _numbers(column: pd.Series, digits: int | None = None) -> list[Any]:
    """A numeric column as JSON numbers: None where missing, rounded to ``digits`` (Python's
    ``round``, as before), else ints. Missing values are found for the whole column at once
    (``pd.isna`` per cell was ~1 µs, 10,000 cells per date at 2,000 sites)."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(values).tolist()
    listed = values.tolist()
    if digits is not None:
        return [None if m else round(v, digits) for v, m in zip(listed, missing, strict=True)]
    return [None if m else int(v) for v, m in zip(listed, missing, strict=True)]


def grid_rows(
    table: pd.DataFrame,
    highlighted: set[str] | None = None,
    selected: set[str] | frozenset = frozenset(),
) -> list[dict[str, Any]]:
    """One aggregate row per site for the grid (no patient-level field ever).

    ``selected`` and ``dimmed`` are only written when true (the row styles test them): at
    2,000 sites the two ``false`` were a tenth of the rows' bytes.
    """
    ids = [str(s) for s in table["site_id"].tolist()]
    columns = {
        "site_id": ids,
        "facility": table["facility"].tolist(),
        "city": table["city"].tolist(),
        "status": [STATUS_LABELS.get(s, s) for s in table["status"].tolist()],
        "activation_date": iso_days(table["activation_date"]),
        "screened": _numbers(table["screened"]),
        "randomized": _numbers(table["randomized"]),
        "share": _numbers(table["share_of_randomized"], 1),
        "first_randomization": iso_days(table["first_randomization"]),
        "last_randomization": iso_days(table["last_randomization"]),
        "days_since_last": _numbers(table["days_since_last_randomization"]),
        "rate": _numbers(table["rate_per_month_since_activation"], 2),
        "flag": [f or "" for f in table["flag"].tolist()],
    }
    names = list(columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    for row, site_id in zip(rows, ids, strict=True):
        if site_id in selected:
            row["selected"] = True
        if highlighted is not None and site_id not in highlighted:
            row["dimmed"] = True
    return rows


def grid_columns() -> list[dict[str, Any]]:
    """Columns of the sites grid: fixed widths for numbers and dates, text columns flex."""
    number = {"type": "numericColumn", "filter": "agNumberColumnFilter", "width": 108}
    date = {"filter": "agTextColumnFilter", "width": 116}
    return [
        {"field": "site_id", "headerName": "Site", "width": 90, "sort": "asc"},
        {
            "field": "facility",
            "headerName": "Facility",
            "flex": 2,
            "minWidth": 200,
            "tooltipField": "facility",
        },
        {
            "field": "city",
            "headerName": "City",
            "flex": 1.2,
            "minWidth": 120,
            "tooltipField": "city",
        },
        {"field": "status", "headerName": "Status", "flex": 1.2, "minWidth": 130},
        {"field": "activation_date", "headerName": "Activated", **date},
        {"field": "screened", "headerName": "Screened", **number},
        {"field": "randomized", "headerName": "Randomized", **number, "width": 132},
        {
            "field": "share",
            "headerName": "Share %",
            **number,
            "width": 100,
            "headerTooltip": "Share of all randomized patients",
        },
        {
            "field": "first_randomization",
            "headerName": "First rand.",
            **date,
            "headerTooltip": "Date of the site's first randomization",
        },
        {
            "field": "last_randomization",
            "headerName": "Last rand.",
            **date,
            "headerTooltip": "Date of the site's latest randomization",
        },
        {
            "field": "days_since_last",
            "headerName": "Days since last",
            **number,
            "width": 146,
            "headerTooltip": "Days since the site's latest randomization",
        },
        {
            "field": "rate",
            "headerName": "Rand. / month",
            **number,
            "width": 136,
            "headerTooltip": "Randomized per month since activation",
        },
        {
            "field": "flag",
            "headerName": "Flag",
            "flex": 1.8,
            "minWidth": 270,
            "cellClassRules": {
                "flag-cell flag-none": "params.value === 'Recruiting, none randomized'",
                "flag-cell flag-stale": "params.value === 'None in last 90 days'",
                # Data inconsistencies (metrics.site_table): a wrong date, a lagging registry.
                "flag-cell flag-data": "params.value.indexOf('Data:') >= 0 "
                "|| params.value.indexOf('registry says') >= 0",
            },
        },
    ]


#: Up to this many rows the grid draws every row (the page and its tests see them all);
#: beyond, AG Grid draws only the rows in view (2,000 rows drawn at once cost ~20 s).
GRID_ALL_ROWS_MAX = 200


def sites_grid(rows: list[dict[str, Any]]) -> dag.AgGrid:
    return dag.AgGrid(
        id=GRID,
        rowData=rows,
        columnDefs=grid_columns(),
        defaultColDef={
            "sortable": True,
            "filter": True,
            "resizable": True,
            "floatingFilter": True,
            "suppressHeaderMenuButton": True,
            "suppressHeaderFilterButton": True,
            "suppressFloatingFilterButton": True,
        },
        getRowId="params.data.site_id",
        rowClassRules={
            "row-selected": "params.data.selected",
            "row-dimmed": "params.data.dimmed",
        },
        dashGridOptions={
            "rowHeight": 32,
            "headerHeight": 36,
            "suppressRowVirtualisation": len(rows) <= GRID_ALL_ROWS_MAX,
            "suppressColumnVirtualisation": True,
            "animateRows": False,
            # Cells take the keyboard focus: arrows move, Enter or Space on a row or cell
            # selects the site (assets/grid_keyboard.js); Tab goes row by row, then out of
            # the grid (not through its 600 cells), Shift+Tab back.
            "suppressCellFocus": False,
            "tabToNextCell": {"function": "false"},
            "tabToNextHeader": {"function": "false"},
            "tooltipShowDelay": 300,
        },
        style={"height": "560px", "width": "100%"},
        className="sites-grid",
    )
