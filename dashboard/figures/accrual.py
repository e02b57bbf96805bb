"""Accrual over time: cumulative randomized and screened against the plan.

Draws the target, the planned straight path (start → target at planned completion), the
path still required from the as-of date, the last-patient-in and planned completion dates,
and — when a forecast is given — its 95 % / 80 % fan and median path, and the linear trend
from the as-of count to the target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..dates import DateLike, to_date
from . import theme

LPI_COLOR = theme.OKABE_ITO["reddish_purple"]
#: The observed step lines: ISO days, cumulative screened, cumulative randomized.
ObservedSteps = tuple[list[str | None], list[int], list[int]]


def _change_points(series: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Keep the first day, the days a count changes and the last day (same step line).

    On the arrays: the reply to a new date waits for this chart, and pandas' shift and
    boolean mask cost three times as much on a thousand days."""
    if len(series) <= 2:
        return series
    values = series[list(columns)].to_numpy()
    changed = np.ones(len(values), dtype=bool)
    changed[1:] = (values[1:] != values[:-1]).any(axis=1)
    changed[-1] = True
    return series.iloc[np.flatnonzero(changed)]


def observed_steps(series: pd.DataFrame) -> ObservedSteps:
    """The cumulative screened and randomized step lines of :func:`accrual_figure`: ISO
    days and counts where a count changes (and the first and last day).

    Why apart: the page draws these while the forecast is still on its way (they do not
    depend on it) and hands them to :func:`accrual_figure` through ``observed``."""
    if not len(series):
        return [], [], []
    steps = _change_points(series, ["screened", "randomized"])
    return (
        theme.iso_days(steps["date"]),
        [int(v) for v in steps["screened"]],
        [int(v) for v in steps["randomized"]],
    )


def forecast_band(forecast: Mapping[str, Any], level: str) -> tuple[list | None, list | None]:
    """Lower and upper values of the ``level`` ("80" or "95") band of a forecast dict.

    Accepted spellings: ``lo80``/``hi80``, ``lower_80``/``upper_80``, or
    ``{"bands": {"80": {"lo"|"lower": [...], "hi"|"upper": [...]}}}``.
    """
    lo = forecast.get(f"lo{level}", forecast.get(f"lower_{level}"))
    hi = forecast.get(f"hi{level}", forecast.get(f"upper_{level}"))
    bands = forecast.get("bands") or {}
    band = bands.get(level) or bands.get(int(level)) or bands.get(f"{level}%") or {}
    lo = lo if lo is not None else band.get("lo", band.get("lower"))
    hi = hi if hi is not None else band.get("hi", band.get("upper"))
    return lo, hi


def _forecast_traces(forecast: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dt.date | None]:
    """Fan bands (95 % lighter, under 80 %), dashed median; and the last forecast date."""
    dates = forecast.get("dates")
    traces: list[dict[str, Any]] = []
    if not dates:
        return traces, None
    dates = [to_date(d).isoformat() for d in dates]
    for level, alpha in (("95", 0.10), ("80", 0.22)):
        lo, hi = forecast_band(forecast, level)
        if lo is None or hi is None:
            continue
        traces.append(
            {
                "type": "scatter",
                "x": dates + dates[::-1],
                "y": list(hi) + list(lo)[::-1],
                "fill": "toself",
                "fillcolor": f"rgba(0,114,178,{alpha})",
                "line": {"width": 0},
                "mode": "lines",
                "hoverinfo": "skip",
                "name": f"Forecast {level} % interval",
                "legendrank": 700 if level == "95" else 600,
                "legendgroup": "forecast",
            }
        )
    median = forecast.get("median")
    if median is not None:
        trace = {
            "type": "scatter",
            "x": dates,
            "y": list(median),
            "mode": "lines",
            "line": {"color": theme.FORECAST_COLOR, "width": 2, "dash": "dash"},
            "name": "Forecast median",
            "legendrank": 500,
            "legendgroup": "forecast",
            "hovertemplate": "%{y:.0f} randomized (forecast median)<extra></extra>",
        }
        lo80, hi80 = forecast_band(forecast, "80")
        if lo80 is not None and hi80 is not None and len(lo80) == len(hi80) == len(dates):
            trace["customdata"] = [[lo, hi] for lo, hi in zip(lo80, hi80, strict=True)]
            trace["hovertemplate"] = (
                "%{y:.0f} randomized (forecast median; 80 %: "
                "%{customdata[0]:.0f}–%{customdata[1]:.0f})<extra></extra>"
            )
        traces.append(trace)
    return traces, to_date(dates[-1])


def _vertical_marker(
    shapes: list,
    annotations: list,
    when: dt.date,
    label: str,
    color: str,
    *,
    top: bool,
    dash: str,
    y: float | None = None,
) -> None:
    shapes.append(
        {
            "type": "line",
            "x0": when.isoformat(),
            "x1": when.isoformat(),
            "y0": 0,
            "y1": 1,
            "xref": "x",
            "yref": "paper",
            "line": {"color": color, "width": 1.4, "dash": dash},
            "layer": "below",
        }
    )
    annotations.append(
        {
            "x": when.isoformat(),
            "y": y if y is not None else (0.995 if top else 0.01),
            "xref": "x",
            "yref": "paper",
            "text": label,
            "showarrow": False,
            "xanchor": "right",
            "yanchor": "top" if top else "bottom",
            "xshift": -4,
            "align": "right",
            "font": {"size": 11, "color": color},
            "bgcolor": "rgba(255,255,255,0.85)",
        }
    )


def accrual_figure(
    series: pd.DataFrame,
    *,
    target: int,
    start_date: DateLike,
    planned_completion_date: DateLike,
    last_patient_in_date: DateLike | None,
    as_of: DateLike,
    randomized: int,
    required_rate_per_month: float | None = None,
    forecast: Mapping[str, Any] | None = None,
    height: int = 560,
    validate: bool = True,
    observed: ObservedSteps | None = None,
) -> go.Figure | dict[str, Any]:
    """Cumulative accrual against plan.

    ``series``: :func:`dashboard.metrics.accrual_series` (date, screened, randomized).
    ``randomized``: the count at ``as_of`` (start of the required path);
    ``required_rate_per_month``: :attr:`dashboard.metrics.Pace.required_rate_per_month`
    (named in the legend).
    ``forecast`` (optional): ``{"dates": [ISO...], "median": [...], "lo80": [...],
    "hi80": [...], "lo95": [...], "hi95": [...], "linear_date": ISO | None}`` (see
    :func:`forecast_band` for the other accepted band spellings). Nothing is drawn for it
    when it is None. ``observed``: :func:`observed_steps` of ``series``, when already made.
    """
    start = to_date(start_date)
    completion = to_date(planned_completion_date)
    lpi = None if last_patient_in_date is None else to_date(last_patient_in_date)
    cut = to_date(as_of)
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []

    forecast_end = None
    if forecast:
        traces, forecast_end = _forecast_traces(forecast)
        data += traces

    data.append(
        {
            "type": "scatter",
            "x": [start.isoformat(), completion.isoformat()],
            "y": [0, target],
            "mode": "lines",
            "line": {"color": theme.PLANNED_COLOR, "width": 1.5, "dash": "dot"},
            "name": "Planned path (start → target)",
            "legendrank": 300,
            "hoverinfo": "skip",
        }
    )
    if cut < completion and randomized < target:
        rate = (
            f": {required_rate_per_month:.1f}/month" if required_rate_per_month is not None else ""
        )
        data.append(
            {
                "type": "scatter",
                "x": [cut.isoformat(), completion.isoformat()],
                "y": [randomized, target],
                "mode": "lines",
                "line": {"color": theme.REQUIRED_COLOR, "width": 2, "dash": "dash"},
                "name": f"Required from as-of date{rate}",
                "legendrank": 400,
                "hoverinfo": "skip",
            }
        )
    if len(series):
        x, screened, randomized_steps = observed or observed_steps(series)
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": screened,
                "mode": "lines",
                "line": {"color": theme.SCREENED_COLOR, "width": 2, "shape": "hv"},
                "name": "Screened (cumulative)",
                "legendrank": 200,
                "hovertemplate": "%{y} screened<extra></extra>",
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": randomized_steps,
                "mode": "lines",
                "line": {"color": theme.RANDOMIZED_COLOR, "width": 3, "shape": "hv"},
                "name": "Randomized (cumulative)",
                "legendrank": 100,
                "hovertemplate": "%{y} randomized<extra></extra>",
            }
        )
    linear_date = forecast.get("linear_date") if forecast else None
    if linear_date:
        # The weighted linear trend runs from the as-of count to the target (its slope is
        # (target − randomized) / days); a line past the x range still shows its direction.
        when = to_date(linear_date).isoformat()
        data.append(
            {
                "type": "scatter",
                "x": [cut.isoformat(), when],
                "y": [randomized, target],
                "mode": "lines+markers",
                "line": {"color": theme.LINEAR_COLOR, "width": 1.5, "dash": "dot"},
                "marker": {
                    "symbol": "diamond",
                    "size": [0, 11],
                    "color": theme.LINEAR_COLOR,
                    "line": {"color": theme.MARKER_OUTLINE, "width": 1},
                },
                "name": f"Linear trend: {target} on {when}",
                "legendrank": 800,
                "hovertemplate": "Linear trend: %{y:.0f} on %{x|%Y-%m-%d}<extra></extra>",
            }
        )

    x_end = max(completion, cut, forecast_end or completion) + dt.timedelta(days=45)
    x_start = start - dt.timedelta(days=20)
    peaks = [float(target)]
    if len(series):
        peaks.append(float(series["screened"].max()))
    if forecast:
        hi95 = forecast_band(forecast, "95")[1] or forecast_band(forecast, "80")[1] or []
        peaks += [float(v) for v in hi95 if v is not None]
    shapes.append(
        {
            "type": "line",
            "x0": x_start.isoformat(),
            "x1": x_end.isoformat(),
            "y0": target,
            "y1": target,
            "xref": "x",
            "yref": "y",
            "line": {"color": theme.TARGET_COLOR, "width": 1.5, "dash": "dash"},
            "layer": "below",
        }
    )
    annotations.append(
        {
            "x": x_start.isoformat(),
            "y": target,
            "xref": "x",
            "yref": "y",
            "text": f"<b>Target {target}</b>",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 11, "color": theme.TARGET_COLOR},
        }
    )
    # Both labels sit at the top, right of their line: when the two dates are close on a
    # long axis (a forecast years ahead), the last-patient-in label drops below the other.
    span_days = max((x_end - x_start).days, 1)
    if lpi is not None:  # a trial whose settings give no treatment duration has no LPI line
        crowded = 0 <= (completion - lpi).days < 0.18 * span_days
        _vertical_marker(
            shapes,
            annotations,
            lpi,
            f"Last patient in<br>{lpi.isoformat()}",
            LPI_COLOR,
            top=True,
            dash="dashdot",
            y=0.875 if crowded else None,
        )
    _vertical_marker(
        shapes,
        annotations,
        completion,
        f"Planned completion<br>{completion.isoformat()}",
        theme.TARGET_COLOR,
        top=True,
        dash="dash",
    )
    _vertical_marker(
        shapes,
        annotations,
        cut,
        f"As of {cut.isoformat()}",
        theme.MUTED_COLOR,
        top=False,
        dash="dot",
    )
    layout = theme.base_layout(
        height=height,
        margin={"l": 8, "r": 16, "t": 12, "b": 8},
        hovermode="x unified",
        showlegend=True,
        legend={
            "orientation": "h",
            "x": 0,
            "y": 0,
            "yref": "container",
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 12},
            "traceorder": "normal",
        },
        shapes=shapes,
        annotations=annotations,
        xaxis=theme.axis_style(
            type="date",
            range=[x_start.isoformat(), x_end.isoformat()],
            tickformat="%b %Y",
            hoverformat="%Y-%m-%d",
        ),
        yaxis=theme.axis_style(
            range=[0, max(peaks) * 1.12],
            title={
                "text": "Patients (cumulative)",
                "font": {"size": 12, "color": theme.MUTED_COLOR},
            },
            fixedrange=True,
        ),
    )
    return theme.make_figure(data, layout, validate=validate)
