"""Response compression, shared by the app and the benchmarks' bare floor app.

Kept free of the data stack (pandas, plotly) so that ``bench/bare_app.py`` stays a bare
Dash app while being served exactly as the dashboard is.
"""

from __future__ import annotations

import threading

import flask


class _CompressedBodies:
    """flask-compress cache backend: compressed library bundles, kept for the process.

    Only keys of immutable files are stored (see :func:`_compression_cache_key`); other
    keys (pages, layout, callbacks: trial data that changes) are never stored.
    """

    def __init__(self) -> None:
        self._bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self._bodies.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";"):
            with self._lock:
                self._bodies[key] = value


def _compression_cache_key(request: flask.Request) -> str:
    """The fingerprinted URL of a Dash component bundle (its content never changes for a
    URL), else "" (not cached)."""
    if request.endpoint and "/_dash-component-suites/" in request.endpoint:
        return request.full_path
    return ""


def enable_compression(server: flask.Flask) -> None:
    """Compress what the server sends, as the browser accepts (zstd, br, gzip).

    The page's scripts are ~9 MB uncompressed (plotly.js alone 4.7 MB), ~2.3 MB as zstd.
    Library bundles are compressed once per process and kept (their URLs carry their
    version); assets are compressed as they stream; pages, layout and callback answers
    are compressed each time (zstd level 3: ~0.3 ms for a 120 kB callback answer).
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
