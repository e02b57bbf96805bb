"""The one wording of date warnings (dashboard.asof), at its boundaries."""

from __future__ import annotations

import datetime as dt

from dashboard.dates import Deadline, as_of_warnings

D = dt.date
START, CUTOFF = D(2024, 1, 1), D(2024, 6, 30)


def test_nothing_to_say_from_the_start_to_14_days_after_the_cut_off():
    for as_of in (START, CUTOFF, CUTOFF + dt.timedelta(days=14)):
        assert as_of_warnings(START, CUTOFF, as_of) == []


def test_before_the_start_and_15_days_after_the_cut_off():
    (before,) = as_of_warnings(START, CUTOFF, D(2023, 12, 31))
    assert before == (
        "The as-of date 2023-12-31 is before the trial start 2024-01-01: nothing is counted yet."
    )
    (stale,) = as_of_warnings(START, CUTOFF, D(2024, 7, 15))
    assert stale.startswith("Data cut-off 2024-06-30 is 15 days before the as-of date 2024-07-15")
    assert "unknown, not zero" in stale
    assert as_of_warnings(START, None, D(2030, 1, 1)) == []  # no cut-off known: no claim


def test_a_deadline_is_past_only_strictly_before_the_as_of():
    deadlines = [Deadline("--by date", CUTOFF), Deadline("--by date", D(2024, 6, 1))]
    assert as_of_warnings(START, CUTOFF, CUTOFF, deadlines) == [
        "The --by date 2024-06-01 is already past at the as-of date 2024-06-30."
    ]
    # The same date asked twice is said once.
    twice = [Deadline("--by date", D(2024, 6, 1)), Deadline("last-patient-in date", D(2024, 6, 1))]
    assert len(as_of_warnings(START, CUTOFF, CUTOFF, twice)) == 1
