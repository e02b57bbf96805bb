"""Issue 17: the 12 recent weekly as-of dates are computed in the background, into a cache
every worker of the data dir shares; what it serves is byte for byte what the callback
computes, a data change never reuses it, a broken cache never breaks the page, and no
warm-up process outlives the server."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from dashboard.app import create_app
from dashboard.datadir import DataPaths
from dashboard.page import ids
from dashboard.page.shared_replies import SharedReplies, cache_dir, pack, unpack
from dashboard.page.warmup import Warmer, recent_weeks, run, settings_name, warm_status
from dashboard.store import fingerprint, load_trial_data
from tests import http_load
from tests.http_load import callback_body

PATHS = 200  # forecast paths: the replies' content does not matter here, only their bytes
#: The shipped data's cut-off is 2025-11-20 (dataset.json); the 11 Thursdays before it.
SHIPPED_WEEKS = [dt.date(2025, 11, 20) - dt.timedelta(days=7 * k) for k in range(12)]


def bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def poster(app):
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(
        d
        for d in deps
        if "site-map.figure" in d["output"] and any(i["id"] == ids.AS_OF for i in d["inputs"])
    )

    def post(as_of: str) -> bytes:
        response = client.post("/_dash-update-component", json=callback_body(dep, as_of))
        assert response.status_code == 200
        return response.get_data()

    return post


def wait_warm(data_dir: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = warm_status(data_dir, PATHS)
        if status and status.get("done"):
            return status
        time.sleep(0.2)
    raise AssertionError("the warm-up did not finish")


def computed(data_dir: Path, tmp_path: Path, as_of: str) -> bytes:
    """The reply of an app over a copy of the data (same files, same mtimes: the same data
    version) with no cache at all: computed by the callback."""
    copy = tmp_path / f"fresh-{as_of}"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns(".cache", ".lock"))
    assert fingerprint(DataPaths(copy)) == fingerprint(DataPaths(data_dir))
    return poster(create_app(copy, auth=None, forecast_paths=PATHS, warm_up=False))(as_of)


def test_recent_weeks_are_the_default_date_and_the_eleven_weeks_before(shipped_data_dir):
    data = load_trial_data(shipped_data_dir)
    assert recent_weeks(data) == SHIPPED_WEEKS
    assert recent_weeks(data, dt.date(2025, 1, 9))[-1] == dt.date(2024, 10, 24)
    # Near the end of the allowed range (cut-off + 5 years): the dates past it are left out.
    latest = dt.date(2030, 11, 20)
    assert recent_weeks(data, latest + dt.timedelta(days=14)) == [
        latest + dt.timedelta(days=14 - 7 * k) for k in range(2, 12)
    ]


def test_the_warm_up_computes_the_twelve_weeks_for_every_worker(data_dir, tmp_path):
    app = create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=True)
    warmer = app._dashboard_warmer
    status = wait_warm(data_dir)
    assert status["dates"] == [d.isoformat() for d in SHIPPED_WEEKS]
    assert warmer.wait(timeout=60) == 0  # the process ends when its work is done
    shared = SharedReplies(data_dir, settings_name(PATHS))
    data = load_trial_data(data_dir)
    for day in SHIPPED_WEEKS:
        assert shared.get(shared.key(data, day, True)) is not None

    # A second app (another worker) serves them: what the callback computes. (As JSON:
    # Dash orders a component's aria-* props by the process's string hash seed, so two
    # processes, like two gunicorn workers, word the same reply in another key order;
    # within one process the bytes are the same: next test.)
    other = poster(create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=False))
    for day in ("2025-11-13", "2025-09-04"):
        assert json.loads(other(day)) == json.loads(computed(data_dir, tmp_path, day))

    # ... and from the shared cache, not by computing again: an entry changed on purpose
    # is what it answers.
    key = shared.key(data, dt.date(2025, 10, 2), True)
    entry = shared.get(key)
    import orjson

    genuine = dict(entry)
    entry["selection_text"] = orjson.Fragment('"from the shared cache"')
    assert shared.put(key, entry)
    third = poster(create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=False))
    reply = json.loads(third("2025-10-02"))["response"]
    assert reply[ids.SELECTION_TEXT]["children"] == "from the shared cache"

    # A worker started after the warm-up copies the 12 replies into its own cache in the
    # background, so even its first ask of them is a local hit: here the entry as it was
    # when copied, though the shared one has been put back meanwhile.
    fourth_app = create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=True)
    deadline = time.monotonic() + 60
    while data.version not in fourth_app._dashboard_warmer.adopted:
        assert time.monotonic() < deadline, "the warmed replies were not adopted"
        time.sleep(0.1)
    assert not fourth_app._dashboard_warmer.running()  # done already: no process started
    assert shared.put(key, genuine)
    reply = json.loads(poster(fourth_app)("2025-10-02"))["response"]
    assert reply[ids.SELECTION_TEXT]["children"] == "from the shared cache"
    shared.close()


def test_a_warmed_reply_is_byte_for_byte_the_computed_one(data_dir, tmp_path):
    done = run(data_dir, PATHS)  # the warm-up's work, in this process (same hash seed)
    assert done == SHIPPED_WEEKS
    served = poster(create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=False))
    for day in ("2025-11-20", "2025-10-23"):
        assert served(day) == computed(data_dir, tmp_path, day)
    assert run(data_dir, PATHS) == []  # done already: nothing computed again


def test_one_warm_up_at_a_time_per_data_dir(data_dir):
    data = load_trial_data(data_dir)
    first = Warmer(data_dir, SharedReplies(data_dir, settings_name(PATHS)), PATHS)
    second = Warmer(data_dir, SharedReplies(data_dir, settings_name(PATHS)), PATHS)
    try:
        first.start(data.version)
        assert first.running()
        second.start(data.version)  # the first one holds the lock
        assert not second.running()
        assert first.wait(timeout=120) == 0
        second.start(data.version)  # done: nothing to start
        assert not second.running()
    finally:
        first.stop()
        second.stop()


def test_a_data_change_is_warmed_anew_and_never_served_old_replies(data_dir, tmp_path):
    app = create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=True)
    wait_warm(data_dir)
    app._dashboard_warmer.wait(timeout=60)
    post = poster(app)
    before = post("2025-11-13")
    with open(data_dir / "enrollment.csv", "a", encoding="utf-8") as handle:
        handle.write("NEW-0001,02,2025-11-01,2025-11-10,RANDOMIZED\n")
    bump(data_dir / "enrollment.csv")
    after = post("2025-11-13")  # the store sees the new version: a new warm-up starts
    assert json.loads(after) != json.loads(before)
    fresh = computed(data_dir, tmp_path, "2025-11-13")
    assert json.loads(after) == json.loads(fresh)  # the new data's reply, not a stale one
    status = wait_warm(data_dir)
    assert status["dates"] == [d.isoformat() for d in SHIPPED_WEEKS]
    app._dashboard_warmer.wait(timeout=60)
    other = poster(create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=False))
    fresh = computed(data_dir, tmp_path, "2025-10-16")
    assert json.loads(other("2025-10-16")) == json.loads(fresh)


@pytest.mark.parametrize("damage", ["garbage database", "cache folder is a file", "bad entry"])
def test_a_broken_cache_folder_does_not_break_the_page(data_dir, tmp_path, damage):
    folder = cache_dir(data_dir)
    expected = computed(data_dir, tmp_path, "2025-11-13")
    if damage == "garbage database":
        folder.mkdir(parents=True)
        (folder / "cache.db").write_bytes(b"not a database" * 100)
    elif damage == "cache folder is a file":
        folder.parent.mkdir(parents=True)
        folder.write_bytes(b"in the way")
    else:
        shared = SharedReplies(data_dir, settings_name(PATHS))
        key = shared.key(load_trial_data(data_dir), dt.date(2025, 11, 13), True)
        shared.set_raw(key, pack({"map": __import__("orjson").Fragment("{}")})[:-1])
        shared.close()
    # A file in the way of the cache folder is also in the way of the warm-up's lock.
    blocked = damage == "cache folder is a file"
    app = create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=blocked)
    post = poster(app)
    assert post("2025-11-13") == expected
    assert post("2025-11-13") == expected  # and again, from this worker's own cache
    if blocked:
        time.sleep(1)
        assert not app._dashboard_warmer.running() and not _warm_up_processes(data_dir)


def test_entries_that_are_not_exactly_packed_replies_are_misses():
    import dash
    import orjson

    outputs = {"a": orjson.Fragment('{"x":1}'), "b": dash.no_update}
    blob = pack(outputs)
    back = unpack(blob)
    assert orjson.dumps(back["a"]) == b'{"x":1}' and back["b"] is dash.no_update
    for bad in (blob[:-1], blob + b"x", b"replies/1\n[[1,2]]\n", b"other", None, "text"):
        assert unpack(bad) is None


def test_the_cache_is_not_served_and_not_data(data_dir):
    app = create_app(data_dir, auth=None, forecast_paths=PATHS, warm_up=False)
    before = fingerprint(DataPaths(data_dir))
    poster(app)("2025-11-13")
    db = cache_dir(data_dir) / "cache.db"
    assert db.exists()
    assert fingerprint(DataPaths(data_dir)) == before  # not part of the data version
    client = app.server.test_client()
    for url in ("/.cache/replies/cache.db", "/data/.cache/replies/cache.db", "/assets/../.cache"):
        response = client.get(url)
        assert response.status_code != 200 or response.get_data() != db.read_bytes()


def _warm_up_processes(data_dir: Path) -> list[int]:
    """Pids of warm-up processes of ``data_dir`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"dashboard.page.warmup" in cmdline and str(data_dir).encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_gunicorn_workers_share_one_warm_up_and_none_outlives_the_server(data_dir, monkeypatch):
    monkeypatch.setenv("RECRUITMENT_DASHBOARD_WARM_UP", "1")
    seen: set[int] = set()
    with http_load.gunicorn(data_dir, workers=2) as server:
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            running = _warm_up_processes(data_dir)
            assert len(running) <= 1
            seen.update(running)
            time.sleep(0.05)
        assert seen, "no warm-up process was started"
        dep = http_load.main_callback(server.url)
        status, body = http_load._post(
            server.url + "/_dash-update-component", callback_body(dep, "2025-11-13")
        )
        assert status == 200 and b'"response"' in body
    time.sleep(1.5)
    assert not _warm_up_processes(data_dir)
    for pid in seen:
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"zombie" in Path(f"/proc/{pid}/status").read_bytes().lower()
        )


def test_a_warm_up_ends_when_its_worker_is_killed(data_dir):
    """A worker killed outright (no atexit, no signal to its group) leaves no warm-up."""
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from dashboard.app import create_app\n"
        "create_app(sys.argv[1], auth=None, warm_up=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    worker = subprocess.Popen([sys.executable, "-c", script, str(data_dir)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not _warm_up_processes(data_dir):
            assert time.monotonic() < deadline and worker.poll() is None, "no warm-up started"
            time.sleep(0.1)
        started = _warm_up_processes(data_dir)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 10
    while _warm_up_processes(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _warm_up_processes(data_dir), started
