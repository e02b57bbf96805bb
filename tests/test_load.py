"""A small version of bench/bench_load.py: README's gunicorn command under concurrent as-of changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import http_load as bench


@pytest.mark.slow
def test_gunicorn_two_workers_answer_concurrent_as_of_changes_without_error(data_dir: Path):
    with bench.gunicorn(data_dir) as server:  # README's production command
        result = bench.run_load(server.url, clients=5, requests_per_client=4, time_limit=240)
    assert result["errors"] == 0, result["error_samples"]
    assert result["requests"] == 20


def test_callback_body_is_what_the_renderer_sends():
    dep = {
        "output": "..a.children...b.figure..",
        "inputs": [{"id": "as-of-date", "property": "value"}, {"id": "f", "property": "value"}],
        "state": [{"id": "s", "property": "data"}],
    }
    body = bench.callback_body(dep, "2024-01-31")
    assert body["outputs"] == [
        {"id": "a", "property": "children"},
        {"id": "b", "property": "figure"},
    ]
    assert body["inputs"][0]["value"] == "2024-01-31"
    assert body["changedPropIds"] == ["as-of-date.value"]
