"""Mail step: the weekly steering-committee pack, sent by SMTP (standard library only).

``recruitment-dashboard snapshot --mail-to ADDR[,ADDR…]`` writes the PDF (or PNG) first,
then hands it to the SMTP server named by the environment — never by the command line,
which ``ps`` and shell histories show to others:

- ``RECRUITMENT_DASHBOARD_SMTP_HOST`` (required) and ``_PORT`` (default 25);
- ``RECRUITMENT_DASHBOARD_SMTP_USER`` and ``_PASSWORD_FILE``: a file holding the password
  (one line), read at send time;
- ``RECRUITMENT_DASHBOARD_SMTP_TLS``: ``auto`` (default: STARTTLS whenever the server
  offers it) or ``required`` (no STARTTLS, no mail). A password is never sent over a
  connection without TLS, except to a server on this machine (loopback).

The server's certificate is checked against the system's CA store (``SSL_CERT_FILE``
names another bundle, e.g. a hospital's private CA).

The subject carries the trial, the as-of date and the headline (randomized / target and
the chance of reaching the target by the planned completion), so the committee can read
the week from its inbox; the body repeats the week's changes in plain text. A failure
(server down, recipient refused, TLS missing) raises :class:`MailError` with the reason;
the pack stays on disk either way.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from .metrics import WeekSite
from .store import TrialData

ENV = "RECRUITMENT_DASHBOARD_SMTP_"
DEFAULT_PORT = 25
DEFAULT_TIMEOUT_S = 30.0
TLS_MODES = ("auto", "required")

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+$")


class MailError(RuntimeError):
    """The pack could not be mailed; the message says why (never the password)."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send, from the environment."""

    host: str
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: str = "auto"
    timeout: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class MailResult:
    """What the server accepted."""

    recipients: list[str]
    subject: str
    tls: bool
    attachment: Path


def smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The SMTP settings of ``RECRUITMENT_DASHBOARD_SMTP_*``; :class:`MailError` if unusable.

    Checked before the snapshot is rendered, so a cron job with a typo fails in a second
    and says which variable to fix.
    """
    env = os.environ if environ is None else environ
    host = (env.get(ENV + "HOST") or "").strip()
    if not host:
        raise MailError(f"{ENV}HOST is not set: name the SMTP server to send through.")
    port_text = (env.get(ENV + "PORT") or str(DEFAULT_PORT)).strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MailError(f"{ENV}PORT={port_text!r} is not a TCP port number.")
    tls = (env.get(ENV + "TLS") or "auto").strip().lower()
    if tls not in TLS_MODES:
        raise MailError(f"{ENV}TLS={tls!r}: use one of {', '.join(TLS_MODES)}.")
    user = (env.get(ENV + "USER") or "").strip() or None
    password_file = (env.get(ENV + "PASSWORD_FILE") or "").strip() or None
    if bool(user) != bool(password_file):
        raise MailError(
            f"Set both {ENV}USER and {ENV}PASSWORD_FILE (a file holding the password), or neither."
        )
    password = None
    if password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise MailError(
                f"{ENV}PASSWORD_FILE: cannot read {password_file}: {exc.strerror}"
            ) from exc
        if not password:
            raise MailError(f"{ENV}PASSWORD_FILE: {password_file} is empty.")
    return SmtpSettings(host=host, port=int(port_text), user=user, password=password, tls=tls)


def parse_addresses(value: str) -> list[str]:
    """``a@x.org, b@y.org`` (or ``Name <a@x.org>``) → plain addresses; MailError if malformed."""
    if "\n" in value or "\r" in value:
        raise MailError("Mail addresses must not contain line breaks.")
    addresses = [addr for _, addr in getaddresses([value]) if addr]
    bad = [a for a in addresses if not _ADDRESS.match(a)]
    if bad or not addresses:
        shown = ", ".join(bad) if bad else repr(value)
        raise MailError(f"Not a mail address: {shown}")
    return addresses


def default_sender(settings: SmtpSettings) -> str:
    """The SMTP user when it is an address, else ``recruitment-dashboard@<this host>``."""
    if settings.user and _ADDRESS.match(settings.user):
        return settings.user
    return f"recruitment-dashboard@{socket.getfqdn() or 'localhost'}"


# --------------------------------------------------------------------------- content
def _one_line(text: str) -> str:
    """Registry text in a header: one line (a newline there would be a header injection)."""
    return " ".join(str(text).split())


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else ("0" if n == 0 else f"−{-n}")


def headline(data: TrialData, numbers: Any) -> str:
    """ "SCLERITA 2025-11-20: 52/74 randomized, P(74 by 2026-02-28) < 1 %" (DEMO-marked).

    The trial's name is the registry record's acronym (its NCT id when it has none).
    """
    from .page.wording import probability_text

    trial = data.trial
    name = _one_line(trial.acronym or trial.nct_id)
    text = (
        f"{name} {numbers.as_of.isoformat()}: {numbers.summary.randomized}/{trial.target} "
        "randomized"
    )
    planned = trial.planned_completion_date.isoformat()
    result = numbers.forecast
    if result is not None:
        p = result["poisson_gamma"]["probability_by"].get(planned)
        if p is not None:
            text += f", P({trial.target} by {planned}) {probability_text(p)}"
    return f"[DEMO] {text}" if data.synthetic else text


def _site(entry: WeekSite) -> str:
    return f"{entry.facility}, {entry.city}" if entry.city else str(entry.facility)


def body_text(data: TrialData, numbers: Any, attachment: Path, pages: int | None) -> str:
    """The mail body: where the trial stands and the week's changes, in plain text."""
    from . import __version__
    from .page.wording import probability_text, status_change_text, week_range_text

    trial = data.trial
    summary = numbers.summary
    week = numbers.week
    lines = [
        f"{trial.acronym or trial.nct_id} ({trial.nct_id}) — {trial.title}",
        f"As of {numbers.as_of.isoformat()} · data cut-off {data.data_cutoff.isoformat()}",
    ]
    if data.synthetic:
        lines.append("DEMO: synthetic data for demonstration, not the trial's enrollment.")
    lines.append("")
    pct = summary.percent_of_target
    lines.append(
        f"{summary.randomized} / {trial.target} randomized"
        + (f" ({pct:.1f} %)" if pct is not None else "")
        + f", {summary.screened} screened ({summary.screen_failed} screen failures)."
    )
    result = numbers.forecast
    if result is not None:
        pg = result["poisson_gamma"]
        planned = trial.planned_completion_date.isoformat()
        p = pg["probability_by"].get(planned)
        if p is not None:
            lines.append(f"P({trial.target} by {planned}): {probability_text(p)}.")
        if result.get("target_reached_date"):
            lines.append(f"Target reached on {result['target_reached_date']}.")
        elif pg.get("median_target_date"):
            lines.append(f"Expected date for {trial.target} (median): {pg['median_target_date']}.")
    elif numbers.forecast_error:
        lines.append(f"Forecast unavailable ({numbers.forecast_error}).")
    lines += ["", f"This week ({week_range_text(week, numbers.as_of)}):"]
    lines.append(
        f"  {_signed(week.randomized)} randomized, {_signed(week.screened)} screened, "
        f"{_signed(week.sites_enrolling)} sites enrolling, "
        f"{_signed(week.sites_recruiting)} sites activated"
    )
    groups = [
        (
            "Randomized at",
            [f"{_site(s)} +{s.randomized}" for s in week.sites_randomizing_in_week],
        ),
        ("Activated", [_site(s) for s in week.sites_activated_in_week]),
        (
            "Registry status changed",
            [status_change_text(e) for e in week.status_changes_in_week],
        ),
    ]
    for label, items in groups:
        if items:
            lines.append(f"  {label}:")
            lines += [f"    - {item}" for item in items]
    if not any(items for _, items in groups) and not any(
        (week.randomized, week.screened, week.sites_enrolling, week.sites_recruiting)
    ):
        lines.append("  No change this week.")
    size = f", {pages} pages" if pages else ""
    lines += [
        "",
        f"Attached: {attachment.name}{size} — the dashboard as of {numbers.as_of.isoformat()}.",
        "",
        "-- ",
        f"recruitment-dashboard {__version__} · blinded: no per-arm data.",
    ]
    return "\n".join(_one_line(line) if i < 2 else line for i, line in enumerate(lines)) + "\n"


def build_message(
    data: TrialData,
    numbers: Any,
    attachment: Path,
    recipients: list[str],
    sender: str,
    pages: int | None = None,
) -> EmailMessage:
    """The message: subject, plain-text body, and the snapshot as attachment."""
    message = EmailMessage()
    message["Subject"] = headline(data, numbers)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message.set_content(body_text(data, numbers, attachment, pages))
    subtype = "pdf" if attachment.suffix.lower() == ".pdf" else "png"
    maintype = "application" if subtype == "pdf" else "image"
    message.add_attachment(
        attachment.read_bytes(), maintype=maintype, subtype=subtype, filename=attachment.name
    )
    return message


# --------------------------------------------------------------------------- sending
def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def send_message(message: EmailMessage, settings: SmtpSettings) -> bool:
    """Send through the server; True when the session was encrypted (STARTTLS).

    Every recipient must be accepted: a partly refused message is a failure too (the
    committee member left out would not know), and the error names who got it.
    """
    where = f"{settings.host}:{settings.port}"
    tls = False
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
                tls = True
            elif settings.tls == "required":
                raise MailError(
                    f"{where} does not offer STARTTLS and {ENV}TLS=required: nothing sent."
                )
            if settings.user:
                if not tls and not _is_loopback(settings.host):
                    raise MailError(
                        f"{where} offers no STARTTLS: refusing to send the password of "
                        f"{settings.user} unencrypted; nothing sent."
                    )
                smtp.login(settings.user, settings.password or "")
            refused = smtp.send_message(message)
    except MailError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"{where} refused every recipient: {_refusals(exc.recipients)}") from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"{where} refused the login of {settings.user}: {exc.smtp_code} {_text(exc.smtp_error)}"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}") from exc
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise MailError(f"TLS with {where} failed: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise MailError(f"SMTP with {where} failed: {exc}") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise MailError(f"cannot reach the SMTP server {where}: {reason}") from exc
    if refused:
        accepted = [a for a in _recipients(message) if a not in refused]
        raise MailError(
            f"{where} refused {_refusals(refused)}; sent only to {', '.join(accepted)}."
        )
    return tls


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusals(refused: Mapping[str, tuple[int, Any]]) -> str:
    return "; ".join(f"{addr} ({code} {_text(msg)})" for addr, (code, msg) in refused.items())


def _recipients(message: EmailMessage) -> list[str]:
    return [addr for _, addr in getaddresses(message.get_all("To", []))]


def mail_pack(
    data: TrialData,
    as_of: dt.date,
    attachment: Path,
    recipients: list[str],
    *,
    sender: str | None = None,
    settings: SmtpSettings | None = None,
    pages: int | None = None,
) -> MailResult:
    """Count the week (the page's own numbers), build the message, send it."""
    from .page.view_model import page_numbers

    settings = settings or smtp_settings()
    numbers = page_numbers(data, as_of)
    message = build_message(
        data, numbers, attachment, recipients, sender or default_sender(settings), pages
    )
    tls = send_message(message, settings)
    return MailResult(
        recipients=list(recipients), subject=str(message["Subject"]), tls=tls, attachment=attachment
    )


__all__ = [
    "MailError",
    "MailResult",
    "SmtpSettings",
    "body_text",
    "build_message",
    "headline",
    "mail_pack",
    "parse_addresses",
    "send_message",
    "smtp_settings",
]
