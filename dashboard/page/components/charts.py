"""The page's four charts from :class:`~dashboard.page.view_model.PageNumbers`.

Each ``*_chart`` function calls its builder in :mod:`dashboard.figures`.
``validate=False`` (the page and its callbacks): the builders' plain dicts, not
``go.Figure`` objects; tests validate the very same dicts through the default.
"""

from __future__ import annotations

from typing import Any

from ...figures.accrual import accrual_figure
from ...figures.activation import activation_figure
from ...figures.bars import site_bar_figure
from ...figures.map import site_map_figure
from ...store import TrialData
from ..view_model import PageNumbers

MAP_HEIGHT = 560
ACCRUAL_HEIGHT = 560


def chart_forecast(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the accrual chart draws of a forecast: the Poisson–gamma fan and median path and
    the linear date; None when the target is reached or there is nothing to draw."""
    if not result or result.get("remaining", 0) <= 0:
        return None
    pg = result["poisson_gamma"]
    out: dict[str, Any] = {}
    chart = pg.get("chart") or {}
    if pg.get("alpha") is not None and len(chart.get("dates") or []) > 1:
        out.update(chart)
    linear_date = result["linear"].get("predicted_target_date")
    if linear_date:
        out["linear_date"] = linear_date
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


def accrual_chart(numbers: PageNumbers, data: TrialData, *, validate: bool = True):
    """The accrual chart with the forecast of :attr:`PageNumbers.forecast` (see
    :func:`chart_forecast`)."""
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
    )


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
