"""Reading an Excel workbook (.xlsx) export into an :class:`~.export_table.ExportTable`.

The zip directory is checked (total uncompressed size, compression ratio, member count)
*before* anything is decompressed, and openpyxl only reads it in read-only mode with
defusedxml active. Only the first worksheet is read. Excel date cells become ISO dates;
formula cells come out as their ``=...`` text so the caller can refuse them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import numpy as np

from .export_table import CellColumn, ExportReadError, ExportTable, Limits, grid_columns


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


def open_xlsx(data: bytes, name: str, limits: Limits) -> ExportTable:
    """Open a workbook held in memory; raise :class:`ExportReadError` with located errors."""
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
        return grid_columns([grid[:, i] for i in range(width)], wanted), lines

    description = f"Excel workbook, sheet {sheet.title!r}"
    return ExportTable(name, "xlsx", header, header_line, description, read_body, notices)
