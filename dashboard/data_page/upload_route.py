"""``POST /data/upload``: an editor's export arrives, is checked and held for confirmation.

Why a route of its own rather than a Dash callback: a callback body is capped at 1 MB
(:data:`dashboard.app.MAX_REQUEST_BYTES`, hardening), and a base64 upload inside one
would cap real exports near 750 kB, while ``import-enrollment`` takes up to 50 MB. This
route raises the cap for itself only, to the import's own limit
(:class:`dashboard.enrollment.edc_reader.Limits`), takes the raw bytes (no base64, no
multipart), and checks the same things as every state-changing request: same origin
(:func:`dashboard.roles.install_origin_check`) and an editor (:func:`~dashboard.roles.require_editor`).

The reply holds a token only, never a preview row: the page asks for the preview through
its callback, which reads the held upload on the server (:mod:`dashboard.pending_uploads`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from urllib.parse import unquote

import flask
import pandas as pd
from werkzeug.exceptions import RequestEntityTooLarge

from ..datadir import DataPaths, acting_as, sha256_file
from ..enrollment import EnrollmentError, empty_enrollment
from ..enrollment.edc_reader import Limits
from ..import_preview import build_preview
from ..imports import import_enrollment
from ..pending_uploads import PendingUploads, safe_file_name
from ..roles import NotAllowed, require_editor
from ..store import LOAD_ERRORS, DataStore
from .messages import browser_safe_all

logger = logging.getLogger(__name__)

#: Room for the request line and headers around the file itself.
_HEADROOM = 64 * 1024


def data_fingerprint(paths: DataPaths) -> str:
    """The enrollment in service (its file and dataset.json): a preview is valid for it only."""
    parts = []
    for path in (paths.enrollment, paths.dataset):
        parts.append(sha256_file(path) if path.exists() else "-")
    return ":".join(parts)


def install_upload_route(
    server: flask.Flask,
    path: str,
    store: DataStore,
    uploads: PendingUploads,
    *,
    limits: Limits | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> None:
    limits = limits or Limits()
    paths = store.paths

    def upload() -> flask.Response:
        try:
            return check_upload()
        except RequestEntityTooLarge:  # a body without Content-Length, over the limit
            message = f"over the {limits.max_bytes / 1e6:.0f} MB limit for an enrollment export"
            return _reply({"error": message}, 413)
        except Exception:  # never a 500 page or a traceback; the log gets the details
            logger.exception("upload failed")
            return _reply({"error": "the export could not be checked; nothing changed"}, 500)

    def check_upload() -> flask.Response:
        try:
            person = require_editor()
        except NotAllowed as exc:
            return _reply({"error": str(exc)}, 403)
        size = flask.request.content_length
        if size is not None and size > limits.max_bytes:
            return _reply(
                {
                    "error": f"the file is {size / 1e6:.1f} MB, over the "
                    f"{limits.max_bytes / 1e6:.0f} MB limit for an enrollment export"
                },
                413,
            )
        flask.request.max_content_length = limits.max_bytes + _HEADROOM
        name = safe_file_name(unquote(flask.request.headers.get("X-File-Name", "")))
        data = flask.request.get_data(cache=False)
        held = uploads.hold(person.name, name, data)
        before = data_fingerprint(paths)
        with acting_as(person.name):
            try:
                report = import_enrollment(
                    held.file, paths, limits=limits, today=today(), dry_run=True
                )
            except EnrollmentError as exc:
                held.file.unlink(missing_ok=True)  # a refused export is not kept
                uploads.set_preview(
                    held, {"refused": browser_safe_all(exc.errors), "reasons": exc.reasons}
                )
                return _reply({"token": held.token})
        try:
            served = store.get()
            current, cutoff, sites = served.enrollment, served.data_cutoff, served.sites
        except LOAD_ERRORS:  # nothing sound in service: everything is "after"
            current, cutoff, sites = (
                empty_enrollment(),
                None,
                pd.DataFrame({"site_id": [], "facility": []}),
            )
        preview = build_preview(report, current, cutoff, sites)
        uploads.set_preview(held, {"preview": preview.to_json(), "data_version": before})
        return _reply({"token": held.token})

    server.add_url_rule(path, endpoint="data_page_upload", view_func=upload, methods=["POST"])


def _reply(body: dict[str, object], status: int = 200) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    return response
