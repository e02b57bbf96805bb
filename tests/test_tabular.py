"""CSV/XLSX exports: formula escaping, types, no patient rows, counts equal hand counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.store import load_trial_data
from dashboard.tabular import (
    accrual_export_frame,
    sites_export_frame,
    to_csv_bytes,
    to_xlsx_bytes,
)
from tests.helpers import (
    EVIL_FACILITY,
    SMALL_AS_OF,
    SMALL_COUNTS,
    SMALL_WEEK_SINCE,
    build_small_data_dir,
)

#: site_id -> (screened, screen_failed, randomized)
SMALL_BY_SITE = {
    "01": (3, 0, 3),
    "02": (2, 1, 1),
    "03": (3, 0, 1),
    "04": (0, 0, 0),
    "05": (1, 1, 0),
}
#: Cumulative (screened, randomized) at the end of the previous week, 2025-06-08.
SMALL_AT_WEEK_START = (6, 3)


@pytest.fixture
def small_data_dir(tmp_path: Path) -> Path:
    return build_small_data_dir(tmp_path / "small", hostile_names=True)


def _read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM (Excel)"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _read_xlsx(body: bytes) -> tuple[list[str], list[list[openpyxl.cell.cell.Cell]]]:
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows())
    return [c.value for c in rows[0]], rows[1:]


# --------------------------------------------------------------------------- escaping
FORMULA_TEXTS = ["=1+1", "+1", "-1", "@A1", "\tTAB", "\rCR", EVIL_FACILITY]


def test_csv_escapes_every_formula_prefix_and_keeps_numbers() -> None:
    frame = pd.DataFrame(
        {
            "text": [*FORMULA_TEXTS, "plain", "Besançon"],
            "number": [-1, 2, -3, 4, 5, -6, 7, 8, 9],
            "rate": [-0.5, 1.25, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    rows = _read_csv(to_csv_bytes(frame))
    assert [r["text"] for r in rows] == ["'" + t for t in FORMULA_TEXTS] + ["plain", "Besançon"]
    assert [int(r["number"]) for r in rows] == [-1, 2, -3, 4, 5, -6, 7, 8, 9]  # not "'-1"
    assert rows[0]["rate"] == "-0.5"


def test_xlsx_escapes_text_and_never_writes_a_formula() -> None:
    frame = pd.DataFrame({"text": FORMULA_TEXTS, "number": [-1, 2, 3, 4, 5, 6, 7]})
    header, rows = _read_xlsx(to_xlsx_bytes(frame, "t"))
    assert header == ["text", "number"]
    for cell, original in zip((r[0] for r in rows), FORMULA_TEXTS, strict=True):
        assert cell.data_type == "s"
        # XML end-of-line handling reads a stored "\r" back as "\n"; the quote is what counts.
        assert cell.value == ("'" + original).replace("\r", "\n")
    assert [r[1].value for r in rows] == [-1, 2, 3, 4, 5, 6, 7]
    assert all(r[1].data_type == "n" for r in rows)


def test_patient_level_columns_are_refused() -> None:
    frame = pd.DataFrame({"patient_id": ["P01"], "site_id": ["01"]})
    with pytest.raises(ValueError, match="patient_id"):
        to_csv_bytes(frame)
    with pytest.raises(ValueError, match="patient_id"):
        to_xlsx_bytes(frame, "x")


def test_sheet_name_is_made_valid_for_excel() -> None:
    frame = pd.DataFrame({"a": [1]})
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(frame, "sites/as:of*[x]" * 3))).active
    assert len(sheet.title) <= 31 and not set("[]:*?/\\") & set(sheet.title)


# --------------------------------------------------------------------------- sites table
def test_sites_frame_counts_equal_hand_counts(small_data_dir: Path) -> None:
    data = load_trial_data(small_data_dir)
    frame = sites_export_frame(data, SMALL_AS_OF)
    assert "patient_id" not in frame.columns
    assert len(frame) == len(data.sites) == 46
    by_site = frame.set_index("site_id")
    for site_id, (screened, failed, randomized) in SMALL_BY_SITE.items():
        assert by_site.at[site_id, "screened"] == screened
        assert by_site.at[site_id, "screen_failed"] == failed
        assert by_site.at[site_id, "randomized"] == randomized
    assert int(frame["screened"].sum()) == SMALL_COUNTS["screened"]
    assert int(frame["screen_failed"].sum()) == SMALL_COUNTS["screen_failed"]
    assert int(frame["randomized"].sum()) == SMALL_COUNTS["randomized"]
    assert by_site.at["02", "first_randomization"] == dt.date(2025, 6, 14)


def test_sites_csv_is_escaped_typed_and_hand_counted(small_data_dir: Path) -> None:
    data = load_trial_data(small_data_dir)
    rows = _read_csv(to_csv_bytes(sites_export_frame(data, SMALL_AS_OF)))
    assert "patient_id" not in rows[0]
    by_site = {r["site_id"]: r for r in rows}
    assert by_site["01"]["facility"] == "'" + EVIL_FACILITY
    assert by_site["02"]["facility"] == "'@SUM(1+1)"
    assert by_site["02"]["city"] == "'+33 1 58 00 00 00"
    assert by_site["03"]["city"] == "'-Lyon\t"
    assert by_site["05"]["facility"] == "'\tTab hospital"
    assert by_site["04"]["facility"] == data.sites.set_index("site_id").at["04", "facility"]
    for site_id, (screened, failed, randomized) in SMALL_BY_SITE.items():
        row = by_site[site_id]
        assert (int(row["screened"]), int(row["screen_failed"]), int(row["randomized"])) == (
            screened,
            failed,
            randomized,
        )
    assert by_site["01"]["first_randomization"] == "2025-01-20"
    assert by_site["04"]["first_randomization"] == ""


def test_sites_xlsx_keeps_strings_strings_and_numbers_numbers(small_data_dir: Path) -> None:
    data = load_trial_data(small_data_dir)
    header, rows = _read_xlsx(to_xlsx_bytes(sites_export_frame(data, SMALL_AS_OF), "Sites"))
    assert "patient_id" not in header
    col = {name: i for i, name in enumerate(header)}
    by_site = {r[col["site_id"]].value: r for r in rows}
    evil = by_site["01"][col["facility"]]
    assert evil.data_type == "s" and evil.value == "'" + EVIL_FACILITY
    assert by_site["02"][col["city"]].value == "'+33 1 58 00 00 00"
    # site ids stay text ("01", not 1); counts are numeric cells
    assert all(isinstance(site_id, str) and len(site_id) == 2 for site_id in by_site)
    for site_id, (screened, failed, randomized) in SMALL_BY_SITE.items():
        cells = by_site[site_id]
        assert cells[col["screened"]].value == screened
        assert cells[col["screen_failed"]].value == failed
        assert cells[col["randomized"]].value == randomized
        assert cells[col["randomized"]].data_type == "n"
    first = by_site["01"][col["first_randomization"]]
    assert first.is_date and first.value.date() == dt.date(2025, 1, 20)
    assert not any(c.data_type == "f" for r in rows for c in r)


# --------------------------------------------------------------------------- accrual
def test_accrual_frame_is_cumulative_and_hand_counted(small_data_dir: Path) -> None:
    data = load_trial_data(small_data_dir)
    frame = accrual_export_frame(data, SMALL_AS_OF)
    assert list(frame.columns) == ["date", "screened", "randomized"]
    assert frame["date"].iloc[0] == data.trial.start_date
    assert frame["date"].iloc[-1] == SMALL_AS_OF
    assert len(frame) == (SMALL_AS_OF - data.trial.start_date).days + 1
    last = frame.iloc[-1]
    assert (last["screened"], last["randomized"]) == (
        SMALL_COUNTS["screened"],
        SMALL_COUNTS["randomized"],
    )
    week_start = frame.set_index("date").loc[SMALL_WEEK_SINCE]
    assert (week_start["screened"], week_start["randomized"]) == SMALL_AT_WEEK_START
    assert frame["screened"].is_monotonic_increasing
    assert frame["randomized"].is_monotonic_increasing


def test_accrual_csv_and_xlsx_agree(small_data_dir: Path) -> None:
    data = load_trial_data(small_data_dir)
    frame = accrual_export_frame(data, SMALL_AS_OF)
    rows = _read_csv(to_csv_bytes(frame))
    assert rows[-1] == {"date": "2025-06-15", "screened": "9", "randomized": "5"}
    header, cells = _read_xlsx(to_xlsx_bytes(frame, "Accrual"))
    assert header == ["date", "screened", "randomized"]
    assert cells[-1][0].value.date() == SMALL_AS_OF
    assert [c.value for c in cells[-1][1:]] == [9, 5]
    assert len(cells) == len(rows) == len(frame)


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("what", ["sites", "accrual"])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_command_writes_the_same_bytes_as_the_functions(
    small_data_dir: Path, tmp_path: Path, what: str, suffix: str
) -> None:
    out = tmp_path / "out" / f"{what}{suffix}"
    result = CliRunner().invoke(
        main,
        [
            "export",
            "--data-dir",
            str(small_data_dir),
            "--as-of",
            SMALL_AS_OF.isoformat(),
            "--what",
            what,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = load_trial_data(small_data_dir)
    frame = (sites_export_frame if what == "sites" else accrual_export_frame)(data, SMALL_AS_OF)
    if suffix == ".csv":
        assert out.read_bytes() == to_csv_bytes(frame)
    else:
        header, rows = _read_xlsx(out.read_bytes())
        assert header == list(frame.columns) and len(rows) == len(frame)


def test_export_command_refuses_other_formats(small_data_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "export",
            "--data-dir",
            str(small_data_dir),
            "--what",
            "sites",
            "--out",
            str(tmp_path / "x.ods"),
        ],
    )
    assert result.exit_code != 0
    assert ".csv or .xlsx" in result.output
    assert not (tmp_path / "x.ods").exists()


def test_export_defaults_to_the_data_cutoff(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sites.csv"
    result = CliRunner().invoke(
        main, ["export", "--data-dir", str(data_dir), "--what", "sites", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = load_trial_data(data_dir)
    assert f"as of {data.data_cutoff}" in result.output
    rows = _read_csv(out.read_bytes())
    assert len(rows) == 46
    assert sum(int(r["randomized"]) for r in rows) == int(
        (data.enrollment["randomization_date"] <= pd.Timestamp(data.data_cutoff)).sum()
    )
