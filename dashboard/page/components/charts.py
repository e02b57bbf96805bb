"""The page's four charts from :class:`~dashboard.page.view_model.PageNumbers`.

Each ``*_chart`` function calls its builder in :mod:`dashboard.figures`.
``validate=False`` (the page and its callbacks): the builders' plain dicts, not
``go.Figure`` objects; tests validate the very same dicts through the default.
"""

from __future__ import annotations

from typing import Any

from ...figures.accrual import ObservedSteps, accrual_figure, observed_steps
from ...figures.activation import activation_figure
from ...figures.bars import site_bar_figure
from ...figures.map import site_map_figure
from ...forecast.result import Forecast
from ...store import TrialData
from ..view_model import PageNumbers

MAP_HEIGHT = 560
ACCRUAL_HEIGHT = 560


def chart_forecast(result: Forecast | None) -> dict[str, Any] | None:
    """What the accrual chart draws of a forecast: the Poisson–gamma fan and median path and
    the linear date (the figure builder's plain, JSON-ready input); None when the target is
    reached or there is nothing to draw."""
    if result is None or result.remaining <= 0:
        return None
    pg = result.poisson_gamma
    out: dict[str, Any] = {}
    if pg.alpha is not None and len(pg.chart.dates) > 1:
        out.update(pg.chart.to_json())
    linear_date = result.linear.predicted_target_date
    if linear_date:
        out["linear_date"] = linear_date.isoformat()
    return out or None


def map_chart(numbers: PageNumbers, highlighted=None, selected=(), *, validate: bool = True):
    return site_map_figure(
        numbers.table,
        numbers.status_counts,
        highlighted=highlighted,
        selected=selected,
        height=MAP_HEIGHT,
        validate=validate,
    )


def accrual_chart(
    numbers: PageNumbers,
    data: TrialData,
    *,
    validate: bool = True,
    observed: ObservedSteps | None = None,
):
    """The accrual chart with the forecast of :attr:`PageNumbers.forecast` (see
    :func:`chart_forecast`). ``observed``: :func:`accrual_observed` of ``numbers``, made
    while the forecast was still on its way."""
    trial = data.trial
    return accrual_figure(
        numbers.accrual,
        target=trial.target,
        start_date=trial.start_date,
        planned_completion_date=trial.planned_completion_date,
        last_patient_in_date=trial.last_patient_in_date,
        as_of=numbers.as_of,
        randomized=numbers.summary.randomized,
        required_rate_per_month=numbers.pace.required_rate_per_month,
        forecast=chart_forecast(numbers.forecast),
        height=ACCRUAL_HEIGHT,
        validate=validate,
        observed=observed,
    )


def accrual_observed(numbers: PageNumbers) -> ObservedSteps:
    """The accrual chart's observed step lines (they do not wait for the forecast)."""
    return observed_steps(numbers.accrual)


def bars_chart(numbers: PageNumbers, highlighted=None, selected=(), *, validate: bool = True):
    return site_bar_figure(
        numbers.table, highlighted=highlighted, selected=selected, validate=validate
    )


def activation_chart(
    numbers: PageNumbers, data: TrialData, highlighted=None, selected=(), *, validate: bool = True
):
    return activation_figure(
        numbers.table,
        as_of=numbers.as_of,
        trial_start=data.trial.start_date,
        highlighted=highlighted,
        selected=selected,
        validate=validate,
    )
