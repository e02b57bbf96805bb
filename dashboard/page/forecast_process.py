"""The page's forecast in a companion process, beside the counts and figures.

Why: a date never asked before costs the counts and four figures, then the forecast,
which takes about as long again; in one process both run on one core under the
interpreter lock (a thread was measured slower than no thread). Each worker therefore
keeps one companion process (started fresh with ``spawn``: never a fork of a threaded
server). The page sends it the data version and the as-of date down a pipe; while the
companion runs :func:`~dashboard.page.view_model.run_forecast`, the worker counts and draws the
figures on the other core, and only the forecast cards and the accrual chart wait for
the answer.

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
import itertools
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ..store import TrialData, load_trial_data, settle_heap
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


def _load(data_dir: str, version: str) -> bool:
    """Load the data dir; keep it only if it is the worker's ``version`` (else False)."""
    data = load_trial_data(data_dir, strict=True)
    if data.version != version:
        return False
    _loaded.clear()
    _loaded[version] = data
    # One forecast thrown away, so that the first one a reader asks for is as quick as the
    # next: the version's forecast inputs are indexed and the lazy imports done (~6 ms).
    run_forecast(data, data.data_cutoff)
    settle_heap()  # kept until the next version: never walked by a full collection
    return True


def _forecast(version: str, as_of: dt.date, paths: int | None) -> ForecastAnswer | None:
    """The worker's forecast for ``as_of``, or None when ``version`` is not loaded here."""
    data = _loaded.get(version)
    return None if data is None else run_forecast(data, as_of, paths)


def _serve(conn: Connection, parent: int, data_dir: str) -> None:
    """The companion's loop: one message at a time from the worker, one answer each.

    ``("load", version)`` is answered ``("loaded", version, ok)``; ``("forecast", serial,
    version, as_of, paths)`` is answered ``("forecast", serial, answer)``, the answer None
    when it failed here (the worker then forecasts itself). It ends on ``("stop",)``, when
    the pipe ends, or when the worker is gone (even killed outright:
    :func:`.background.exit_with_parent`).
    """
    threading.Thread(
        target=exit_with_parent, args=(parent,), name="watch-parent", daemon=True
    ).start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        reply: tuple[Any, ...]
        if message[0] == "stop":
            return
        if message[0] == "load":
            try:
                ok = _load(data_dir, message[1])
            except Exception as exc:
                log.warning("forecast process could not load %s: %s", data_dir, exc)
                ok = False
            reply = ("loaded", message[1], ok)
        else:
            _, serial, version, as_of, paths = message
            try:
                answer = _forecast(version, as_of, paths)
            except Exception:  # run_forecast words its own failures; anything else: None
                log.exception("forecast process failed for as_of %s", as_of)
                answer = None
            reply = ("forecast", serial, answer)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


# ---------------------------------------------------------------------- in the worker
class ForecastProcess:
    """One worker's companion process (see the module docstring).

    Started by the first request that needs a forecast, not at app creation (``create_app``
    hands it to the page only after building its own layouts): under gunicorn's
    ``--preload`` the app is created in the master, which serves no request and must not
    keep a companion of its own.

    The request thread writes the forecast's three arguments to the pipe itself: handing
    them to a feeder thread (as :class:`concurrent.futures.ProcessPoolExecutor` does, two
    threads deep) waited for the interpreter lock while the request counted, and the
    companion started up to 14 ms late. A reader thread takes the answers, blocked in
    ``recv`` (the lock released) until one comes.
    """

    def __init__(self, data_dir: Path | str, forecast_paths: int | None, enabled: bool = True):
        self.data_dir = str(Path(data_dir).resolve())
        self.forecast_paths = forecast_paths
        self.enabled = enabled
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._starts = 0
        self._ready: str | None = None  # the data version the companion holds
        self._loading: str | None = None  # the version it was last asked to load
        self._waiting: dict[int, Future[ForecastAnswer | None]] = {}  # by serial
        self._serials = itertools.count()
        #: Forecasts the companion answered (for tests and monitors).
        self.answered = 0
        self._owner = os.getpid()  # the process whose companion this is
        self._lock = threading.Lock()

    def prepare(self, data: TrialData) -> None:
        """Have a running companion load ``data``'s version (a store listener: called on
        each new version). Never blocks and never raises: until the companion holds the
        version, the worker forecasts itself."""
        with self._lock:
            if self.enabled and not self._forked() and self._conn is not None:
                self._load(data.version)

    def submit(self, data: TrialData, as_of: dt.date) -> Future[ForecastAnswer | None] | None:
        """The forecast for ``as_of``, started in the companion; None when it cannot take
        it now (not started yet, not ready for this version, or busy with another request:
        then it is started, or asked to load the version, for the next ones)."""
        if not self.enabled:
            return None
        with self._lock:
            self._forked()
            if self._conn is None and (self._starts >= MAX_STARTS or not self._start()):
                return None
            if self._ready != data.version:
                if self._loading != data.version:
                    self._load(data.version)
                return None
            if self._waiting:
                return None
            serial = next(self._serials)
            future: Future[ForecastAnswer | None] = Future()
            if not self._send(("forecast", serial, data.version, as_of, self.forecast_paths)):
                return None
            self._waiting[serial] = future
        return future

    def failed(self) -> None:
        """A forecast did not come back: drop the companion (a later request starts
        another, at most :data:`MAX_STARTS` times in all)."""
        with self._lock:
            self._drop()

    def pid(self) -> int | None:
        """The companion's process id, once it runs (None when it does not)."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def close(self) -> None:
        """Stop the companion: it ends once its current forecast is done (waited for, a
        few seconds at most). At interpreter exit :mod:`multiprocessing` stops it."""
        with self._lock:
            process, conn = self._process, self._conn
            if conn is not None:  # it stops once the forecast in hand is sent
                with contextlib.suppress(OSError, ValueError):
                    conn.send(("stop",))
            self._drop(terminate=False)
        if process is not None:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    # -- under the lock
    def _start(self) -> bool:
        self._starts += 1
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, os.getpid(), self.data_dir),
            name="forecast-companion",
            daemon=True,  # stopped by multiprocessing at the worker's exit
        )
        try:
            process.start()
        except Exception as exc:
            log.warning("forecast process could not start: %s", exc)
            ours.close()
            return False
        finally:
            theirs.close()  # the companion holds its end: EOF here when it is gone
        self._process, self._conn = process, ours
        threading.Thread(
            target=self._read, args=(ours,), name="forecast-answers", daemon=True
        ).start()
        return True

    def _send(self, message: tuple[Any, ...]) -> bool:
        assert self._conn is not None
        try:
            self._conn.send(message)
            return True
        except (OSError, ValueError):  # the companion is gone: started again later
            self._drop()
            return False

    def _forked(self) -> bool:
        """True once in a process forked after the companion was started: the pipe is
        the parent's; this process starts its own on its first request."""
        if self._owner == os.getpid():
            return False
        self._owner = os.getpid()
        self._process, self._conn, self._ready, self._loading = None, None, None, None
        self._waiting, self._starts = {}, 0
        return True

    def _load(self, version: str) -> None:
        if self._send(("load", version)):
            self._loading = version

    def _drop(self, terminate: bool = True) -> None:
        """Forget the companion; whoever waits for it forecasts itself."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready = self._loading = None
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            future.set_exception(RuntimeError("the forecast process is gone"))
        if terminate and process is not None:
            with contextlib.suppress(Exception):
                process.terminate()
        if terminate and conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    # -- in the reader thread
    def _read(self, conn: Connection) -> None:
        """Hand each answer to whoever waits for it, until the pipe ends."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                if conn is not self._conn:
                    return
                if message[0] == "loaded":
                    if message[2] and self._loading == message[1]:
                        self._ready = message[1]
                    continue
                future = self._waiting.pop(message[1], None)
                self.answered += message[2] is not None
            if future is not None:
                future.set_result(message[2])
        with self._lock:
            if conn is self._conn:
                self._drop()
