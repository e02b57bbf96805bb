"""A temporary dashboard on a free loopback port, for the ``snapshot`` command.

The snapshot renders a dashboard through its URL (:mod:`dashboard.snapshot`); when the
command is not given the ``--url`` of a running one, this module starts the app over the
data dir in a thread of this process for the time of the rendering.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .metrics import DateLike, to_date
from .snapshot import (
    DEFAULT_TIMEOUT_S,
    SnapshotError,
    SnapshotResult,
    check_output,
    chromium_executable,
    default_output,
    take_snapshot,
)
from .store import TrialData, load_trial_data


@contextlib.contextmanager
def serve_app(data_dir: Path, as_of: dt.date | None = None) -> Iterator[str]:
    """Serve ``create_app(data_dir, as_of)`` on a free loopback port; yield its URL.

    A werkzeug server in a daemon thread of this process: no port to pick (port 0), no
    child process to reap, and ``shutdown()`` stops it even when the snapshot failed.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    from .app import create_app

    class QuietHandler(WSGIRequestHandler):
        """No access log: a cron job's output should be the result line, not 30 GETs."""

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    app = create_app(data_dir=data_dir, as_of=as_of)
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="snapshot-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def snapshot_data_dir(
    out: Path | None = None,
    *,
    data_dir: Path | None = None,
    as_of: DateLike | None = None,
    url: str | None = None,
    scale: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    data: TrialData | None = None,
) -> SnapshotResult:
    """The ``snapshot`` command: render the dashboard over ``data_dir`` to ``out``.

    With ``url`` the running dashboard there is rendered (``data_dir`` should be the data
    dir it serves); else the app is started on a loopback port for the rendering. ``data``
    (else ``data_dir``, else the default data dir) supplies the header and the default
    as-of date (the data cut-off).
    """
    started = time.monotonic()
    if data is None:
        if data_dir is None:
            from .datadir import default_data_dir

            data_dir = default_data_dir()
        data = load_trial_data(data_dir)
    cut = data.data_cutoff if as_of is None else to_date(as_of)
    out = out or default_output(data.trial.nct_id, cut)
    check_output(out, scale)
    chromium_executable()  # no Chromium: said before the app is started
    with contextlib.ExitStack() as stack:
        if url is None:
            if data_dir is None:
                raise SnapshotError("a snapshot needs data_dir (or url) to serve the app")
            try:
                url = stack.enter_context(serve_app(Path(data_dir), cut))
            except ImportError as exc:
                raise SnapshotError(f"The dashboard app cannot be started: {exc}") from exc
        result = take_snapshot(out, url=url, data=data, as_of=cut, scale=scale, timeout=timeout)
    result.seconds = round(time.monotonic() - started, 2)
    return result
