"""The data dir survives concurrent and interrupted imports.

Writes go through ``atomic_write_*`` (temp file, fsync, rename) under ``write_lock``
(flock). These tests run real ``recruitment-dashboard import-enrollment`` processes: two
at once must both finish, one after the other; one SIGKILLed part-way must leave the
previous data intact and loadable, and must not leave the lock held.

Pausing a process at an exact point uses no hook in the product: the child is started
through a few lines of Python that wrap ``os.replace`` (the rename that publishes a
written temp file) to announce itself and sleep, then run the real CLI entry point.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.datadir import (
    DataPaths,
    atomic_write_bytes,
    atomic_write_text,
    read_dataset_meta,
    read_import_log,
)
from dashboard.enrollment import load_enrollment
from dashboard.imports import import_enrollment
from dashboard.store import load_trial_data
from tests.helpers import PAUSING_CLI, export_bytes, snapshot_dir


def cli_command() -> list[str]:
    """The installed console script when there is one, else the module."""
    script = shutil.which("recruitment-dashboard")
    return [script] if script else [sys.executable, "-m", "dashboard.cli"]


def pausing_cli(target: str, seconds: float, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PAUSING_CLI, target, str(seconds), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def data_files(data_dir: Path) -> dict[str, bytes]:
    """The data dir as the app sees it: no log, no lock, no leftover temp files."""
    return {
        k: v
        for k, v in snapshot_dir(data_dir).items()
        if k != "import-log.jsonl"
        and not k.endswith((".tmp", ".staged"))
        and k != ".import-journal.json"
    }


def canonical_of(export: Path, data_dir: Path, scratch: Path) -> str:
    """enrollment.csv as importing ``export`` alone into a copy of ``data_dir`` writes it."""
    copy = scratch / f"canonical-{export.stem}"
    shutil.copytree(data_dir, copy)
    import_enrollment(export, DataPaths(copy))
    return (copy / "enrollment.csv").read_text(encoding="utf-8")


def lock_is_held(data_dir: Path) -> bool:
    with open(data_dir / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


# ----------------------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "f.csv"
    atomic_write_text(target, "old\n")
    atomic_write_bytes(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "f.csv"
    atomic_write_text(target, "old\n")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]


# ----------------------------------------------------------------------------- concurrency
def test_two_imports_at_once_are_serialised_by_the_lock(tmp_path: Path, data_dir: Path):
    first = tmp_path / "first.csv"
    second = tmp_path / "second.csv"
    first.write_bytes(export_bytes("A", 300, seed=1))
    second.write_bytes(export_bytes("B", 200, seed=2))
    expected_second = canonical_of(second, data_dir, tmp_path)

    # The first import holds the lock (paused just before publishing enrollment.csv)...
    one = pausing_cli(
        "enrollment.csv", 1.5, "import-enrollment", str(first), "--data-dir", str(data_dir)
    )
    assert one.stdout is not None
    assert one.stdout.readline().startswith("PAUSED")
    # ...while the second starts: it must wait for the lock, then run to the end.
    two = subprocess.Popen(
        [*cli_command(), "import-enrollment", str(second), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_one, err_one = one.communicate(timeout=120)
    out_two, err_two = two.communicate(timeout=120)
    assert one.returncode == 0, err_one
    assert two.returncode == 0, err_two
    assert "Imported 300 patients" in out_one and "Imported 200 patients" in out_two
    log = read_import_log(DataPaths(data_dir))
    assert [(e["file"], e["result"]) for e in log] == [
        ("first.csv", "imported"),
        ("second.csv", "imported"),
    ]
    # The last writer's file, whole: not a mix, not the first.
    assert (data_dir / "enrollment.csv").read_text(encoding="utf-8") == expected_second
    assert not list(data_dir.glob("*.tmp")) and not list(data_dir.glob(".*.tmp"))
    assert len(load_trial_data(data_dir).enrollment) == 200


def test_two_imports_racing_both_finish_and_one_wins_whole(tmp_path: Path, data_dir: Path):
    exports = []
    for prefix, rows in (("A", 20_000), ("B", 15_000)):
        path = tmp_path / f"{prefix}.csv"
        path.write_bytes(export_bytes(prefix, rows, seed=rows))
        exports.append(path)
    expected = {canonical_of(path, data_dir, tmp_path) for path in exports}
    procs = [
        subprocess.Popen(
            [*cli_command(), "import-enrollment", str(path), "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in exports
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert (data_dir / "enrollment.csv").read_text(encoding="utf-8") in expected
    log = read_import_log(DataPaths(data_dir))
    assert sorted(e["file"] for e in log) == ["A.csv", "B.csv"]
    assert all(e["result"] == "imported" for e in log)


# ----------------------------------------------------------------------------- interruption
def test_killed_after_writing_the_temp_file_leaves_previous_data(tmp_path: Path, data_dir: Path):
    before = data_files(data_dir)
    previous = load_trial_data(data_dir)
    export = tmp_path / "new.csv"
    export.write_bytes(export_bytes("N", 500))

    child = pausing_cli(
        "enrollment.csv", 60, "import-enrollment", str(export), "--data-dir", str(data_dir)
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    assert line[0] == "PAUSED"
    temp = Path(line[1])
    assert temp.parent == data_dir and temp.exists()  # the new data, fully written, unpublished
    assert temp.read_text(encoding="utf-8").count("\n") == 501
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert data_files(data_dir) == before
    after = load_trial_data(data_dir)
    assert after.enrollment.equals(previous.enrollment)
    assert after.synthetic and read_dataset_meta(DataPaths(data_dir))["data_cutoff"] == "2025-11-20"
    assert not lock_is_held(data_dir)  # the kernel released the dead process's lock

    # The next import works, and sweeps the orphaned temp file.
    report = import_enrollment(export, DataPaths(data_dir))
    assert report["rows"] == 500
    assert not temp.exists()
    assert len(load_enrollment(DataPaths(data_dir))) == 500


def test_killed_mid_import_of_a_big_file_leaves_previous_data(tmp_path: Path, data_dir: Path):
    before = data_files(data_dir)
    export = tmp_path / "big.csv"
    export.write_bytes(export_bytes("P", 200_000))
    child = subprocess.Popen(
        [*cli_command(), "import-enrollment", str(export), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        # The import reads and validates with the lock held; kill it as soon as it holds it.
        while not lock_is_held(data_dir):
            assert child.poll() is None, "the import finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert data_files(data_dir) == before
    data = load_trial_data(data_dir, strict=False)
    assert data.synthetic and len(data.enrollment) == 75
    assert not lock_is_held(data_dir)
