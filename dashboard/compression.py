"""Response compression, shared by the app and the benchmarks' bare floor app.

Kept free of the data stack (pandas, plotly) so that ``bench/bare_app.py`` stays a bare
Dash app while being served exactly as the dashboard is.
"""

from __future__ import annotations

import hashlib
import threading

import cachetools
import flask

#: ``flask.g`` attribute a view sets to declare that its response body is fully determined
#: by this string (see :func:`declare_body_key`).
BODY_KEY = "compression_body_key"


def declare_body_key(key: str) -> None:
    """Declare, from a view, that this request's response body is always the same bytes
    for ``key`` (and the request body): its compressed form may then be reused.

    The dashboard's as-of callback does so for answers served from its
    :class:`~dashboard.page.replies.OutputsCache` (each entry has a serial number, never reused),
    so a view seen again costs no compression either.
    """
    setattr(flask.g, BODY_KEY, key)


class _CompressedBodies:
    """flask-compress cache backend.

    Compressed library bundles are kept for the process; compressed bodies declared with
    :func:`declare_body_key` are kept in a small LRU cache (``max_dynamic`` entries). Other
    keys (pages, layout, callbacks not declared: data that changes) are never stored.
    """

    def __init__(self, max_dynamic: int = 256) -> None:
        self._bodies: dict[str, bytes] = {}
        self._dynamic: cachetools.LRUCache[str, bytes] = cachetools.LRUCache(max_dynamic)
        self.max_dynamic = max_dynamic
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            return body if body is not None else self._dynamic.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";"):
            return
        with self._lock:
            if ";declared:" in key:
                self._dynamic[key] = value
            else:
                self._bodies[key] = value


def _compression_cache_key(request: flask.Request) -> str:
    """The fingerprinted URL of a Dash component bundle (its content never changes for a
    URL); for a body declared with :func:`declare_body_key`, that key and a digest of the
    request; else "" (not cached)."""
    if request.endpoint and "/_dash-component-suites/" in request.endpoint:
        return request.full_path
    declared = getattr(flask.g, BODY_KEY, None)
    if declared is not None:
        digest = hashlib.sha1(request.get_data()).hexdigest()
        return f"declared:{declared}:{request.path}:{digest}"
    return ""


def enable_compression(server: flask.Flask) -> None:
    """Compress what the server sends, as the browser accepts (zstd, br, gzip).

    The page's scripts are ~9 MB uncompressed (plotly.js alone 4.7 MB), ~2.3 MB as zstd.
    Library bundles are compressed once per process and kept (their URLs carry their
    version); assets are compressed as they stream; pages, layout and callback answers
    are compressed each time (zstd level 3: ~0.4 ms for a 120 kB callback answer, ~8 ms
    at 2,000 sites), except bodies a view declared with :func:`declare_body_key`.
    ``bench/bare_app.py``, the floor of the page benchmarks, is served the same way.
    """
    from flask_compress import Compress

    server.config.update(
        COMPRESS_ALGORITHM=["zstd", "br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["zstd", "br", "deflate"],
        COMPRESS_CACHE_BACKEND=_CompressedBodies,
        COMPRESS_CACHE_KEY=_compression_cache_key,
    )
    Compress(server)
