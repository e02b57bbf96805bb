"""Layout builders: the words and numbers of the header, alerts and KPI cards.

The small trial of tests/test_figures.py, counted by hand as of 2024-07-01:
- screened P1..P6 = 6, screen failures P3 = 1 (16.7 %), randomized P1 P2 P4 P5 = 4 (40.0 %);
- in the week since 2024-06-24: +1 randomized (P5), +1 screened (P6), +1 site with a
  randomization (site 04's first);
- sites: 3 recruiting of 4, 1 not yet recruiting, 3 have randomized ≥ 1;
- planned completion 2025-06-30 is 364 days away; last patient in = 2025-06-30 − 360 days
  = 2024-07-05, 4 days away;
- rate over the last 90 days: P4 and P5 = 2 in 90 days = 0.68/month → "0.7/month";
- needed for 6 more in 364 days: 0.50/month → on track; needed by 2024-07-05:
  45.66/month, 67.5× the current rate (6/4 × 90/2).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest
from dash._utils import to_json

from dashboard import layout as L
from dashboard.callbacks import highlighted_sites, parse_as_of, toggle
from tests.test_figures import small_trial_data

AS_OF = dt.date(2024, 7, 1)


def text_of(node: Any) -> str:
    """All text of a Dash component tree, space-separated."""
    if node is None:
        return ""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return " ".join(text_of(n) for n in node)
    return text_of(getattr(node, "children", None))


def find(node: Any, component_id: str) -> Any:
    if isinstance(node, list | tuple):
        for child in node:
            found = find(child, component_id)
            if found is not None:
                return found
        return None
    if getattr(node, "id", None) == component_id:
        return node
    children = getattr(node, "children", None)
    return None if children is None else find(children, component_id)


@pytest.fixture
def numbers_and_data():
    data = small_trial_data()
    return L.page_numbers(data, AS_OF), data


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_randomized_card(numbers_and_data):
    cards = L.kpi_cards(*numbers_and_data)
    assert text_of(find(cards, "kpi-randomized-value")) == "4"
    assert text_of(find(cards, "kpi-randomized-pct")) == "40.0 %"
    assert find(cards, "kpi-randomized-progress").value == 40.0
    assert "/ 10" in text_of(find(cards, "kpi-randomized"))
    assert text_of(find(cards, "kpi-randomized-delta")) == "+1 this week"


def test_screened_card(numbers_and_data):
    cards = L.kpi_cards(*numbers_and_data)
    assert text_of(find(cards, "kpi-screened-value")) == "6"
    assert text_of(find(cards, "kpi-screen-fail")) == "1 screen failures (16.7 %)"
    assert text_of(find(cards, "kpi-screened-delta")) == "+1 this week"


def test_sites_card(numbers_and_data):
    cards = L.kpi_cards(*numbers_and_data)
    card = _norm(text_of(find(cards, "kpi-sites")))
    assert text_of(find(cards, "kpi-sites-value")) == "3"
    assert "/ 4" in card
    assert "3 have randomized ≥ 1" in card
    assert "1 not yet recruiting" in card
    assert text_of(find(cards, "kpi-sites-delta")) == "+1 this week"


def test_completion_and_pace_cards(numbers_and_data):
    cards = L.kpi_cards(*numbers_and_data)
    assert text_of(find(cards, "kpi-days-value")) == "364 days left"
    assert text_of(find(cards, "kpi-rate-value")) == "0.7/month"
    assert _norm(text_of(find(cards, "kpi-pace-completion"))) == (
        "To reach 10 by 2025-06-30: 0.7/month now vs 0.5/month needed — on track"
    )
    assert _norm(text_of(find(cards, "kpi-pace-lpi"))) == (
        "For every patient to finish 360 days of treatment: "
        "0.7/month now vs 45.7/month needed — 67.5× behind"
    )


def test_after_the_last_patient_in_date():
    data = small_trial_data(data_cutoff="2024-08-15")
    cards = L.kpi_cards(L.page_numbers(data, dt.date(2024, 8, 15)), data)
    # P7 randomized 2024-08-10: 5 of 10.
    assert text_of(find(cards, "kpi-randomized-value")) == "5"
    assert _norm(text_of(find(cards, "kpi-pace-lpi"))).endswith(
        "last-patient-in date passed on 2024-07-05"
    )


def test_past_planned_completion():
    data = small_trial_data(data_cutoff="2025-07-10")
    cards = L.kpi_cards(L.page_numbers(data, dt.date(2025, 7, 10)), data)
    assert text_of(find(cards, "kpi-days-value")) == "10 days past"
    assert "no time left" in text_of(find(cards, "kpi-pace-completion"))


@pytest.mark.parametrize(
    ("delta", "text"), [(0, "no change this week"), (1, "+1 this week"), (-2, "−2 this week")]
)
def test_week_delta_text(delta, text):
    assert L.week_delta_text(delta) == text


@pytest.mark.parametrize(
    ("current", "required", "sentence", "tone"),
    [
        (2.0291, 6.6962, "2.0/month now vs 6.7/month needed — 3.3× behind", "danger"),
        (1.0, 1.1, "1.0/month now vs 1.1/month needed — 1.1× behind", "warning"),
        (3.0, 2.0, "3.0/month now vs 2.0/month needed — on track", "success"),
        (
            0.0,
            2.0,
            "0.0/month now vs 2.0/month needed — no randomization in the last 90 days",
            "danger",
        ),
        (1.0, 0.0, "target reached", "success"),
        (1.0, None, "no time left: the date has passed", "danger"),
    ],
)
def test_pace_comparison(current, required, sentence, tone):
    assert L.pace_comparison(current, required) == (sentence, tone)


def test_header_names_the_trial_and_links_the_registry():
    data = small_trial_data()
    head = L.header(data, AS_OF, dt.date(2025, 6, 30))
    text = _norm(text_of(head))
    assert "TEST" in text and "A small test trial" in text
    assert "Sponsor: Test Sponsor" in text
    assert "Data cut-off 2024-07-01" in text and "Counts as of 2024-07-01" in text
    link = find(head, "nct-link")
    assert link.href == "https://clinicaltrials.gov/study/NCT00000001"
    assert find(head, "synthetic-badge") is None
    picker = find(head, L.AS_OF)
    assert picker.date == "2024-07-01" and picker.min_date_allowed == "2024-01-01"


def test_synthetic_data_is_badged_and_announced():
    data = small_trial_data(synthetic=True)
    head = L.header(data, AS_OF, dt.date(2025, 6, 30))
    assert text_of(find(head, "synthetic-badge")) == "DEMO · SYNTHETIC DATA"
    alerts = L.alerts(data, (), AS_OF)
    assert any(getattr(a, "id", None) == "synthetic-alert" for a in alerts)


def test_stale_cutoff_warning_after_14_days():
    data = small_trial_data(data_cutoff="2024-06-01")
    assert not [a for a in L.alerts(data, (), dt.date(2024, 6, 15)) if a.id == "stale-cutoff"]
    stale = [a for a in L.alerts(data, (), AS_OF) if a.id == "stale-cutoff"]
    assert len(stale) == 1
    assert "Data cut-off 2024-06-01 is 30 days before the as-of date." in text_of(stale[0])


def test_store_errors_are_shown():
    data = small_trial_data()
    alerts = L.alerts(data, ("enrollment.csv: line 3, column status: unknown",), AS_OF)
    shown = [a for a in alerts if a.id == "store-errors"]
    assert len(shown) == 1 and "line 3, column status" in text_of(shown[0])


def test_grid_rows_are_aggregates_only(numbers_and_data):
    numbers, _ = numbers_and_data
    rows = L.grid_rows(numbers.table, highlighted={"04"}, selected={"04"})
    assert [r["site_id"] for r in rows] == ["01", "02", "03", "04"]
    by_id = {r["site_id"]: r for r in rows}
    assert by_id["01"]["randomized"] == 2 and by_id["01"]["screened"] == 2
    assert by_id["01"]["share"] == 50.0
    assert by_id["02"]["flag"] == ""
    assert by_id["03"]["status"] == "Not yet recruiting"
    assert by_id["04"]["selected"] is True and by_id["01"]["dimmed"] is True
    assert all("patient_id" not in r for r in rows)
    assert "P1" not in repr(rows)


def test_page_layout_holds_no_patient_level_data():
    data = small_trial_data()
    page = L.page(data, AS_OF)
    text = to_json(page.to_plotly_json())
    assert "patient_id" not in text
    for patient in ("P1", "P2", "P3", "P4", "P5", "P6", "P7"):
        assert f'"{patient}"' not in text
    assert json.loads(text)


def test_numbers_cache_reuses_and_separates_versions():
    data = small_trial_data()
    cache = L.NumbersCache(size=2)
    first = cache.get(data, AS_OF)
    assert cache.get(data, "2024-07-01") is first
    other = small_trial_data()  # same version string, another object: not shared
    assert cache.get(other, AS_OF) is not first


def test_selection_helpers():
    data = small_trial_data()
    table = L.page_numbers(data, AS_OF).table
    assert highlighted_sites(table, [], []) is None
    assert highlighted_sites(table, ["NOT_YET_RECRUITING"], None) == {"03"}
    assert highlighted_sites(table, ["RECRUITING"], ["01", "03"]) == {"01"}
    assert toggle(["02"], "01") == ["01", "02"]
    assert toggle(["01", "02"], "01") == ["02"]
    assert parse_as_of("?as_of=2024-06-30") == dt.date(2024, 6, 30)
    assert parse_as_of("?as_of=junk") is None and parse_as_of("") is None


def test_error_page_when_the_data_dir_never_loaded(tmp_path):
    from dashboard.store import DataStore

    page = L.serve_layout(DataStore(tmp_path / "missing"))
    assert find(page, "load-error") is not None


def test_grid_rows_hold_plain_values():
    data = small_trial_data()
    rows = L.grid_rows(L.page_numbers(data, AS_OF).table)
    for row in rows:
        for value in row.values():
            assert not isinstance(value, pd.Timestamp)
