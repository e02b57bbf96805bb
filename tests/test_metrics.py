"""Metrics against numbers counted by hand from a six-patient trial written out below."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dashboard import metrics
from dashboard.registry import Trial

D = pd.Timestamp
NaT = pd.NaT

# patient, site, screening, randomization, status
ROWS = [
    ("P1", "01", D("2023-03-01"), D("2023-03-10"), "RANDOMIZED"),
    ("P2", "01", D("2023-04-01"), NaT, "SCREEN_FAILED"),
    ("P3", "02", D("2023-05-01"), D("2023-05-20"), "WITHDRAWN"),
    ("P4", "02", D("2023-06-01"), D("2023-06-15"), "COMPLETED"),
    ("P5", "01", D("2023-06-10"), NaT, "SCREENING"),
    ("P6", "03", D("2023-06-12"), NaT, "SCREEN_FAILED"),
]


@pytest.fixture
def enrollment() -> pd.DataFrame:
    frame = pd.DataFrame(
        ROWS, columns=["patient_id", "site_id", "screening_date", "randomization_date", "status"]
    )
    frame["randomization_date"] = pd.to_datetime(frame["randomization_date"])
    return frame


@pytest.fixture
def sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": ["01", "02", "03", "04"],
            "facility": ["CHU A", "CHU B", "CHU C", "CHU D"],
            "city": ["Lille", "Caen", "Nice", "Paris"],
            "country": ["France"] * 4,
            "status": ["RECRUITING", "RECRUITING", "RECRUITING", "NOT_YET_RECRUITING"],
            "activation_date": pd.to_datetime(["2023-02-15", "2023-04-20", None, None]),
            "target": pd.array([2, None, None, None], dtype="Int64"),
        }
    )


@pytest.fixture
def trial() -> Trial:
    return Trial(
        nct_id="NCT00000000",
        title="Test trial",
        acronym=None,
        sponsor="Test sponsor",
        target=10,
        start_date=dt.date(2023, 3, 1),
        planned_completion_date=dt.date(2024, 6, 30),
        last_updated=None,
        overall_status="RECRUITING",
        treatment_days=360,
    )


def test_counts_at_two_dates(enrollment):
    c = metrics.counts(enrollment, "2023-05-31")
    assert (c.screened, c.screen_failed, c.randomized) == (3, 1, 2)
    c = metrics.counts(enrollment, dt.date(2023, 6, 30))
    assert (c.screened, c.screen_failed, c.randomized) == (6, 2, 3)
    assert c.screen_fail_percent == pytest.approx(100 * 2 / 6)


def test_withdrawn_and_completed_stay_randomized(enrollment):
    # P3 WITHDRAWN and P4 COMPLETED both count: 3 randomized, not 1.
    assert metrics.counts(enrollment, "2024-01-01").randomized == 3


def test_boundaries_are_inclusive(enrollment):
    assert metrics.counts(enrollment, "2023-03-09").randomized == 0
    assert metrics.counts(enrollment, "2023-03-10").randomized == 1


def test_site_table(sites, enrollment):
    t = metrics.site_table(sites, None, enrollment, "2023-06-30", dt.date(2023, 3, 1)).set_index(
        "site_id"
    )
    assert list(t.index) == ["01", "02", "03", "04"]
    assert t.loc["01", ["screened", "randomized"]].tolist() == [3, 1]
    assert t.loc["02", ["screened", "randomized"]].tolist() == [2, 2]
    assert t.loc["03", ["screened", "randomized"]].tolist() == [1, 0]
    assert t.loc["04", ["screened", "randomized"]].tolist() == [0, 0]
    assert t.loc["02", "first_randomization"] == D("2023-05-20")
    assert t.loc["02", "last_randomization"] == D("2023-06-15")
    assert t.loc["02", "share_of_randomized"] == pytest.approx(200 / 3)
    assert t.loc["02", "days_since_last_randomization"] == 15
    # 01 opened 2023-02-15, first patient 2023-03-10: 23 days.
    assert t.loc["01", "days_activation_to_first_randomization"] == 23
    # 02: 2 randomized over 71 days open (2023-04-20 → 2023-06-30).
    assert t.loc["02", "rate_per_month_since_activation"] == pytest.approx(2 / (71 / 30.4375))
    # 01 last randomized 2023-03-10, 112 days before as-of: none in last 90 days.
    assert t.loc["01", "flag"] == "None in last 90 days"
    assert t.loc["03", "flag"] == "Recruiting, none randomized"
    assert t.loc["04", "flag"] == ""  # not yet recruiting: not flagged
    assert t.loc["02", "flag"] == ""


def test_accrual_series(enrollment):
    s = metrics.accrual_series(enrollment, "2023-03-01", "2023-03-11")
    assert len(s) == 11
    assert s["randomized"].tolist() == [0] * 9 + [1, 1]
    assert s["screened"].tolist() == [1] * 11
    s = metrics.accrual_series(enrollment, "2023-03-01", "2023-06-30")
    assert s["randomized"].iloc[-1] == 3
    assert s["screened"].iloc[-1] == 6


def test_pace(trial, enrollment):
    p = metrics.pace(trial, enrollment, "2023-06-30")
    assert p.randomized == 3
    assert p.remaining == 7
    # P3 (05-20) and P4 (06-15) fall in the 90 days (2023-04-01, 2023-06-30].
    assert p.current_rate_per_month == pytest.approx(2 / (90 / 30.4375))
    assert p.days_to_completion == 366  # 2024 is a leap year
    assert p.required_rate_per_month == pytest.approx(7 / (366 / 30.4375))
    # LPI = 2024-06-30 − 360 d = 2023-07-06: 6 days left.
    assert p.days_to_last_patient_in == 6
    assert p.required_rate_lpi_per_month == pytest.approx(7 / (6 / 30.4375))


def test_pace_after_completion_has_no_finite_rate(trial, enrollment):
    p = metrics.pace(trial, enrollment, "2024-07-10")
    assert p.days_to_completion == -10
    assert p.required_rate_per_month is None


def test_pace_target_reached_needs_nothing(trial, enrollment):
    small = Trial(**{**trial.__dict__, "target": 2})
    p = metrics.pace(small, enrollment, "2023-06-30")
    assert p.remaining == 0
    assert p.required_rate_per_month == 0.0


def test_week_changes(sites, enrollment):
    w = metrics.week_changes(sites, enrollment, "2023-06-15")
    assert w.since == dt.date(2023, 6, 8)
    assert w.randomized == 1  # P4 on 06-15
    assert w.screened == 2  # P5 06-10, P6 06-12
    assert w.screen_failed == 1  # P6
    assert w.sites_enrolling == 0  # 01 and 02 already enrolling on 06-08
    assert [s.site_id for s in w.sites_randomizing_in_week] == ["02"]


def test_status_counts(sites):
    assert metrics.status_counts(sites) == {"RECRUITING": 3, "NOT_YET_RECRUITING": 1}


def test_summary_shape(trial, sites, enrollment):
    s = metrics.summary(trial, sites, None, enrollment, "2023-06-30", synthetic=False)
    assert s.randomized == 3
    assert s.percent_of_target == 30.0
    assert s.sites == metrics.SiteCounts(
        total=4, by_status={"RECRUITING": 3, "NOT_YET_RECRUITING": 1}, enrolling=2
    )
    assert [p.site_id for p in s.per_site] == ["01", "02", "03", "04"]
    assert s.per_site[1].first_randomization == dt.date(2023, 5, 20)
    assert s.per_site[3].first_randomization is None
    # The JSON the summary command prints: dates as ISO strings, the same keys.
    as_json = s.to_json()
    assert as_json["sites"] == {
        "total": 4,
        "by_status": {"RECRUITING": 3, "NOT_YET_RECRUITING": 1},
        "enrolling": 2,
    }
    assert as_json["per_site"][1]["first_randomization"] == "2023-05-20"
    assert as_json["per_site"][3]["first_randomization"] is None


def test_week_lists_status_changes_in_the_week(sites, enrollment):
    events = [
        {
            "date": "2023-06-09",
            "site_id": "04",
            "facility": "CHU D",
            "city": "Paris",
            "from": "NOT_YET_RECRUITING",
            "to": "RECRUITING",
        },
        {
            "date": "2023-06-08",
            "site_id": "03",
            "facility": "CHU C",
            "city": "Nice",
            "from": "RECRUITING",
            "to": "SUSPENDED",
        },
    ]
    w = metrics.week_changes(sites, enrollment, "2023-06-15", events)
    # (2023-06-08, 2023-06-15]: the 06-09 change is in, the 06-08 one is the week before.
    assert [e.site_id for e in w.status_changes_in_week] == ["04"]
