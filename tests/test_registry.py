"""Registry and sites: the shipped study JSON matches the shared record; imports are all-or-nothing."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths, read_import_log
from dashboard.imports import import_registry
from dashboard.registry import LOCATION_STATUSES, RegistryError, load_registry, parse_study
from dashboard.sites import build_sites, load_sites, normalise_site_id
from tests.conftest import REGISTRY_RECORD
from tests.helpers import snapshot_dir

SHIPPED_JSON = SHIPPED_DATA_DIR / "registry" / "NCT04789850.json"


def record_locations() -> list[tuple[str, str, str]]:
    """Parse the shared plain-text record independently of the product code."""
    text = REGISTRY_RECORD.read_text(encoding="utf-8")
    block = text.split("\nLocations\n", 1)[1].split("\nCountries\n", 1)[0]
    found = re.findall(r"\n([^\n]+)\n\n([^\n,]+), , France\n\nSite Status (\w+)", block)
    return [(f.strip(), c.strip(), s) for f, c, s in found]


def test_shipped_registry_matches_the_shared_record():
    trial, locations = load_registry(SHIPPED_JSON)
    expected = record_locations()
    assert len(expected) == 46
    got = list(zip(locations["facility"], locations["city"], locations["status"], strict=True))
    assert got == expected
    assert trial.nct_id == "NCT04789850"
    assert trial.target == 74
    assert trial.start_date == dt.date(2023, 2, 2)
    assert trial.planned_completion_date == dt.date(2026, 2, 28)
    assert trial.last_updated == dt.date(2025, 11, 20)
    # The record states no treatment duration: the last-patient-in date comes from the data
    # dir's trial.toml (test_shipped_trial_settings_give_last_patient_in).
    assert trial.last_patient_in_date is None
    assert trial.sponsor == "Assistance Publique - Hôpitaux de Paris"


def test_shipped_trial_settings_give_last_patient_in():
    from dashboard.datadir import DataPaths
    from dashboard.trial_settings import load_trial

    trial = load_trial(DataPaths(SHIPPED_JSON.parents[1]))
    assert trial.treatment_days == 360
    assert trial.last_patient_in_date == dt.date(2025, 3, 5)  # 2026-02-28 − 360 days
    assert trial.display_name == "SCLERITA"


def test_statuses_exact():
    _, locations = load_registry(SHIPPED_JSON)
    assert (locations["status"] == "RECRUITING").sum() == 43
    not_yet = [i + 1 for i in locations.index[locations["status"] == "NOT_YET_RECRUITING"]]
    assert not_yet == [31, 35, 40]
    assert locations.loc[30, "facility"] == "Saint Antoine Hospital"
    assert locations.loc[34, "facility"] == "Hospital Croix St Simon"
    assert locations.loc[39, "facility"] == "CHU Rouen"


def test_typos_kept_as_registered():
    _, locations = load_registry(SHIPPED_JSON)
    assert "Hôpitaux de Barbois" in set(locations["facility"])
    assert "CH Dax-Côte d'ARgent" in set(locations["facility"])


def test_shipped_sites_csv_ids_and_duplicates():
    sites = load_sites(DataPaths(SHIPPED_DATA_DIR))
    assert list(sites["site_id"]) == [f"{i:02d}" for i in range(1, 47)]
    for name, n in [
        ("CHU Bordeaux", 2),
        ("CHU Grenoble", 2),
        ("La Timone Hospital", 2),
        ("La Pitié-Salpêtrière", 2),
    ]:
        rows = sites[sites["facility"] == name]
        assert len(rows) == n
        assert rows["site_id"].nunique() == n


def test_site_id_normalisation():
    assert normalise_site_id("8", 2) == "08"
    assert normalise_site_id("008", 2) == "08"
    assert normalise_site_id(8.0, 2) == "08"
    assert normalise_site_id("8.0", 2) == "08"
    assert normalise_site_id("46", 2) == "46"
    assert normalise_site_id("x8", 2) is None
    assert normalise_site_id("", 2) is None
    assert normalise_site_id("7", 3) == "007"


def test_wider_ids_for_100_sites():
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    locs = study["protocolSection"]["contactsLocationsModule"]["locations"]
    study["protocolSection"]["contactsLocationsModule"]["locations"] = (locs * 3)[:120]
    _, locations = parse_study(study)
    sites = build_sites(locations)
    assert sites["site_id"].iloc[0] == "001"
    assert sites["site_id"].iloc[-1] == "120"


def test_user_columns_survive_regeneration(data_dir: Path, tmp_path: Path):
    paths = DataPaths(data_dir)
    sites = load_sites(paths)
    sites.loc[sites["site_id"] == "07", "activation_date"] = "2023-04-01"
    sites.loc[sites["site_id"] == "07", "target"] = 3
    from dashboard.sites import sites_to_csv

    paths.sites.write_text(sites_to_csv(sites.astype(object)), encoding="utf-8")
    # A newer registry file inserts a location at the top: ids shift, user data must follow the site.
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    locs = study["protocolSection"]["contactsLocationsModule"]["locations"]
    locs.insert(
        0, {"facility": "CHU Brest", "city": "Brest", "country": "France", "status": "RECRUITING"}
    )
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(study), encoding="utf-8")
    _, regenerated = import_registry(newer, paths)
    assert len(regenerated) == 47
    second_bordeaux = regenerated[regenerated["facility"] == "CHU Bordeaux"].iloc[1]
    assert second_bordeaux["site_id"] == "08"
    assert str(second_bordeaux["activation_date"])[:10] == "2023-04-01"
    assert int(second_bordeaux["target"]) == 3
    first_bordeaux = regenerated[regenerated["facility"] == "CHU Bordeaux"].iloc[0]
    assert first_bordeaux["target"] is None or str(first_bordeaux["target"]) in ("<NA>", "nan", "")


def test_all_ctgov_statuses_understood():
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    locs = study["protocolSection"]["contactsLocationsModule"]["locations"]
    for loc, status in zip(locs, LOCATION_STATUSES, strict=False):
        loc["status"] = status
    _, locations = parse_study(study)
    assert set(locations["status"]) >= set(LOCATION_STATUSES)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s["protocolSection"].pop("statusModule"), "statusModule"),
        (lambda s: s["protocolSection"]["designModule"].pop("enrollmentInfo"), "enrollmentInfo"),
        (
            lambda s: s["protocolSection"]["contactsLocationsModule"]["locations"][3].pop("city"),
            "locations[3]: missing required field city",
        ),
        (
            lambda s: s["protocolSection"]["contactsLocationsModule"]["locations"][5].update(
                status="OPEN"
            ),
            "unknown status 'OPEN'",
        ),
        (lambda s: s["protocolSection"]["identificationModule"].pop("nctId"), "nctId"),
        (
            lambda s: s["protocolSection"]["statusModule"]["startDateStruct"].update(
                date="02/02/2023"
            ),
            "not an ISO date",
        ),
    ],
)
def test_registry_import_refuses_bad_study(data_dir: Path, tmp_path: Path, mutate, message):
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    bad = copy.deepcopy(study)
    mutate(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    before = snapshot_dir(data_dir)
    result = CliRunner().invoke(
        main, ["registry", "import", str(path), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 1
    assert "nothing changed" in result.output
    assert message in result.output
    assert "bad.json" in result.output
    assert snapshot_dir(data_dir) == before


def test_registry_import_refuses_invalid_json(data_dir: Path, tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"protocolSection": {', encoding="utf-8")
    before = snapshot_dir(data_dir)
    result = CliRunner().invoke(
        main, ["registry", "import", str(path), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 1
    assert "invalid JSON at line 1" in result.output
    assert snapshot_dir(data_dir) == before


def test_registry_import_of_another_trial_in_a_new_dir(tmp_path: Path):
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    study["protocolSection"]["identificationModule"]["nctId"] = "NCT00000001"
    study["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 12
    study["protocolSection"]["contactsLocationsModule"]["locations"] = [
        {"facility": "CHU Lille", "city": "Lille", "country": "France", "status": "COMPLETED"},
        {"facility": "CHU Caen", "city": "Caen", "country": "France", "status": "WITHDRAWN"},
    ]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    target = tmp_path / "other-data"
    result = CliRunner().invoke(main, ["registry", "import", str(path), "--data-dir", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "registry" / "NCT00000001.json").exists()
    sites = load_sites(DataPaths(target))
    assert list(sites["site_id"]) == ["01", "02"]
    assert list(sites["status"]) == ["COMPLETED", "WITHDRAWN"]


def test_parse_study_rejects_non_object():
    with pytest.raises(RegistryError, match="top level"):
        parse_study([1, 2, 3])  # type: ignore[arg-type]


def test_status_changes_are_logged(data_dir: Path, tmp_path: Path):
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    locs = study["protocolSection"]["contactsLocationsModule"]["locations"]
    locs[39]["status"] = "RECRUITING"  # CHU Rouen opens
    locs[0]["status"] = "SUSPENDED"  # CH Amiens pauses
    path = tmp_path / "update.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["registry", "import", str(path), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    entries = [
        json.loads(line) for line in (data_dir / "import-log.jsonl").read_text().splitlines()
    ]
    last = entries[-1]
    assert last["kind"] == "registry" and last["result"] == "imported"
    assert [(c["site_id"], c["from"], c["to"]) for c in last["status_changes"]] == [
        ("01", "RECRUITING", "SUSPENDED"),
        ("40", "NOT_YET_RECRUITING", "RECRUITING"),
    ]


def test_status_changes_go_to_their_own_file_and_the_store_reads_them(
    data_dir: Path, tmp_path: Path
):
    """The weekly card's status events come from status-history.jsonl, not the audit log;
    a data dir whose changes are only in the log keeps them (read from there, then
    written into the file by the next registry import)."""
    from dashboard.status_history import read_status_history
    from dashboard.store import load_trial_data

    paths = DataPaths(data_dir)
    old = {
        "time": "2025-06-02T08:00:00Z",
        "kind": "registry",
        "result": "imported",
        "status_changes": [
            {"site_id": "07", "facility": "F", "city": "C", "from": "RECRUITING", "to": "SUSPENDED"}
        ],
    }
    with open(paths.import_log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(old) + "\n")
    assert not paths.status_history.exists()
    derived = [(e["date"], e["site_id"], e["to"]) for e in read_status_history(paths)]
    assert ("2025-06-02", "07", "SUSPENDED") in derived
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    study["protocolSection"]["contactsLocationsModule"]["locations"][0]["status"] = "SUSPENDED"
    path = tmp_path / "update.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["registry", "import", str(path), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in paths.status_history.read_text().splitlines()]
    assert [(e["site_id"], e["from"], e["to"]) for e in lines][-1] == (
        "01",
        "RECRUITING",
        "SUSPENDED",
    )
    assert ("2025-06-02", "07", "SUSPENDED") in [(e["date"], e["site_id"], e["to"]) for e in lines]
    # The audit log no longer feeds the card: an entry added there now is not read.
    with open(paths.import_log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**old, "time": "2025-06-09T08:00:00Z"}) + "\n")
    events = load_trial_data(data_dir).status_events
    assert [e["date"] for e in events].count("2025-06-09") == 0
    assert events == tuple(lines)


def test_a_refused_registry_file_is_logged_in_the_one_entry_shape(data_dir: Path, tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    result = CliRunner().invoke(main, ["registry", "import", str(bad), "--data-dir", str(data_dir)])
    assert result.exit_code != 0
    last = read_import_log(DataPaths(data_dir))[-1]
    assert last["result"] == "refused" and last["errors"] == 1
    assert last["reasons"] == ["bad_registry"] and len(last["messages"]) == 1


def test_geocodes_follow_their_site_when_ids_shift(data_dir: Path, tmp_path: Path):
    before = (data_dir / "geocodes.csv").read_text(encoding="utf-8").splitlines()
    brabois_before = next(line for line in before if line.startswith("46,"))
    study = json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))
    locs = study["protocolSection"]["contactsLocationsModule"]["locations"]
    locs.insert(
        0, {"facility": "CHU Brest", "city": "Brest", "country": "France", "status": "RECRUITING"}
    )
    del locs[5]  # Avicenne Hospital (old id 05) leaves the trial
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(study), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["registry", "import", str(newer), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    after = (data_dir / "geocodes.csv").read_text(encoding="utf-8").splitlines()
    # Brabois (old 46) is still the last location: new id 46 (one inserted, one removed).
    assert next(line for line in after if line.startswith("46,")) == brabois_before
    # Old 02 (CHU Angers) became 03, with the same point.
    old_02 = next(line for line in before if line.startswith("02,"))
    assert next(line for line in after if line.startswith("03,")) == "03," + old_02[3:]
    # CHU Brest (new 01) has no point yet; 46 - 1 removed = 45 rows.
    assert len(after) - 1 == 45
    assert not any(line.startswith("01,") for line in after)


def test_non_ascii_digits_are_not_site_ids():
    assert normalise_site_id("²", 2) is None
    assert normalise_site_id("٨", 2) is None


def test_sites_csv_errors_name_line_and_column():
    from dashboard.sites import SitesError, parse_sites_csv

    text = (
        "site_id,facility,city,country,status,activation_date,target\n"
        "01,CHU A,Lille,France,RECRUITING,2023-02-30,\n"
        "02,CHU B,Caen,France,OPEN,,3\n"
        "03,CHU C,Nice,France,RECRUITING,01/02/2023,x\n"
        "04,CHU D,Nice,France,RECRUITING,2023-02-01,4\n"
    )
    with pytest.raises(SitesError) as info:
        parse_sites_csv(text, "sites.csv")
    message = str(info.value)
    assert "sites.csv: line 2, column activation_date: '2023-02-30'" in message
    assert "line 3, column status: unknown status 'OPEN'" in message
    assert "line 4, column activation_date: '01/02/2023'" in message
    assert "line 4, column target: 'x'" in message
    good = parse_sites_csv(
        "site_id,facility,city,country,status,activation_date,target\n"
        "04,CHU D,Nice,France,RECRUITING,2023-02-01,4\n"
        "05,CHU E,Nice,France,RECRUITING,,\n",
        "sites.csv",
    )
    assert str(good.loc[0, "activation_date"])[:10] == "2023-02-01"
    assert int(good.loc[0, "target"]) == 4
    assert good["activation_date"].isna().tolist() == [False, True]
    assert good["target"].isna().tolist() == [False, True]


def test_atomic_writes_keep_the_file_mode(tmp_path: Path):
    import os

    from dashboard.datadir import atomic_write_text

    target = tmp_path / "sites.csv"
    atomic_write_text(target, "a\n")
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    os.chmod(target, 0o640)
    atomic_write_text(target, "b\n")
    assert target.stat().st_mode & 0o777 == 0o640
    assert target.read_text() == "b\n"


def _umask() -> int:
    import os

    current = os.umask(0)
    os.umask(current)
    return current
