"""A forecast asked for an as-of after the data cut-off is made from the cut-off.

The days between the cut-off and the as-of are unknown, not days without patients: a
forecast from the as-of would count them as zero accrual and push every date later. So
the forecast is made from the cut-off, and its ``warnings`` say so (with the other date
warnings of :func:`dashboard.dates.as_of_warnings`, the same words the page and
``summary`` use).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from . import forecast as fc
from .dates import as_of_warnings, forecast_deadlines
from .registry import Trial


def forecast_as_of(
    trial: Trial,
    sites: pd.DataFrame,
    enrollment: pd.DataFrame,
    as_of: dt.date,
    data_cutoff: dt.date,
    *,
    by: Sequence[dt.date] = (),
    **options: Any,
) -> fc.Forecast:
    """:func:`dashboard.forecast.forecast`, from the cut-off when ``as_of`` is after it.

    The result carries ``requested_as_of`` and ``warnings`` (see :func:`as_of_warnings`);
    ``as_of`` is the date the forecast was really made from.
    """
    made_from = min(as_of, data_cutoff)
    result = fc.forecast(trial, sites, enrollment, made_from, by=list(by), **options)
    warnings = as_of_warnings(trial.start_date, data_cutoff, as_of, forecast_deadlines(trial, by))
    if made_from < as_of:
        warnings.append(
            f"Forecast made from the data cut-off {data_cutoff.isoformat()}, not from the "
            f"as-of date {as_of.isoformat()}: accrual after the cut-off is unknown."
        )
    return replace(result, requested_as_of=as_of, warnings=tuple(warnings))


__all__ = ["forecast_as_of"]
