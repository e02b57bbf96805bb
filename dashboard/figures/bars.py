"""Randomized per site: one horizontal bar per site, sorted by count, coloured by status.

Takes :func:`dashboard.metrics.site_table` as it is and puts the site id in ``customdata``
so a click selects the site across the page. The row height and labels are shared with
the activation chart (:mod:`dashboard.figures.activation`), which lists the same sites.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..registry import LOCATION_STATUSES
from . import theme

ROW_PX = 18
LABEL_CHARS = 40


@functools.lru_cache(maxsize=8192)
def site_label(site_id: str, facility: str, city: str) -> str:
    """Unique, short y-axis label: "26 · CHU Montpellier - St Eloi…, Montpellier"."""
    city_part = "" if city.lower() in facility.lower() else f", {city}"
    room = LABEL_CHARS - len(city_part)
    name = facility if len(facility) <= room else facility[: room - 1].rstrip() + "…"
    return f"{site_id} · {name}{city_part}"


def figure_height(n_sites: int) -> int:
    """Height that gives every site a readable row."""
    return max(260, ROW_PX * n_sites + 120)


def site_labels(table: pd.DataFrame) -> list[str]:
    return [
        site_label(str(site_id), str(facility), str(city))
        for site_id, facility, city in zip(
            table["site_id"].tolist(),
            table["facility"].tolist(),
            table["city"].tolist(),
            strict=True,
        )
    ]


#: The site table's columns the bars read (the others are not turned into row dicts).
BAR_COLUMNS = ("site_id", "facility", "city", "status", "randomized", "screened", "target")


def site_opacities(site_ids: list[str], highlighted: set[str] | None) -> list[float]:
    return [
        theme.DIMMED_OPACITY if highlighted is not None and s not in highlighted else 1.0
        for s in site_ids
    ]


def hover_template(status: str) -> str:
    """The hover of one status's bars; the site's own values are its ``customdata``
    ([site id, facility, city, randomized, screened, site target line])."""
    return (
        "<b>%{customdata[1]}</b><br>%{customdata[2]} · site %{customdata[0]}"
        f"<br>Status: {theme.status_label(status)}"
        "<br>Randomized: %{customdata[3]} · Screened: %{customdata[4]}%{customdata[5]}"
        "<extra></extra>"
    )


def _hover_data(r: Mapping[str, Any]) -> list[str]:
    target = r.get("target")
    return [
        r["site_id"],
        str(r["facility"]),
        str(r["city"]),
        str(int(r["randomized"])),
        str(int(r["screened"])),
        "" if target is None or pd.isna(target) else f"<br>Site target: {int(target)}",
    ]


def _bar_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The bars' rows, largest count first (then by site id), with their labels: the
    records of ``table.sort_values(["randomized", "site_id"], ascending=[False, True])``
    with a string ``site_id`` and a ``label``, sorted on the arrays (np.lexsort is stable,
    as that sort is)."""
    site_ids = table["site_id"].astype(str).tolist()
    randomized = table["randomized"].to_numpy()
    order = np.lexsort((np.asarray(site_ids, dtype=str), -randomized)).tolist()
    columns = {c: theme.column_values(table[c]) for c in BAR_COLUMNS if c in table}
    columns["site_id"] = site_ids
    columns["label"] = site_labels(table)
    return theme.ordered_records(columns, order)


def site_bar_figure(
    table: pd.DataFrame,
    *,
    highlighted: Collection[str] | None = None,
    selected: Collection[str] = (),
    validate: bool = True,
) -> go.Figure | dict[str, Any]:
    """Randomized per site, largest first, coloured by status; site targets as ticks.

    ``table``: :func:`dashboard.metrics.site_table` (site_id, facility, city, status,
    randomized, screened, target). One bar trace per status present (legend), then a
    "Site target" marker trace when any site has a target. ``customdata`` is the site id.
    """
    highlighted_set = None if highlighted is None else {str(s) for s in highlighted}
    selected_set = {str(s) for s in selected}
    records = _bar_records(table)
    data: list[dict[str, Any]] = []
    present = {r["status"] for r in records}
    statuses = [s for s in LOCATION_STATUSES if s in present]
    statuses += sorted(present - set(statuses))
    for status in statuses:
        part = [r for r in records if r["status"] == status]
        ids = [r["site_id"] for r in part]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "x": [int(r["randomized"]) for r in part],
                "y": [r["label"] for r in part],
                "customdata": [_hover_data(r) for r in part],
                "name": theme.status_label(status),
                "marker": {
                    "color": theme.status_color(status),
                    "opacity": site_opacities(ids, highlighted_set),
                    "line": {
                        "color": theme.SELECTED_OUTLINE,
                        "width": [2 if s in selected_set else 0 for s in ids],
                    },
                },
                "texttemplate": "%{x}",
                "textposition": "outside",
                "cliponaxis": False,
                "textfont": {"size": 11, "color": theme.TEXT_COLOR},
                "hovertemplate": hover_template(status),
            }
        )
    with_target = [
        r for r in records if r.get("target") is not None and not pd.isna(r.get("target"))
    ]
    if with_target:
        data.append(
            {
                "type": "scatter",
                "x": [int(r["target"]) for r in with_target],
                "y": [r["label"] for r in with_target],
                "mode": "markers",
                "marker": {
                    "symbol": "line-ns",
                    "size": 15,
                    "line": {"width": 3, "color": theme.TARGET_COLOR},
                    "color": theme.TARGET_COLOR,
                },
                "customdata": [[r["site_id"]] for r in with_target],
                "name": "Site target",
                "hovertemplate": "%{y}<br>Site target: %{x}<extra></extra>",
            }
        )
    max_x = max(
        [1] + [int(r["randomized"]) for r in records] + [int(r["target"]) for r in with_target]
    )
    layout = theme.base_layout(
        height=figure_height(len(records)),
        margin={"l": 8, "r": 24, "t": 8, "b": 8},
        barmode="overlay",
        bargap=0.28,
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": -0.005, "xanchor": "left", "yanchor": "top"},
        clickmode="event",
        dragmode=False,
        xaxis=theme.axis_style(
            range=[0, max_x * 1.1 + 0.6],
            dtick=1 if max_x <= 12 else None,
            side="top",
            fixedrange=True,
        ),
        yaxis=theme.axis_style(
            type="category",
            categoryorder="array",
            categoryarray=[r["label"] for r in records],
            range=[len(records) - 0.5, -0.6],
            showgrid=False,
            ticks="",
            tickfont={"size": 11, "color": theme.TEXT_COLOR},
            fixedrange=True,
        ),
    )
    return theme.make_figure(data, layout, validate=validate)
