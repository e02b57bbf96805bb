"""The forecast's companion process (dashboard.page.forecast_process): same replies, only
sooner; any failure of the companion costs time, never a forecast; it never outlives its
worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.app import create_app
from dashboard.page.forecast_process import ForecastProcess, forecast_process_from_environment
from dashboard.page.shared_replies import cache_dir
from dashboard.page.view_model import PendingForecast, page_numbers, run_forecast
from dashboard.store import load_trial_data
from tests import http_load
from tests.http_load import AS_OF_INPUT, MAP_OUTPUT, callback_body

DATES = ["2023-09-14", "2024-03-02", "2024-06-12", "2024-11-30", "2025-05-20", "2025-10-01"]


def _client_and_dep(app):
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(
        d
        for d in deps
        if AS_OF_INPUT in [(i["id"], i["property"]) for i in d["inputs"]]
        and MAP_OUTPUT in d["output"]
    )
    return client, dep


def _fresh_app(data_dir, companion: bool):
    """An app over ``data_dir`` that computes every reply (none kept by an earlier app)."""
    shutil.rmtree(cache_dir(data_dir), ignore_errors=True)
    return create_app(data_dir, auth=None, warm_up=False, forecast_process=companion)


def _replies(app, dates, before=None):
    client, dep = _client_and_dep(app)
    out = []
    for day in dates:
        if before:
            before()
        reply = client.post("/_dash-update-component", json=callback_body(dep, day))
        assert reply.status_code == 200
        out.append(json.loads(reply.data))
    return out


def _wait_ready(forecasts: ForecastProcess, data, timeout: float = 120) -> None:
    """Until the companion holds ``data``'s version (the first request starts it)."""
    forecasts.submit(data, data.data_cutoff)  # starts it and asks for the version
    deadline = time.monotonic() + timeout
    while forecasts._ready != data.version:
        assert time.monotonic() < deadline, "the companion never loaded the data"
        time.sleep(0.05)


def _with_and_without(data_dir: Path, dates: list[str]) -> tuple[list, list, int]:
    """Replies to ``dates`` from an app that forecasts itself, then from one whose
    companion is ready; and how many forecasts the companion answered."""
    expected = _replies(_fresh_app(data_dir, False), dates)
    app = _fresh_app(data_dir, True)
    forecasts = app._dashboard_forecasts
    try:
        _wait_ready(forecasts, app._dashboard_store.get())
        return expected, _replies(app, dates), forecasts.answered
    finally:
        forecasts.close()


def test_the_companion_answers_with_the_same_replies(data_dir):
    expected, got, answered = _with_and_without(data_dir, DATES)
    assert answered >= len(DATES)  # computed there, not here
    assert got == expected


def _data_the_demo_lacks(kind: str, root: Path) -> Path:
    """A first-day French Excel export with no activation dates typed, or another trial
    (NCT09000015: 15 sites in 8 countries), each imported by the CLI as a user would."""
    from click.testing import CliRunner

    from dashboard.cli import main
    from dashboard.datadir import SHIPPED_DATA_DIR
    from tests.helpers import CUTOFF, french_excel_csv

    runner = CliRunner()
    data = root / "data"
    if kind == "no activation dates":
        shutil.copytree(SHIPPED_DATA_DIR, data, ignore=shutil.ignore_patterns(".*", "*.tmp"))
        export = root / "export.csv"
        export.write_bytes(french_excel_csv())
        steps = [["import-enrollment", str(export), "--cutoff", CUTOFF]]
    else:
        records = Path(__file__).parent / "data"
        runner.invoke(
            main,
            ["init", str(data), "--registry", str(records / "registry" / "NCT09000015.json")],
            catch_exceptions=False,
        )
        steps = [
            ["import-enrollment", str(records / "NCT09000015-export.csv"), "--cutoff", "2025-09-30"]
        ]
    for args in steps:
        result = runner.invoke(main, [*args, "--data-dir", str(data)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return data


@pytest.mark.parametrize("kind", ["no activation dates", "another trial"])
def test_the_companion_answers_the_same_on_data_the_demo_lacks(kind, tmp_path):
    """Before the start, early, at the cut-off and a year after it."""
    data_dir = _data_the_demo_lacks(kind, tmp_path)
    data = load_trial_data(data_dir)
    start, cutoff = data.trial.start_date, data.data_cutoff
    dates = [
        (start - dt.timedelta(days=30)).isoformat(),
        (start + dt.timedelta(days=200)).isoformat(),
        cutoff.isoformat(),
        (cutoff + dt.timedelta(days=400)).isoformat(),
    ]
    expected, got, answered = _with_and_without(data_dir, dates)
    # The cut-off is the default date: its numbers were made with the app's layout.
    assert answered >= len(dates) - 1
    assert got == expected
    assert "Traceback" not in json.dumps(got)


def test_a_killed_companion_costs_time_not_the_forecast(data_dir):
    expected = _replies(_fresh_app(data_dir, False), DATES[:3])
    app = _fresh_app(data_dir, True)
    forecasts = app._dashboard_forecasts
    try:
        _wait_ready(forecasts, app._dashboard_store.get())
        pid = forecasts.pid()
        assert pid is not None and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        got = _replies(app, DATES[:3])
    finally:
        forecasts.close()
    assert got == expected
    text = json.dumps(got)
    assert "Forecast unavailable" not in text and "Traceback" not in text


def test_a_pending_forecast_falls_back_when_the_runner_fails():
    from concurrent.futures import Future

    failures = []

    class Runner:
        def submit(self, data, as_of):  # pragma: no cover - not called here
            raise AssertionError

        def failed(self):
            failures.append(True)

    broken: Future = Future()
    broken.set_exception(RuntimeError("gone"))
    pending = PendingForecast(lambda: ("computed here", None), broken, Runner())  # type: ignore[arg-type]
    assert pending.result() == ("computed here", None)
    assert failures == [True]
    unanswered: Future = Future()
    unanswered.set_result(None)  # the companion did not hold the version
    assert PendingForecast(lambda: ("here", None), unanswered).result() == ("here", None)


def test_page_numbers_wait_for_the_runner_only_when_the_forecast_is_read(data_dir):
    data = load_trial_data(data_dir)
    day = dt.date(2024, 6, 12)
    expected = run_forecast(data, day)
    forecasts = ForecastProcess(data_dir, None)
    try:
        _wait_ready(forecasts, data)
        numbers = page_numbers(data, day, runner=forecasts)
        assert numbers.table is not None  # counted while the forecast ran elsewhere
        assert numbers.forecast is not None and expected[0] is not None
        assert numbers.forecast.to_json() == expected[0].to_json()
        assert forecasts.answered == 1
    finally:
        forecasts.close()


def test_a_new_data_version_is_forecast_here_until_the_companion_holds_it(data_dir):
    data = load_trial_data(data_dir)
    forecasts = ForecastProcess(data_dir, None)
    try:
        _wait_ready(forecasts, data)
        (data_dir / "sites.csv").touch()  # a new version (new mtime)
        os.utime(data_dir / "sites.csv", (time.time() + 5, time.time() + 5))
        newer = load_trial_data(data_dir)
        assert newer.version != data.version
        assert forecasts.submit(newer, dt.date(2024, 6, 12)) is None  # not held yet
        _wait_ready(forecasts, newer)
        assert forecasts.submit(newer, dt.date(2024, 6, 12)) is not None
    finally:
        forecasts.close()


def test_switched_off_by_the_environment(monkeypatch):
    for value, on in (("0", False), ("off", False), ("no", False), ("1", True), ("", True)):
        monkeypatch.setenv("RECRUITMENT_DASHBOARD_FORECAST_PROCESS", value)
        assert forecast_process_from_environment() is on
    forecasts = ForecastProcess(".", None, enabled=False)
    assert forecasts.submit(None, dt.date(2024, 1, 1)) is None  # type: ignore[arg-type]
    assert forecasts.pid() is None


def _alive(pid: int) -> bool:
    try:
        return b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower()
    except OSError:
        return False


def test_the_companion_ends_when_its_worker_is_killed(data_dir):
    """A worker killed outright (no atexit) leaves no companion behind."""
    script = (
        "import sys, time, datetime as dt\n"
        "from dashboard.app import create_app\n"
        "app = create_app(sys.argv[1], auth=None, warm_up=False, forecast_process=True)\n"
        "forecasts, data = app._dashboard_forecasts, app._dashboard_store.get()\n"
        "forecasts.submit(data, data.data_cutoff)\n"
        "print(forecasts.pid(), flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir)], env=env, stdout=subprocess.PIPE
    )
    try:
        assert worker.stdout is not None
        companion = int(worker.stdout.readline())
        assert _alive(companion)
        # The companion, and multiprocessing's resource tracker beside it.
        helpers = http_load.descendants(worker.pid)
        assert companion in helpers
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in helpers if _alive(pid)]


@pytest.mark.slow
def test_gunicorn_preload_workers_keep_their_own_companion_and_none_outlives_them(
    data_dir, monkeypatch
):
    """With ``--preload`` the app is made in the master: the master keeps no companion,
    each worker starts its own on its first request, and all end with the server."""
    monkeypatch.setenv("RECRUITMENT_DASHBOARD_FORECAST_PROCESS", "1")
    with http_load.gunicorn(data_dir, workers=2, extra=("--preload",)) as server:
        dep = http_load.main_callback(server.url)
        for day in DATES:
            status, body = http_load._post(
                server.url + "/_dash-update-component", callback_body(dep, day)
            )
            assert status == 200 and b'"response"' in body
        master = server.pid
        tree = http_load.descendants(master)
        # The master's own children include a companion it would have started, so the
        # workers are told by their command line, not by being the master's children.
        workers = [pid for pid in tree if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        spawned = {
            pid for pid in tree if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        }
        assert len(workers) == 2
        assert spawned, "no worker started a companion"
        for pid in spawned:  # each is a worker's, none the master's
            assert http_load.parent_pid(pid) in workers
    time.sleep(1.5)
    assert not [pid for pid in spawned if _alive(pid)]


def test_the_companion_prepares_and_freezes_each_version_it_loads(data_dir):
    """A loaded version stays until the next: its forecast inputs are indexed before the
    first date is asked, and it is frozen, never walked by a full collection in the middle
    of a forecast (run in a process of its own, as the companion is)."""
    code = (
        "import gc, sys\n"
        "from dashboard.page.forecast_process import _load, _loaded\n"
        "from dashboard.page.per_version import once_per_version\n"
        "from dashboard.store import load_trial_data\n"
        "version = load_trial_data(sys.argv[1]).version\n"
        "assert _load(sys.argv[1], version)\n"
        "def again(data):\n"
        "    raise AssertionError('the forecast inputs were not prepared at load')\n"
        "once_per_version(_loaded[version], 'forecast_inputs', again)\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen, tracked = (int(x) for x in out.stdout.split())
    assert frozen > 20_000
    assert tracked < frozen / 20


def test_closing_stops_the_companion_itself(data_dir):
    """close() asks the companion to stop: it ends on its own (exit code 0), where one
    that never heard it would only be terminated after the wait (-SIGTERM)."""
    data = load_trial_data(data_dir)
    forecasts = ForecastProcess(data_dir, None)
    _wait_ready(forecasts, data)
    process = forecasts._process
    assert process is not None and process.is_alive()
    forecasts.close()
    assert process.exitcode == 0
    assert forecasts.pid() is None
