"""The main callback's output cache never serves a stale view, and the app's plain
(unvalidated) figures are the very figures the validated builders make."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import plotly.graph_objects as go
import pytest

from dashboard.page import ids, replies, view_model
from dashboard.page.components import charts
from dashboard.store import load_trial_data
from tests.http_load import callback_body

AS_OF = dt.date(2025, 11, 20)


def _bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# ----------------------------------------------------------------------------- OutputsCache
def test_outputs_cache_key_holds_everything_the_outputs_depend_on(shipped_data_dir):
    data = load_trial_data(shipped_data_dir)
    key = replies.OutputsCache.key
    base = key(data, AS_OF, True, ["RECRUITING"], ["02", "01"], ())
    assert base == key(data, AS_OF, True, ["RECRUITING"], ["01", "02"], ())  # order-free
    assert base != key(data, AS_OF - dt.timedelta(days=1), True, ["RECRUITING"], ["01", "02"])
    assert base != key(data, AS_OF, False, ["RECRUITING"], ["01", "02"], ())
    assert base != key(data, AS_OF, True, [], ["01", "02"], ())
    assert base != key(data, AS_OF, True, ["RECRUITING"], ["01"], ())
    assert base != key(data, AS_OF, True, ["RECRUITING"], ["01", "02"], ("bad file",))


def test_outputs_cache_never_serves_another_data_object(shipped_data_dir):
    first = load_trial_data(shipped_data_dir)
    second = load_trial_data(shipped_data_dir)  # same version string, another object
    assert first.version == second.version
    cache = replies.OutputsCache()
    k1 = cache.key(first, AS_OF, True, None, None)
    cache.put(first, k1, {"a": "a"})
    assert cache.get(first, k1) == {"a": "a"}
    assert cache.get(second, cache.key(second, AS_OF, True, None, None)) is None
    assert cache.get(second, k1) is None  # even with the other object's key


def test_outputs_cache_is_bounded_in_entries_and_bytes(shipped_data_dir):
    data = load_trial_data(shipped_data_dir)
    cache = replies.OutputsCache(size=3)
    keys = [cache.key(data, AS_OF - dt.timedelta(days=k), True, None, None) for k in range(5)]
    for k in keys:
        cache.put(data, k, {"x": replies.encode_output("x")})
    assert len(cache) == 3
    assert cache.get(data, keys[0]) is None and cache.get(data, keys[4]) is not None
    small = replies.OutputsCache(size=10, max_bytes=2500)
    for k in keys:
        small.put(data, k, {"y": replies.encode_output("y" * 1000)})
    assert len(small) == 2  # ~1 kB each
    assert small.get(data, keys[4]) is not None


# ----------------------------------------------------------------------------- through HTTP
@pytest.fixture
def served(data_dir):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=None)
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(
        d
        for d in deps
        if "site-map.figure" in d["output"] and any(i["id"] == "as-of-date" for i in d["inputs"])
    )

    def post(as_of: str, selection: list[str] | None = None, trigger: str = "as-of-date.value"):
        body = callback_body(dep, as_of)
        for item in body["inputs"]:
            if item["id"] == ids.SELECTION:
                item["value"] = selection or []
        body["changedPropIds"] = [trigger]
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200
        return response.get_data()

    return post


def test_a_repeated_view_is_byte_identical_to_a_fresh_one(served, data_dir):
    first = served("2025-06-30")
    again = served("2025-06-30")
    assert again == first
    from dashboard.app import create_app

    fresh_app = create_app(data_dir, auth=None)
    deps = fresh_app.server.test_client().get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "site-map.figure" in d["output"])
    fresh = fresh_app.server.test_client().post(
        "/_dash-update-component", json=callback_body(dep, "2025-06-30")
    )
    assert json.loads(fresh.get_data()) == json.loads(first)


def test_no_stale_view_after_the_as_of_or_the_selection_changes(served):
    june = served("2025-06-30")
    november = served("2025-11-20")
    assert json.loads(june) != json.loads(november)
    assert "2025-06-30" in june.decode() and "2025-11-20" in november.decode()
    selected = served("2025-11-20", ["02"], trigger=f"{ids.SELECTION}.data")
    response = json.loads(selected)["response"]
    assert response[ids.SELECTION_TEXT]["children"] == "1 of 46 sites selected"
    assert ids.KPIS not in response  # a selection leaves the counts as they are
    unselected = json.loads(served("2025-11-20", [], trigger=f"{ids.SELECTION}.data"))
    assert unselected["response"][ids.SELECTION_TEXT]["children"] == "No selection"


def test_no_stale_view_after_the_data_change(served, data_dir):
    before = served("2025-11-20")
    with open(data_dir / "enrollment.csv", "a", encoding="utf-8") as handle:
        handle.write("NEW-0001,02,2025-11-01,2025-11-10,RANDOMIZED\n")
    _bump(data_dir / "enrollment.csv")
    after = served("2025-11-20")
    assert after != before
    assert int(json.loads(after)["response"][ids.GRID]["rowData"][1]["randomized"]) == (
        int(json.loads(before)["response"][ids.GRID]["rowData"][1]["randomized"]) + 1
    )


# ----------------------------------------------------------------------------- plain figures
def _same_figure(plain: dict, validated: go.Figure) -> None:
    assert isinstance(plain, dict)
    assert plain["layout"]["template"] == {}
    ours = go.Figure(plain).to_plotly_json()  # raises if the plain dict is not a valid figure
    theirs = validated.to_plotly_json()
    ours["layout"].pop("template")
    theirs["layout"].pop("template")
    assert ours == theirs


@pytest.mark.parametrize("selected", [(), ("02", "05")])
def test_plain_figures_are_the_validated_figures(shipped_data_dir, selected):
    data = load_trial_data(shipped_data_dir)
    numbers = view_model.page_numbers(data, AS_OF)
    highlighted = set(selected) or None
    _same_figure(
        charts.map_chart(numbers, highlighted, selected, validate=False),
        charts.map_chart(numbers, highlighted, selected),
    )
    _same_figure(
        charts.accrual_chart(numbers, data, validate=False), charts.accrual_chart(numbers, data)
    )
    _same_figure(
        charts.bars_chart(numbers, highlighted, selected, validate=False),
        charts.bars_chart(numbers, highlighted, selected),
    )
    _same_figure(
        charts.activation_chart(numbers, data, highlighted, selected, validate=False),
        charts.activation_chart(numbers, data, highlighted, selected),
    )


def test_a_repeated_view_is_not_compressed_again_and_a_new_one_is(data_dir):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=None)
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "site-map.figure" in d["output"])
    headers = {"Accept-Encoding": "zstd"}
    import flask_compress

    calls = []
    real = flask_compress.flask_compress._compress_data

    def counting(app_, data, algorithm):
        calls.append(len(data))
        return real(app_, data, algorithm)

    flask_compress.flask_compress._compress_data = counting
    try:
        first = client.post(
            "/_dash-update-component", json=callback_body(dep, "2025-06-30"), headers=headers
        )
        again = client.post(
            "/_dash-update-component", json=callback_body(dep, "2025-06-30"), headers=headers
        )
        other = client.post(
            "/_dash-update-component", json=callback_body(dep, "2025-07-31"), headers=headers
        )
    finally:
        flask_compress.flask_compress._compress_data = real
    assert first.headers["Content-Encoding"] == "zstd"
    assert again.get_data() == first.get_data()
    assert other.get_data() != first.get_data()
    assert len(calls) == 2  # the repeat reused the first compressed reply


def test_fast_records_are_pandas_records(shipped_data_dir):
    import math

    import pandas as pd

    from dashboard import metrics
    from dashboard.figures.activation import activation_order
    from dashboard.figures.theme import records

    data = load_trial_data(shipped_data_dir)
    for as_of in ("2023-01-01", "2025-06-30", "2025-11-20"):
        table = metrics.site_table(
            data.sites, data.geocodes, data.enrollment, as_of, data.trial.start_date
        )
        for frame in (table, activation_order(table, pd.Timestamp(as_of))):
            ours, theirs = records(frame), frame.to_dict("records")
            assert [list(r) for r in ours] == [list(r) for r in theirs]
            for mine, pandas_row in zip(ours, theirs, strict=True):
                for key, value in pandas_row.items():
                    assert type(mine[key]) is type(value), key
                    if isinstance(value, float) and math.isnan(value):
                        assert math.isnan(mine[key])
                    elif value is pd.NaT or value is None:
                        assert mine[key] is value
                    else:
                        assert mine[key] == value


def test_spread_positions_are_memoised_read_only():
    from dashboard.figures.map import spread_colocated

    MAIN_MIN_SEPARATION = 0.33

    first = spread_colocated([48.85, 48.851, 43.3], [2.35, 2.351, 5.37], MAIN_MIN_SEPARATION)
    again = spread_colocated([48.85, 48.851, 43.3], [2.35, 2.351, 5.37], MAIN_MIN_SEPARATION)
    assert again is first and list(first.moved) == [True, True, False]
    with pytest.raises(ValueError):
        first.lat[0] = 0.0
