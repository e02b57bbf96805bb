"""Reading the EDC/IWRS file (CSV or XLSX) into a grid of text cells, safely.

The enrollment rules (which columns, which values) live in :mod:`.checks`; here is only
getting text cells out of whatever a site or a sponsor tool produced — UTF-8 or
Windows-1252, ``;`` or ``,`` or tab, an Excel workbook, a hostile zip. Everything here is
about *bytes → cells*; nothing here knows what a patient is.

Rules:

- Encoding: UTF-8 (with or without BOM) is tried strictly first; anything that is not
  valid UTF-8 is read as Windows-1252, which is what French Excel writes for "CSV
  (séparateur: point-virgule)". The five bytes Windows-1252 leaves undefined fall back to
  Latin-1, so decoding never fails; garbage then fails the column checks, with a location.
  A UTF-16 file with a BOM (Excel's "Texte Unicode") is read too. charset-normalizer is
  deliberately not used: guessing among 8-bit code pages is unreliable on short files, and
  a silent wrong guess is worse than the two predictable rules above.
- A NUL byte means "not a text file" (binary, or UTF-16 without BOM): refused.
- Separator: whichever of ``;``, tab and ``,`` occurs most often in the header line
  (outside quotes); ties prefer ``;`` then tab.
- Leading blank lines are skipped; the header is the first non-blank line. Lines are
  numbered as a spreadsheet user counts rows (first line of the file = 1).
- A data row with more values than the header has columns is refused (a separator inside
  an unquoted value shifts every later column) unless the extra values are all blank.
- XLSX (:mod:`.xlsx_reader`): the zip directory is checked (total uncompressed size,
  compression ratio, member count) *before* anything is decompressed, and openpyxl only
  reads it in read-only mode with defusedxml active. Only the first worksheet is read.
  Excel date cells become ISO dates; formula cells come out as their ``=...`` text so the
  caller can refuse them.
- The body comes as distinct values and codes (:class:`.export_table.CellColumn`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from .export_table import (
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_XLSX_MEMBERS,
    MAX_XLSX_RATIO,
    MAX_XLSX_UNCOMPRESSED,
    CellColumn,
    ExportReadError,
    ExportTable,
    Limits,
    factorize_cells,
    grid_columns,
    show,
)
from .xlsx_reader import open_xlsx

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and password-protected Office files
SEPARATORS = (";", "\t", ",")
SEPARATOR_NAMES = {";": "';'", "\t": "tab", ",": "','"}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANK_LINE = re.compile(r"[ \t;,\u00a0]*")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def detect_encoding(data: bytes, name: str) -> tuple[str, str]:
    """Return (Python codec, label) of a text export; see the module docstring for the rules.

    Only the choice is made here: the decoding itself is left to pandas' parser, so a big
    Windows-1252 file is decoded once, as a bare ``read_csv`` would.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ExportReadError(
                [f"{name}: not valid UTF-16 text (byte {exc.start}); save it again as CSV UTF-8"],
                "bad_encoding",
            ) from exc
        return "utf-16", "UTF-16"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ExportReadError(
            [
                f"{name}: line {_line_of(data, nul)}: contains a NUL byte, so it is not a text "
                "CSV (a binary file, or UTF-16 without BOM?); export it as CSV or .xlsx"
            ],
            "binary",
        )
    try:
        # The start first: a Windows-1252 export usually fails in its header already,
        # without decoding megabytes (final=False: a character cut at 64 KiB is fine).
        codecs.getincrementaldecoder("utf-8")().decode(data[:65536], final=False)
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", "UTF-8"
    if any(byte in data for byte in _CP1252_UNDEFINED):  # bytes.find: memchr speed
        return "latin-1", "Latin-1 (bytes undefined in Windows-1252 found)"
    return "cp1252", "Windows-1252"


def sniff_separator(header_line: str) -> str:
    """The separator of a CSV: the most frequent of ; tab , in its header, outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {sep: unquoted.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first on ties
    return best if counts[best] else ","


def open_export(data: bytes, name: str, limits: Limits | None = None) -> ExportTable:
    """Open an export held in memory; raise :class:`ExportReadError` with located errors."""
    limits = limits or Limits()
    if len(data) == 0:
        raise ExportReadError([f"{name}: line 1: the file is empty (0 bytes)"], "empty")
    if len(data) > limits.max_bytes:
        raise ExportReadError(
            [
                f"{name}: the file is {len(data) / 1e6:.1f} MB, over the "
                f"{limits.max_bytes / 1e6:.0f} MB limit for an enrollment export"
            ],
            "too_big",
        )
    if data.startswith(OLE2_MAGIC):
        raise ExportReadError(
            [
                f"{name}: an old-format .xls or a password-protected workbook; save it as an "
                "unprotected .xlsx workbook or as CSV"
            ],
            "unsupported_format",
        )
    if data.startswith(ZIP_MAGIC) or name.lower().endswith((".xlsx", ".xlsm")):
        return open_xlsx(data, name, limits)
    return _open_csv(data, name, limits)


# --------------------------------------------------------------------------- CSV
def _open_csv(data: bytes, name: str, limits: Limits) -> ExportTable:
    codec, label = detect_encoding(data, name)
    if codec == "utf-16":  # rare (Excel's "Unicode text"): convert, then as UTF-8
        data, codec = data.decode("utf-16").encode("utf-8"), "utf-8"
    start = len(codecs.BOM_UTF8) if codec == "utf-8" and data.startswith(codecs.BOM_UTF8) else 0
    # Only the start is decoded here, to find the header (it never spans a megabyte).
    prefix = data[start : start + 1_000_000].decode(codec, errors="ignore")
    pos, line = 0, 1
    # Skip leading blank (or separator-only) lines; count them so line numbers stay true.
    while True:
        match = _LINE_BREAK.search(prefix, pos)
        end = match.start() if match else len(prefix)
        if _BLANK_LINE.fullmatch(prefix, pos, end) is None:
            break
        if match is None:
            raise ExportReadError(
                [f"{name}: line 1: the file holds no header line and no data (only blank lines)"],
                "empty",
            )
        pos, line = match.end(), line + 1
    first_break = _LINE_BREAK.search(prefix, pos)
    sep = sniff_separator(prefix[pos : first_break.start() if first_break else len(prefix)])
    reader = csv.reader(io.StringIO(prefix[pos:], newline=""), delimiter=sep)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise ExportReadError(
            [f"{name}: line {line}: cannot read the header ({exc})"], "malformed"
        ) from exc
    if len(header) > limits.max_columns:
        raise ExportReadError(
            [f"{name}: line {line}: {len(header)} columns, over the limit of {limits.max_columns}"],
            "too_many_columns",
        )
    header = [h.strip().lstrip("\ufeff").strip() for h in header]
    header_line = line
    offset = start + len(prefix[:pos].encode(codec))
    description = f"CSV, separator {SEPARATOR_NAMES[sep]}, encoding {label}"

    def read_body(
        wanted: Sequence[int], mostly_distinct: Collection[int]
    ) -> tuple[dict[int, CellColumn], np.ndarray]:
        return _read_csv_body(
            data,
            offset,
            codec,
            sep,
            len(header),
            name,
            header_line,
            limits,
            wanted,
            mostly_distinct,
        )

    return ExportTable(name, "csv", header, header_line, description, read_body, [])


def _read_csv_body(
    data: bytes,
    offset: int,
    codec: str,
    sep: str,
    n_cols: int,
    name: str,
    header_line: int,
    limits: Limits,
    wanted: Sequence[int],
    mostly_distinct: Collection[int],
) -> tuple[dict[int, CellColumn], np.ndarray]:
    """Parse from the header line on with pandas' C parser (fast); on a ragged or badly
    quoted file, re-read with the csv module only to say where (the slow path runs only
    for files about to be refused, or with blank trailing values).

    Wanted columns with few distinct values (sites, dates, statuses) are read as
    categories: the parser then hashes the raw bytes and builds one string per distinct
    value instead of one per cell, and hands over the codes the checks work on."""
    # Cheap guard against a file with far more lines than allowed rows (before parsing).
    # (numpy's vectorised compare counts 15 MB several times faster than bytes.count.)
    if (
        np.count_nonzero(np.frombuffer(data, np.uint8, offset=offset) == 10)
        > 2 * limits.max_rows + 10
    ):
        raise ExportReadError(
            [
                f"{name}: more than {limits.max_rows:,} rows, over the limit for an enrollment export"
            ],
            "too_many_rows",
        )
    # usecols is not used to skip the other columns: with it the C parser no longer
    # refuses a row with more values than the header (a shifted row would pass).
    few_values = [i for i in wanted if i not in mostly_distinct]
    body = data[offset:] if offset else data  # (BytesIO shares unsliced bytes: no copy)
    try:
        frame = _parse_csv(body, codec, sep, n_cols, few_values)
        if not all(_text_categories(frame[i]) for i in few_values):
            frame = _parse_csv(body, codec, sep, n_cols, [])
    except pd.errors.ParserError:
        return _read_csv_slow(body.decode(codec), sep, n_cols, name, header_line, wanted)
    except pd.errors.EmptyDataError:
        empty = CellColumn(np.empty(0, dtype=np.intp), np.empty(0, dtype=object))
        return {position: empty for position in wanted}, np.empty(0, dtype=np.int64)
    if frame.shape[1] != n_cols:
        return _read_csv_slow(body.decode(codec), sep, n_cols, name, header_line, wanted)
    columns: dict[int, CellColumn] = {}
    for position in wanted:
        series = frame[position]
        if isinstance(series.dtype, pd.CategoricalDtype):
            # Row 0 is the header line: drop it, and any value only it held.
            codes = series.cat.codes.to_numpy()[1:]
            values = series.cat.categories.to_numpy(dtype=object)
            columns[position] = _only_used(codes, values)
        else:
            columns[position] = factorize_cells(series.to_numpy(dtype=object)[1:])
    lines = np.arange(len(frame) - 1, dtype=np.int64) + header_line + 1
    return columns, lines


def _parse_csv(
    body: bytes, codec: str, sep: str, n_cols: int, categories: Collection[int]
) -> pd.DataFrame:
    """Every cell as text (``categories``: those columns as categories of text)."""
    return pd.read_csv(
        io.BytesIO(body),
        encoding=codec,
        sep=sep,
        header=None,
        dtype={i: "category" if i in categories else object for i in range(n_cols)},
        na_filter=False,
        skip_blank_lines=False,
        engine="c",
        quotechar='"',
        doublequote=True,
        low_memory=False,
    )


def _text_categories(series: pd.Series) -> bool:
    """True unless pandas turned a column's categories into numbers or booleans ("0012"
    would become 12): then the column is read again as plain text. (The header line,
    parsed with the rows, normally prevents it: a label is neither.)"""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return True
    return series.cat.categories.inferred_type in ("string", "empty")


def _only_used(codes: np.ndarray, values: np.ndarray) -> CellColumn:
    """Drop the distinct values no row uses (a :class:`CellColumn`'s promise)."""
    used = np.bincount(codes, minlength=len(values)) > 0
    if used.all():
        return CellColumn(codes.astype(np.intp, copy=False), values)
    renumber = np.cumsum(used) - 1
    return CellColumn(renumber[codes], values[used])


def _read_csv_slow(
    text: str, sep: str, n_cols: int, name: str, header_line: int, wanted: Sequence[int]
) -> tuple[dict[int, CellColumn], np.ndarray]:
    errors: list[str] = []
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    record = 0
    try:
        next(reader)  # the header
        for record, fields in enumerate(reader, start=1):
            if len(fields) > n_cols:
                extra = fields[n_cols:]
                if any(v.strip() for v in extra):
                    errors.append(
                        f"{name}: line {header_line + record}: {len(fields)} values but the header "
                        f"has {n_cols} columns (a separator inside a value? quote it or remove it)"
                    )
                fields = fields[:n_cols]
            elif len(fields) < n_cols:
                fields = fields + [""] * (n_cols - len(fields))
            rows.append(fields)
    except csv.Error as exc:
        errors.append(
            f"{name}: line {header_line + record + 1}: malformed CSV quoting ({exc}); check for an "
            'unclosed " in this row or the rows below'
        )
    if errors:
        raise ExportReadError(errors, "malformed")
    grid = np.empty((len(rows), n_cols), dtype=object)
    if rows:
        grid[:] = rows
    lines = np.arange(len(rows), dtype=np.int64) + header_line + 1
    return grid_columns([grid[:, i] for i in range(n_cols)], wanted), lines


__all__ = [
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "MAX_XLSX_MEMBERS",
    "MAX_XLSX_RATIO",
    "MAX_XLSX_UNCOMPRESSED",
    "CellColumn",
    "ExportReadError",
    "ExportTable",
    "Limits",
    "detect_encoding",
    "open_export",
    "show",
    "sniff_separator",
]
