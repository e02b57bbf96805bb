"""Starting a new trial in one command: a data dir with its registry record, sites and points.

``recruitment-dashboard init DIR --registry FILE.json`` (or ``--nct NCT…``, fetching the
ClinicalTrials.gov API v2 study JSON) makes a ready data dir: the record, ``sites.csv``,
offline geocodes (registry geoPoints, else the gazetteer) and no enrollment yet. The
page then shows the sites and says what to do next (import an export, or a demo).
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .datadir import DataPaths
from .geocode import run_geocode
from .imports import import_registry
from .registry import NCT_ID_PATTERN, RegistryError, parse_study

#: The public ClinicalTrials.gov API (v2); ``--api-url`` points at a mirror.
DEFAULT_API_URL = "https://clinicaltrials.gov/api/v2"
FETCH_TIMEOUT_S = 30.0
#: A study JSON is a few hundred kB at most; more is not a study.
MAX_STUDY_BYTES = 20_000_000


class InitError(ValueError):
    """The data dir cannot be made as asked; nothing was written."""


@dataclass(frozen=True)
class InitResult:
    nct_id: str
    n_sites: int
    geocode_summary: str


def check_nct_id(nct_id: str) -> str:
    """The id as typed, checked before it is used in a URL or a file name."""
    value = nct_id.strip().upper()
    if not NCT_ID_PATTERN.fullmatch(value):
        raise InitError(f"--nct {nct_id[:40]!r}: expected NCT followed by 8 digits")
    return value


def fetch_study(
    nct_id: str, api_url: str = DEFAULT_API_URL, timeout: float = FETCH_TIMEOUT_S
) -> bytes:
    """The API v2 study JSON of ``nct_id`` (``GET {api_url}/studies/{nct_id}``)."""
    nct_id = check_nct_id(nct_id)
    if not api_url.startswith(("http://", "https://")):
        raise InitError(f"--api-url {api_url!r}: expected http(s)://host[/path]")
    url = f"{api_url.rstrip('/')}/studies/{nct_id}"
    request = urllib.request.Request(
        url,
        headers={
            "Accept": "application/json",
            "User-Agent": f"recruitment-dashboard/{__version__}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_STUDY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise InitError(f"{url}: no such study (HTTP 404); check the NCT id") from exc
        raise InitError(f"{url}: the registry answered HTTP {exc.code}; try again later") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InitError(
            f"{url}: cannot reach the registry ({reason}). Offline? Download the study JSON "
            "elsewhere and use --registry FILE.json."
        ) from exc
    if len(body) > MAX_STUDY_BYTES:
        raise InitError(f"{url}: answer larger than {MAX_STUDY_BYTES:,} bytes; not a study JSON")
    return body


def _empty_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise InitError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise InitError(
            f"{target}: not empty; init only makes a new data dir "
            "(use `registry import` to update an existing one)"
        )


def init_data_dir(
    target: Path,
    *,
    registry_file: Path | None = None,
    nct_id: str | None = None,
    api_url: str = DEFAULT_API_URL,
    echo: Callable[[str], None] = lambda _m: None,
) -> InitResult:
    """Make ``target`` a ready data dir for the trial of ``registry_file`` or ``nct_id``."""
    if (registry_file is None) == (nct_id is None):
        raise InitError("give exactly one of --registry FILE.json or --nct NCT…")
    target = Path(target)
    _empty_target(target)
    with tempfile.TemporaryDirectory() as scratch:
        if nct_id is not None:
            wanted = check_nct_id(nct_id)
            body = fetch_study(wanted, api_url)
            try:
                study = json.loads(body.decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InitError(f"{api_url}: the answer for {wanted} is not JSON ({exc})") from exc
            trial, _ = parse_study(study, source=f"{wanted} from {api_url}")
            if trial.nct_id != wanted:
                raise InitError(f"{api_url}: asked for {wanted}, got the record of {trial.nct_id}")
            registry_file = Path(scratch) / f"{wanted}.json"
            registry_file.write_text(json.dumps(study, ensure_ascii=False), encoding="utf-8")
        assert registry_file is not None
        # Validate before creating anything, so a bad record leaves no half-made directory.
        try:
            parse_study(
                json.loads(Path(registry_file).read_text(encoding="utf-8-sig")), str(registry_file)
            )
        except (OSError, json.JSONDecodeError) as exc:
            raise InitError(f"{registry_file}: not a readable study JSON ({exc})") from exc
        target.mkdir(parents=True, exist_ok=True)
        paths = DataPaths(target)
        nct, sites = import_registry(Path(registry_file), paths)
    summary = run_geocode(
        paths,
        offline=True,
        refresh=False,
        nominatim_url="https://nominatim.openstreetmap.org",
        min_delay=0.0,
        timeout=10.0,
        echo=echo,
    )
    return InitResult(nct, len(sites), summary)


__all__ = [
    "DEFAULT_API_URL",
    "InitError",
    "InitResult",
    "RegistryError",
    "check_nct_id",
    "fetch_study",
    "init_data_dir",
]
