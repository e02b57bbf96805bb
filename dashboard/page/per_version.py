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
#: during a reload), and a little room for tests that load several data dirs.
VERSIONS_KEPT = 4

_entries: cachetools.LRUCache[tuple[int, str, str], tuple[TrialData, Any]] = cachetools.LRUCache(
    maxsize=VERSIONS_KEPT * 8
)
_lock = threading.Lock()


def once_per_version(data: TrialData, name: str, make: Callable[[TrialData], T]) -> T:
    """``make(data)``, computed once per data version and ``name``.

    Two threads asking at once may both compute it; both get a correct result and the
    last one is kept (cheaper than holding a lock while a figure skeleton is built).
    """
    key = (id(data), data.version, name)
    with _lock:
        hit = _entries.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    value = make(data)
    with _lock:
        _entries[key] = (data, value)
    return value
