"""The sites CSV of the page's Export button: formula-safe, aggregate-only."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from dashboard import metrics
from dashboard.store import load_trial_data
from dashboard.tabular import (
    SITES_EXPORT_COLUMNS,
    escape_formula,
    sites_export_from_table,
    to_csv_bytes,
)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("=1+1", "'=1+1"),
        ("+33 1 58 41 41 41", "'+33 1 58 41 41 41"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('=HYPERLINK("http://evil","click")', '\'=HYPERLINK("http://evil","click")'),
        # issue 12: what a spreadsheet still reads as a formula
        (" =1+1", "' =1+1"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("＝1+1", "'＝1+1"),
        ("＋33", "'＋33"),
        ("\n=1+1", "'\n'=1+1"),
        ('CHU;=HYPERLINK("http://evil")', 'CHU;\'=HYPERLINK("http://evil")'),
        ("CHU\t@SUM(A1)", "CHU\t'@SUM(A1)"),
    ],
)
def test_formula_text_is_prefixed_with_a_quote(raw, escaped):
    assert escape_formula(raw) == escaped


@pytest.mark.parametrize(
    "value",
    ["CHU Amiens", "Hôpital Nord", "a=b", "", "1+1", "'=already quoted", "Saint-Denis", "A - B"],
)
def test_plain_text_is_untouched(value):
    assert escape_formula(value) == value


@pytest.mark.parametrize("value", [-1, -2.5, 0, 3, 1.5, np.int64(-4), np.float64(-0.5), None])
def test_numbers_and_blanks_are_untouched(value):
    assert escape_formula(value) is value


def _table(facility: str = "CHU Test") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": ["01", "02"],
            "facility": [facility, "-Clinique"],
            "city": ["Paris", "@Lyon"],
            "status": ["RECRUITING", "NOT_YET_RECRUITING"],
            "activation_date": [pd.Timestamp("2024-01-15"), pd.NaT],
            "screened": [3, 0],
            "screen_failed": [1, 0],
            "randomized": [2, 0],
            "share_of_randomized": [100.0, 0.0],
            "target": pd.array([5, None], dtype="Int64"),
            "first_randomization": [pd.Timestamp("2024-02-01"), pd.NaT],
            "last_randomization": [pd.Timestamp("2024-03-01"), pd.NaT],
            "days_since_last_randomization": [30.0, np.nan],
            "rate_per_month_since_activation": [0.456789, np.nan],
            "days_activation_to_first_randomization": [17.0, np.nan],
            "flag": ["", ""],
            "geocode_precision": ["facility", "city"],
            "lat": [48.85, 45.75],
            "lon": [2.35, 4.85],
        }
    )


def sites_table_csv(table: pd.DataFrame) -> str:
    """The sites export's CSV text for a per-site table, through the product's one path."""
    return to_csv_bytes(sites_export_from_table(table)).decode("utf-8-sig")


def test_sites_csv_escapes_text_cells_and_keeps_numbers():
    text = sites_table_csv(_table(facility="=cmd|' /C calc'!A0"))
    rows = list(csv.reader(io.StringIO(text)))
    header, first, second = rows
    assert header == [h for _, h in SITES_EXPORT_COLUMNS]
    record = dict(zip(header, first, strict=True))
    assert record["facility"] == "'=cmd|' /C calc'!A0"
    assert record["status"] == "Recruiting"
    assert record["activation_date"] == "2024-01-15"
    assert record["randomized"] == "2"
    assert record["site_target"] == "5"
    assert record["days_since_last_randomization"] == "30"  # whole number, no ".0"
    assert record["randomized_per_month_since_activation"] == "0.46"
    assert record["share_of_randomized_percent"] == "100.0"
    other = dict(zip(header, second, strict=True))
    assert other["facility"] == "'-Clinique"
    assert other["city"] == "'@Lyon"
    assert other["status"] == "Not yet recruiting"
    assert other["activation_date"] == ""
    assert other["site_target"] == ""
    assert text.endswith("\r\n")


def test_sites_csv_has_no_patient_level_column():
    table = _table().assign(patient_id=["P1", "P2"])
    text = sites_table_csv(table)
    assert "patient_id" not in text and "P1" not in text


def test_download_matches_the_export_command(data_dir, tmp_path):
    """The bytes the page's download sends (tabular.to_csv_bytes of the sites frame) are
    the file `export --what sites` writes, and carry the table's aggregates."""
    from click.testing import CliRunner

    from dashboard.cli import main
    from dashboard.tabular import sites_export_frame

    data = load_trial_data(data_dir)
    for as_of in ("2024-03-01", data.data_cutoff.isoformat()):
        out = tmp_path / f"sites-{as_of}.csv"
        args = ["export", "--what", "sites", "--as-of", as_of, "--out", str(out)]
        result = CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)])
        assert result.exit_code == 0, result.output
        downloaded = to_csv_bytes(sites_export_frame(data, as_of))
        assert out.read_bytes() == downloaded
        table = metrics.site_table(
            data.sites, data.geocodes, data.enrollment, as_of, data.trial.start_date
        )
        rows = list(csv.DictReader(io.StringIO(downloaded.decode("utf-8-sig"))))
        assert [int(r["randomized"]) for r in rows] == table["randomized"].astype(int).tolist()
