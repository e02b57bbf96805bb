"""Helpers shared by tests (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

from pathlib import Path


def snapshot_dir(path: Path) -> dict[str, bytes]:
    """Every file of a data dir with its bytes, to prove a refused import changed nothing."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }
