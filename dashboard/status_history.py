"""Registry status changes, kept in their own file: ``status-history.jsonl``.

One JSON line per change: ``date`` (the day the registry import saw it), ``site_id``,
``facility``, ``city``, ``from`` (None for a new site) and ``to``. The weekly card lists
the changes of its week from here. Only :func:`dashboard.imports.import_registry` writes
the file (through :func:`history_bytes`, inside its transaction).

A data dir made before the file existed has its changes only in the import log: while
the file is missing they are read from there, and the next registry import writes them
into the file together with its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .datadir import DataPaths, read_import_log

FIELDS = ("date", "site_id", "facility", "city", "from", "to")


def _from_import_log(paths: DataPaths) -> list[dict[str, Any]]:
    events = []
    for entry in read_import_log(paths):
        if entry.get("kind") == "registry" and entry.get("result") == "imported":
            for change in entry.get("status_changes") or []:
                events.append({"date": str(entry.get("time", ""))[:10], **change})
    return events


def read_status_history(paths: DataPaths) -> tuple[dict[str, Any], ...]:
    """Every recorded status change, oldest first."""
    if not paths.status_history.exists():
        return tuple(_from_import_log(paths))
    text = paths.status_history.read_text(encoding="utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def history_bytes(paths: DataPaths, date: str, changes: Iterable[dict[str, Any]]) -> bytes | None:
    """The whole file with ``changes`` (seen on ``date``) appended; None when nothing to
    write (no change, and the file already holds the history)."""
    new = [{"date": date, **change} for change in changes]
    if not new and paths.status_history.exists():
        return None
    events = [*read_status_history(paths), *new]
    lines = [json.dumps({k: e.get(k) for k in FIELDS}, ensure_ascii=False) for e in events]
    return "".join(line + "\n" for line in lines).encode("utf-8")


__all__ = ["FIELDS", "history_bytes", "read_status_history"]
