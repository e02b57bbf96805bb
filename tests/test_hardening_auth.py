"""Issue 12: failed logins are limited per client and in concurrent hash checks; odd
requests (raw bytes in Authorization, huge bodies, wrong-typed inputs) are no 500."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import pytest

from dashboard.auth_limits import CheckSlots, FailureLimiter
from dashboard.security import Auth, hash_password
from tests.http_load import callback_body

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class CountingAuth(Auth):
    """The real check, counting how many run at once (what the limit is about)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "running", [0])
        object.__setattr__(self, "peak", [0])
        object.__setattr__(self, "calls", [0])

    def verify(self, username: str, password: str) -> bool:
        with self._lock:
            self.running[0] += 1
            self.calls[0] += 1
            self.peak[0] = max(self.peak[0], self.running[0])
        try:
            return super().verify(username, password)
        finally:
            with self._lock:
                self.running[0] -= 1


def _app(data_dir: Path, auth: Auth):
    from dashboard.app import create_app

    return create_app(data_dir, auth=auth)


def test_a_client_with_many_wrong_passwords_gets_429_without_hash_checks(data_dir, password_hash):
    auth = CountingAuth({"alice": password_hash})
    client = _app(data_dir, auth).server.test_client()
    codes = [client.get("/", headers=_basic("alice", f"wrong{k}")).status_code for k in range(10)]
    assert codes == [401] * 10
    checks = auth.calls[0]
    started = time.monotonic()
    limited = [client.get("/", headers=_basic("alice", "again")) for _ in range(20)]
    assert {r.status_code for r in limited} == {429}
    assert int(limited[0].headers["Retry-After"]) > 0
    assert auth.calls[0] == checks  # no scrypt for a limited client
    assert time.monotonic() - started < 2
    # Another client is not affected; the right password from it still gets in.
    other = client.get(
        "/", headers=_basic("alice", PASSWORD), environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert other.status_code == 200


def test_concurrent_hash_checks_are_bounded(data_dir, password_hash):
    auth = CountingAuth({"alice": password_hash})
    app = _app(data_dir, auth)
    results: list[int] = []

    def attacker(k: int) -> None:
        client = app.server.test_client()
        reply = client.get(
            "/_dash-layout",
            headers=_basic("alice", "nope"),
            environ_base={"REMOTE_ADDR": f"10.0.0.{k}"},
        )
        results.append(reply.status_code)

    threads = [threading.Thread(target=attacker, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert auth.peak[0] <= 2
    assert len(results) == 12 and set(results) <= {401, 503}


def test_failure_limiter_window_and_bounded_table():
    now = [0.0]
    limiter = FailureLimiter(max_failures=3, window_s=10, max_clients=5, clock=lambda: now[0])
    for _ in range(3):
        limiter.failed("a")
    assert limiter.retry_after("a") > 0 and limiter.retry_after("b") == 0
    now[0] = 11.0
    assert limiter.retry_after("a") == 0
    for k in range(50):
        limiter.failed(f"c{k}")
    assert len(limiter) <= 5


def test_check_slots_time_out():
    slots = CheckSlots(size=1, wait_s=0.05)
    with slots.slot() as first:
        assert first
        with slots.slot() as second:
            assert not second
    with slots.slot() as again:
        assert again


@pytest.mark.parametrize(
    "header", ["Basic \xe9\xe9\xe9", "Basic \xff\xfe", "Basic ", "Basic ====", "\xe9"]
)
def test_raw_bytes_in_authorization_are_401_not_500(data_dir, password_hash, header):
    client = _app(data_dir, Auth({"alice": password_hash})).server.test_client()
    assert client.get("/", headers={"Authorization": header}).status_code == 401


def test_a_huge_body_is_refused_before_it_is_read(data_dir):
    from dashboard.app import create_app

    client = create_app(data_dir, auth=None).server.test_client()
    reply = client.post(
        "/_dash-update-component",
        data=b"{" + b" " * 5_000_000 + b"}",
        content_type="application/json",
    )
    assert reply.status_code == 413


@pytest.mark.parametrize(
    ("statuses", "selection"),
    [
        (5, None),
        ("RECRUITING", None),
        (None, [{}]),
        (None, 7),
        ([{"a": 1}], [None, 3]),
        (None, "01"),
    ],
)
def test_wrong_typed_callback_inputs_are_no_500(data_dir, statuses, selection):
    from dashboard.app import create_app

    client = create_app(data_dir, auth=None).server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "site-map.figure" in d["output"])
    body = callback_body(dep, "2025-06-30")
    for item in body["inputs"]:
        if item["id"] == "status-filter":
            item["value"] = statuses
        if item["id"] == "selected-sites":
            item["value"] = selection
    body["changedPropIds"] = ["status-filter.value"]
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code < 500, reply.get_data()[:300]


@pytest.mark.parametrize(
    ("trigger", "value"),
    [
        ("site-map.clickData", "x"),
        ("site-map.clickData", {"points": [5]}),
        ("sites-grid.cellClicked", 5),
        ("sites-grid.cellClicked", {"rowId": {"a": 1}}),
    ],
)
def test_wrong_typed_clicks_are_no_500(data_dir, trigger, value):
    from dashboard.app import create_app

    client = create_app(data_dir, auth=None).server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "selected-sites.data" in d["output"])
    body = callback_body(dep, "2025-06-30")
    for item in body["inputs"] + body["state"]:
        item["value"] = value if f"{item['id']}.{item['property']}" == trigger else None
    body["state"] = [dict(s, value=[{}]) for s in body["state"]]
    body["changedPropIds"] = [trigger]
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code < 500, reply.get_data()[:300]
