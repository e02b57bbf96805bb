"""The page is built once per data version (dashboard.page.layout.PageCache): a reload
reuses it, a changed file or a bad one on disk shows on the next load."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from dashboard.app import create_app
from dashboard.page.layout import PageCache, serve_layout
from dashboard.store import DataStore


def randomized_kpi(layout_json: str) -> str:
    """The randomized count as the KPI card shows it, found in the layout JSON."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            props = node.get("props", {})
            if isinstance(props, dict) and props.get("id") == "kpi-randomized-value":
                found.append(str(props.get("children")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(layout_json))
    assert len(found) == 1
    return found[0]


def test_a_reload_reuses_the_page_built_for_the_same_data(data_dir: Path) -> None:
    store, pages = DataStore(data_dir), PageCache()
    first = serve_layout(store, dt.date(2025, 6, 30), pages=pages)
    assert serve_layout(store, dt.date(2025, 6, 30), pages=pages) is first
    assert serve_layout(store, dt.date(2025, 6, 29), pages=pages) is not first


def test_a_changed_enrollment_shows_on_the_next_load(data_dir: Path) -> None:
    client = create_app(data_dir, auth=None).server.test_client()
    before = randomized_kpi(client.get("/_dash-layout").get_data(as_text=True))
    assert randomized_kpi(client.get("/_dash-layout").get_data(as_text=True)) == before
    enrollment = data_dir / "enrollment.csv"
    rows = enrollment.read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    randomized = next(
        row for row in rows[1:] if row.split(",")[header.index("randomization_date")]
    )  # a randomized patient, dropped: one fewer on the next load
    enrollment.write_text(
        "\n".join(row for row in rows if row != randomized) + "\n", encoding="utf-8"
    )
    after = randomized_kpi(client.get("/_dash-layout").get_data(as_text=True))
    assert int(after) == int(before) - 1


def test_a_bad_file_on_disk_shows_its_warning_on_the_next_load(data_dir: Path) -> None:
    client = create_app(data_dir, auth=None).server.test_client()
    assert "sites.csv" not in client.get("/_dash-layout").get_data(as_text=True)
    (data_dir / "sites.csv").write_text("site_id,facility\n", encoding="utf-8")
    page = client.get("/_dash-layout").get_data(as_text=True)
    assert "sites.csv" in page  # the last good data stay in service, with the warning
