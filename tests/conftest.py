"""Shared fixtures: the shipped data dir and throw-away copies of it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths

#: The registry record the shipped study JSON was built from; kept inside the repository so
#: a clone with nothing beside it passes the suite.
TEST_DATA_DIR = Path(__file__).resolve().parent / "data"
REGISTRY_RECORD = TEST_DATA_DIR / "NCT04789850-registry-record.txt"

# The background warm-up (dashboard.page.warmup) stays off in tests unless a test turns it
# on: an app started for a test must not start a process computing 12 dates beside it.
os.environ.setdefault("RECRUITMENT_DASHBOARD_WARM_UP", "0")
# Likewise the forecast's companion process (dashboard.page.forecast_process): hundreds of
# apps are created in tests; the browser page fixture and test_forecast_process turn it on.
os.environ.setdefault("RECRUITMENT_DASHBOARD_FORECAST_PROCESS", "0")


@pytest.fixture(autouse=True, scope="session")
def _temporary_files_in_the_test_area(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every temporary file of the session, this process's and its children's (servers,
    Chromium), under pytest's own temporary area, which pytest removes in turn.

    Why: each app keeps its held uploads in a folder of the system's temporary area named
    after its data dir (:func:`dashboard.pending_uploads.default_upload_dir`); a run of
    the suite creates hundreds of data dirs, and left as many folders in /tmp.
    """
    place = tmp_path_factory.mktemp("tmp")
    before = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(place), str(place)
    yield place
    if before[0] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = before[0]
    tempfile.tempdir = before[1]


@pytest.fixture
def shipped_data_dir() -> Path:
    return SHIPPED_DATA_DIR


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped data dir (registry, sites, geocodes, demo enrollment)."""
    target = tmp_path / "data"
    shutil.copytree(
        SHIPPED_DATA_DIR,
        target,
        # .cache: the replies a server over the shipped data kept (not data)
        ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl", ".cache"),
    )
    return target


@pytest.fixture
def data_paths(data_dir: Path) -> DataPaths:
    return DataPaths(data_dir)
