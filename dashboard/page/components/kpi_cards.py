"""The two rows of KPI cards: where the trial stands; then the week and the forecast.

To add a card: build it with :func:`~dashboard.page.components.card.card` from
:class:`~dashboard.page.view_model.PageNumbers` (wording in :mod:`dashboard.page.wording`)
and put it in a ``dbc.Col`` of one of the rows below; it is refreshed with the as-of date
through the ``kpis`` output.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from ...registry import STATUS_LABELS
from ...store import TrialData
from ..accessibility import progress_bar
from ..view_model import PageNumbers
from ..wording import (
    completion_text,
    forecast_method_text,
    lpi_comparison,
    pace_comparison,
    rate_text,
    sites_delta_text,
)
from .alerts import forecast_warning_spans
from .card import card, delta
from .forecast_cards import forecast_date_card, forecast_probability_card
from .forecast_table import forecast_details
from .week_card import week_card


def kpi_cards(numbers: PageNumbers, data: TrialData) -> html.Div:
    """Two rows of cards: where the trial stands; then the week and the forecast."""
    return KpiCards(numbers, data).finish()


class KpiCards:
    """:func:`kpi_cards` in two steps: the cards that do not show the forecast when made,
    the forecast's (which wait for it, :attr:`PageNumbers.forecast`) on :meth:`finish`.

    Why: on a new date the page makes the first while the forecast still runs beside it
    (:func:`~dashboard.page.callbacks.refresh_outputs`), so the reply waits only for the
    cards that show the forecast.
    """

    def __init__(self, numbers: PageNumbers, data: TrialData) -> None:
        self.numbers, self.data = numbers, data
        self.status_row = status_row(numbers, data)
        self.week = dbc.Col(week_card(numbers.week, numbers.as_of), xs=12, lg=4)

    def finish(self) -> html.Div:
        numbers, data = self.numbers, self.data
        trial = data.trial
        # The week just gone, then where the trial is heading; the method note sits under
        # the two forecast cards.
        outlook_row = dbc.Row(
            [
                self.week,
                dbc.Col(
                    forecast_probability_card(numbers.forecast, trial, numbers.forecast_error),
                    xs=12,
                    sm=6,
                    lg=4,
                ),
                dbc.Col(
                    forecast_date_card(numbers.forecast, trial, numbers.forecast_error),
                    xs=12,
                    sm=6,
                    lg=4,
                ),
            ],
            className="g-3 kpi-row kpi-row-outlook",
        )
        note = dbc.Row(
            dbc.Col(
                html.Div(
                    [
                        forecast_method_text(numbers.forecast),
                        *forecast_warning_spans(numbers, data),
                        *forecast_details(numbers.forecast),
                    ],
                    className="forecast-note",
                    id="forecast-note",
                ),
                xs=12,
                lg={"size": 8, "offset": 4},
            ),
            className="gx-3",
        )
        return html.Div([self.status_row, outlook_row, note], className="kpi-rows")


def status_row(numbers: PageNumbers, data: TrialData) -> dbc.Row:
    """Where the trial stands: randomized, screened, sites, time left, pace."""
    s = numbers.summary
    trial = data.trial
    pace = numbers.pace
    pct = s.percent_of_target
    randomized = card(
        "Randomized",
        [
            html.Span(str(s.randomized), id="kpi-randomized-value"),
            html.Span(f" / {trial.target}", className="kpi-of"),
            html.Span(
                f"{pct:.1f} %" if pct is not None else "",
                className="kpi-pct",
                id="kpi-randomized-pct",
            ),
        ],
        [
            progress_bar(
                "kpi-randomized-progress",
                pct,
                f"Randomized: {pct or 0:.1f} % of the target of {trial.target}",
            ),
            delta(numbers.week.randomized, "kpi-randomized"),
        ],
        "kpi-randomized",
    )
    sf_pct = s.screen_fail_percent
    screened = card(
        "Screened",
        html.Span(str(s.screened), id="kpi-screened-value"),
        [
            html.Div(
                f"{s.screen_failed} screen failures"
                + (f" ({sf_pct:.1f} %)" if sf_pct is not None else ""),
                className="kpi-detail",
                id="kpi-screen-fail",
            ),
            delta(numbers.week.screened, "kpi-screened"),
        ],
        "kpi-screened",
    )
    by_status = s.sites.by_status
    others = ", ".join(
        f"{n} {STATUS_LABELS.get(k, k).lower()}" for k, n in by_status.items() if k != "RECRUITING"
    )
    sites = card(
        "Sites recruiting",
        [
            html.Span(str(by_status.get("RECRUITING", 0)), id="kpi-sites-value"),
            html.Span(f" / {s.sites.total}", className="kpi-of"),
        ],
        [
            html.Div(
                f"{s.sites.enrolling} have randomized ≥ 1",
                className="kpi-detail",
                id="kpi-sites-enrolling",
            ),
            html.Div(others, className="kpi-detail text-body-secondary") if others else None,
            delta(numbers.week.sites_enrolling, "kpi-sites", sites_delta_text),
        ],
        "kpi-sites",
    )
    days = pace.days_to_completion
    time_left = card(
        "Planned completion",
        html.Span(completion_text(days), id="kpi-days-value"),
        [
            html.Div(
                ("to " if days >= 0 else "since ") + trial.planned_completion_date.isoformat(),
                className="kpi-detail",
            ),
            html.Div(
                f"Last patient in by {trial.last_patient_in_date.isoformat()} "
                f"({trial.treatment_days} days of treatment)",
                className="kpi-detail text-body-secondary",
            )
            if trial.last_patient_in_date is not None
            else None,
        ],
        "kpi-days",
        tone="danger" if days < 0 else None,
    )
    completion_sentence, completion_tone = pace_comparison(
        pace.current_rate_per_month, pace.required_rate_per_month
    )
    lpi_sentence, lpi_tone = (
        lpi_comparison(pace, trial.last_patient_in_date)
        if trial.last_patient_in_date is not None
        else ("", "body")
    )
    pace_card = card(
        "Randomization pace (last 90 days)",
        html.Span(rate_text(pace.current_rate_per_month), id="kpi-rate-value"),
        [
            html.Div(
                [
                    html.Span(
                        f"To reach {trial.target} by {trial.planned_completion_date.isoformat()}: ",
                        className="text-body-secondary",
                    ),
                    html.Span(completion_sentence, className=f"fw-semibold text-{completion_tone}"),
                ],
                className="kpi-detail",
                id="kpi-pace-completion",
            ),
            html.Div(
                [
                    html.Span(
                        f"For every patient to finish {trial.treatment_days} days of treatment: ",
                        className="text-body-secondary",
                    ),
                    html.Span(lpi_sentence, className=f"fw-semibold text-{lpi_tone}"),
                ],
                className="kpi-detail",
                id="kpi-pace-lpi",
            )
            if trial.last_patient_in_date is not None
            else None,
        ],
        "kpi-pace",
    )
    return dbc.Row(
        [
            dbc.Col(randomized, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(screened, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(sites, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(time_left, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(pace_card, xs=12, xxl=4),
        ],
        className="g-3 kpi-row",
    )
