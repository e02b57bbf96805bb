"""Helpers shared by tests (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

from pathlib import Path


def snapshot_dir(path: Path, include_log: bool = False) -> dict[str, bytes]:
    """Every file of a data dir with its bytes, to prove a refused import changed nothing.

    The import log is left out by default: refusals are appended to it on purpose.
    """
    skip = {".lock"} if include_log else {".lock", "import-log.jsonl"}
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name not in skip
    }
