"""The numbers the page shows for one as-of date, and their cache.

Every number on the page comes from :mod:`dashboard.metrics` and :mod:`dashboard.forecast`
through :func:`page_numbers`; components only word and arrange them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

import cachetools
import pandas as pd

from .. import metrics
from ..cumulative import CountsIndex
from ..dates import to_date
from ..forecast.precision import PAGE_SIDE_PATHS
from ..forecast.prepared import prepare
from ..forecast.result import Forecast
from ..forecast_from_cutoff import forecast_as_of
from ..store import TrialData
from .per_version import once_per_version

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageNumbers:
    """Everything the page shows for one as-of date, all computed by :mod:`dashboard.metrics`."""

    as_of: dt.date
    summary: metrics.Summary  # counts, percent, sites, pace
    week: metrics.WeekChanges
    table: pd.DataFrame  # metrics.site_table
    accrual: pd.DataFrame  # metrics.accrual_series
    status_counts: dict[str, int]  # metrics.status_counts
    #: dashboard.forecast.forecast (both methods), or None when it failed (see forecast_error)
    forecast: Forecast | None = None
    forecast_error: str | None = None

    @property
    def pace(self) -> metrics.Pace:
        return self.summary.pace


def run_forecast(
    data: TrialData, as_of: dt.date, paths: int | None = None
) -> tuple[Forecast | None, str | None]:
    """:func:`dashboard.forecast.forecast` with its fixed seed,
    made from the data cut-off when ``as_of`` is after it
    (:func:`dashboard.forecast_from_cutoff.forecast_as_of`; its ``warnings`` say so).

    By default the page's target date, its intervals and P(by a date) are integrated
    numerically over the model (:mod:`dashboard.forecast.completion_law`: no Monte Carlo
    error, where 10,000 paths leave days to weeks of it), and its sites-needed table,
    chart bands and expected counts come from 1,000 simulated paths (the cards say so).
    ``paths`` simulates everything from that many paths instead (tests).

    A forecast that fails must not take the page down with it: the counts are still right.
    The error is logged and worded on the forecast cards instead.
    """
    options: dict[str, Any] = (
        {"integrate": True, "paths": PAGE_SIDE_PATHS} if paths is None else {"paths": paths}
    )
    try:
        # Sorting and indexing the patients does not depend on the as-of date.
        options["prepared"] = once_per_version(
            data, "forecast_inputs", lambda d: prepare(d.sites, d.enrollment)
        )
        result = forecast_as_of(
            data.trial, data.sites, data.enrollment, as_of, data.data_cutoff, **options
        )
        return result, None
    except Exception as exc:  # any failure: the counts are shown without a forecast
        logger.exception("forecast failed for as_of %s", as_of)
        return None, f"{type(exc).__name__}: {exc}"


def counts_index(data: TrialData) -> CountsIndex | None:
    """The data version's sorted dates (:func:`dashboard.metrics.counts_index`), built once:
    every as-of date is then counted by bisection, not by filtering the enrollment."""
    return once_per_version(
        data, "counts_index", lambda d: metrics.counts_index(d.sites, d.enrollment)
    )


def page_numbers(
    data: TrialData, as_of: metrics.DateLike, forecast_paths: int | None = None
) -> PageNumbers:
    cut = to_date(as_of)
    result, error = run_forecast(data, cut, forecast_paths)
    index = counts_index(data)
    table = metrics.site_table(
        data.sites, data.geocodes, data.enrollment, cut, data.trial.start_date, index
    )
    return PageNumbers(
        as_of=cut,
        summary=metrics.summary(
            data.trial,
            data.sites,
            data.geocodes,
            data.enrollment,
            cut,
            synthetic=data.synthetic,
            data_cutoff=data.data_cutoff,
            table=table,
            index=index,
            per_site_rows=False,  # the page shows ``table``
        ),
        week=metrics.week_changes(data.sites, data.enrollment, cut, data.status_events, index),
        table=table,
        accrual=metrics.accrual_series(data.enrollment, data.trial.start_date, cut, index),
        status_counts=metrics.status_counts(data.sites),
        forecast=result,
        forecast_error=error,
    )


class NumbersCache:
    """The last few :class:`PageNumbers`, per data version and as-of date.

    A click that only changes the selection redraws the figures from the same numbers
    instead of recounting, and the forecast runs once per data
    version and as-of date. Entries hold their :class:`TrialData`, so a new data version
    (a new object) never reuses old numbers.
    """

    def __init__(self, size: int = 8, forecast_paths: int | None = None):
        self.size = size
        #: Simulated forecast paths (None: the forecast's default, 10,000).
        self.forecast_paths = forecast_paths
        self._entries: cachetools.LRUCache[
            tuple[int, str, dt.date], tuple[TrialData, PageNumbers]
        ] = cachetools.LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, data: TrialData, as_of: metrics.DateLike) -> PageNumbers:
        cut = to_date(as_of)
        key = (id(data), data.version, cut)
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] is data:
            return hit[1]
        numbers = page_numbers(data, cut, self.forecast_paths)
        with self._lock:
            self._entries[key] = (data, numbers)
        return numbers
