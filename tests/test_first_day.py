"""A new user's first day, the path README's "Your own trial data, first day" follows.

Copy the shipped data dir, type some activation dates and a site target into sites.csv,
import a real-style export (French Excel CSV, UTF-8 with BOM and commas, tab-separated
Latin-1, .xlsx), then look at the page, the forecast and the summary as of dates before
the start, at the cut-off and long after it. Nothing typed may be lost; ``demo`` must not
replace real data; ``/health`` and ``serve`` must tell the truth.

The export holds six patients, counted by hand:

=====  ====  ==========  =============  =============
id     site  screening   randomization  status
=====  ====  ==========  =============  =============
R-01   08    2024-01-08  2024-01-22     randomized
R-02   08    2024-02-05  —              screen failed
R-03   12    2024-02-19  2024-03-04     randomized
R-04   22    2024-03-11  2024-03-25     withdrawn
R-05   31    2024-04-15  2024-04-29     randomized (site 31: NOT_YET_RECRUITING in the registry)
R-06   12    2024-05-13  —              screening
=====  ====  ==========  =============  =============

Cut-off 2024-05-31: screened 6, screen failed 1, randomized 4. As of 2024-02-29: screened
3, screen failed 1, randomized 1. Before the start (2022-12-01): nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from dashboard.app import create_app
from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths, read_import_log
from dashboard.page import ids as ids_module
from dashboard.store import load_trial_data
from tests.helpers import (
    CUTOFF,
    FRENCH_STATUS,
    PATIENTS,
    TYPED,
    _fr,
    drive_every_callback,
    french_excel_csv,
    snapshot_dir,
    type_into_sites,
)

#: (as-of, screened, screen failed, randomized), by hand from the table above.
HAND_COUNTS = [
    ("2022-12-01", 0, 0, 0),  # before the trial start (2023-02-02)
    ("2024-02-29", 3, 1, 1),
    (CUTOFF, 6, 1, 4),
    ("2024-09-30", 6, 1, 4),  # 122 days after the cut-off
]


def bom_comma_csv() -> bytes:
    lines = ["Subject ID,Site,Screening date,Randomization date,Status"]
    lines += [
        f"{p},{s.zfill(2)},{a.isoformat()},{b.isoformat() if b else ''},{st.title()}"
        for p, s, a, b, st in PATIENTS
    ]
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def tab_latin1() -> bytes:
    lines = ["N° patient\tN° centre\tDate d'inclusion\tDate de randomisation\tStatut"]
    lines += [f"{p}\t{s}\t{_fr(a)}\t{_fr(b)}\t{FRENCH_STATUS[st]}" for p, s, a, b, st in PATIENTS]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Patient", "Site", "Date de sélection", "Date de randomisation", "Statut"])
    for p, s, a, b, st in PATIENTS:
        sheet.append([p, int(s), a, b, FRENCH_STATUS[st]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


EXPORTS = {
    "french-excel.csv": french_excel_csv,
    "utf8-bom-commas.csv": bom_comma_csv,
    "tab-latin1.txt": tab_latin1,
    "export.xlsx": xlsx,
}


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def warnings_of(command: str, data_dir: Path, as_of: str, *extra: str) -> dict:
    result = run(command, "--data-dir", str(data_dir), "--as-of", as_of, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ----------------------------------------------------------------------------- the first import
@pytest.mark.parametrize("typed", [{}, TYPED], ids=["no-activation-dates", "some-typed"])
@pytest.mark.parametrize("export_name", list(EXPORTS))
def test_first_import_then_every_view(
    tmp_path: Path, data_dir: Path, export_name: str, typed: dict
) -> None:
    sites_before = type_into_sites(data_dir, typed)
    export = tmp_path / export_name
    export.write_bytes(EXPORTS[export_name]())
    result = run("import-enrollment", str(export), "--data-dir", str(data_dir), "--cutoff", CUTOFF)
    assert result.exit_code == 0, result.output
    assert "Imported 6 patients" in result.stdout
    assert "31 (NOT_YET_RECRUITING)" in result.stderr  # the registry lags: said at import
    # What the user typed is byte-identical; the demo's made-up dates are gone.
    assert (data_dir / "sites.csv").read_bytes() == sites_before
    assert not (data_dir / "synthetic-activation.csv").exists()
    data = load_trial_data(data_dir, strict=True)
    typed_dates = {k: v[0] for k, v in typed.items()}
    for site_id, activation in zip(
        data.sites["site_id"], data.sites["activation_date"], strict=True
    ):
        expected = typed_dates.get(site_id)
        assert (None if activation != activation else activation.date().isoformat()) == expected

    app = create_app(data_dir, auth=None, forecast_paths=200)
    client = app.server.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    for as_of, screened, failed, randomized in HAND_COUNTS:
        s = warnings_of("summary", data_dir, as_of)
        assert (s["screened"], s["screen_failed"], s["randomized"]) == (
            screened,
            failed,
            randomized,
        )
        f = warnings_of("forecast", data_dir, as_of, "--paths", "200")
        assert f["randomized"] == randomized
        # Warnings only before the start and long after the cut-off.
        assert bool(s["warnings"]) == (as_of in ("2022-12-01", "2024-09-30"))
        assert bool(f["warnings"]) == (as_of in ("2022-12-01", "2024-09-30"))
        if as_of == "2024-09-30":
            assert f["as_of"] == CUTOFF  # made from the cut-off, and said so
            assert any("made from the data cut-off 2024-05-31" in w for w in f["warnings"])
            assert any("unknown, not zero" in w for w in s["warnings"])
        if as_of == "2022-12-01":
            assert any("before the trial start" in w for w in f["warnings"])

        for what in ("sites", "accrual"):
            out = tmp_path / f"{what}-{as_of}.csv"
            result = run(
                "export",
                "--data-dir",
                str(data_dir),
                "--as-of",
                as_of,
                "--what",
                what,
                "--out",
                str(out),
            )
            assert result.exit_code == 0, result.output
        assert len(out.read_text(encoding="utf-8-sig").splitlines()) == (
            1 + (dt.date.fromisoformat(as_of) - dt.date(2023, 2, 2)).days + 1
            if as_of >= "2023-02-02"
            else 1
        )  # the accrual export: one row per day from the trial start, none before it
        replies = drive_every_callback(client, as_of, "12")
        refresh = next(
            v
            for k, v in replies.items()
            if k.startswith(f"{ids_module.AS_OF}.value->") and f"{ids_module.GRID}.rowData" in k
        )["response"]
        rows = {r["site_id"]: r for r in refresh[ids_module.GRID]["rowData"]}
        assert sum(r["randomized"] for r in rows.values()) == randomized
        assert sum(r["screened"] for r in rows.values()) == screened
        lagging = "registry says not yet recruiting" in rows["31"]["flag"]
        assert lagging == (as_of >= "2024-04-15")  # R-05 screened there that day
        if typed and as_of >= "2024-03-04":
            assert "activation date after first randomization" in rows["12"]["flag"]
        else:
            assert "activation date after" not in rows["12"]["flag"]
        alerts = json.dumps(refresh[ids_module.ALERTS])
        for warning in s["warnings"]:
            assert json.dumps(warning)[1:-1] in alerts  # the page says the same words


# ----------------------------------------------------------------------------- nothing typed lost
def test_typed_values_survive_import_registry_import_and_demo(tmp_path: Path, data_dir: Path):
    typed = type_into_sites(data_dir, TYPED)
    # On the shipped demo data: the typed dates win over the demo's made-up ones.
    data = load_trial_data(data_dir)
    assert data.synthetic
    by_site = dict(zip(data.sites["site_id"], data.sites["activation_date"], strict=True))
    assert by_site["08"].date().isoformat() == "2023-11-15"
    assert by_site["01"].date().isoformat() == "2023-03-16"  # the demo's

    result = run("demo", "--data-dir", str(data_dir), "--seed", "4")  # still synthetic: fine
    assert result.exit_code == 0, result.output
    assert (data_dir / "sites.csv").read_bytes() == typed
    export = tmp_path / "export.csv"
    export.write_bytes(french_excel_csv())
    assert run("import-enrollment", str(export), "--data-dir", str(data_dir)).exit_code == 0
    assert (data_dir / "sites.csv").read_bytes() == typed
    registry = SHIPPED_DATA_DIR / "registry" / "NCT04789850.json"
    result = run("registry", "import", str(registry), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert (data_dir / "sites.csv").read_bytes() == typed
    log = [e for e in read_import_log(DataPaths(data_dir)) if e.get("kind") == "enrollment"]
    assert log[-1]["removed"] == ["synthetic-activation.csv"]


def test_demo_refuses_to_replace_a_real_enrollment(tmp_path: Path, data_dir: Path):
    export = tmp_path / "export.csv"
    export.write_bytes(french_excel_csv())
    assert run("import-enrollment", str(export), "--data-dir", str(data_dir)).exit_code == 0
    before = snapshot_dir(data_dir)
    result = run("demo", "--data-dir", str(data_dir))
    assert result.exit_code != 0
    assert "--force" in result.output
    assert snapshot_dir(data_dir) == before  # nothing changed (but the log line)
    assert read_import_log(DataPaths(data_dir))[-1]["result"] == "refused"

    real = (data_dir / "enrollment.csv").read_bytes()
    result = run("demo", "--data-dir", str(data_dir), "--force")
    assert result.exit_code == 0, result.output
    backups = sorted(data_dir.glob("enrollment.csv.*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == real
    entry = read_import_log(DataPaths(data_dir))[-1]
    assert entry["kind"] == "demo" and entry["result"] == "imported"
    assert entry["backup"] == backups[0].name
    assert entry["replaced"]["data_cutoff"] == "2024-05-13"  # the latest date in the file
    assert load_trial_data(data_dir).synthetic
    assert (data_dir / "sites.csv").read_bytes() == before["sites.csv"]


# ----------------------------------------------------------------------------- honest about time
def test_warnings_at_the_cut_off_before_the_start_and_long_after(tmp_path: Path, data_dir: Path):
    export = tmp_path / "export.csv"
    export.write_bytes(french_excel_csv())
    run("import-enrollment", str(export), "--data-dir", str(data_dir), "--cutoff", CUTOFF)
    for command in ("summary", "forecast"):
        extra = ("--paths", "200") if command == "forecast" else ()
        assert warnings_of(command, data_dir, CUTOFF, *extra)["warnings"] == []
        assert warnings_of(command, data_dir, "2023-01-15", *extra)["warnings"]
        assert warnings_of(command, data_dir, "2024-06-15", *extra)["warnings"][0].startswith(
            "Data cut-off 2024-05-31 is 15 days"
        )
    past_by = warnings_of("forecast", data_dir, CUTOFF, "--paths", "200", "--by", "2024-05-01")
    assert past_by["warnings"] == [
        "The --by date 2024-05-01 is already past at the as-of date 2024-05-31."
    ]
    text = run("forecast", "--data-dir", str(data_dir), "--as-of", "2024-09-30", "--paths", "200")
    assert "Warning: Forecast made from the data cut-off 2024-05-31" in text.stdout
    text = run("summary", "--data-dir", str(data_dir), "--as-of", "2022-12-01")
    assert "Warning: The as-of date 2022-12-01 is before the trial start 2023-02-02" in text.stdout


def test_a_registry_without_enrollment_says_what_to_do_next(tmp_path: Path):
    root = tmp_path / "data"
    registry = SHIPPED_DATA_DIR / "registry" / "NCT04789850.json"
    assert run("registry", "import", str(registry), "--data-dir", str(root)).exit_code == 0
    shutil.copy(SHIPPED_DATA_DIR / "geocodes.csv", root / "geocodes.csv")
    client = create_app(root, auth=None, forecast_paths=200).server.test_client()
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "No enrollment imported yet" in layout and "import-enrollment" in layout
    assert client.get("/health").status_code == 200
    summary = warnings_of("summary", root, "2023-06-01")
    assert summary["randomized"] == 0


# ----------------------------------------------------------------------------- the server
def test_health_is_503_with_a_safe_reason_when_the_data_dir_does_not_load(data_dir: Path):
    secret = "CHU-SECRET-VALUE"
    app = create_app(data_dir, auth=None, forecast_paths=200)
    client = app.server.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/_dash-layout").status_code == 200  # good data loaded once
    with open(data_dir / "sites.csv", "a", encoding="utf-8") as handle:
        handle.write(f"99,{secret},Paris,France,NOT_A_STATUS,,\n")
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "sites.csv" in body and secret not in body and str(data_dir) not in body
    assert "NOT_A_STATUS" not in body

    broken = create_app(data_dir, auth=None, forecast_paths=200).server.test_client()
    response = broken.get("/health")  # never loaded at all
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "sites.csv" in body and secret not in body and str(data_dir) not in body


def test_serve_on_a_missing_or_empty_data_dir_explains(tmp_path: Path):
    missing = tmp_path / "no-such-dir"
    result = run("serve", "--data-dir", str(missing))
    assert result.exit_code == 2
    assert "No data directory at" in result.output and str(missing) in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("serve", "--data-dir", str(empty))
    assert result.exit_code == 2
    assert "First steps" in result.output
    assert "registry import" in result.output and "import-enrollment" in result.output


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("pdftotext") is None or not Path("/usr/bin/chromium").exists(),
    reason="needs Debian chromium and poppler-utils",
)
def test_snapshot_long_after_the_cut_off_with_no_activation_dates(tmp_path: Path, data_dir: Path):
    export = tmp_path / "export.csv"
    export.write_bytes(french_excel_csv())
    run("import-enrollment", str(export), "--data-dir", str(data_dir), "--cutoff", CUTOFF)
    no_dates_dir = data_dir
    out = tmp_path / "first-day.pdf"
    result = CliRunner().invoke(
        main,
        ["snapshot", "--data-dir", str(no_dates_dir), "--as-of", "2024-09-30", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "unknown, not zero" in text
    assert "made from the data cut-off 2024-05-31" in text
