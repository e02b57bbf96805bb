"""A real SMTP server on loopback (aiosmtpd) that records what it was handed.

The mail step is tested against the protocol, not a mock: the server answers EHLO, offers
STARTTLS when given a TLS context, refuses the recipients it is told to refuse, and keeps
every delivered message with its envelope.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class Recorder:
    """aiosmtpd handler: refuse some recipients, keep every message."""

    refuse: set[str] = field(default_factory=set)
    delivered: list[Delivered] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        login = session.auth_data.login if session.auth_data else None
        self.delivered.append(
            Delivered(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=message_from_bytes(envelope.original_content, policy=policy.default),
                tls=session.ssl is not None,
                login=login.decode() if isinstance(login, bytes) else login,
            )
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _authenticator(users: dict[str, str]):
    def check(server, session, envelope, mechanism, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if users.get(user) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    return check


@contextmanager
def smtp_server(
    *,
    refuse: set[str] | None = None,
    tls_context: ssl.SSLContext | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[tuple[int, Recorder]]:
    """Serve on 127.0.0.1:<free port>; yield (port, recorder)."""
    recorder = Recorder(refuse=set(refuse or ()))
    kwargs: dict[str, Any] = {}
    if tls_context is not None:
        kwargs["tls_context"] = tls_context
    if users is not None:
        kwargs["authenticator"] = _authenticator(users)
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = tls_context is not None
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()
