"""WSGI entry point for production servers (the command README gives):

    RECRUITMENT_DASHBOARD_DATA_DIR=/srv/sclerita/data \\
        gunicorn --workers 2 --threads 4 --timeout 120 --bind 127.0.0.1:8050 dashboard.wsgi:server

Threads matter: a snapshot request holds its thread while the server's Chromium loads
this same app, so every worker needs free threads to answer it (sync workers deadlock).

The data dir comes from ``$RECRUITMENT_DASHBOARD_DATA_DIR`` (default: the shipped demo
data). Basic auth comes from ``$RECRUITMENT_DASHBOARD_HTPASSWD`` or
``$RECRUITMENT_DASHBOARD_AUTH`` (see :mod:`dashboard.security`). Without either, the
worker refuses to start on a public address, as ``serve`` does
(:func:`dashboard.bind_guard.check_listeners`), and any request reaching it on a public
address is refused: bind gunicorn to loopback behind a reverse proxy that authenticates.
"""

from __future__ import annotations

from .app import create_app
from .bind_guard import check_listeners
from .datadir import default_data_dir
from .security import load_auth
from .store import settle_heap

auth = load_auth()
check_listeners(auth)  # a gunicorn worker holds its listening sockets: refuse a public one
app = create_app(default_data_dir(), auth=auth)
server = app.server
# This process serves the app until it exits (under --preload, its workers are forked from
# it): what it holds now is never garbage, so no full collection should walk it again.
settle_heap()
