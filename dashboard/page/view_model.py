"""The numbers the page shows for one as-of date, and their cache.

Every number on the page comes from :mod:`dashboard.metrics` and :mod:`dashboard.forecast`
through :func:`page_numbers`; components only word and arrange them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

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


#: A forecast, or None and why it failed (worded on the forecast cards).
ForecastAnswer = tuple[Forecast | None, str | None]

#: How long a page waits for the companion process before forecasting itself (seconds).
COMPANION_WAIT_SECONDS = 60.0


class ForecastRunner(Protocol):
    """Where a date's forecast can run beside the counts
    (:class:`~dashboard.page.forecast_process.ForecastProcess`)."""

    def submit(self, data: TrialData, as_of: dt.date) -> Future[ForecastAnswer | None] | None:
        """The forecast started elsewhere, or None when it cannot be taken now."""
        ...

    def failed(self) -> None:
        """A submitted forecast did not come back."""
        ...


class PendingForecast:
    """One date's forecast: already computed, or on its way from a :class:`ForecastRunner`.

    Why: the counts and the figures that do not show the forecast are built while it runs
    elsewhere; whatever shows it asks :meth:`result`, which waits for it then. Any failure
    of the runner (an exception, no answer, a timeout) falls back to ``compute``: the
    page never loses its forecast to the runner.
    """

    def __init__(
        self,
        compute: Callable[[], ForecastAnswer],
        future: Future[ForecastAnswer | None] | None = None,
        runner: ForecastRunner | None = None,
    ) -> None:
        self._compute = compute
        self._future = future
        self._runner = runner
        self._value: ForecastAnswer | None = None if future is not None else compute()
        self._lock = threading.Lock()

    def result(self) -> ForecastAnswer:
        with self._lock:
            if self._value is None:
                answer: ForecastAnswer | None = None
                try:
                    assert self._future is not None
                    answer = self._future.result(timeout=COMPANION_WAIT_SECONDS)
                except Exception:
                    logger.warning("forecast process gave no answer; forecasting here")
                    if self._runner is not None:
                        self._runner.failed()
                self._value = answer if answer is not None else self._compute()
                self._future = None
            return self._value


@dataclass(frozen=True)
class PageNumbers:
    """Everything the page shows for one as-of date, all computed by :mod:`dashboard.metrics`
    and :mod:`dashboard.forecast`."""

    as_of: dt.date
    summary: metrics.Summary  # counts, percent, sites, pace
    week: metrics.WeekChanges
    table: pd.DataFrame  # metrics.site_table
    accrual: pd.DataFrame  # metrics.accrual_series
    status_counts: dict[str, int]  # metrics.status_counts
    #: the forecast (both methods), perhaps still running beside the counts
    outlook: PendingForecast

    @property
    def pace(self) -> metrics.Pace:
        return self.summary.pace

    @property
    def forecast(self) -> Forecast | None:
        """dashboard.forecast.forecast (both methods), or None when it failed (see
        :attr:`forecast_error`). Waits for it when it is still running."""
        return self.outlook.result()[0]

    @property
    def forecast_error(self) -> str | None:
        return self.outlook.result()[1]


def run_forecast(data: TrialData, as_of: dt.date, paths: int | None = None) -> ForecastAnswer:
    """:func:`dashboard.forecast.forecast` with its fixed seed,
    made from the data cut-off when ``as_of`` is after it
    (:func:`dashboard.forecast_from_cutoff.forecast_as_of`; its ``warnings`` say so).

    By default the page's target date, its intervals and P(by a date) are integrated
    numerically over the model (:mod:`dashboard.forecast.completion_law`: no Monte Carlo
    error, where 10,000 paths leave days to weeks of it), and its sites-needed table,
    chart bands and expected counts come from 600 simulated paths (the cards say so).
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
    data: TrialData,
    as_of: metrics.DateLike,
    forecast_paths: int | None = None,
    runner: ForecastRunner | None = None,
) -> PageNumbers:
    """The page's numbers for ``as_of``; with a ``runner``, the forecast runs there while
    this counts (see :class:`PendingForecast`)."""
    cut = to_date(as_of)

    def compute() -> ForecastAnswer:
        return run_forecast(data, cut, forecast_paths)

    future = runner.submit(data, cut) if runner is not None else None
    outlook = PendingForecast(compute, future, runner)
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
        status_counts=metrics.status_counts(data.sites, index),
        outlook=outlook,
    )


class NumbersCache:
    """The last few :class:`PageNumbers`, per data version and as-of date.

    A click that only changes the selection redraws the figures from the same numbers
    instead of recounting, and the forecast runs once per data
    version and as-of date. Entries hold their :class:`TrialData`, so a new data version
    (a new object) never reuses old numbers.
    """

    def __init__(
        self,
        size: int = 8,
        forecast_paths: int | None = None,
        runner: ForecastRunner | None = None,
    ):
        self.size = size
        #: Simulated forecast paths (None: the forecast's default, 10,000).
        self.forecast_paths = forecast_paths
        #: Where the forecast runs beside the counts (None: here, before them).
        self.runner = runner
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
        numbers = page_numbers(data, cut, self.forecast_paths, self.runner)
        with self._lock:
            self._entries[key] = (data, numbers)
        return numbers
