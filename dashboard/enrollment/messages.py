"""The texts of every refusal of an EDC/IWRS file, as templates.

Kept apart from :mod:`.checks` so that the wording a user reads can be reviewed in one
place. :mod:`.checks` formats them only for the rows that get listed.
"""

from __future__ import annotations

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
