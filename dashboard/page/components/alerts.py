"""Warnings a reader must see before trusting the numbers (above the cards), and the
forecast's own date warnings (in the forecast note)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from ...dates import as_of_warnings
from ...store import TrialData
from ..view_model import PageNumbers


def alerts(data: TrialData, store_errors: tuple[str, ...], as_of: dt.date) -> list[Any]:
    """Warnings a reader must see before trusting the numbers.

    The date warnings are :func:`dashboard.asof.as_of_warnings`, the words ``summary`` and
    ``forecast`` print (the forecast's own ones are in its note: :func:`forecast_warning_spans`).
    """
    out: list[Any] = []
    if store_errors:
        out.append(
            dbc.Alert(
                [
                    html.Strong(
                        "The data directory has problems; showing the last good data. "
                        "Run `recruitment-dashboard validate` on the server for details."
                    ),
                    html.Ul([html.Li(e) for e in store_errors[:12]], className="mb-0 mt-1"),
                ],
                color="danger",
                className="py-2 mb-2",
                id="store-errors",
            )
        )
    if data.synthetic:
        note = data.meta.get("note") or "Synthetic enrollment for demonstration."
        out.append(
            dbc.Alert(
                [html.Strong("Demo: synthetic data. "), note],
                color="warning",
                className="py-2 mb-2",
                id="synthetic-alert",
            )
        )
    if not len(data.enrollment) and not data.synthetic:
        out.append(
            dbc.Alert(
                [
                    html.Strong("No enrollment imported yet. "),
                    "Next: type the sites' activation dates (and targets) into sites.csv, then "
                    "import the EDC/IWRS export: recruitment-dashboard import-enrollment "
                    "EXPORT.csv --cutoff YYYY-MM-DD --data-dir DIR (or `recruitment-dashboard "
                    "demo --data-dir DIR` for synthetic data).",
                ],
                color="info",
                className="py-2 mb-2",
                id="no-enrollment",
            )
        )
    summary_warnings = as_of_warnings(data.trial.start_date, data.data_cutoff, as_of)
    ids = ["before-start", "stale-cutoff"]
    for warning in summary_warnings:
        ident = ids[0] if warning.startswith("The as-of date") else ids[1]
        out.append(dbc.Alert(warning, color="warning", className="py-2 mb-2", id=ident))
    return out


def forecast_warning_spans(numbers: PageNumbers, data: TrialData) -> list[Any]:
    """The forecast's own date warnings (a past last-patient-in date, a forecast made from
    the cut-off), in the forecast note: the alerts above already say the others."""
    said = set(as_of_warnings(data.trial.start_date, data.data_cutoff, numbers.as_of))
    extra = [w for w in (numbers.forecast or {}).get("warnings", []) if w not in said]
    if not extra:
        return []
    return [
        html.Span(" ⚠ " + " ".join(extra), className="forecast-warning", id="forecast-warnings")
    ]
