"""Exports of aggregate tables (never patient-level rows), safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
by Excel/LibreOffice as a formula (CSV injection). :func:`escape_formula` prefixes such
cells with a single quote, so "+33 1 58..." stays a phone number and "=HYPERLINK(...)"
stays text. Numbers are left as they are.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from typing import Any

import pandas as pd

from .registry import STATUS_LABELS

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: (column of metrics.site_table, CSV header) — aggregates per site only.
SITES_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("site_id", "site_id"),
    ("facility", "facility"),
    ("city", "city"),
    ("status", "status"),
    ("activation_date", "activation_date"),
    ("screened", "screened"),
    ("screen_failed", "screen_failed"),
    ("randomized", "randomized"),
    ("share_of_randomized", "share_of_randomized_percent"),
    ("target", "site_target"),
    ("first_randomization", "first_randomization"),
    ("last_randomization", "last_randomization"),
    ("days_since_last_randomization", "days_since_last_randomization"),
    ("rate_per_month_since_activation", "randomized_per_month_since_activation"),
    ("days_activation_to_first_randomization", "days_activation_to_first_randomization"),
    ("flag", "flag"),
    ("geocode_precision", "geocode_precision"),
)


#: A formula start a spreadsheet would still see: after blanks (leading spaces and
#: newlines are skipped by Excel and LibreOffice), in full-width form (＝ ＋ － ＠, which
#: NFKC folds to = + - @), or after a separator a French Excel splits on (";" "," tab "|").
_FORMULA_START = re.compile(r"^[\s\u3000]*[=+\-@＝＋－＠﹦﹢﹣]")
_INNER_FORMULA = re.compile(r"([;,\t|\r\n][\s\u3000]*)(?=[=+\-@＝＋－＠﹦﹢﹣])")


def escape_formula(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells; anything else is returned unchanged.

    A cell starting (after blanks) with a formula character gets a leading quote; a formula
    character right after a separator inside the text gets one too, so that a spreadsheet
    splitting the cell on ";" still sees text.
    """
    if not isinstance(value, str):
        return value
    escaped = value
    if escaped.startswith(FORMULA_PREFIXES) or _FORMULA_START.match(escaped):
        escaped = "'" + escaped
    return _INNER_FORMULA.sub(r"\1'", escaped)


#: Whole-number columns (NaN-able floats in the table): written without a ".0".
_INTEGER_COLUMNS = frozenset(
    {
        "target",
        "screened",
        "screen_failed",
        "randomized",
        "days_since_last_randomization",
        "days_activation_to_first_randomization",
    }
)
_ROUNDING = {"share_of_randomized": 1, "rate_per_month_since_activation": 2}


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _cell(column: str, value: Any) -> Any:
    """One value as the CSV holds it: blank, whole number, rounded number, ISO date, text."""
    if hasattr(value, "item") and not isinstance(value, str | pd.Timestamp):  # numpy scalar
        value = value.item()
    if _is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if column in _INTEGER_COLUMNS and isinstance(value, int | float):
        return int(value)
    if column in _ROUNDING and isinstance(value, int | float):
        return round(float(value), _ROUNDING[column])
    if isinstance(value, int | float):
        return value
    if column == "status":
        return STATUS_LABELS.get(str(value), str(value))
    return str(value)


def sites_table_csv(table: pd.DataFrame) -> str:
    """The per-site table (:func:`dashboard.metrics.site_table`) as CSV text, formula-safe.

    RFC 4180 with ``\\r\\n`` line ends, the columns of :data:`SITES_EXPORT_COLUMNS`, status
    as its label, dates ISO, blanks empty; every text cell goes through
    :func:`escape_formula`. The app's download prefixes a UTF-8 BOM for Excel, which makes
    it the same file as ``recruitment-dashboard export --what sites``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    present = [(col, header) for col, header in SITES_EXPORT_COLUMNS if col in table.columns]
    writer.writerow([escape_formula(header) for _, header in present])
    for record in table[[col for col, _ in present]].itertuples(index=False, name=None):
        writer.writerow(
            [
                escape_formula(_cell(col, value))
                for (col, _), value in zip(present, record, strict=True)
            ]
        )
    return buffer.getvalue()
