"""The app under gunicorn on loopback, and Dash callback requests sent to it as a browser does.

Used by the load, production and hardening tests and by the benchmarks under bench/
(bench/bench_load.py). ``gunicorn`` starts README's production command on a free
127.0.0.1 port for a data dir; ``run_load`` has N concurrent clients each send M requests
of the main callback (the POST to ``/_dash-update-component`` the browser sends when the
as-of date changes), cycling through dates. Traffic never leaves 127.0.0.1, loops are
bounded in count and time, and gunicorn is stopped at the end.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AS_OF_INPUT = ("as-of-date", "value")
MAP_OUTPUT = "site-map.figure"


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def rss_mib(self) -> float:
        """Resident memory of the gunicorn master and every process under it (workers and
        their companion and warm-up processes) together (MiB)."""
        total_kib = 0
        for pid in [self.pid, *descendants(self.pid)]:
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        return total_kib / 1024


def parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` from /proc (None once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> set[int]:
    """Every process under ``pid`` (children, theirs, ...), from one pass over /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = parent_pid(int(entry.name))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_gunicorn_args(readme: Path = README) -> list[str]:
    """The options of README's production ``gunicorn ...`` command, without ``--bind`` and
    the app: the load runs use the very command users are told to run."""
    import shlex

    line = next(
        ln.strip()
        for ln in readme.read_text(encoding="utf-8").splitlines()
        if ln.strip().startswith("gunicorn ")
    )
    words = shlex.split(line)[1:]
    args: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--bind", "-b"):
            skip = True
        elif not word.startswith("--bind=") and not word.endswith(":server"):
            args.append(word)
    return args


@contextmanager
def gunicorn(
    data_dir: Path,
    workers: int | None = None,
    threads: int | None = None,
    app: str = "dashboard.wsgi:server",
    bind: str = "127.0.0.1",
    extra: tuple[str, ...] = (),
):
    """Run gunicorn for ``data_dir`` with README's options (``workers``/``threads`` override
    them); yield its base URL and process; always stop it."""
    port = free_port()
    env = {**os.environ, "RECRUITMENT_DASHBOARD_DATA_DIR": str(data_dir)}
    env.pop("RECRUITMENT_DASHBOARD_HTPASSWD", None)
    env.pop("RECRUITMENT_DASHBOARD_AUTH", None)
    options = readme_gunicorn_args()
    for flag, value in (("--workers", workers), ("--threads", threads)):
        if value is not None:
            if flag in options:
                options[options.index(flag) + 1] = str(value)
            else:
                options += [flag, str(value)]
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        *options,
        *extra,
        "--bind",
        f"{bind}:{port}",
        "--log-level",
        "warning",
        app,
    ]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start (exit code {proc.poll()})")
            time.sleep(0.2)
        yield Server(url, proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _post(
    url: str, body: dict[str, Any], timeout: float = 60, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def main_callback(base_url: str, output: str = MAP_OUTPUT) -> dict[str, Any]:
    """The dependency entry of the callback that redraws ``output`` for an as-of date."""
    with urllib.request.urlopen(base_url + "/_dash-dependencies", timeout=60) as resp:
        deps = json.load(resp)
    for dep in deps:
        inputs = [(i["id"], i["property"]) for i in dep["inputs"]]
        if AS_OF_INPUT in inputs and output in dep["output"]:
            return dep
    raise RuntimeError(f"no callback takes the as-of date and draws {output}")


def callback_body(dep: dict[str, Any], as_of: str) -> dict[str, Any]:
    """The JSON body Dash's renderer posts when the as-of date changes to ``as_of``."""
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append({"id": ident, "property": prop})
    defaults = {"value": [], "data": []}

    def value(item: dict[str, Any]) -> Any:
        if (item["id"], item["property"]) == AS_OF_INPUT:
            return as_of
        return defaults.get(item["property"])

    inputs = [{"id": i["id"], "property": i["property"], "value": value(i)} for i in dep["inputs"]]
    state = [{"id": s["id"], "property": s["property"], "value": value(s)} for s in dep["state"]]
    multi = dep["output"].startswith("..")
    return {
        "output": dep["output"],
        "outputs": outputs if multi else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [f"{AS_OF_INPUT[0]}.{AS_OF_INPUT[1]}"],
    }


def as_of_dates(n: int, start: dt.date = dt.date(2023, 6, 1), step_days: int = 11) -> list[str]:
    return [(start + dt.timedelta(days=step_days * k)).isoformat() for k in range(n)]


def run_load(
    base_url: str, clients: int, requests_per_client: int, time_limit: float = 600
) -> dict[str, Any]:
    """Fire the bounded load; return counts and latency percentiles (seconds)."""
    dep = main_callback(base_url)
    dates = as_of_dates(60)
    target = base_url + "/_dash-update-component"
    deadline = time.monotonic() + time_limit

    def client(k: int) -> tuple[list[float], list[str]]:
        latencies, errors = [], []
        for j in range(requests_per_client):
            if time.monotonic() > deadline:
                errors.append("time limit reached")
                break
            body = callback_body(dep, dates[(k * 7 + j) % len(dates)])
            t0 = time.perf_counter()
            try:
                status, payload = _post(target, body)
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - t0)
            if status != 200 or b'"response"' not in payload:
                errors.append(f"HTTP {status}")
        return latencies, errors

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = [e for _, errs in results for e in errs]
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": wall,
        "throughput_per_s": len(latencies) / wall if wall else float("nan"),
        "p50": q[49],
        "p95": q[94],
        "max": latencies[-1] if latencies else float("nan"),
    }
