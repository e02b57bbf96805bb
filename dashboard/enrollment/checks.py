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

from ..text import squash
from .canonical import ENROLLMENT_COLUMNS, RANDOMIZED_STATUSES, EnrollmentError
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

_ODD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_ODD_CHARS_NOT_NUL = re.compile(
    "[\x01-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
_SPACE_AFTER_NUL = re.compile(r"\x00\s")
_FORMULA_START = ("=", "+", "-", "@")
# ASCII digits only: str.isdigit() and \d accept other scripts' digits (and "²"), which no
# export writes and which could turn a corrupted byte into a different valid date or site.
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FR_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_SHORT_YEAR = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}")
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


def _parse_date_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse distinct date texts; return (datetime64[D] with NaT, bad mask (non-blank, unparsed)).

    Only exact ``D/M/YYYY`` (day first) and ``YYYY-MM-DD`` shapes are read, and
    :class:`datetime.date` rejects impossible ones such as 31/02/2024. A trial has a few
    hundred distinct dates, so plain Python on the distinct values beats any vectorised
    parser's set-up cost.
    """
    parsed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[D]")
    bad = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if not value:
            continue
        try:
            if match := _FR_DATE.fullmatch(value):
                day, month, year = match.groups()
            elif match := _ISO_DATE.fullmatch(value):
                year, month, day = match.groups()
            else:
                raise ValueError(value)
            parsed[i] = np.datetime64(dt.date(int(year), int(month), int(day)), "D")
        except ValueError:
            bad[i] = True
    return parsed, bad


def _all_dates_ambiguous(columns: list[np.ndarray]) -> bool:
    """True when every date text is D/M/YYYY with day and month both ≤ 12.

    Then nothing in the file proves the order (03/04/2024: 3 April or 4 March?). Day first
    is what French exports write and what the import assumes; the user is told.
    """
    seen = False
    for values in columns:
        for value in values:
            if not value:
                continue
            match = _FR_DATE.fullmatch(value)
            if match is None or int(match.group(1)) > 12 or int(match.group(2)) > 12:
                return False
            seen = True
    return seen


def _date_problem(value: str) -> str:
    if _FR_DATE.fullmatch(value):
        return f"{_show(value)} is not a real calendar date (dates are read day first: DD/MM/YYYY)"
    if _ISO_DATE.fullmatch(value):
        return f"{_show(value)} is not a real calendar date"
    if _SHORT_YEAR.fullmatch(value):
        return f"{_show(value)} has a two-digit year; write DD/MM/YYYY or YYYY-MM-DD"
    return f"{_show(value)} is not a date; write DD/MM/YYYY (day first) or YYYY-MM-DD"


def _show(value: object) -> str:
    return show(value)


def _strip_distinct(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Strip distinct values; return them and their NUL-joined text for the other checks.

    Values are joined once (NUL never occurs in a cell: CSV refuses it, XML cannot hold
    it), and a regex over that text tells whether any value has a space at either end,
    so the common clean column skips the per-value strip. (Regex ``\\s`` and
    ``str.isspace`` agree on every code point.)
    """
    joined = "\x00".join(values)
    if not (
        joined[:1].isspace()
        or joined[-1:].isspace()
        or _SPACE_AFTER_NUL.search(joined)
        or _SPACE_AFTER_NUL.search(joined[::-1])
    ):
        return values, joined
    stripped = np.array([v.strip() for v in values], dtype=object)
    return stripped, "\x00".join(stripped)


def _odd_value_masks(values: np.ndarray, joined: str) -> tuple[np.ndarray, np.ndarray]:
    """(formula, control) masks over distinct values. Searching their NUL-joined text
    first keeps the common clean column at a few C-level scans."""
    formula = np.zeros(len(values), dtype=bool)
    text = "\x00" + joined
    if any("\x00" + start in text for start in _FORMULA_START):
        formula = np.array([v[:1] in _FORMULA_START for v in values], dtype=bool)
    control = np.zeros(len(values), dtype=bool)
    # (An .xlsx can smuggle a NUL into a cell as "_x0000_": count the separators too.)
    if _ODD_CHARS_NOT_NUL.search(joined) or joined.count("\x00") != max(len(values) - 1, 0):
        control = np.array([bool(_ODD_CHARS.search(v)) for v in values], dtype=bool)
    return formula, control & ~formula


class _Validator:
    """Checks one export's cells against the rules; collects every problem, then formats
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
        return col.values[col.codes[row]]

    def where(self, canon: str, row: int) -> str:
        return (
            f"{self.name}: line {int(self.lines[row])}, column {_show(self.columns[canon].label)}"
        )

    def message(self, problem_kind: str, canon: str, row: int) -> str:
        where, value = self.where(canon, row), self.value(canon, row)
        ctx = self.context
        if problem_kind == "blank":
            return f"{where}: {BLANK_LABELS[canon]} is blank"
        if problem_kind == "formula":
            return (
                f"{where}: {_show(value)} is a formula or starts like one; export values only "
                "(it is refused, never evaluated)"
            )
        if problem_kind == "control":
            return f"{where}: {_show(value)} contains a control or invisible character"
        if problem_kind == "duplicate":
            return f"{where}: patient {_show(value)} is already on line {ctx['first_line'][row]}"
        if problem_kind == "unknown_site":
            return (
                f"{where}: unknown site id {_show(value)}; the registry's sites.csv has ids "
                f"{ctx['site_range']}"
            )
        if problem_kind == "bad_date":
            return f"{where}: {_date_problem(value)}"
        if problem_kind == "future_date":
            return (
                f"{where}: {_show(value)} is after today ({ctx['today']}); a future date is a typo"
            )
        if problem_kind == "rand_before_screening":
            return (
                f"{where}: randomization date {_show(value)} is before the screening date "
                f"{_show(self.value('screening_date', row))} (column "
                f"{_show(self.columns['screening_date'].label)})"
            )
        if problem_kind == "unknown_status":
            return (
                f"{where}: unknown status {_show(value)}; expected one of Screening, "
                "Screen failed, Randomized, Withdrawn, Completed"
            )
        status = _show(self.value("status", row))
        if problem_kind == "rand_missing":
            return (
                f"{where}: blank, but status {status} means the patient was randomized; "
                "give the randomization date"
            )
        if problem_kind == "rand_unexpected":
            return (
                f"{where}: {_show(value)} given, but status {status} means the patient was not "
                "randomized; fix the status or remove the date"
            )
        raise AssertionError(problem_kind)  # pragma: no cover

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
    """What a valid export becomes: the canonical CSV text and what to report about it."""

    csv_text: str
    rows: int
    latest_date: dt.date
    latest_where: str
    randomized: int
    screen_failed: int
    site_ids: list[str]
    notices: list[str]


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
    header_errors: list[str] = []
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
                header_errors.append(
                    f"{where}: both this and column {_show(table.header[used[canon]])} look "
                    f"like the {CANONICAL_LABELS[canon]}; keep only one"
                )
                reasons.append("ambiguous_column")
            else:
                used[canon] = position
        elif kind == "blind":
            header_errors.append(
                f"{where}: refused to protect the blind: a column named like this could "
                "reveal treatment allocation (arm, group, kit, box, lot...). Remove it from the "
                "export and import again; its values were not read."
            )
            reasons.append("blinding_column")
        elif kind == "identifier":
            header_errors.append(
                f"{where}: refused: it looks like a direct patient identifier (name, birth "
                "date, NIR, IPP, address, phone, e-mail). The dashboard takes pseudonymised "
                "patient codes only; remove the column and import again. Its values were not read."
            )
            reasons.append("identifier_column")
        elif kind == "unnamed":
            unnamed.append(position)
        else:
            ignored.append(label)
    missing = [c for c in ENROLLMENT_COLUMNS if c not in used]
    if missing:
        found = ", ".join(_show(h) for h in table.header[:20] if h) or "none"
        for canon in missing:
            examples = ", ".join(repr(a) for a in COLUMN_ALIASES[canon][:4])
            header_errors.append(
                f"{name}: line {header_line}: no column for the {CANONICAL_LABELS[canon]}; "
                f"name one e.g. {examples} (columns found: {found})"
            )
        reasons.append("missing_column")
    if header_errors:
        raise EnrollmentError(header_errors, reasons)

    raw_columns, all_lines = table.read_body()
    # Unnamed columns are fine when empty (trailing separators); with values, refused.
    for position in unnamed:
        filled = np.flatnonzero([bool(v.strip()) for v in raw_columns[position]])
        if len(filled):
            header_errors.append(
                f"{name}: line {int(all_lines[filled[0]])}, column number {position + 1}: this "
                "column has no header but holds values; name it or delete it (an unnamed column "
                "could hold anything, treatment allocation included). Its values were not printed."
            )
            reasons.append("unnamed_column")
    if header_errors:
        raise EnrollmentError(header_errors, reasons)

    # Distinct values per used column, stripped (str.strip also removes non-breaking spaces).
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    joined: dict[str, str] = {}
    for canon, position in used.items():
        raw = raw_columns[position]
        if canon == "patient_id" and len(set(raw)) == len(raw):
            codes, uniques = np.arange(len(raw)), raw  # the usual case: no need to hash twice
        else:
            codes, uniques = pd.factorize(raw)
            uniques = np.asarray(uniques, dtype=object)
        values, joined[canon] = _strip_distinct(uniques)
        if values is not uniques and len(set(values)) != len(values):
            # " P1" and "P1" are the same value once stripped: factorize again.
            codes2, values = pd.factorize(values)
            codes = codes2[codes]
            values = np.asarray(values, dtype=object)
            joined[canon] = "\x00".join(values)
        factorized[canon] = (codes, values)
    blank_row = np.ones(len(all_lines), dtype=bool)
    for codes, values in factorized.values():
        blank_row &= (values == "")[codes] if len(values) else True
    keep = ~blank_row
    n_rows = int(keep.sum())
    skipped = len(all_lines) - n_rows
    if n_rows == 0:
        raise EnrollmentError(
            [
                f"{name}: line {header_line + 1}: no patient rows below the header (line {header_line})"
            ],
            ["no_rows"],
        )
    if n_rows > max_rows:
        raise EnrollmentError(
            [f"{name}: {n_rows:,} patient rows, over the limit of {max_rows:,}"], ["too_many_rows"]
        )
    lines = all_lines[keep]
    columns = {
        canon: _Column(canon, used[canon], table.header[used[canon]], codes[keep], values)
        for canon, (codes, values) in factorized.items()
    }
    if skipped:
        notices.append(f"{skipped} row(s) without patient data skipped")
    if ignored:
        notices.append(
            "ignored column(s), not used by the dashboard: " + ", ".join(_show(h) for h in ignored)
        )

    check = _Validator(name, header_line, lines, columns)
    odd: dict[str, np.ndarray] = {}
    for canon, col in columns.items():
        formula, control = _odd_value_masks(col.values, joined[canon])
        check.add("formula", canon, formula[col.codes])
        check.add("control", canon, control[col.codes])
        odd[canon] = (formula | control)[col.codes]

    # patient_id: present and unique.
    pid = columns["patient_id"]
    pid_blank = (pid.values == "")[pid.codes]
    check.add("blank", "patient_id", pid_blank)
    counts = np.bincount(pid.codes, minlength=len(pid.values))
    if len(counts) and counts.max() > 1:
        first_row = np.full(len(pid.values), -1, dtype=np.int64)
        order = np.arange(len(pid.codes))[::-1]
        first_row[pid.codes[order]] = order  # the last write wins: the first occurrence
        is_dup = (
            (first_row[pid.codes] != np.arange(len(pid.codes))) & ~pid_blank & ~odd["patient_id"]
        )
        check.context["first_line"] = dict(
            zip(
                np.flatnonzero(is_dup).tolist(),
                lines[first_row[pid.codes[is_dup]]].tolist(),
                strict=True,
            )
        )
        check.add("duplicate", "patient_id", is_dup)

    # site_id: a registry site, leading zeros ignored.
    from ..sites import normalise_site_id

    site = columns["site_id"]
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
    check.add("unknown_site", "site_id", site_unknown & ~site_blank & ~odd["site_id"])
    check.context["site_range"] = (
        f"{site_ids[0]}–{site_ids[-1]}" if len(site_ids) > 1 else ", ".join(site_ids) or "(none)"
    )

    # Dates.
    parsed: dict[str, np.ndarray] = {}
    iso_text: dict[str, np.ndarray] = {}
    for canon in ("screening_date", "randomization_date"):
        col = columns[canon]
        values_parsed, bad = _parse_date_values(col.values)
        # ISO text of each distinct value, taken per row later for the canonical file.
        iso_text[canon] = np.array(
            ["" if np.isnat(d) else str(d) for d in values_parsed], dtype=object
        )[col.codes]
        rows_bad = bad[col.codes] & ~odd[canon]
        check.add("bad_date", canon, rows_bad)
        rows_dates = values_parsed[col.codes]
        future = rows_dates > np.datetime64(today, "D")
        check.add("future_date", canon, future)
        parsed[canon] = rows_dates
    scr_blank = (columns["screening_date"].values == "")[columns["screening_date"].codes]
    check.add("blank", "screening_date", scr_blank)
    scr, rnd = parsed["screening_date"], parsed["randomization_date"]
    before = ~np.isnat(scr) & ~np.isnat(rnd) & (rnd < scr)
    check.add("rand_before_screening", "randomization_date", before)

    # Status, and whether it agrees with the randomization date.
    status = columns["status"]
    status_map = np.array([normalise_status(v) for v in status.values], dtype=object)
    status_blank = (status.values == "")[status.codes]
    check.add("blank", "status", status_blank)
    status_unknown = np.array([m is None for m in status_map], dtype=bool)[status.codes]
    check.add("unknown_status", "status", status_unknown & ~status_blank & ~odd["status"])
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
    check.context["today"] = today.isoformat()
    errors = check.errors()
    if errors:
        raise EnrollmentError(errors, check.reasons(), rows=n_rows)

    # Notices about spellings that were translated, so nothing is read silently.
    spellings: list[str] = []
    status_counts = np.bincount(status.codes, minlength=len(status.values))
    for value, canon_status, n in zip(status.values, status_map, status_counts, strict=True):
        if n and squash(value) != squash(canon_status):
            spellings.append(f"{_show(value)} → {canon_status} ({n} row(s))")
    if spellings:
        notices.append("status spellings read: " + ", ".join(spellings))
    if _all_dates_ambiguous([columns[c].values for c in ("screening_date", "randomization_date")]):
        notices.append(
            "every date in the file has day and month both ≤ 12, so it reads either way: "
            "day first (DD/MM/YYYY) was assumed; check one date against the EDC"
        )

    # Canonical text: distinct values are formatted once, then taken per row.
    iso_scr, iso_rnd = iso_text["screening_date"], iso_text["randomization_date"]
    pid_values = pid.values
    all_pids = "".join(pid_values)
    if any(ch in all_pids for ch in ',"\r\n'):  # a few C-level finds, no regex
        pid_values = np.array([_csv_quote(v) for v in pid_values], dtype=object)
    pid_text = pid_values[pid.codes]
    site_text = site_map[site.codes]
    status_text = status_map[status.codes]
    rows_text = map(",".join, zip(pid_text, site_text, iso_scr, iso_rnd, status_text, strict=True))
    csv_text = "\n".join(itertools.chain([",".join(ENROLLMENT_COLUMNS)], rows_text, [""]))

    all_dates = np.concatenate([scr, rnd])
    valid = np.flatnonzero(~np.isnat(all_dates))
    latest_pos = int(valid[np.argmax(all_dates[valid])])
    latest = all_dates[latest_pos]
    latest_canon = "screening_date" if latest_pos < len(scr) else "randomization_date"
    latest_row = latest_pos % len(scr)
    present_sites = sorted(
        set(site_map[np.bincount(site.codes, minlength=len(site_map)) > 0].tolist())
    )
    return ValidatedEnrollment(
        csv_text=csv_text,
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
