"""Accessible building blocks of the page (WCAG 2.1 AA, RGAA 4.1).

Public sponsors must state their dashboard's conformance, so the page is built from parts
that a screen reader and a keyboard can use: the page's language and landmarks, a skip
link, native controls in place of the third-party widgets that axe-core flagged (the
date picker's ``aria-expanded`` wrapper, the dropdown's focusable hidden target), a
progress bar with a name, and charts wrapped as named figures described by a text
summary (:mod:`dashboard.chart_text`). The sites grid selects a site with Enter or Space
(``assets/grid_keyboard.js``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

#: The language of every word the page and the PDF say.
PAGE_LANGUAGE = "en"
#: Target of the skip link: the page's ``main`` landmark.
MAIN_ID = "main-content"

#: Dash's index page with ``lang`` on <html>, a "Skip to content" link first in the tab
#: order, and Dash's scripts in a plain ``div`` (Dash's own ``footer`` would be a second
#: ``contentinfo`` landmark next to the page's footer).
INDEX_STRING = f"""<!DOCTYPE html>
<html lang="{PAGE_LANGUAGE}">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
    </head>
    <body>
        <a class="skip-link" href="#{MAIN_ID}">Skip to content</a>
        {{%app_entry%}}
        <div class="dash-scripts">
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </div>
    </body>
</html>"""


def as_of_input(ident: str, as_of: dt.date, first: dt.date, last: dt.date) -> dbc.Input:
    """The as-of date as a native ``<input type="date">``: labelled by its ``<label for>``,
    typed or picked with the keyboard, its ISO value bookmarkable as ``?as_of=``.

    The date applies on Enter or when the field is left (``debounce``): typing "2024" into
    the year passes through 0002, 0020 and 0202, which must neither recount the page nor
    reach the URL (whose echo could then overwrite the date being typed)."""
    # dbc.Input: Dash's own Input calls setSelectionRange, which a date field refuses.
    return dbc.Input(
        id=ident,
        type="date",
        value=as_of.isoformat(),
        min=first.isoformat(),
        max=last.isoformat(),
        debounce=True,
        required=True,
        size="sm",
        className="as-of-input",
    )


def status_filter(ident: str, choices: list[dict[str, str]], legend: str) -> html.Fieldset:
    """The status filter as native checkboxes in a fieldset named by its legend (Tab
    reaches each, Space ticks it); none ticked means every status."""
    return html.Fieldset(
        [
            html.Legend(legend, className="control-label"),
            # dbc.Checklist: native <input type="checkbox"> each with its <label for>
            # (Dash's own Checklist wraps them in a listbox of options: nested controls).
            dbc.Checklist(
                id=ident,
                options=choices,
                value=[],
                inline=True,
                className="status-filter",
                label_class_name="status-choice",
            ),
        ],
        className="status-fieldset",
    )


def progress_bar(ident: str, percent: float | None, label: str) -> html.Div:
    """Bootstrap's progress bar drawn by hand with a name: ``role="progressbar"`` needs an
    accessible name (``aria-progressbar-name``), which dbc.Progress cannot carry."""
    value = max(0.0, min(percent or 0.0, 100.0))
    aria: dict[str, Any] = {
        "aria-label": label,
        "aria-valuenow": f"{value:g}",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
    }
    return html.Div(
        html.Div(
            id=ident,
            className="progress-bar bg-primary",
            style={"width": f"{value:g}%"},
            role="progressbar",
            **aria,
        ),
        className="progress kpi-progress",
    )


def described_figure(graph: Any, name: str, summary_id: str, summary: Any = "") -> html.Div:
    """A chart as a named ``figure`` described by a short text summary, which screen
    readers announce with the name (the chart's data: :func:`dashboard.page.chart_text.data_tables`)."""
    aria: dict[str, Any] = {"aria-label": name, "aria-describedby": summary_id}
    return html.Div(
        [
            graph,
            html.P(summary, id=summary_id, className="visually-hidden chart-summary"),
        ],
        role="figure",
        className="described-figure",
        **aria,
    )
