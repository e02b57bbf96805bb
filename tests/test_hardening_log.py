"""Issue 12: the import log survives short writes and torn lines; an import killed between
its renames is finished (files, dataset.json and log entry together) when the store starts."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from pathlib import Path

from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import DataPaths, append_import_log, read_dataset_meta, read_import_log
from dashboard.store import DataStore
from tests.helpers import PAUSING_CLI, export_bytes


def _log_some(paths: DataPaths) -> None:
    append_import_log(paths, {"kind": "registry", "result": "refused", "errors": ["x"]})
    append_import_log(paths, {"kind": "registry", "result": "refused", "errors": ["y"]})


def test_a_torn_last_line_is_skipped_by_readers_and_cut_by_the_next_writer(data_dir: Path):
    paths = DataPaths(data_dir)
    _log_some(paths)
    with open(paths.import_log, "ab") as handle:
        handle.write(b'{"time": "2025-11-2')  # the disk filled mid-line
    assert len(read_import_log(paths)) == 2
    runner = CliRunner()
    for command in (["log"], ["validate"], ["summary", "--json"]):
        result = runner.invoke(main, [*command, "--data-dir", str(data_dir)])
        assert result.exit_code == 0, (command, result.output)
    from dashboard.app import create_app

    client = create_app(data_dir, auth=None).server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    append_import_log(paths, {"kind": "registry", "result": "refused", "errors": ["z"]})
    lines = paths.import_log.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(x) for x in lines[:-1])
    assert [e["messages"] for e in read_import_log(paths)] == [["x"], ["y"], ["z"]]


def test_a_short_write_leaves_no_partial_line(data_dir: Path, monkeypatch):
    paths = DataPaths(data_dir)
    _log_some(paths)
    before = paths.import_log.read_bytes()
    real_write = os.write
    calls = [0]

    def short_then_full(fd: int, data) -> int:  # the kernel's answer on a filling disk
        calls[0] += 1
        if calls[0] == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", short_then_full)
    try:
        append_import_log(paths, {"kind": "registry", "result": "refused", "errors": ["w"]})
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError("a full disk must be reported")
    monkeypatch.undo()
    assert paths.import_log.read_bytes() == before
    # a short write that then succeeds is completed, not truncated
    calls[0] = 0

    def short_then_ok(fd: int, data) -> int:
        calls[0] += 1
        return real_write(fd, bytes(data[: max(1, len(data) // 3)]))

    monkeypatch.setattr(os, "write", short_then_ok)
    append_import_log(paths, {"kind": "registry", "result": "refused", "errors": ["v"]})
    monkeypatch.undo()
    assert calls[0] >= 3
    assert [e["messages"] for e in read_import_log(paths)][-1] == ["v"]


def test_an_import_killed_between_renames_is_finished_when_the_store_starts(
    tmp_path: Path, data_dir: Path
):
    import subprocess

    export = tmp_path / "new.csv"
    export.write_bytes(export_bytes("N", 300))
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSING_CLI,
            "dataset.json",
            "60",
            "import-enrollment",
            str(export),
            "--data-dir",
            str(data_dir),
            "--cutoff",
            "2025-11-27",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().startswith("PAUSED")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    paths = DataPaths(data_dir)
    # The half-applied state the attack found: new enrollment, old dataset.json, no entry.
    assert read_dataset_meta(paths).get("synthetic") is True
    assert not [e for e in read_import_log(paths) if e.get("result") == "imported"]
    # Stray temp files of other killed writers.
    (data_dir / ".sites.csv.abc123.tmp").write_text("junk", encoding="utf-8")
    (data_dir / ".dataset.json.def456.tmp").write_text("junk", encoding="utf-8")

    data = DataStore(data_dir).get()
    assert len(data.enrollment) == 300
    assert data.synthetic is False and data.data_cutoff.isoformat() == "2025-11-27"
    imported = [e for e in read_import_log(paths) if e.get("result") == "imported"]
    assert len(imported) == 1 and imported[0]["file"] == "new.csv"
    leftovers = [p.name for p in data_dir.iterdir() if p.name.endswith((".tmp", ".staged"))]
    assert leftovers == [] and not (data_dir / ".import-journal.json").exists()
    # A second start finds nothing to do and logs nothing twice.
    DataStore(data_dir).get()
    assert len([e for e in read_import_log(paths) if e.get("result") == "imported"]) == 1
