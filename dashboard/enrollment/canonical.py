"""The canonical ``enrollment.csv``: its columns, statuses, reader and text writer.

Canonical columns: patient_id (pseudonymised code), site_id (registry id string),
screening_date, randomization_date (ISO, blank when not randomized), status.
Nothing that could unblind (arm, kit, group...) is ever read into this frame.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pandas as pd

from ..datadir import DataPaths

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
