"""Work done once per data version: whatever does not depend on the as-of date.

The counts index (:mod:`dashboard.cumulative`), the map's frame and marker positions,
the sites' labels: a new as-of date reuses them; a new data version (a new
:class:`~dashboard.store.TrialData` object) builds them again. Entries hold their data
object, so a freed object whose ``id()`` is reused never gets another's results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import cachetools

from ..store import TrialData

T = TypeVar("T")

#: Data versions kept: the one in service and the one before it (a request in flight
#: during a reload), and a little room for tests that load several data dirs. Each keeps
#: its data object and everything made from it alive, so the bound counts versions, not
#: entries.
VERSIONS_KEPT = 4

_versions: cachetools.LRUCache[tuple[int, str], tuple[TrialData, dict[str, Any]]] = (
    cachetools.LRUCache(maxsize=VERSIONS_KEPT)
)
_lock = threading.Lock()


def once_per_version(data: TrialData, name: str, make: Callable[[TrialData], T]) -> T:
    """``make(data)``, computed once per data version and ``name``.

    Two threads asking at once may both compute it; both get a correct result and the
    last one is kept (cheaper than holding a lock while the patients are indexed).
    """
    key = (id(data), data.version)
    with _lock:
        entry = _versions.get(key)
        if entry is None or entry[0] is not data:
            entry = (data, {})
            _versions[key] = entry
        made = entry[1]
        if name in made:
            return made[name]
    value = make(data)
    with _lock:
        made[name] = value
    return value


def versions_kept() -> int:
    """How many data versions hold results now (at most :data:`VERSIONS_KEPT`)."""
    with _lock:
        return len(_versions)
