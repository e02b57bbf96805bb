"""The two forecast cards: P(target by planned completion) and the expected date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from ...forecast.result import Forecast
from ...registry import Trial
from ..wording import (
    FORECAST_HORIZON_YEARS,
    additional_sites_text,
    forecast_date_text,
    forecast_precision_text,
    months_apart_text,
    probability_text,
    probability_tone,
)
from .card import card, muted


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def forecast_probability_card(
    result: Forecast | None, trial: Trial, error: str | None = None
) -> dbc.Card:
    """P(target by the planned completion), the count expected by then, and the sites
    that would be needed for 80 %."""
    card_id = "kpi-forecast-probability"
    planned = trial.planned_completion_date
    title = f"P({trial.target} by {planned})"
    if result is None:
        return card(
            title,
            html.Span("—", id=f"{card_id}-value"),
            [muted(f"Forecast unavailable ({error or 'no result'})", f"{card_id}-reason")],
            card_id,
        )
    pg = result.poisson_gamma
    p = pg.probability_by.get(planned)
    expected = pg.expected_by.get(planned)
    as_of = result.as_of
    details: list[Any] = []
    reached = result.target_reached_date
    if reached:
        details.append(
            html.Div(
                f"Target reached on {reached}", className="kpi-detail", id=f"{card_id}-reached"
            )
        )
    elif trial.planned_completion_date <= as_of and expected is not None:
        observed = round(expected.mean)
        details.append(
            html.Div(
                f"date passed: {observed} randomized by then",
                className="kpi-detail",
                id=f"{card_id}-expected",
            )
        )
    elif expected is not None:
        lo, hi = expected.lo80, expected.hi80
        spread = f" ({lo}–{hi})" if lo != hi else ""
        details.append(
            html.Div(
                f"expected {round(expected.mean)}{spread} by then",
                className="kpi-detail",
                id=f"{card_id}-expected",
            )
        )
    if p is None and pg.reason:
        details.append(muted(pg.reason, f"{card_id}-reason"))
    elif not reached and trial.planned_completion_date > as_of:
        sentence, is_muted = additional_sites_text(
            pg.additional_sites_needed,
            pg.additional_sites_reason,
            pg.additional_sites_lag_days,
        )
        if sentence:
            details.append(
                muted(sentence, f"{card_id}-sites")
                if is_muted
                else html.Div(sentence, className="kpi-detail", id=f"{card_id}-sites")
            )
    return card(
        title,
        html.Span(probability_text(p), id=f"{card_id}-value"),
        details,
        card_id,
        tone=probability_tone(p),
    )


def forecast_date_card(result: Forecast | None, trial: Trial, error: str | None = None) -> dbc.Card:
    """Median date the target is reached, its 80 % interval, and the linear method's date."""
    card_id = "kpi-forecast-date"
    title = f"Expected date for {trial.target} (80 % interval)"
    if result is None:
        return card(
            title,
            html.Span("—", id=f"{card_id}-value"),
            [muted(f"Forecast unavailable ({error or 'no result'})", f"{card_id}-reason")],
            card_id,
        )
    reached = result.target_reached_date
    if reached:
        return card(
            title,
            html.Span("Reached", id=f"{card_id}-value"),
            [
                html.Div(
                    f"Target reached on {reached}", className="kpi-detail", id=f"{card_id}-reached"
                )
            ],
            card_id,
            tone="success",
        )
    pg = result.poisson_gamma
    linear = result.linear
    median = pg.median_target_date
    lo, hi = pg.interval_80
    details: list[Any] = []
    tone = None
    if median is None and pg.reason:
        value = "—"
        details.append(muted(pg.reason, f"{card_id}-reason"))
    elif median is None:
        value = "—"
        details.append(
            muted(
                f"not reached within {FORECAST_HORIZON_YEARS} years in most simulations",
                f"{card_id}-reason",
            )
        )
    else:
        value = median.isoformat()
        tone = "danger" if median > trial.planned_completion_date else "success"
        details.append(
            html.Div(
                f"80 %: {forecast_date_text(_iso(lo))} – {forecast_date_text(_iso(hi))}",
                className="kpi-detail",
                id=f"{card_id}-interval",
            )
        )
        details.append(
            html.Div(
                months_apart_text(median, trial.planned_completion_date, "planned completion"),
                className="kpi-detail",
                id=f"{card_id}-vs-plan",
            )
        )
        precision = forecast_precision_text(pg)
        if precision:
            details.append(muted(precision, f"{card_id}-precision"))
    if linear.predicted_target_date:
        details.append(muted(f"linear trend: {linear.predicted_target_date}", f"{card_id}-linear"))
    elif linear.reason:
        details.append(muted(f"linear trend: no date ({linear.reason})", f"{card_id}-linear"))
    return card(title, html.Span(value, id=f"{card_id}-value"), details, card_id, tone=tone)
