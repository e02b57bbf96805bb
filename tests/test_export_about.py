"""Every exported file says what it is: name with trial id, as-of and DEMO; an About sheet."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.export_about import COUNTING_RULES, export_about, export_filename
from dashboard.store import load_trial_data
from dashboard.tabular import sites_export_frame, to_xlsx_bytes
from tests.helpers import SMALL_AS_OF, build_small_data_dir

NOW = dt.datetime(2025, 6, 16, 7, 0, 5, tzinfo=dt.UTC)


def about_sheet(body: bytes) -> dict[str, object]:
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    assert workbook.sheetnames[-1] == "About"
    rows = list(workbook["About"].iter_rows(values_only=True))
    facts = {label: value for label, value in rows if label and label != "Counting rule"}
    facts["rules"] = [value for label, value in rows if label in ("Counting rule", None)]
    return facts


def test_names_carry_trial_id_as_of_and_demo(data_dir: Path, tmp_path: Path) -> None:
    demo = load_trial_data(data_dir)  # the shipped demo: synthetic
    real = load_trial_data(build_small_data_dir(tmp_path / "small"))
    as_of = dt.date(2025, 11, 20)
    assert (
        export_filename(demo, "sites", as_of, "csv")
        == "NCT04789850-sites-as-of-2025-11-20-DEMO.csv"
    )
    assert (
        export_filename(real, "accrual", as_of, "xlsx")
        == "NCT04789850-accrual-as-of-2025-11-20.xlsx"
    )


def test_xlsx_about_sheet_states_what_the_file_is(tmp_path: Path) -> None:
    data_dir = build_small_data_dir(tmp_path / "small", hostile_names=True)
    data = load_trial_data(data_dir)
    registry = json.loads(next((data_dir / "registry").glob("*.json")).read_text("utf-8"))
    title = registry["protocolSection"]["identificationModule"]["briefTitle"]
    about = export_about(data, "sites", SMALL_AS_OF, now=NOW)
    body = to_xlsx_bytes(sites_export_frame(data, SMALL_AS_OF), "sites", about)
    facts = about_sheet(body)
    assert facts["Trial id"] == "NCT04789850"
    assert facts["Trial"] == "SCLERITA (NCT04789850)"
    assert facts["Title"] == title
    assert facts["As of"] == dt.datetime(2025, 6, 15)
    assert facts["Data cut-off"] == dt.datetime(2025, 6, 15)
    assert facts["Data version"] == data.version
    assert facts["Generated at"] == "2025-06-16 07:00:05 UTC"
    assert facts["Synthetic data"] == "no"
    assert facts["rules"] == list(COUNTING_RULES)
    assert any(r.startswith("Randomized: ") for r in facts["rules"])
    # the data sheet stays first and active
    assert openpyxl.load_workbook(io.BytesIO(body)).active.title == "sites"


@pytest.mark.parametrize("what", ["sites", "accrual"])
def test_export_command_default_name_and_about_sheet_on_demo_data(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["export", "--data-dir", str(data_dir), "--what", what, "--xlsx"]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "exports" / f"NCT04789850-{what}-as-of-2025-11-20-DEMO.xlsx"
    facts = about_sheet(out.read_bytes())
    assert facts["Synthetic data"].startswith("YES: DEMO")
    assert facts["Table"] == what
    result = CliRunner().invoke(main, ["export", "--data-dir", str(data_dir), "--what", what])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "exports" / f"NCT04789850-{what}-as-of-2025-11-20-DEMO.csv").is_file()
