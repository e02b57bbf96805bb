"""Site activation → first randomization: one row per site, from activation to its first
patient (or to the as-of date while it waits).

Takes :func:`dashboard.metrics.site_table` as it is and puts the site id in ``customdata``
so a click selects the site across the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import theme
from .bars import figure_height, site_labels, site_opacities

#: The columns the activation chart reads (the others are not turned into row dicts).
ACTIVATION_COLUMNS = (
    "site_id",
    "facility",
    "city",
    "status",
    "stage",
    "label",
    "activation_iso",
    "first_iso",
    "days_activation_to_first_randomization",
    "days_open",
)


def _reading_order(
    table: pd.DataFrame, as_of: dt.date | str | pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`activation_order` as positions in ``table`` and each site's stage (in the
    table's order): the figure takes its rows in that order without building the frame."""
    cut = pd.Timestamp(as_of).value
    nat = np.iinfo(np.int64).min
    activation = _ns(table["activation_date"])
    known = activation != nat
    activated = known & (activation <= cut)
    started = _ns(table["first_randomization"]) != nat
    stage_rank = np.where(started, 2, np.where(activated, 1, 0))
    # Not-yet-recruiting (registry) sites first among those not activated; the longest
    # wait first among those waiting; by activation date (unknown last) among the started.
    recruiting = (table["status"] == "RECRUITING").fillna(False).to_numpy(dtype=bool)
    status_rank = np.where(stage_rank == 0, recruiting.astype(np.int64), 0)
    wait_key = np.where((stage_rank == 1) & known, activation - cut, 0)
    started_key = np.where((stage_rank == 2) & known, activation, np.iinfo(np.int64).max)
    site_ids = np.asarray(table["site_id"].astype(str).to_numpy(), dtype=str)
    # One stable sort on the five keys (np.lexsort: the last key is the first criterion),
    # as sort_values on them did, at a fraction of the cost of five pandas columns.
    order = np.lexsort((site_ids, started_key, wait_key, status_rank, stage_rank))
    stages = np.array(["not_activated", "waiting", "started"], dtype=object)[stage_rank]
    return order, stages


def activation_order(table: pd.DataFrame, as_of: dt.date | str | pd.Timestamp) -> pd.DataFrame:
    """Sites in reading order for the study chair, with their activation stage.

    Stage "not_activated" (no activation date by ``as_of``: not yet recruiting sites first),
    then "waiting" (activated, nobody randomized yet; longest wait first), then "started"
    (first randomization done; by activation date).
    """
    order, stages = _reading_order(table, as_of)
    return table.iloc[order].assign(stage=stages[order]).reset_index(drop=True)


def _ns(column: pd.Series) -> np.ndarray:
    """A date column as int64 nanoseconds; missing: int64 min (NaT)."""
    return column.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _first_patient_text(r: Mapping[str, Any]) -> str:
    """Label of a first randomization: days from activation, or why there are none.

    Real exports come before anyone types activation dates (no date: no days), and a
    typed date can be wrong (after the first patient: negative days, said so).
    """
    days = r.get("days_activation_to_first_randomization")
    if days is None or pd.isna(days):
        return "no activation date"
    if days < 0:
        return f"{int(days)} d · activation date after first patient"
    return f"{int(days)} d"


#: The hover of every activation marker: the site's own values are its ``customdata``
#: ([site id, facility, city, status, activation, first randomization, stage lines]).
HOVER_TEMPLATE = (
    "<b>%{customdata[1]}</b><br>%{customdata[2]} · site %{customdata[0]}"
    "<br>Status: %{customdata[3]}<br>Activation: %{customdata[4]}"
    "<br>First randomization: %{customdata[5]}%{customdata[6]}<extra></extra>"
)


def _stage_lines(r: Mapping[str, Any]) -> str:
    """The hover's last lines: days to the first patient, the wait, or not activated."""
    lines = []
    days = r.get("days_activation_to_first_randomization")
    if r["stage"] == "started" and days is not None and not pd.isna(days):
        lines.append(f"Activation → first patient: {int(days)} days")
        if days < 0:
            lines.append("Data inconsistency: activation date after the first randomization")
    elif r["stage"] == "waiting" and not pd.isna(r.get("days_open")):
        lines.append(f"Waiting since activation: {int(r['days_open'])} days")
    elif r["stage"] == "not_activated":
        lines.append("Not activated by the as-of date")
    return "".join("<br>" + line for line in lines)


def _hover_data(r: Mapping[str, Any]) -> list[str]:
    """A marker's ``customdata``: the site id first (a click selects it), then what
    :data:`HOVER_TEMPLATE` writes."""
    return [
        r["site_id"],
        str(r["facility"]),
        str(r["city"]),
        theme.status_label(str(r["status"])),
        r["activation_iso"] or "not known",
        r["first_iso"] or "—",
        _stage_lines(r),
    ]


def activation_figure(
    table: pd.DataFrame,
    *,
    as_of: dt.date | str | pd.Timestamp,
    trial_start: dt.date | str | pd.Timestamp,
    highlighted: Collection[str] | None = None,
    selected: Collection[str] = (),
    validate: bool = True,
) -> go.Figure | dict[str, Any]:
    """Timeline per site: activation (open circle) → first randomization (filled circle).

    Sites not activated by ``as_of`` come first and say so; then sites still waiting for a
    first patient (dotted segment to ``as_of``, labelled with the days waited); then sites
    with a first randomization, labelled with the days from activation. Uses the columns
    activation_date, first_randomization, days_activation_to_first_randomization and
    days_open of :func:`dashboard.metrics.site_table`. ``customdata`` is the site id.
    """
    highlighted_set = None if highlighted is None else {str(s) for s in highlighted}
    selected_set = {str(s) for s in selected}
    cut = pd.Timestamp(as_of).date()
    start = pd.Timestamp(trial_start).date()
    order, stages = _reading_order(table, cut)
    # The records of activation_order(table) with these columns added, built per column
    # in the table's order and taken in reading order (no sorted frame is built).
    added = {
        "site_id": table["site_id"].astype(str).tolist(),
        "stage": stages.tolist(),
        "label": site_labels(table),
        "activation_iso": theme.iso_days(table["activation_date"]),
        "first_iso": theme.iso_days(table["first_randomization"]),
    }
    columns = {
        c: added[c] if c in added else theme.column_values(table[c])
        for c in ACTIVATION_COLUMNS
        if c in added or c in table
    }
    records = theme.ordered_records(columns, order.tolist())
    by_stage = {
        stage: [r for r in records if r["stage"] == stage]
        for stage in ("not_activated", "waiting", "started")
    }
    data: list[dict[str, Any]] = []

    def segments(rows: list[dict[str, Any]], end_of) -> tuple[list, list]:
        xs: list[str | None] = []
        ys: list[str | None] = []
        for r in rows:
            xs += [r["activation_iso"], end_of(r), None]
            ys += [r["label"], r["label"], None]
        return xs, ys

    if by_stage["started"]:
        xs, ys = segments(by_stage["started"], lambda r: r["first_iso"])
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines",
                "line": {"color": theme.RANDOMIZED_COLOR, "width": 2.5},
                "name": "Activation → first randomization",
                "hoverinfo": "skip",
            }
        )
    if by_stage["waiting"]:
        xs, ys = segments(by_stage["waiting"], lambda r: cut.isoformat())
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines",
                "line": {"color": theme.REQUIRED_COLOR, "width": 2, "dash": "dot"},
                "name": "Activated, no patient yet",
                "hoverinfo": "skip",
            }
        )
    activated = [r for r in by_stage["waiting"] + by_stage["started"] if r["activation_iso"]]
    if activated:
        ids = [r["site_id"] for r in activated]
        data.append(
            {
                "type": "scatter",
                "x": [r["activation_iso"] for r in activated],
                "y": [r["label"] for r in activated],
                "mode": "markers",
                "marker": {
                    "symbol": "circle-open",
                    "size": 9,
                    "color": theme.MARKER_OUTLINE,
                    "line": {"width": 2},
                    "opacity": site_opacities(ids, highlighted_set),
                },
                # The site's full hover is on the other marker of its row (first patient,
                # or waiting): this one says the activation date only, so that 2,000
                # sites do not send every site's details twice.
                "customdata": [[r["site_id"]] for r in activated],
                "name": "Activation",
                "hovertemplate": "%{y}<br>Activation: %{x|%Y-%m-%d}<extra></extra>",
            }
        )
    if by_stage["started"]:
        rows = by_stage["started"]
        ids = [r["site_id"] for r in rows]
        data.append(
            {
                "type": "scatter",
                "x": [r["first_iso"] for r in rows],
                "y": [r["label"] for r in rows],
                "mode": "markers+text",
                "marker": {
                    "symbol": "circle",
                    "size": 10,
                    "color": theme.RANDOMIZED_COLOR,
                    "opacity": site_opacities(ids, highlighted_set),
                    "line": {
                        "width": [2.5 if s in selected_set else 0 for s in ids],
                        "color": theme.SELECTED_OUTLINE,
                    },
                },
                "text": [_first_patient_text(r) for r in rows],
                "textposition": "middle right",
                "textfont": {"size": 10, "color": theme.MUTED_COLOR},
                "cliponaxis": False,
                "customdata": [_hover_data(r) for r in rows],
                "name": "First randomization (days after activation)",
                "hovertemplate": HOVER_TEMPLATE,
            }
        )
    if by_stage["waiting"]:
        rows = by_stage["waiting"]
        ids = [r["site_id"] for r in rows]
        data.append(
            {
                "type": "scatter",
                "x": [cut.isoformat()] * len(rows),
                "y": [r["label"] for r in rows],
                "mode": "markers+text",
                "marker": {
                    "symbol": "line-ns",
                    "size": 10,
                    "color": theme.REQUIRED_COLOR,
                    "line": {
                        "width": [3.5 if s in selected_set else 2 for s in ids],
                        "color": theme.REQUIRED_COLOR,
                    },
                    "opacity": site_opacities(ids, highlighted_set),
                },
                "text": [f"waiting {int(r['days_open'])} d" for r in rows],
                "textposition": "middle right",
                "textfont": {"size": 10, "color": theme.REQUIRED_COLOR},
                "cliponaxis": False,
                "customdata": [_hover_data(r) for r in rows],
                "name": "No patient yet (days since activation)",
                "hovertemplate": HOVER_TEMPLATE,
                "showlegend": False,
            }
        )
    if by_stage["not_activated"]:
        rows = by_stage["not_activated"]
        ids = [r["site_id"] for r in rows]
        data.append(
            {
                "type": "scatter",
                "x": [start.isoformat()] * len(rows),
                "y": [r["label"] for r in rows],
                "mode": "markers+text",
                "marker": {
                    "symbol": "x-thin",
                    "size": 9,
                    "color": theme.status_color("NOT_YET_RECRUITING"),
                    "line": {
                        "width": [3.5 if s in selected_set else 2 for s in ids],
                        "color": theme.status_color("NOT_YET_RECRUITING"),
                    },
                    "opacity": site_opacities(ids, highlighted_set),
                },
                "text": [
                    f"not activated — {theme.status_label(str(r['status'])).lower()}" for r in rows
                ],
                "textposition": "middle right",
                "textfont": {"size": 10, "color": theme.MUTED_COLOR},
                "customdata": [_hover_data(r) for r in rows],
                "name": "Not activated",
                "hovertemplate": HOVER_TEMPLATE,
            }
        )
    x_start = start - dt.timedelta(days=30)
    x_end = cut + dt.timedelta(days=max(120, (cut - start).days // 7))
    layout = theme.base_layout(
        height=figure_height(len(records)),
        margin={"l": 8, "r": 70, "t": 8, "b": 8},
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": -0.005, "xanchor": "left", "yanchor": "top"},
        clickmode="event",
        hovermode="closest",
        dragmode=False,
        shapes=[
            {
                "type": "line",
                "x0": cut.isoformat(),
                "x1": cut.isoformat(),
                "y0": 0,
                "y1": 1,
                "xref": "x",
                "yref": "paper",
                "line": {"color": theme.MUTED_COLOR, "width": 1, "dash": "dot"},
                "layer": "below",
            }
        ],
        xaxis=theme.axis_style(
            type="date",
            range=[x_start.isoformat(), x_end.isoformat()],
            tickformat="%b %Y",
            side="top",
            fixedrange=True,
        ),
        yaxis=theme.axis_style(
            type="category",
            categoryorder="array",
            categoryarray=[r["label"] for r in records],
            range=[len(records) - 0.5, -0.5],
            showgrid=True,
            ticks="",
            tickfont={"size": 11, "color": theme.TEXT_COLOR},
            fixedrange=True,
        ),
    )
    return theme.make_figure(data, layout, validate=validate)
