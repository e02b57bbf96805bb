"""Enrollment step: the EDC/IWRS export becomes the canonical ``enrollment.csv``.

Canonical columns: patient_id (pseudonymised code), site_id (registry id string),
screening_date, randomization_date (ISO, blank when not randomized), status.
Nothing that could unblind (arm, kit, group...) is ever read into this frame.

:func:`import_enrollment` takes the export as a site or a sponsor tool writes it (CSV in
UTF-8 or Windows-1252 with ``;``/``,``/tab, or .xlsx; see :mod:`dashboard.exports_reader`)
and either imports it whole or refuses it whole, listing every problem with its file, line,
column and value. Validation is vectorised over the *distinct* values of each column (a
trial has a few hundred dates, a few statuses, a few dozen sites), so a 200,000-row file
costs little more than parsing it.

Choices made where the issues were silent (also in the README of the data dir format):

- Statuses: case, spaces, hyphens, underscores and accents are ignored; British
  ``Randomised``, ``Screen failure``/``Screen fail`` and the French labels (``Randomisé``,
  ``Échec de screening``, ``En screening``, ``Retiré``, ``Sortie prématurée``, ``Terminé``)
  are accepted, and each such spelling is reported in a notice with its row count.
- A SCREENING or SCREEN_FAILED patient with a randomization date is refused: the two
  contradict each other, and the counts (which go by dates) would silently disagree with
  the status.
- Dates: ``YYYY-MM-DD`` or day-first ``D/M/YYYY`` (one or two digits for day and month),
  Excel date cells; never month-first, never two-digit years. A date after today is
  refused as a typo.
- ``--cutoff`` must be on or after every date in the file, and not after today.
- Formula cells (xlsx formulas, or text starting with ``=``, ``+``, ``-`` or ``@``) and
  control or invisible characters in the used columns are refused with their location,
  never stripped: a silently altered patient code could merge two patients.
- Columns that could unblind, or that look like direct identifiers, are refused on their
  header alone, before any value is parsed; their values are never printed, logged or
  stored. Headers are split into words (accents, case and camelCase undone) so that
  "Screening date", "Department" or "Pharmacy" never match "arm"; the word lists are
  :data:`_BLIND_TOKEN` and :data:`_IDENT_TOKEN` (identifiers include initials and postcode;
  "Nom du centre" or "Adresse du site" are about a centre, not a patient, and pass). A
  column with no header that holds values is refused too (it could hold anything). Other
  extra columns are ignored with a notice naming them, never their values.
- Rows whose used columns are all blank (Excel's ``;;;;;``) are skipped with a count.
- Limits (:class:`dashboard.exports_reader.Limits`): 50 MB, 1,000,000 rows, 1,000
  columns; an .xlsx whose parts would unpack to more than 500 MB, or one part more than
  200 times its packed size, is refused before anything is unpacked.
- The import log records file name, sha256, size, rows, result, and for refusals the
  number of errors and their categories — never an error text, which quotes cells.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import itertools
import re
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .datadir import (
    DataPaths,
    append_import_log,
    dataset_meta_bytes,
    read_dataset_meta,
    utc_now_iso,
    write_lock,
)
from .transaction import commit, recover

if TYPE_CHECKING:  # the reader is imported lazily: loading enrollment.csv never needs it
    from .exports_reader import ExportTable, Limits

ENROLLMENT_COLUMNS = ["patient_id", "site_id", "screening_date", "randomization_date", "status"]
ENROLLMENT_STATUSES = ("SCREENING", "SCREEN_FAILED", "RANDOMIZED", "WITHDRAWN", "COMPLETED")
#: Statuses that imply the patient was randomized (and so must have a randomization date).
RANDOMIZED_STATUSES = ("RANDOMIZED", "WITHDRAWN", "COMPLETED")


class EnrollmentError(ValueError):
    """An enrollment file refused whole; ``errors`` lists each located problem.

    ``reasons`` are short category names (``unknown_site``, ``blinding_column``...) for the
    import log, which must never hold cell values; ``rows`` is logged too.
    """

    def __init__(
        self, errors: list[str], reasons: Iterable[str] | None = None, rows: int | None = None
    ):
        self.errors = list(errors)
        self.reasons = sorted(set(reasons or ()))
        self.rows = rows  # patient rows of the refused file, when it was read that far
        super().__init__("\n".join(self.errors))


def empty_enrollment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.Series(dtype=str),
            "site_id": pd.Series(dtype=str),
            "screening_date": pd.Series(dtype="datetime64[ns]"),
            "randomization_date": pd.Series(dtype="datetime64[ns]"),
            "status": pd.Series(dtype=str),
        }
    )


def enrollment_to_csv(enrollment: pd.DataFrame) -> str:
    """Serialise the canonical frame (ISO dates, blank for no randomization)."""
    out = enrollment[ENROLLMENT_COLUMNS].copy()
    for col in ("screening_date", "randomization_date"):
        out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d").fillna("")
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def parse_canonical_csv(text: str, source: str) -> pd.DataFrame:
    """Read a canonical enrollment.csv (as written by this package) strictly.

    The header is checked before any row is parsed: a file dropped into the data dir by
    hand with any other column (an arm, a birth date...) is refused without its values
    ever being read, and the store keeps serving the last good data.
    """
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    missing = [c for c in ENROLLMENT_COLUMNS if c not in header]
    extra = [c for c in header if c not in ENROLLMENT_COLUMNS]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"{source}: missing column(s) {', '.join(missing)}")
        if extra:
            problems.append(
                f"{source}: unexpected column(s) {', '.join(repr(c) for c in extra)} refused "
                "unread (the data dir holds only the canonical columns; bring exports in "
                "with import-enrollment, which checks them)"
            )
        raise EnrollmentError(problems)
    frame = pd.read_csv(
        io.StringIO(text), dtype=str, keep_default_na=False, usecols=ENROLLMENT_COLUMNS
    )
    errors: list[str] = []
    for col in ("screening_date", "randomization_date"):
        parsed = pd.to_datetime(
            frame[col].where(frame[col] != ""), format="%Y-%m-%d", errors="coerce"
        )
        bad = parsed.isna() & (frame[col] != "")
        if col == "screening_date":
            bad |= frame[col] == ""
        for i in frame.index[bad][:20]:
            errors.append(
                f"{source}: line {i + 2}, column {col}: {frame.at[i, col]!r} is not YYYY-MM-DD"
            )
        frame[col] = parsed
    bad_status = ~frame["status"].isin(ENROLLMENT_STATUSES)
    for i in frame.index[bad_status][:20]:
        errors.append(
            f"{source}: line {i + 2}, column status: unknown status {frame.at[i, 'status']!r}"
        )
    if errors:
        raise EnrollmentError(errors)
    return frame[ENROLLMENT_COLUMNS]


def load_enrollment(paths: DataPaths) -> pd.DataFrame:
    if not paths.enrollment.exists():
        return empty_enrollment()
    return parse_canonical_csv(
        paths.enrollment.read_text(encoding="utf-8-sig"), str(paths.enrollment)
    )


# =========================================================================== import
#: Stop listing errors after this many (a shifted column makes every row wrong).
MAX_LISTED_ERRORS = 200

_CANONICAL_LABELS = {
    "patient_id": "patient code (patient_id)",
    "site_id": "site id (site_id)",
    "screening_date": "screening date (screening_date)",
    "randomization_date": "randomization date (randomization_date)",
    "status": "status (status)",
}
_BLANK_LABELS = {
    "patient_id": "the patient code",
    "site_id": "the site id",
    "screening_date": "the screening date",
    "randomization_date": "the randomization date",
    "status": "the status",
}
#: Accepted header spellings, compared after :func:`squash` (accents, case, spaces,
#: underscores, hyphens and punctuation removed). Examples shown in errors come first.
# fmt: off
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "patient_id": (
        "patient_id", "Patient", "N° patient", "Code patient", "Subject ID", "patientcode",
        "idpatient", "patientnumber", "patientno", "numeropatient", "numpatient", "npatient",
        "nopatient", "numerodupatient", "codedupatient", "subject", "subjid", "usubjid",
        "subjectnumber", "participantid", "participant", "participantcode",
        "identifiantpatient", "codesujet", "numerosujet", "sujet", "screeningnumber",
        "screeningno", "N° d'inclusion", "Numéro d'inclusion", "numeroinclusion",
        "ninclusion", "Patient ID", "Subject number", "N° sujet",
    ),
    "site_id": (
        "site_id", "Site", "N° centre", "Numéro de centre", "Site number", "sitenumber",
        "siteno", "sitecode", "sitenum", "centreid", "centerid", "idcentre", "idcenter",
        "centrenumber", "centernumber", "centreno", "centerno", "numerocentre", "numcentre",
        "ncentre", "nocentre", "codecentre", "centrecode", "numerodusite", "numerosite",
        "studysiteid", "Centre", "Center", "N° de centre", "Numéro centre", "N° site",
        "Site ID", "Centre ID", "Center number",
    ),
    "screening_date": (
        "screening_date", "Screening date", "Date de screening", "Date de sélection",
        "screendate", "datescreening", "dateofscreening", "screeningdt", "scrdt", "scrdate",
        "datescreen", "dateselection", "datepreinclusion", "datedepreinclusion",
        "Date d'inclusion", "Date inclusion", "Inclusion date", "Date of inclusion",
        "Date de screening", "Date screening", "Date of screening",
    ),
    "randomization_date": (
        "randomization_date", "Randomization date", "Date de randomisation",
        "randomisationdate", "daterandomization", "datederandomization", "randdate",
        "randomdate", "dateofrandomization", "dateofrandomisation", "randdt", "randomizationdt",
        "randomisationdt", "randomizeddate", "randomiseddate", "daterando", "datetirageausort",
        "datedetirageausort", "Date randomisation", "Date de randomization",
        "Randomisation date", "Date of randomisation",
    ),
    "status": (
        "status", "Statut", "Patient status", "statutpatient", "statutdupatient",
        "subjectstatus", "studystatus", "statutetude", "participantstatus", "enrollmentstatus",
        "enrolmentstatus", "statutinclusion", "statusinstudy", "État", "Etat du patient",
        "Statut du patient", "Subject status", "Statut patient",
    ),
}
# fmt: on

#: Header tokens (whole words after splitting, accents and case removed) that could reveal
#: treatment allocation. A column whose header has one is refused unread.
_BLIND_TOKEN = re.compile(
    r"arms?|armcd|actarm(cd)?|arm\d+|randarm|treatments?|traitements?|trt\w*|"
    r"groups?|groupes?|grp\w*|kits?|kitno|kitnum\w*|kitid|box|boxes|boxno|boxid|boites?|"
    r"alloc\w*|bras|lots?|lotno|blind\w*|unblind\w*|insu|placebo|verum|itacitinib|"
    r"drugs?|medications?|medicaments?|imp|dispens\w*"
)
#: Unambiguous stems looked for inside the squashed header (catches "TreatmentArm", "KITNO").
# fmt: off
_BLIND_STEMS = (
    "treatment", "traitement", "allocation", "randomisationarm", "randomizationarm",
    "kitnumber", "numerokit", "numerodekit", "boxnumber", "numeroboite", "numerodeboite",
    "trtgrp", "placebo", "itacitinib", "unblind", "leveedinsu", "armcd",
)
# fmt: on
#: Header tokens of direct identifiers (the dashboard takes pseudonymised codes only).
_IDENT_TOKEN = re.compile(
    r"names?|noms?|prenoms?|surnames?|forenames?|firstname|lastname|givenname|familyname|"
    r"middlename|maidenname|birth\w*|dob|ddn|naissance|nir|ssn|nss|secu|ipp|nip|mrn|"
    r"address(es)?|adresses?|addr|phones?|telephones?|tel|mobile|portable|fax|e?mails?|"
    r"courriels?|initials?|initiales?|codepostal|postcode|postalcode|zipcode|zip"
)
# fmt: off
_IDENT_STEMS = (
    "firstname", "lastname", "dateofbirth", "birthdate", "naissance", "securitesociale",
    "socialsecurity", "telephone", "courriel", "email", "adresse", "address", "prenom",
    "identifiantpermanent", "nomdefamille", "nomdusage", "nomdejeunefille",
)
# fmt: on
#: A header naming a centre/site/staff thing is informative, not a patient identifier
#: ("Nom du centre", "Adresse du site", "Nom investigateur").
_CENTRE_CONTEXT = frozenset(
    [
        "centre",
        "center",
        "centres",
        "centers",
        "site",
        "sites",
        "hopital",
        "hospital",
        "hopitaux",
        "etablissement",
        "investigateur",
        "investigator",
        "investigateurs",
        "service",
        "facility",
        "ville",
        "city",
        "promoteur",
        "sponsor",
        "cro",
        "medecin",
        "doctor",
        "physician",
        "arc",
        "tec",
        "etude",
        "study",
        "protocole",
        "protocol",
    ]
)
_PATIENT_CONTEXT = frozenset(
    ["patient", "patients", "patiente", "sujet", "subject", "participant", "malade"]
)

#: Status spellings (squashed) → canonical status.
STATUS_ALIASES: dict[str, str] = {
    "screening": "SCREENING",
    "enscreening": "SCREENING",
    "encoursdescreening": "SCREENING",
    "enselection": "SCREENING",
    "screenfailed": "SCREEN_FAILED",
    "screenfailure": "SCREEN_FAILED",
    "screenfail": "SCREEN_FAILED",
    "screeningfailed": "SCREEN_FAILED",
    "screeningfailure": "SCREEN_FAILED",
    "echecdescreening": "SCREEN_FAILED",
    "echecscreening": "SCREEN_FAILED",
    "echecdeselection": "SCREEN_FAILED",
    "randomized": "RANDOMIZED",
    "randomised": "RANDOMIZED",
    "randomise": "RANDOMIZED",
    "randomisee": "RANDOMIZED",
    "withdrawn": "WITHDRAWN",
    "retire": "WITHDRAWN",
    "retiree": "WITHDRAWN",
    "sortieprematuree": "WITHDRAWN",
    "arretpremature": "WITHDRAWN",
    "completed": "COMPLETED",
    "termine": "COMPLETED",
    "terminee": "COMPLETED",
}

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


def squash(text: str) -> str:
    """Header or status reduced for matching: no accents, case, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", plain.casefold())


def header_tokens(text: str) -> list[str]:
    """Words of a header: accents removed, camelCase split, lower-cased."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"([a-z])([A-Z])", r"\1 \2", plain)
    return [t for t in re.split(r"[^a-z0-9]+", plain.casefold()) if t]


#: Spellings that name a column only loosely: when another column of the file is named
#: for the same thing more precisely ("Centre" beside "N° centre", "Date d'inclusion"
#: beside "Date de sélection"), the loose one is ignored (with a notice) instead of the
#: whole file being refused as ambiguous.
_WEAK_ALIASES = frozenset(
    squash(a)
    for a in (
        "Centre",
        "Center",
        "Site",
        "Date d'inclusion",
        "Date inclusion",
        "Inclusion date",
        "Date of inclusion",
        "État",
        "Etat du patient",
    )
)

_ALIAS_INDEX: dict[str, str] = {
    squash(alias): canon for canon, aliases in COLUMN_ALIASES.items() for alias in aliases
}


def classify_header(label: str) -> tuple[str, str | None]:
    """Return (kind, canonical column): kind is used, blind, identifier, unnamed or ignored."""
    squashed = squash(label)
    if not squashed:
        return "unnamed", None
    if squashed in _ALIAS_INDEX:
        return "used", _ALIAS_INDEX[squashed]
    tokens = header_tokens(label)
    if any(_BLIND_TOKEN.fullmatch(t) for t in tokens) or any(s in squashed for s in _BLIND_STEMS):
        return "blind", None
    looks_identifying = any(_IDENT_TOKEN.fullmatch(t) for t in tokens) or any(
        s in squashed for s in _IDENT_STEMS
    )
    if looks_identifying:
        about_centre = bool(
            _CENTRE_CONTEXT.intersection(tokens)
        ) and not _PATIENT_CONTEXT.intersection(tokens)
        if not about_centre:
            return "identifier", None
    return "ignored", None


def normalise_status(value: str) -> str | None:
    """Canonical status of one spelling, or None when unknown."""
    return STATUS_ALIASES.get(squash(value))


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
    from .exports_reader import show

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
            return f"{where}: {_BLANK_LABELS[canon]} is blank"
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
    """Check an opened export (:class:`dashboard.exports_reader.ExportTable`) whole.

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
            weak_new = squash(label) in _WEAK_ALIASES
            weak_old = canon in used and squash(table.header[used[canon]]) in _WEAK_ALIASES
            if canon in used and weak_new and not weak_old:
                ignored.append(label)
            elif canon in used and weak_old and not weak_new:
                ignored.append(table.header[used[canon]])
                used[canon] = position
            elif canon in used:
                header_errors.append(
                    f"{where}: both this and column {_show(table.header[used[canon]])} look "
                    f"like the {_CANONICAL_LABELS[canon]}; keep only one"
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
                f"{name}: line {header_line}: no column for the {_CANONICAL_LABELS[canon]}; "
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
    from .sites import normalise_site_id

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


def _refuse(paths: DataPaths, entry: dict[str, Any], exc: EnrollmentError) -> None:
    """Log a refusal (counts and categories only: never a cell value)."""
    if paths.root.is_dir():
        if exc.rows is not None:
            entry = {**entry, "rows": exc.rows}
        append_import_log(
            paths,
            {**entry, "result": "refused", "errors": len(exc.errors), "reasons": exc.reasons},
        )


def _read_export_bytes(export_file: Path, name: str, max_bytes: int) -> bytes:
    try:
        info = export_file.stat()
    except FileNotFoundError as exc:
        raise EnrollmentError([f"{name}: file not found ({export_file})"], ["unreadable"]) from exc
    except OSError as exc:
        raise EnrollmentError([f"{name}: cannot read ({exc.strerror})"], ["unreadable"]) from exc
    if not stat.S_ISREG(info.st_mode):
        raise EnrollmentError([f"{name}: not a regular file"], ["unreadable"])
    if info.st_size > max_bytes:
        raise EnrollmentError(
            [
                f"{name}: the file is {info.st_size / 1e6:.1f} MB, over the "
                f"{max_bytes / 1e6:.0f} MB limit for an enrollment export"
            ],
            ["too_big"],
        )
    try:
        return export_file.read_bytes()
    except OSError as exc:
        raise EnrollmentError([f"{name}: cannot read ({exc.strerror})"], ["unreadable"]) from exc


def import_enrollment(
    export_file: Path,
    paths: DataPaths,
    cutoff: dt.date | None = None,
    *,
    limits: Limits | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Validate an EDC/IWRS export and make it the trial's enrollment, all or nothing.

    On success enrollment.csv is replaced atomically, dataset.json records the cut-off
    (``cutoff``, else the latest date in the file) and that the data are real, and the
    demo's own activation-date file is removed (sites.csv is never written). Every outcome, refusals included, is
    appended to import-log.jsonl. Raises :class:`EnrollmentError` listing every problem;
    then nothing but the log line is written.

    ``limits`` (:class:`dashboard.exports_reader.Limits`) and ``today`` exist for tests.
    ``dry_run``: the same checks and report (refusals logged as usual) but nothing is
    imported; the report adds ``csv_text``, the canonical enrollment the import would write,
    for the Data page's preview, which shows only counts made from it.
    """
    from .exports_reader import ExportReadError, Limits, open_export
    from .sites import SitesError

    limits = limits or Limits()
    today = today or dt.date.today()
    export_file = Path(export_file)
    name = export_file.name
    entry: dict[str, Any] = {"kind": "enrollment", "file": name, "sha256": None}
    if not paths.sites.is_file():
        exc = EnrollmentError(
            [f"{name}: the data dir {paths.root} has no sites.csv; import the registry first"],
            ["no_sites"],
        )
        _refuse(paths, entry, exc)
        raise exc
    try:
        data = _read_export_bytes(export_file, name, limits.max_bytes)
    except EnrollmentError as exc:
        _refuse(paths, entry, exc)
        raise
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    entry["bytes"] = len(data)
    with write_lock(paths):
        recover(paths)  # a killed import before this one: finish it first
        try:
            try:
                sites = _registry_sites(paths)
            except (SitesError, OSError, ValueError) as exc:
                raise EnrollmentError(
                    [f"{name}: cannot use the data dir's sites.csv: {exc}"], ["bad_sites"]
                ) from exc
            try:
                table = open_export(data, name, limits)
                result = validate_export(table, sites, today, limits.max_rows)
            except ExportReadError as exc:
                raise EnrollmentError(exc.errors, [exc.reason]) from exc
            entry["rows"] = result.rows
            if cutoff is not None and cutoff < result.latest_date:
                raise EnrollmentError(
                    rows=result.rows,
                    errors=[
                        f"{name}: --cutoff {cutoff.isoformat()} is earlier than the latest date in "
                        f"the file, {result.latest_date.isoformat()} ({result.latest_where.removeprefix(name + ': ')}); "
                        "the cut-off must be on or after every recorded date"
                    ],
                    reasons=["cutoff_too_early"],
                )
            if cutoff is not None and cutoff > today:
                raise EnrollmentError(
                    [f"{name}: --cutoff {cutoff.isoformat()} is in the future (today is {today})"],
                    ["cutoff_in_future"],
                    rows=result.rows,
                )
            try:
                meta = read_dataset_meta(paths)
            except (OSError, ValueError) as exc:
                raise EnrollmentError(
                    [f"{name}: cannot use the data dir's dataset.json: {exc}"], ["bad_dataset"]
                ) from exc
        except EnrollmentError as exc:
            _refuse(paths, entry, exc)
            raise
        # Everything is computed before the first write, so nothing can fail half-way
        # but the writes themselves.
        data_cutoff = cutoff or result.latest_date
        notices = [f"read as {table.description}", *result.notices]
        status_by_site = dict(zip(sites["site_id"], sites["status"], strict=True))
        not_recruiting = [s for s in result.site_ids if status_by_site.get(s) != "RECRUITING"]
        if not_recruiting:
            notices.append(
                "patients at site(s) not RECRUITING in the registry (it may be out of date): "
                + ", ".join(f"{s} ({status_by_site.get(s)})" for s in not_recruiting)
            )
        # sites.csv is the user's: never written here. The demo's made-up activation
        # dates live in their own file, which a real enrollment makes meaningless.
        drop_synthetic = paths.synthetic_activation.exists()
        if drop_synthetic:
            notices.append(
                f"removed {paths.synthetic_activation.name} (the demo's made-up activation "
                "dates); the activation dates typed in sites.csv are kept as they are"
            )
        if meta.get("activation_dates_synthetic"):
            notices.append(
                "dataset.json says an older demo wrote activation dates into sites.csv; they "
                "were kept (nothing typed there is ever cleared): check them"
            )
        if meta.get("synthetic"):
            notices.append("replaced the synthetic demo enrollment")
        meta.pop("note", None)
        meta.pop("activation_dates_synthetic", None)
        meta.update(
            {
                "synthetic": False,
                "data_cutoff": data_cutoff.isoformat(),
                "source": f"recruitment-dashboard import-enrollment {name}",
                "source_sha256": entry["sha256"],
                "imported_at": utc_now_iso(),
            }
        )
        if dry_run:
            return {**_report(result, data_cutoff, notices, entry), "csv_text": result.csv_text}
        _cleanup_stale_temp(paths)
        # Enrollment, dataset.json, the demo file's removal and the log entry commit together.
        files = {
            paths.enrollment: result.csv_text.encode("utf-8"),
            paths.dataset: dataset_meta_bytes(meta),
        }
        if drop_synthetic:
            entry["removed"] = [paths.synthetic_activation.name]
        commit(
            paths,
            files,
            {**entry, "result": "imported", "data_cutoff": data_cutoff.isoformat()},
            removals=(paths.synthetic_activation,) if drop_synthetic else (),
        )
    return _report(result, data_cutoff, notices, entry)


def _report(
    result: ValidatedEnrollment, data_cutoff: dt.date, notices: list[str], entry: dict[str, Any]
) -> dict[str, Any]:
    return {
        "rows": result.rows,
        "data_cutoff": data_cutoff.isoformat(),
        "notices": notices,
        "file": entry["file"],
        "sha256": entry["sha256"],
        "randomized": result.randomized,
        "screen_failed": result.screen_failed,
        "sites": len(result.site_ids),
    }


def _registry_sites(paths: DataPaths) -> pd.DataFrame:
    """site_id and status of sites.csv, read with the csv module.

    Why not :func:`dashboard.sites.load_sites`: it checks every row with pandas in a
    Python loop (about 0.3 s for 2,000 sites), which would dominate a big import. The two
    columns used here are checked the same way; anything unusual falls back to
    ``load_sites`` so that its located ``SitesError`` is what the user sees.
    """
    from .registry import LOCATION_STATUSES
    from .sites import load_sites

    text = paths.sites.read_text(encoding="utf-8-sig")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        rows = []
    header = rows[0] if rows else []
    if "site_id" in header and "status" in header:
        i_id, i_status = header.index("site_id"), header.index("status")
        body = [r for r in rows[1:] if r]
        if all(len(r) == len(header) for r in body):
            ids = [r[i_id] for r in body]
            statuses = [r[i_status] for r in body]
            if len(set(ids)) == len(ids) and set(statuses) <= set(LOCATION_STATUSES):
                return pd.DataFrame({"site_id": ids, "status": statuses}, dtype=object)
    return load_sites(paths)[["site_id", "status"]]


def _cleanup_stale_temp(paths: DataPaths) -> None:
    """Remove temp files a killed import left behind (we hold the lock: none is live)."""
    for tmp in paths.root.glob(f".{paths.enrollment.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


__all__ = [
    "ENROLLMENT_COLUMNS",
    "ENROLLMENT_STATUSES",
    "RANDOMIZED_STATUSES",
    "COLUMN_ALIASES",
    "STATUS_ALIASES",
    "EnrollmentError",
    "ValidatedEnrollment",
    "classify_header",
    "empty_enrollment",
    "enrollment_to_csv",
    "import_enrollment",
    "load_enrollment",
    "normalise_status",
    "parse_canonical_csv",
    "squash",
    "validate_export",
]
