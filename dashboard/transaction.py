"""An import's files and its log entry commit together.

An import replaces several files (``enrollment.csv``, then ``dataset.json``, which says
the data are real and gives the cut-off) and appends to the import log. Each rename is
atomic, but a kill between two renames would leave the new enrollment with the old
``dataset.json`` (still "synthetic", old cut-off) and no log entry.

:func:`commit` therefore:

1. writes every new file next to its target as ``.<name>.staged`` (fsynced);
2. writes the journal ``.import-journal.json`` (atomically): the renames to do and the log
   entry, with a transaction id — from here on the import *has happened*;
3. renames the staged files, appends the log entry, removes the journal.

:func:`recover` (run under the write lock by every import and when a server's store
starts) finishes a journal it finds — renames still pending, log entry if absent — and
removes staged and temporary files a killed writer left behind. Before step 2 a crash
leaves only stray staged files, which :func:`recover` deletes: the old data stand.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .datadir import (
    DataPaths,
    append_import_log,
    atomic_write_text,
    read_import_log,
    utc_now_iso,
)

JOURNAL_NAME = ".import-journal.json"
STAGED_SUFFIX = ".staged"


def journal_path(paths: DataPaths) -> Path:
    return paths.root / JOURNAL_NAME


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(target: Path, data: bytes) -> Path:
    staged = target.parent / f".{target.name}{STAGED_SUFFIX}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
        raise
    os.close(fd)
    return staged


def commit(
    paths: DataPaths,
    files: dict[Path, bytes],
    log_entry: dict[str, Any],
    removals: tuple[Path, ...] = (),
) -> None:
    """Replace ``files`` and delete ``removals`` (all inside the data dir) and log
    ``log_entry``, all or nothing as seen after :func:`recover`. The caller holds
    :func:`~dashboard.datadir.write_lock`."""
    root = paths.root.resolve()
    removed = [str(Path(target).resolve().relative_to(root)) for target in removals]
    renames = []
    try:
        for target, data in files.items():
            relative = Path(target).resolve().relative_to(root)  # ValueError: outside
            staged = _stage(root / relative, data)
            renames.append([str(staged.relative_to(root)), str(relative)])
    except BaseException:
        for staged_name, _ in renames:
            with contextlib.suppress(FileNotFoundError):
                (root / staged_name).unlink()
        raise
    entry = {"time": utc_now_iso(), "txn": secrets.token_hex(8), **log_entry}
    atomic_write_text(
        journal_path(paths), json.dumps({"renames": renames, "removals": removed, "log": entry})
    )
    _apply(paths, renames, entry, removed)


def _apply(
    paths: DataPaths, renames: list[list[str]], entry: dict[str, Any], removals: Sequence[str] = ()
) -> None:
    root = paths.root
    for staged_name, target_name in renames:
        staged, target = root / staged_name, root / target_name
        if staged.exists():
            os.replace(staged, target)
            _fsync_dir(target.parent)
    for name in removals:
        with contextlib.suppress(FileNotFoundError):
            (root / name).unlink()
    if not any(e.get("txn") == entry["txn"] for e in read_import_log(paths)):
        append_import_log(paths, entry)
    with contextlib.suppress(FileNotFoundError):
        journal_path(paths).unlink()
    _fsync_dir(root)


def recover(paths: DataPaths) -> bool:
    """Finish a half-applied import and delete leftovers; True when a journal was found.

    The caller holds the write lock (no writer is live, so every staged or temporary file
    is a leftover).
    """
    found = False
    journal = journal_path(paths)
    if journal.exists():
        record = json.loads(journal.read_text(encoding="utf-8"))
        renames = [
            [str(a), str(b)]
            for a, b in record["renames"]
            if _inside(paths.root, a) and _inside(paths.root, b)
        ]
        removals = [str(n) for n in record.get("removals", []) if _inside(paths.root, str(n))]
        _apply(paths, renames, record["log"], removals)
        found = True
    for directory in (paths.root, paths.registry_dir):
        if not directory.is_dir():
            continue
        for leftover in [*directory.glob(f".*{STAGED_SUFFIX}"), *directory.glob(".*.tmp")]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return found


def _inside(root: Path, name: str) -> bool:
    try:
        (root / name).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not os.path.isabs(name)
