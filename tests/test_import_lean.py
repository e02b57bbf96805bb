"""The import command stays lean, and reading cells as codes loses no check.

Why: ``recruitment-dashboard import-enrollment`` is benchmarked against a bare
``pandas.read_csv`` (bench/bench_import.py); loading the web stack (Dash, Plotly, Flask,
SciPy) would cost it more than all the checks together, and would come back silently if
a module-level import crept in. The body of an export is read as distinct values and
codes; the checks that used to look at every cell must still see every cell.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from dashboard.datadir import DataPaths
from dashboard.enrollment import EnrollmentError
from dashboard.imports import import_enrollment

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 1, 15)
WEB_STACK = ("dash", "plotly", "flask", "scipy", "dash_ag_grid", "dash_bootstrap_components")

_RUN_AND_LIST_MODULES = """
import json, sys
from dashboard.cli import main
sys.argv = ["recruitment-dashboard", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_import_command_does_not_load_the_web_stack(tmp_path: Path, data_dir: Path):
    export = tmp_path / "export.csv"
    export.write_bytes(
        "N° patient;N° centre;Date de screening;Date de randomisation;Statut\r\n"
        "P-1;8;03/01/2024;15/01/2024;Randomisé\r\n".encode("cp1252")
    )
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, "import-enrollment", str(export)]
        + ["--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    loaded = {name.split(".")[0] for name in report["modules"]}
    assert not loaded & set(WEB_STACK), sorted(loaded & set(WEB_STACK))
    # Nor the parts of the package only the registry import, the demo or the views use.
    unneeded = {
        "dashboard.geocode",
        "dashboard.trial_settings",
        "dashboard.metrics",
        "dashboard.app",
    }
    assert not unneeded & set(report["modules"]), sorted(unneeded & set(report["modules"]))
    assert (data_dir / "enrollment.csv").read_text().startswith("patient_id,")


def _workbook(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_values_right_of_the_last_header_are_refused_unprinted(tmp_path: Path, data_dir: Path):
    """A workbook cell right of the last named column is an unnamed column with values:
    refused like the CSV one (it could hold the allocation), its value never quoted."""
    header = ["Patient", "Site", "Screening date", "Randomization date", "Status"]
    export = tmp_path / "iwrs.xlsx"
    export.write_bytes(
        _workbook(
            [
                header,
                ["P1", 8, dt.date(2024, 1, 3), None, "Screening"],
                ["P2", 8, dt.date(2024, 1, 4), dt.date(2024, 1, 9), "Randomized", "KIT-4471"],
            ]
        )
    )
    before = (data_dir / "enrollment.csv").read_bytes()
    with pytest.raises(EnrollmentError) as info:
        import_enrollment(export, DataPaths(data_dir), today=TODAY)
    (error,) = info.value.errors
    assert "line 3, column number 6" in error and "no header" in error, error
    assert "KIT-4471" not in error
    assert (data_dir / "enrollment.csv").read_bytes() == before
    log = (data_dir / "import-log.jsonl").read_text()
    assert "unnamed_column" in log and "KIT-4471" not in log


def test_blank_cells_right_of_the_last_header_are_fine(tmp_path: Path, data_dir: Path):
    header = ["Patient", "Site", "Screening date", "Randomization date", "Status"]
    export = tmp_path / "iwrs.xlsx"
    export.write_bytes(
        _workbook(
            [
                header,
                ["P1", 8, dt.date(2024, 1, 3), None, "Screening", None, "  "],
                ["P2", 8, dt.date(2024, 1, 4), dt.date(2024, 1, 9), "Randomized"],
            ]
        )
    )
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    assert (report["rows"], report["randomized"]) == (2, 1)


def test_status_spellings_are_listed_in_file_order(tmp_path: Path, data_dir: Path):
    """Distinct values come from the parser sorted; the notice keeps the file's order."""
    export = tmp_path / "export.csv"
    export.write_bytes(
        (
            "N° patient;N° centre;Date de screening;Date de randomisation;Statut\r\n"
            "P-1;8;03/01/2024;15/01/2024;Terminé\r\n"
            "P-2;8;04/01/2024;;Échec de screening\r\n"
            "P-3;8;05/01/2024;16/01/2024;Randomisé\r\n"
            "P-4;8;06/01/2024;17/01/2024;Randomisé\r\n"
        ).encode("cp1252")
    )
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    (notice,) = [n for n in report["notices"] if n.startswith("status spellings read")]
    assert notice == (
        "status spellings read: 'Terminé' → COMPLETED (1 row(s)), "
        "'Échec de screening' → SCREEN_FAILED (1 row(s)), 'Randomisé' → RANDOMIZED (2 row(s))"
    )
