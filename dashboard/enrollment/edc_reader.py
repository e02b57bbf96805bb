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
- XLSX: the zip directory is checked (total uncompressed size, compression ratio, member
  count) *before* anything is decompressed, and openpyxl only reads it in read-only mode
  with defusedxml active. Only the first worksheet is read. Excel date cells become ISO
  dates; formula cells come out as their ``=...`` text so the caller can refuse them.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Refuse files bigger than this before reading them (bytes).
MAX_FILE_BYTES = 50_000_000
#: Refuse more patient rows than this.
MAX_ROWS = 1_000_000
#: Refuse more columns than this (a sheet of 16,384 columns is not an export).
MAX_COLUMNS = 1_000
#: XLSX: refuse when the zip members would unpack to more than this (bytes).
MAX_XLSX_UNCOMPRESSED = 500_000_000
#: XLSX: refuse a member that unpacks to more than this many times its packed size.
#: Real sheet XML compresses 5-30x; zip bombs reach 1000x and more.
MAX_XLSX_RATIO = 200
#: XLSX: refuse a zip with more members than this.
MAX_XLSX_MEMBERS = 10_000

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and password-protected Office files
SEPARATORS = (";", "\t", ",")
SEPARATOR_NAMES = {";": "';'", "\t": "tab", ",": "','"}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANK_LINE = re.compile(r"[ \t;,\u00a0]*")


@dataclass(frozen=True)
class Limits:
    """Input limits; tests lower them to exercise the refusals on small files."""

    max_bytes: int = MAX_FILE_BYTES
    max_rows: int = MAX_ROWS
    max_columns: int = MAX_COLUMNS
    max_xlsx_uncompressed: int = MAX_XLSX_UNCOMPRESSED
    max_xlsx_ratio: float = MAX_XLSX_RATIO
    max_xlsx_members: int = MAX_XLSX_MEMBERS


class ExportReadError(ValueError):
    """The file cannot be read as a table; each error names the file (and line if known)."""

    def __init__(self, errors: list[str], reason: str):
        self.errors = list(errors)
        self.reason = reason
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class CellColumn:
    """One column of text cells as its distinct values and, per row, a code into them.

    Why not a row of strings per cell: the checks judge each distinct value once (a trial
    has a few hundred dates, a few statuses), and the parser can hand the codes over
    without building a string per cell. Every value occurs in at least one row.
    """

    codes: np.ndarray  # per row, index into ``values``
    values: np.ndarray  # distinct cell texts (object array of str)

    def cells(self) -> np.ndarray:
        """The column as one str per row (for the rare paths that need it)."""
        return self.values[self.codes]


#: Reads the body: (positions wanted, those of them expected to be mostly distinct) ->
#: (CellColumn per wanted position, spreadsheet line of each row).
BodyReader = Callable[[Sequence[int], Collection[int]], tuple[dict[int, CellColumn], np.ndarray]]


@dataclass
class ExportTable:
    """A header and a lazily read body of text cells.

    ``read_body`` is separate from opening so that the caller can refuse a file on its
    header alone (an unblinding column) without its values ever being parsed.
    """

    name: str
    kind: str  # "csv" or "xlsx"
    header: list[str]
    header_line: int
    description: str
    _body_reader: BodyReader = field(repr=False)
    notices: list[str] = field(default_factory=list)

    def read_body(
        self, wanted: Sequence[int], mostly_distinct: Collection[int] = ()
    ) -> tuple[dict[int, CellColumn], np.ndarray]:
        """Return (a :class:`CellColumn` per wanted header position, spreadsheet line of
        each row). Columns not wanted are not handed out (an ignored column's cells are
        not even kept), except a workbook's cells right of its last header, which come as
        extra unnamed positions for the caller to refuse. ``mostly_distinct`` names
        columns with about one value per row (patient codes), cheaper read as text than
        as categories."""
        return self._body_reader(wanted, mostly_distinct)


def factorize_cells(cells: np.ndarray) -> CellColumn:
    """Codes and distinct values of an object array of str (no hashing twice when every
    value is distinct, the usual case for patient codes)."""
    if len(set(cells)) == len(cells):
        return CellColumn(np.arange(len(cells)), cells)
    codes, values = pd.factorize(cells)
    return CellColumn(codes, np.asarray(values, dtype=object))


def _grid_columns(columns: list[np.ndarray], wanted: Sequence[int]) -> dict[int, CellColumn]:
    return {position: factorize_cells(columns[position]) for position in wanted}


def show(value: object, limit: int = 60) -> str:
    """A cell value quoted for an error message: escapes made visible, length capped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


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
        return _open_xlsx(data, name, limits)
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
    if data.count(b"\n", offset) > 2 * limits.max_rows + 10:
        raise ExportReadError(
            [
                f"{name}: more than {limits.max_rows:,} rows, over the limit for an enrollment export"
            ],
            "too_many_rows",
        )
    # usecols is not used to skip the other columns: with it the C parser no longer
    # refuses a row with more values than the header (a shifted row would pass).
    few_values = [i for i in wanted if i not in mostly_distinct]
    try:
        frame = _parse_csv(data[offset:], codec, sep, n_cols, few_values)
        if not all(_text_categories(frame[i]) for i in few_values):
            frame = _parse_csv(data[offset:], codec, sep, n_cols, [])
    except pd.errors.ParserError:
        return _read_csv_slow(data[offset:].decode(codec), sep, n_cols, name, header_line, wanted)
    except pd.errors.EmptyDataError:
        empty = CellColumn(np.empty(0, dtype=np.intp), np.empty(0, dtype=object))
        return {position: empty for position in wanted}, np.empty(0, dtype=np.int64)
    if frame.shape[1] != n_cols:
        return _read_csv_slow(data[offset:].decode(codec), sep, n_cols, name, header_line, wanted)
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
    return _grid_columns([grid[:, i] for i in range(n_cols)], wanted), lines


# --------------------------------------------------------------------------- XLSX
def _check_zip(data: bytes, name: str, limits: Limits) -> None:
    """Refuse zip bombs from the central directory alone, before decompressing anything."""
    import zipfile  # here, not at the top: CSV imports should not pay for it

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExportReadError(
            [f"{name}: not a readable .xlsx workbook ({exc}); export it again as .xlsx or CSV"],
            "unsupported_format",
        ) from exc
    with archive:
        infos = archive.infolist()
    if len(infos) > limits.max_xlsx_members:
        raise ExportReadError(
            [
                f"{name}: the workbook zip holds {len(infos)} parts, over the limit of {limits.max_xlsx_members}"
            ],
            "zip_bomb",
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_xlsx_uncompressed:
        raise ExportReadError(
            [
                f"{name}: the workbook would unpack to {total / 1e6:.0f} MB, over the "
                f"{limits.max_xlsx_uncompressed / 1e6:.0f} MB limit (refused unopened)"
            ],
            "zip_bomb",
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise ExportReadError(
                [f"{name}: the workbook is encrypted; save it unprotected"], "unsupported_format"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > limits.max_xlsx_ratio:
            raise ExportReadError(
                [
                    f"{name}: part {info.filename!r} would unpack {ratio:.0f} times its packed "
                    f"size (limit {limits.max_xlsx_ratio:.0f}): refused unopened as a possible zip bomb"
                ],
                "zip_bomb",
            )
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        raise ExportReadError(
            [f"{name}: a zip file but not an Excel workbook (.xlsx); export it as .xlsx or CSV"],
            "unsupported_format",
        )


def _cell_text(value: Any) -> str:
    """One cell as text: Excel dates as ISO dates, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(data: bytes, name: str, limits: Limits) -> ExportTable:
    _check_zip(data, name, limits)
    import zipfile

    from ..xlsx_width import widest_sheet_row

    try:
        widest = widest_sheet_row(data, limits.max_columns)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ExportReadError(
            [f"{name}: cannot read the workbook ({type(exc).__name__}); export it again"],
            "malformed",
        ) from exc
    if widest > limits.max_columns:
        # Counted in the sheet's XML: openpyxl would build the whole row before we see it.
        raise ExportReadError(
            [f"{name}: a row has more than {limits.max_columns} cells, over the limit"],
            "too_many_columns",
        )
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
        raise ExportReadError(
            [f"{name}: .xlsx import needs the defusedxml package (safe XML parsing); install it"],
            "unsupported_format",
        )
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types on corrupt or hostile files
        raise ExportReadError(
            [
                f"{name}: cannot read the workbook ({type(exc).__name__}); export it again as .xlsx or CSV"
            ],
            "unsupported_format",
        ) from exc
    notices: list[str] = []
    if not workbook.worksheets:
        workbook.close()
        raise ExportReadError([f"{name}: the workbook has no worksheet"], "empty")
    sheet = workbook.worksheets[0]
    if len(workbook.worksheets) > 1:
        others = ", ".join(repr(ws.title) for ws in workbook.worksheets[1:])
        notices.append(f"only the first sheet {sheet.title!r} was read; ignored sheet(s): {others}")
    # The declared dimension is not trusted: a sheet with formatted whole columns declares
    # 1,048,576 rows and 16,384 columns, and padding every row to that would be ruinous.
    # Without it, rows come as wide as their last cell; rows are counted while read.
    sheet.reset_dimensions()
    rows: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
    header: list[str] | None = None
    header_line = 0
    try:
        for number, row in enumerate(rows, start=1):
            if any(_cell_text(v).strip() for v in row):
                header, header_line = [_cell_text(v).strip() for v in row], number
                break
    except Exception as exc:
        workbook.close()
        raise ExportReadError(
            [f"{name}: cannot read sheet {sheet.title!r} ({type(exc).__name__}); export it again"],
            "malformed",
        ) from exc
    if header is None:
        workbook.close()
        raise ExportReadError([f"{name}: line 1: the sheet {sheet.title!r} is empty"], "empty")
    while header and not header[-1]:
        header.pop()
    if len(header) > limits.max_columns:
        workbook.close()
        raise ExportReadError(
            [
                f"{name}: line {header_line}: {len(header)} columns, over the limit of {limits.max_columns}"
            ],
            "too_many_columns",
        )

    def read_body(
        wanted: Sequence[int], mostly_distinct: Collection[int]
    ) -> tuple[dict[int, CellColumn], np.ndarray]:
        cells: list[list[str]] = []
        width = len(header)
        number = header_line
        try:
            for number, row in enumerate(rows, start=header_line + 1):
                if len(cells) > limits.max_rows + 1_000:
                    raise ExportReadError(
                        [f"{name}: more than {limits.max_rows:,} rows, over the limit"],
                        "too_many_rows",
                    )
                texts = [_cell_text(v) for v in row]
                while texts and not texts[-1]:
                    texts.pop()
                if len(texts) > width:
                    if len(texts) > limits.max_columns:
                        raise ExportReadError(
                            [f"{name}: line {number}: values beyond column {limits.max_columns}"],
                            "too_many_columns",
                        )
                    width = len(texts)
                cells.append(texts)
        except ExportReadError:
            raise
        except Exception as exc:
            raise ExportReadError(
                [f"{name}: line {number + 1}: cannot read the sheet ({type(exc).__name__})"],
                "malformed",
            ) from exc
        finally:
            workbook.close()
        # Values right of the last named column form unnamed columns: the caller sees them
        # as header "" (and always gets them) and refuses them if they hold anything.
        wanted = [*wanted, *range(len(header), width)]
        header.extend([""] * (width - len(header)))
        grid = np.full((len(cells), width), "", dtype=object)
        for i, texts in enumerate(cells):
            grid[i, : len(texts)] = texts
        lines = np.arange(len(cells), dtype=np.int64) + header_line + 1
        return _grid_columns([grid[:, i] for i in range(width)], wanted), lines

    description = f"Excel workbook, sheet {sheet.title!r}"
    return ExportTable(name, "xlsx", header, header_line, description, read_body, notices)
