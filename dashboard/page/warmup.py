"""The likely clicks, computed before anyone asks: the 12 most recent weekly as-of dates.

A reader who opens the dashboard mostly steps the date picker back a week or two from
the default date (the data cut-off). After the app starts and after each data change,
a separate, low-priority process (``python -m dashboard.page.warmup <data dir>``,
niced) computes the main callback's reply for the default date and the 11 weeks before
it, exactly as the callback would (:func:`~dashboard.page.callbacks.refresh_outputs`
and :func:`~dashboard.page.replies.encode_output`: the same bytes), and keeps them in
the data dir's :class:`~dashboard.page.shared_replies.SharedReplies`, where every
gunicorn worker finds them.

Why a process and not a thread: a thread in the worker would compete with requests for
the interpreter lock; a niced process leaves the cores to requests. Only one warm-up
runs per data dir (an ``flock`` on ``.cache/warm.lock``, taken by the worker and handed
to the process it starts); the process follows data changes itself (it starts over
when the data version moves) and exits when its work is done or its parent (the
worker) is gone, so it never outlives the server.

Switched off with ``create_app(warm_up=False)`` or ``RECRUITMENT_DASHBOARD_WARM_UP=0``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..dates import as_of_range
from ..store import DataStore, TrialData
from .background import exit_with_parent, switched_on
from .shared_replies import CACHE_DIR_NAME, SharedReplies

log = logging.getLogger(__name__)

WARM_UP_ENV = "RECRUITMENT_DASHBOARD_WARM_UP"

#: How many weekly as-of dates are computed ahead (the default date and the weeks before).
WEEKS = 12

#: Niceness of the warm-up process: it gets the cores only when requests leave them.
NICENESS = 15

#: A worker asks at most this often (seconds) whether a data version still needs warming.
RECHECK_SECONDS = 5.0

#: How long a worker waits (seconds) for a warm-up to finish before adopting its replies.
FOLLOW_SECONDS = 3600.0

_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def warm_up_from_environment() -> bool:
    """``$RECRUITMENT_DASHBOARD_WARM_UP``: on unless it says 0, no, off or false."""
    return switched_on(WARM_UP_ENV)


def settings_name(forecast_paths: int | None) -> str:
    """What besides the data shapes a reply: the forecast's simulated paths."""
    return f"paths={forecast_paths if forecast_paths is not None else 'default'}"


def recent_weeks(
    data: TrialData, default_as_of: dt.date | None = None, weeks: int = WEEKS
) -> list[dt.date]:
    """The default as-of date (the app's, else the data cut-off) and the ``weeks - 1``
    weeks before it, latest first, within the allowed as-of range."""
    base = default_as_of or data.data_cutoff
    allowed = as_of_range(data.trial.start_date, data.data_cutoff)
    days = (base - dt.timedelta(days=7 * k) for k in range(weeks))
    return [day for day in days if day in allowed]


def warm_status(
    data_dir: Path | str, forecast_paths: int | None = None, code: str | None = None
) -> dict[str, Any] | None:
    """What the warm-up recorded for the data dir's current files (None: nothing yet);
    ``{"dates": [...], "done": True}`` once all are computed. For benches and monitors."""
    from ..datadir import DataPaths
    from ..store import fingerprint

    shared = SharedReplies(data_dir, settings_name(forecast_paths), code=code)
    try:
        return shared.warm_status(fingerprint(DataPaths(Path(data_dir))))
    finally:
        shared.close()


# ----------------------------------------------------------------------------- the process
def run(
    data_dir: Path | str,
    forecast_paths: int | None = None,
    default_as_of: dt.date | None = None,
    max_rounds: int = 10,
    code: str | None = None,
) -> list[dt.date]:
    """Compute the recent weeks' replies into the shared cache; returns the dates done.

    Starts over when the data change under it (a new version, or new load errors), at
    most ``max_rounds`` times. Dates already in the cache are skipped (a warm-up cut
    short by a worker's restart resumes where it stopped).
    """
    from .callbacks import refresh_outputs
    from .replies import encode_output
    from .view_model import NumbersCache

    store = DataStore(data_dir)
    shared = SharedReplies(data_dir, settings_name(forecast_paths), code=code)
    numbers = NumbersCache(forecast_paths=forecast_paths)
    done: list[dt.date] = []
    try:
        if not shared.usable():
            return done
        for _ in range(max_rounds):
            data, errors = store.get(), store.errors
            status = shared.warm_status(data.version)
            if status is not None and status.get("done"):
                return done
            done = []
            moved = False
            for day in recent_weeks(data, default_as_of):
                if store.get() is not data or store.errors != errors:
                    moved = True
                    break
                key = shared.key(data, day, True, (), (), errors)
                if not shared.contains(key):
                    made = refresh_outputs(numbers, data, errors, day, [], [], False, encode_output)
                    shared.put(key, made)
                done.append(day)
                shared.set_warm_status(data.version, [d.isoformat() for d in done], False)
            if moved:
                continue
            shared.set_warm_status(data.version, [d.isoformat() for d in done], True)
            if store.get() is data and store.errors == errors:
                return done
        return done
    finally:
        shared.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--forecast-paths", type=int, default=None)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--parent", type=int, default=None, help="exit when this pid is gone")
    parser.add_argument("--code", default=None, help="the worker's code version (keys)")
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    if args.parent is not None:
        threading.Thread(target=exit_with_parent, args=(args.parent,), daemon=True).start()
    try:
        run(args.data_dir, args.forecast_paths, args.as_of, code=args.code)
    except Exception as exc:  # noqa: BLE001  (a failed warm-up only means cold clicks)
        log.warning("warm-up of %s stopped: %s", args.data_dir, exc)
        return 1
    return 0


# ----------------------------------------------------------------------------- in the worker
class Warmer:
    """Starts the warm-up process of a data dir when a data version needs it.

    :meth:`ensure` is cheap and never blocks a request: it remembers the versions known
    to be warm, asks at most every :data:`RECHECK_SECONDS` per version, and leaves the
    look-up and the start to a short-lived thread.
    """

    def __init__(
        self,
        data_dir: Path | str,
        shared: SharedReplies,
        forecast_paths: int | None = None,
        default_as_of: dt.date | None = None,
        enabled: bool = True,
        on_warm: Callable[[TrialData, list[dt.date]], None] | None = None,
    ):
        self.data_dir = Path(data_dir)
        #: Told, in the background, when ``data``'s recent weeks are in the shared cache
        #: (the worker copies them into its own cache: the first ask is a local hit).
        self.on_warm = on_warm
        #: Versions whose warmed replies were handed to ``on_warm`` (tests, monitors).
        self.adopted: set[str] = set()
        self._latest: str | None = None
        self._following: set[str] = set()
        self.shared = shared
        self.forecast_paths = forecast_paths
        self.default_as_of = default_as_of
        self.enabled = enabled
        self._warm: set[str] = set()
        self._asked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()
        if enabled:
            atexit.register(self.stop)

    def ensure(self, data: TrialData) -> None:
        """See that ``data``'s recent weeks get computed (in the background)."""
        version = data.version
        if not self.enabled or version in self._warm:
            return
        self._latest = version
        now = time.monotonic()
        if now - self._asked.get(version, -RECHECK_SECONDS) < RECHECK_SECONDS:
            return
        self._asked[version] = now
        threading.Thread(target=self._start, args=(data,), daemon=True).start()

    def _start(self, data: TrialData) -> None:
        try:
            self.start(data.version)
        except Exception as exc:  # noqa: BLE001  (no warm-up: the clicks are cold, not broken)
            log.warning("warm-up of %s not started: %s", self.data_dir, exc)
            if isinstance(exc, OSError):  # e.g. a read-only data dir: not every 5 seconds
                self.enabled = False
            return
        self._follow(data)

    def _follow(self, data: TrialData) -> None:
        """Wait (sleeping, one status read a second) for ``data``'s warm-up to be done,
        here or in another worker, then hand its dates to :attr:`on_warm`; give up when
        a newer version is served."""
        version = data.version
        with self._lock:
            if self.on_warm is None or version in self._following or not self.enabled:
                return
            self._following.add(version)
        deadline = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < deadline and self._latest == version:
            status = self.shared.warm_status(version)
            if status is not None and status.get("done"):
                self._warm.add(version)
                try:
                    days = [dt.date.fromisoformat(d) for d in status.get("dates", ())]
                    self.on_warm(data, days)
                    self.adopted.add(version)
                except Exception as exc:  # noqa: BLE001  (the replies stay on disk)
                    log.warning("warmed replies of %s not adopted: %s", self.data_dir, exc)
                return
            time.sleep(1.0)

    def start(self, version: str) -> None:
        """Start the warm-up process now, unless ``version`` is warm already or a warm-up
        of this data dir runs (here or in another worker)."""
        with self._lock:
            if self.running():
                return  # it follows data changes itself
            if not self.shared.usable():
                self.enabled = False  # nowhere to keep the replies: nothing to warm
                return
            status = self.shared.warm_status(version)
            if status is not None and status.get("done"):
                self._warm.add(version)
                return
            lock_path = self.data_dir / CACHE_DIR_NAME / "warm.lock"
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # another worker's warm-up runs; it follows data changes
                # The process inherits the locked descriptor: the lock is held until it exits.
                self._proc = subprocess.Popen(
                    self.command(),
                    pass_fds=(fd,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    env=self._environment(),
                    cwd=str(_PACKAGE_PARENT),
                )
                self._owner = os.getpid()
            finally:
                os.close(fd)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", __name__, str(self.data_dir), "--parent", str(os.getpid())]
        cmd += ["--code", self.shared.code]
        if self.forecast_paths is not None:
            cmd += ["--forecast-paths", str(self.forecast_paths)]
        if self.default_as_of is not None:
            cmd += ["--as-of", self.default_as_of.isoformat()]
        return cmd

    @staticmethod
    def _environment() -> dict[str, str]:
        """This process's environment, with this very package first on the path (the
        replies must be drawn by the same code)."""
        path = os.environ.get("PYTHONPATH")
        first = str(_PACKAGE_PARENT)
        return {**os.environ, "PYTHONPATH": first + (os.pathsep + path if path else "")}

    def running(self) -> bool:
        return self._proc is not None and self._owner == os.getpid() and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the running warm-up (tests); its exit code, None if none ran."""
        if self._proc is None or self._owner != os.getpid():
            return None
        return self._proc.wait(timeout)

    def stop(self) -> None:
        """End the warm-up this process started (the server stops)."""
        proc = self._proc
        if proc is None or self._owner != os.getpid() or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
