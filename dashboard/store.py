"""Store: loads and validates one data dir, once per data version, keeping the last good one.

The running app asks :class:`DataStore` for data on every page load and callback. The
store looks at the files' sizes and mtimes (cheap); when they changed it reloads and
validates them all, and only swaps the new version in when it is sound. An invalid data
dir (a half-copied file, an edit by hand) never replaces good data: the errors are kept
and shown as a warning while the last good version stays in service.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .datadir import DataPaths, read_dataset_meta, write_lock
from .enrollment.canonical import EnrollmentError, load_enrollment
from .geocode.geocodes import GeocodeError, load_geocodes
from .registry import RegistryError, Trial
from .sites import SitesError, load_sites
from .status_history import read_status_history
from .synthetic import read_synthetic_activation, with_synthetic_activation
from .transaction import JOURNAL_NAME, recover
from .trial_settings import SETTINGS_FILE, SettingsError, load_trial
from .viewer_warnings import symlinked_files, viewer_messages

LOAD_ERRORS = (
    RegistryError,
    SettingsError,
    SitesError,
    EnrollmentError,
    GeocodeError,
    OSError,
    ValueError,
    KeyError,
)


@dataclass(frozen=True)
class TrialData:
    """Everything the dashboard needs, loaded and cross-checked together."""

    trial: Trial
    sites: pd.DataFrame
    geocodes: pd.DataFrame
    enrollment: pd.DataFrame
    meta: dict[str, Any]
    version: str
    problems: tuple[str, ...] = field(default=())
    status_events: tuple[dict[str, Any], ...] = field(default=())

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))

    @property
    def data_cutoff(self) -> dt.date:
        """The recorded data cut-off, else the latest date in the enrollment, else the start."""
        raw = self.meta.get("data_cutoff")
        if raw:
            return dt.date.fromisoformat(raw)
        dates = pd.concat(
            [self.enrollment["screening_date"], self.enrollment["randomization_date"]]
        ).dropna()
        return dates.max().date() if len(dates) else self.trial.start_date


def cross_check(
    trial: Trial, sites: pd.DataFrame, geocodes: pd.DataFrame, enrollment: pd.DataFrame
) -> list[str]:
    """Problems that make the data dir inconsistent (used by ``validate`` and the store)."""
    problems: list[str] = []
    site_ids = set(sites["site_id"])
    unknown = sorted(set(enrollment["site_id"]) - site_ids)
    if unknown:
        problems.append(f"enrollment.csv: patients at unknown site id(s) {', '.join(unknown)}")
    if enrollment["patient_id"].duplicated().any():
        dups = enrollment.loc[enrollment["patient_id"].duplicated(), "patient_id"]
        problems.append(f"enrollment.csv: {len(dups)} duplicate patient_id value(s)")
    early = enrollment["randomization_date"] < enrollment["screening_date"]
    if early.any():
        problems.append(
            f"enrollment.csv: {int(early.sum())} patient(s) randomized before screening"
        )
    missing_geo = sorted(site_ids - set(geocodes["site_id"]))
    if missing_geo:
        problems.append(f"geocodes.csv: no point for site(s) {', '.join(missing_geo)}")
    extra_geo = sorted(set(geocodes["site_id"]) - site_ids)
    if extra_geo:
        problems.append(f"geocodes.csv: unknown site id(s) {', '.join(extra_geo)}")
    bad_points = geocodes[geocodes["lat"].isna() | geocodes["lon"].isna()]
    if len(bad_points):
        problems.append(
            f"geocodes.csv: blank coordinates for site(s) {', '.join(bad_points['site_id'])}"
        )
    return problems


@functools.lru_cache(maxsize=64)
def _data_file_names(paths: DataPaths) -> tuple[tuple[str, ...], str]:
    """The fixed data files of ``paths`` and its registry folder, as plain strings."""
    root = str(paths.root)
    fixed = (
        paths.sites,
        paths.geocodes,
        paths.enrollment,
        paths.dataset,
        paths.import_log,
        paths.synthetic_activation,
        paths.status_history,
    )
    names = [p.name for p in fixed] + [SETTINGS_FILE]
    return tuple(os.path.join(root, n) for n in names), os.path.join(root, paths.registry_dir.name)


def fingerprint(paths: DataPaths) -> str:
    """A cheap data version: names, sizes and mtimes of the data files.

    Runs on every page load and callback, so it stats with ``os`` on names computed once
    (the ``pathlib`` spelling cost more than the rest of a cached callback).
    """
    digest = hashlib.sha1()
    fixed, registry = _data_file_names(paths)
    names = list(fixed)
    try:
        with os.scandir(registry) as entries:
            names += sorted(e.path for e in entries if e.name.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        pass
    for name in names:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            digest.update(f"{os.path.basename(name)}:missing".encode())
            continue
        digest.update(f"{os.path.basename(name)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def load_trial_data(data_dir: Path | str, strict: bool = False) -> TrialData:
    """Load a data dir; raise ``ValueError`` listing problems when ``strict`` and not sound."""
    paths = DataPaths(Path(data_dir))
    version = fingerprint(paths)
    links = symlinked_files(paths)
    if links:
        raise ValueError(
            "\n".join(
                f"{name}: is a symbolic link, which is refused (copy the file in)" for name in links
            )
        )
    trial = load_trial(paths)
    sites = load_sites(paths)
    geocodes = load_geocodes(paths)
    enrollment = load_enrollment(paths)
    meta = read_dataset_meta(paths)
    if meta.get("synthetic"):
        # The demo's made-up activation dates fill the sites without a typed one.
        sites = with_synthetic_activation(sites, read_synthetic_activation(paths))
    problems = cross_check(trial, sites, geocodes, enrollment)
    if strict and problems:
        raise ValueError("\n".join(problems))
    return TrialData(
        trial,
        sites,
        geocodes,
        enrollment,
        meta,
        version,
        tuple(problems),
        read_status_history(paths),
    )


#: Data versions with at least this many patient and site rows are frozen out of the
#: collector's sight (:func:`settle_heap`) when they replace another; below it the new
#: version's own objects cost a full collection little, and the collection that settling
#: needs would cost more than it saves. (A serving process settles once anyway when its
#: app is built: :mod:`dashboard.wsgi`, ``recruitment-dashboard serve``.)
SETTLE_MIN_ROWS = 20_000


def settle_heap() -> None:
    """Collect, then freeze every object alive (:func:`gc.freeze`): once a process serving
    the app has built it, and after a large data version is loaded.

    Why: what a server keeps for its lifetime (modules, the app's layouts, the served
    data) is traversed at each full collection. A worker holds ~165,000 such objects at
    46 sites, and one full collection in ~120 new dates took ~100 ms, inside a request;
    at 2,000 sites / 200,000 patients the frames add ~170,000 more (a full collection
    every few requests, 17 ms a request on average). Frozen objects are never traversed:
    a full collection then takes ~2 ms. The previous freeze is undone first, so an old
    data version in a reference cycle is still collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class DataStore:
    """Serves the last good :class:`TrialData` of a data dir, reloading when files change."""

    def __init__(self, data_dir: Path | str):
        self.paths = DataPaths(Path(data_dir))
        self._lock = threading.Lock()
        self._data: TrialData | None = None
        self._seen_version: str | None = None
        #: What viewers are told about the data dir on disk (file, line, column, rule only;
        #: see :mod:`dashboard.viewer_warnings`); empty when the served data are current.
        self.errors: tuple[str, ...] = ()
        #: The exception of the last failed reload (None after a good one), for /health.
        self.last_failure: BaseException | None = None
        #: Called with each new good version once it is served (e.g. the background
        #: warm-up of :mod:`dashboard.page.warmup`); must be quick and never raise.
        self.listeners: list[Callable[[TrialData], None]] = []
        self._recover()

    def _recover(self) -> None:
        """Finish an import a crash left half-applied (and drop its leftovers) before the
        first load, so the server never serves new enrollment with old dataset.json."""
        with contextlib.suppress(OSError, ValueError, KeyError):  # a read-only dir: as is
            if (self.paths.root / JOURNAL_NAME).exists() or any(self.paths.root.glob(".*.staged")):
                with write_lock(self.paths):
                    recover(self.paths)

    def get(self) -> TrialData:
        version = fingerprint(self.paths)
        if version == self._seen_version and self._data is not None:
            return self._data
        fresh: TrialData | None = None
        with self._lock:
            if version == self._seen_version and self._data is not None:
                return self._data
            try:
                data = load_trial_data(self.paths.root, strict=True)
                had_patients = self._data is not None and len(self._data.enrollment)
                if had_patients and not os.path.exists(self.paths.enrollment):
                    # Deleted under a running server: 0 / 0 would read as a fact.
                    raise FileNotFoundError("enrollment.csv is missing")
            except LOAD_ERRORS as exc:
                self.last_failure = exc
                if self._data is None:
                    raise
                self.errors = viewer_messages(exc)
            else:
                self._data = data
                self.errors = ()
                self.last_failure = None
                fresh = data
                if len(data.enrollment) + len(data.sites) >= SETTLE_MIN_ROWS:
                    settle_heap()
            self._seen_version = version
        assert self._data is not None
        if fresh is not None:
            for listener in self.listeners:
                with contextlib.suppress(Exception):
                    listener(fresh)
        return self._data
