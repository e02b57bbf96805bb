"""The page's downloads: the sites table and accrual series (as ``export`` writes them) and
the snapshot PDF/PNG (as ``snapshot`` makes it).

A snapshot is Chromium on the server opening this same app at its own address, logged in
as the requesting user: one at a time per server process (a hospital VM has few cores),
refused plainly when the server could not answer Chromium while this request waits.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

import flask
from dash import dcc

from .. import tabular
from ..bind_guard import own_base_url
from ..export_about import export_about, export_filename
from ..store import TrialData

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Seconds a snapshot may take (page load, forecast, Chromium print) before it is abandoned.
SNAPSHOT_TIMEOUT_S = 90.0
#: One Chromium at a time per server process: a second click waits this long, then is told
#: to retry (a hospital VM has few cores; ten Chromiums at once help nobody). Long enough for
#: a queued snapshot on a loaded two-core machine (each takes 12-40 s there).
SNAPSHOT_QUEUE_WAIT_S = 180.0
#: Requests that may wait for the snapshot slot in one process. A waiting request holds a
#: server thread; were every thread of a worker parked here, the page Chromium opens could
#: be queued behind them in that same worker and the snapshot being made would time out
#: (README's gunicorn has 4 threads a worker: one makes, one waits, two serve the page).
SNAPSHOT_MAX_WAITING = 1


def table_download(data: TrialData, what: str, kind: str, as_of: dt.date) -> dict[str, Any]:
    """The sites table or the accrual series as of the date, as the ``export`` command
    writes it (:mod:`dashboard.tabular`: aggregates only, formulas escaped)."""
    frame = (
        tabular.sites_export_frame(data, as_of)
        if what == "sites"
        else tabular.accrual_export_frame(data, as_of)
    )
    filename = export_filename(data, what, as_of, kind)
    if kind == "csv":
        return dcc.send_bytes(tabular.to_csv_bytes(frame), filename, type="text/csv")
    body = tabular.to_xlsx_bytes(frame, what, export_about(data, what, as_of))
    return dcc.send_bytes(body, filename, type=XLSX_TYPE)


def basic_credentials(authorization: Any) -> dict[str, str] | None:
    """The request's basic-auth user and password (``flask.request.authorization``), to
    log the snapshot browser in as the same user; None without basic auth."""
    if authorization is None or getattr(authorization, "type", None) != "basic":
        return None
    username, password = authorization.username, authorization.password
    if not username or password is None:
        return None
    return {"username": username, "password": password}


class SnapshotDownloads:
    """Makes the page's snapshot for the request being served, one at a time."""

    def __init__(self, requests_pathname_prefix: str) -> None:
        self.prefix = requests_pathname_prefix
        self._slot = threading.Semaphore(1)
        self._waiting = threading.BoundedSemaphore(SNAPSHOT_MAX_WAITING + 1)

    def make(self, data: TrialData, kind: str, as_of: dt.date) -> tuple[Any, str]:
        """(download, status line): the file to send, or None and why it was not made.

        The app must serve other requests meanwhile: ``serve`` runs Flask's threaded
        server, and gunicorn needs 2 workers or threads.
        """
        from ..snapshot import SnapshotError, take_snapshot

        filename = f"{data.trial.nct_id}-{as_of.isoformat()}.{kind}"
        environ = flask.request.environ
        if not environ.get("wsgi.multithread") and not environ.get("wsgi.multiprocess"):
            # This request would hold the only worker while Chromium waits for the page.
            return None, (
                f"{kind.upper()} not made: this server handles one request at a time. Run "
                "gunicorn with --workers 2 (or --threads 2), or `recruitment-dashboard "
                "snapshot`."
            )
        try:
            base = own_base_url(environ, self.prefix)
        except ValueError as exc:
            return None, f"{kind.upper()} not made: {exc}"
        credentials = basic_credentials(flask.request.authorization)
        busy = f"{kind.upper()} not made: another snapshot is being made; try again in a minute."
        if not self._waiting.acquire(blocking=False):
            return None, busy  # the one making and the one waiting are enough
        try:
            got_slot = self._slot.acquire(timeout=SNAPSHOT_QUEUE_WAIT_S)
        except BaseException:
            self._waiting.release()
            raise
        if not got_slot:
            self._waiting.release()
            return None, busy
        try:
            with tempfile.TemporaryDirectory(prefix="snapshot-") as tmp:
                out = Path(tmp) / filename
                take_snapshot(
                    out,
                    url=base,
                    as_of=as_of,
                    data=data,
                    timeout=SNAPSHOT_TIMEOUT_S,
                    http_credentials=credentials,
                )
                body = out.read_bytes()
        except SnapshotError as exc:
            logger.warning("snapshot for %s failed: %s", as_of, exc)
            return None, f"{kind.upper()} not made: {exc}"
        except Exception as exc:  # Playwright missing or broken: say so, keep the page
            logger.exception("snapshot for %s failed", as_of)
            return None, f"{kind.upper()} not made: {type(exc).__name__}: {exc}"
        finally:
            self._slot.release()
            self._waiting.release()
        media = "application/pdf" if kind == "pdf" else "image/png"
        return dcc.send_bytes(body, filename, type=media), ""
