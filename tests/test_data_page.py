"""The Data page's server side: roles, origin check, held uploads, site edits, audit trail.

Driven through the real app's HTTP interface (Flask's test client) and the modules it
calls; the browser flow itself is in tests/browser/test_data_page.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from base64 import b64encode
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths, read_import_log
from dashboard.pending_uploads import EXPIRY_SECONDS, PendingUploads, UploadDirError
from dashboard.roles import Roles, parse_editors
from dashboard.security import Auth, hash_password
from dashboard.site_edits import EditRefused, check_activation, check_target, edit_site

PASSWORDS = {"alice": "alice-pw-8472", "bob": "bob-pw-1935"}
HEADER = "N° patient;Centre;Date de screening;Date de randomisation;Statut\n"


@pytest.fixture(scope="module")
def auth() -> Auth:
    return Auth({user: hash_password(pw) for user, pw in PASSWORDS.items()})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "registry").mkdir(parents=True)
    shutil.copy(SHIPPED_DATA_DIR / "registry" / "NCT04789850.json", root / "registry")
    for name in ("geocodes.csv", "trial.toml", "sites.csv"):
        shutil.copy(SHIPPED_DATA_DIR / name, root / name)
    (root / "enrollment.csv").write_text(
        "patient_id,site_id,screening_date,randomization_date,status\n"
        "PX-1,32,2023-03-01,2023-03-10,COMPLETED\n",
        encoding="utf-8",
    )
    meta = {"registry_file": "NCT04789850.json", "synthetic": False, "data_cutoff": "2024-06-30"}
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


def _client(data_dir: Path, tmp_path: Path, auth: Auth | None, editors=("alice",)):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=auth, editors=editors, upload_dir=tmp_path / "held")
    return app.server.test_client()


def _basic(user: str) -> dict[str, str]:
    token = b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _export(rows: int) -> bytes:
    """``rows`` patients at site 02, every one randomized (hand count: rows randomized)."""
    lines = [HEADER]
    for i in range(rows):
        lines.append(f"FR-{i:07d};2;06/03/2023;20/03/2023;Randomisé\n")
    return "".join(lines).encode("cp1252")


def _upload(client, data: bytes, user: str | None = "alice", **headers):
    auth_headers = _basic(user) if user else {}
    return client.post(
        "/data/upload",
        data=data,
        headers={"Content-Type": "application/octet-stream", "X-File-Name": "fr.csv"}
        | auth_headers
        | headers,
    )


def _flow_body(client, headers, token: str, trigger: str) -> dict:
    deps = client.get("/data/_dash-dependencies", headers=headers).get_json()
    output = next(d["output"] for d in deps if "data-preview.children" in d["output"])
    return {
        "output": output,
        "outputs": [
            {"id": "data-preview", "property": "children"},
            {"id": "data-confirm", "property": "disabled"},
            {"id": "data-confirm-bar", "property": "style"},
            {"id": "data-status", "property": "children"},
            {"id": "data-version", "property": "data"},
        ],
        "inputs": [
            {"id": "data-upload-token", "property": "data", "value": {"token": token}},
            {"id": "data-confirm", "property": "n_clicks", "value": 1},
            {"id": "data-cancel", "property": "n_clicks", "value": 0},
        ],
        "state": [{"id": "data-version", "property": "data", "value": 0}],
        "changedPropIds": [trigger],
    }


# --------------------------------------------------------------------------- roles
def test_editor_list_parsing_and_the_role_rule() -> None:
    assert parse_editors(" alice, bob carol,,") == {"alice", "bob", "carol"}
    assert parse_editors(None) == frozenset()
    with_auth = Roles(auth_on=True, editors=frozenset({"alice"}))
    assert with_auth.is_editor("alice") and not with_auth.is_editor("bob")
    assert not with_auth.is_editor(None)
    assert Roles(auth_on=False).is_editor(None)  # loopback without auth: the local user


def test_wsgi_entry_reads_editors_from_the_environment(
    data_dir: Path, tmp_path: Path, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.app import create_app

    monkeypatch.setenv("RECRUITMENT_DASHBOARD_EDITORS", "bob")
    app = create_app(data_dir, auth=auth, upload_dir=tmp_path / "held")
    client = app.server.test_client()
    assert _upload(client, _export(3), user="alice").status_code == 403
    assert _upload(client, _export(3), user="bob").status_code == 200


def test_viewer_and_foreign_origin_uploads_change_nothing(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    client = _client(data_dir, tmp_path, auth)
    before = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    assert _upload(client, _export(3), user="bob").status_code == 403
    assert _upload(client, _export(3), user=None).status_code == 401
    foreign = _upload(client, _export(3), Origin="https://evil.example")
    assert foreign.status_code == 403
    hidden = _upload(client, _export(3), Origin="null")  # a referrer policy hid it
    assert hidden.status_code == 403
    referer = _upload(client, _export(3), Referer="https://evil.example/page")
    assert referer.status_code == 403
    after = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    assert after == before
    assert not list((tmp_path / "held").iterdir())

    # Behind a proxy that rewrites Host, the browser's host forwarded is the app's own.
    proxied = _upload(
        client,
        b"",
        Origin="https://dash.hospital.example",
        **{"X-Forwarded-Host": "dash.hospital.example"},
    )
    assert proxied.status_code == 200  # checked (and refused as empty), not forbidden


def test_same_origin_editor_upload_is_held_outside_the_data_dir(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    client = _client(data_dir, tmp_path, auth)
    reply = _upload(client, _export(3), Origin="http://localhost")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    token = reply.get_json()["token"]
    assert set(reply.get_json()) == {"token"}  # no preview row in the reply
    held = tmp_path / "held" / token
    assert (held / "fr.csv").read_bytes() == _export(3)
    assert oct(os.stat(tmp_path / "held").st_mode & 0o777) == "0o700"
    assert not any("FR-" in p.read_text(errors="ignore") for p in data_dir.rglob("*.csv"))


# --------------------------------------------------------------------------- upload size
def test_a_big_export_passes_its_own_route_and_is_imported_on_confirm(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    """40,000 rows (~1.4 MB: over the 1 MB callback cap) import whole through the page."""
    data = _export(40_000)
    assert len(data) > 1_000_000
    client = _client(data_dir, tmp_path, auth)
    token = _upload(client, data).get_json()["token"]
    headers = _basic("alice")
    body = _flow_body(client, headers, token, "data-upload-token.data")
    preview = client.post("/data/_dash-update-component", json=body, headers=headers)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "40000" in text and "FR-0" not in text
    assert b"FR-" not in (data_dir / "enrollment.csv").read_bytes()
    body = _flow_body(client, headers, token, "data-confirm.n_clicks")
    done = client.post("/data/_dash-update-component", json=body, headers=headers)
    assert "Imported 40000 patients" in done.get_data(as_text=True)
    summary = CliRunner().invoke(main, ["summary", "--json", "--data-dir", str(data_dir)])
    assert json.loads(summary.output)["randomized"] == 40_000
    entry = read_import_log(DataPaths(data_dir))[-1]
    assert (entry["user"], entry["via"], entry["result"]) == ("alice", "web", "imported")
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert not (tmp_path / "held" / token / "fr.csv").exists()  # the held copy is gone
    # A second Confirm (double click) gets the same answer and imports nothing more.
    again = client.post("/data/_dash-update-component", json=body, headers=headers)
    assert "Imported 40000 patients" in again.get_data(as_text=True)
    imports = [e for e in read_import_log(DataPaths(data_dir)) if e.get("result") == "imported"]
    assert len(imports) == 1


def test_an_export_over_the_import_limit_is_refused_before_it_is_read(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    client = _client(data_dir, tmp_path, auth)
    reply = client.post(
        "/data/upload",
        data=b"x" * 10,
        headers=_basic("alice"),
        environ_overrides={"CONTENT_LENGTH": str(60_000_000)},
    )
    assert reply.status_code == 413 and "limit" in reply.get_json()["error"]


def test_a_stale_preview_cannot_be_confirmed_over_newer_data(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    client = _client(data_dir, tmp_path, auth)
    headers = _basic("alice")
    token = _upload(client, _export(5)).get_json()["token"]
    newer = _export(7)
    (tmp_path / "newer.csv").write_bytes(newer)
    result = CliRunner().invoke(
        main, ["import-enrollment", str(tmp_path / "newer.csv"), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    body = _flow_body(client, headers, token, "data-confirm.n_clicks")
    reply = client.post("/data/_dash-update-component", json=body, headers=headers)
    assert "changed since this preview" in reply.get_data(as_text=True)
    summary = CliRunner().invoke(main, ["summary", "--json", "--data-dir", str(data_dir)])
    assert json.loads(summary.output)["randomized"] == 7


def test_refusal_messages_on_the_page_hide_every_cell_value(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    bad = (
        HEADER + "SECRET-CODE-1;2;06/03/2023;31/02/2023;Randomisé\n"
        "SECRET-CODE-1;99;06/03/2023;;Échec de screening\n"
    ).encode("cp1252")
    client = _client(data_dir, tmp_path, auth)
    headers = _basic("alice")
    token = _upload(client, bad).get_json()["token"]
    body = _flow_body(client, headers, token, "data-upload-token.data")
    text = client.post("/data/_dash-update-component", json=body, headers=headers).get_data(
        as_text=True
    )
    assert "refused" in text and "line 2" in text and "line 3" in text
    assert "SECRET-CODE" not in text and "31/02/2023" not in text and "99" not in text
    assert not (tmp_path / "held" / token / "fr.csv").exists()  # a refused file is not kept
    entry = read_import_log(DataPaths(data_dir))[-1]
    assert (entry["result"], entry["user"]) == ("refused", "alice")
    assert "SECRET" not in json.dumps(entry)


# --------------------------------------------------------------------------- held uploads
def test_held_uploads_expire_belong_to_their_uploader_and_stay_private(tmp_path: Path) -> None:
    uploads = PendingUploads(tmp_path / "held")
    held = uploads.hold("alice", "../../etc/passwd.csv", b"a;b\n")
    assert held.file.parent.parent == tmp_path / "held" and held.name == "passwd.csv"
    assert uploads.get(held.token, "alice") is not None
    assert uploads.get(held.token, "bob") is None
    assert uploads.get("../" + held.token, "alice") is None
    assert uploads.purge_expired(now=time.time() + EXPIRY_SECONDS - 5) == 0
    assert uploads.purge_expired(now=time.time() + EXPIRY_SECONDS + 1) == 1
    assert uploads.get(held.token, "alice") is None and not held.file.exists()


def test_uploads_are_never_held_in_the_data_dir_or_a_shared_directory(tmp_path: Path) -> None:
    with pytest.raises(UploadDirError):
        PendingUploads(tmp_path / "data" / "uploads", forbidden=(tmp_path / "data",))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UploadDirError):
        PendingUploads(tmp_path / "link")
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    PendingUploads(loose)
    assert os.stat(loose).st_mode & 0o077 == 0


# --------------------------------------------------------------------------- site edits
def test_activation_date_rules() -> None:
    today, start = dt.date(2025, 6, 30), dt.date(2023, 2, 2)
    rules = {"today": today, "trial_start": start, "first_randomization": dt.date(2024, 1, 10)}
    assert check_activation("2023-05-01", **rules) == ("2023-05-01", None)
    assert check_activation(" ", **rules) == ("", None)
    value, warning = check_activation("2024-02-01", **rules)
    assert value == "2024-02-01" and "first randomization (2024-01-10)" in warning
    for bad in ("01/05/2023", "2023-02-30", "2025-07-01", "2023-02-01", "soon"):
        with pytest.raises(EditRefused):
            check_activation(bad, **rules)


def test_target_rules() -> None:
    assert check_target("12") == "12" and check_target("0") == "0" and check_target("") == ""
    assert check_target("8.0") == "8"
    for bad in ("-1", "2.5", "ten", "99999999"):
        with pytest.raises(EditRefused):
            check_target(bad)


def test_a_site_edit_keeps_every_other_cell_and_logs_old_and_new(data_dir: Path) -> None:
    paths = DataPaths(data_dir)
    text = paths.sites.read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[0] += ",notes"
    lines[1:] = [line + ",typed by hand" for line in lines[1:]]
    lines[2] = lines[2].replace(",,,typed", ",2023-04-01,5,typed")  # site 02
    paths.sites.write_text("\n".join(lines) + "\n", encoding="utf-8")
    enrollment = pd_enrollment()
    edit_site(
        paths,
        "02",
        "target",
        "5",
        "9",
        trial_start=dt.date(2023, 2, 2),
        enrollment=enrollment,
        today=dt.date(2025, 6, 30),
    )
    after = paths.sites.read_text(encoding="utf-8").splitlines()
    assert after[2].endswith(",2023-04-01,9,typed by hand")
    assert [a for a, b in zip(after, lines, strict=True) if a != b] == [after[2]]
    entry = read_import_log(paths)[-1]
    assert (entry["kind"], entry["site_id"], entry["column"], entry["old"], entry["new"]) == (
        "site_edit",
        "02",
        "target",
        "5",
        "9",
    )
    assert entry["sha256"] == hashlib.sha256(paths.sites.read_bytes()).hexdigest()
    assert entry["via"] == "cli" and entry["user"]  # outside a request: the OS user
    # Someone changed the cell since the grid was loaded: refused, nothing overwritten.
    with pytest.raises(EditRefused, match="changed since"):
        edit_site(
            paths,
            "02",
            "target",
            "5",
            "11",
            trial_start=None,
            enrollment=enrollment,
            today=dt.date(2025, 6, 30),
        )
    assert ",9,typed by hand" in paths.sites.read_text(encoding="utf-8").splitlines()[2]


def pd_enrollment():
    import pandas as pd

    return pd.DataFrame(
        {
            "patient_id": ["A"],
            "site_id": ["02"],
            "screening_date": [pd.Timestamp("2024-01-01")],
            "randomization_date": [pd.Timestamp("2024-01-10")],
            "status": ["RANDOMIZED"],
        }
    )


def test_cli_log_entries_name_the_os_user(data_dir: Path, tmp_path: Path) -> None:
    import getpass

    export = tmp_path / "fr.csv"
    export.write_bytes(_export(2))
    result = CliRunner().invoke(
        main, ["import-enrollment", str(export), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    entry = read_import_log(DataPaths(data_dir))[-1]
    assert (entry["user"], entry["via"]) == (getpass.getuser(), "cli")
    assert entry["time"].endswith("Z") and len(entry["sha256"]) == 64
    shown = CliRunner().invoke(main, ["log", "--data-dir", str(data_dir)]).output
    assert getpass.getuser() in shown


def test_without_auth_the_local_user_is_an_editor(data_dir: Path, tmp_path: Path) -> None:
    client = _client(data_dir, tmp_path, None, editors=())
    assert _upload(client, _export(2), user=None).status_code == 200
    page = client.get("/data/_dash-layout").get_data(as_text=True)
    assert "editor" in page


def test_an_xlsx_export_is_previewed_like_the_cli_reads_it(
    data_dir: Path, tmp_path: Path, auth: Auth
) -> None:
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["N° patient", "Centre", "Date de screening", "Date de randomisation", "Statut"])
    sheet.append(["X-1", "02", dt.date(2024, 1, 5), dt.date(2024, 1, 20), "Randomisé"])
    sheet.append(["X-2", "02", dt.date(2024, 2, 5), None, "Échec de screening"])
    sheet.append(["X-3", "03", dt.date(2024, 3, 5), dt.date(2024, 3, 19), "Randomisé"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    client = _client(data_dir, tmp_path, auth)
    headers = _basic("alice")
    reply = _upload(client, buffer.getvalue(), **{"X-File-Name": "export%20EDC.xlsx"})
    token = reply.get_json()["token"]
    body = _flow_body(client, headers, token, "data-upload-token.data")
    text = client.post("/data/_dash-update-component", json=body, headers=headers).get_data(
        as_text=True
    )
    # Hand count: 3 screened, 1 screen failure, 2 randomized by the cut-off 2024-03-19.
    preview = json.loads(text)["response"]["data-preview"]["children"]
    shown = {key: _text_of(preview, f"data-preview-{key}") for key in ("screened", "randomized")}
    assert shown == {"screened": "3", "randomized": "2"}
    assert _text_of(preview, "data-preview-screen_failed") == "1"
    assert "export EDC.xlsx" in text and "X-1" not in text


def _text_of(tree: object, ident: str) -> str | None:
    """The children of the component with id ``ident`` in a Dash JSON tree."""
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == ident:
            return props.get("children")
        for value in props.values():
            found = _text_of(value, ident)
            if found is not None:
                return found
    if isinstance(tree, list):
        for item in tree:
            found = _text_of(item, ident)
            if found is not None:
                return found
    return None


def test_preview_counts_per_site_against_a_hand_count() -> None:
    import pandas as pd

    from dashboard.import_preview import build_preview

    def frame(rows: list[tuple[str, str, str | None, str]]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "patient_id": [f"P{i}" for i in range(len(rows))],
                "site_id": [r[0] for r in rows],
                "screening_date": pd.to_datetime([r[1] for r in rows]),
                "randomization_date": pd.to_datetime([r[2] for r in rows]),
                "status": [r[3] for r in rows],
            }
        )

    current = frame(
        [
            ("01", "2024-01-01", "2024-01-10", "RANDOMIZED"),
            ("02", "2024-02-01", None, "SCREEN_FAILED"),
            ("02", "2024-08-01", "2024-08-09", "RANDOMIZED"),  # after the old cut-off
        ]
    )
    csv_text = (
        "patient_id,site_id,screening_date,randomization_date,status\n"
        "P0,01,2024-01-01,2024-01-10,RANDOMIZED\n"
        "P1,02,2024-02-01,,SCREEN_FAILED\n"
        "P2,03,2024-05-01,2024-05-07,RANDOMIZED\n"
    )
    report = {"csv_text": csv_text, "file": "e.csv", "data_cutoff": "2024-05-31", "rows": 3}
    report |= {"sha256": "0" * 64, "notices": ["read as CSV"]}
    sites = pd.DataFrame({"site_id": ["01", "02", "03"], "facility": ["A", "B", "C"]})
    preview = build_preview(report, current, dt.date(2024, 6, 30), sites)
    # Now at 2024-06-30: 2 screened (01, 02), 1 failure, 1 randomized; after at 2024-05-31:
    # 3 screened, 1 failure, 2 randomized. Only site 03 changes, and it starts enrolling.
    assert preview.before == {"screened": 2, "screen_failed": 1, "randomized": 1}
    assert preview.after == {"screened": 3, "screen_failed": 1, "randomized": 2}
    assert [(s.site_id, s.screened_before, s.screened_after) for s in preview.sites_changed] == [
        ("03", 0, 1)
    ]
    assert preview.new_sites == ("03",)
    assert any("earlier than the data in service" in w for w in preview.warnings)
    assert preview.to_json()["notices"] == ["read as CSV"]


def test_every_kind_of_log_entry_names_user_time_sha256_and_outcome(
    data_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    (data_dir / "dataset.json").write_text(
        json.dumps({"registry_file": "NCT04789850.json", "synthetic": True}), encoding="utf-8"
    )
    assert runner.invoke(main, ["demo", "--data-dir", str(data_dir)]).exit_code == 0
    study = data_dir / "registry" / "NCT04789850.json"
    shutil.copy(study, tmp_path / "study.json")
    result = runner.invoke(
        main, ["registry", "import", str(tmp_path / "study.json"), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    entries = read_import_log(DataPaths(data_dir))
    assert {e["kind"] for e in entries} == {"demo", "registry"}
    for entry in entries:
        assert entry["user"] and entry["via"] == "cli" and entry["time"].endswith("Z")
        assert len(entry["sha256"]) == 64 and entry["result"] == "imported"
    demo = next(e for e in entries if e["kind"] == "demo")
    written = hashlib.sha256((data_dir / "enrollment.csv").read_bytes()).hexdigest()
    assert demo["sha256"] == written
