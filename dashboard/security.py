"""Security for the served dashboard: headers, basic auth, /health, and a safe bind.

The dashboard shows recruitment of a *blinded* trial; whoever reaches the port sees
per-site counts. So the server is locked down by default and opening it up is explicit.

API (all the app factory, ``wsgi.py`` and the ``serve`` command need)::

    auth = load_auth()                      # Auth | None, from a file or the environment
    check_bind(host, auth)                  # serve: refuse a public bind without auth
    install_security(app, auth=auth)        # once, after the Dash app is built
    hash_password("s3cret")                 # -> "scrypt:32768:8:1$salt$hex"
    htpasswd_entry("alice", "s3cret")       # -> "alice:scrypt:32768:8:1$salt$hex"

``install_security(app, *, auth)`` adds to ``app.server`` (the Flask server):

* ``GET /health`` → ``{"status": "ok", "version": "<package version>"}`` and nothing
  else: it is public (load balancers probe it without credentials), so it must not
  reveal any trial data, counts or data-dir state.
* Security headers on every response: a Content-Security-Policy (see
  :func:`content_security_policy`), ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``, a minimal
  ``Permissions-Policy``, ``Cross-Origin-Opener-Policy``/``-Resource-Policy: same-origin``
  and ``Cache-Control: no-store`` on everything except static files (page, layout and
  callback responses hold trial data and must not linger in caches).
* With ``auth``: HTTP basic authentication on every route except ``/health`` — the page,
  ``/_dash-*`` (layout, dependencies, callbacks), component suites and assets.

Passwords are stored only as werkzeug hashes (``scrypt:...`` or ``pbkdf2:...``); a
plaintext, bcrypt (``$2y$``), MD5 (``$apr1$``) or ``{SHA}`` entry is refused with
:class:`SecurityConfigError`. Create an entry with::

    recruitment-dashboard passwd alice >> /etc/recruitment-dashboard/htpasswd

and point the server at it (the file wins over the single-user variable)::

    export RECRUITMENT_DASHBOARD_HTPASSWD=/etc/recruitment-dashboard/htpasswd
    export RECRUITMENT_DASHBOARD_AUTH='alice:scrypt:32768:8:1$...'   # one user; single quotes

Why not dash-auth: its ``BasicAuth`` compares plaintext passwords with ``==``, answers a
malformed ``Authorization`` header with a 500, and treats any callback whose ``pathname``
input matches a public route as public — making ``/health`` public would let a crafted
callback request read trial data. The check here is thirty lines, keyed on Flask's
endpoint (not the path), and fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import dash
import flask
from dash import _callback as dash_callback
from werkzeug.security import check_password_hash, generate_password_hash

from . import __version__
from .auth_limits import CheckSlots, FailureLimiter

__all__ = [
    "ENV_AUTH",
    "ENV_HTPASSWD",
    "HEALTH_PATH",
    "Auth",
    "SecurityConfigError",
    "check_bind",
    "content_security_policy",
    "hash_password",
    "htpasswd_entry",
    "install_security",
    "is_loopback_host",
    "load_auth",
    "security_installed",
]

logger = logging.getLogger(__name__)

ENV_HTPASSWD = "RECRUITMENT_DASHBOARD_HTPASSWD"
"""Environment variable naming an htpasswd-style file (``user:<werkzeug hash>`` lines)."""

ENV_AUTH = "RECRUITMENT_DASHBOARD_AUTH"
"""Environment variable holding a single ``user:<werkzeug hash>`` entry."""

HEALTH_PATH = "/health"
HEALTH_ENDPOINT = "recruitment_dashboard_health"
DEFAULT_REALM = "Recruitment dashboard"
_EXTENSION_KEY = "recruitment_dashboard_security"

HOW_TO_HASH = (
    "Create a hashed entry with\n"
    "  recruitment-dashboard passwd USER >> /path/to/htpasswd\n"
    "It prompts for the password and prints 'USER:scrypt:...'. Then either\n"
    f"  export {ENV_HTPASSWD}=/path/to/htpasswd\n"
    "or, for a single user,\n"
    f"  export {ENV_AUTH}='USER:scrypt:...'   (single quotes: the hash contains '$')"
)

# werkzeug's "method$salt$hexdigest" formats: scrypt[:N:r:p] and pbkdf2[:hash[:iterations]].
_WERKZEUG_HASH = re.compile(
    r"^(?P<method>scrypt(?::\d+:\d+:\d+)?|pbkdf2(?::(?P<algo>[a-z0-9_]+)(?::\d+)?)?)"
    r"\$[^$\s]+\$[0-9a-f]+$"
)
_FOREIGN_HASH_HINTS = (
    ("$2", "bcrypt"),
    ("$apr1$", "Apache MD5"),
    ("{SHA}", "unsalted SHA-1"),
    ("$1$", "MD5-crypt"),
    ("$5$", "SHA-256-crypt"),
    ("$6$", "SHA-512-crypt"),
)
_USERNAME = re.compile(r"^[^\s:]+$")


class SecurityConfigError(Exception):
    """The security configuration is unsafe or unreadable; the message says how to fix it."""


# --------------------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    """Hash a password for an htpasswd entry (werkzeug scrypt, salted, constant-time check).

    scrypt is memory-hard, so a leaked htpasswd file is expensive to brute-force.
    """
    if not password:
        raise ValueError("refusing to hash an empty password")
    return generate_password_hash(password, method="scrypt")


def htpasswd_entry(username: str, password: str) -> str:
    """One ``user:<hash>`` line for the htpasswd file or ``RECRUITMENT_DASHBOARD_AUTH``."""
    _validate_username(username, where="username")
    return f"{username}:{hash_password(password)}"


def _validate_username(username: str, *, where: str) -> None:
    if not _USERNAME.match(username or ""):
        raise SecurityConfigError(
            f"{where}: user name {username!r} must be non-empty, without spaces or ':'."
        )


def _validate_hash(username: str, password_hash: str, *, where: str) -> None:
    """Refuse anything that is not a werkzeug hash — above all a plaintext password.

    The value itself is never echoed: if it is a plaintext password it must not end up
    in a log or a terminal scrollback.
    """
    match = _WERKZEUG_HASH.match(password_hash)
    if match and (match["algo"] is None or match["algo"] in hashlib.algorithms_available):
        return
    foreign = next(
        (name for prefix, name in _FOREIGN_HASH_HINTS if password_hash.startswith(prefix)), None
    )
    what = (
        f"is a {foreign} hash, which is not supported"
        if foreign
        else "is not a password hash (plaintext passwords are refused)"
    )
    raise SecurityConfigError(f"{where}: the password of user {username!r} {what}.\n{HOW_TO_HASH}")


# --------------------------------------------------------------------------- Auth
@dataclass(frozen=True, eq=False)
class Auth:
    """Users allowed in, as ``{user: werkzeug hash}``; validated on construction."""

    users: Mapping[str, str]
    realm: str = DEFAULT_REALM
    source: str = field(default="", compare=False)
    """Where the users came from (file path or variable name), for log messages."""

    def __post_init__(self) -> None:
        where = self.source or "Auth"
        if not self.users:
            raise SecurityConfigError(f"{where}: no users defined.\n{HOW_TO_HASH}")
        for username, password_hash in self.users.items():
            _validate_username(username, where=where)
            _validate_hash(username, password_hash, where=where)
        if '"' in self.realm or "\\" in self.realm or not self.realm.isprintable():
            raise SecurityConfigError(f"realm {self.realm!r} must be printable, without quotes")
        object.__setattr__(self, "users", MappingProxyType(dict(self.users)))

    def __repr__(self) -> str:  # hashes stay out of logs and tracebacks
        return f"Auth(users={sorted(self.users)!r}, realm={self.realm!r}, source={self.source!r})"

    def verify(self, username: str, password: str) -> bool:
        """True when the password matches the user's hash.

        An unknown user is checked against a real user's hash (and then refused) so the
        answer takes the same time and does not reveal which user names exist; the hash
        comparison itself is constant-time (``hmac.compare_digest`` inside werkzeug).
        """
        known = username in self.users
        stand_in = self.users[username] if known else next(iter(self.users.values()))
        matches = check_password_hash(stand_in, password)
        return known and matches


def load_auth(
    htpasswd_file: Path | None = None, env: Mapping[str, str] = os.environ
) -> Auth | None:
    """The configured users, or None when no authentication is configured.

    Looked up in this order: ``htpasswd_file`` (a CLI option), ``$RECRUITMENT_DASHBOARD_HTPASSWD``,
    ``$RECRUITMENT_DASHBOARD_AUTH``. Setting both variables is refused rather than guessed.
    A configured but missing, unreadable, empty or plaintext source raises
    :class:`SecurityConfigError`: failing closed beats silently serving without auth.
    """
    file_from_env = env.get(ENV_HTPASSWD, "").strip()
    single_entry = env.get(ENV_AUTH, "").strip()
    if htpasswd_file is None and file_from_env and single_entry:
        raise SecurityConfigError(
            f"Both {ENV_HTPASSWD} and {ENV_AUTH} are set; set only one of them."
        )
    if htpasswd_file is not None or file_from_env:
        return _read_htpasswd(
            Path(htpasswd_file) if htpasswd_file is not None else Path(file_from_env)
        )
    if single_entry:
        username, password_hash = _parse_entry(single_entry, where=f"${ENV_AUTH}")
        return Auth({username: password_hash}, source=f"${ENV_AUTH}")
    return None


def _read_htpasswd(path: Path) -> Auth:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecurityConfigError(
            f"Cannot read htpasswd file {path}: {exc}\n{HOW_TO_HASH}"
        ) from exc
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        username, password_hash = _parse_entry(line, where=where)
        if username in users:
            raise SecurityConfigError(f"{where}: user {username!r} is listed twice.")
        users[username] = password_hash
    if not users:
        raise SecurityConfigError(f"htpasswd file {path} defines no users.\n{HOW_TO_HASH}")
    return Auth(users, source=str(path))


def _parse_entry(entry: str, *, where: str) -> tuple[str, str]:
    username, sep, password_hash = entry.strip().partition(":")
    if not sep:
        raise SecurityConfigError(f"{where}: expected 'USER:HASH'.\n{HOW_TO_HASH}")
    _validate_username(username, where=where)
    _validate_hash(username, password_hash, where=where)
    return username, password_hash


# --------------------------------------------------------------------------- bind
def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (bracketed or IPv4-mapped too).

    Other host names are not resolved: a name may point anywhere, so it counts as public.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_bind(host: str, auth: Auth | None) -> None:
    """Refuse to serve trial data on a non-loopback address without authentication."""
    if auth is not None or is_loopback_host(host):
        return
    raise SecurityConfigError(
        f"Refusing to serve on {host!r} without authentication: anyone who can reach this "
        "address would see the trial's recruitment data.\n"
        "Either serve on 127.0.0.1 (the default; put a reverse proxy in front for remote "
        "access) or configure basic authentication.\n" + HOW_TO_HASH
    )


# --------------------------------------------------------------------------- headers
def content_security_policy(app: dash.Dash) -> str:
    """The CSP for ``app`` as it stands now (inline-script hashes are computed each call).

    * ``script-src 'self' <hashes>``: Dash's bundles come from ``/_dash-component-suites``;
      its inline scripts (the renderer bootstrap and clientside callbacks) are allowed by
      their SHA-256 (``app.csp_hashes()``), so no ``'unsafe-inline'``. No ``'unsafe-eval'``
      either: dash-renderer, scatter/scattergeo and AG Grid do not eval. plotly.js only
      evals to compile WebGL shaders for its regl traces (scattergl, splom, parcoords,
      scattermapbox...); add ``'unsafe-eval'`` only if the dashboard ever uses one.
    * ``style-src 'self' 'unsafe-inline'``: Dash 4's dcc components inject their CSS as
      ``<style>`` elements at run time (~40 on a page with a Graph and a Dropdown), plotly.js
      adds ``plotly.js-style-global`` and inserts rules into it, and AG Grid's theming API
      injects its theme (~80 kB) the same way; none of them can carry a hash or nonce.
      Without it the page loses its layout. Styles cannot run script, so this is the
      relaxation with the least risk.
    * ``img-src 'self' data: blob:``: plotly's modebar icons and "download plot as PNG"
      (data: URIs, blob: objects); Bootstrap's and AG Grid's icons are data: SVGs in CSS.
    * ``font-src 'self'``: fonts only from ``assets/`` (AG Grid's *legacy* CSS themes,
      not used here, would need ``data:``).
    * ``connect-src 'self'``: callbacks and plotly's topojson fetches stay on this
      server — the map must set ``config={"topojsonURL": app.get_asset_url("topojson/")}``
      (plotly's default is cdn.plot.ly, which this blocks).
    """
    directives: dict[str, list[str]] = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *app.csp_hashes()],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


_STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _is_static_endpoint(endpoint: str | None) -> bool:
    """Library bundles and assets: no trial data, so they may keep Dash's cache headers."""
    if endpoint is None:
        return False
    return (
        endpoint == "static"
        or endpoint.endswith(".static")
        or "/_dash-component-suites/" in endpoint
    )


# --------------------------------------------------------------------------- install
class _VerifiedCredentials:
    """Remembers recently verified ``Authorization`` headers, keyed by a keyed hash.

    Basic auth sends the password with every request and a scrypt check costs ~0.1 s;
    a page load makes dozens of requests. Only successes are remembered (a wrong
    password always pays the full check), the key is an HMAC with a per-process secret
    (the header itself is not kept), and the set is small and lost on restart.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def _digest(self, header: str) -> bytes:
        return hmac.new(
            self._key, header.encode("utf-8", "surrogateescape"), hashlib.sha256
        ).digest()

    def __contains__(self, header: str) -> bool:
        digest = self._digest(header)
        with self._lock:
            if digest in self._entries:
                self._entries.move_to_end(digest)
                return True
        return False

    def add(self, header: str) -> None:
        digest = self._digest(header)
        with self._lock:
            self._entries[digest] = None
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


def _refusal(text: str, status: int, retry_after: int) -> flask.Response:
    return flask.Response(
        text, status=status, headers={"Retry-After": str(retry_after)}, mimetype="text/plain"
    )


def security_installed(app: dash.Dash) -> bool:
    """True when :func:`install_security` has already run on ``app``."""
    return _EXTENSION_KEY in app.server.extensions


def install_security(
    app: dash.Dash,
    *,
    auth: Auth | None,
    health_check: Callable[[], str | None] | None = None,
) -> None:
    """Add /health, security headers and (with ``auth``) basic auth to ``app.server``.

    Call once per app, after ``dash.Dash(...)``; callbacks (clientside ones included)
    may be registered before or after, because the CSP hashes are computed per response.
    Do not also set Dash's own ``health_endpoint="health"``: it would shadow this one.
    ``health_check`` returns None when healthy, else a reason safe to publish.
    """
    server = app.server
    if not isinstance(server, flask.Flask):
        raise TypeError("install_security needs a Dash app served by Flask")
    if security_installed(app):
        raise RuntimeError("install_security has already run on this app")
    server.extensions[_EXTENSION_KEY] = {"auth": auth}

    def health() -> flask.Response:
        # Public by design: status and version only, never counts. ``health_check`` says
        # whether the data dir loads (503 with a reason naming no path or cell value).
        reason = health_check() if health_check is not None else None
        if reason is not None:
            response = flask.jsonify(status="unavailable", reason=reason, version=__version__)
            response.status_code = 503
            return response
        return flask.jsonify(status="ok", version=__version__)

    server.add_url_rule(HEALTH_PATH, endpoint=HEALTH_ENDPOINT, view_func=health, methods=["GET"])

    if auth is not None:
        verified = _VerifiedCredentials()
        challenge = f'Basic realm="{auth.realm}", charset="UTF-8"'
        failures = FailureLimiter()
        slots = CheckSlots()
        server.extensions[_EXTENSION_KEY].update(failures=failures, slots=slots)

        def require_auth() -> flask.Response | None:
            # Keyed on the matched endpoint, not the path, so "/health/", "//health" or a
            # callback body cannot borrow /health's exemption; unmatched URLs need auth too.
            if flask.request.endpoint == HEALTH_ENDPOINT:
                return None
            header = flask.request.headers.get("Authorization", "")
            if header and header in verified:
                return None
            try:
                credentials = flask.request.authorization
            except (ValueError, UnicodeError):  # raw non-ASCII bytes: not credentials
                credentials = None
            if credentials is not None and credentials.type == "basic":
                # A wrong password costs a scrypt check: limited per client and in number.
                client = flask.request.remote_addr or "unknown"
                wait = failures.retry_after(client)
                if wait:
                    return _refusal("Too many failed logins; try again later.\n", 429, wait)
                with slots.slot() as got_slot:
                    if not got_slot:
                        return _refusal("The server is busy; try again shortly.\n", 503, 5)
                    username, password = credentials.username, credentials.password
                    ok = (
                        bool(username)
                        and password is not None
                        and username is not None
                        and auth.verify(username, password)
                    )
                if ok:
                    verified.add(header)
                    return None
                failures.failed(client)
            if credentials is not None:
                logger.warning(
                    "Refused credentials for user %r from %s",
                    credentials.username,
                    flask.request.remote_addr,
                )
            return flask.Response(
                "Authentication required.\n",
                status=401,
                headers={"WWW-Authenticate": challenge},
                mimetype="text/plain",
            )

        server.before_request(require_auth)

    policy_cache: dict[tuple, str] = {}

    def current_policy() -> str:
        # Inline scripts are only ever appended (clientside callbacks registered later):
        # recompute the hashes when their count changes, not on every response.
        key = (len(app._inline_scripts), len(dash_callback.GLOBAL_INLINE_SCRIPTS), app.renderer)
        policy = policy_cache.get(key)
        if policy is None:
            policy = content_security_policy(app)
            policy_cache.clear()
            policy_cache[
                (len(app._inline_scripts), len(dash_callback.GLOBAL_INLINE_SCRIPTS), app.renderer)
            ] = policy
        return policy

    def add_security_headers(response: flask.Response) -> flask.Response:
        response.headers["Content-Security-Policy"] = current_policy()
        for name, value in _STATIC_HEADERS.items():
            response.headers[name] = value
        if _is_static_endpoint(flask.request.endpoint) and response.status_code < 400:
            if auth is not None and response.cache_control.public:
                # Behind auth, shared caches must not hand files to anonymous users.
                response.cache_control.public = False
                response.cache_control.private = True
        else:
            # Page, layout, dependencies and callback responses carry trial data.
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response

    server.after_request(add_security_headers)
