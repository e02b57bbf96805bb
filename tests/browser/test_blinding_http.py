"""Blinding and privacy over HTTP: no response of the app ever carries patient-level data.

The real app serves a data dir whose patients have distinctive ids; an export with an arm
column and a birth-date column is offered to the import first (and refused). Then every
callback the page declares in ``/_dash-dependencies`` is posted with real inputs (dates,
filters, clicks, downloads — the PDF snapshot included) and every response body — HTML,
JSON, callback payloads, decoded downloads (CSV, XLSX members, PDF text) — is searched for
a patient id, the birth date or the arm value. A callback the test does not know how to
drive fails the test, so a new callback cannot slip past it.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths
from dashboard.enrollment import EnrollmentError
from dashboard.imports import import_enrollment

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PATIENT_IDS = [f"ZQ-LEAK-{k:04d}" for k in range(1, 9)]
ARM_VALUE = "ITACITINIB-ARM-QX7"
BIRTH_DATE = "12/04/1961"
BIRTH_DATE_ISO = "1961-04-12"
SECRETS = [*PATIENT_IDS, ARM_VALUE, BIRTH_DATE, BIRTH_DATE_ISO, "patient_id"]

ENROLLMENT = "\n".join(
    [
        "patient_id,site_id,screening_date,randomization_date,status",
        "ZQ-LEAK-0001,32,2023-03-01,2023-03-10,COMPLETED",
        "ZQ-LEAK-0002,32,2023-05-02,2023-05-20,RANDOMIZED",
        "ZQ-LEAK-0003,34,2023-06-01,,SCREEN_FAILED",
        "ZQ-LEAK-0004,34,2023-09-01,2023-09-15,WITHDRAWN",
        "ZQ-LEAK-0005,05,2024-01-10,2024-01-25,RANDOMIZED",
        "ZQ-LEAK-0006,42,2024-03-01,2024-03-12,RANDOMIZED",
        "ZQ-LEAK-0007,42,2024-04-01,,SCREENING",
        "ZQ-LEAK-0008,22,2024-06-01,2024-06-10,RANDOMIZED",
    ]
)
UNBLINDING_EXPORT = (
    "patient_id;site_id;screening_date;randomization_date;status;arm;date de naissance\n"
    f"ZQ-LEAK-0009;32;01/07/2024;10/07/2024;Randomized;{ARM_VALUE};{BIRTH_DATE}\n"
)


@pytest.fixture(scope="module")
def leak_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("leak") / "data"
    (root / "registry").mkdir(parents=True)
    shutil.copy(SHIPPED_DATA_DIR / "registry" / "NCT04789850.json", root / "registry")
    for name in ("sites.csv", "geocodes.csv"):
        shutil.copy(SHIPPED_DATA_DIR / name, root / name)
    (root / "enrollment.csv").write_text(ENROLLMENT + "\n", encoding="utf-8")
    meta = {"registry_file": "NCT04789850.json", "synthetic": False, "data_cutoff": "2024-06-30"}
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    export = root.parent / "unblinding-export.csv"
    export.write_text(UNBLINDING_EXPORT, encoding="cp1252")
    with pytest.raises(EnrollmentError) as refused:
        import_enrollment(export, DataPaths(root), cutoff=None)
    message = str(refused.value)
    assert "blind" in message.lower()
    assert ARM_VALUE not in message and BIRTH_DATE not in message
    return root


@pytest.fixture(scope="module")
def server_url(leak_data_dir: Path) -> Iterator[str]:
    from werkzeug.serving import make_server

    from dashboard.app import create_app

    app = create_app(leak_data_dir, auth=None)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def fetch(url: str, body: dict | None = None, timeout: float = 180) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


CLICK = {"points": [{"customdata": "32", "curveNumber": 0, "pointNumber": 0}]}
#: Values to drive each input or state with: every one is tried, so a filter, a click and
#: a cleared value all run the code that would carry patient data.
VALUES: dict[tuple[str, str], list] = {
    ("url", "search"): ["?as_of=2024-06-30", "?as_of=2023-06-01", ""],
    ("as-of-date", "value"): ["2024-06-30", "2023-06-01", "2026-02-28"],
    ("as-of-text", "children"): [["Counts as of ", "2024-06-30"]],
    ("status-filter", "value"): [[], ["RECRUITING"], ["NOT_YET_RECRUITING"]],
    ("selected-sites", "data"): [[], ["32"], ["32", "42"]],
    ("site-map", "clickData"): [CLICK, None],
    ("site-bars", "clickData"): [CLICK, None],
    ("site-activation", "clickData"): [CLICK, None],
    ("sites-grid", "cellClicked"): [{"rowId": "42", "colId": "facility", "rowIndex": 3}],
    ("sites-grid", "eventData"): [{"data": "42", "timestamp": 1}],
    ("clear-selection", "n_clicks"): [1],
    ("export-sites-csv", "n_clicks"): [1],
    ("export-sites-xlsx", "n_clicks"): [1],
    ("export-accrual-csv", "n_clicks"): [1],
    ("export-accrual-xlsx", "n_clicks"): [1],
    ("download-pdf", "n_clicks"): [1],
    ("download-png", "n_clicks"): [1],
}


def callback_bodies(dep: dict) -> Iterator[dict]:
    """One request per input as the trigger, for each of its values (others at defaults)."""
    multi = dep["output"].startswith("..")
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append({"id": ident, "property": prop})
    inputs = [(i["id"], i["property"]) for i in dep["inputs"]]
    state = [(s["id"], s["property"]) for s in dep["state"]]
    unknown = [key for key in inputs + state if key not in VALUES]
    assert not unknown, f"drive these in VALUES so their responses are checked: {unknown}"
    for trigger in inputs:
        for value in VALUES[trigger]:
            yield {
                "output": dep["output"],
                "outputs": outputs if multi else outputs[0],
                "inputs": [
                    {
                        "id": i,
                        "property": p,
                        "value": value if (i, p) == trigger else VALUES[(i, p)][0],
                    }
                    for i, p in inputs
                ],
                "state": [{"id": i, "property": p, "value": VALUES[(i, p)][0]} for i, p in state],
                "changedPropIds": [f"{trigger[0]}.{trigger[1]}"],
            }


def decoded_downloads(payload: bytes, tmp_path: Path) -> list[str]:
    """Text inside every dcc.Download of a callback response (CSV, XLSX members, PDF text)."""
    texts = []
    response = json.loads(payload).get("response", {})
    for props in response.values():
        for value in props.values():
            if not (isinstance(value, dict) and "content" in value and "filename" in value):
                continue
            raw = (
                base64.b64decode(value["content"])
                if value.get("base64")
                else value["content"].encode()
            )
            texts.append(raw.decode("latin-1"))
            if raw[:2] == b"PK":
                with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                    texts += [
                        archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
                    ]
            if raw[:4] == b"%PDF":
                pdf = tmp_path / "download.pdf"
                pdf.write_bytes(raw)
                out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
                texts.append(out.stdout.decode("utf-8"))
                assert "NCT04789850" in texts[-1]
    return texts


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}"


def test_no_response_carries_patient_level_data(server_url: str, tmp_path: Path):
    pages = ["/", "/?as_of=2023-06-01", "/_dash-layout", "/_dash-dependencies", "/health"]
    for path in pages:
        status, body = fetch(server_url + path)
        assert status == 200, path
        assert_clean(path, body.decode("utf-8"))
    _, deps_raw = fetch(server_url + "/_dash-dependencies")
    exercised, downloads = 0, 0
    for dep in json.loads(deps_raw):
        if dep.get("clientside_function"):
            continue  # runs in the browser on data the server already sent (checked above)
        answered = 0
        for body in callback_bodies(dep):
            status, payload = fetch(server_url + "/_dash-update-component", body)
            text = payload.decode("utf-8", "replace")
            assert_clean(f"callback {dep['output']} ({body['changedPropIds'][0]})", text)
            if status == 200:
                answered += 1
                for decoded in decoded_downloads(payload, tmp_path):
                    downloads += 1
                    assert_clean(f"download from {dep['output']}", decoded)
            else:
                assert status == 204, (dep["output"], status, text[:300])  # no_update
        assert answered, f"no request to {dep['output']} was answered"
        exercised += 1
    assert exercised >= 6
    # sites CSV + XLSX, accrual CSV + XLSX, PDF and PNG snapshots
    assert downloads >= 6


def test_nothing_refused_reached_the_data_dir(leak_data_dir: Path):
    for path in leak_data_dir.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            for secret in (ARM_VALUE, BIRTH_DATE, BIRTH_DATE_ISO, "ZQ-LEAK-0009"):
                assert secret not in text, f"{secret!r} stored in {path.name}"
