"""The charts' text alternatives, against hand-written tables (real data first: no
activation dates, no geocode, a site with no name)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.page.chart_text import activation_summary, bars_summary, map_summary

AS_OF = dt.date(2025, 6, 30)


def _table(rows: list[dict]) -> pd.DataFrame:
    base = {
        "facility": "CHU X",
        "city": "Lyon",
        "status": "RECRUITING",
        "randomized": 0,
        "lat": 45.7,
        "lon": 4.8,
        "activation_date": pd.NaT,
        "days_activation_to_first_randomization": float("nan"),
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_activation_without_any_date_says_so():
    table = _table(
        [
            {"site_id": "01", "randomized": 2},
            {"site_id": "02"},
            {"site_id": "03", "status": "NOT_YET_RECRUITING"},
        ]
    )
    assert activation_summary(table, AS_OF) == (
        "Activation: 0 of 3 sites activated by 2025-06-30 (3 without an activation date); "
        "1 has randomized a first patient; 0 activated sites still waiting for a first patient."
    )


def test_activation_counts_later_and_waiting_sites_and_the_median_lag():
    table = _table(
        [
            # 40 and 100 days from activation to first patient: median 70.
            {"site_id": "01", "randomized": 3, "activation_date": pd.Timestamp("2024-01-01"),
             "days_activation_to_first_randomization": 40.0},
            {"site_id": "02", "randomized": 1, "activation_date": pd.Timestamp("2024-02-01"),
             "days_activation_to_first_randomization": 100.0},
            {"site_id": "03", "activation_date": pd.Timestamp("2025-01-01")},  # waiting
            {"site_id": "04", "activation_date": pd.Timestamp("2025-09-01")},  # after as-of
        ]
    )  # fmt: skip
    assert activation_summary(table, AS_OF) == (
        "Activation: 3 of 4 sites activated by 2025-06-30 (1 later); 2 have randomized a "
        "first patient, a median 70 days after activation; 1 activated site still waiting "
        "for a first patient."
    )


def test_map_and_bars_in_words():
    table = _table(
        [
            {"site_id": "01", "randomized": 3, "facility": "CHU Lyon"},
            {"site_id": "02", "randomized": 3, "facility": "", "city": "Paris"},
            {"site_id": "03", "randomized": 1, "lat": None, "city": "Paris"},
            {"site_id": "04", "status": "NOT_YET_RECRUITING", "city": None},
        ]
    )
    assert map_summary(table) == (
        "Map: 4 sites in 2 cities; status: 3 Recruiting, 1 Not yet recruiting; 3 with at "
        "least one randomized patient, 1 none yet (hollow markers); 1 site without a "
        "location not drawn."
    )
    # Ties in order of site id; a site without a name is its id.
    assert bars_summary(table, top=2) == (
        "Randomized per site: 7 randomized at 3 of 4 sites; most: site 01 CHU Lyon (3), site 02 (3)."
    )
    assert map_summary(table.iloc[0:0]) == "Map: no site in the registry record."
