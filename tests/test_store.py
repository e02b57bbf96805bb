"""The store serves the last good data: new valid files are picked up, invalid ones are not."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dashboard.datadir import DataPaths
from dashboard.store import DataStore, fingerprint, load_trial_data


def bump(path: Path) -> None:
    """Make sure the change is seen even within one mtime tick."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def add_patient(data_dir: Path, row: str) -> None:
    with open(data_dir / "enrollment.csv", "a", encoding="utf-8") as handle:
        handle.write(row + "\n")
    bump(data_dir / "enrollment.csv")


def test_new_valid_data_is_picked_up_without_restart(data_dir: Path):
    store = DataStore(data_dir)
    first = store.get()
    n = len(first.enrollment)
    add_patient(data_dir, "NEW-0001,02,2025-11-01,2025-11-10,RANDOMIZED")
    second = store.get()
    assert len(second.enrollment) == n + 1
    assert second.version != first.version
    assert store.errors == ()


def test_invalid_files_keep_the_last_good_data_with_errors(data_dir: Path):
    store = DataStore(data_dir)
    good = store.get()
    # A half-copied file: the last line cut in the middle of a date.
    add_patient(data_dir, "CUT-0001,02,2025-1")
    served = store.get()
    assert served is good
    assert any("line" in e and "screening_date" in e for e in store.errors), store.errors
    # Unknown site id (cross-check), also refused.
    lines = (data_dir / "enrollment.csv").read_text(encoding="utf-8").splitlines()[:-1]
    (data_dir / "enrollment.csv").write_text(
        "\n".join(lines + ["ODD-0001,99,2025-11-01,,SCREENING"]) + "\n", encoding="utf-8"
    )
    bump(data_dir / "enrollment.csv")
    assert store.get() is good
    assert "enrollment.csv: names a site that is not in sites.csv" in store.errors
    # Repaired: the errors go and the new data come in.
    (data_dir / "enrollment.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bump(data_dir / "enrollment.csv")
    assert store.get() is not good
    assert store.errors == ()


def test_the_page_shows_the_validation_errors(data_dir: Path):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=None)
    client = app.server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    add_patient(data_dir, "CUT-0002,02,2025-1")
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "line" in layout and "column screening_date" in layout
    assert "2025-1," not in layout and "CUT-0002" not in layout  # no cell value, no code
    assert "last good" in layout.lower() or "last valid" in layout.lower()


def test_fingerprint_changes_with_any_data_file(data_dir: Path):
    paths = DataPaths(data_dir)
    before = fingerprint(paths)
    meta = json.loads(paths.dataset.read_text(encoding="utf-8"))
    meta["data_cutoff"] = "2025-11-19"
    paths.dataset.write_text(json.dumps(meta), encoding="utf-8")
    bump(paths.dataset)
    assert fingerprint(paths) != before
    assert load_trial_data(data_dir).data_cutoff.isoformat() == "2025-11-19"


def test_a_served_version_is_frozen_and_an_old_one_still_collected(data_dir: Path, monkeypatch):
    """The collector no longer traverses the served data (gc.freeze), yet a replaced
    version caught in a reference cycle is freed: the cycle, frozen with the next
    version, is unfrozen and collected when the one after is loaded."""
    import gc
    import weakref

    from dashboard import store as store_module

    monkeypatch.setattr(store_module, "SETTLE_MIN_ROWS", 0)  # the demo is small
    store = DataStore(data_dir)
    first = store.get()
    assert gc.get_freeze_count() > 0
    freed = weakref.finalize(first.enrollment, lambda: None)
    cycle: list = [first]
    cycle.append(cycle)  # once unreachable, only the collector can free what this holds
    del first
    add_patient(data_dir, "NEW-0002,02,2025-11-01,2025-11-10,RANDOMIZED")
    store.get()  # the cycle, still reachable, is frozen with this version
    del cycle
    gc.collect()
    assert freed.alive  # frozen: a collection does not see it
    add_patient(data_dir, "NEW-0003,02,2025-11-02,2025-11-10,RANDOMIZED")
    store.get()
    assert not freed.alive, "the replaced version was kept alive by the freeze"
