"""Figure builders: plain data in, plotly figure out (no Dash, no browser)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import metrics
from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.figures import (
    accrual_figure,
    activation_figure,
    map_frame,
    site_bar_figure,
    site_map_figure,
    spread_colocated,
)
from dashboard.figures import map as map_module
from dashboard.figures.theme import STATUS_COLORS, graph_config
from dashboard.registry import LOCATION_STATUSES
from dashboard.store import TrialData, load_trial_data
from tests.helpers import small_trial_data

AS_OF = dt.date(2024, 7, 1)


def _table(data: TrialData, as_of=AS_OF) -> pd.DataFrame:
    return metrics.site_table(
        data.sites, data.geocodes, data.enrollment, as_of, data.trial.start_date
    )


@pytest.fixture(scope="module")
def shipped() -> TrialData:
    return load_trial_data(SHIPPED_DATA_DIR)


@pytest.fixture(scope="module")
def shipped_table(shipped) -> pd.DataFrame:
    return metrics.site_table(
        shipped.sites,
        shipped.geocodes,
        shipped.enrollment,
        shipped.data_cutoff,
        shipped.trial.start_date,
    )


def _marker_traces(fig: go.Figure, geo: str) -> list:
    return [t for t in fig.data if t.type == "scattergeo" and t.geo == geo and t.mode == "markers"]


def _ids(trace) -> list[str]:
    """The site id of each point: the first item of its ``customdata`` (the rest feeds the
    hover template)."""
    return [c[0] for c in trace.customdata]


def _hover_texts(trace) -> list[str]:
    """The hover of each point as plotly.js writes it from the template and customdata."""
    return [map_module.fill_template(trace.hovertemplate, c) for c in trace.customdata]


# ----------------------------------------------------------------------------- palette
def test_every_registry_status_has_a_distinct_colour():
    assert set(STATUS_COLORS) == set(LOCATION_STATUSES)
    assert len(set(STATUS_COLORS.values())) == len(LOCATION_STATUSES)


def test_graph_config_has_no_cloud_and_uses_local_topojson():
    config = graph_config("map", topojson_url="/assets/topojson/")
    assert config["displaylogo"] is False
    assert config["showSendToCloud"] is False
    assert {"lasso2d", "select2d"} <= set(config["modeBarButtonsToRemove"])
    assert config["topojsonURL"] == "/assets/topojson/"


# ----------------------------------------------------------------------------- map
def test_map_has_one_marker_per_shipped_site(shipped, shipped_table):
    fig = site_map_figure(shipped_table, metrics.status_counts(shipped.sites))
    main = _marker_traces(fig, "geo")
    ids = [s for t in main for s in _ids(t)]
    assert len(ids) == 46
    assert sorted(ids) == sorted(shipped.sites["site_id"])
    names = {t.name for t in main}
    assert names == {"Recruiting (43)", "Not yet recruiting (3)"}
    for trace in main:
        status = "RECRUITING" if trace.name.startswith("Recruiting") else "NOT_YET_RECRUITING"
        assert trace.marker.color == STATUS_COLORS[status]
        assert trace.legendgroup == status


def test_map_geo_is_offline_france_with_explicit_ranges(shipped, shipped_table):
    fig = site_map_figure(shipped_table, metrics.status_counts(shipped.sites))
    geo = fig.layout.geo
    assert geo.scope == "europe" and geo.resolution == 50 and geo.fitbounds is False
    lon0, lon1 = geo.lonaxis.range
    lat0, lat1 = geo.lataxis.range
    # Brest (−4.5) to Nice/Corsica (9.5), Bonifacio (41.4) to Dunkirk (51.0).
    assert lon0 <= -5 and lon1 >= 9.6 and lat0 <= 41.3 and lat1 >= 51.1
    inset = fig.layout.geo2
    # The crowding rule finds the Paris area: Boulogne (2.24 E) to Créteil (2.45 E),
    # Créteil (48.79 N) to Bobigny (48.91 N), with a margin, and not much more.
    i_lon0, i_lon1 = inset.lonaxis.range
    i_lat0, i_lat1 = inset.lataxis.range
    assert 2.0 < i_lon0 < 2.24 and 2.46 < i_lon1 < 2.7
    assert 48.6 < i_lat0 < 48.79 and 48.91 < i_lat1 < 49.1
    assert fig.layout.annotations[0].text == "<b>Paris</b> area"


def test_map_inset_holds_the_eight_paris_area_sites(shipped, shipped_table):
    fig = site_map_figure(shipped_table, metrics.status_counts(shipped.sites))
    inset_ids = sorted(s for t in _marker_traces(fig, "geo2") for s in _ids(t))
    # Bobigny, Boulogne-Billancourt, Créteil and the five Paris sites.
    assert inset_ids == ["05", "08", "12", "31", "32", "33", "34", "35"]
    assert all(t.showlegend is False for t in _marker_traces(fig, "geo2"))


def _screen_xy(trace) -> list[tuple[float, float]]:
    lat = np.asarray(trace.lat, dtype=float)
    y = np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))
    return list(zip(trace.lon, y, strict=True))


def test_co_located_sites_are_all_separable_on_both_views(shipped, shipped_table):
    fig = site_map_figure(shipped_table, metrics.status_counts(shipped.sites))
    for geo, share in (
        ("geo", map_module.MAIN_SEPARATION_SHARE),
        ("geo2", map_module.INSET_SEPARATION_SHARE),
    ):
        lon0, lon1 = fig.layout[geo].lonaxis.range
        sep = share * (lon1 - lon0)
        points = [p for t in _marker_traces(fig, geo) for p in _screen_xy(t)]
        for i, a in enumerate(points):
            for b in points[i + 1 :]:
                assert math.dist(a, b) >= sep * 0.999, (geo, a, b)


def test_hover_text_names_facility_city_status_counts_and_precision(shipped, shipped_table):
    fig = site_map_figure(shipped_table, metrics.status_counts(shipped.sites))
    hovers = {
        sid: text
        for t in _marker_traces(fig, "geo")
        for sid, text in zip(_ids(t), _hover_texts(t), strict=True)
    }
    text = hovers["33"]
    assert "La Pitié-Salpêtrière" in text and "Paris" in text and "site 33" in text
    assert "Status: Recruiting" in text
    assert "Randomized:" in text and "Screened:" in text
    assert "First randomization:" in text and "Last randomization:" in text
    assert "Geocode precision: facility" in text
    assert "offset" in hovers["32"]  # the two Pitié sites share a point: both are moved


def test_zero_randomized_sites_stay_visible(shipped, shipped_table):
    fig = site_map_figure(shipped_table, metrics.status_counts(shipped.sites))
    zero = set(shipped_table.loc[shipped_table["randomized"] == 0, "site_id"])
    assert zero
    for trace in _marker_traces(fig, "geo"):
        for sid, size, symbol, width in zip(
            _ids(trace),
            trace.marker.size,
            trace.marker.symbol,
            trace.marker.line.width,
            strict=True,
        ):
            assert size >= 7
            if sid in zero:
                assert symbol == "circle-open" and width >= 2


def test_map_selection_dims_the_others():
    data = small_trial_data()
    table = _table(data)
    fig = site_map_figure(
        table, metrics.status_counts(data.sites), highlighted={"04"}, selected={"04"}
    )
    opacity = {
        sid: o
        for t in _marker_traces(fig, "geo")
        for sid, o in zip(_ids(t), t.marker.opacity, strict=True)
    }
    assert opacity["04"] > 0.9
    assert all(o < 0.5 for sid, o in opacity.items() if sid != "04")


def test_map_counts_sites_without_coordinates():
    data = small_trial_data()
    table = _table(data)
    table.loc[table["site_id"] == "03", ["lat", "lon"]] = np.nan
    fig = site_map_figure(table, metrics.status_counts(data.sites))
    assert len([s for t in _marker_traces(fig, "geo") for s in _ids(t)]) == 3
    assert any("1 site(s) without coordinates" in a.text for a in fig.layout.annotations)


def test_spread_is_deterministic_and_leaves_lone_points_alone():
    lat = [48.85, 48.85, 48.85, 45.0]
    lon = [2.35, 2.35, 2.35, 5.0]
    first = spread_colocated(lat, lon, 0.3)
    second = spread_colocated(lat, lon, 0.3)
    assert np.array_equal(first.lat, second.lat) and np.array_equal(first.lon, second.lon)
    assert list(first.moved) == [True, True, True, False]
    assert (first.lat[3], first.lon[3]) == (45.0, 5.0)
    assert np.allclose(first.centre_lat[:3], 48.85) and np.allclose(first.centre_lon[:3], 2.35)


# ----------------------------------------------------------------------------- accrual
def _accrual(data: TrialData, as_of=AS_OF, forecast=None) -> go.Figure:
    trial = data.trial
    pace = metrics.pace(trial, data.enrollment, as_of)
    return accrual_figure(
        metrics.accrual_series(data.enrollment, trial.start_date, as_of),
        target=trial.target,
        start_date=trial.start_date,
        planned_completion_date=trial.planned_completion_date,
        last_patient_in_date=trial.last_patient_in_date,
        as_of=as_of,
        randomized=pace.randomized,
        required_rate_per_month=pace.required_rate_per_month,
        forecast=forecast,
    )


def _trace(fig: go.Figure, name_start: str):
    matches = [t for t in fig.data if t.name and t.name.startswith(name_start)]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


def test_accrual_steps_target_and_dates():
    fig = _accrual(small_trial_data())
    randomized = _trace(fig, "Randomized")
    assert randomized.line.shape == "hv"
    assert randomized.x[0] == "2024-01-01" and randomized.x[-1] == "2024-07-01"
    assert randomized.y[-1] == 4  # P1, P2, P4, P5 by 2024-07-01
    screened = _trace(fig, "Screened")
    assert screened.line.shape == "hv" and screened.y[-1] == 6
    target_lines = [s for s in fig.layout.shapes if s.y0 == 10 and s.y1 == 10]
    assert len(target_lines) == 1
    vertical = {s.x0 for s in fig.layout.shapes if s.yref == "paper"}
    assert {"2024-07-05", "2025-06-30", "2024-07-01"} <= vertical  # LPI, completion, as-of
    labels = " ".join(a.text for a in fig.layout.annotations)
    assert "Target 10" in labels
    assert "Last patient in<br>2024-07-05" in labels
    assert "Planned completion<br>2025-06-30" in labels


def test_accrual_planned_and_required_paths():
    fig = _accrual(small_trial_data())
    planned = _trace(fig, "Planned path")
    assert list(planned.x) == ["2024-01-01", "2025-06-30"] and list(planned.y) == [0, 10]
    required = _trace(fig, "Required from as-of date")
    assert list(required.x) == ["2024-07-01", "2025-06-30"] and list(required.y) == [4, 10]
    assert required.name.endswith("0.5/month")  # 6 left in 364 days


def test_accrual_without_forecast_draws_no_band():
    fig = _accrual(small_trial_data())
    assert not [t for t in fig.data if t.fill == "toself"]
    assert not [t for t in fig.data if t.name and "orecast" in t.name]


def test_accrual_draws_forecast_fan_and_median():
    forecast = {
        "dates": ["2024-07-01", "2024-10-01", "2025-01-01"],
        "median": [4, 6, 8],
        "lo80": [4, 5, 6],
        "hi80": [4, 7, 10],
        "lo95": [4, 4, 5],
        "hi95": [4, 8, 12],
        "linear_date": "2025-03-01",
    }
    fig = _accrual(small_trial_data(), forecast=forecast)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [t.name for t in bands] == ["Forecast 95 % interval", "Forecast 80 % interval"]
    assert list(bands[1].y) == [4, 7, 10, 6, 5, 4]  # upper edge, then lower edge reversed
    median = _trace(fig, "Forecast median")
    assert median.line.dash == "dash" and list(median.y) == [4, 6, 8]
    linear = _trace(fig, "Linear trend")
    assert linear.name == "Linear trend: 10 on 2025-03-01"
    # From the as-of count (4 on 2024-07-01) to the target on the linear date.
    assert list(linear.x) == ["2024-07-01", "2025-03-01"] and list(linear.y) == [4, 10]
    assert linear.line.dash == "dot" and list(linear.marker.size) == [0, 11]
    assert [list(c) for c in median.customdata] == [[4, 4], [5, 7], [6, 10]]  # 80 % in hover
    assert fig.layout.yaxis.range[1] >= 12


def test_accrual_accepts_nested_bands():
    forecast = {
        "dates": ["2024-07-01", "2024-10-01"],
        "median": [4, 6],
        "bands": {"80": {"lower": [4, 5], "upper": [4, 7]}},
    }
    fig = _accrual(small_trial_data(), forecast=forecast)
    assert [t.name for t in fig.data if t.fill == "toself"] == ["Forecast 80 % interval"]


def test_no_required_path_after_completion():
    data = small_trial_data()
    fig = _accrual(data, as_of=dt.date(2025, 8, 1))
    assert not [t for t in fig.data if t.name and t.name.startswith("Required")]


# ----------------------------------------------------------------------------- per-site figures
def test_bars_sorted_coloured_by_status_without_targets(shipped, shipped_table):
    fig = site_bar_figure(shipped_table)
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(len(t.customdata) for t in bars) == 46
    for trace in bars:
        status = "RECRUITING" if trace.name == "Recruiting" else "NOT_YET_RECRUITING"
        assert trace.marker.color == STATUS_COLORS[status]
    order = list(fig.layout.yaxis.categoryarray)
    counts = dict(zip(shipped_table["site_id"], shipped_table["randomized"], strict=True))
    values = [counts[label.split(" · ")[0]] for label in order]
    assert values == sorted(values, reverse=True)
    assert not [t for t in fig.data if t.name == "Site target"]


def test_bars_mark_site_targets_when_given():
    data = small_trial_data()
    fig = site_bar_figure(_table(data))
    targets = _trace(fig, "Site target")
    assert dict(zip(_ids(targets), targets.x, strict=True)) == {"01": 3, "04": 2}
    bars = {
        sid: x for t in fig.data if t.type == "bar" for sid, x in zip(_ids(t), t.x, strict=True)
    }
    assert bars == {"01": 2, "02": 1, "03": 0, "04": 1}


def test_activation_lists_not_activated_first_with_days_to_first_patient():
    data = small_trial_data()
    fig = activation_figure(_table(data), as_of=AS_OF, trial_start=data.trial.start_date)
    order = [label.split(" · ")[0] for label in fig.layout.yaxis.categoryarray]
    assert order[0] == "03"  # not yet recruiting
    first = _trace(fig, "First randomization")
    days = dict(zip(_ids(first), first.text, strict=True))
    # 01: 2024-01-15 → 2024-02-10 = 26 d; 02: 2024-02-01 → 2024-05-20 = 109 d;
    # 04: 2024-06-01 → 2024-06-28 = 27 d.
    assert days == {"01": "26 d", "02": "109 d", "04": "27 d"}
    pending = _trace(fig, "Not activated")
    assert _ids(pending) == ["03"]


def test_activation_shows_sites_still_waiting():
    data = small_trial_data()
    as_of = dt.date(2024, 6, 10)  # site 04 activated 2024-06-01, first patient 06-28
    fig = activation_figure(_table(data, as_of), as_of=as_of, trial_start=data.trial.start_date)
    waiting = [t for t in fig.data if t.name and t.name.startswith("No patient yet")]
    assert len(waiting) == 1
    assert dict(zip(_ids(waiting[0]), waiting[0].text, strict=True)) == {"04": "waiting 9 d"}


def test_no_inset_when_the_crowd_spans_the_whole_map():
    """2,000 sites over France chain into one "crowded" group as wide as the country: an
    inset of it would enlarge nothing (it was wider than the map) and draw every marker
    twice. A dense grid of sites over the whole frame gets no inset."""
    lat = [43.0 + 0.25 * (i // 30) for i in range(600)]
    lon = [-2.0 + 0.3 * (i % 30) for i in range(600)]
    frame = map_frame.fit_frame(lat, lon, ["FRA"] * 600)
    crowded = map_frame.find_inset(
        lat, lon, ["X"] * 600, ["France"] * 600, frame, map_module._clusters
    )
    assert crowded is None
    # Eight sites in one city of those 600 would still get theirs.
    city = map_frame.find_inset(
        [48.85 + 0.005 * k for k in range(8)] + [43.0, 45.0, 47.0],
        [2.35 + 0.005 * k for k in range(8)] + [-1.0, 3.0, 6.0],
        ["Paris"] * 8 + ["A", "B", "C"],
        ["France"] * 11,
        frame,
        map_module._clusters,
    )
    assert city is not None and city.frame.lon_span < 0.5 * frame.lon_span


def test_bar_and_activation_hovers_name_the_site_and_its_numbers():
    data = small_trial_data()
    table = _table(data)
    bars = {
        sid: text
        for t in site_bar_figure(table).data
        if t.type == "bar"
        for sid, text in zip(_ids(t), _hover_texts(t), strict=True)
    }
    assert "<b>Hôpital A</b><br>Paris · site 01" in bars["01"]
    assert "Status: Recruiting" in bars["01"] and "Site target: 3" in bars["01"]
    assert "Randomized: 2 · Screened: 2" in bars["01"]
    assert "Site target" not in bars["02"]
    fig = activation_figure(table, as_of=AS_OF, trial_start=data.trial.start_date)
    first = _trace(fig, "First randomization")
    hovers = dict(zip(_ids(first), _hover_texts(first), strict=True))
    # 01: activated 2024-01-15, first patient 2024-02-10 (26 days, counted by hand).
    assert "Activation: 2024-01-15" in hovers["01"]
    assert "First randomization: 2024-02-10" in hovers["01"]
    assert "Activation → first patient: 26 days" in hovers["01"]
    pending = _trace(fig, "Not activated")
    assert "Not activated by the as-of date" in _hover_texts(pending)[0]
    # Dates a site does not have are said so in words, never "nan" or "null" (pandas' str
    # columns turned the missing dates into NaN, which the hover wrote as null).
    assert pending.customdata[0][4:6] == ["not known", "—"]
    assert "Activation: not known" in _hover_texts(pending)[0]
    waiting_on = dt.date(2024, 6, 10)  # site 04 activated 2024-06-01, first patient 06-28
    fig = activation_figure(
        _table(data, waiting_on), as_of=waiting_on, trial_start=data.trial.start_date
    )
    waiting = [t for t in fig.data if t.name and t.name.startswith("No patient yet")][0]
    assert waiting.customdata[0][4:6] == ["2024-06-01", "—"]
    assert "First randomization: —" in _hover_texts(waiting)[0]
