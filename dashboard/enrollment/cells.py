"""Cell values of an EDC/IWRS file read strictly: dates, odd characters, formulas.

Every helper works on the *distinct* values of a column (a trial has a few hundred
dates), so a big file costs little more than parsing it.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from .export_table import show

_ODD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_ODD_CHARS_NOT_NUL = re.compile(
    "[\x01-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
_SPACE_AFTER_NUL = re.compile(r"\x00\s")
#: Printable ASCII but the space: all a plain value (a code, a date, a site id) is made of.
_PLAIN_ASCII = bytes(range(0x21, 0x7F))
_FORMULA_START = ("=", "+", "-", "@")
# ASCII digits only: str.isdigit() and \d accept other scripts' digits (and "²"), which no
# export writes and which could turn a corrupted byte into a different valid date or site.
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FR_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_SHORT_YEAR = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}")


def parse_date_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def all_dates_ambiguous(columns: list[np.ndarray]) -> bool:
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


def date_problem(value: str) -> str:
    if _FR_DATE.fullmatch(value):
        return f"{show(value)} is not a real calendar date (dates are read day first: DD/MM/YYYY)"
    if _ISO_DATE.fullmatch(value):
        return f"{show(value)} is not a real calendar date"
    if _SHORT_YEAR.fullmatch(value):
        return f"{show(value)} has a two-digit year; write DD/MM/YYYY or YYYY-MM-DD"
    return f"{show(value)} is not a date; write DD/MM/YYYY (day first) or YYYY-MM-DD"


def plain_ascii(joined: str) -> bool:
    """True when NUL-joined values hold printable ASCII without spaces, and nothing else:
    then no value has a space to strip or a control character. (Patient codes, dates and
    site ids usually are; one C-level pass over 200,000 codes instead of the regex scans,
    which cost several times more there.)"""
    if not joined.isascii():  # O(1): CPython strings know it
        return False
    return not joined.encode("ascii").translate(None, _PLAIN_ASCII).replace(b"\x00", b"")


def strip_distinct(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Strip distinct values; return them and their NUL-joined text for the other checks.

    Values are joined once (NUL never occurs in a cell: CSV refuses it, XML cannot hold
    it), and a regex over that text tells whether any value has a space at either end,
    so the common clean column skips the per-value strip. (Regex ``\\s`` and
    ``str.isspace`` agree on every code point.)
    """
    joined = "\x00".join(values)
    if plain_ascii(joined) or not (
        joined[:1].isspace()
        or joined[-1:].isspace()
        or _SPACE_AFTER_NUL.search(joined)
        or _SPACE_AFTER_NUL.search(joined[::-1])
    ):
        return values, joined
    stripped = np.array([v.strip() for v in values], dtype=object)
    return stripped, "\x00".join(stripped)


def odd_value_masks(values: np.ndarray, joined: str) -> tuple[np.ndarray, np.ndarray]:
    """(formula, control) masks over distinct values. Searching their NUL-joined text
    first keeps the common clean column at a few C-level scans."""
    formula = np.zeros(len(values), dtype=bool)
    text = "\x00" + joined
    if any("\x00" + start in text for start in _FORMULA_START):
        formula = np.array([v[:1] in _FORMULA_START for v in values], dtype=bool)
    control = np.zeros(len(values), dtype=bool)
    # (An .xlsx can smuggle a NUL into a cell as "_x0000_": count the separators too.)
    odd_chars = not plain_ascii(joined) and _ODD_CHARS_NOT_NUL.search(joined)
    if odd_chars or joined.count("\x00") != max(len(values) - 1, 0):
        control = np.array([bool(_ODD_CHARS.search(v)) for v in values], dtype=bool)
    return formula, control & ~formula
