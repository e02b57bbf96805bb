"""Importing an EDC/IWRS enrollment export: what is accepted, what is refused, and how.

Every export is written by the test itself, as bytes, the way the tool in question writes
it (French Excel: ``;``, Windows-1252, DD/MM/YYYY, site ids without leading zeros). The
expected counts are computed by hand in the comments and written as literals.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths, read_dataset_meta, read_import_log
from dashboard.enrollment import (
    EnrollmentError,
    classify_header,
    enrollment_to_csv,
    load_enrollment,
    normalise_status,
    parse_canonical_csv,
)
from dashboard.enrollment.checks import MAX_LISTED_ERRORS
from dashboard.enrollment.edc_reader import Limits
from dashboard.imports import import_enrollment
from dashboard.metrics import counts
from dashboard.store import load_trial_data
from tests.helpers import snapshot_dir

TODAY = dt.date(2026, 1, 15)  # passed as ``today`` so the tests never age

# ----------------------------------------------------------------------------- helpers
FRENCH_HEADER = (
    "N° patient;N° centre;Centre investigateur;Date de screening;Date de randomisation;Statut"
)
# Seven patients. By hand:
#   as of 2024-02-29: screened P-001, P-002, P-003, P-004 = 4; screen failed P-002, P-004 = 2;
#                     randomized P-001 (15/01), P-003 (20/02) = 2
#   as of 2024-03-31: screened + P-005 (01/03), P-006 (25/03) = 6; screen failed 2;
#                     randomized + P-005 (18/03, withdrawn later) = 3
#   at the cut-off (latest date 16/04/2024): screened 7, screen failed 2, randomized 4
FRENCH_ROWS = [
    "P-001;8;Hôpital Nord;03/01/2024;15/01/2024;Randomisé",
    "P-002;8;Hôpital Nord;10/01/2024;;Screen failed",
    "P-003;12;Hôpital Sud;5/2/2024;20/02/2024;Randomized",
    "P-004;22;Hôpital Européen;12/02/2024;;Échec de screening",
    "P-005;3;Clinique Sainte-Thérèse;01/03/2024;18/03/2024;Withdrawn",
    "P-006;12;Hôpital Sud;25/03/2024;;Screening",
    "P-007;45;CHU Île-de-France;02/04/2024;16/04/2024;completed",
]


def french_bytes(rows: list[str] | None = None, header: str = FRENCH_HEADER) -> bytes:
    """An export as French Excel saves "CSV (séparateur: point-virgule)"."""
    lines = [header, *(FRENCH_ROWS if rows is None else rows)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def without_log(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in snapshot.items() if k != "import-log.jsonl"}


def refuse(path: Path, data_dir: Path, **kwargs) -> list[str]:
    """Import expecting a refusal; check nothing but the log changed; return the errors."""
    before = snapshot_dir(data_dir)
    log_before = len(read_import_log(DataPaths(data_dir)))
    with pytest.raises(EnrollmentError) as info:
        import_enrollment(path, DataPaths(data_dir), today=TODAY, **kwargs)
    assert without_log(snapshot_dir(data_dir)) == without_log(before)
    log = read_import_log(DataPaths(data_dir))
    assert len(log) == log_before + 1
    assert log[-1]["result"] == "refused"
    assert log[-1]["errors"] == len(info.value.errors)
    assert info.value.errors
    for error in info.value.errors:
        assert path.name in error, error
    return info.value.errors


def one_error(errors: list[str], *needles: str) -> str:
    """The single error mentioning every needle."""
    found = [e for e in errors if all(n in e for n in needles)]
    assert len(found) == 1, (needles, errors)
    return found[0]


def cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def summary_counts(data_dir: Path, as_of: str) -> tuple[int, int, int]:
    result = cli("summary", "--json", "--as-of", as_of, "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data["screened"], data["screen_failed"], data["randomized"]


def enrollment_counts(data_dir: Path, as_of: str) -> tuple[int, int, int]:
    c = counts(load_enrollment(DataPaths(data_dir)), as_of)
    return c.screened, c.screen_failed, c.randomized


# ----------------------------------------------------------------------------- accepted
def test_french_excel_export_imports_with_hand_counted_numbers(tmp_path: Path, data_dir: Path):
    export = write(tmp_path, "export-sites.csv", french_bytes())
    result = cli("import-enrollment", str(export), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "Imported 7 patients from export-sites.csv; data cut-off 2024-04-16." in result.stdout
    # The informative column is named in a notice; its values are not.
    assert "Centre investigateur" in result.stderr
    assert "Hôpital" not in result.output

    assert enrollment_counts(data_dir, "2024-02-29") == (4, 2, 2)
    assert enrollment_counts(data_dir, "2024-03-31") == (6, 2, 3)
    assert summary_counts(data_dir, "2024-02-29") == (4, 2, 2)
    assert summary_counts(data_dir, "2024-03-31") == (6, 2, 3)
    assert summary_counts(data_dir, "2024-04-16") == (7, 2, 4)

    text = (data_dir / "enrollment.csv").read_text(encoding="utf-8")
    assert text.splitlines() == [
        "patient_id,site_id,screening_date,randomization_date,status",
        "P-001,08,2024-01-03,2024-01-15,RANDOMIZED",
        "P-002,08,2024-01-10,,SCREEN_FAILED",
        "P-003,12,2024-02-05,2024-02-20,RANDOMIZED",
        "P-004,22,2024-02-12,,SCREEN_FAILED",
        "P-005,03,2024-03-01,2024-03-18,WITHDRAWN",
        "P-006,12,2024-03-25,,SCREENING",
        "P-007,45,2024-04-02,2024-04-16,COMPLETED",
    ]
    # What we write is exactly what the package's own writer would write.
    assert text == enrollment_to_csv(parse_canonical_csv(text, "enrollment.csv"))

    meta = read_dataset_meta(DataPaths(data_dir))
    assert meta["synthetic"] is False
    assert meta["data_cutoff"] == "2024-04-16"
    assert "activation_dates_synthetic" not in meta
    assert "note" not in meta  # the demo's "synthetic" note must not survive
    # The demo's made-up activation dates lived in their own file: it is gone, and
    # sites.csv (the user's) is exactly as shipped.
    assert not (data_dir / "synthetic-activation.csv").exists()
    assert (data_dir / "sites.csv").read_bytes() == (SHIPPED_DATA_DIR / "sites.csv").read_bytes()
    assert load_trial_data(data_dir).sites["activation_date"].isna().all()

    data = load_trial_data(data_dir)
    assert not data.synthetic
    assert data.data_cutoff == dt.date(2024, 4, 16)
    assert not [p for p in data.problems if p.startswith("enrollment.csv")]


def test_report_and_notices(tmp_path: Path, data_paths: DataPaths):
    export = write(tmp_path, "fr.csv", french_bytes())
    report = import_enrollment(export, data_paths, today=TODAY)
    assert report["rows"] == 7
    assert report["data_cutoff"] == "2024-04-16"
    assert report["randomized"] == 4
    assert report["screen_failed"] == 2
    notices = "\n".join(report["notices"])
    assert "separator ';'" in notices and "Windows-1252" in notices
    assert "'Centre investigateur'" in notices
    assert "'Randomisé' → RANDOMIZED (1 row(s))" in notices
    assert "'Échec de screening' → SCREEN_FAILED" in notices
    assert "synthetic" in notices
    for value in ("Hôpital", "Clinique", "Île"):
        assert value not in notices


def test_cutoff_option_is_recorded(tmp_path: Path, data_dir: Path):
    export = write(tmp_path, "fr.csv", french_bytes())
    result = cli(
        "import-enrollment", str(export), "--data-dir", str(data_dir), "--cutoff", "2024-05-01"
    )
    assert result.exit_code == 0, result.output
    assert read_dataset_meta(DataPaths(data_dir))["data_cutoff"] == "2024-05-01"
    assert summary_counts(data_dir, "2024-05-01") == (7, 2, 4)


def test_xlsx_with_real_date_cells_and_text_dates(tmp_path: Path, data_dir: Path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Export IWRS"
    sheet.append(
        ["Subject ID", "Site", "Nom du centre", "Screening date", "Randomization date", "Status"]
    )
    # Real date cells (datetime, date), ISO text, French text, an int and a float site id.
    sheet.append(
        ["S-1", 8, "Hôpital Nord", dt.datetime(2024, 1, 3), dt.date(2024, 1, 15), "RANDOMIZED"]
    )
    sheet.append(["S-2", "08", "Hôpital Nord", "2024-01-10", None, "SCREEN_FAILED"])
    sheet.append(["S-3", 12.0, "Hôpital Sud", "05/02/2024", "2024-02-20", "Randomised"])
    sheet.append(["S-4", 3, "Clinique", dt.date(2024, 3, 1), "18/3/2024", "withdrawn"])
    sheet.append([None, None, None, None, None, None])  # an empty row in the middle
    sheet.append(["S-5", 45, "CHU", dt.date(2024, 3, 20), None, "screening"])
    workbook.create_sheet("Notes")
    buffer = io.BytesIO()
    workbook.save(buffer)
    export = write(tmp_path, "iwrs.xlsx", buffer.getvalue())
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    # By hand: as of 2024-02-29 screened S-1, S-2, S-3 = 3; failed S-2 = 1; randomized S-1, S-3 = 2.
    #          as of 2024-03-31 screened 5; failed 1; randomized + S-4 (18/03) = 3.
    assert enrollment_counts(data_dir, "2024-02-29") == (3, 1, 2)
    assert enrollment_counts(data_dir, "2024-03-31") == (5, 1, 3)
    assert report["data_cutoff"] == "2024-03-20"
    notices = "\n".join(report["notices"])
    assert "'Nom du centre'" in notices  # informative, not refused as a "nom" (name)
    assert "'Notes'" in notices  # the ignored second sheet is named
    assert "1 row(s) without patient data skipped" in notices
    assert "'Randomised' → RANDOMIZED" in notices
    lines = (data_dir / "enrollment.csv").read_text().splitlines()
    assert lines[1] == "S-1,08,2024-01-03,2024-01-15,RANDOMIZED"
    assert lines[3] == "S-3,12,2024-02-05,2024-02-20,RANDOMIZED"


def test_tab_separated_utf8_bom(tmp_path: Path, data_dir: Path):
    text = (
        "Patient_ID\tSITE ID\tScreening-Date\tRANDOMIZATION_DATE\tStatus\n"
        "A1\t1\t2024-06-01\t2024-06-20\tRANDOMISED\n"
        "A2\t001\t2024-06-02\t\tscreen_failed\n"
        "A3\t46\t2024-07-01\t2024-07-02\tRandomized\n"
        "A4\t46\t2024-07-03\t\tSCREENING\n"
    )
    export = write(tmp_path, "iwrs.tsv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    assert "tab" in report["notices"][0] and "UTF-8" in report["notices"][0]
    # By hand: as of 2024-06-30: screened A1, A2 = 2; failed A2 = 1; randomized A1 = 1.
    #          as of 2024-07-31: screened 4; failed 1; randomized A1, A3 = 2.
    assert enrollment_counts(data_dir, "2024-06-30") == (2, 1, 1)
    assert enrollment_counts(data_dir, "2024-07-31") == (4, 1, 2)
    assert (data_dir / "enrollment.csv").read_text().splitlines()[
        2
    ] == "A2,01,2024-06-02,,SCREEN_FAILED"


def test_comma_separated_with_quotes_and_spaces(tmp_path: Path, data_dir: Path):
    text = (
        "\r\n"  # a leading blank line: the header is on line 2
        "patient_id,site_id,screening_date,randomization_date,status,Centre\r\n"
        '"B,1", 08 ,2024-01-05, ,Screening,"Nord, Lille"\r\n'
        '" B3 ",8,2024-01-05,,Screening,\r\n'
        '"B""2",8,06/01/2024,07/01/2024,Randomized,\r\n'
    )
    export = write(tmp_path, "b.csv", text.encode("utf-8"))
    import_enrollment(export, DataPaths(data_dir), today=TODAY)
    enrollment = load_enrollment(DataPaths(data_dir))
    assert enrollment["patient_id"].tolist() == ["B,1", "B3", 'B"2']
    assert enrollment["site_id"].tolist() == ["08", "08", "08"]


def test_utf16_unicode_text_from_excel(tmp_path: Path, data_dir: Path):
    text = "N° patient\tN° centre\tDate de sélection\tDate de randomisation\tStatut\r\n"
    text += "U1\t5\t02/01/2024\t\tEn screening\r\n"
    export = write(tmp_path, "unicode.txt", text.encode("utf-16"))
    import_enrollment(export, DataPaths(data_dir), today=TODAY)
    assert enrollment_counts(data_dir, "2024-01-31") == (1, 0, 0)


def test_reimport_replaces_the_previous_enrollment(tmp_path: Path, data_dir: Path):
    first = write(tmp_path, "first.csv", french_bytes())
    import_enrollment(first, DataPaths(data_dir), today=TODAY)
    sites_after_first = (data_dir / "sites.csv").read_bytes()
    second = write(tmp_path, "second.csv", french_bytes(FRENCH_ROWS[:2]))
    import_enrollment(second, DataPaths(data_dir), today=TODAY)
    assert enrollment_counts(data_dir, "2024-12-31") == (2, 1, 1)
    # sites.csv is never written by an import.
    assert (data_dir / "sites.csv").read_bytes() == sites_after_first


@pytest.mark.parametrize(
    ("label", "canon"),
    [
        ("patient_id", "patient_id"),
        ("N° patient", "patient_id"),
        ("Nº Patient", "patient_id"),
        ("USUBJID", "patient_id"),
        ("Site", "site_id"),
        ("N° centre", "site_id"),
        ("Numéro de centre", "site_id"),
        ("site-id", "site_id"),
        ("Date de sélection", "screening_date"),
        ("DATE_DE_SCREENING", "screening_date"),
        ("Screening date", "screening_date"),
        ("Date de randomisation", "randomization_date"),
        ("Randomisation Date", "randomization_date"),
        ("Statut", "status"),
        ("STATUS", "status"),
    ],
)
def test_header_aliases(label: str, canon: str):
    assert classify_header(label) == ("used", canon)


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("Arm", "blind"),
        ("ARMCD", "blind"),
        ("Treatment arm", "blind"),
        ("TreatmentArm", "blind"),
        ("TRT01P", "blind"),
        ("Treatment", "blind"),
        ("Traitement", "blind"),
        ("Bras", "blind"),
        ("Bras de traitement", "blind"),
        ("Groupe", "blind"),
        ("Group", "blind"),
        ("Allocation", "blind"),
        ("Kit number", "blind"),
        ("N° de kit", "blind"),
        ("KITNO", "blind"),
        ("Box", "blind"),
        ("N° de boîte", "blind"),
        ("Lot", "blind"),
        ("Randomisation arm", "blind"),
        ("Nom", "identifier"),
        ("Prénom", "identifier"),
        ("First name", "identifier"),
        ("LASTNAME", "identifier"),
        ("Nom du patient", "identifier"),
        ("Date de naissance", "identifier"),
        ("Birth date", "identifier"),
        ("DOB", "identifier"),
        ("DDN", "identifier"),
        ("NIR", "identifier"),
        ("Numéro de sécurité sociale", "identifier"),
        ("Social security number", "identifier"),
        ("IPP", "identifier"),
        ("Adresse", "identifier"),
        ("Address", "identifier"),
        ("Téléphone", "identifier"),
        ("Phone", "identifier"),
        ("E-mail", "identifier"),
        ("email", "identifier"),
        ("Courriel", "identifier"),
        ("Centre", "used"),  # a site number when alone; ignored beside "N° centre"
        ("Nom du centre", "ignored"),
        ("Centre investigateur", "ignored"),
        ("Hôpital", "ignored"),
        ("Department", "ignored"),
        ("Pharmacy", "ignored"),
        ("Commentaire", "ignored"),
        ("Randomization number", "ignored"),
        ("Harmonised visit", "ignored"),
        ("", "unnamed"),
    ],
)
def test_header_classification(label: str, kind: str):
    assert classify_header(label)[0] == kind


@pytest.mark.parametrize(
    ("spelling", "status"),
    [
        ("Randomized", "RANDOMIZED"),
        ("RANDOMISED", "RANDOMIZED"),
        ("randomisé", "RANDOMIZED"),
        ("screen_failed", "SCREEN_FAILED"),
        ("Screen failed", "SCREEN_FAILED"),
        ("Screen-Failure", "SCREEN_FAILED"),
        ("SCREENING", "SCREENING"),
        ("Withdrawn", "WITHDRAWN"),
        ("Completed", "COMPLETED"),
        ("Enrolled", None),
        ("Random", None),
        ("", None),
    ],
)
def test_status_spellings(spelling: str, status: str | None):
    assert normalise_status(spelling) == status


# ----------------------------------------------------------------------------- refused
def test_unknown_site_id(tmp_path: Path, data_dir: Path):
    rows = [
        *FRENCH_ROWS[:2],
        "P-010;99;Ailleurs;04/01/2024;;Screening",
        "P-011;S8;X;04/01/2024;;Screening",
    ]
    errors = refuse(write(tmp_path, "sites.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 4", "column 'N° centre'", "unknown site id '99'", "01–46")
    one_error(errors, "line 5", "'S8'")
    assert len(errors) == 2


def test_duplicate_patient_id(tmp_path: Path, data_dir: Path):
    rows = [
        *FRENCH_ROWS[:3],
        "P-002;12;X;04/01/2024;;Screening",
        " P-001 ;12;X;04/01/2024;;Screening",
    ]
    errors = refuse(write(tmp_path, "dups.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 5", "column 'N° patient'", "'P-002'", "already on line 3")
    one_error(errors, "line 6", "'P-001'", "already on line 2")


def test_randomized_before_screened(tmp_path: Path, data_dir: Path):
    rows = ["P-1;8;X;10/01/2024;09/01/2024;Randomized"]
    errors = refuse(write(tmp_path, "early.csv", french_bytes(rows)), data_dir)
    error = one_error(errors, "line 2", "column 'Date de randomisation'", "'09/01/2024'")
    assert "before the screening date '10/01/2024'" in error


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("03/13/2024", "not a real calendar date"),  # month-first is never guessed
        ("31/02/2024", "not a real calendar date"),
        ("2024-02-30", "not a real calendar date"),
        ("2024/03/01", "not a date"),
        ("2024-3-1", "not a date"),
        ("1/3/24", "two-digit year"),
        ("01.03.2024", "not a date"),
        ("March 1, 2024", "not a date"),
        ("45352", "not a date"),
    ],
)
def test_unparseable_dates(tmp_path: Path, data_dir: Path, value: str, why: str):
    rows = [f"P-1;8;X;{value};;Screening"]
    errors = refuse(write(tmp_path, "dates.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 2", "column 'Date de screening'", repr(value), why)


def test_future_date(tmp_path: Path, data_dir: Path):
    rows = ["P-1;8;X;10/01/2024;10/01/2206;Randomized"]
    errors = refuse(write(tmp_path, "future.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 2", "'10/01/2206'", "after today")


def test_unknown_status(tmp_path: Path, data_dir: Path):
    rows = [FRENCH_ROWS[0], "P-2;8;X;10/01/2024;;Enrolled"]
    errors = refuse(write(tmp_path, "status.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 3", "column 'Statut'", "unknown status 'Enrolled'")


@pytest.mark.parametrize("status", ["Randomized", "Withdrawn", "Completed"])
def test_randomized_status_without_randomization_date(tmp_path: Path, data_dir: Path, status: str):
    rows = [f"P-1;8;X;10/01/2024;;{status}"]
    errors = refuse(write(tmp_path, "norand.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 2", "column 'Date de randomisation'", f"status '{status}'", "blank")


@pytest.mark.parametrize("status", ["Screening", "Screen failed"])
def test_not_randomized_status_with_randomization_date(tmp_path: Path, data_dir: Path, status: str):
    rows = [f"P-1;8;X;10/01/2024;12/01/2024;{status}"]
    errors = refuse(write(tmp_path, "rand.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 2", "column 'Date de randomisation'", "'12/01/2024'", f"'{status}'")


@pytest.mark.parametrize(
    ("row", "column", "what"),
    [
        (";8;X;10/01/2024;;Screening", "N° patient", "patient code"),
        ("P-1; ;X;10/01/2024;;Screening", "N° centre", "site id"),
        ("P-1;8;X;;;Screening", "Date de screening", "screening date"),
        ("P-1;8;X;10/01/2024;;", "Statut", "status"),
    ],
)
def test_blank_required_cells(tmp_path: Path, data_dir: Path, row: str, column: str, what: str):
    errors = refuse(write(tmp_path, "blank.csv", french_bytes([FRENCH_ROWS[0], row])), data_dir)
    one_error(errors, "line 3", f"column '{column}'", f"{what} is blank")


def test_missing_required_column(tmp_path: Path, data_dir: Path):
    header = "N° patient;Hôpital;Date de screening;Date de randomisation;Statut"
    rows = ["P-1;8;10/01/2024;;Screening"]
    errors = refuse(write(tmp_path, "nosite.csv", french_bytes(rows, header)), data_dir)
    error = one_error(errors, "line 1", "no column for the site id")
    assert "'Hôpital'" in error and "'N° centre'" in error  # what was found, what to use


def test_two_columns_for_one_field(tmp_path: Path, data_dir: Path):
    header = "Numéro de centre;N° patient;N° centre;Date de screening;Date de randomisation;Statut"
    errors = refuse(
        write(tmp_path, "two.csv", french_bytes(["8;P-1;8;10/01/2024;;Screening"], header)),
        data_dir,
    )
    one_error(errors, "line 1", "'N° centre'", "'Numéro de centre'", "keep only one")


@pytest.mark.parametrize("loose", ["Centre", "Site"])
def test_a_loosely_named_column_gives_way_to_a_precise_one(
    tmp_path: Path, data_dir: Path, loose: str
):
    """ "Centre" (often the hospital's name) beside "N° centre": the number is used."""
    header = f"{loose};N° patient;N° centre;Date d'inclusion;Date de randomisation;Statut"
    rows = ["Hôpital Nord;P-1;8;10/01/2024;;Screening"]
    report = import_enrollment(
        write(tmp_path, "loose.csv", french_bytes(rows, header)), DataPaths(data_dir), today=TODAY
    )
    assert report["rows"] == 1
    assert f"'{loose}'" in "\n".join(report["notices"])
    assert enrollment_counts(data_dir, "2024-01-31") == (1, 0, 0)


@pytest.mark.parametrize(
    "header",
    [
        "N° d'inclusion;Centre;Date d'inclusion;Date de randomisation;Statut",
        "Patient;Site;Date de sélection;Date randomisation;État",
        "Subject ID;Site ID;Screening date;Randomisation date;Status",
    ],
)
def test_real_french_and_english_spellings(tmp_path: Path, data_dir: Path, header: str):
    rows = ["P-1;8;25/01/2024;;Screening", "P-2;12;03/02/2024;14/02/2024;Randomisé"]
    export = write(tmp_path, "spellings.csv", french_bytes(rows, header))
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    assert report["rows"] == 2 and report["randomized"] == 1
    # 25/01 can only be day first: no notice that day first was assumed.
    assert "day first (DD/MM/YYYY) was assumed" not in "\n".join(report["notices"])
    assert enrollment_counts(data_dir, "2024-02-29") == (2, 0, 1)


def test_day_first_is_announced_when_every_date_reads_either_way(tmp_path: Path, data_dir: Path):
    rows = ["P-1;8;H;03/01/2024;;Screening", "P-2;12;H;02/03/2024;12/03/2024;Randomisé"]
    export = write(tmp_path, "ambiguous.csv", french_bytes(rows))
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    assert "day first (DD/MM/YYYY) was assumed" in "\n".join(report["notices"])
    # Read day first: 12/03/2024 is 12 March, so nobody is randomized by 2024-03-11.
    assert enrollment_counts(data_dir, "2024-03-11") == (2, 0, 0)
    assert enrollment_counts(data_dir, "2024-03-12") == (2, 0, 1)


def test_all_errors_are_listed_at_once(tmp_path: Path, data_dir: Path):
    rows = [
        "P-1;99;X;10/01/2024;;Screening",  # line 2: site
        "P-2;8;X;32/01/2024;;Screening",  # line 3: date
        "P-3;8;X;10/01/2024;;Enrolled",  # line 4: status
        "P-1;8;X;10/01/2024;09/01/2024;Randomized",  # line 5: duplicate + before screening
    ]
    errors = refuse(write(tmp_path, "many.csv", french_bytes(rows)), data_dir)
    assert len(errors) == 5
    assert [e.split(",")[0].split(": ")[1] for e in errors] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 5",
    ]


def test_error_list_is_capped(tmp_path: Path, data_dir: Path):
    rows = [f"P-{i};99;X;10/01/2024;;Screening" for i in range(MAX_LISTED_ERRORS + 50)]
    errors = refuse(write(tmp_path, "capped.csv", french_bytes(rows)), data_dir)
    assert len(errors) == MAX_LISTED_ERRORS + 1
    assert errors[-1].startswith("capped.csv: … and 50 more problem(s)")
    assert "line 201," in errors[MAX_LISTED_ERRORS - 1]


def test_cutoff_before_latest_date_is_refused(tmp_path: Path, data_dir: Path):
    export = write(tmp_path, "fr.csv", french_bytes())
    errors = refuse(export, data_dir, cutoff=dt.date(2024, 4, 10))
    error = one_error(errors, "--cutoff 2024-04-10", "latest date in the file, 2024-04-16")
    assert "line 8, column 'Date de randomisation'" in error


def test_cutoff_in_the_future_is_refused(tmp_path: Path, data_dir: Path):
    export = write(tmp_path, "fr.csv", french_bytes())
    one_error(refuse(export, data_dir, cutoff=TODAY + dt.timedelta(days=1)), "in the future")


def test_cli_refusal_exit_code_and_message(tmp_path: Path, data_dir: Path):
    export = write(tmp_path, "bad.csv", french_bytes(["P-1;99;X;10/01/2024;;Screening"]))
    before = snapshot_dir(data_dir)
    result = cli("import-enrollment", str(export), "--data-dir", str(data_dir))
    assert result.exit_code == 1
    assert "Refused, nothing changed" in result.stderr
    assert "bad.csv: line 2, column 'N° centre': unknown site id '99'" in result.stderr
    assert without_log(snapshot_dir(data_dir)) == without_log(before)


# ----------------------------------------------------------------------------- blinding
ARM_VALUES = ["ITACITINIB-XYZ", "PLACEBO-QRS"]


def assert_nowhere(data_dir: Path, texts: list[str], *more: str) -> None:
    """The secret values appear in no file of the data dir, in no output, in no error."""
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for value in ARM_VALUES:
                assert value.encode("utf-8") not in content, path
                assert value.encode("cp1252") not in content, path
    for text in [*texts, *more]:
        for value in ARM_VALUES:
            assert value not in text


@pytest.mark.parametrize(
    "column",
    [
        "Bras",
        "Treatment arm",
        "ARM",
        "Groupe",
        "Kit number",
        "N° de boîte",
        "Allocation",
        "TRT01P",
        "Lot",
    ],
)
def test_blinding_columns_are_refused_unread(tmp_path: Path, data_dir: Path, column: str):
    header = FRENCH_HEADER + f";{column}"
    rows = [row + f";{ARM_VALUES[i % 2]}" for i, row in enumerate(FRENCH_ROWS)]
    export = write(tmp_path, "unblinding.csv", french_bytes(rows, header))
    errors = refuse(export, data_dir)
    error = one_error(errors, "line 1", f"column {column!r}", "refused to protect the blind")
    assert "its values were not read" in error
    result = cli("import-enrollment", str(export), "--data-dir", str(data_dir))
    assert result.exit_code == 1
    log_line = (data_dir / "import-log.jsonl").read_text()
    assert "blinding_column" in log_line
    assert_nowhere(data_dir, errors, result.output, log_line)


def test_blinding_column_in_xlsx_is_refused_unread(tmp_path: Path, data_dir: Path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        ["Patient", "Site", "Screening date", "Randomization date", "Status", "Treatment Arm"]
    )
    sheet.append(["P1", 8, dt.date(2024, 1, 3), dt.date(2024, 1, 9), "Randomized", ARM_VALUES[0]])
    sheet.append(["P2", 8, dt.date(2024, 1, 4), dt.date(2024, 1, 9), "Randomized", ARM_VALUES[1]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    export = write(tmp_path, "iwrs.xlsx", buffer.getvalue())
    errors = refuse(export, data_dir)
    one_error(errors, "column 'Treatment Arm'", "refused to protect the blind")
    assert_nowhere(data_dir, errors, (data_dir / "import-log.jsonl").read_text())


@pytest.mark.parametrize(
    "column",
    [
        "Nom",
        "Prénom",
        "Date de naissance",
        "DOB",
        "NIR",
        "N° de sécurité sociale",
        "IPP",
        "Adresse",
        "Téléphone",
        "E-mail",
    ],
)
def test_direct_identifiers_are_refused_unread(tmp_path: Path, data_dir: Path, column: str):
    header = FRENCH_HEADER + f";{column}"
    rows = [row + f";{ARM_VALUES[i % 2]}" for i, row in enumerate(FRENCH_ROWS)]
    export = write(tmp_path, "ident.csv", french_bytes(rows, header))
    errors = refuse(export, data_dir)
    one_error(errors, "line 1", f"column {column!r}", "direct patient identifier")
    assert_nowhere(data_dir, errors, (data_dir / "import-log.jsonl").read_text())


def test_unnamed_column_with_values_is_refused(tmp_path: Path, data_dir: Path):
    header = FRENCH_HEADER + ";"
    rows = [FRENCH_ROWS[0] + ";", FRENCH_ROWS[1] + f";{ARM_VALUES[0]}"]
    errors = refuse(write(tmp_path, "unnamed.csv", french_bytes(rows, header)), data_dir)
    one_error(errors, "line 3", "column number 7", "no header")
    assert_nowhere(data_dir, errors)


def test_unnamed_empty_columns_are_fine(tmp_path: Path, data_dir: Path):
    header = FRENCH_HEADER + ";;"
    rows = [row + ";;" for row in FRENCH_ROWS]
    import_enrollment(
        write(tmp_path, "trailing.csv", french_bytes(rows, header)),
        DataPaths(data_dir),
        today=TODAY,
    )
    assert enrollment_counts(data_dir, "2024-03-31") == (6, 2, 3)


# ----------------------------------------------------------------------------- hostile input
def test_formula_cells_are_refused(tmp_path: Path, data_dir: Path):
    rows = ['=HYPERLINK("http://x");8;X;10/01/2024;;Screening', "P-2;=7+1;X;10/01/2024;;Screening"]
    errors = refuse(write(tmp_path, "formula.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 2", "column 'N° patient'", "formula")
    one_error(errors, "line 3", "column 'N° centre'", "'=7+1'", "formula")


def test_xlsx_formula_cells_are_refused(tmp_path: Path, data_dir: Path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Patient", "Site", "Screening date", "Randomization date", "Status"])
    sheet.append(["P1", "=4+4", dt.date(2024, 1, 3), None, "Screening"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    errors = refuse(write(tmp_path, "f.xlsx", buffer.getvalue()), data_dir)
    one_error(errors, "line 2", "column 'Site'", "'=4+4'", "formula")


def test_control_characters_are_refused(tmp_path: Path, data_dir: Path):
    rows = ["P\x07-1;8;X;10/01/2024;;Screening", "P\u200b-2;8;X;10/01/2024;;Screening"]
    data = ("\r\n".join([FRENCH_HEADER, *rows]) + "\r\n").encode("utf-8")
    errors = refuse(write(tmp_path, "ctrl.csv", data), data_dir)
    one_error(errors, "line 2", "'P\\x07-1'", "control or invisible character")
    one_error(errors, "line 3", "'P\\u200b-2'", "control or invisible character")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "line 1: the file is empty"),
        (b"\r\n\r\n  \r\n", "line 1: the file holds no header"),
        (FRENCH_HEADER.encode("cp1252") + b"\r\n", "line 2: no patient rows below the header"),
        (FRENCH_HEADER.encode("cp1252") + b"\r\n;;;;;\r\n", "no patient rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 3: contains a NUL byte"),
        (bytes(range(1, 256)) * 20, "line 1: no column for the patient code"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old-format .xls"),
        (b"PK\x03\x04garbage", "not a readable .xlsx workbook"),
    ],
)
def test_empty_header_only_and_garbage_files(
    tmp_path: Path, data_dir: Path, data: bytes, needle: str
):
    errors = refuse(write(tmp_path, "junk.csv", data), data_dir)
    assert any(needle in e for e in errors), errors


def test_ragged_row_is_refused_with_its_line(tmp_path: Path, data_dir: Path):
    rows = [FRENCH_ROWS[0], "P-2;8;Hôpital; Nord;10/01/2024;;Screening", FRENCH_ROWS[2]]
    errors = refuse(write(tmp_path, "ragged.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 3", "7 values but the header has 6 columns")


def test_unclosed_quote_is_refused(tmp_path: Path, data_dir: Path):
    rows = [FRENCH_ROWS[0], 'P-2;8;"Hôpital Nord;10/01/2024;;Screening', FRENCH_ROWS[2]]
    errors = refuse(write(tmp_path, "quote.csv", french_bytes(rows)), data_dir)
    one_error(errors, "line 3", "quoting")


def test_size_and_row_limits(tmp_path: Path, data_dir: Path):
    export = write(tmp_path, "big.csv", french_bytes())
    one_error(refuse(export, data_dir, limits=Limits(max_bytes=100)), "MB limit")
    one_error(
        refuse(export, data_dir, limits=Limits(max_rows=5)), "7 patient rows, over the limit of 5"
    )


def _xlsx_with_member(name: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr(name, payload)
    return buffer.getvalue()


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path, data_dir: Path):
    bomb = _xlsx_with_member("xl/worksheets/sheet1.xml", b"<" * 50_000_000)
    assert len(bomb) < 100_000
    errors = refuse(write(tmp_path, "bomb.xlsx", bomb), data_dir)
    one_error(errors, "zip bomb")
    big = _xlsx_with_member("xl/worksheets/sheet1.xml", b"<" * 3_000_000)
    errors = refuse(
        write(tmp_path, "big.xlsx", big), data_dir, limits=Limits(max_xlsx_uncompressed=1_000_000)
    )
    one_error(errors, "would unpack to", "refused unopened")


def test_xlsx_xml_entities_are_refused(tmp_path: Path, data_dir: Path):
    """A billion-laughs sheet: defusedxml (which openpyxl uses when installed) refuses it."""
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML
    workbook = openpyxl.Workbook()
    workbook.active.append(["Patient", "Site", "Screening date", "Randomization date", "Status"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b"<worksheet",
                    b'<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><worksheet',
                    1,
                ).replace(b"<v>", b"<v>&b;", 1)
            target.writestr(info, data)
    errors = refuse(write(tmp_path, "entities.xlsx", evil.getvalue()), data_dir)
    assert any("cannot read" in e for e in errors), errors


def test_missing_file_and_missing_data_dir(tmp_path: Path, data_dir: Path):
    errors = refuse(tmp_path / "nope.csv", data_dir)
    one_error(errors, "file not found")
    empty = tmp_path / "empty-dir"
    with pytest.raises(EnrollmentError, match="has no sites.csv"):
        import_enrollment(write(tmp_path, "fr.csv", french_bytes()), DataPaths(empty), today=TODAY)
    assert not empty.exists()  # a refusal never creates a data dir


# ----------------------------------------------------------------------------- the log
def test_import_log_has_one_line_per_import_and_refusal(tmp_path: Path, data_dir: Path):
    good = write(tmp_path, "good.csv", french_bytes())
    bad = write(tmp_path, "bad.csv", french_bytes(["P-1;99;X;10/01/2024;;Screening"]))
    assert cli("import-enrollment", str(good), "--data-dir", str(data_dir)).exit_code == 0
    assert cli("import-enrollment", str(bad), "--data-dir", str(data_dir)).exit_code == 1
    assert cli("import-enrollment", str(good), "--data-dir", str(data_dir)).exit_code == 0
    log = read_import_log(DataPaths(data_dir))
    assert [(e["kind"], e["file"], e["result"]) for e in log] == [
        ("enrollment", "good.csv", "imported"),
        ("enrollment", "bad.csv", "refused"),
        ("enrollment", "good.csv", "imported"),
    ]
    import hashlib

    assert log[0]["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert log[0]["rows"] == 7 and log[0]["data_cutoff"] == "2024-04-16"
    assert log[1]["rows"] == 1 and log[1]["errors"] == 1 and log[1]["reasons"] == ["unknown_site"]
    printed = cli("log", "--data-dir", str(data_dir))
    assert printed.exit_code == 0
    lines = printed.stdout.splitlines()
    assert len(lines) == 3
    assert "imported" in lines[0] and "good.csv" in lines[0] and "rows=7" in lines[0]
    assert "refused" in lines[1] and "bad.csv" in lines[1]
    as_json = cli("log", "--json", "--data-dir", str(data_dir))
    assert [json.loads(line)["result"] for line in as_json.stdout.splitlines()] == [
        "imported",
        "refused",
        "imported",
    ]


@pytest.mark.parametrize("site", ["²", "٨", "8,0", "08a", "+8"])
def test_site_ids_are_ascii_numbers(tmp_path: Path, data_dir: Path, site: str):
    """Other scripts' digits (and "²", which str.isdigit accepts but int() does not) are
    refused, never read as a site: no export writes them, a corrupted byte could."""
    data = ("\r\n".join([FRENCH_HEADER, f"P-1;{site};X;10/01/2024;;Screening"]) + "\r\n").encode()
    errors = refuse(write(tmp_path, "digits.csv", data), data_dir)
    assert len(errors) == 1 and "line 2, column 'N° centre'" in errors[0]


def test_dates_are_ascii_digits(tmp_path: Path, data_dir: Path):
    data = ("\r\n".join([FRENCH_HEADER, "P-1;8;X;١٠/01/2024;;Screening"]) + "\r\n").encode()
    one_error(refuse(write(tmp_path, "digits.csv", data), data_dir), "line 2", "not a date")


def test_xlsx_declaring_the_whole_sheet_is_read_by_its_cells(tmp_path: Path, data_dir: Path):
    """Formatting whole columns makes Excel declare A1:XFD1048576; rows are not padded to it."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Patient", "Site", "Screening date", "Randomization date", "Status"])
    sheet.append(["P1", 8, dt.date(2024, 1, 3), None, "Screening"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    patched = io.BytesIO()
    with zipfile.ZipFile(patched, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b'<dimension ref="A1:E2" />' in data
                data = data.replace(
                    b'<dimension ref="A1:E2" />', b'<dimension ref="A1:XFD1048576" />'
                )
            target.writestr(info.filename, data)
    export = write(tmp_path, "wide.xlsx", patched.getvalue())
    report = import_enrollment(export, DataPaths(data_dir), today=TODAY)
    assert report["rows"] == 1
