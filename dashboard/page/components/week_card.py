"""The "This week" card: what changed in the seven days to the as-of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from ...metrics import WeekChanges
from ..wording import (
    site_name,
    status_change_text,
    week_count_text,
    week_range_text,
)

#: Longest list of sites the "This week" card shows before "… and N more".
WEEK_LIST_MAX = 8


def _week_list(
    label: str, items: Sequence[Any], list_id: str, show: Callable[[Any], Any] = lambda x: x
) -> html.Div:
    """The first :data:`WEEK_LIST_MAX` items, each made by ``show`` (only those: a week at
    2,000 sites lists hundreds), then "… and N more"."""
    shown = items[:WEEK_LIST_MAX]
    rows = [html.Li(show(item)) for item in shown]
    if len(items) > len(shown):
        rows.append(
            html.Li(
                f"… and {len(items) - len(shown)} more (see the sites table)",
                className="text-body-secondary",
            )
        )
    return html.Div(
        [html.Div(label, className="week-label"), html.Ul(rows, className="week-list")],
        className="week-group",
        id=list_id,
    )


def week_card(week: WeekChanges, as_of: dt.date) -> dbc.Card:
    """What changed in the seven days to the as-of date (:func:`metrics.week_changes`):
    the counts, and the sites that randomized, were activated or changed registry status."""
    card_id = "kpi-week"

    def stat(n: int, one: str, many: str | None = None) -> html.Span:
        word = one if n == 1 or many is None else many
        tone = "pos" if n > 0 else ("neg" if n < 0 else "zero")
        return html.Span(
            [html.Strong(week_count_text(n)), f" {word}"], className=f"week-stat week-stat-{tone}"
        )

    stats = html.Div(
        [
            stat(week.randomized, "randomized"),
            stat(week.screened, "screened"),
            stat(week.sites_enrolling, "site enrolling", "sites enrolling"),
            stat(week.sites_recruiting, "site activated", "sites activated"),
        ],
        className="week-stats",
        id=f"{card_id}-stats",
    )
    body: list[Any] = [stats]
    randomizing = week.sites_randomizing_in_week
    if randomizing:
        body.append(
            _week_list(
                "Randomized at",
                randomizing,
                f"{card_id}-randomized-sites",
                lambda s: [site_name(s), html.Span(f" +{s.randomized}", className="week-count")],
            )
        )
    activated = week.sites_activated_in_week
    if activated:
        body.append(_week_list("Activated", activated, f"{card_id}-activated-sites", site_name))
    changes = week.status_changes_in_week
    if changes:
        body.append(
            _week_list(
                "Registry status changed",
                changes,
                f"{card_id}-status-changes",
                status_change_text,
            )
        )
    if not week.has_changes:
        body = [
            html.Div(
                "No change this week",
                className="kpi-detail text-body-secondary",
                id=f"{card_id}-none",
            )
        ]
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        "This week",
                        html.Span(f" · {week_range_text(week, as_of)}", className="kpi-title-note"),
                    ],
                    className="kpi-title",
                ),
                *body,
            ]
        ),
        className="kpi-card kpi-week h-100",
        id=card_id,
    )
