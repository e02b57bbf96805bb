"""The import log as the Data page's History table: when, who, what, outcome, counts.

Rows are built from the log's fields that hold no cell value (the log never stores one):
refusals show their reason categories, site edits their old and new value.
"""

from __future__ import annotations

from typing import Any

from ..datadir import DataPaths, read_import_log

WHAT = {
    "enrollment": "enrollment import",
    "registry": "registry import",
    "site_edit": "site edit",
    "demo": "demo",
    "geocode": "geocoding",
}


def _details(entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    if kind == "site_edit":
        old, new = entry.get("old") or "blank", entry.get("new") or "blank"
        text = f"site {entry.get('site_id')}: {entry.get('column')} {old} → {new}"
        return text + (" (warned: after first randomization)" if entry.get("warning") else "")
    parts = []
    if entry.get("reasons"):
        parts.append("reasons: " + ", ".join(str(r) for r in entry["reasons"]))
    if isinstance(entry.get("errors"), int):
        parts.append(f"{entry['errors']} problem(s)")
    elif isinstance(entry.get("errors"), list):
        parts.append(f"{len(entry['errors'])} problem(s)")
    if entry.get("data_cutoff"):
        parts.append(f"cut-off {entry['data_cutoff']}")
    if entry.get("status_changes"):
        parts.append(f"{len(entry['status_changes'])} site status change(s)")
    if entry.get("removed"):
        parts.append("removed " + ", ".join(str(r) for r in entry["removed"]))
    return "; ".join(parts)


def history_rows(paths: DataPaths) -> list[dict[str, Any]]:
    """One row per log entry, newest first (the log is append-only: file order is time order)."""
    rows = []
    for entry in reversed(read_import_log(paths)):
        time = str(entry.get("time", ""))
        rows.append(
            {
                "time": time.replace("T", " ").replace("Z", " UTC"),
                "user": str(entry.get("user") or "(not recorded)"),
                "via": str(entry.get("via") or ""),
                "what": WHAT.get(str(entry.get("kind")), str(entry.get("kind") or "import")),
                "result": str(entry.get("result", "")),
                "file": str(entry.get("file") or ""),
                "rows": entry.get("rows") if isinstance(entry.get("rows"), int) else None,
                "details": _details(entry),
                "sha256": str(entry.get("sha256") or "")[:12],
            }
        )
    return rows
