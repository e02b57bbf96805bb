"""The command line on the shipped data and on copies of it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def independent_counts(path: Path, as_of: str) -> dict[str, int]:
    """Count the canonical CSV with the csv module only (ISO dates compare as strings)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "screened": sum(r["screening_date"] <= as_of for r in rows),
        "screen_failed": sum(
            r["screening_date"] <= as_of and r["status"] == "SCREEN_FAILED" for r in rows
        ),
        "randomized": sum(
            bool(r["randomization_date"]) and r["randomization_date"] <= as_of for r in rows
        ),
        "enrolling": len(
            {
                r["site_id"]
                for r in rows
                if r["randomization_date"] and r["randomization_date"] <= as_of
            }
        ),
    }


def test_summary_json_on_shipped_data():
    result = run("summary", "--json")
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["trial"]["nct_id"] == "NCT04789850"
    assert s["trial"]["target"] == 74
    assert s["trial"]["start_date"] == "2023-02-02"
    assert s["trial"]["planned_completion_date"] == "2026-02-28"
    assert s["synthetic"] is True
    assert s["as_of"] == "2025-11-20"  # the demo's data cut-off
    assert s["sites"]["total"] == 46
    assert s["sites"]["by_status"] == {"RECRUITING": 43, "NOT_YET_RECRUITING": 3}
    not_yet = [p["site_id"] for p in s["per_site"] if p["status"] == "NOT_YET_RECRUITING"]
    assert not_yet == ["31", "35", "40"]
    assert [p["site_id"] for p in s["per_site"]] == [f"{i:02d}" for i in range(1, 47)]
    for p in s["per_site"]:
        assert 41.3 <= p["lat"] <= 51.1 and -5.2 <= p["lon"] <= 9.6, p
        assert p["geocode_precision"] in ("facility", "city")
    expected = independent_counts(SHIPPED_DATA_DIR / "enrollment.csv", "2025-11-20")
    assert s["randomized"] == expected["randomized"]
    assert s["screened"] == expected["screened"]
    assert s["screen_failed"] == expected["screen_failed"]
    assert s["sites"]["enrolling"] == expected["enrolling"]
    assert s["percent_of_target"] == round(100 * expected["randomized"] / 74, 1)
    assert sum(p["randomized"] for p in s["per_site"]) == s["randomized"]


def test_summary_as_of_earlier_date():
    s = json.loads(run("summary", "--json", "--as-of", "2024-06-30").output)
    expected = independent_counts(SHIPPED_DATA_DIR / "enrollment.csv", "2024-06-30")
    assert s["as_of"] == "2024-06-30"
    assert s["randomized"] == expected["randomized"]
    assert s["screened"] == expected["screened"]


def test_summary_table_says_synthetic():
    result = run("summary")
    assert result.exit_code == 0
    assert "SYNTHETIC" in result.output
    assert "Randomized" in result.output and "/ 74" in result.output
    assert "CHU Rouen" in result.output


def test_bad_as_of_date_is_a_clear_error():
    result = CliRunner().invoke(main, ["summary", "--as-of", "20/11/2025"])
    assert result.exit_code == 2
    assert "not an ISO date" in result.output


def test_validate_shipped_data_is_sound():
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "sound" in result.output


def test_validate_reports_problems(data_dir: Path):
    geocodes = (data_dir / "geocodes.csv").read_text(encoding="utf-8").splitlines()
    (data_dir / "geocodes.csv").write_text("\n".join(geocodes[:-2]) + "\n", encoding="utf-8")
    with open(data_dir / "enrollment.csv", "a", encoding="utf-8") as handle:
        handle.write("ZZ-999,77,2024-01-01,,SCREENING\n")
    result = CliRunner().invoke(main, ["validate", "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    assert "NOT SOUND" in result.output
    assert "unknown site id(s) 77" in result.output
    assert "no point for site(s) 45, 46" in result.output


def test_demo_is_reproducible_and_synthetic(data_dir: Path):
    result = run("demo", "--data-dir", str(data_dir), "--seed", "3", "--cutoff", "2024-12-31")
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    first = (data_dir / "enrollment.csv").read_bytes()
    run("demo", "--data-dir", str(data_dir), "--seed", "3", "--cutoff", "2024-12-31")
    assert (data_dir / "enrollment.csv").read_bytes() == first
    meta = json.loads((data_dir / "dataset.json").read_text(encoding="utf-8"))
    assert meta["synthetic"] is True
    assert meta["data_cutoff"] == "2024-12-31"
    with open(data_dir / "enrollment.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(data_dir / "sites.csv", encoding="utf-8") as handle:
        recruiting = {r["site_id"] for r in csv.DictReader(handle) if r["status"] == "RECRUITING"}
    assert {r["site_id"] for r in rows} <= recruiting
    assert max(r["screening_date"] for r in rows) <= "2024-12-31"
    assert {"SCREEN_FAILED", "RANDOMIZED"} <= {r["status"] for r in rows}


def test_shipped_demo_is_what_demo_writes(data_dir: Path):
    """data/enrollment.csv is the output of `demo` with its defaults, not hand-edited."""
    run("demo", "--data-dir", str(data_dir))
    assert (data_dir / "enrollment.csv").read_bytes() == (
        SHIPPED_DATA_DIR / "enrollment.csv"
    ).read_bytes()


def test_default_command_is_serve_and_help_lists_every_step():
    result = run("--help")
    for command in (
        "serve",
        "summary",
        "validate",
        "geocode",
        "import-enrollment",
        "demo",
        "registry",
        "log",
    ):
        assert command in result.output


def test_passwd_prints_a_hashed_entry_that_load_auth_accepts(tmp_path: Path):
    from dashboard.security import load_auth

    result = CliRunner().invoke(main, ["passwd", "alice"], input="s3cret-pw\ns3cret-pw\n")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("alice:scrypt:")
    assert "s3cret-pw" not in line
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(line + "\n", encoding="utf-8")
    auth = load_auth(htpasswd, env={})
    assert auth is not None and auth.verify("alice", "s3cret-pw")
    assert not auth.verify("alice", "wrong")


def test_serve_refuses_a_public_bind_without_auth(monkeypatch):
    monkeypatch.delenv("RECRUITMENT_DASHBOARD_HTPASSWD", raising=False)
    monkeypatch.delenv("RECRUITMENT_DASHBOARD_AUTH", raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 1
    assert "RECRUITMENT_DASHBOARD_HTPASSWD" in result.output


def test_hand_dropped_enrollment_with_an_arm_column_is_refused_unread(data_dir: Path):
    path = data_dir / "enrollment.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + ",arm"] + [line + ",ITACITINIB-ARM-ZZ" for line in lines[1:]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    assert "unexpected column(s) 'arm' refused unread" in result.output
    assert "ITACITINIB-ARM-ZZ" not in result.output
