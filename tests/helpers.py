"""Helpers shared by tests (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    import csv
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
