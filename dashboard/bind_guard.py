"""Where this server really listens: the bind refusal for any WSGI server, and our own URL.

``serve`` refuses a public bind without authentication (:func:`dashboard.security.check_bind`),
but gunicorn binds its sockets itself, so ``dashboard.wsgi`` cannot see a ``--host``. Two
checks cover it, both reading sockets, never request headers:

* at start-up, :func:`check_listeners` looks at the listening sockets this process holds
  (a gunicorn worker inherits them; so does a systemd-activated server) and refuses a
  public one without authentication, so the worker fails to boot and gunicorn stops;
* on every request, the guard installed by :func:`install_bind_guard` looks at the local
  address the connection arrived on (``gunicorn.socket`` / ``werkzeug.socket``) and
  answers 403 without data when it is not loopback and no authentication is configured
  (covers ``--preload``, where the app is built before gunicorn binds).

The snapshot browser opens this same server at :func:`own_base_url`: the configured
``$RECRUITMENT_DASHBOARD_SNAPSHOT_URL``, else the address of the very socket the request
came in on. The ``Host`` and ``X-Forwarded-*`` headers are the client's to write; the
server-side browser (which carries the user's password) must never follow them.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping
from typing import Any

import flask

from .security import Auth, check_bind, is_loopback_host

ENV_SNAPSHOT_URL = "RECRUITMENT_DASHBOARD_SNAPSHOT_URL"
"""Base URL the snapshot browser uses to reach this app (for unix-socket deployments)."""

REFUSED_PUBLIC = (
    "This dashboard is reachable on a public address without authentication, so it "
    "refuses to answer. Configure basic authentication (RECRUITMENT_DASHBOARD_HTPASSWD) "
    "or bind to 127.0.0.1 behind a reverse proxy.\n"
)


def listening_addresses() -> list[str]:
    """Hosts of the TCP sockets this process listens on (Linux ``/proc``; else none)."""
    hosts: list[str] = []
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return hosts
    for fd in fds:
        try:
            dup = os.dup(fd)
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        with sock:
            try:
                if sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                hosts.append(str(sock.getsockname()[0]))
            except OSError:
                continue
    return hosts


def check_listeners(auth: Auth | None) -> None:
    """:func:`check_bind` for every socket this process listens on (raises
    :class:`~dashboard.security.SecurityConfigError` for a public one without auth)."""
    for host in listening_addresses():
        check_bind(host, auth)


def _connection(environ: Mapping[str, Any]) -> socket.socket | None:
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    return sock if isinstance(sock, socket.socket) else None


def local_address(environ: Mapping[str, Any]) -> tuple[str, int] | None:
    """(host, port) of the socket the request arrived on; None for a unix socket or a test."""
    sock = _connection(environ)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    with contextlib.suppress(OSError):
        name = sock.getsockname()
        return str(name[0]), int(name[1])
    return None


def install_bind_guard(app: Any, auth: Auth | None) -> None:
    """Refuse (403, no data) requests arriving on a public address when there is no auth."""
    if auth is not None:
        return
    server: flask.Flask = app.server

    def guard() -> flask.Response | None:
        address = local_address(flask.request.environ)
        if address is None or is_loopback_host(address[0]):
            return None
        return flask.Response(REFUSED_PUBLIC, status=403, mimetype="text/plain")

    # First in line: before authentication, layout or callbacks run.
    server.before_request_funcs.setdefault(None, []).insert(0, guard)


def own_base_url(environ: Mapping[str, Any], path_prefix: str = "/") -> str:
    """The URL of this very server for the snapshot browser.

    ``$RECRUITMENT_DASHBOARD_SNAPSHOT_URL`` when set; else ``http://`` + the local address
    of the request's socket (a wildcard bind gives the interface the user came in on).
    Raises ValueError when neither is known (a unix socket without the variable).
    """
    prefix = "/" + path_prefix.strip("/") + "/" if path_prefix.strip("/") else "/"
    configured = os.environ.get(ENV_SNAPSHOT_URL, "").strip()
    if configured:
        return configured.rstrip("/") + prefix
    address = local_address(environ)
    if address is None:
        raise ValueError(
            "the server's own address is unknown (a unix socket?): set "
            f"{ENV_SNAPSHOT_URL}=http://127.0.0.1:PORT to a TCP address of this app, or use "
            "`recruitment-dashboard snapshot --url`"
        )
    host, port = address
    if host.startswith("::ffff:"):
        host = host[len("::ffff:") :]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{prefix}"
