"""Issue 12: what viewers can read about a broken data dir, and dates from requests.

Every test here drives the real app through Flask's test client and looks at the bytes
a viewer would receive.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.http_load import callback_body


def _bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _dep(client: Any, output_part: str) -> dict[str, Any]:
    deps = client.get("/_dash-dependencies").get_json()
    return next(d for d in deps if output_part in d["output"])


@pytest.fixture
def app_client(data_dir: Path):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=None)
    return app, app.server.test_client()


def _all_replies(client: Any, as_of: str = "2025-11-20") -> bytes:
    """The page, its layout and the main callback's reply, concatenated."""
    replies = [client.get("/").get_data(), client.get("/_dash-layout").get_data()]
    reply = client.post(
        "/_dash-update-component", json=callback_body(_dep(client, "site-map.figure"), as_of)
    )
    assert reply.status_code == 200
    replies.append(reply.get_data())
    return b"\n".join(replies)


def test_arm_names_in_a_hand_edited_enrollment_never_reach_a_viewer(app_client, data_dir):
    app, client = app_client
    good = _all_replies(client)
    path = data_dir / "enrollment.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    codes = [r.split(",")[0] for r in rows[:3]]
    broken = [header] + [
        ",".join([*r.split(",")[:4], "ITACITINIB" if k % 2 else "PLACEBO"])
        for k, r in enumerate(rows)
    ]
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    _bump(path)
    seen = _all_replies(client).decode("utf-8", "replace")
    for secret in ["ITACITINIB", "PLACEBO", str(data_dir), *codes]:
        assert secret not in seen, secret
    # the warning says which file, line and rule, and that the last good data are shown
    assert "enrollment.csv, line 2, column status" in seen
    assert "last good data" in seen
    store = app._dashboard_store
    assert all("ITACITINIB" not in e and "PLACEBO" not in e for e in store.errors)
    assert good.count(b"randomized") > 0  # the last good counts still serve


def test_reordered_columns_name_no_header_cell(app_client, data_dir):
    _app, client = app_client
    path = data_dir / "enrollment.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    first_code = lines[1].split(",")[0]
    # columns pasted without a header: the first patient row becomes the header
    path.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    _bump(path)
    seen = _all_replies(client).decode("utf-8", "replace")
    assert first_code not in seen
    assert "enrollment.csv" in seen and "column" in seen


def test_a_symlinked_data_file_is_refused_and_its_target_never_shown(
    app_client, data_dir, tmp_path
):
    _app, client = app_client
    _all_replies(client)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-LINE,1,2,3,4\n", encoding="utf-8")
    (data_dir / "enrollment.csv").unlink()
    (data_dir / "enrollment.csv").symlink_to(secret)
    seen = _all_replies(client).decode("utf-8", "replace")
    assert "TOPSECRET" not in seen and str(tmp_path) not in seen
    assert "enrollment.csv: is a symbolic link" in seen


def test_a_deleted_enrollment_warns_instead_of_showing_zero(app_client, data_dir):
    app, client = app_client
    _all_replies(client)
    n = len(app._dashboard_store.get().enrollment)
    (data_dir / "enrollment.csv").unlink()
    seen = _all_replies(client).decode("utf-8", "replace")
    assert "enrollment.csv: is missing" in seen
    assert len(app._dashboard_store.get().enrollment) == n


def test_a_data_dir_that_never_loaded_shows_no_path(tmp_path, data_dir):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=None)
    client = app.server.test_client()
    (data_dir / "sites.csv").write_text("site_id,facility\nSECRET-CELL,x\n", encoding="utf-8")
    from dashboard.page.layout import serve_layout
    from dashboard.store import DataStore

    page = str(serve_layout(DataStore(data_dir)))
    assert "SECRET-CELL" not in page and str(data_dir) not in page
    assert "sites.csv" in page
    assert client.get("/_dash-layout").status_code == 200


# ----------------------------------------------------------------------------- dates
FAR_DATES = ["9999-12-31", "0001-01-01", "2300-01-01"]


def _post(client: Any, dep: dict[str, Any], as_of: str, trigger: str | None = None):
    body = callback_body(dep, as_of)
    if trigger:
        body["changedPropIds"] = [trigger]
    started = time.monotonic()
    reply = client.post("/_dash-update-component", json=body)
    return reply, time.monotonic() - started


@pytest.mark.parametrize("day", FAR_DATES)
def test_every_as_of_callback_refuses_a_far_date_quickly_and_small(app_client, day):
    _app, client = app_client
    deps = client.get("/_dash-dependencies").get_json()
    reading = [
        d
        for d in deps
        if any(s["id"] == "as-of-date" for s in d["inputs"] + d["state"])
        and "url.search" not in d["output"]
    ]
    assert len(reading) >= 4  # main view, two table downloads, snapshot
    for dep in reading:
        trigger = f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"
        reply, seconds = _post(client, dep, day, trigger)
        assert reply.status_code < 500, (dep["output"], reply.status_code)
        body = reply.get_data()
        assert seconds <= 5 and len(body) < 1_000_000, (dep["output"], seconds, len(body))
        assert b"refused" in body, (dep["output"], body[:300])


def test_an_in_range_date_still_counts(app_client):
    _app, client = app_client
    reply, _ = _post(client, _dep(client, "site-map.figure"), "2025-06-30")
    assert reply.status_code == 200 and b"as-of-refused" not in reply.get_data()


def test_the_range_is_trial_start_minus_a_year_to_cutoff_plus_five(shipped_data_dir):
    from dashboard.dates import AsOfRefused, as_of_range, check_as_of, resolve_as_of
    from dashboard.store import load_trial_data

    data = load_trial_data(shipped_data_dir)
    allowed = as_of_range(data.trial.start_date, data.data_cutoff)
    start, cut = data.trial.start_date, data.data_cutoff  # 2023-02-02 and the demo cut-off
    assert allowed.earliest == dt.date(start.year - 1, start.month, start.day)
    assert allowed.latest == dt.date(cut.year + 5, cut.month, cut.day)
    assert check_as_of(allowed.latest, allowed) == allowed.latest
    with pytest.raises(AsOfRefused, match="refused"):
        check_as_of(allowed.latest + dt.timedelta(days=1), allowed)
    with pytest.raises(AsOfRefused):
        check_as_of(allowed.earliest - dt.timedelta(days=1), allowed)
    assert resolve_as_of(None, cut, allowed) == cut
    for junk in (5, [1], {"a": 1}, "garbage", "2025-02-30"):
        with pytest.raises(AsOfRefused):
            resolve_as_of(junk, cut, allowed)
    assert as_of_range(dt.date(2024, 2, 29), dt.date(2024, 2, 29)).latest == dt.date(2029, 2, 28)


@pytest.mark.parametrize("command", ["summary", "forecast", "export", "snapshot", "serve"])
def test_cli_as_of_out_of_range_is_a_clear_refusal(command, data_dir, tmp_path):
    from click.testing import CliRunner

    from dashboard.cli import main

    extra = {
        "export": ["--what", "sites", "--out", str(tmp_path / "x.csv")],
        "snapshot": ["--out", str(tmp_path / "x.pdf")],
    }.get(command, [])
    result = CliRunner().invoke(
        main, [command, "--data-dir", str(data_dir), "--as-of", "2300-01-01", *extra]
    )
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.pdf").exists()


def test_as_of_in_the_url_far_away_reaches_the_refusal_not_the_cutoff(app_client):
    _app, client = app_client
    dep = _dep(client, "url.search")
    body = {
        "output": dep["output"],
        "outputs": [
            {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
            for part in dep["output"].strip(".").split("...")
        ],
        "inputs": [
            {"id": "url", "property": "search", "value": "?as_of=2300-01-01"},
            {"id": "as-of-date", "property": "value", "value": "2025-11-20"},
        ],
        "state": [],
        "changedPropIds": ["url.search"],
    }
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200
    # The picker gets the asked date (then refused by the main view with the range),
    # never silently the cut-off.
    assert reply.get_json()["response"]["as-of-date"]["value"] == "2300-01-01"
    refused, _ = _post(client, _dep(client, "site-map.figure"), "2300-01-01")
    assert b"As-of date 2300-01-01 refused" in refused.get_data()
