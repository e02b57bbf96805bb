"""The page's forecast in a companion process, beside the counts and figures.

Why: a date never asked before costs the counts and four figures, then the forecast,
which takes about as long again; in one process both run on one core under the
interpreter lock (a thread was measured slower than no thread). Each worker therefore
keeps one companion process (:class:`concurrent.futures.ProcessPoolExecutor` with one
worker, started fresh with ``spawn``: never a fork of a threaded server). The page
sends it the data version and the as-of date; while the companion runs
:func:`~dashboard.page.view_model.run_forecast`, the worker counts and draws the
figures on the other core, and only the forecast cards, the alerts and the accrual
chart wait for the answer.

The companion loads the data dir itself once per data version (in the background, after
each change: :meth:`ForecastProcess.prepare`) and answers only for the version it
loaded, so both processes always forecast from the same files. Whenever it cannot
answer (starting, loading a new version, busy with another request, gone), the worker
computes the forecast itself, as it did before: the companion only ever saves time, and
its answer is the same forecast (same code, same data, same fixed seed: tested).

It exits with its worker (it watches its parent), holds no patient-level data beyond
what the worker holds, and is switched off with ``create_app(forecast_process=False)``
or ``RECRUITMENT_DASHBOARD_FORECAST_PROCESS=0``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ..store import TrialData, load_trial_data
from .background import exit_with_parent, switched_on
from .view_model import ForecastAnswer, run_forecast

log = logging.getLogger(__name__)

FORECAST_PROCESS_ENV = "RECRUITMENT_DASHBOARD_FORECAST_PROCESS"

#: A companion that died is started again at most this many times per worker.
MAX_STARTS = 3


def forecast_process_from_environment() -> bool:
    """``$RECRUITMENT_DASHBOARD_FORECAST_PROCESS``: on unless it says 0, no, off or false."""
    return switched_on(FORECAST_PROCESS_ENV)


# ------------------------------------------------------------------- in the companion
_loaded: dict[str, TrialData] = {}


def _watch_parent(parent: int) -> None:
    """Never outlive the worker: exit as soon as it is gone (even when it was killed)."""
    threading.Thread(
        target=exit_with_parent, args=(parent,), name="watch-parent", daemon=True
    ).start()


def _load(data_dir: str, version: str) -> bool:
    """Load the data dir; keep it only if it is the worker's ``version`` (else False)."""
    data = load_trial_data(data_dir, strict=True)
    if data.version != version:
        return False
    _loaded.clear()
    _loaded[version] = data
    return True


def _forecast(version: str, as_of: dt.date, paths: int | None) -> ForecastAnswer | None:
    """The worker's forecast for ``as_of``, or None when ``version`` is not loaded here."""
    data = _loaded.get(version)
    return None if data is None else run_forecast(data, as_of, paths)


# ---------------------------------------------------------------------- in the worker
class ForecastProcess:
    """One worker's companion process (see the module docstring).

    Started by the first request that needs a forecast, not at app creation (``create_app``
    hands it to the page only after building its own layouts): under gunicorn's
    ``--preload`` the app is created in the master, which serves no request and must not
    keep a companion of its own.
    """

    def __init__(self, data_dir: Path | str, forecast_paths: int | None, enabled: bool = True):
        self.data_dir = str(Path(data_dir).resolve())
        self.forecast_paths = forecast_paths
        self.enabled = enabled
        self._pool: ProcessPoolExecutor | None = None
        self._starts = 0
        self._ready: str | None = None  # the data version the companion holds
        self._loading: str | None = None  # the version it was last asked to load
        self._busy = 0
        #: Forecasts the companion answered (for tests and monitors).
        self.answered = 0
        self._owner = os.getpid()  # the process whose companion this is
        self._lock = threading.Lock()

    def prepare(self, data: TrialData) -> None:
        """Have a running companion load ``data``'s version (a store listener: called on
        each new version). Never blocks and never raises: until the companion holds the
        version, the worker forecasts itself."""
        with self._lock:
            if self.enabled and not self._forked() and self._pool is not None:
                self._load(data.version)

    def submit(self, data: TrialData, as_of: dt.date) -> Future[ForecastAnswer | None] | None:
        """The forecast for ``as_of``, started in the companion; None when it cannot take
        it now (not started yet, not ready for this version, or busy with another request:
        then it is started, or asked to load the version, for the next ones)."""
        if not self.enabled:
            return None
        with self._lock:
            self._forked()
            if self._pool is None:
                if self._starts >= MAX_STARTS:
                    return None
                self._starts += 1
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            if self._ready != data.version:
                if self._loading != data.version:
                    self._load(data.version)
                return None
            if self._busy:
                return None
            try:
                future = self._pool.submit(_forecast, data.version, as_of, self.forecast_paths)
            except Exception:  # the companion is gone: started again by a later request
                self._drop()
                return None
            self._busy += 1

        def finished(done: Future[ForecastAnswer | None]) -> None:
            ok = not done.cancelled() and done.exception() is None and done.result() is not None
            with self._lock:
                self._busy -= 1
                self.answered += ok

        future.add_done_callback(finished)
        return future

    def failed(self) -> None:
        """A forecast did not come back: drop the companion (a later request starts
        another, at most :data:`MAX_STARTS` times in all)."""
        with self._lock:
            self._drop()

    def pid(self, timeout: float = 60.0) -> int | None:
        """The companion's process id, once it runs (None when it does not)."""
        pool = self._pool
        if pool is None:
            return None
        try:
            return int(pool.submit(os.getpid).result(timeout=timeout))
        except Exception:
            return None

    def close(self) -> None:
        """Stop the companion (waiting for a forecast it is computing). At interpreter exit
        :mod:`concurrent.futures` stops it by itself."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._ready = self._loading = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- under the lock
    def _forked(self) -> bool:
        """True once in a process forked after the companion was started: the pool is
        the parent's; this process starts its own on its first request."""
        if self._owner == os.getpid():
            return False
        self._owner = os.getpid()
        self._pool, self._ready, self._loading, self._busy, self._starts = None, None, None, 0, 0
        return True

    def _load(self, version: str) -> None:
        assert self._pool is not None
        self._loading = version
        try:
            loading = self._pool.submit(_load, self.data_dir, version)
        except Exception:
            self._drop()
            return

        def loaded(done: Future[bool]) -> None:
            error = None if done.cancelled() else done.exception()
            ok = not done.cancelled() and error is None and done.result()
            with self._lock:
                if ok and self._loading == version:
                    self._ready = version
            if error is not None:
                log.warning("forecast process could not load %s: %s", self.data_dir, error)

        loading.add_done_callback(loaded)

    def _drop(self) -> None:
        pool, self._pool = self._pool, None
        self._ready = self._loading = None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)
