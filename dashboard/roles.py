"""Who may change the data from the browser, and from where.

Two roles. **Editors** may upload an export, confirm or cancel it and edit a site's
activation date or target on the Data page; **viewers** only look. With basic auth on,
the editors are the users named by ``serve --editors alice,bob`` or
``$RECRUITMENT_DASHBOARD_EDITORS`` (read by :mod:`dashboard.wsgi` too, through
:func:`dashboard.app.create_app`); every other authenticated user is a viewer, so a
dashboard served with auth and no editor list is read-only in the browser. Without auth
the app only listens on loopback (:mod:`dashboard.bind_guard`): whoever reaches it is the
person at the machine, who can already run the CLI, so the local user is an editor and the
audit trail names the OS user.

The role is decided on the server for every state-changing request
(:func:`require_editor`): a hidden button is not access control. Browsers resend basic-auth
credentials on requests another site makes them send, so every state-changing request must
also come from the app's own origin (:func:`install_origin_check`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import flask

from .datadir import os_user

ENV_EDITORS = "RECRUITMENT_DASHBOARD_EDITORS"
_CONFIG_KEY = "RECRUITMENT_DASHBOARD_ROLES"
#: Methods that never change state (a GET must not either: every change is a POST).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAllowed(Exception):
    """A viewer (or a foreign page) asked for a change; nothing was done."""


def parse_editors(text: str | None) -> frozenset[str]:
    """``"alice, bob"`` → ``{"alice", "bob"}`` (commas or spaces; blanks ignored)."""
    if not text:
        return frozenset()
    return frozenset(name for name in text.replace(",", " ").split() if name)


def editors_from_environment(env: Mapping[str, str] = os.environ) -> frozenset[str]:
    return parse_editors(env.get(ENV_EDITORS))


@dataclass(frozen=True)
class Roles:
    """The role rule of one app: ``auth_on`` (basic auth configured) and its editors."""

    auth_on: bool
    editors: frozenset[str] = frozenset()

    def is_editor(self, user: str | None) -> bool:
        if not self.auth_on:
            return True
        return user is not None and user in self.editors


@dataclass(frozen=True)
class Person:
    """The person behind the current request: the name the audit trail records."""

    name: str
    editor: bool


def install_roles(server: flask.Flask, *, auth_on: bool, editors: Iterable[str]) -> Roles:
    roles = Roles(auth_on=auth_on, editors=frozenset(editors))
    server.config[_CONFIG_KEY] = roles
    return roles


def current_person() -> Person:
    """Who sent the current request (call inside a request of an app with roles installed).

    With auth, the basic-auth user name (the security hook has verified the password before
    any view or callback runs); without auth, the OS user running the server.
    """
    if not flask.has_request_context():  # a layout built outside a request: read-only
        return Person(name="nobody", editor=False)
    roles: Roles = flask.current_app.config.get(_CONFIG_KEY) or Roles(auth_on=True)
    if roles.auth_on:
        try:
            credentials = flask.request.authorization
        except (ValueError, UnicodeError):
            credentials = None
        name = credentials.username if credentials is not None else None
        return Person(name=name or "anonymous", editor=roles.is_editor(name))
    return Person(name=os_user(), editor=True)


def require_editor() -> Person:
    """The current person, if an editor from this app's own origin; else :class:`NotAllowed`."""
    person = current_person()
    if not person.editor:
        raise NotAllowed(f"{person.name} is a viewer: only editors can change the data")
    if not same_origin(flask.request):
        raise NotAllowed("refused: the request did not come from this dashboard's own page")
    return person


def same_origin(request: flask.Request) -> bool:
    """False when the browser says the request comes from another site.

    Browsers send ``Origin`` on every POST made by script or form (``null`` when the page's
    referrer policy hides it, which then cannot be told apart from a foreign page, so it is
    refused); ``Referer`` is the fallback. A request with neither did not come from a page
    (a script or curl with the credentials, which needs no forgery) and passes. The host is
    compared, not the scheme: a TLS-terminating proxy makes the app see http while the
    browser says https. A proxy that rewrites ``Host`` (nginx's default) must pass the
    browser's host on, as ``Host`` or ``X-Forwarded-Host``; a page of another site cannot
    add that header to a request (a custom header needs a CORS preflight, which fails).
    """
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if not referer:
            return True
        origin = referer
    if origin.strip().lower() == "null":
        return False
    try:
        host = urlsplit(origin).netloc
    except ValueError:
        return False
    own = {(request.host or "").lower()}
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()
    if forwarded:
        own.add(forwarded)
    return bool(host) and host.lower() in own


def install_origin_check(server: flask.Flask, prefix: str) -> None:
    """Refuse (403) every POST under ``prefix`` (the Data page: its upload route and its
    callbacks) that a page of another site made the browser send, before any view runs.

    The dashboard's own callbacks only read, so they are left alone: a proxy that hides
    the browser's host then breaks the Data page's changes, with this message, but not the
    dashboard.
    """

    def check_origin() -> flask.Response | None:
        if flask.request.method in SAFE_METHODS or not flask.request.path.startswith(prefix):
            return None
        if same_origin(flask.request):
            return None
        return flask.Response(
            "Refused: this request did not come from the dashboard's own page (behind a "
            "proxy, pass the browser's Host or X-Forwarded-Host on).\n",
            status=403,
            mimetype="text/plain",
        )

    server.before_request(check_origin)
