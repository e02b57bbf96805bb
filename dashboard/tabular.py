"""Tabular exports: the sites table and the accrual series as CSV or XLSX.

The same four functions serve the ``export`` command and the app's download buttons, so a
file downloaded from the page and one written by cron are byte-for-byte the same kind.

What goes out is aggregate only: one row per site or per day, never a patient row or a
``patient_id``. Numbers stay numbers. Every *text* cell that a spreadsheet would run as a
formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed
with ``'`` (OWASP "CSV injection"): facility names come from a public registry record that
anyone can edit, so they are untrusted input.

CSV flavour: RFC 4180 (comma, ``"`` quoting, ``\\r\\n`` line ends), UTF-8 *with* a byte
order mark, so that Excel (French locale included) shows "Besançon" and not "BesanÃ§on";
pandas, R and LibreOffice ignore the BOM. Decimal point is ``.``. French Excel splits
columns on ``;``, so it opens this CSV in one column: French Excel users should take the
XLSX, which needs no locale guess at all.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from typing import Any

import pandas as pd

from .dates import DateLike, to_date
from .export_about import ExportAbout
from .metrics import accrual_series, site_table
from .registry import STATUS_LABELS
from .store import TrialData

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: (column of metrics.site_table, exported header): the one list of the sites export, for
#: the page's download and ``export --what sites`` alike. Per-site aggregates only.
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


#: Columns holding whole numbers (nullable): written without a ``.0``.
_INTEGER_COLUMNS = (
    "target",
    "screened",
    "screen_failed",
    "randomized",
    "randomized_last_90_days",
    "days_since_last_randomization",
    "days_open",
    "days_activation_to_first_randomization",
)
_DATE_COLUMNS = ("activation_date", "first_randomization", "last_randomization")
_ROUNDING = {"share_of_randomized": 1, "rate_per_month_since_activation": 2}

#: Never exported, whatever a caller passes in: patient-level identifiers.
FORBIDDEN_COLUMNS = frozenset({"patient_id"})

_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _as_of(data: TrialData, as_of: DateLike | None) -> dt.date:
    return data.data_cutoff if as_of is None else to_date(as_of)


def sites_export_frame(data: TrialData, as_of: DateLike | None = None) -> pd.DataFrame:
    """The per-site table as of a date (default: the data cut-off), aggregate columns only.

    Values keep their types (nullable integers, floats, dates) so the XLSX gets numeric and
    date cells; the status is the human label, as on the page.
    """
    cut = _as_of(data, as_of)
    return sites_export_from_table(
        site_table(data.sites, data.geocodes, data.enrollment, cut, data.trial.start_date)
    )


def sites_export_from_table(table: pd.DataFrame) -> pd.DataFrame:
    """The export columns of a per-site table (:func:`dashboard.metrics.site_table`), typed
    for the spreadsheet; any other column (coordinates, a patient id) is left out."""
    frame = pd.DataFrame(index=table.index)
    for column, header in SITES_EXPORT_COLUMNS:
        if column not in table.columns:
            continue
        values: Any = table[column]
        if column in _INTEGER_COLUMNS:
            values = pd.array([None if pd.isna(v) else int(v) for v in values], dtype="Int64")
        elif column in _ROUNDING:
            values = values.astype(float).round(_ROUNDING[column])
        elif column in _DATE_COLUMNS:
            values = [None if pd.isna(v) else pd.Timestamp(v).date() for v in values]
        elif column == "status":
            values = [STATUS_LABELS.get(str(v), str(v)) for v in values]
        elif column in ("flag", "geocode_precision"):
            values = ["" if v is None or pd.isna(v) else str(v) for v in values]
        frame[header] = values
    return frame.reset_index(drop=True)


def accrual_export_frame(data: TrialData, as_of: DateLike | None = None) -> pd.DataFrame:
    """Daily cumulative screened and randomized from the trial start to the as-of date."""
    cut = _as_of(data, as_of)
    series = accrual_series(data.enrollment, data.trial.start_date, cut)
    return pd.DataFrame(
        {
            "date": [pd.Timestamp(v).date() for v in series["date"]],
            "screened": pd.array(series["screened"].astype(int).tolist(), dtype="Int64"),
            "randomized": pd.array(series["randomized"].astype(int).tolist(), dtype="Int64"),
        }
    )


def _check_columns(frame: pd.DataFrame) -> None:
    leaked = FORBIDDEN_COLUMNS & {str(c).lower() for c in frame.columns}
    if leaked:
        raise ValueError(f"refusing to export patient-level column(s): {', '.join(sorted(leaked))}")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _cell(value: Any) -> Any:
    """One value as a spreadsheet should hold it: None, int, float, date, or escaped text."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "TRUE" if value else "FALSE"
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, int | float):
        return value
    return escape_formula(str(value))


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8-with-BOM CSV bytes, formula text escaped, dates ISO, blanks empty."""
    _check_columns(frame)
    header = [escape_formula(str(c)) for c in frame.columns]
    out = pd.DataFrame(
        [
            ["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row]
            for row in _rows(frame)
        ],
        columns=header,
        dtype=object,
    )
    text = out.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def _sheet_title(name: str) -> str:
    """Excel's sheet-name rules: 1–31 characters, none of []:*?/\\."""
    cleaned = _SHEET_NAME_FORBIDDEN.sub("_", name).strip("'") or "Sheet1"
    return cleaned[:31]


def to_xlsx_bytes(frame: pd.DataFrame, sheet_name: str, about: ExportAbout | None = None) -> bytes:
    """The frame as an XLSX workbook: typed cells, text never a formula, header frozen.

    With ``about``, a second sheet "About" says what the file is (trial, as-of date, data
    cut-off and version, generated at, synthetic or not, the counting rules).
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    _check_columns(frame)
    workbook = Workbook()
    sheet: Any = workbook.active  # a new workbook always has its one worksheet
    sheet.title = _sheet_title(sheet_name)
    header = [escape_formula(str(c)) for c in frame.columns]
    sheet.append([None] * len(header))
    for col, name in enumerate(header, start=1):
        cell = sheet.cell(row=1, column=col)
        cell.value = name
        cell.data_type = TYPE_STRING
        cell.font = Font(bold=True)
    widths = [len(name) for name in header]
    for r, row in enumerate(_rows(frame), start=2):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = sheet.cell(row=r, column=c)
            cell.value = value
            if isinstance(value, str):
                # openpyxl reads any str starting with "=" as a formula; escaping already
                # removed that case, and pinning the type keeps it so for any future rule.
                cell.data_type = TYPE_STRING
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            widths[c - 1] = max(
                widths[c - 1], len(str(value)) if not isinstance(value, dt.date) else 10
            )
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = min(max(width + 2, 8), 50)
    sheet.freeze_panes = "A2"
    if about is not None:
        _about_sheet(workbook, about)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def _about_sheet(workbook: Any, about: ExportAbout) -> None:
    """The "About" sheet: label in column A (bold), value in column B, text escaped."""
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Alignment, Font

    sheet = workbook.create_sheet("About")
    for r, (label, value) in enumerate(about.rows(), start=1):
        head = sheet.cell(row=r, column=1, value=escape_formula(label) or None)
        head.font = Font(bold=True)
        cell = sheet.cell(row=r, column=2)
        if isinstance(value, dt.date):
            cell.value = value
            cell.number_format = "yyyy-mm-dd"
            cell.alignment = Alignment(horizontal="left")
        else:
            cell.value = escape_formula(str(value))
            cell.data_type = TYPE_STRING
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 100


__all__ = [
    "FORMULA_PREFIXES",
    "SITES_EXPORT_COLUMNS",
    "accrual_export_frame",
    "escape_formula",
    "sites_export_frame",
    "to_csv_bytes",
    "to_xlsx_bytes",
]
