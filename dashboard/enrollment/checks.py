"""Checking one opened EDC/IWRS file whole, and turning it into the canonical text.

Validation is vectorised over the *distinct* values of each column (a trial has a few
hundred dates, a few statuses, a few dozen sites), so a 200,000-row file costs little
more than parsing it. Every problem is collected first; messages are formatted only for
the rows that get listed, from the templates in :mod:`.messages`. A check judges the
distinct values and touches rows only when some value is wrong (or, for duplicates and
date order, when rows must be compared).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..sites import normalise_site_id
from ..text import squash
from .canonical import ENROLLMENT_COLUMNS, RANDOMIZED_STATUSES, EnrollmentError
from .cells import (
    all_dates_ambiguous,
    date_problem,
    odd_value_masks,
    parse_date_values,
    strip_distinct,
)
from .export_table import CellColumn, ExportTable, show
from .messages import HEADER_MESSAGES, MESSAGES
from .vocabulary import (
    BLANK_LABELS,
    CANONICAL_LABELS,
    COLUMN_ALIASES,
    WEAK_ALIASES,
    classify_header,
    normalise_status,
)

#: Stop listing errors after this many (a shifted column makes every row wrong).
MAX_LISTED_ERRORS = 200

_SITE_TEXT = re.compile(r"[0-9]+(?:\.0)?")


@dataclass
class _Column:
    """One used column: its header, and its rows as codes into its distinct values."""

    canon: str
    position: int
    label: str
    codes: np.ndarray  # per kept row, index into ``values``
    values: np.ndarray  # distinct stripped values (object array of str)


@dataclass
class _Problem:
    kind: str
    canon: str
    rows: np.ndarray  # row positions (kept rows)


def _show(value: object) -> str:
    return show(value)


class _Validator:
    """Checks one file's cells against the rules; collects every problem, then formats
    messages only for the (at most :data:`MAX_LISTED_ERRORS`) rows that get listed."""

    def __init__(self, name: str, header_line: int, lines: np.ndarray, columns: dict[str, _Column]):
        self.name = name
        self.header_line = header_line
        self.lines = lines
        self.columns = columns
        self.problems: list[_Problem] = []
        self.context: dict[str, Any] = {}

    def add(self, kind: str, canon: str, mask: np.ndarray) -> None:
        rows = np.flatnonzero(mask)
        if len(rows):
            self.problems.append(_Problem(kind, canon, rows))

    def add_values(self, kind: str, canon: str, value_mask: np.ndarray) -> None:
        """A problem judged on the column's distinct values: the rows holding a flagged
        value (the usual clean column costs one ``any`` over its few values)."""
        if value_mask.any():
            self.add(kind, canon, value_mask[self.columns[canon].codes])

    def value(self, canon: str, row: int) -> str:
        col = self.columns[canon]
        return str(col.values[col.codes[row]])

    def where(self, canon: str, row: int) -> str:
        return (
            f"{self.name}: line {int(self.lines[row])}, column {_show(self.columns[canon].label)}"
        )

    def message(self, problem_kind: str, canon: str, row: int) -> str:
        value = self.value(canon, row)
        fields: dict[str, Any] = {"where": self.where(canon, row), "value": _show(value)}
        if problem_kind == "blank":
            fields["blank_label"] = BLANK_LABELS[canon]
        elif problem_kind == "duplicate":
            fields["first_line"] = self.context["first_line"][row]
        elif problem_kind == "unknown_site":
            fields["site_range"] = self.context["site_range"]
        elif problem_kind == "bad_date":
            fields["date_problem"] = date_problem(value)
        elif problem_kind == "future_date":
            fields["today"] = self.context["today"]
        elif problem_kind == "rand_before_screening":
            fields["screening"] = _show(self.value("screening_date", row))
            fields["screening_label"] = _show(self.columns["screening_date"].label)
        elif problem_kind in ("rand_missing", "rand_unexpected"):
            fields["status"] = _show(self.value("status", row))
        return MESSAGES[problem_kind].format(**fields)

    def errors(self) -> list[str]:
        if not self.problems:
            return []
        order = list(ENROLLMENT_COLUMNS)
        rows = np.concatenate([p.rows for p in self.problems])
        which = np.concatenate([np.full(len(p.rows), i) for i, p in enumerate(self.problems)])
        col_rank = np.concatenate(
            [np.full(len(p.rows), order.index(p.canon)) for p in self.problems]
        )
        sort = np.lexsort((col_rank, rows))
        total = len(sort)
        messages = [
            self.message(self.problems[which[i]].kind, self.problems[which[i]].canon, int(rows[i]))
            for i in sort[:MAX_LISTED_ERRORS]
        ]
        if total > MAX_LISTED_ERRORS:
            messages.append(
                f"{self.name}: … and {total - MAX_LISTED_ERRORS} more problem(s) not listed "
                f"({total} in all); fix the ones above and import again"
            )
        return messages

    def reasons(self) -> list[str]:
        return [p.kind for p in self.problems]


@dataclass
class ValidatedEnrollment:
    """What a valid file becomes: the canonical CSV text and what to report about it."""

    csv_text: str
    rows: int
    latest_date: dt.date
    latest_where: str
    randomized: int
    screen_failed: int
    site_ids: list[str]
    notices: list[str]


@dataclass
class _Header:
    """What the header says: the used columns' positions, ignored and unnamed columns."""

    used: dict[str, int]
    ignored: list[str]
    unnamed: list[int]


def check_header(table: ExportTable) -> _Header:
    """Judge every header before any value is read: refused columns are never parsed."""
    name, header_line = table.name, table.header_line
    errors: list[str] = []
    reasons: list[str] = []
    used: dict[str, int] = {}
    ignored: list[str] = []
    unnamed: list[int] = []
    for position, label in enumerate(table.header):
        kind, canon = classify_header(label)
        where = f"{name}: line {header_line}, column {_show(label)}"
        if kind == "used" and canon is not None:
            weak_new = squash(label) in WEAK_ALIASES
            weak_old = canon in used and squash(table.header[used[canon]]) in WEAK_ALIASES
            if canon in used and weak_new and not weak_old:
                ignored.append(label)
            elif canon in used and weak_old and not weak_new:
                ignored.append(table.header[used[canon]])
                used[canon] = position
            elif canon in used:
                errors.append(
                    HEADER_MESSAGES["ambiguous_column"].format(
                        where=where,
                        other=_show(table.header[used[canon]]),
                        canonical=CANONICAL_LABELS[canon],
                    )
                )
                reasons.append("ambiguous_column")
            else:
                used[canon] = position
        elif kind in ("blind", "identifier"):
            reason = "blinding_column" if kind == "blind" else "identifier_column"
            errors.append(HEADER_MESSAGES[reason].format(where=where))
            reasons.append(reason)
        elif kind == "unnamed":
            unnamed.append(position)
        else:
            ignored.append(label)
    missing = [c for c in ENROLLMENT_COLUMNS if c not in used]
    if missing:
        found = ", ".join(_show(h) for h in table.header[:20] if h) or "none"
        for canon in missing:
            errors.append(
                HEADER_MESSAGES["missing_column"].format(
                    name=name,
                    line=header_line,
                    canonical=CANONICAL_LABELS[canon],
                    examples=", ".join(repr(a) for a in COLUMN_ALIASES[canon][:4]),
                    found=found,
                )
            )
        reasons.append("missing_column")
    if errors:
        raise EnrollmentError(errors, reasons)
    return _Header(used, ignored, unnamed)


def check_unnamed_columns(
    table: ExportTable, body: dict[int, CellColumn], all_lines: np.ndarray, unnamed: list[int]
) -> None:
    """Unnamed columns are fine when empty (trailing separators); with values, refused."""
    errors = []
    for position in unnamed:
        column = body[position]
        filled_values = np.array([bool(v.strip()) for v in column.values], dtype=bool)
        if filled_values.any():
            filled = np.flatnonzero(filled_values[column.codes])
            errors.append(
                HEADER_MESSAGES["unnamed_column"].format(
                    name=table.name, line=int(all_lines[filled[0]]), number=position + 1
                )
            )
    if errors:
        raise EnrollmentError(errors, ["unnamed_column"] * len(errors))


def _distinct_values(
    body: dict[int, CellColumn], used: dict[str, int]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """Per used column: (row codes, distinct stripped values) and the values' joined text.

    (str.strip also removes non-breaking spaces.)"""
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    joined: dict[str, str] = {}
    for canon, position in used.items():
        codes, uniques = body[position].codes, body[position].values
        values, joined[canon] = strip_distinct(uniques)
        if values is not uniques and len(set(values)) != len(values):
            # " P1" and "P1" are the same value once stripped: factorize again.
            codes2, values = pd.factorize(values)
            codes = codes2[codes]
            values = np.asarray(values, dtype=object)
            joined[canon] = "\x00".join(values)
        factorized[canon] = (codes, values)
    return factorized, joined


def check_odd_values(
    check: _Validator, columns: dict[str, _Column], joined: dict[str, str]
) -> dict[str, np.ndarray]:
    """Formula cells and control characters; returns per column the distinct values that
    have one (the other checks skip them: one message per bad cell)."""
    odd: dict[str, np.ndarray] = {}
    for canon, col in columns.items():
        formula, control = odd_value_masks(col.values, joined[canon])
        check.add_values("formula", canon, formula)
        check.add_values("control", canon, control)
        odd[canon] = formula | control
    return odd


def check_patient_ids(check: _Validator, pid: _Column, lines: np.ndarray, odd: np.ndarray) -> None:
    """patient_id: present and unique (``odd``: per distinct value, already refused)."""
    blank = pid.values == ""
    check.add_values("blank", "patient_id", blank)
    counts = np.bincount(pid.codes, minlength=len(pid.values))
    if len(counts) and counts.max() > 1:
        first_row = np.full(len(pid.values), -1, dtype=np.int64)
        order = np.arange(len(pid.codes))[::-1]
        first_row[pid.codes[order]] = order  # the last write wins: the first occurrence
        is_dup = (first_row[pid.codes] != np.arange(len(pid.codes))) & ~(blank | odd)[pid.codes]
        check.context["first_line"] = dict(
            zip(
                np.flatnonzero(is_dup).tolist(),
                lines[first_row[pid.codes[is_dup]]].tolist(),
                strict=True,
            )
        )
        check.add("duplicate", "patient_id", is_dup)


def check_sites(
    check: _Validator, site: _Column, sites: pd.DataFrame, odd: np.ndarray
) -> np.ndarray:
    """site_id: a registry site, leading zeros ignored; returns each distinct value's
    registry id (None when unknown). ``odd``: per distinct value, already refused."""
    site_ids = [str(s) for s in sites["site_id"]]
    width = max((len(s) for s in site_ids), default=2)
    by_key = {normalise_site_id(s, width): s for s in site_ids}
    by_key.pop(None, None)
    site_map = np.array(
        [
            by_key.get(normalise_site_id(v, width)) if _SITE_TEXT.fullmatch(v) else None
            for v in site.values
        ],
        dtype=object,
    )
    site_blank = site.values == ""
    check.add_values("blank", "site_id", site_blank)
    site_unknown = np.array([m is None for m in site_map], dtype=bool)
    check.add_values("unknown_site", "site_id", site_unknown & ~site_blank & ~odd)
    check.context["site_range"] = (
        f"{site_ids[0]}–{site_ids[-1]}" if len(site_ids) > 1 else ", ".join(site_ids) or "(none)"
    )
    return site_map


def check_dates(
    check: _Validator, columns: dict[str, _Column], today: dt.date, odd: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Real calendar dates, none after today, randomization not before screening.

    Returns per date column its distinct values parsed (NaT when blank or bad), and the
    parsed date of each row."""
    parsed_values: dict[str, np.ndarray] = {}
    parsed: dict[str, np.ndarray] = {}
    for canon in ("screening_date", "randomization_date"):
        col = columns[canon]
        values_parsed, bad = parse_date_values(col.values)
        check.add_values("bad_date", canon, bad & ~odd[canon])
        check.add_values("future_date", canon, values_parsed > np.datetime64(today, "D"))
        parsed_values[canon] = values_parsed
        parsed[canon] = values_parsed[col.codes]
    check.context["today"] = today.isoformat()
    check.add_values("blank", "screening_date", columns["screening_date"].values == "")
    scr, rnd = parsed["screening_date"], parsed["randomization_date"]
    before = ~np.isnat(scr) & ~np.isnat(rnd) & (rnd < scr)
    check.add("rand_before_screening", "randomization_date", before)
    return parsed_values, parsed


def check_status(
    check: _Validator, columns: dict[str, _Column], rnd: np.ndarray, odd: np.ndarray
) -> np.ndarray:
    """A known status that agrees with the randomization date; returns each distinct
    value's canonical status (None when unknown). ``odd``: per distinct value."""
    status = columns["status"]
    status_map = np.array([normalise_status(v) for v in status.values], dtype=object)
    status_blank = status.values == ""
    check.add_values("blank", "status", status_blank)
    status_unknown = np.array([m is None for m in status_map], dtype=bool)
    check.add_values("unknown_status", "status", status_unknown & ~status_blank & ~odd)
    rand_col = columns["randomization_date"]
    rand_blank = (rand_col.values == "")[rand_col.codes]
    randomized_status = np.array([m in RANDOMIZED_STATUSES for m in status_map], dtype=bool)
    not_randomized_status = np.array(
        [m in ("SCREENING", "SCREEN_FAILED") for m in status_map], dtype=bool
    )
    check.add("rand_missing", "randomization_date", randomized_status[status.codes] & rand_blank)
    check.add(
        "rand_unexpected",
        "randomization_date",
        not_randomized_status[status.codes] & ~np.isnat(rnd),
    )
    return status_map


def _iso_texts(parsed_values: np.ndarray, suffix: str = "") -> np.ndarray:
    return np.array(["" if np.isnat(d) else f"{d}{suffix}" for d in parsed_values], dtype=object)


def _canonical_text(
    columns: dict[str, _Column],
    joined_pids: str,
    site_map: np.ndarray,
    status_map: np.ndarray,
    parsed_values: dict[str, np.ndarray],
) -> str:
    """The canonical CSV: each distinct value is formatted once with the separators
    around it, taken per row into a grid, and the grid joined in one C-level pass (no
    per-row join)."""
    pid = columns["patient_id"]
    pid_values = pid.values
    if any(ch in joined_pids for ch in ',"\r\n'):  # a few C-level finds, no regex
        pid_values = np.array([_csv_quote(v) for v in pid_values], dtype=object)
    site_text = np.array([f",{s}," for s in site_map], dtype=object)
    screening_text = _iso_texts(parsed_values["screening_date"], ",")
    status_text = np.array([f",{s}\n" for s in status_map], dtype=object)
    grid = np.empty((len(pid.codes), 5), dtype=object)
    grid[:, 0] = pid_values[pid.codes]
    grid[:, 1] = site_text[columns["site_id"].codes]
    grid[:, 2] = screening_text[columns["screening_date"].codes]
    grid[:, 3] = _iso_texts(parsed_values["randomization_date"])[
        columns["randomization_date"].codes
    ]
    grid[:, 4] = status_text[columns["status"].codes]
    return ",".join(ENROLLMENT_COLUMNS) + "\n" + "".join(grid.ravel().tolist())


def validate_export(
    table: ExportTable,
    sites: pd.DataFrame,
    today: dt.date,
    max_rows: int,
) -> ValidatedEnrollment:
    """Check an opened EDC/IWRS file (:class:`.edc_reader.ExportTable`) whole.

    Raises :class:`EnrollmentError` listing every problem. The header is judged before
    the body is parsed, so a refused column's values are never even read into memory.
    """
    name, header_line = table.name, table.header_line
    notices = list(table.notices)
    header = check_header(table)
    named = len(table.header)
    body, all_lines = table.read_body(
        [*header.used.values(), *header.unnamed], mostly_distinct=[header.used["patient_id"]]
    )
    # A workbook's cells right of its last header come back as unnamed columns too.
    unnamed = [*header.unnamed, *(p for p in body if p >= named)]
    check_unnamed_columns(table, body, all_lines, unnamed)

    factorized, joined = _distinct_values(body, header.used)
    keep = _rows_with_data(factorized, len(all_lines))
    n_rows = len(all_lines) if keep is None else int(keep.sum())
    skipped = len(all_lines) - n_rows
    if n_rows == 0:
        message = HEADER_MESSAGES["no_rows"].format(
            name=name, line=header_line + 1, header_line=header_line
        )
        raise EnrollmentError([message], ["no_rows"])
    if n_rows > max_rows:
        message = HEADER_MESSAGES["too_many_rows"].format(name=name, rows=n_rows, limit=max_rows)
        raise EnrollmentError([message], ["too_many_rows"])
    lines = all_lines if keep is None else all_lines[keep]
    used = header.used
    columns = {
        canon: _Column(
            canon,
            used[canon],
            table.header[used[canon]],
            codes if keep is None else codes[keep],
            values,
        )
        for canon, (codes, values) in factorized.items()
    }
    if skipped:
        notices.append(f"{skipped} row(s) without patient data skipped")
    if header.ignored:
        notices.append(
            "ignored column(s), not used by the dashboard: "
            + ", ".join(_show(h) for h in header.ignored)
        )

    check = _Validator(name, header_line, lines, columns)
    odd = check_odd_values(check, columns, joined)
    check_patient_ids(check, columns["patient_id"], lines, odd["patient_id"])
    site_map = check_sites(check, columns["site_id"], sites, odd["site_id"])
    parsed_values, parsed = check_dates(check, columns, today, odd)
    rnd = parsed["randomization_date"]
    status_map = check_status(check, columns, rnd, odd["status"])
    errors = check.errors()
    if errors:
        raise EnrollmentError(errors, check.reasons(), rows=n_rows)

    # Notices about spellings that were translated, so nothing is read silently.
    status = columns["status"]
    spellings: list[str] = []
    status_counts = np.bincount(status.codes, minlength=len(status.values))
    for i in _by_first_row(status.codes, len(status.values)):
        value, canon_status, n = status.values[i], status_map[i], status_counts[i]
        if n and squash(value) != squash(canon_status):
            spellings.append(f"{_show(value)} → {canon_status} ({n} row(s))")
    if spellings:
        notices.append("status spellings read: " + ", ".join(spellings))
    if all_dates_ambiguous([columns[c].values for c in ("screening_date", "randomization_date")]):
        notices.append(
            "every date in the file has day and month both ≤ 12, so it reads either way: "
            "day first (DD/MM/YYYY) was assumed; check one date against the EDC"
        )

    latest, latest_canon = _latest_date(parsed_values)
    latest_row = int(np.argmax(parsed[latest_canon] == latest))  # its first row
    rand_col = columns["randomization_date"]
    rand_counts = np.bincount(rand_col.codes, minlength=len(rand_col.values))
    site = columns["site_id"]
    present_sites = sorted(
        set(site_map[np.bincount(site.codes, minlength=len(site_map)) > 0].tolist())
    )
    return ValidatedEnrollment(
        csv_text=_canonical_text(
            columns, joined["patient_id"], site_map, status_map, parsed_values
        ),
        rows=n_rows,
        latest_date=dt.date.fromisoformat(str(latest)),
        latest_where=check.where(latest_canon, latest_row),
        randomized=int(rand_counts[~np.isnat(parsed_values["randomization_date"])].sum()),
        screen_failed=int(status_counts[status_map == "SCREEN_FAILED"].sum()),
        site_ids=present_sites,
        notices=notices,
    )


def _rows_with_data(
    factorized: dict[str, tuple[np.ndarray, np.ndarray]], n_rows: int
) -> np.ndarray | None:
    """Rows where some used column holds a value (Excel's ``;;;;;`` rows have none);
    None when every row does, found from the distinct values when one column has no
    blank at all (the usual case; columns with few values are looked at first, so the
    200,000 patient codes are rarely compared)."""
    by_size = sorted(factorized.values(), key=lambda column: len(column[1]))
    blanks: list[tuple[np.ndarray, np.ndarray]] = []
    for codes, values in by_size:
        blank = values == ""
        if not blank.any():
            return None
        blanks.append((codes, blank))
    blank_row = np.ones(n_rows, dtype=bool)
    for codes, blank in blanks:
        blank_row &= blank[codes]
    return None if not blank_row.any() else ~blank_row


def _by_first_row(codes: np.ndarray, n_values: int) -> np.ndarray:
    """The distinct values' indexes in the order the file first uses them."""
    first_row = np.full(n_values, len(codes), dtype=np.int64)
    backwards = np.arange(len(codes))[::-1]
    first_row[codes[backwards]] = backwards  # the last write wins: the first row
    return np.argsort(first_row, kind="stable")


def _latest_date(parsed_values: dict[str, np.ndarray]) -> tuple[np.datetime64, str]:
    """The latest date in the file and its column (screening first on a tie, as a reader
    going through the file column by column would find it)."""
    best: tuple[np.datetime64, str] | None = None
    for canon in ("screening_date", "randomization_date"):
        dates = parsed_values[canon]
        dates = dates[~np.isnat(dates)]
        if len(dates) and (best is None or dates.max() > best[0]):
            best = (dates.max(), canon)
    assert best is not None  # a file with no valid screening date was refused above
    return best


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _csv_quote(value: str) -> str:
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value
