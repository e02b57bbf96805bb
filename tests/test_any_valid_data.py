"""Every view works on any valid data dir, with counts equal to an independent count.

Hypothesis generates whole data dirs as real users hand them over: sites with every
registry status, activation dates absent, present, or after the site's first
randomization, patients at sites the registry calls not yet recruiting / completed /
withdrawn, no patient at all, the target reached, and as-of dates before the trial start,
before the first patient, after the planned completion and far after the cut-off. Each
example drives the app factory (``create_app``): the layout, every server callback (once
per input as the trigger) and the CSV exports, then every figure builder with plotly's
validation, and compares the counts with the generated rows counted in plain Python
(:meth:`tests.helpers.GenTrial.counts`).

At least 300 examples run per test run: ``max_examples`` is set on the test itself, so a
Hypothesis profile or a ``-k``/``-m`` selection does not lower it. The page forecast uses
40 simulated paths (``create_app(forecast_paths=40)``): the forecast's numbers are tested
in test_forecast.py; here it must only not break the page.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.app import create_app
from dashboard.dates import as_of_range
from dashboard.figures.accrual import accrual_figure
from dashboard.figures.activation import activation_figure
from dashboard.figures.bars import site_bar_figure
from dashboard.figures.map import site_map_figure
from dashboard.metrics import STALE_CUTOFF_DAYS, accrual_series, site_table, status_counts
from dashboard.page import ids
from dashboard.registry import LOCATION_STATUSES
from tests.helpers import GenPatient, GenSite, GenTrial, drive_every_callback, write_gen_trial

EXAMPLES = 300
FORECAST_PATHS = 40
START = dt.date(2023, 1, 2)
SAME_OUTPUTS_AS_ANOTHER_TRIGGER = (
    f"{ids.SITES_XLSX}.n_clicks",
    f"{ids.ACCRUAL_XLSX}.n_clicks",
    f"{ids.STATUS_FILTER}.value",
    f"{ids.SELECTION}.data",
)
DAY = dt.timedelta(days=1)


@st.composite
def trials(draw: st.DrawFn) -> tuple[GenTrial, dt.date]:
    """A valid data dir and an as-of date to look at it from."""
    start = draw(st.dates(dt.date(2019, 1, 1), dt.date(2025, 6, 30)))
    completion = start + draw(st.integers(400, 1500)) * DAY
    n_sites = draw(st.integers(1, 8))
    sites = []
    for k in range(1, n_sites + 1):
        status = draw(
            st.sampled_from(LOCATION_STATUSES) if draw(st.booleans()) else st.just("RECRUITING")
        )
        activation = draw(st.none() | st.dates(start - 60 * DAY, completion + 100 * DAY))
        target = draw(st.none() | st.integers(0, 12))
        sites.append(GenSite(f"{k:02d}", status, activation, None, target))
    synthetic = draw(st.booleans())
    if synthetic:
        for site in sites:
            if draw(st.booleans()):
                site.synthetic_activation = start + draw(st.integers(0, 300)) * DAY
    patients = []
    n_patients = draw(st.integers(0, 30))
    span = (completion - start).days
    for k in range(n_patients):
        site = draw(st.sampled_from(sites))
        screening = start + draw(st.integers(-20, span)) * DAY
        status = draw(
            st.sampled_from(("SCREENING", "SCREEN_FAILED", "RANDOMIZED", "WITHDRAWN", "COMPLETED"))
        )
        randomization = None
        if status in ("RANDOMIZED", "WITHDRAWN", "COMPLETED"):
            randomization = screening + draw(st.integers(0, 45)) * DAY
        patients.append(GenPatient(f"G-{k:04d}", site.site_id, screening, randomization, status))
    latest = max(
        [p.screening for p in patients] + [p.randomization for p in patients if p.randomization],
        default=start,
    )
    cutoff = draw(st.none() | st.integers(0, 40).map(lambda d: latest + d * DAY))
    target = draw(
        st.integers(0, 60) | st.just(sum(1 for p in patients if p.randomization))
    )  # sometimes exactly reached
    trial = GenTrial(start, completion, target, sites, patients, cutoff, synthetic)
    first = min((p.screening for p in patients), default=start)
    recorded = trial.recorded_cutoff()
    as_of = draw(
        st.sampled_from(
            [
                start - draw(st.integers(1, 400)) * DAY,  # before the trial start
                start,
                first - DAY,  # before the first patient
                recorded,  # the cut-off
                recorded + draw(st.integers(1, 14)) * DAY,
                recorded + draw(st.integers(15, 2000)) * DAY,  # far after the cut-off
                completion + draw(st.integers(1, 400)) * DAY,  # after the planned completion
            ]
        )
    )
    return trial, as_of


def _grid_rows(layout_json: dict) -> list[dict]:
    """rowData of the sites grid inside a /_dash-layout reply."""
    found: list[list[dict]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == ids.GRID:
                found.append(props["rowData"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout_json)
    assert len(found) == 1
    return found[0]


def _check_rows(rows: list[dict], trial: GenTrial, as_of: dt.date) -> None:
    assert len(rows) == len(trial.sites)
    for row in rows:
        screened, _, randomized = trial.counts(as_of, row["site_id"])
        assert (row["screened"], row["randomized"]) == (screened, randomized), row["site_id"]


def _csv_download(reply: dict, output_id: str) -> list[dict[str, str]]:
    data = reply["response"][output_id]["data"]
    body = base64.b64decode(data["content"]) if data.get("base64") else data["content"].encode()
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One app (``create_app``) over one data dir that every example rewrites.

    The app's store sees each new data set as a user's replaced files (a new data
    version), so every example is served fresh; one app keeps 300 examples within a
    minute or two (building an app costs two full pages). A fresh app per example is
    built for the first few examples too (:data:`FRESH_APPS`).
    """
    root = tmp_path_factory.mktemp("generated") / "data"
    write_gen_trial(root, GenTrial(START, START + 500 * DAY, 1, [GenSite("01", "RECRUITING")]))
    return root, create_app(root, auth=None, forecast_paths=FORECAST_PATHS)


FRESH_APPS = 5
_runs = {"n": 0}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    database=None,
)
@given(case=trials())
def test_every_view_on_any_valid_data(
    served: tuple[Path, Any], case: tuple[GenTrial, dt.date]
) -> None:
    trial, as_of = case
    root, app = served
    _runs["n"] += 1
    for old in root.rglob("*"):
        if old.is_file():
            old.unlink()
    write_gen_trial(root, trial)
    if _runs["n"] <= FRESH_APPS:
        app = create_app(root, auth=None, forecast_paths=FORECAST_PATHS)
    client = app.server.test_client()
    assert client.get("/health").status_code == 200  # loads the new data version
    data = app._dashboard_store.get()
    assert data.data_cutoff == trial.recorded_cutoff()
    # Typed activation dates win; the demo's fill the rest only while synthetic.
    for site, loaded in zip(trial.sites, data.sites["activation_date"], strict=True):
        expected = site.activation or (site.synthetic_activation if trial.synthetic else None)
        assert (None if loaded is None or loaded != loaded else loaded.date()) == expected

    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    default_rows = _grid_rows(layout.get_json())
    _check_rows(default_rows, trial, trial.recorded_cutoff())

    site_id = trial.sites[-1].site_id
    # The XLSX buttons give the same tables as the CSV ones (tested in test_tabular.py);
    # the status filter and the selection redraw a subset of what the date trigger
    # draws (the builders are called with a selection below).
    replies = drive_every_callback(
        client, as_of.isoformat(), site_id, skip_triggers=SAME_OUTPUTS_AS_ANOTHER_TRIGGER
    )
    refresh = next(
        v
        for k, v in replies.items()
        if k.startswith(f"{ids.AS_OF}.value->") and f"{ids.GRID}.rowData" in k
    )
    response = refresh["response"]
    allowed = as_of_range(trial.start, trial.recorded_cutoff())
    if not allowed.earliest <= as_of <= allowed.latest:
        # Outside the documented as-of range the page refuses the date, plainly, and
        # redraws nothing (the last view stays).
        assert "as-of-refused" in json.dumps(response[ids.ALERTS])
        assert ids.GRID not in response
        return
    _check_rows(response[ids.GRID]["rowData"], trial, as_of)
    total_screened, _, total_randomized = trial.counts(as_of)
    bars = response[ids.BARS]["figure"]["data"]
    assert sum(sum(t["x"]) for t in bars if t["type"] == "bar") == total_randomized
    assert "as-of-value" in json.dumps(response[ids.AS_OF_TEXT])
    alerts = json.dumps(response[ids.ALERTS])
    cutoff = trial.recorded_cutoff()
    assert ("before the trial start" in alerts) == (as_of < trial.start)
    assert ("unknown, not zero" in alerts) == ((as_of - cutoff).days > STALE_CUTOFF_DAYS)

    sites_csv = next(v for k, v in replies.items() if k.startswith(f"{ids.SITES_CSV}."))
    rows = _csv_download(sites_csv, ids.SITES_DOWNLOAD)
    assert len(rows) == len(trial.sites)
    assert sum(int(r["randomized"]) for r in rows) == total_randomized
    accrual_csv = next(v for k, v in replies.items() if k.startswith(f"{ids.ACCRUAL_CSV}."))
    accrual_rows = _csv_download(accrual_csv, ids.ACCRUAL_DOWNLOAD)
    if as_of >= trial.start:
        assert int(accrual_rows[-1]["randomized"]) == total_randomized
        assert int(accrual_rows[-1]["screened"]) == total_screened
    else:
        assert accrual_rows == []

    # Every figure builder, validated by plotly, on the same numbers.
    table = site_table(data.sites, data.geocodes, data.enrollment, as_of, trial.start)
    assert int(table["randomized"].sum()) == total_randomized
    site_bar_figure(table, selected=[site_id])
    activation_figure(table, as_of=as_of, trial_start=trial.start, selected=[site_id])
    site_map_figure(table, status_counts(data.sites), selected=[site_id])
    series = accrual_series(data.enrollment, trial.start, as_of)
    accrual_figure(
        series,
        target=trial.target,
        start_date=trial.start,
        planned_completion_date=data.trial.planned_completion_date,
        last_patient_in_date=data.trial.last_patient_in_date,
        as_of=as_of,
        randomized=total_randomized,
    )
    # Inconsistent activation dates are flagged, never hidden.
    for row in table.itertuples():
        first = min(
            (
                p.randomization
                for p in trial.patients
                if p.site_id == row.site_id and p.randomization and p.randomization <= as_of
            ),
            default=None,
        )
        activation = next(s for s in trial.sites if s.site_id == row.site_id)
        act = activation.activation or (
            activation.synthetic_activation if trial.synthetic else None
        )
        late = act is not None and first is not None and act > first
        assert ("activation date after first randomization" in row.flag) == late
