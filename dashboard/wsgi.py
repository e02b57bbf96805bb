"""WSGI entry point for production servers.

    RECRUITMENT_DASHBOARD_DATA_DIR=/srv/sclerita/data \\
        gunicorn --workers 2 --threads 4 --bind 127.0.0.1:8050 dashboard.wsgi:server

The data dir comes from ``$RECRUITMENT_DASHBOARD_DATA_DIR`` (default: the shipped demo
data). Basic auth comes from ``$RECRUITMENT_DASHBOARD_HTPASSWD`` or
``$RECRUITMENT_DASHBOARD_AUTH`` (see :mod:`dashboard.security`); without either, bind
gunicorn to loopback behind a reverse proxy that authenticates: the page shows per-site
counts of a blinded trial.
"""

from __future__ import annotations

from .app import create_app
from .datadir import default_data_dir

app = create_app(default_data_dir())  # basic auth from the environment, if configured
server = app.server
