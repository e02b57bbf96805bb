"""The KPI card's frame (title, value, details) shared by every card of the two rows."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from ..wording import week_delta_text


def card(
    title: str, value: Any, details: list[Any], card_id: str, tone: str | None = None
) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(title, className="kpi-title"),
                html.Div(value, className=f"kpi-value{' text-' + tone if tone else ''}"),
                *details,
            ]
        ),
        className="kpi-card h-100",
        id=card_id,
    )


def delta(delta: int, card: str, wording=week_delta_text) -> html.Div:
    tone = "pos" if delta > 0 else ("neg" if delta < 0 else "zero")
    return html.Div(wording(delta), className=f"kpi-delta kpi-delta-{tone}", id=f"{card}-delta")


def muted(text: str, detail_id: str | None = None) -> html.Div:
    kwargs = {"id": detail_id} if detail_id else {}
    return html.Div(text, className="kpi-detail text-body-secondary", **kwargs)
