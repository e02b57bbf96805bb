"""Trials other than SCLERITA: a 15-site multinational record and a German single-country one.

Expected coordinates are the cities' true positions, looked up by hand (not by the
gazetteer under test); expected counts are counted by hand from tests/data/*-export.csv.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.geocode.gazetteer import lookup_city

DATA = Path(__file__).parent / "data"
MULTI = DATA / "registry" / "NCT09000015.json"
GERMANY = DATA / "registry" / "NCT09000007.json"
MULTI_EXPORT = DATA / "NCT09000015-export.csv"

#: True city centres (lat, lon), from atlases, one per site in registry order.
MULTI_TRUE_CITY = {
    "01": (44.0121, -92.4802),  # Rochester, Minnesota (not Rochester, New York)
    "02": (45.5152, -122.6784),  # Portland, Oregon (not Portland, Maine)
    "03": (42.3601, -71.0589),  # Boston, Massachusetts
    "04": (42.2808, -83.7430),  # Ann Arbor, Michigan
    "05": (41.4993, -81.6944),  # Cleveland, Ohio
    "06": (48.1351, 11.5820),  # München
    "07": (52.5200, 13.4050),  # Berlin
    "08": (34.7595, 135.5170),  # Suita, Osaka
    "09": (35.7080, 139.7520),  # Bunkyō, Tokyo
    "10": (-23.5505, -46.6333),  # São Paulo
    "11": (-37.7840, 144.9510),  # Parkville, Melbourne
    "12": (41.3874, 2.1686),  # Barcelona
    "13": (51.5072, -0.1276),  # London, England
    "14": (42.9849, -81.2453),  # London, Ontario
    "15": (43.6532, -79.3832),  # Toronto
}
GERMANY_TRUE_CITY = {
    "01": (53.5511, 9.9937),  # Hamburg
    "02": (52.5200, 13.4050),  # Berlin
    "03": (50.9375, 6.9603),  # Köln
    "04": (49.3988, 8.6724),  # Heidelberg
    "05": (51.0504, 13.7373),  # Dresden
    "06": (48.1351, 11.5820),  # München
    "07": (50.1109, 8.6821),  # Frankfurt am Main
}


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine written out here, independent of dashboard.geocode."""
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def new_trial(tmp_path: Path, record: Path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    run("registry", "import", str(record), "--data-dir", str(data_dir))
    run("geocode", "--offline", "--data-dir", str(data_dir))
    return data_dir


def read_geocodes(data_dir: Path) -> dict[str, dict[str, str]]:
    import csv

    with (data_dir / "geocodes.csv").open(encoding="utf-8") as handle:
        return {row["site_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("record", "truth"), [(MULTI, MULTI_TRUE_CITY), (GERMANY, GERMANY_TRUE_CITY)]
)
def test_offline_geocodes_land_within_30_km_of_the_true_city(tmp_path, record, truth):
    rows = read_geocodes(new_trial(tmp_path, record))
    assert sorted(rows) == sorted(truth)
    far = {
        sid: round(km((float(r["lat"]), float(r["lon"])), truth[sid]))
        for sid, r in rows.items()
        if km((float(r["lat"]), float(r["lon"])), truth[sid]) > 30
    }
    assert far == {}


def test_registry_geopoint_is_the_city_point_and_state_picks_the_town(tmp_path):
    rows = read_geocodes(new_trial(tmp_path, MULTI))
    study = json.loads(MULTI.read_text(encoding="utf-8"))
    locations = study["protocolSection"]["contactsLocationsModule"]["locations"]
    for number, loc in enumerate(locations, start=1):
        row = rows[f"{number:02d}"]
        assert row["precision"] == "city"
        if "geoPoint" in loc:
            assert row["source"] == "registry"
            assert float(row["lat"]) == loc["geoPoint"]["lat"]
            assert float(row["lon"]) == loc["geoPoint"]["lon"]
        else:
            assert row["source"] == "gazetteer"
    # Rochester, NY is ~1,000 km from Mayo Clinic: the state must have been used.
    assert km((float(rows["01"]["lat"]), float(rows["01"]["lon"])), (43.1566, -77.6088)) > 900


def test_gazetteer_uses_state_and_alternate_names():
    cases = {
        ("Rochester", "United States", "Minnesota"): (44.0121, -92.4802),
        ("Rochester", "United States", "New York"): (43.1566, -77.6088),
        ("Portland", "United States", "Oregon"): (45.5152, -122.6784),
        ("Portland", "United States", "Maine"): (43.6591, -70.2568),
        ("London", "Canada", "Ontario"): (42.9849, -81.2453),
        ("London", "United Kingdom", None): (51.5072, -0.1276),
        ("München", "Germany", "Bayern"): (48.1351, 11.5820),
        ("Suita", "Japan", "Osaka"): (34.7595, 135.5170),
    }
    for (city, country, state), truth in cases.items():
        place = lookup_city(city, country, state)
        assert place is not None, city
        assert km((place.lat, place.lon), truth) < 30, (city, state)


def test_manual_rows_survive_a_registry_point(tmp_path):
    data_dir = new_trial(tmp_path, MULTI)
    text = (data_dir / "geocodes.csv").read_text(encoding="utf-8").splitlines()
    # Site 03 has a registry geoPoint; a person corrects it to the hospital's door.
    text = [
        "03,42.3626,-71.0695,facility,manual,typed by hand,2025-01-01T00:00:00Z"
        if line.startswith("03,")
        else line
        for line in text
    ]
    (data_dir / "geocodes.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    run("geocode", "--offline", "--refresh", "--data-dir", str(data_dir))
    row = read_geocodes(data_dir)["03"]
    assert (row["lat"], row["lon"], row["source"]) == ("42.3626", "-71.0695", "manual")


def test_summary_counts_its_own_export_exactly(tmp_path):
    data_dir = new_trial(tmp_path, MULTI)
    run(
        "import-enrollment",
        str(MULTI_EXPORT),
        "--cutoff",
        "2025-09-30",
        "--data-dir",
        str(data_dir),
    )
    out = json.loads(
        run("summary", "--json", "--as-of", "2025-09-30", "--data-dir", str(data_dir)).output
    )
    # Counted by hand from the export: 16 screened, 2 screen failures, 12 with a
    # randomization date, at 10 distinct sites.
    assert out["trial"]["nct_id"] == "NCT09000015"
    assert out["trial"]["target"] == 120
    assert out["trial"]["display_name"] == "ORKIDS"
    assert out["trial"]["last_patient_in_date"] is None  # no trial.toml: never said
    assert (out["screened"], out["screen_failed"], out["randomized"]) == (16, 2, 12)
    assert out["sites"]["total"] == 15
    assert out["sites"]["enrolling"] == 10
    assert out["sites"]["by_status"] == {
        "RECRUITING": 10,
        "NOT_YET_RECRUITING": 2,
        "ACTIVE_NOT_RECRUITING": 1,
        "SUSPENDED": 1,
        "COMPLETED": 1,
    }
    text = run("summary", "--as-of", "2025-09-30", "--data-dir", str(data_dir)).output
    assert "SCLERITA" not in text and "360" not in text

    forecast = json.loads(
        run("forecast", "--json", "--as-of", "2025-09-30", "--data-dir", str(data_dir)).output
    )
    assert forecast["randomized"] == 12 and forecast["target"] == 120
    assert forecast["last_patient_in_date"] is None
    plain = run("forecast", "--as-of", "2025-09-30", "--data-dir", str(data_dir)).output
    assert "last patient in" not in plain.lower()


def test_trial_toml_gives_the_last_patient_in_date(tmp_path):
    data_dir = new_trial(tmp_path, GERMANY)
    run("demo", "--data-dir", str(data_dir))
    meta = json.loads((data_dir / "dataset.json").read_text(encoding="utf-8"))
    # The record's last update (2025-09-15), not another trial's date.
    assert meta["data_cutoff"] == "2025-09-15"
    assert "SCLERITA" not in meta["note"]
    assert "Exercise Training After Myocardial Infarction" in meta["note"]  # no acronym
    (data_dir / "trial.toml").write_text(
        'display_name = "EXTRA-MI"\ntreatment_days = 180\n', encoding="utf-8"
    )
    out = json.loads(run("summary", "--json", "--data-dir", str(data_dir)).output)
    # 2026-12-31 − 180 days = 2026-07-04.
    assert out["trial"]["last_patient_in_date"] == "2026-07-04"
    assert out["trial"]["display_name"] == "EXTRA-MI"


def test_a_bad_trial_toml_is_refused_with_its_key(tmp_path):
    data_dir = new_trial(tmp_path, GERMANY)
    (data_dir / "trial.toml").write_text("treatment_days = -3\n", encoding="utf-8")
    result = run("validate", "--data-dir", str(data_dir), ok=False)
    assert result.exit_code == 1
    assert "trial.toml" in result.output and "treatment_days" in result.output


def test_shipped_sclerita_keeps_its_360_days(tmp_path):
    out = json.loads(run("summary", "--json").output)
    # 2026-02-28 − 360 days = 2025-03-05.
    assert out["trial"]["last_patient_in_date"] == "2025-03-05"


@pytest.mark.browser
def test_multinational_pdf_snapshot_names_its_own_trial(tmp_path):
    # Here, not in tests/browser/: a snapshot runs its own sync Playwright (see conftest).
    import re
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None or not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian chromium and poppler-utils (pdftotext)")
    data_dir = tmp_path / "data"
    runner = CliRunner()
    runner.invoke(
        main,
        ["init", str(data_dir), "--registry", str(MULTI)],
        catch_exceptions=False,
    )
    runner.invoke(
        main,
        ["import-enrollment", str(MULTI_EXPORT), "--data-dir", str(data_dir)],
        catch_exceptions=False,
    )
    out = tmp_path / "week.pdf"
    result = runner.invoke(
        main,
        ["snapshot", "--data-dir", str(data_dir), "--as-of", "2025-09-30", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "NCT09000015" in text and "ORKIDS" in text
    assert "As of 2025-09-30" in text
    assert re.search(r"\b12\s*/\s*120\b", text), "randomized / target on the KPI card"
    for wording in ("SCLERITA", "Île-de-France", "360 days", "Last patient in"):
        assert wording not in text


def test_online_answers_are_checked_against_the_registry_point_and_the_state(tmp_path):
    """Nominatim answers in the wrong Rochester / wrong Boston are rejected for the city
    point: the state picks the gazetteer's Rochester, the geoPoint is Boston's yardstick."""
    from tests.nominatim_server import FakeNominatim, Reply, serve

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    run("registry", "import", str(MULTI), "--data-dir", str(data_dir))
    rochester_ny = (43.1566, -77.6088)
    fake = FakeNominatim(default=Reply.empty())
    fake.replies["Mayo Clinic, Rochester, Minnesota, United States"] = Reply.point(*rochester_ny)
    # Boston, Lincolnshire (England): 5,000 km from the registry's Boston point.
    fake.replies["Massachusetts General Hospital, Boston, Massachusetts, United States"] = (
        Reply.point(52.9789, -0.0266)
    )
    # Cleveland Clinic's main campus, 3 km from the registry's Cleveland point: accepted.
    fake.replies["Cleveland Clinic, Cleveland, Ohio, United States"] = Reply.point(
        41.5031, -81.6211
    )
    with serve(fake) as server:
        result = run(
            "geocode",
            "--nominatim-url",
            server.url,
            "--min-delay",
            "0",
            "--data-dir",
            str(data_dir),
        )
    rows = read_geocodes(data_dir)
    assert "rejected" in result.output
    mayo = (float(rows["01"]["lat"]), float(rows["01"]["lon"]))
    assert km(mayo, MULTI_TRUE_CITY["01"]) < 30 and rows["01"]["source"] == "gazetteer"
    boston = rows["03"]
    assert (boston["source"], boston["precision"]) == ("registry", "city")
    assert km((float(boston["lat"]), float(boston["lon"])), MULTI_TRUE_CITY["03"]) < 30
    cleveland = rows["05"]
    assert (cleveland["source"], cleveland["precision"]) == ("nominatim", "facility")
    for sid, truth in MULTI_TRUE_CITY.items():
        point = (float(rows[sid]["lat"]), float(rows[sid]["lon"]))
        assert km(point, truth) < 30, sid


def test_locations_without_a_status_are_imported_and_drawn(tmp_path):
    """Older records give no status for some locations: imported as UNKNOWN, not refused."""
    from dashboard import metrics
    from dashboard.figures.map import site_map_figure
    from dashboard.store import load_trial_data

    study = json.loads(GERMANY.read_text(encoding="utf-8"))
    for loc in study["protocolSection"]["contactsLocationsModule"]["locations"][:2]:
        del loc["status"]
    record = tmp_path / "NCT09000007.json"
    record.write_text(json.dumps(study), encoding="utf-8")
    data_dir = new_trial(tmp_path, record)
    out = json.loads(run("summary", "--json", "--data-dir", str(data_dir)).output)
    # 7 locations: 2 without status; of the rest 3 recruiting, 1 not yet, 1 withdrawn.
    assert out["sites"]["by_status"] == {
        "RECRUITING": 3,
        "NOT_YET_RECRUITING": 1,
        "WITHDRAWN": 1,
        "UNKNOWN": 2,
    }
    data = load_trial_data(data_dir, strict=True)
    table = metrics.site_table(data.sites, data.geocodes, data.enrollment, "2025-09-15")
    fig = site_map_figure(table, metrics.status_counts(data.sites))
    names = {t.name for t in fig.data if t.type == "scattergeo" and t.mode == "markers"}
    assert "Status not given (2)" in names
