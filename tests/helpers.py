"""Helpers shared by tests (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashboard.datadir import (
    SHIPPED_DATA_DIR,
)
from dashboard.registry import Trial
from dashboard.store import TrialData


def snapshot_dir(path: Path, include_log: bool = False) -> dict[str, bytes]:
    """Every file of a data dir with its bytes, to prove a refused import changed nothing.

    The import log is left out by default: refusals are appended to it on purpose.
    """
    skip = {".lock"} if include_log else {".lock", "import-log.jsonl"}
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name not in skip
    }


# ----------------------------------------------------------------------------- generated trials
@dataclass
class GenSite:
    site_id: str
    status: str
    activation: dt.date | None = None  # typed in sites.csv
    synthetic_activation: dt.date | None = None  # the demo's, in synthetic-activation.csv
    target: int | None = None


@dataclass
class GenPatient:
    patient_id: str
    site_id: str
    screening: dt.date
    randomization: dt.date | None
    status: str


@dataclass
class GenTrial:
    """A whole data dir described in plain Python, so tests can count it independently."""

    start: dt.date
    completion: dt.date
    target: int
    sites: list[GenSite]
    patients: list[GenPatient] = field(default_factory=list)
    cutoff: dt.date | None = None  # None: not recorded in dataset.json
    synthetic: bool = False
    nct_id: str = "NCT09999999"

    def recorded_cutoff(self) -> dt.date:
        """The cut-off the product must use: recorded, else the latest date, else the start."""
        if self.cutoff is not None:
            return self.cutoff
        dates = [p.screening for p in self.patients] + [
            p.randomization for p in self.patients if p.randomization
        ]
        return max(dates) if dates else self.start

    def counts(self, as_of: dt.date, site_id: str | None = None) -> tuple[int, int, int]:
        """(screened, screen failed, randomized) as of a date, counted row by row."""
        rows = [p for p in self.patients if site_id is None or p.site_id == site_id]
        screened = sum(1 for p in rows if p.screening <= as_of)
        failed = sum(1 for p in rows if p.screening <= as_of and p.status == "SCREEN_FAILED")
        randomized = sum(1 for p in rows if p.randomization and p.randomization <= as_of)
        return screened, failed, randomized


def write_gen_trial(root: Path, trial: GenTrial) -> Path:
    """Write ``trial`` as a data dir with plain ``csv``/``json`` (not the product's writers)."""
    import json

    from dashboard.datadir import SHIPPED_DATA_DIR

    (root / "registry").mkdir(parents=True, exist_ok=True)
    study = json.loads(
        (SHIPPED_DATA_DIR / "registry" / "NCT04789850.json").read_text(encoding="utf-8")
    )
    proto = study["protocolSection"]
    proto["identificationModule"]["nctId"] = trial.nct_id
    proto["identificationModule"]["acronym"] = "GEN"
    proto["statusModule"]["startDateStruct"] = {"date": trial.start.isoformat()}
    proto["statusModule"]["completionDateStruct"] = {"date": trial.completion.isoformat()}
    proto["statusModule"]["primaryCompletionDateStruct"] = {"date": trial.completion.isoformat()}
    proto["designModule"]["enrollmentInfo"]["count"] = trial.target
    proto["contactsLocationsModule"]["locations"] = [
        {
            "facility": f"Hospital {s.site_id}",
            "city": f"City {s.site_id}",
            "country": "France",
            "status": s.status,
        }
        for s in trial.sites
    ]
    (root / "registry" / f"{trial.nct_id}.json").write_text(json.dumps(study), encoding="utf-8")
    with open(root / "sites.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(
            ["site_id", "facility", "city", "country", "status", "activation_date", "target"]
        )
        for s in trial.sites:
            out.writerow(
                [
                    s.site_id,
                    f"Hospital {s.site_id}",
                    f"City {s.site_id}",
                    "France",
                    s.status,
                    s.activation.isoformat() if s.activation else "",
                    "" if s.target is None else s.target,
                ]
            )
    with open(root / "geocodes.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["site_id", "lat", "lon", "precision", "source", "query", "geocoded_at"])
        for k, s in enumerate(trial.sites):
            out.writerow(
                [
                    s.site_id,
                    43.5 + (k * 0.37) % 6,
                    -0.5 + (k * 0.71) % 7,
                    "city",
                    "manual",
                    f"City {s.site_id}",
                    "2025-01-01T00:00:00Z",
                ]
            )
    with open(root / "enrollment.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["patient_id", "site_id", "screening_date", "randomization_date", "status"])
        for p in trial.patients:
            out.writerow(
                [
                    p.patient_id,
                    p.site_id,
                    p.screening.isoformat(),
                    p.randomization.isoformat() if p.randomization else "",
                    p.status,
                ]
            )
    synthetic = [s for s in trial.sites if s.synthetic_activation]
    if synthetic:
        with open(root / "synthetic-activation.csv", "w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(["site_id", "activation_date"])
            for s in synthetic:
                out.writerow([s.site_id, s.synthetic_activation.isoformat()])
    meta = {"registry_file": f"{trial.nct_id}.json", "synthetic": trial.synthetic}
    if trial.cutoff is not None:
        meta["data_cutoff"] = trial.cutoff.isoformat()
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


# ----------------------------------------------------------------------------- the page over HTTP
#: Values the renderer would send for each kind of input/state property.
def _prop_value(prop: str, as_of: str, site_id: str, ident: str = "") -> Any:
    if ident == "as-of-date" and prop == "value":  # the native date field's ISO value
        return as_of
    return {
        "date": as_of,
        "search": f"?as_of={as_of}",
        "value": [],
        "data": [site_id],
        "n_clicks": 1,
        "clickData": {"points": [{"customdata": site_id}]},
        "cellClicked": {"rowId": site_id},
        "eventData": {"data": site_id, "timestamp": 1},  # Enter on the site's grid row
    }.get(prop)


def drive_every_callback(
    client: Any,
    as_of: str,
    site_id: str,
    skip_outputs: tuple[str, ...] = ("download-snapshot",),
    skip_triggers: tuple[str, ...] = (),
) -> dict[str, dict[str, Any]]:
    """Post every server callback of the app, once per input as the trigger, as of ``as_of``.

    Returns ``{"<trigger>-><output>": response JSON}``; asserts every reply is 200 (or 204:
    nothing to update) and never an error page. The snapshot download (Chromium) is left
    out; ``skip_triggers`` ("id.property") leaves out triggers whose outputs another
    trigger of the same callback already gives (e.g. the XLSX button beside the CSV one).
    """
    deps = client.get("/_dash-dependencies").get_json()
    replies: dict[str, dict[str, Any]] = {}
    for dep in deps:
        if dep.get("clientside_function") or any(s in dep["output"] for s in skip_outputs):
            continue
        multi = dep["output"].startswith("..")
        outputs = []
        for part in dep["output"].strip(".").split("..."):
            ident, prop = part.rsplit(".", 1)
            outputs.append({"id": ident, "property": prop})
        inputs = [
            {
                "id": i["id"],
                "property": i["property"],
                "value": _prop_value(i["property"], as_of, site_id, i["id"]),
            }
            for i in dep["inputs"]
        ]
        state = [
            {
                "id": s["id"],
                "property": s["property"],
                "value": _prop_value(s["property"], as_of, site_id, s["id"]),
            }
            for s in dep["state"]
        ]
        for trigger in dep["inputs"]:
            if f"{trigger['id']}.{trigger['property']}" in skip_triggers:
                continue
            body = {
                "output": dep["output"],
                "outputs": outputs if multi else outputs[0],
                "inputs": inputs,
                "state": state,
                "changedPropIds": [f"{trigger['id']}.{trigger['property']}"],
            }
            response = client.post("/_dash-update-component", json=body)
            assert response.status_code in (200, 204), (dep["output"], response.status_code)
            if response.status_code == 200:
                replies[f"{trigger['id']}.{trigger['property']}->{dep['output']}"] = (
                    response.get_json()
                )
    return replies


# ----------------------------------------------------------------------------- moved builders
#: The small trial's as-of date; its week runs from SMALL_WEEK_SINCE (excluded) to it.
SMALL_AS_OF = dt.date(2025, 6, 15)


SMALL_WEEK_SINCE = dt.date(2025, 6, 8)


EVIL_FACILITY = '=HYPERLINK("http://evil.example/x","Click")'


# Ten patients whose counts are worked out by hand below (as of 2025-06-15).
SMALL_ENROLLMENT = """\
patient_id,site_id,screening_date,randomization_date,status
P01,01,2025-01-10,2025-01-20,RANDOMIZED
P02,01,2025-02-01,2025-02-12,COMPLETED
P03,01,2025-06-01,2025-06-10,RANDOMIZED
P04,02,2025-03-03,,SCREEN_FAILED
P05,02,2025-06-09,2025-06-14,RANDOMIZED
P06,03,2025-04-01,2025-04-15,WITHDRAWN
P07,03,2025-06-12,,SCREENING
P08,05,2025-05-20,,SCREEN_FAILED
P09,05,2025-06-20,2025-06-25,RANDOMIZED
P10,03,2025-06-15,,SCREENING
"""


#: Hand counts as of SMALL_AS_OF. P09 (screened 06-20) is after the date and never counts.
#: screened: P01–P08 and P10; failed: P04, P08; randomized: P01 P02 P03 P05 P06.
SMALL_COUNTS = {"screened": 9, "screen_failed": 2, "randomized": 5}


#: The week (06-08, 06-15]: randomized P03 P05; screened P05 P07 P10; site 02 randomizes its
#: first patient (enrolling sites 2 → 3); site 04 is activated on 06-11.
SMALL_WEEK = {"randomized": 2, "screened": 3, "sites_enrolling": 1, "sites_recruiting": 1}


SMALL_ACTIVATION = {
    "01": "2024-12-01",
    "02": "2025-01-15",
    "03": "2025-02-01",
    "04": "2025-06-11",
    "05": "2025-03-01",
}


def build_small_data_dir(target: Path, *, hostile_names: bool = False) -> Path:
    """A data dir with the shipped registry and sites and a 10-patient hand-counted enrollment.

    Only sites 01–05 keep an activation date (site 04 opens inside the week); the others
    are blanked so no shipped demo date lands in the week by accident. With
    ``hostile_names`` some registry text is replaced by spreadsheet formulas.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SHIPPED_DATA_DIR / "registry", target / "registry")
    geocodes = SHIPPED_DATA_DIR / "geocodes.csv"
    if geocodes.exists():
        shutil.copy(geocodes, target / "geocodes.csv")
    sites = pd.read_csv(SHIPPED_DATA_DIR / "sites.csv", dtype=str, keep_default_na=False)
    sites["activation_date"] = [SMALL_ACTIVATION.get(s, "") for s in sites["site_id"]]
    if hostile_names:
        sites.loc[sites["site_id"] == "01", "facility"] = EVIL_FACILITY
        sites.loc[sites["site_id"] == "02", "facility"] = "@SUM(1+1)"
        sites.loc[sites["site_id"] == "02", "city"] = "+33 1 58 00 00 00"
        sites.loc[sites["site_id"] == "03", "city"] = "-Lyon\t"
        sites.loc[sites["site_id"] == "05", "facility"] = "\tTab hospital"
    sites.to_csv(target / "sites.csv", index=False, lineterminator="\n")
    (target / "enrollment.csv").write_text(SMALL_ENROLLMENT, encoding="utf-8")
    registry_file = next((target / "registry").glob("*.json")).name
    (target / "dataset.json").write_text(
        json.dumps(
            {
                "registry_file": registry_file,
                "synthetic": False,
                "data_cutoff": SMALL_AS_OF.isoformat(),
                "source": "tests: hand-counted enrollment",
            }
        ),
        encoding="utf-8",
    )
    return target


#: Runs the CLI with os.replace wrapped: when the destination ends with argv[1], print
#: "PAUSED <temp file>" and sleep argv[2] seconds before renaming.
PAUSING_CLI = """
import os, sys, time
_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(sys.argv[1]):
        print("PAUSED", src, flush=True)
        time.sleep(float(sys.argv[2]))
    return _replace(src, dst, *args, **kwargs)
os.replace = replace
from dashboard.cli import main
main(sys.argv[3:], prog_name="recruitment-dashboard")
"""


HEADER = "N° patient;N° centre;Centre investigateur;Date de screening;Date de randomisation;Statut"


def export_bytes(prefix: str, rows: int, seed: int = 0) -> bytes:
    """A French-Excel-style export with ``rows`` valid patients (ids prefixed)."""
    rng = np.random.default_rng(seed)
    start = dt.date(2023, 3, 1).toordinal()
    lines = [HEADER]
    for i in range(rows):
        screening = start + int(rng.integers(0, 700))
        site = int(rng.integers(1, 47))
        if rng.random() < 0.6:
            rand = dt.date.fromordinal(screening + int(rng.integers(3, 30))).strftime("%d/%m/%Y")
            status = "Randomisé"
        else:
            rand, status = "", "Screen failed"
        day = dt.date.fromordinal(screening).strftime("%d/%m/%Y")
        lines.append(f"{prefix}{i:06d};{site};Hôpital {site};{day};{rand};{status}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


# ----------------------------------------------------------------------------- a small trial
def small_trial_data(data_cutoff: str | None = "2024-07-01", synthetic: bool = False) -> TrialData:
    """Four sites, seven patients; every number the tests expect is counted by hand."""
    trial = Trial(
        nct_id="NCT00000001",
        title="A small test trial",
        acronym="TEST",
        sponsor="Test Sponsor",
        target=10,
        start_date=dt.date(2024, 1, 1),
        planned_completion_date=dt.date(2025, 6, 30),
        last_updated=None,
        overall_status="RECRUITING",
        treatment_days=360,
    )
    sites = pd.DataFrame(
        {
            "site_id": ["01", "02", "03", "04"],
            "facility": ["Hôpital A", "Hôpital B", "CHU C", "CHU D"],
            "city": ["Paris", "Paris", "Lyon", "Lille"],
            "country": ["France"] * 4,
            "status": ["RECRUITING", "RECRUITING", "NOT_YET_RECRUITING", "RECRUITING"],
            "activation_date": pd.to_datetime(["2024-01-15", "2024-02-01", None, "2024-06-01"]),
            "target": pd.array([3, None, None, 2], dtype="Int64"),
        }
    )
    geocodes = pd.DataFrame(
        {
            "site_id": ["01", "02", "03", "04"],
            "lat": [48.85, 48.85, 45.75, 50.63],
            "lon": [2.35, 2.35, 4.85, 3.06],
            "precision": ["facility", "facility", "city", "city"],
            "source": ["manual"] * 4,
            "query": ["a", "b", "c", "d"],
            "geocoded_at": ["2024-07-01T00:00:00Z"] * 4,
        }
    )
    rows = [
        ("P1", "01", "2024-02-01", "2024-02-10", "RANDOMIZED"),
        ("P2", "01", "2024-03-01", "2024-03-15", "RANDOMIZED"),
        ("P3", "02", "2024-04-01", None, "SCREEN_FAILED"),
        ("P4", "02", "2024-05-01", "2024-05-20", "RANDOMIZED"),
        ("P5", "04", "2024-06-20", "2024-06-28", "RANDOMIZED"),
        ("P6", "04", "2024-06-25", None, "SCREENING"),
        ("P7", "04", "2024-08-01", "2024-08-10", "RANDOMIZED"),
    ]
    enrollment = pd.DataFrame(
        rows, columns=["patient_id", "site_id", "screening_date", "randomization_date", "status"]
    )
    for col in ("screening_date", "randomization_date"):
        enrollment[col] = pd.to_datetime(enrollment[col])
    meta = {"synthetic": synthetic}
    if data_cutoff:
        meta["data_cutoff"] = data_cutoff
    return TrialData(trial, sites, geocodes, enrollment, meta, version="test")


CUTOFF = "2024-05-31"


PATIENTS = [
    ("R-01", "8", dt.date(2024, 1, 8), dt.date(2024, 1, 22), "RANDOMIZED"),
    ("R-02", "8", dt.date(2024, 2, 5), None, "SCREEN_FAILED"),
    ("R-03", "12", dt.date(2024, 2, 19), dt.date(2024, 3, 4), "RANDOMIZED"),
    ("R-04", "22", dt.date(2024, 3, 11), dt.date(2024, 3, 25), "WITHDRAWN"),
    ("R-05", "31", dt.date(2024, 4, 15), dt.date(2024, 4, 29), "RANDOMIZED"),
    ("R-06", "12", dt.date(2024, 5, 13), None, "SCREENING"),
]


FRENCH_STATUS = {
    "RANDOMIZED": "Randomisé",
    "SCREEN_FAILED": "Échec de sélection",
    "WITHDRAWN": "Retiré",
    "SCREENING": "En screening",
}


#: Typed by the user before the first import: site 12's date is after its first
#: randomization (2024-03-04), a typo the page must show, not hide.
TYPED = {"08": ("2023-11-15", "3"), "12": ("2024-03-10", ""), "20": ("2023-06-01", "2")}


def _fr(d: dt.date | None) -> str:
    return "" if d is None else d.strftime("%d/%m/%Y")


def french_excel_csv() -> bytes:
    lines = ["N° patient;Centre;Date de sélection;Date de randomisation;Statut"]
    lines += [f"{p};{s};{_fr(a)};{_fr(b)};{FRENCH_STATUS[st]}" for p, s, a, b, st in PATIENTS]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def type_into_sites(data_dir: Path, typed: dict[str, tuple[str, str]]) -> bytes:
    """Type activation dates and targets into sites.csv as a user would; its new bytes."""
    lines = (data_dir / "sites.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0] in typed:
            cells[-2], cells[-1] = typed[cells[0]]
        out.append(",".join(cells))
    (data_dir / "sites.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    return (data_dir / "sites.csv").read_bytes()


def serve_data_dir(root: Path) -> Iterator[str]:
    """Serve ``create_app(root, auth=None)`` on a free loopback port in a thread of this
    process; yield its URL (a generator for the browser tests' fixtures)."""
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    from dashboard.app import create_app

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    app = create_app(root, auth=None)
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
