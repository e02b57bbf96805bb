"""Enrollment: what an EDC/IWRS file may say, and the canonical ``enrollment.csv``.

- :mod:`.vocabulary`: header spellings, refused headers (blinding, identifiers), statuses;
- :mod:`.edc_reader`: opening the EDC/IWRS file (encoding, separator, .xlsx, limits);
- :mod:`.checks`: the file checked whole, problems listed from message templates;
- :mod:`.canonical`: the canonical ``enrollment.csv`` reader and writer.

The import itself (a transaction over several files) is :func:`dashboard.imports.import_enrollment`.
"""

from .canonical import (
    ENROLLMENT_COLUMNS,
    ENROLLMENT_STATUSES,
    RANDOMIZED_STATUSES,
    EnrollmentError,
    empty_enrollment,
    enrollment_to_csv,
    load_enrollment,
    parse_canonical_csv,
)
from .checks import ValidatedEnrollment, validate_export
from .vocabulary import COLUMN_ALIASES, STATUS_ALIASES, classify_header, normalise_status, squash

__all__ = [
    "COLUMN_ALIASES",
    "ENROLLMENT_COLUMNS",
    "ENROLLMENT_STATUSES",
    "RANDOMIZED_STATUSES",
    "STATUS_ALIASES",
    "EnrollmentError",
    "ValidatedEnrollment",
    "classify_header",
    "empty_enrollment",
    "enrollment_to_csv",
    "load_enrollment",
    "normalise_status",
    "parse_canonical_csv",
    "squash",
    "validate_export",
]
