"""Counts from the sorted dates of :mod:`dashboard.cumulative` against the plain pandas
filter they replace, on generated enrollments: dates before the start and after the
cut-off, missing dates, sites without activation dates or patients, patients at site ids
the sites file does not list."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import metrics
from dashboard.cumulative import build_index
from dashboard.site_counts import (
    MONTH_DAYS,
    REGISTRY_LAG_STATUSES,
    _per_site_by_filtering,
    _site_table,
)

START = dt.date(2023, 1, 1)
STATUSES = ["RANDOMIZED", "SCREEN_FAILED", "SCREENING", "WITHDRAWN", "COMPLETED"]
SITE_STATUSES = ["RECRUITING", "NOT_YET_RECRUITING", "COMPLETED", "WITHDRAWN", "SUSPENDED"]

#: Days around the trial: before the start, during, long after any cut-off.
day = st.integers(min_value=-60, max_value=500)
maybe_day = st.one_of(st.none(), day)


def _date(offset: int | None) -> pd.Timestamp | None:
    return None if offset is None else pd.Timestamp(START + dt.timedelta(days=offset))


@st.composite
def trials(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n_sites = draw(st.integers(min_value=1, max_value=7))
    ids = [f"{i + 1:02d}" for i in range(n_sites)]
    sites = pd.DataFrame(
        {
            "site_id": ids,
            "facility": [f"Hôpital {i}" for i in ids],
            "city": [draw(st.sampled_from(["Paris", "Lyon", "Nice"])) for _ in ids],
            "country": ["France"] * n_sites,
            "status": [draw(st.sampled_from(SITE_STATUSES)) for _ in ids],
            "activation_date": pd.to_datetime([_date(draw(maybe_day)) for _ in ids]),
            "target": pd.array([draw(st.one_of(st.none(), st.integers(1, 9))) for _ in ids])
            if draw(st.booleans())
            else pd.array([None] * n_sites, dtype="Int64"),
        }
    )
    rows = []
    for k in range(draw(st.integers(min_value=0, max_value=40))):
        # Unknown site ids ("99") happen in real exports before the sites file catches up.
        site = draw(st.sampled_from([*ids, "99"]))
        screening = draw(maybe_day)
        randomization = draw(maybe_day)
        rows.append(
            (f"P{k}", site, _date(screening), _date(randomization), draw(st.sampled_from(STATUSES)))
        )
    enrollment = pd.DataFrame(
        rows, columns=["patient_id", "site_id", "screening_date", "randomization_date", "status"]
    )
    for column in ("screening_date", "randomization_date"):
        enrollment[column] = pd.to_datetime(enrollment[column])
    located = draw(st.lists(st.sampled_from(ids), unique=True))
    geocodes = pd.DataFrame(
        {
            "site_id": located,
            "lat": [45.0 + i for i, _ in enumerate(located)],
            "lon": [2.0 + i for i, _ in enumerate(located)],
            "precision": ["city"] * len(located),
        }
    )
    return sites, geocodes, enrollment


def _pandas_site_table(
    sites: pd.DataFrame,
    geocodes: pd.DataFrame | None,
    by_site: pd.DataFrame,
    cut: pd.Timestamp,
    trial_start: dt.date | None,
) -> pd.DataFrame:
    """The site table as metrics computed it column by column in pandas (the reference)."""
    table = sites.set_index("site_id").join(by_site, how="left")
    for col in ("screened", "screen_failed", "randomized", "randomized_last_90_days"):
        table[col] = table[col].fillna(0).astype(int)
    if geocodes is not None and len(geocodes):
        geo = geocodes.set_index("site_id")[["lat", "lon", "precision"]].rename(
            columns={"precision": "geocode_precision"}
        )
        table = table.join(geo, how="left")
    else:
        table["lat"] = np.nan
        table["lon"] = np.nan
        table["geocode_precision"] = None
    total = int(table["randomized"].sum())
    table["share_of_randomized"] = (
        100.0 * table["randomized"] / total if total else pd.Series(0.0, index=table.index)
    )
    table["days_since_last_randomization"] = (cut - table["last_randomization"]).dt.days
    opened = table["activation_date"]
    if trial_start is not None:
        opened = opened.fillna(pd.Timestamp(trial_start))
    days_open = (cut - opened).dt.days
    months_open = days_open.where(days_open > 0) / MONTH_DAYS
    table["days_open"] = days_open.where(days_open >= 0)
    table["rate_per_month_since_activation"] = (table["randomized"] / months_open).where(
        opened <= cut
    )
    table["days_activation_to_first_randomization"] = (
        table["first_randomization"] - table["activation_date"]
    ).dt.days
    recruiting = table["status"] == "RECRUITING"
    table["no_randomization"] = recruiting & (table["randomized"] == 0)
    table["none_last_90_days"] = (
        recruiting & (table["randomized"] > 0) & (table["randomized_last_90_days"] == 0)
    )
    # Data inconsistencies the reader must see rather than have hidden: an activation
    # date after the site's first randomization (a typo, or the wrong date entered), and
    # patients at a site the registry does not call RECRUITING (the registry lags).
    table["activation_after_first_randomization"] = (
        table["activation_date"].notna()
        & table["first_randomization"].notna()
        & (table["activation_date"] > table["first_randomization"])
    )
    table["patients_at_non_recruiting_site"] = (table["status"].isin(REGISTRY_LAG_STATUSES)) & (
        table["screened"] > 0
    )
    activity = np.select(
        [table["no_randomization"], table["none_last_90_days"]],
        ["Recruiting, none randomized", "None in last 90 days"],
        default="",
    )
    inconsistent = np.where(
        table["activation_after_first_randomization"],
        "Data: activation date after first randomization",
        "",
    )
    lagging = np.where(
        table["patients_at_non_recruiting_site"],
        [f"Patients, but registry says {s.replace('_', ' ').lower()}" for s in table["status"]],
        "",
    )
    table["flag"] = [
        "; ".join(part for part in parts if part)
        for parts in zip(activity, inconsistent, lagging, strict=True)
    ]
    return table.reset_index()


def _filtered_table(sites, geocodes, enrollment, as_of: dt.date, start=START) -> pd.DataFrame:
    cut = pd.Timestamp(as_of)
    by_site = _per_site_by_filtering(enrollment, cut)
    return _pandas_site_table(sites, geocodes, by_site, cut, start)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trial=trials(), offset=day, start=st.sampled_from([START, None]))
def test_counts_from_sorted_dates_equal_the_pandas_filter(trial, offset, start):
    sites, geocodes, enrollment = trial
    as_of = START + dt.timedelta(days=offset)
    index = build_index(sites, enrollment)
    assert index is not None
    expected = _filtered_table(sites, geocodes, enrollment, as_of, start)
    fast = metrics.site_table(sites, geocodes, enrollment, as_of, start, index)
    pd.testing.assert_frame_equal(fast, expected)
    cut = pd.Timestamp(as_of)  # the frames the index cannot take: filtered, then the same
    filtered = _site_table(sites, geocodes, _per_site_by_filtering(enrollment, cut), cut, start)
    pd.testing.assert_frame_equal(filtered, expected)
    assert metrics.counts(enrollment, as_of, index) == metrics.counts(enrollment, as_of)
    pd.testing.assert_frame_equal(
        metrics.accrual_series(enrollment, START, as_of, index),
        metrics.accrual_series(enrollment, START, as_of),
    )
    assert metrics.week_changes(sites, enrollment, as_of, (), index) == metrics.week_changes(
        sites, enrollment, as_of
    )
    assert metrics.status_counts(sites, index) == metrics.status_counts(sites)


def test_per_site_counts_by_hand():
    """Three patients at one site, counted by hand at four dates (inclusive bounds)."""
    sites = pd.DataFrame({"site_id": ["01", "02"]})
    enrollment = pd.DataFrame(
        {
            "site_id": ["01", "01", "01", "02"],
            "screening_date": pd.to_datetime(["2024-01-01", "2024-01-05", None, "2024-02-01"]),
            "randomization_date": pd.to_datetime(["2024-01-03", None, "2024-01-10", None]),
            "status": ["RANDOMIZED", "SCREEN_FAILED", "RANDOMIZED", "SCREEN_FAILED"],
        }
    )
    index = build_index(sites, enrollment)
    assert index is not None
    for day_text, screened, failed, randomized in (
        ("2023-12-31", [0, 0], [0, 0], [0, 0]),
        ("2024-01-03", [1, 0], [0, 0], [1, 0]),
        ("2024-01-10", [2, 0], [1, 0], [2, 0]),
        ("2024-02-01", [2, 1], [1, 1], [2, 0]),
    ):
        cut = pd.Timestamp(day_text).value
        assert index.per_site(index.screened, cut).tolist() == screened
        assert index.per_site(index.screen_failed, cut).tolist() == failed
        assert index.per_site(index.randomized, cut).tolist() == randomized


def test_frames_the_index_cannot_reproduce_are_counted_by_filtering():
    sites = pd.DataFrame({"site_id": ["01"]})
    with_time = pd.DataFrame(
        {
            "site_id": ["01"],
            "screening_date": pd.to_datetime(["2024-01-01 10:30"]),
            "randomization_date": pd.to_datetime([None]),
            "status": ["SCREENING"],
        }
    )
    assert build_index(sites, with_time) is None
    assert build_index(pd.DataFrame({"site_id": ["01", "01"]}), with_time.head(0)) is None
    sites = sites.assign(
        facility="A", city="Lyon", status="RECRUITING", activation_date=pd.NaT, target=None
    )
    table = metrics.site_table(sites, None, with_time, "2024-01-02", START)
    assert table["screened"].tolist() == [1]
