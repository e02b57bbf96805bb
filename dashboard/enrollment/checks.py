"""Checking one opened EDC/IWRS file whole, and turning it into the canonical text.

Validation is vectorised over the *distinct* values of each column (a trial has a few
hundred dates, a few statuses, a few dozen sites), so a 200,000-row file costs little
more than parsing it. Every problem is collected first; messages are formatted only for
the rows that get listed, from the templates in :data:`MESSAGES`.
"""

from __future__ import annotations

import datetime as dt
import itertools
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
from .edc_reader import ExportTable, show
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


#: Every message about a cell, by problem kind (the kind is also the reason logged).
#: Fields: ``where`` (file, line, column), ``value`` (the cell, shortened), and per kind
#: ``blank_label``, ``first_line``, ``site_range``, ``date_problem``, ``today``,
#: ``screening``, ``screening_label``, ``status``.
MESSAGES: dict[str, str] = {
    "blank": "{where}: {blank_label} is blank",
    "formula": (
        "{where}: {value} is a formula or starts like one; export values only "
        "(it is refused, never evaluated)"
    ),
    "control": "{where}: {value} contains a control or invisible character",
    "duplicate": "{where}: patient {value} is already on line {first_line}",
    "unknown_site": "{where}: unknown site id {value}; the registry's sites.csv has ids {site_range}",
    "bad_date": "{where}: {date_problem}",
    "future_date": "{where}: {value} is after today ({today}); a future date is a typo",
    "rand_before_screening": (
        "{where}: randomization date {value} is before the screening date {screening} "
        "(column {screening_label})"
    ),
    "unknown_status": (
        "{where}: unknown status {value}; expected one of Screening, Screen failed, "
        "Randomized, Withdrawn, Completed"
    ),
    "rand_missing": (
        "{where}: blank, but status {status} means the patient was randomized; "
        "give the randomization date"
    ),
    "rand_unexpected": (
        "{where}: {value} given, but status {status} means the patient was not randomized; "
        "fix the status or remove the date"
    ),
}

#: Every message about the header or the file as a whole, by reason.
HEADER_MESSAGES: dict[str, str] = {
    "ambiguous_column": (
        "{where}: both this and column {other} look like the {canonical}; keep only one"
    ),
    "blinding_column": (
        "{where}: refused to protect the blind: a column named like this could reveal "
        "treatment allocation (arm, group, kit, box, lot...). Remove it from the export and "
        "import again; its values were not read."
    ),
    "identifier_column": (
        "{where}: refused: it looks like a direct patient identifier (name, birth date, NIR, "
        "IPP, address, phone, e-mail). The dashboard takes pseudonymised patient codes only; "
        "remove the column and import again. Its values were not read."
    ),
    "missing_column": (
        "{name}: line {line}: no column for the {canonical}; name one e.g. {examples} "
        "(columns found: {found})"
    ),
    "unnamed_column": (
        "{name}: line {line}, column number {number}: this column has no header but holds "
        "values; name it or delete it (an unnamed column could hold anything, treatment "
        "allocation included). Its values were not printed."
    ),
    "no_rows": "{name}: line {line}: no patient rows below the header (line {header_line})",
    "too_many_rows": "{name}: {rows:,} patient rows, over the limit of {limit:,}",
}


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
    table: ExportTable, raw_columns: list[np.ndarray], all_lines: np.ndarray, unnamed: list[int]
) -> None:
    """Unnamed columns are fine when empty (trailing separators); with values, refused."""
    errors = []
    for position in unnamed:
        filled = np.flatnonzero([bool(v.strip()) for v in raw_columns[position]])
        if len(filled):
            errors.append(
                HEADER_MESSAGES["unnamed_column"].format(
                    name=table.name, line=int(all_lines[filled[0]]), number=position + 1
                )
            )
    if errors:
        raise EnrollmentError(errors, ["unnamed_column"] * len(errors))


def _distinct_values(
    raw_columns: list[np.ndarray], used: dict[str, int]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """Per used column: (row codes, distinct stripped values) and the values' joined text.

    (str.strip also removes non-breaking spaces.)"""
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    joined: dict[str, str] = {}
    for canon, position in used.items():
        raw = raw_columns[position]
        if canon == "patient_id" and len(set(raw)) == len(raw):
            codes, uniques = np.arange(len(raw)), raw  # the usual case: no need to hash twice
        else:
            codes, uniques = pd.factorize(raw)
            uniques = np.asarray(uniques, dtype=object)
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
    """Formula cells and control characters; returns per column the rows that have one
    (the other checks skip them: one message per bad cell)."""
    odd: dict[str, np.ndarray] = {}
    for canon, col in columns.items():
        formula, control = odd_value_masks(col.values, joined[canon])
        check.add("formula", canon, formula[col.codes])
        check.add("control", canon, control[col.codes])
        odd[canon] = (formula | control)[col.codes]
    return odd


def check_patient_ids(check: _Validator, pid: _Column, lines: np.ndarray, odd: np.ndarray) -> None:
    """patient_id: present and unique."""
    pid_blank = (pid.values == "")[pid.codes]
    check.add("blank", "patient_id", pid_blank)
    counts = np.bincount(pid.codes, minlength=len(pid.values))
    if len(counts) and counts.max() > 1:
        first_row = np.full(len(pid.values), -1, dtype=np.int64)
        order = np.arange(len(pid.codes))[::-1]
        first_row[pid.codes[order]] = order  # the last write wins: the first occurrence
        is_dup = (first_row[pid.codes] != np.arange(len(pid.codes))) & ~pid_blank & ~odd
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
    registry id (None when unknown)."""
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
    site_blank = (site.values == "")[site.codes]
    check.add("blank", "site_id", site_blank)
    site_unknown = np.array([m is None for m in site_map], dtype=bool)[site.codes]
    check.add("unknown_site", "site_id", site_unknown & ~site_blank & ~odd)
    check.context["site_range"] = (
        f"{site_ids[0]}–{site_ids[-1]}" if len(site_ids) > 1 else ", ".join(site_ids) or "(none)"
    )
    return site_map


def check_dates(
    check: _Validator, columns: dict[str, _Column], today: dt.date, odd: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Real calendar dates, none after today, randomization not before screening.

    Returns per date column the parsed date of each row and its ISO text."""
    parsed: dict[str, np.ndarray] = {}
    iso_text: dict[str, np.ndarray] = {}
    for canon in ("screening_date", "randomization_date"):
        col = columns[canon]
        values_parsed, bad = parse_date_values(col.values)
        # ISO text of each distinct value, taken per row later for the canonical file.
        iso_text[canon] = np.array(
            ["" if np.isnat(d) else str(d) for d in values_parsed], dtype=object
        )[col.codes]
        check.add("bad_date", canon, bad[col.codes] & ~odd[canon])
        rows_dates = values_parsed[col.codes]
        check.add("future_date", canon, rows_dates > np.datetime64(today, "D"))
        parsed[canon] = rows_dates
    check.context["today"] = today.isoformat()
    scr_col = columns["screening_date"]
    check.add("blank", "screening_date", (scr_col.values == "")[scr_col.codes])
    scr, rnd = parsed["screening_date"], parsed["randomization_date"]
    before = ~np.isnat(scr) & ~np.isnat(rnd) & (rnd < scr)
    check.add("rand_before_screening", "randomization_date", before)
    return parsed, iso_text


def check_status(
    check: _Validator, columns: dict[str, _Column], rnd: np.ndarray, odd: np.ndarray
) -> np.ndarray:
    """A known status that agrees with the randomization date; returns each distinct
    value's canonical status (None when unknown)."""
    status = columns["status"]
    status_map = np.array([normalise_status(v) for v in status.values], dtype=object)
    status_blank = (status.values == "")[status.codes]
    check.add("blank", "status", status_blank)
    status_unknown = np.array([m is None for m in status_map], dtype=bool)[status.codes]
    check.add("unknown_status", "status", status_unknown & ~status_blank & ~odd)
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


def _canonical_text(
    columns: dict[str, _Column],
    site_map: np.ndarray,
    status_map: np.ndarray,
    iso_text: dict[str, np.ndarray],
) -> str:
    """The canonical CSV: distinct values are formatted once, then taken per row."""
    pid = columns["patient_id"]
    pid_values = pid.values
    all_pids = "".join(pid_values)
    if any(ch in all_pids for ch in ',"\r\n'):  # a few C-level finds, no regex
        pid_values = np.array([_csv_quote(v) for v in pid_values], dtype=object)
    rows_text = map(
        ",".join,
        zip(
            pid_values[pid.codes],
            site_map[columns["site_id"].codes],
            iso_text["screening_date"],
            iso_text["randomization_date"],
            status_map[columns["status"].codes],
            strict=True,
        ),
    )
    return "\n".join(itertools.chain([",".join(ENROLLMENT_COLUMNS)], rows_text, [""]))


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
    raw_columns, all_lines = table.read_body()
    check_unnamed_columns(table, raw_columns, all_lines, header.unnamed)

    factorized, joined = _distinct_values(raw_columns, header.used)
    blank_row = np.ones(len(all_lines), dtype=bool)
    for codes, values in factorized.values():
        blank_row &= (values == "")[codes] if len(values) else True
    keep = ~blank_row
    n_rows = int(keep.sum())
    skipped = len(all_lines) - n_rows
    if n_rows == 0:
        message = HEADER_MESSAGES["no_rows"].format(
            name=name, line=header_line + 1, header_line=header_line
        )
        raise EnrollmentError([message], ["no_rows"])
    if n_rows > max_rows:
        message = HEADER_MESSAGES["too_many_rows"].format(name=name, rows=n_rows, limit=max_rows)
        raise EnrollmentError([message], ["too_many_rows"])
    lines = all_lines[keep]
    used = header.used
    columns = {
        canon: _Column(canon, used[canon], table.header[used[canon]], codes[keep], values)
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
    parsed, iso_text = check_dates(check, columns, today, odd)
    scr, rnd = parsed["screening_date"], parsed["randomization_date"]
    status_map = check_status(check, columns, rnd, odd["status"])
    errors = check.errors()
    if errors:
        raise EnrollmentError(errors, check.reasons(), rows=n_rows)

    # Notices about spellings that were translated, so nothing is read silently.
    status = columns["status"]
    spellings: list[str] = []
    status_counts = np.bincount(status.codes, minlength=len(status.values))
    for value, canon_status, n in zip(status.values, status_map, status_counts, strict=True):
        if n and squash(value) != squash(canon_status):
            spellings.append(f"{_show(value)} → {canon_status} ({n} row(s))")
    if spellings:
        notices.append("status spellings read: " + ", ".join(spellings))
    if all_dates_ambiguous([columns[c].values for c in ("screening_date", "randomization_date")]):
        notices.append(
            "every date in the file has day and month both ≤ 12, so it reads either way: "
            "day first (DD/MM/YYYY) was assumed; check one date against the EDC"
        )

    all_dates = np.concatenate([scr, rnd])
    valid = np.flatnonzero(~np.isnat(all_dates))
    latest_pos = int(valid[np.argmax(all_dates[valid])])
    latest = all_dates[latest_pos]
    latest_canon = "screening_date" if latest_pos < len(scr) else "randomization_date"
    latest_row = latest_pos % len(scr)
    site = columns["site_id"]
    present_sites = sorted(
        set(site_map[np.bincount(site.codes, minlength=len(site_map)) > 0].tolist())
    )
    return ValidatedEnrollment(
        csv_text=_canonical_text(columns, site_map, status_map, iso_text),
        rows=n_rows,
        latest_date=dt.date.fromisoformat(str(latest)),
        latest_where=check.where(latest_canon, latest_row),
        randomized=int((~np.isnat(rnd)).sum()),
        screen_failed=int(status_counts[status_map == "SCREEN_FAILED"].sum()),
        site_ids=present_sites,
        notices=notices,
    )


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _csv_quote(value: str) -> str:
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value
