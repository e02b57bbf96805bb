"""`init`: a new trial's data dir in one command, from a file or from a local API v2 server."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.page.components.alerts import alerts
from dashboard.store import load_trial_data

DATA = Path(__file__).parent / "data"
MULTI = DATA / "registry" / "NCT09000015.json"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@contextmanager
def registry_server(studies: dict[str, bytes]) -> Iterator[tuple[str, list[str]]]:
    """A loopback server speaking the ClinicalTrials.gov API v2 ``/studies/{nctId}``."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            paths.append(self.path)
            prefix = "/api/v2/studies/"
            body = studies.get(self.path[len(prefix) :]) if self.path.startswith(prefix) else None
            if body is None:
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b'{"message": "not found"}')
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v2", paths
    finally:
        server.shutdown()
        server.server_close()


def _sites(data_dir: Path) -> list[dict[str, str]]:
    with (data_dir / "sites.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_init_from_a_file_makes_a_ready_data_dir(tmp_path):
    target = tmp_path / "orkids"
    result = run("init", str(target), "--registry", str(MULTI))
    assert result.exit_code == 0, result.output
    assert (target / "registry" / "NCT09000015.json").exists()
    assert len(_sites(target)) == 15
    with (target / "geocodes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and all(r["lat"] and r["lon"] for r in rows)
    assert not (target / "enrollment.csv").exists()
    data = load_trial_data(target, strict=True)
    assert data.trial.nct_id == "NCT09000015"
    shown = alerts(data, (), data.trial.start_date)
    assert [a.id for a in shown] == ["no-enrollment"]
    assert "import-enrollment" in str(shown[0].children)


def test_init_from_the_registry_api(tmp_path):
    body = MULTI.read_bytes()
    with registry_server({"NCT09000015": body}) as (api, asked):
        target = tmp_path / "fetched"
        result = run("init", str(target), "--nct", "NCT09000015", "--api-url", api)
    assert result.exit_code == 0, result.output
    assert asked == ["/api/v2/studies/NCT09000015"]
    stored = json.loads((target / "registry" / "NCT09000015.json").read_text(encoding="utf-8"))
    assert stored == json.loads(body)
    assert len(_sites(target)) == 15


def test_init_unknown_study_and_offline_are_clear_errors(tmp_path):
    with registry_server({}) as (api, _):
        result = run("init", str(tmp_path / "a"), "--nct", "NCT09999999", "--api-url", api)
    assert result.exit_code == 1
    assert "no such study" in result.output and "NCT09999999" in result.output
    assert not (tmp_path / "a").exists()
    # Nothing listens on a port just closed: the machine is "offline" for this URL.
    with registry_server({}) as (api, _):
        pass
    result = run("init", str(tmp_path / "b"), "--nct", "NCT09000015", "--api-url", api)
    assert result.exit_code == 1
    assert "cannot reach the registry" in result.output and "--registry" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("bad", ["../../etc/passwd", "NCT0478985", "NCT047898500", "nct/../x"])
def test_init_refuses_a_malformed_nct_id_before_any_request(tmp_path, bad):
    with registry_server({}) as (api, asked):
        result = run("init", str(tmp_path / "x"), "--nct", bad, "--api-url", api)
    assert result.exit_code == 1
    assert "NCT followed by 8 digits" in result.output
    assert asked == []


def test_init_refuses_a_non_empty_directory_and_keeps_it(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    result = run("init", str(target), "--registry", str(MULTI))
    assert result.exit_code == 1 and "not empty" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_registry_import_into_an_empty_directory_still_works(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    result = run("registry", "import", str(MULTI), "--data-dir", str(target))
    assert result.exit_code == 0, result.output
    assert len(_sites(target)) == 15
