"""Mailing the weekly pack, against a real SMTP server on loopback (tests/smtp_server.py)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.mail import (
    MailError,
    SmtpSettings,
    mail_pack,
    parse_addresses,
    smtp_settings,
)
from dashboard.store import load_trial_data
from tests.smtp_server import free_port, smtp_server

CHROMIUM = Path("/usr/bin/chromium")
AS_OF = dt.date(2025, 11, 20)  # the shipped demo's data cut-off
TO = "steering@example.org"


def hand_randomized(as_of: dt.date) -> int:
    """Randomized by ``as_of``, counted from the CSV with the csv module (not the product)."""
    with (SHIPPED_DATA_DIR / "enrollment.csv").open(encoding="utf-8") as fh:
        return sum(
            1
            for row in csv.DictReader(fh)
            if row["randomization_date"] and row["randomization_date"] <= as_of.isoformat()
        )


@pytest.fixture(scope="module")
def data():
    return load_trial_data(SHIPPED_DATA_DIR)


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    path = tmp_path / "NCT04789850-2025-11-20.pdf"
    path.write_bytes(b"%PDF-1.4\n% not a real pack, the bytes are what is checked\n")
    return path


def settings(port: int, **kw) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, timeout=10, **kw)


# --------------------------------------------------------------------------- settings
def test_settings_come_from_the_environment_and_the_password_from_a_file(tmp_path: Path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret: with spaces \n", encoding="utf-8")
    got = smtp_settings(
        {
            "RECRUITMENT_DASHBOARD_SMTP_HOST": "mail.example.org",
            "RECRUITMENT_DASHBOARD_SMTP_PORT": "587",
            "RECRUITMENT_DASHBOARD_SMTP_USER": "dashboard@example.org",
            "RECRUITMENT_DASHBOARD_SMTP_PASSWORD_FILE": str(secret),
            "RECRUITMENT_DASHBOARD_SMTP_TLS": "required",
        }
    )
    assert (got.host, got.port, got.user, got.tls) == (
        "mail.example.org",
        587,
        "dashboard@example.org",
        "required",
    )
    assert got.password == "s3cret: with spaces "
    assert "s3cret" not in repr(got)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "RECRUITMENT_DASHBOARD_SMTP_HOST is not set"),
        ({"RECRUITMENT_DASHBOARD_SMTP_HOST": "h", "RECRUITMENT_DASHBOARD_SMTP_PORT": "x"}, "PORT"),
        ({"RECRUITMENT_DASHBOARD_SMTP_HOST": "h", "RECRUITMENT_DASHBOARD_SMTP_TLS": "yes"}, "TLS"),
        ({"RECRUITMENT_DASHBOARD_SMTP_HOST": "h", "RECRUITMENT_DASHBOARD_SMTP_USER": "u"}, "both"),
        (
            {
                "RECRUITMENT_DASHBOARD_SMTP_HOST": "h",
                "RECRUITMENT_DASHBOARD_SMTP_USER": "u",
                "RECRUITMENT_DASHBOARD_SMTP_PASSWORD_FILE": "/nonexistent/pw",
            },
            "cannot read /nonexistent/pw",
        ),
    ],
)
def test_unusable_settings_are_named(env, needle):
    with pytest.raises(MailError, match=re.escape(needle)):
        smtp_settings(env)


def test_addresses_are_parsed_and_malformed_ones_refused():
    assert parse_addresses("a@x.org, Chair <b@y.org>") == ["a@x.org", "b@y.org"]
    for bad in ("nobody", "a@x.org\r\nBcc: evil@z.org", "a@@x"):
        with pytest.raises(MailError):
            parse_addresses(bad)


# --------------------------------------------------------------------------- sending
def test_one_message_to_the_address_naming_the_trial_with_the_pack(data, pack):
    with smtp_server() as (port, server):
        sent = mail_pack(data, AS_OF, pack, [TO], sender="pm@example.org", settings=settings(port))
    assert len(server.delivered) == 1
    got = server.delivered[0]
    assert got.rcpt_tos == [TO] and got.mail_from == "pm@example.org"
    subject = str(got.message["Subject"]).strip()  # a folded header unfolds with a space
    assert subject == sent.subject
    assert re.fullmatch(
        rf"\[DEMO\] SCLERITA 2025-11-20: {hand_randomized(AS_OF)}/74 randomized, "
        r"P\(74 by 2026-02-28\) (< 1|> 99|\d{1,3}) %",
        subject,
    ), subject
    body = got.message.get_body(("plain",)).get_content()
    assert "This week (2025-11-14 – 2025-11-20)" in body
    assert "DEMO" in body
    (attachment,) = list(got.message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == pack.name
    assert attachment.get_content() == pack.read_bytes()
    assert not got.tls  # this server offers no STARTTLS (and TLS is not required)


def test_the_weeks_randomizing_sites_are_in_the_body(data, pack):
    # Hand-picked from enrollment.csv: randomized in (2025-11-13, 2025-11-20].
    with (SHIPPED_DATA_DIR / "enrollment.csv").open(encoding="utf-8") as fh:
        week = [
            r["site_id"]
            for r in csv.DictReader(fh)
            if "2025-11-13" < (r["randomization_date"] or "") <= "2025-11-20"
        ]
    names = {s.site_id: s.facility for s in data.sites.itertuples()}
    with smtp_server() as (port, server):
        mail_pack(data, AS_OF, pack, [TO], settings=settings(port))
    body = server.delivered[0].message.get_body(("plain",)).get_content()
    assert f"+{len(week)} randomized" in body
    for site_id in set(week):
        assert names[site_id] in body


def test_a_refused_recipient_is_a_failure_naming_it(data, pack):
    with smtp_server(refuse={"gone@example.org"}) as (port, server):
        with pytest.raises(MailError, match=r"refused every recipient: gone@example.org \(550"):
            mail_pack(data, AS_OF, pack, ["gone@example.org"], settings=settings(port))
        assert server.delivered == []
        with pytest.raises(MailError, match=r"refused gone@example.org .*sent only to " + TO):
            mail_pack(data, AS_OF, pack, [TO, "gone@example.org"], settings=settings(port))
        assert [d.rcpt_tos for d in server.delivered] == [[TO]]


def test_server_down_is_a_failure_saying_so(data, pack):
    port = free_port()  # nothing listens there
    with pytest.raises(MailError, match=rf"cannot reach the SMTP server 127.0.0.1:{port}"):
        mail_pack(data, AS_OF, pack, [TO], settings=settings(port))


def test_tls_required_but_not_offered_sends_nothing(data, pack):
    with smtp_server() as (port, server):
        with pytest.raises(MailError, match="does not offer STARTTLS.*TLS=required"):
            mail_pack(data, AS_OF, pack, [TO], settings=settings(port, tls="required"))
        assert server.delivered == []


def test_starttls_when_offered_with_login(data, pack, tmp_path, monkeypatch):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # the client trusts this CA only
    users = {"dashboard": "pw-from-file"}
    with smtp_server(tls_context=server_context, users=users) as (port, server):
        sent = mail_pack(
            data,
            AS_OF,
            pack,
            [TO],
            settings=settings(port, tls="required", user="dashboard", password="pw-from-file"),
        )
        assert sent.tls
        assert [(d.tls, d.login) for d in server.delivered] == [(True, "dashboard")]
        with pytest.raises(MailError, match="refused the login of dashboard"):
            mail_pack(
                data,
                AS_OF,
                pack,
                [TO],
                settings=settings(port, user="dashboard", password="wrong"),
            )
    assert len(server.delivered) == 1


def test_untrusted_certificate_is_a_failure(data, pack, tmp_path, monkeypatch):
    trustme = pytest.importorskip("trustme")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    with smtp_server(tls_context=server_context) as (port, server):
        with pytest.raises(MailError, match="TLS with 127.0.0.1"):
            mail_pack(data, AS_OF, pack, [TO], settings=settings(port))
        assert server.delivered == []


# --------------------------------------------------------------------------- the command
needs_browser = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("pdftotext") is None,
    reason="needs Debian chromium and poppler-utils (pdftotext)",
)


def copy_shipped(target: Path) -> Path:
    shutil.copytree(
        SHIPPED_DATA_DIR,
        target,
        ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl"),
    )
    return target


def smtp_env(port: int) -> dict[str, str]:
    return {
        "RECRUITMENT_DASHBOARD_SMTP_HOST": "127.0.0.1",
        "RECRUITMENT_DASHBOARD_SMTP_PORT": str(port),
    }


@needs_browser
@pytest.mark.browser
def test_snapshot_mail_to_delivers_the_pdf_naming_every_site(tmp_path: Path):
    from pypdf import PdfReader

    data_dir = copy_shipped(tmp_path / "data")
    out = tmp_path / "week.pdf"
    with smtp_server() as (port, server):
        result = CliRunner().invoke(
            main,
            ["snapshot", "--data-dir", str(data_dir), "--out", str(out), "--mail-to", TO],
            env=smtp_env(port),
        )
    assert result.exit_code == 0, result.output
    assert f"Mailed week.pdf to {TO}" in result.output
    assert len(server.delivered) == 1
    got = server.delivered[0]
    assert got.rcpt_tos == [TO]
    assert str(got.message["Subject"]).strip().startswith("[DEMO] SCLERITA 2025-11-20: ")
    (attachment,) = list(got.message.iter_attachments())
    received = tmp_path / "received.pdf"
    received.write_bytes(attachment.get_content())
    assert received.read_bytes() == out.read_bytes()
    assert 1 <= len(PdfReader(received).pages) <= 3
    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(received), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    flat = " ".join(text.split())
    for site in load_trial_data(data_dir).sites.itertuples():
        assert f"{site.site_id} {site.facility} {site.city}" in flat, site.facility


@needs_browser
@pytest.mark.browser
def test_snapshot_mail_failure_exits_nonzero_and_keeps_the_pdf(tmp_path: Path):
    data_dir = copy_shipped(tmp_path / "data")
    out = tmp_path / "week.pdf"
    port = free_port()  # server down
    result = CliRunner().invoke(
        main,
        ["snapshot", "--data-dir", str(data_dir), "--out", str(out), "--mail-to", TO],
        env=smtp_env(port),
    )
    assert result.exit_code == 1
    assert f"Mail failed: cannot reach the SMTP server 127.0.0.1:{port}" in result.output
    assert f"The snapshot is on disk: {out}" in result.output
    assert out.read_bytes().startswith(b"%PDF")


def test_snapshot_mail_setup_errors_fail_before_rendering(tmp_path: Path):
    out = tmp_path / "week.pdf"
    result = CliRunner().invoke(
        main,
        ["snapshot", "--out", str(out), "--mail-to", TO],
        env={"RECRUITMENT_DASHBOARD_SMTP_HOST": ""},
    )
    assert result.exit_code == 2
    assert "RECRUITMENT_DASHBOARD_SMTP_HOST is not set" in result.output
    assert not out.exists()
    result = CliRunner().invoke(main, ["snapshot", "--out", str(out), "--mail-to", "nobody"])
    assert result.exit_code == 2 and "Not a mail address: nobody" in result.output
