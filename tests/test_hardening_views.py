"""Issue 12: what viewers can read about a broken data dir, and dates from requests.

Every test here drives the real app through Flask's test client and looks at the bytes
a viewer would receive.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_load import callback_body  # noqa: E402


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
    from dashboard.layout import serve_layout
    from dashboard.store import DataStore

    page = str(serve_layout(DataStore(data_dir)))
    assert "SECRET-CELL" not in page and str(data_dir) not in page
    assert "sites.csv" in page
    assert client.get("/_dash-layout").status_code == 200
