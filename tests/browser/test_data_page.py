"""The Data page in headless Chromium: the real app with basic auth, editors ``alice``.

alice (editor) uploads a French EDC export through the page's file input, reads its
randomized count in the preview, confirms, and the data dir holds it (``summary --json``
agrees; the log names alice). An export with a treatment-arm column is refused on the
page with no way to confirm. bob (viewer) gets no enabled upload control, and his direct
requests to the upload route and the state-changing callbacks change nothing. A site's
activation date typed into the grid reaches sites.csv and the log. No reply of the app
carries a patient code.

Hand counts of :data:`FRENCH_EXPORT` (cut-off = latest date, 21/07/2025): 14 screened, 3
screen failures (rows 2, 4, 10), 10 randomized (Randomisé ×8, Terminé, Retiré).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths, read_import_log
from dashboard.security import Auth, hash_password
from tests.browser.conftest import LOCAL_HOSTS

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-pw-8472", "bob": "bob-pw-1935"}
ENROLLMENT_CSV = """\
patient_id,site_id,screening_date,randomization_date,status
PX-DATA-0001,32,2023-03-01,2023-03-10,COMPLETED
PX-DATA-0002,32,2023-05-02,2023-05-20,RANDOMIZED
PX-DATA-0003,34,2023-06-01,,SCREEN_FAILED
PX-DATA-0004,42,2024-03-01,2024-03-12,RANDOMIZED
"""
FRENCH_EXPORT = """\
N° patient;Centre;Date de screening;Date de randomisation;Statut
FR-PAT-0001;2;06/03/2023;20/03/2023;Randomisé
FR-PAT-0002;2;10/04/2023;;Échec de screening
FR-PAT-0003;3;15/05/2023;02/06/2023;Terminé
FR-PAT-0004;3;01/09/2023;;Échec de screening
FR-PAT-0005;5;12/01/2024;29/01/2024;Retiré
FR-PAT-0006;12;04/03/2024;18/03/2024;Randomisé
FR-PAT-0007;12;08/04/2024;22/04/2024;Randomisé
FR-PAT-0008;22;03/06/2024;;En screening
FR-PAT-0009;26;01/07/2024;15/07/2024;Randomisé
FR-PAT-0010;26;02/09/2024;;Échec de screening
FR-PAT-0011;39;07/10/2024;21/10/2024;Randomisé
FR-PAT-0012;42;04/11/2024;18/11/2024;Randomisé
FR-PAT-0013;42;02/12/2024;16/12/2024;Randomisé
FR-PAT-0014;45;07/07/2025;21/07/2025;Randomisé
"""
PATIENT_MARKERS = ("FR-PAT-", "PX-DATA-", "ARM-")
#: Bodies of every reply of the app during this module (searched for patient codes).
REPLIES: list[str] = []


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data-page") / "data"
    (root / "registry").mkdir(parents=True)
    shutil.copy(SHIPPED_DATA_DIR / "registry" / "NCT04789850.json", root / "registry")
    for name in ("geocodes.csv", "trial.toml", "sites.csv"):
        shutil.copy(SHIPPED_DATA_DIR / name, root / name)
    (root / "enrollment.csv").write_text(ENROLLMENT_CSV, encoding="utf-8")
    meta = {"registry_file": "NCT04789850.json", "synthetic": False, "data_cutoff": "2024-06-30"}
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uploads") / "held"


@pytest.fixture(scope="module")
def app_url(data_dir: Path, upload_dir: Path) -> Iterator[str]:
    from flask import request
    from werkzeug.serving import WSGIRequestHandler, make_server

    from dashboard.app import create_app

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            pass

    auth = Auth({user: hash_password(pw) for user, pw in PASSWORDS.items()})
    app = create_app(data_dir, auth=auth, editors=["alice"], upload_dir=upload_dir)

    @app.server.after_request
    def record(response):
        static = request.path.startswith(("/_dash-component-suites", "/assets", "/data/assets"))
        if not static and not response.direct_passthrough:
            REPLIES.append(response.get_data().decode("utf-8", errors="replace"))
        return response

    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _context(browser, user: str):
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000},
        http_credentials={"username": user, "password": PASSWORDS[user]},
    )
    from urllib.parse import urlparse

    def route(route) -> None:
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    return context


def _open_data_page(context, url: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/data")
    page.wait_for_selector("#data-history-grid .ag-header-row", timeout=60_000)
    page.wait_for_selector("#data-sites-grid .ag-row", timeout=60_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _snapshot(data_dir: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(data_dir.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def _write_export(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode("cp1252"))
    return path


def _dependencies(context, url: str) -> list[dict]:
    return context.request.get(url + "/data/_dash-dependencies").json()


def _callback_output(deps: list[dict], needle: str) -> str:
    return next(d["output"] for d in deps if needle in d["output"])


# --------------------------------------------------------------------------- viewer
def test_viewer_bob_cannot_upload_nor_change_anything(
    browser, app_url: str, data_dir: Path, upload_dir: Path, tmp_path: Path
) -> None:
    before = _snapshot(data_dir)
    context = _context(browser, "bob")
    try:
        page = _open_data_page(context, app_url)
        assert "viewer" in page.inner_text("#data-role")
        file_inputs = page.locator("#data-upload input[type=file]")
        assert file_inputs.count() == 0 or not file_inputs.first.is_enabled()
        assert not page.locator("#data-upload").is_visible()
        # Read-only cells: a click does not open an editor.
        cell = page.locator('#data-sites-grid .ag-row[row-id="02"] [col-id="activation_date"]')
        cell.click()
        assert page.locator("#data-sites-grid .ag-cell-inline-editing").count() == 0

        # His direct requests: the upload route, and the page's state-changing callbacks.
        export = _write_export(tmp_path, "bob.csv", FRENCH_EXPORT)
        reply = context.request.post(
            app_url + "/data/upload",
            data=export.read_bytes(),
            headers={"Content-Type": "application/octet-stream", "X-File-Name": "bob.csv"},
        )
        assert reply.status == 403
        deps = _dependencies(context, app_url)
        flow = _callback_output(deps, "data-preview.children")
        body = {
            "output": flow,
            "outputs": [
                {"id": "data-preview", "property": "children"},
                {"id": "data-confirm", "property": "disabled"},
                {"id": "data-confirm-bar", "property": "style"},
                {"id": "data-status", "property": "children"},
                {"id": "data-version", "property": "data"},
            ],
            "inputs": [
                {"id": "data-upload-token", "property": "data", "value": {"token": "x" * 32}},
                {"id": "data-confirm", "property": "n_clicks", "value": 1},
                {"id": "data-cancel", "property": "n_clicks", "value": 0},
            ],
            "state": [{"id": "data-version", "property": "data", "value": 0}],
            "changedPropIds": ["data-confirm.n_clicks"],
        }
        reply = context.request.post(app_url + "/data/_dash-update-component", data=body)
        assert reply.ok and "Refused" in reply.text() and "viewer" in reply.text()
        edit = _callback_output(deps, "data-sites-status.children")
        change = {
            "rowIndex": 1,
            "rowId": "02",
            "data": {"site_id": "02", "activation_date": "2024-01-15"},
            "oldValue": "",
            "value": "2024-01-15",
            "colId": "activation_date",
        }
        body = {
            "output": edit,
            "outputs": [
                {"id": "data-sites-status", "property": "children"},
                {"id": edit.split("...")[1].split(".")[0], "property": "data"},
            ],
            "inputs": [
                {"id": "data-sites-grid", "property": "cellValueChanged", "value": [change]}
            ],
            "state": [{"id": "data-version", "property": "data", "value": 0}],
            "changedPropIds": ["data-sites-grid.cellValueChanged"],
        }
        reply = context.request.post(app_url + "/data/_dash-update-component", data=body)
        assert reply.ok and "Refused" in reply.text()
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
    assert _snapshot(data_dir) == before  # the log included: nothing was even attempted
    assert not any(upload_dir.iterdir()) if upload_dir.exists() else True


def test_a_foreign_page_cannot_make_alices_browser_change_data(
    browser, app_url: str, data_dir: Path, tmp_path: Path
) -> None:
    before = _snapshot(data_dir)
    context = _context(browser, "alice")
    try:
        export = _write_export(tmp_path, "forged.csv", FRENCH_EXPORT)
        reply = context.request.post(
            app_url + "/data/upload",
            data=export.read_bytes(),
            headers={
                "Content-Type": "application/octet-stream",
                "Origin": "http://evil.example",
            },
        )
        assert reply.status == 403
    finally:
        context.close()
    assert _snapshot(data_dir) == before


# --------------------------------------------------------------------------- editor
def test_an_export_with_a_treatment_arm_column_is_refused_with_no_way_to_confirm(
    browser, app_url: str, data_dir: Path, tmp_path: Path
) -> None:
    lines = FRENCH_EXPORT.splitlines()
    armed = "\n".join(
        [lines[0] + ";Bras de traitement"]
        + [f"{line};ARM-{'A' if i % 2 else 'B'}" for i, line in enumerate(lines[1:])]
    )
    export = _write_export(tmp_path, "export_bras.csv", armed + "\n")
    enrollment_before = (data_dir / "enrollment.csv").read_bytes()
    context = _context(browser, "alice")
    try:
        page = _open_data_page(context, app_url)
        page.set_input_files("#data-upload input[type=file]", str(export))
        page.wait_for_selector("#data-refusal", timeout=30_000)
        text = page.inner_text("#data-refusal")
        assert "refused" in text and "blind" in text and "Bras de traitement" in text
        assert "ARM-" not in page.content()
        assert not page.locator("#data-confirm").is_visible()
        assert page.locator("#data-confirm").is_disabled()
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
    assert (data_dir / "enrollment.csv").read_bytes() == enrollment_before
    last = read_import_log(DataPaths(data_dir))[-1]
    assert (last["result"], last["user"], last["via"]) == ("refused", "alice", "web")
    assert last["reasons"] == ["blinding_column"] and len(last["sha256"]) == 64


def test_alice_uploads_a_french_export_previews_and_confirms(
    browser, app_url: str, data_dir: Path, tmp_path: Path
) -> None:
    export = _write_export(tmp_path, "export_edc_2025-07.csv", FRENCH_EXPORT)
    context = _context(browser, "alice")
    try:
        page = _open_data_page(context, app_url)
        assert "editor" in page.inner_text("#data-role")
        assert page.inner_text("#data-in-service-randomized") == "3 randomized"
        page.set_input_files("#data-upload input[type=file]", str(export))
        page.wait_for_selector("#data-preview-randomized", timeout=30_000)
        # Before: 3 randomized at 2024-06-30 (hand count of ENROLLMENT_CSV); after: 10.
        assert page.inner_text("#data-preview-randomized") == "10"
        assert page.inner_text("#data-preview-screened") == "14"
        assert page.inner_text("#data-preview-screen_failed") == "3"
        new_sites = page.inner_text("#data-preview-new-sites")
        for site in ("02", "03", "05", "12", "22", "26", "39", "45"):
            assert site in new_sites
        assert b"FR-PAT" not in (data_dir / "enrollment.csv").read_bytes()  # not yet
        page.screenshot(
            path=str(Path(tempfile.gettempdir()) / "data-page-preview.png"), full_page=True
        )
        page.click("#data-confirm")
        page.wait_for_selector("#data-status .alert-success", timeout=30_000)
        assert "Imported 14 patients" in page.inner_text("#data-status")
        page.wait_for_function(
            "() => document.querySelector('#data-in-service-randomized')"
            ".innerText === '10 randomized'",
            timeout=30_000,
        )
        history = page.inner_text("#data-history-grid")
        assert "alice" in history and "imported" in history
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
    summary = CliRunner().invoke(main, ["summary", "--json", "--data-dir", str(data_dir)])
    assert summary.exit_code == 0, summary.output
    numbers = json.loads(summary.output)
    assert (numbers["randomized"], numbers["screened"], numbers["screen_failed"]) == (10, 14, 3)
    assert numbers["data_cutoff"] == "2025-07-21"
    last = read_import_log(DataPaths(data_dir))[-1]
    assert (last["kind"], last["result"], last["user"], last["via"]) == (
        "enrollment",
        "imported",
        "alice",
        "web",
    )
    import hashlib

    assert last["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()


def test_alice_edits_an_activation_date_in_the_grid(browser, app_url: str, data_dir: Path) -> None:
    context = _context(browser, "alice")
    try:
        page = _open_data_page(context, app_url)
        # A date after today is refused on the page, and sites.csv keeps its value.
        cell = page.locator('#data-sites-grid .ag-row[row-id="04"] [col-id="activation_date"]')
        cell.click()
        page.keyboard.type("2999-01-01")
        page.keyboard.press("Enter")
        page.wait_for_selector("#data-sites-status .alert-danger", timeout=30_000)
        assert "after today" in page.inner_text("#data-sites-status")
        # Site 02's first randomization is 2023-03-20: 2023-03-01 is a clean activation.
        cell = page.locator('#data-sites-grid .ag-row[row-id="02"] [col-id="activation_date"]')
        cell.click()
        page.keyboard.type("2023-03-01")
        page.keyboard.press("Enter")
        page.wait_for_selector("#data-sites-status .alert-success", timeout=30_000)
        assert "2023-03-01" in page.inner_text("#data-sites-status")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
    sites = (data_dir / "sites.csv").read_text(encoding="utf-8").splitlines()
    row02 = next(line for line in sites if line.startswith("02,"))
    row04 = next(line for line in sites if line.startswith("04,"))
    assert row02.split(",")[5] == "2023-03-01"
    assert row04.split(",")[5] == ""
    edits = [e for e in read_import_log(DataPaths(data_dir)) if e.get("kind") == "site_edit"]
    assert len(edits) == 1
    assert (edits[0]["user"], edits[0]["site_id"], edits[0]["old"], edits[0]["new"]) == (
        "alice",
        "02",
        None,
        "2023-03-01",
    )


def test_no_reply_carried_a_patient_code() -> None:
    assert REPLIES, "the replies were not recorded"
    for body in REPLIES:
        for marker in PATIENT_MARKERS:
            assert marker not in body
