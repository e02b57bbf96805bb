"""One visual language for every figure: palette, fonts, white backgrounds, Graph config.

Colours are the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies). Every ClinicalTrials.gov location status has a colour, so a registry update
that introduces a new status never draws an uncoloured marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..registry import LOCATION_STATUSES, STATUS_LABELS

#: Okabe–Ito (2008) colour-blind-safe palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#8C8C8C",
}

#: One colour per ClinicalTrials.gov location status (all of them, not only those present).
STATUS_COLORS: dict[str, str] = {
    "RECRUITING": OKABE_ITO["bluish_green"],
    "NOT_YET_RECRUITING": OKABE_ITO["orange"],
    "ENROLLING_BY_INVITATION": OKABE_ITO["sky_blue"],
    "ACTIVE_NOT_RECRUITING": OKABE_ITO["blue"],
    "SUSPENDED": OKABE_ITO["vermillion"],
    "COMPLETED": "#404040",
    "TERMINATED": OKABE_ITO["reddish_purple"],
    "WITHDRAWN": OKABE_ITO["grey"],
    "AVAILABLE": OKABE_ITO["yellow"],
    "UNKNOWN": "#BBBBBB",
}
UNKNOWN_STATUS_COLOR = "#BBBBBB"
assert set(STATUS_COLORS) == set(LOCATION_STATUSES)

#: Series colours of the accrual chart.
RANDOMIZED_COLOR = OKABE_ITO["blue"]
SCREENED_COLOR = OKABE_ITO["sky_blue"]
TARGET_COLOR = "#212529"
PLANNED_COLOR = "#6C757D"
REQUIRED_COLOR = OKABE_ITO["vermillion"]
FORECAST_COLOR = OKABE_ITO["blue"]
LINEAR_COLOR = OKABE_ITO["orange"]
SELECTED_OUTLINE = "#000000"
MARKER_OUTLINE = "#343A40"

#: System font stack: no web font is ever requested.
FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", '
    '"Liberation Sans", Arial, sans-serif'
)
TEXT_COLOR = "#212529"
MUTED_COLOR = "#6C757D"
GRID_COLOR = "#E9ECEF"
DIMMED_OPACITY = 0.22


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, UNKNOWN_STATUS_COLOR)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def base_layout(**overrides: Any) -> dict[str, Any]:
    """Layout shared by every figure: white background, system font, quiet grid."""
    layout: dict[str, Any] = {
        "template": "none",
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "font": {"family": FONT_FAMILY, "size": 12, "color": TEXT_COLOR},
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "hoverlabel": {
            "bgcolor": "#FFFFFF",
            "bordercolor": "#ADB5BD",
            "font": {"family": FONT_FAMILY, "size": 12, "color": TEXT_COLOR},
            "align": "left",
        },
        "legend": {"bgcolor": "rgba(255,255,255,0.85)", "font": {"size": 12}},
    }
    layout.update(overrides)
    return layout


def axis_style(**overrides: Any) -> dict[str, Any]:
    style: dict[str, Any] = {
        "showgrid": True,
        "gridcolor": GRID_COLOR,
        "zeroline": False,
        "showline": True,
        "linecolor": "#ADB5BD",
        "ticks": "outside",
        "tickcolor": "#ADB5BD",
        "ticklen": 4,
        "automargin": True,
        "tickfont": {"size": 11, "color": MUTED_COLOR},
        "title": {"font": {"size": 12, "color": MUTED_COLOR}},
    }
    style.update(overrides)
    return style


def column_values(series: pd.Series) -> list[Any]:
    """One column as :func:`records` puts it in the row dicts (``tolist``; a missing value
    of an object or extension column reads None, as in pandas' own records)."""
    listed = series.tolist()
    if series.dtype == object or isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        listed = [None if v is pd.NA else v for v in listed]
    return listed


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")``, the same values, built column by column (pandas boxes
    value by value: ~100 ms for 2,000 sites, each figure, each click)."""
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns) or not all(isinstance(c, str) for c in frame.columns):
        return frame.to_dict("records")  # type: ignore[return-value]  # keys: the frame's own labels
    values = [column_values(frame[column]) for column in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def ordered_records(columns: dict[str, list[Any]], order: Sequence[int]) -> list[dict[str, Any]]:
    """Row dicts of ``columns`` (name → one value per site, in the table's order), taken in
    ``order``: what :func:`records` gives for the table sorted that way, without building
    the sorted frame (an ``iloc``, an ``assign`` and a column selection cost ~1 ms a figure
    even at 46 sites, on every new date)."""
    names = list(columns)
    values = [columns[name] for name in names]
    return [dict(zip(names, [v[i] for v in values], strict=True)) for i in order]


def iso_days(column: pd.Series) -> list[str | None]:
    """A date column as ISO days (None where missing): :func:`dashboard.dates.iso` of every
    value at once (one at a time, 2,000 sites × 3 dates × 4 figures cost ~50 ms)."""
    if not pd.api.types.is_datetime64_dtype(column.dtype):
        from ..dates import iso

        return [iso(v) for v in column]
    texts = np.datetime_as_string(column.to_numpy(dtype="datetime64[D]"), unit="D")
    return [None if t == "NaT" else t for t in texts.tolist()]


def make_figure(
    data: list[dict[str, Any]], layout: dict[str, Any], *, validate: bool = True
) -> go.Figure | dict[str, Any]:
    """One validated Figure from plain trace and layout dicts, or the plain dict itself.

    Builders assemble dicts and validate once here: plotly's incremental ``add_trace`` /
    ``update_layout`` calls cost tens of milliseconds each, which a callback redrawing four
    figures on every click cannot afford. Validation itself costs more than building (a
    ``go.Figure`` of the 46-site map takes ~50 ms, of 2,000 sites ~700 ms), so the app,
    whose figures the tests validate through the same builders, asks for
    ``validate=False``: ``{"data": ..., "layout": ...}`` as ``dcc.Graph`` takes it, with
    the named template resolved to the empty one plotly.js needs (a template name means
    nothing to plotly.js).
    """
    if validate:
        return go.Figure({"data": data, "layout": layout})
    if isinstance(layout.get("template"), str):
        layout = {**layout, "template": plain_template(layout["template"])}
    return {"data": data, "layout": layout}


def plain_template(name: str) -> dict[str, Any]:
    """A named plotly.py template as plotly.js takes it ("none": no template at all)."""
    if name == "none":
        return {}
    import plotly.io as pio

    return pio.templates[name].to_plotly_json()


#: Modebar buttons that make no sense on these figures (no selection tools, no cloud).
_REMOVED_BUTTONS = ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines"]


def graph_config(filename: str, *, topojson_url: str | None = None) -> dict[str, Any]:
    """``dcc.Graph(config=...)``: no plotly logo, no cloud, PNG export named after the view."""
    config: dict[str, Any] = {
        "displaylogo": False,
        "showSendToCloud": False,
        "showEditInChartStudio": False,
        "modeBarButtonsToRemove": list(_REMOVED_BUTTONS),
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
        "responsive": True,
    }
    if topojson_url is not None:
        config["topojsonURL"] = topojson_url
    return config
