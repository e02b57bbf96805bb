"""The page header: trial title and facts, the as-of date field, the status checkboxes, the
selection and the snapshot download buttons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from ...registry import STATUS_LABELS
from ...store import TrialData
from ..accessibility import as_of_input, status_filter
from ..ids import (
    AS_OF,
    AS_OF_TEXT,
    CLEAR_SELECTION,
    PDF_BUTTON,
    PNG_BUTTON,
    SELECTION_TEXT,
    SNAPSHOT_BUSY,
    SNAPSHOT_DOWNLOAD,
    SNAPSHOT_STATUS,
    STATUS_FILTER,
)


def aria_label(label: str) -> dict[str, Any]:
    """``aria-label`` for a Dash component: not a Python name, so passed by ``**``; typed
    ``Any`` because Dash's stubs type every ``**`` value as one of the named props."""
    return {"aria-label": label}


def as_of_text(as_of: dt.date) -> list[Any]:
    return ["Counts as of ", html.Strong(as_of.isoformat(), id="as-of-value")]


def header(
    data: TrialData,
    as_of: dt.date,
    max_date: dt.date,
    status_choices: list[dict[str, str]] | None = None,
) -> html.Header:
    trial = data.trial
    title_badges = []
    if data.synthetic:
        title_badges.append(
            dbc.Badge(
                "DEMO · SYNTHETIC DATA",
                color="warning",
                text_color="dark",
                className="ms-2 align-middle demo-badge",
                id="synthetic-badge",
            )
        )
    facts = [
        html.A(
            [trial.nct_id, " ↗"],
            href=trial.registry_url,
            target="_blank",
            rel="noopener noreferrer",
            id="nct-link",
            className="fw-semibold",
        ),
        html.Span(["Sponsor: ", html.Strong(trial.sponsor)]),
        html.Span(f"Target {trial.target} randomized"),
        html.Span(f"Start {trial.start_date.isoformat()}"),
        html.Span(f"Planned completion {trial.planned_completion_date.isoformat()}"),
    ]
    fact_items: list[Any] = []
    for i, fact in enumerate(facts):
        if i:
            fact_items.append(html.Span("·", className="sep"))
        fact_items.append(fact)
    controls = html.Div(
        [
            html.Div(
                [
                    dbc.Label("As of", html_for=AS_OF, className="control-label"),
                    as_of_input(AS_OF, as_of, trial.start_date, max_date),
                ],
                className="control",
            ),
            html.Div(
                status_filter(STATUS_FILTER, status_choices or [], "Select by status"),
                className="control control-status",
            ),
            html.Div(
                [
                    html.Div("No selection", id=SELECTION_TEXT, className="selection-text"),
                    dbc.Button(
                        "Clear selection",
                        id=CLEAR_SELECTION,
                        color="secondary",
                        outline=True,
                        size="sm",
                    ),
                ],
                className="control control-clear",
            ),
            snapshot_control(),
        ],
        className="controls",
    )
    return html.Header(
        dbc.Container(
            [
                html.Div(
                    [
                        html.H1(
                            [
                                html.Span(trial.acronym or trial.nct_id, className="acronym"),
                                html.Span(" — ", className="text-body-tertiary"),
                                html.Span(trial.title, className="trial-title"),
                                *title_badges,
                            ],
                            className="page-title",
                            id="page-title",
                        ),
                        html.Div(fact_items, className="facts"),
                        html.Div(
                            [
                                html.Span(
                                    [
                                        "Data cut-off ",
                                        html.Strong(data.data_cutoff.isoformat(), id="data-cutoff"),
                                    ]
                                ),
                                html.Span("·", className="sep"),
                                html.Span(as_of_text(as_of), id=AS_OF_TEXT),
                            ],
                            className="as-of-line",
                        ),
                    ],
                    className="title-block",
                ),
                controls,
            ],
            fluid=True,
            className="header-inner",
        ),
        className="page-header",
    )


def snapshot_control() -> html.Div:
    """ "Download snapshot: PDF | PNG": the ``snapshot`` command's file for the as-of date.

    The server renders the page in headless Chromium (10–30 s): while it does, both buttons
    are disabled and a spinner says so (the callback's ``running`` outputs).
    """
    return html.Div(
        [
            html.Div(
                [
                    "Download snapshot",
                    html.Span(
                        [
                            html.Span(className="spinner-border spinner-border-sm me-1"),
                            "rendering…",
                        ],
                        id=SNAPSHOT_BUSY,
                        className="snapshot-busy",
                        style={"display": "none"},
                        role="status",
                    ),
                ],
                className="control-label",
            ),
            dbc.ButtonGroup(
                [
                    html.Button(
                        "PDF",
                        id=PDF_BUTTON,
                        type="button",
                        className="btn btn-outline-primary btn-sm",
                        title="Download PDF: A4 landscape, at most three pages (as the snapshot command)",
                        **aria_label("Download PDF"),
                    ),
                    html.Button(
                        "PNG",
                        id=PNG_BUTTON,
                        type="button",
                        className="btn btn-outline-primary btn-sm",
                        title="Download PNG: the whole page, 1920 px wide",
                        **aria_label("Download PNG"),
                    ),
                ],
                size="sm",
            ),
            html.Div(id=SNAPSHOT_STATUS, className="snapshot-status", role="alert"),
            dcc.Download(id=SNAPSHOT_DOWNLOAD),
        ],
        className="control control-snapshot",
    )


def status_options(status_counts: dict[str, int]) -> list[dict[str, str]]:
    return [
        {"label": f"{STATUS_LABELS.get(k, k)} ({n})", "value": k} for k, n in status_counts.items()
    ]
