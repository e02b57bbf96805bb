"""The sites table on paper: a compact static table for the PDF and the PNG snapshot.

The page's sites table is an AG Grid: 560 px tall, scrolling inside itself, so a
screenshot or a print of it shows the first fifteen rows of 46 and no sign that the rest
exist. The steering committee reads the snapshot without a screen, so it gets this plain
``html.Table`` instead: hidden on screen (``assets/print_table.css``), shown in print
media and in the PNG snapshot (``.snapshot-mode``, set by :mod:`dashboard.snapshot`),
holding every row the grid holds, in the grid's order (site id).

A trial with many sites (2,000) would need dozens of pages: above
:data:`PRINT_ROWS_MAX` rows the table lists the flagged sites and the top recruiting
ones, and says in a line above the table how many sites are left out and where the full
table is (the Export menu, ``recruitment-dashboard export --what sites``). Nothing is cut
off silently.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from dash import html

from ...figures.theme import iso_days
from ...registry import STATUS_LABELS
from ..ids import PRINT_TABLE

#: Up to this many sites every row is printed (one A4 landscape page holds 48 compact
#: rows and the page footer); beyond, flagged and top sites only.
PRINT_ROWS_MAX = 48
#: Of the rows printed for a large trial, at least this many are the top recruiters; the
#: rest goes to flagged sites (recruiting with none randomized, or none in the last 90
#: days), which the committee acts on, and back to top sites when few are flagged.
TOP_SITES = 20

#: (column of metrics.site_table, header, kind): the grid's columns, in its order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("site_id", "Site", "text"),
    ("facility", "Facility", "text"),
    ("city", "City", "text"),
    ("status", "Status", "status"),
    ("activation_date", "Activated", "date"),
    ("screened", "Screened", "int"),
    ("randomized", "Randomized", "int"),
    ("share_of_randomized", "Share %", "pct"),
    ("first_randomization", "First rand.", "date"),
    ("last_randomization", "Last rand.", "date"),
    ("days_since_last_randomization", "Days since last", "int"),
    ("rate_per_month_since_activation", "Rand. / month", "rate"),
    ("flag", "Flag", "text"),
)


@dataclass(frozen=True)
class PrintSelection:
    """Which sites the print table lists, and what it says about those it leaves out."""

    rows: pd.DataFrame
    total: int
    flagged_total: int
    flagged_shown: int
    top_shown: int

    @property
    def left_out(self) -> int:
        return self.total - len(self.rows)


def select_rows(table: pd.DataFrame, max_rows: int = PRINT_ROWS_MAX) -> PrintSelection:
    """Every site when they fit; else the top recruiters and as many flagged sites as fit.

    Top sites: most randomized (ties by site id). Flagged sites: "Recruiting, none
    randomized" first (the sites to chase), then "None in last 90 days", each in site-id
    order. Shown rows keep the grid's order (site id) when all fit, and rank order (top
    sites, then flagged) when not, so the first rows are the ones that matter.
    """
    total = len(table)
    flagged_mask = table["flag"].fillna("").astype(str) != ""
    flagged_total = int(flagged_mask.sum())
    if total <= max_rows:
        return PrintSelection(table, total, flagged_total, flagged_total, 0)
    # One stable np.lexsort per ranking (as sort_values(kind="stable") on the same keys,
    # without copying a 2,000-row frame twice).
    flagged_arr = flagged_mask.to_numpy(dtype=bool)
    site_ids = table["site_id"].astype(str).to_numpy(dtype=str)
    ranked = np.lexsort((site_ids, -table["randomized"].to_numpy(dtype=np.int64)))
    flagged_take = min(flagged_total, max(max_rows - TOP_SITES, 0))
    top = ranked[~flagged_arr[ranked]][: max_rows - flagged_take]
    budget = max_rows - len(top)
    flagged_at = np.flatnonzero(flagged_arr)
    not_none = table["flag"].to_numpy(dtype=object)[flagged_at] != "Recruiting, none randomized"
    flagged = flagged_at[np.lexsort((site_ids[flagged_at], not_none))][:budget]
    rows = table.iloc[np.concatenate([top, flagged])]
    return PrintSelection(rows, total, flagged_total, len(flagged), len(top))


def _cell(value: Any, kind: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    if kind == "int":
        return str(int(value))
    if kind == "pct":
        return f"{float(value):.1f}"
    if kind == "rate":
        return f"{float(value):.2f}"
    if kind == "status":
        return STATUS_LABELS.get(str(value), str(value))
    return str(value)


def selection_note(selection: PrintSelection) -> str:
    """The line above the table: how many sites are listed, and how many left out."""
    if selection.left_out == 0:
        return f"All {selection.total} sites, in site order."
    flagged = (
        f"{selection.flagged_shown} flagged sites"
        if selection.flagged_shown == selection.flagged_total
        else f"{selection.flagged_shown} of {selection.flagged_total} flagged sites"
    )
    return (
        f"{len(selection.rows)} of {selection.total} sites: the {selection.top_shown} "
        f"unflagged sites with most randomized, then {flagged}. "
        f"{selection.left_out} sites are left out; the full table: Export → CSV/XLSX on the "
        "page, or `recruitment-dashboard export --what sites`."
    )


@functools.lru_cache(maxsize=32_768)
def _td(text: str, kind: str) -> html.Td:
    """One cell, made once per text and kind: a component costs ~16 µs to make, and most
    cells (site names, small counts, dates) read the same from one as-of date to the next.
    Components are never changed once made, so one cell may sit in several tables."""
    return html.Td(text, className=f"pt-{kind}")


def _texts(column: pd.Series, kind: str) -> list[str]:
    """:func:`_cell` of a whole column (dates at once: one at a time they cost the most)."""
    if kind == "date" and pd.api.types.is_datetime64_dtype(column.dtype):
        return [t or "" for t in iso_days(column)]
    return [_cell(v, kind) for v in column.tolist()]


def print_table(table: pd.DataFrame, max_rows: int = PRINT_ROWS_MAX) -> list[Any]:
    """Children of the print container: a heading, the note, and the table."""
    selection = select_rows(table, max_rows)
    present = [c for c in COLUMNS if c[0] in table.columns]
    head = html.Thead(html.Tr([html.Th(h, className=f"pt-{k}") for _, h, k in present]))
    columns = [
        [_td(text, kind) for text in _texts(selection.rows[name], kind)]
        for name, _, kind in present
    ]
    flags = (
        [_cell(v, "text") for v in selection.rows["flag"].tolist()]
        if present and present[-1][0] == "flag"
        else [""] * len(selection.rows)
    )
    body_rows = [
        html.Tr(list(cells), className="pt-flagged" if flag else None)
        for cells, flag in zip(zip(*columns, strict=True), flags, strict=True)
    ]
    return [
        html.H2("Sites", className="print-sites-title"),
        html.Div(
            selection_note(selection),
            className="print-sites-note",
            id=f"{PRINT_TABLE}-note",
        ),
        html.Table([head, html.Tbody(body_rows)], className="print-sites-table"),
    ]


def print_panel() -> html.Div:
    """The print-only container the page holds under the (screen-only) sites grid, empty:
    its ~700 cells would be laid out before the first screen for a view only paper and
    the snapshot show. :func:`dashboard.page.chart_text.register` fills it with
    :func:`print_table` right after, and :mod:`dashboard.snapshot` waits for it."""
    return html.Div(id=PRINT_TABLE, className="print-sites print-only")


__all__ = [
    "PRINT_ROWS_MAX",
    "PRINT_TABLE",
    "PrintSelection",
    "print_panel",
    "print_table",
    "select_rows",
    "selection_note",
]
