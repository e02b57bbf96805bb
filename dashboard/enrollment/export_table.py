"""What an opened EDC/IWRS file is, whatever its format: a header and a body of text
cells read on demand as distinct values and codes; the input limits; the read error.

:mod:`.edc_reader` (CSV, and the format dispatch) and :mod:`.xlsx_reader` (workbooks)
both produce an :class:`ExportTable`; :mod:`.checks` consumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

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
    """Codes and distinct values of an object array of str.

    When every value is distinct (the usual case for patient codes) nothing is hashed
    twice, and nothing at all when they come sorted, as exports listing patients by
    number do: a strictly increasing column has no duplicate (one pass of comparisons,
    a fifth of the cost of a set of 200,000 codes)."""
    index = pd.Index(cells, dtype=object, copy=False)
    if (index.is_monotonic_increasing and index.is_unique) or len(set(cells)) == len(cells):
        return CellColumn(np.arange(len(cells)), cells)
    codes, values = pd.factorize(cells)
    return CellColumn(codes, np.asarray(values, dtype=object))


def grid_columns(columns: list[np.ndarray], wanted: Sequence[int]) -> dict[int, CellColumn]:
    return {position: factorize_cells(columns[position]) for position in wanted}


def show(value: object, limit: int = 60) -> str:
    """A cell value quoted for an error message: escapes made visible, length capped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)
