"""Whether the served data dir loads, in words safe for a public ``/health`` answer.

``/health`` is public (load balancers and monitors probe it without credentials), so its
reason names only the kind of problem and the file's name: never a path, a cell value or
an exception's text, which can quote either.
"""

from __future__ import annotations

from .enrollment import EnrollmentError
from .geocode import GeocodeError
from .registry import RegistryError
from .sites import SitesError
from .store import LOAD_ERRORS, DataStore

_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (RegistryError, "the registry record (registry/*.json) does not load"),
    (SitesError, "sites.csv does not load"),
    (EnrollmentError, "enrollment.csv does not load"),
    (GeocodeError, "geocodes.csv does not load"),
    (
        FileNotFoundError,
        "a data file is missing (registry record, sites.csv, geocodes.csv or enrollment.csv)",
    ),
    (OSError, "a data file cannot be read"),
)


def failure_reason(exc: BaseException) -> str:
    """The kind of load failure, without anything the exception's text could carry."""
    for kind, words in _KINDS:
        if isinstance(exc, kind):
            return words
    return "the data files are not consistent"


def data_health(store: DataStore) -> str | None:
    """None when the data dir loads now; else why not (safe to publish)."""
    try:
        store.get()
    except LOAD_ERRORS as exc:
        return f"data dir not loaded: {failure_reason(exc)}"
    if store.errors:
        reason = failure_reason(store.last_failure) if store.last_failure else "invalid files"
        return f"data dir files changed and do not load ({reason}); the last good data are served"
    return None


__all__ = ["data_health", "failure_reason"]
