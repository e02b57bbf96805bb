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

import dataclasses
import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest
from dash._utils import to_json

from dashboard import forecast as fc
from dashboard import metrics
from dashboard.bind_guard import own_base_url
from dashboard.dates import parse_as_of
from dashboard.page import ids, view_model, wording
from dashboard.page import layout as page_layout
from dashboard.page.callbacks import highlighted_sites, toggle
from dashboard.page.components import alerts as alerts_module
from dashboard.page.components import charts, forecast_cards, grid, kpi_cards, week_card
from dashboard.page.components import header as header_module
from dashboard.page.downloads import basic_credentials
from tests.helpers import small_trial_data

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
    return view_model.page_numbers(data, AS_OF), data


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_randomized_card(numbers_and_data):
    cards = kpi_cards.kpi_cards(*numbers_and_data)
    assert text_of(find(cards, "kpi-randomized-value")) == "4"
    assert text_of(find(cards, "kpi-randomized-pct")) == "40.0 %"
    bar = find(cards, "kpi-randomized-progress")
    assert getattr(bar, "aria-valuenow") == "40" and bar.role == "progressbar"
    assert getattr(bar, "aria-label") == "Randomized: 40.0 % of the target of 10"
    assert "/ 10" in text_of(find(cards, "kpi-randomized"))
    assert text_of(find(cards, "kpi-randomized-delta")) == "+1 this week"


def test_screened_card(numbers_and_data):
    cards = kpi_cards.kpi_cards(*numbers_and_data)
    assert text_of(find(cards, "kpi-screened-value")) == "6"
    assert text_of(find(cards, "kpi-screen-fail")) == "1 screen failures (16.7 %)"
    assert text_of(find(cards, "kpi-screened-delta")) == "+1 this week"


def test_sites_card(numbers_and_data):
    cards = kpi_cards.kpi_cards(*numbers_and_data)
    card = _norm(text_of(find(cards, "kpi-sites")))
    assert text_of(find(cards, "kpi-sites-value")) == "3"
    assert "/ 4" in card
    assert "3 have randomized ≥ 1" in card
    assert "1 not yet recruiting" in card
    # Not "+1 this week": the count is of sites whose first randomization fell in the week.
    assert text_of(find(cards, "kpi-sites-delta")) == "+1 site enrolling this week"


def test_completion_and_pace_cards(numbers_and_data):
    cards = kpi_cards.kpi_cards(*numbers_and_data)
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
    cards = kpi_cards.kpi_cards(view_model.page_numbers(data, dt.date(2024, 8, 15)), data)
    # P7 randomized 2024-08-10: 5 of 10.
    assert text_of(find(cards, "kpi-randomized-value")) == "5"
    assert _norm(text_of(find(cards, "kpi-pace-lpi"))).endswith(
        "last-patient-in date passed on 2024-07-05"
    )


def test_past_planned_completion():
    data = small_trial_data(data_cutoff="2025-07-10")
    cards = kpi_cards.kpi_cards(view_model.page_numbers(data, dt.date(2025, 7, 10)), data)
    assert text_of(find(cards, "kpi-days-value")) == "10 days past"
    assert "no time left" in text_of(find(cards, "kpi-pace-completion"))


@pytest.mark.parametrize(
    ("delta", "text"), [(0, "no change this week"), (1, "+1 this week"), (-2, "−2 this week")]
)
def test_week_delta_text(delta, text):
    assert wording.week_delta_text(delta) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0, "no new site enrolling this week"),
        (1, "+1 site enrolling this week"),
        (3, "+3 sites enrolling this week"),
    ],
)
def test_sites_delta_text(delta, text):
    assert wording.sites_delta_text(delta) == text


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
    assert wording.pace_comparison(current, required) == (sentence, tone)


def test_header_names_the_trial_and_links_the_registry():
    data = small_trial_data()
    head = header_module.header(data, AS_OF, dt.date(2025, 6, 30))
    text = _norm(text_of(head))
    assert "TEST" in text and "A small test trial" in text
    assert "Sponsor: Test Sponsor" in text
    assert "Data cut-off 2024-07-01" in text and "Counts as of 2024-07-01" in text
    link = find(head, "nct-link")
    assert link.href == "https://clinicaltrials.gov/study/NCT00000001"
    assert find(head, "synthetic-badge") is None
    picker = find(head, ids.AS_OF)
    assert picker.value == "2024-07-01" and picker.min == "2024-01-01"
    assert picker.type == "date"  # native: keyboard and screen readers, no widget


def test_synthetic_data_is_badged_and_announced():
    data = small_trial_data(synthetic=True)
    head = header_module.header(data, AS_OF, dt.date(2025, 6, 30))
    assert text_of(find(head, "synthetic-badge")) == "DEMO · SYNTHETIC DATA"
    alerts = alerts_module.alerts(data, (), AS_OF)
    assert any(getattr(a, "id", None) == "synthetic-alert" for a in alerts)


def test_stale_cutoff_warning_after_14_days():
    data = small_trial_data(data_cutoff="2024-06-01")
    assert not [
        a for a in alerts_module.alerts(data, (), dt.date(2024, 6, 15)) if a.id == "stale-cutoff"
    ]
    stale = [a for a in alerts_module.alerts(data, (), AS_OF) if a.id == "stale-cutoff"]
    assert len(stale) == 1
    assert "Data cut-off 2024-06-01 is 30 days before the as-of date 2024-07-01" in text_of(
        stale[0]
    )
    assert "unknown, not zero" in text_of(stale[0])


def test_store_errors_are_shown():
    data = small_trial_data()
    alerts = alerts_module.alerts(data, ("enrollment.csv: line 3, column status: unknown",), AS_OF)
    shown = [a for a in alerts if a.id == "store-errors"]
    assert len(shown) == 1 and "line 3, column status" in text_of(shown[0])


def test_grid_rows_are_aggregates_only(numbers_and_data):
    numbers, _ = numbers_and_data
    rows = grid.grid_rows(numbers.table, highlighted={"04"}, selected={"04"})
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
    page = page_layout.page(data, AS_OF)
    text = to_json(page.to_plotly_json())
    assert "patient_id" not in text
    for patient in ("P1", "P2", "P3", "P4", "P5", "P6", "P7"):
        assert f'"{patient}"' not in text
    assert json.loads(text)


def test_numbers_cache_reuses_and_separates_versions():
    data = small_trial_data()
    cache = view_model.NumbersCache(size=2)
    first = cache.get(data, AS_OF)
    assert cache.get(data, "2024-07-01") is first
    other = small_trial_data()  # same version string, another object: not shared
    assert cache.get(other, AS_OF) is not first


def test_selection_helpers():
    data = small_trial_data()
    table = view_model.page_numbers(data, AS_OF).table
    assert highlighted_sites(table, [], []) is None
    assert highlighted_sites(table, ["NOT_YET_RECRUITING"], None) == {"03"}
    assert highlighted_sites(table, ["RECRUITING"], ["01", "03"]) == {"01"}
    assert toggle(["02"], "01") == ["01", "02"]
    assert toggle(["01", "02"], "01") == ["02"]
    assert parse_as_of("?as_of=2024-06-30") == dt.date(2024, 6, 30)
    assert parse_as_of("?as_of=junk") is None and parse_as_of("") is None


def test_error_page_when_the_data_dir_never_loaded(tmp_path):
    from dashboard.store import DataStore

    page = page_layout.serve_layout(DataStore(tmp_path / "missing"))
    assert find(page, "load-error") is not None


def test_grid_rows_hold_plain_values():
    data = small_trial_data()
    rows = grid.grid_rows(view_model.page_numbers(data, AS_OF).table)
    for row in rows:
        for value in row.values():
            assert not isinstance(value, pd.Timestamp)


# ----------------------------------------------------------------------------- forecast cards
#: A hand-built ``dashboard.forecast.forecast`` result for the small trial (target 10,
#: planned completion 2025-06-30), as of 2024-07-01 with 4 randomized. Only the keys the
#: cards read; every value is a literal so each sentence below can be checked by eye.
def forecast_result(**overrides: Any) -> fc.Forecast:
    pg = {
        "reason": None,
        "alpha": 1.2,
        "paths": 10_000,
        "parameter_uncertainty": True,
        "sites_used": 3,
        "sites_planned": [{"site_id": "03", "activation_date": "2024-09-01"}],
        "median_target_date": "2025-10-26",
        "interval_80": ["2025-07-21", "2026-03-04"],
        "interval_95": ["2025-06-10", "2026-05-30"],
        "probability_by": {"2024-07-05": 0.0, "2025-06-30": 0.3718},
        "expected_by": {
            "2024-07-05": {"mean": 4.0, "lo80": 4, "hi80": 4},
            "2025-06-30": {"mean": 8.61, "lo80": 7, "hi80": 10},
        },
        "additional_sites_needed": 3,
        "additional_sites_reason": "sites opening now at the prior mean rate, for P ≥ 80%",
        "chart": {
            "dates": ["2024-07-01", "2024-07-08"],
            "median": [4, 4],
            "lo80": [4, 4],
            "hi80": [4, 5],
            "lo95": [4, 4],
            "hi95": [4, 6],
        },
    }
    result = {
        "as_of": "2024-07-01",
        "target": 10,
        "randomized": 4,
        "remaining": 6,
        "target_reached_date": None,
        "linear": {"predicted_target_date": "2025-09-14", "reason": None},
        "poisson_gamma": pg,
    }
    for key, value in overrides.items():
        if key in pg and key not in result:
            pg[key] = value
        else:
            result[key] = value
    return _typed_forecast(result)


def _day(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _typed_forecast(result: dict[str, Any]) -> fc.Forecast:
    """The typed forecast of the literal values above (ISO text → dates)."""
    pg, lin = result["poisson_gamma"], result["linear"]
    chart = pg["chart"]
    return fc.Forecast(
        as_of=dt.date.fromisoformat(result["as_of"]),
        target=result["target"],
        randomized=result["randomized"],
        remaining=result["remaining"],
        target_reached_date=_day(result["target_reached_date"]),
        planned_completion_date=dt.date(2025, 6, 30),
        last_patient_in_date=None,
        linear=fc.LinearForecast(
            slope_per_day=None,
            predicted_target_date=_day(lin["predicted_target_date"]),
            reason=lin["reason"],
            points=0,
            reached=lin.get("reached", False),
        ),
        poisson_gamma=fc.PoissonGammaForecast(
            reason=pg["reason"],
            alpha=pg["alpha"],
            paths=pg["paths"],
            parameter_uncertainty=pg["parameter_uncertainty"],
            sites_used=pg["sites_used"],
            sites_planned=tuple(
                fc.PlannedSite(s["site_id"], dt.date.fromisoformat(s["activation_date"]))
                for s in pg["sites_planned"]
            ),
            median_target_date=_day(pg["median_target_date"]),
            interval_80=(_day(pg["interval_80"][0]), _day(pg["interval_80"][1])),
            interval_95=(_day(pg["interval_95"][0]), _day(pg["interval_95"][1])),
            probability_by={dt.date.fromisoformat(d): p for d, p in pg["probability_by"].items()},
            expected_by={
                dt.date.fromisoformat(d): None if e is None else fc.ExpectedCount(**e)
                for d, e in pg["expected_by"].items()
            },
            additional_sites_needed=pg["additional_sites_needed"],
            additional_sites_reason=pg["additional_sites_reason"],
            chart=fc.ChartPaths(
                dates=tuple(dt.date.fromisoformat(d) for d in chart["dates"]),
                **{k: tuple(v) for k, v in chart.items() if k != "dates"},
            ),
        ),
        sites_left_out=fc.SitesLeftOut(),
        notes=(),
    )


def _cards(result, error=None) -> tuple[str, str]:
    trial = small_trial_data().trial
    probability = _norm(text_of(forecast_cards.forecast_probability_card(result, trial, error)))
    date = _norm(text_of(forecast_cards.forecast_date_card(result, trial, error)))
    for text in (probability, date):
        assert "None" not in text and "nan" not in text.lower() and "inf" not in text.lower()
    return probability, date


def test_forecast_cards_word_probability_expected_count_and_dates():
    probability, date = _cards(forecast_result())
    assert probability == (
        "P(10 by 2025-06-30) 37 % expected 9 (7–10) by then "
        "≈3 more sites (opening after a lag) would be needed for 80 %"
    )
    assert date == (
        "Expected date for 10 (80 % interval) 2025-10-26 80 %: 2025-07-21 – 2026-03-04 "
        "≈4 months after planned completion linear trend: 2025-09-14"
    )


def test_forecast_card_tones_follow_the_probability_and_the_plan():
    trial = small_trial_data().trial

    def value_class(card) -> str:
        return card.children.children[1].className  # CardBody: title, value, details...

    assert value_class(forecast_cards.forecast_probability_card(forecast_result(), trial)) == (
        "kpi-value text-danger"
    )
    assert (
        value_class(forecast_cards.forecast_date_card(forecast_result(), trial))
        == "kpi-value text-danger"
    )
    on_time = forecast_result(probability_by={"2025-06-30": 0.91}, median_target_date="2025-05-02")
    probability, date = _cards(on_time)
    assert "91 %" in probability
    assert "≈2 months before planned completion" in date
    assert (
        value_class(forecast_cards.forecast_date_card(on_time, trial)) == "kpi-value text-success"
    )
    assert wording.probability_tone(0.91) == "success"
    assert wording.probability_tone(0.6) == "warning"
    assert wording.probability_tone(0.3718) == "danger"
    assert wording.probability_tone(None) is None


def test_forecast_cards_when_the_target_is_reached():
    reached = forecast_result(
        randomized=11,
        remaining=0,
        target_reached_date="2025-03-02",
        probability_by={"2025-06-30": 1.0},
        expected_by={"2025-06-30": {"mean": 11.0, "lo80": 11, "hi80": 11}},
        median_target_date="2025-03-02",
        interval_80=["2025-03-02", "2025-03-02"],
        additional_sites_needed=0,
        additional_sites_reason="target already reached",
        linear={"predicted_target_date": "2025-03-02", "reason": None, "reached": True},
    )
    probability, date = _cards(reached)
    assert probability == "P(10 by 2025-06-30) 100 % Target reached on 2025-03-02"
    assert date == "Expected date for 10 (80 % interval) Reached Target reached on 2025-03-02"
    assert charts.chart_forecast(reached) is None  # nothing left to forecast on the chart
    assert "−" not in probability + date and "days" not in probability + date


def test_forecast_cards_with_target_zero_reached_at_the_start():
    zero = forecast_result(
        target=0,
        randomized=4,
        remaining=0,
        target_reached_date="2024-01-01",
        probability_by={"2025-06-30": 1.0},
    )
    probability, date = _cards(zero)
    assert "Target reached on 2024-01-01" in probability and "100 %" in probability
    assert "Target reached on 2024-01-01" in date


def test_forecast_cards_after_planned_completion():
    late = forecast_result(
        as_of="2025-08-01",
        randomized=8,
        remaining=2,
        probability_by={"2025-06-30": 0.0},
        expected_by={"2025-06-30": {"mean": 7.0, "lo80": 7, "hi80": 7}},
        additional_sites_needed=None,
        additional_sites_reason="planned completion 2025-06-30 already past",
    )
    probability, _ = _cards(late)
    assert probability == "P(10 by 2025-06-30) 0 % date passed: 7 randomized by then"


def test_forecast_cards_show_the_reason_when_there_is_no_forecast():
    none = forecast_result(
        reason="no site open by as_of: rates cannot be estimated",
        alpha=None,
        median_target_date=None,
        interval_80=[None, None],
        probability_by={"2025-06-30": None},
        expected_by={"2025-06-30": None},
        additional_sites_needed=None,
        additional_sites_reason="no site open by as_of: rates cannot be estimated",
        linear={"predicted_target_date": None, "reason": "no randomization by as_of"},
    )
    trial = small_trial_data().trial
    card = forecast_cards.forecast_probability_card(none, trial)
    reason = find(card, "kpi-forecast-probability-reason")
    assert "text-body-secondary" in reason.className  # muted
    probability, date = _cards(none)
    assert probability == ("P(10 by 2025-06-30) — no site open by as_of: rates cannot be estimated")
    assert date == (
        "Expected date for 10 (80 % interval) — no site open by as_of: rates cannot be "
        "estimated linear trend: no date (no randomization by as_of)"
    )
    assert charts.chart_forecast(none) is None


def test_forecast_dates_beyond_the_horizon_are_words_not_none():
    far = forecast_result(median_target_date=None, interval_80=["2060-01-05", None])
    _, date = _cards(far)
    assert date.startswith(
        "Expected date for 10 (80 % interval) — not reached within 100 years in most simulations"
    )
    open_ended = forecast_result(interval_80=["2025-07-21", None])
    _, date = _cards(open_ended)
    assert "80 %: 2025-07-21 – beyond 100 years" in date


def test_forecast_cards_when_the_forecast_failed():
    probability, date = _cards(None, "ValueError: boom")
    assert probability == "P(10 by 2025-06-30) — Forecast unavailable (ValueError: boom)"
    assert date.endswith("— Forecast unavailable (ValueError: boom)")


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (None, "—"),
        (0.0, "0 %"),
        (7.2e-06, "< 1 %"),
        (0.0149, "1 %"),
        (0.3718, "37 %"),
        (0.995, "> 99 %"),
        (1.0, "100 %"),
    ],
)
def test_probability_text(p, text):
    assert wording.probability_text(p) == text


def test_additional_sites_wording():
    assert wording.additional_sites_text(1, "x") == (
        "≈1 more site (opening after a lag) would be needed for 80 %",
        False,
    )
    assert wording.additional_sites_text(61, "x", 90) == (
        "≈61 more sites (opening after a 90-day lag) would be needed for 80 %",
        False,
    )
    assert wording.additional_sites_text(0, "already on track") == (
        "no additional site needed for 80 %",
        False,
    )
    assert wording.additional_sites_text(None, "more than 500 sites") == (
        "more than 500 sites",
        True,
    )
    assert wording.additional_sites_text(None, None) == (None, False)


def test_chart_forecast_passes_the_bands_and_the_linear_date():
    chart = charts.chart_forecast(forecast_result())
    assert chart["dates"] == ["2024-07-01", "2024-07-08"] and chart["hi95"] == [4, 6]
    assert chart["linear_date"] == "2025-09-14"


def test_method_note_names_the_model_and_simulations():
    assert wording.forecast_method_text(forecast_result()) == (
        "Forecast: Poisson–gamma (Anisimov & Fedorov), 10,000 simulations, parameter "
        "uncertainty included, 3 open + 1 planned sites. Linear trend: weighted least "
        "squares of the cumulative count (accrualPlot)."
    )


def test_method_note_says_when_the_target_date_is_integrated(numbers_and_data):
    result = numbers_and_data[0].forecast
    assert wording.forecast_method_text(result).startswith(
        "Forecast: Poisson–gamma (Anisimov & Fedorov), target date integrated numerically, "
        "bands from 600 simulations, parameter uncertainty included"
    )
    text = wording.forecast_precision_text(result.poisson_gamma)
    assert text is not None and text.startswith("median integrated numerically: ±")
    for error, words in ((0.0, "±0 days"), (1.0, "±1 day of"), (3.0, "±3 days")):
        pg = dataclasses.replace(result.poisson_gamma, median_numerical_error_days=error)
        assert f"median integrated numerically: {words}" in (
            wording.forecast_precision_text(pg) or ""
        )


def test_page_numbers_hold_the_forecast_and_the_chart_draws_it(numbers_and_data):
    numbers, data = numbers_and_data
    result = numbers.forecast
    assert numbers.forecast_error is None
    assert result.as_of == dt.date(2024, 7, 1) and result.randomized == 4
    # The page integrates the target date; its bands come from 600 paths.
    assert result.poisson_gamma.completion_method == "integrated"
    assert result.poisson_gamma.paths == 600
    cards = kpi_cards.kpi_cards(numbers, data)
    assert find(cards, "kpi-forecast-probability") is not None
    assert find(cards, "kpi-forecast-date") is not None
    names = [t.name for t in charts.accrual_chart(numbers, data).data]
    assert "Forecast 80 % interval" in names and "Forecast 95 % interval" in names


def test_forecast_runs_once_per_version_and_as_of(monkeypatch):
    calls = []
    real = fc.forecast

    def counting(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(fc, "forecast", counting)
    data = small_trial_data()
    cache = view_model.NumbersCache()
    cache.get(data, AS_OF)
    cache.get(data, "2024-07-01")
    cache.get(data, dt.date(2024, 6, 1))
    assert calls == [AS_OF, dt.date(2024, 6, 1)]


def test_a_failing_forecast_leaves_the_counts(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(fc, "forecast", broken)
    data = small_trial_data()
    numbers = view_model.page_numbers(data, AS_OF)
    assert numbers.forecast is None and numbers.forecast_error == "ValueError: boom"
    cards = kpi_cards.kpi_cards(numbers, data)
    assert text_of(find(cards, "kpi-randomized-value")) == "4"
    assert "Forecast unavailable" in text_of(find(cards, "kpi-forecast-date"))
    assert not [t for t in charts.accrual_chart(numbers, data).data if t.fill == "toself"]


# ----------------------------------------------------------------------------- this week
def week(**overrides: Any) -> metrics.WeekChanges:
    """A hand-built ``metrics.week_changes`` result for the week (2024-06-24, 2024-07-01]."""
    base = {
        "since": "2024-06-24",
        "randomized": 3,
        "screened": 4,
        "screen_failed": 1,
        "sites_enrolling": 1,
        "sites_recruiting": 1,
        "sites_randomizing_in_week": [
            {"site_id": "01", "facility": "Hôpital A", "city": "Paris", "randomized": 2},
            {"site_id": "04", "facility": "CHU D", "city": "Lille", "randomized": 1},
        ],
        "sites_activated_in_week": [{"site_id": "04", "facility": "CHU D", "city": "Lille"}],
        "status_changes_in_week": [
            {
                "date": "2024-06-27",
                "site_id": "03",
                "facility": "CHU C",
                "city": "Lyon",
                "from": "NOT_YET_RECRUITING",
                "to": "RECRUITING",
            },
            {
                "date": "2024-06-27",
                "site_id": "05",
                "facility": "CH E",
                "city": "Nice",
                "from": None,
                "to": "NOT_YET_RECRUITING",
            },
        ],
    }
    base.update(overrides)
    return metrics.WeekChanges(
        since=dt.date.fromisoformat(base["since"]),
        randomized=base["randomized"],
        screened=base["screened"],
        screen_failed=base["screen_failed"],
        sites_enrolling=base["sites_enrolling"],
        sites_recruiting=base["sites_recruiting"],
        sites_randomizing_in_week=tuple(
            metrics.WeekSite(**s) for s in base["sites_randomizing_in_week"]
        ),
        sites_activated_in_week=tuple(
            metrics.WeekSite(**s) for s in base["sites_activated_in_week"]
        ),
        status_changes_in_week=tuple(
            metrics.StatusChange.from_event(e) for e in base["status_changes_in_week"]
        ),
    )


def test_week_card_lists_counts_and_sites():
    card = week_card.week_card(week(), AS_OF)
    text = _norm(text_of(card))
    assert text.startswith("This week · 2024-06-25 – 2024-07-01 ")
    assert _norm(text_of(find(card, "kpi-week-stats"))) == (
        "+3 randomized +4 screened +1 site enrolling +1 site activated"
    )
    assert _norm(text_of(find(card, "kpi-week-randomized-sites"))) == (
        "Randomized at Hôpital A, Paris +2 CHU D, Lille +1"
    )
    assert _norm(text_of(find(card, "kpi-week-activated-sites"))) == "Activated CHU D, Lille"
    assert _norm(text_of(find(card, "kpi-week-status-changes"))) == (
        "Registry status changed CHU C, Lyon: Not yet recruiting → Recruiting "
        "CH E, Nice: new in the registry → Not yet recruiting"
    )
    assert find(card, "kpi-week-none") is None


def test_week_card_plural_and_zero_counts():
    card = week_card.week_card(
        week(randomized=0, screened=2, sites_enrolling=0, sites_recruiting=2), AS_OF
    )
    assert _norm(text_of(find(card, "kpi-week-stats"))) == (
        "0 randomized +2 screened 0 sites enrolling +2 sites activated"
    )


def test_week_card_without_change():
    quiet = week(
        randomized=0,
        screened=0,
        screen_failed=0,
        sites_enrolling=0,
        sites_recruiting=0,
        sites_randomizing_in_week=[],
        sites_activated_in_week=[],
        status_changes_in_week=[],
    )
    card = week_card.week_card(quiet, AS_OF)
    assert _norm(text_of(card)) == "This week · 2024-06-25 – 2024-07-01 No change this week"


def test_week_card_shortens_long_lists():
    many = [
        {
            "date": "2024-06-27",
            "site_id": f"{i:02d}",
            "facility": f"CH {i}",
            "city": "X",
            "from": "RECRUITING",
            "to": "COMPLETED",
        }
        for i in range(1, 13)
    ]
    card = week_card.week_card(week(status_changes_in_week=many), AS_OF)
    changes = _norm(text_of(find(card, "kpi-week-status-changes")))
    assert "CH 8, X" in changes and "CH 9, X" not in changes
    assert changes.endswith("… and 4 more (see the sites table)")


def test_week_card_of_the_small_trial(numbers_and_data):
    """Hand count (module docstring): P5 at site 04 is the week's one randomization."""
    cards = kpi_cards.kpi_cards(*numbers_and_data)
    card = find(cards, "kpi-week")
    assert _norm(text_of(find(card, "kpi-week-stats"))) == (
        "+1 randomized +1 screened +1 site enrolling 0 sites activated"
    )
    assert _norm(text_of(find(card, "kpi-week-randomized-sites"))) == (
        "Randomized at CHU D, Lille +1"
    )
    assert find(card, "kpi-week-activated-sites") is None


def test_week_lists_registry_status_changes_from_the_store():
    from dataclasses import replace

    event = {
        "date": "2024-06-28",
        "site_id": "03",
        "facility": "CHU C",
        "city": "Lyon",
        "from": "NOT_YET_RECRUITING",
        "to": "RECRUITING",
    }
    data = replace(small_trial_data(), status_events=(event,))
    card = find(kpi_cards.kpi_cards(view_model.page_numbers(data, AS_OF), data), "kpi-week")
    assert _norm(text_of(find(card, "kpi-week-status-changes"))) == (
        "Registry status changed CHU C, Lyon: Not yet recruiting → Recruiting"
    )


@pytest.mark.parametrize(
    ("later", "text"),
    [
        (dt.date(2025, 7, 10), "within a month of planned completion"),
        (dt.date(2025, 8, 30), "≈2 months after planned completion"),
        (dt.date(2025, 5, 30), "≈1 month before planned completion"),
        (dt.date(2033, 12, 24), "≈8 years after planned completion"),
    ],
)
def test_months_apart_text(later, text):
    assert wording.months_apart_text(later, dt.date(2025, 6, 30), "planned completion") == text


# ----------------------------------------------------------------------------- snapshot download
@pytest.fixture
def accepted_connection():
    """A real loopback connection, as gunicorn hands it to the app in ``gunicorn.socket``."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    try:
        yield conn, listener.getsockname()[1]
    finally:
        for s in (conn, client, listener):
            s.close()


@pytest.mark.parametrize("prefix", ["/", "/dash/"])
def test_snapshot_goes_to_the_socket_the_request_came_in_on(
    accepted_connection, prefix, monkeypatch
):
    # Host, SERVER_NAME (gunicorn builds it from Host on a unix socket) and X-Forwarded-Proto
    # are the client's to write: none of them picks where the server's browser goes.
    monkeypatch.delenv("RECRUITMENT_DASHBOARD_SNAPSHOT_URL", raising=False)
    conn, port = accepted_connection
    environ = {
        "gunicorn.socket": conn,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "19999",
        "HTTP_HOST": "127.0.0.1:19999",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "https",
    }
    assert own_base_url(environ, prefix) == f"http://127.0.0.1:{port}{prefix}"


def test_snapshot_address_can_be_configured(monkeypatch):
    monkeypatch.setenv("RECRUITMENT_DASHBOARD_SNAPSHOT_URL", "http://127.0.0.1:8050/")
    assert own_base_url({"HTTP_HOST": "evil.example"}, "/dash/") == "http://127.0.0.1:8050/dash/"


def test_snapshot_needs_a_tcp_socket_or_a_configured_url(monkeypatch):
    monkeypatch.delenv("RECRUITMENT_DASHBOARD_SNAPSHOT_URL", raising=False)
    with pytest.raises(ValueError, match="unix socket"):
        own_base_url({"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "19999"})


def test_basic_credentials_are_passed_on_only_for_basic_auth():
    from werkzeug.datastructures import Authorization

    basic = Authorization("basic", {"username": "pm", "password": "s3cret"})
    assert basic_credentials(basic) == {"username": "pm", "password": "s3cret"}
    assert basic_credentials(None) is None
    assert basic_credentials(Authorization("bearer", token="abc")) is None
    assert basic_credentials(Authorization("basic", {"username": "", "password": "x"})) is None


def test_page_has_the_download_controls():
    page = page_layout.page(small_trial_data(), AS_OF)
    for control in (
        ids.PDF_BUTTON,
        ids.PNG_BUTTON,
        ids.SNAPSHOT_DOWNLOAD,
        ids.SITES_CSV,
        ids.SITES_XLSX,
        ids.SITES_DOWNLOAD,
        ids.ACCRUAL_CSV,
        ids.ACCRUAL_XLSX,
        ids.ACCRUAL_DOWNLOAD,
    ):
        assert find(page, control) is not None, control
    assert getattr(find(page, ids.PDF_BUTTON), "aria-label") == "Download PDF"


def test_grid_numbers_by_hand():
    """Missing cells read None, counts read ints, rates keep Python's own rounding
    (2.675 is 2.67499… as a float: 2.67), whatever the column's dtype."""
    floats = pd.Series([1.0, None, 3.456, float("nan"), 2.675])
    assert grid._numbers(floats, 2) == [1.0, None, 3.46, None, 2.67]
    assert grid._numbers(floats, 1) == [1.0, None, 3.5, None, 2.7]
    counts = pd.Series([2, pd.NA, 0], dtype="Int64")
    got = grid._numbers(counts)
    assert got == [2, None, 0] and [type(v) for v in got] == [int, type(None), int]
    assert grid._numbers(pd.Series([], dtype=float)) == []
