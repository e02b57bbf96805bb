"""The main callback's encoded replies, shared by every worker of a data dir, on disk.

Each gunicorn worker keeps its own :class:`~dashboard.page.replies.OutputsCache`; a date
computed by one worker (or by the background warm-up, :mod:`dashboard.page.warmup`) is
unknown to the others. :class:`SharedReplies` keeps the complete encoded outputs of a
date change in a ``diskcache`` folder inside the data dir (``<data dir>/.cache/replies``:
same owner and permissions as the data, never under a path the app serves, never part
of the data version, the import journal or a backup), bounded in bytes.

Entries are keyed by everything the outputs depend on: the code that drew them (a
digest of the package's sources and of the plotting libraries' versions, so an upgrade
never serves old drawings), the page's settings (forecast paths), the data version
(:attr:`TrialData.version`, the same in every worker), the as-of date, whether the date
changed, the status filter, the selection and the store's error lines.

Values are plain bytes (names and JSON fragments, length-framed), never pickles: a
corrupt, truncated or foreign entry is a miss, and a cache folder that cannot be opened
leaves the page computing as before. Nothing here may break a request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import shutil
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import dash

from ..store import TrialData
from .replies import OutputsCache, names

log = logging.getLogger(__name__)

#: The cache folder of a data dir (a dot folder: not a data file; see module doc).
CACHE_DIR_NAME = ".cache"
REPLIES_DIR_NAME = "replies"

#: Default bound of the shared replies (an entry is ~0.1 MB at 46 sites, ~1-4 MB at 2,000).
DEFAULT_SIZE_LIMIT = 256 * 1024 * 1024

_PACKAGE = Path(__file__).resolve().parent.parent
_FORMAT = b"replies/1\n"


@functools.cache
def code_version() -> str:
    """A digest of the package's sources and of the drawing libraries' versions.

    The replies are drawings made by this code: after an upgrade (same data, new code)
    the old ones must not be served.
    """
    digest = hashlib.sha1()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    for name in ("dash", "plotly", "orjson", "dash-ag-grid", "dash-bootstrap-components"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{name}={metadata.version(name)}".encode())
    return digest.hexdigest()[:16]


def cache_dir(data_dir: Path | str) -> Path:
    """Where the shared replies of ``data_dir`` are kept."""
    return Path(data_dir) / CACHE_DIR_NAME / REPLIES_DIR_NAME


def status_key(code: str, settings: str, version: str) -> str:
    """Where the warm-up records which dates of a data version it has computed."""
    return "warm:" + json.dumps([code, settings, version], separators=(",", ":"))


def pack(outputs: dict[str, Any]) -> bytes | None:
    """Encoded outputs as bytes (None when one of them is not a JSON fragment or
    ``no_update``: then the reply is not shared)."""
    import orjson

    header: list[list[Any]] = []
    parts: list[bytes] = []
    for name, value in outputs.items():
        if value is dash.no_update:
            header.append([name, "n", 0])
            continue
        if not isinstance(value, orjson.Fragment):
            return None
        contents = orjson.dumps(value)  # a fragment's own text, as the reply will hold it
        if not contents.isascii():
            return None
        header.append([name, "f", len(contents)])
        parts.append(contents)
    return _FORMAT + json.dumps(header).encode() + b"\n" + b"".join(parts)


def unpack(blob: Any) -> dict[str, Any] | None:
    """The outputs :func:`pack` wrote, as ``orjson.Fragment`` s; None when ``blob`` is not
    exactly such a record (truncated, foreign, corrupt)."""
    import orjson

    if not isinstance(blob, bytes) or not blob.startswith(_FORMAT):
        return None
    try:
        end = blob.index(b"\n", len(_FORMAT))
        header = json.loads(blob[len(_FORMAT) : end])
        offset = end + 1
        outputs: dict[str, Any] = {}
        for name, kind, length in header:
            if kind == "n":
                outputs[str(name)] = dash.no_update
                continue
            if kind != "f" or not isinstance(length, int) or length < 0:
                return None
            contents = blob[offset : offset + length]
            if len(contents) != length:
                return None
            if not contents.isascii():
                return None
            outputs[str(name)] = orjson.Fragment(contents)
            offset += length
    except (ValueError, TypeError):
        return None
    return outputs if offset == len(blob) else None


def _bytes_only_disk() -> type:
    """A diskcache ``Disk`` that refuses pickled values: a cache folder anyone tampered
    with must not run code in the server."""
    import diskcache
    from diskcache.core import MODE_PICKLE

    class BytesOnlyDisk(diskcache.Disk):
        def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
            if mode == MODE_PICKLE:
                raise ValueError("pickled value in the shared replies")
            return super().fetch(mode, filename, value, read)

    return BytesOnlyDisk


class SharedReplies:
    """Complete encoded replies of the main callback, shared through ``<data dir>/.cache``.

    ``settings`` names what besides the data shapes the replies (e.g. ``"paths=10000"``);
    ``code``: :func:`code_version` when this server started (a warm-up process is handed
    its worker's, so files replaced on disk meanwhile do not part them).
    Every method swallows the cache's failures (a read-only data dir, a full disk, a
    corrupt database): the caller computes as if nothing was cached.
    """

    def __init__(
        self,
        data_dir: Path | str,
        settings: str = "",
        size_limit: int = DEFAULT_SIZE_LIMIT,
        code: str | None = None,
    ):
        self.directory = cache_dir(data_dir)
        self.settings = settings
        self.code = code or code_version()
        self.size_limit = size_limit
        self._cache: Any = None
        self._failed = False
        self._lock = threading.Lock()

    def _open(self) -> Any:
        """The diskcache, opened on first use (a corrupt one is removed and made anew once);
        None when the folder cannot be used."""
        if self._cache is not None or self._failed:
            return self._cache
        with self._lock:
            if self._cache is not None or self._failed:
                return self._cache
            import diskcache

            for attempt in range(2):
                try:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    cache = diskcache.Cache(
                        str(self.directory), size_limit=self.size_limit, disk=_bytes_only_disk()
                    )
                    cache.get("probe")  # a database that opens but does not read is corrupt
                    self._cache = cache
                    return cache
                except Exception as exc:  # noqa: BLE001  (any failure: compute instead)
                    log.warning("shared replies at %s unusable: %s", self.directory, exc)
                    if attempt == 0 and self.directory.parent.name == CACHE_DIR_NAME:
                        shutil.rmtree(self.directory, ignore_errors=True)
            self._failed = True
            return None

    def usable(self) -> bool:
        """Whether the cache folder opens (else every look-up is a miss)."""
        return self._open() is not None

    def get_raw(self, key: str) -> Any:
        cache = self._open()
        if cache is None:
            return None
        try:
            return cache.get(key)
        except Exception as exc:  # noqa: BLE001
            log.warning("shared replies: reading an entry failed: %s", exc)
            with contextlib.suppress(Exception):
                cache.delete(key)
            return None

    def set_raw(self, key: str, value: bytes) -> bool:
        cache = self._open()
        if cache is None:
            return False
        try:
            return bool(cache.set(key, value))
        except Exception as exc:  # noqa: BLE001
            log.warning("shared replies: writing an entry failed: %s", exc)
            return False

    def key(
        self,
        data: TrialData,
        as_of: dt.date,
        date_changed: bool,
        statuses: Any = (),
        selection: Any = (),
        errors: tuple[str, ...] = (),
    ) -> str:
        """The shared key of one reply (see the module doc for what it holds): the same
        request as :meth:`OutputsCache.key`, plus the code and settings it was made with."""
        parts = [
            self.code,
            self.settings,
            data.version,
            as_of.isoformat(),
            "date" if date_changed else "same",
            ",".join(names(statuses)),
            ",".join(names(selection)),
            hashlib.sha1("\n".join(errors).encode()).hexdigest()[:12] if errors else "",
        ]
        return "reply:" + json.dumps(parts, separators=(",", ":"))

    def get(self, key: str) -> dict[str, Any] | None:
        """The outputs kept under ``key``, or None (a miss, or an entry that does not read)."""
        return unpack(self.get_raw(key))

    def contains(self, key: str) -> bool:
        cache = self._open()
        try:
            return cache is not None and key in cache
        except Exception:  # noqa: BLE001
            return False

    def put(self, key: str, outputs: dict[str, Any]) -> bool:
        """Keep ``outputs`` (encoded by :func:`~dashboard.page.replies.encode_output`)."""
        blob = pack(outputs)
        return blob is not None and self.set_raw(key, blob)

    def warm_status(self, version: str) -> dict[str, Any] | None:
        """What the warm-up recorded for ``version``: ``{"dates": [...], "done": bool}``."""
        raw = self.get_raw(status_key(self.code, self.settings, version))
        try:
            status = json.loads(raw) if isinstance(raw, bytes) else None
        except ValueError:
            return None
        return status if isinstance(status, dict) else None

    def set_warm_status(self, version: str, dates: list[str], done: bool) -> None:
        body = json.dumps({"dates": dates, "done": done}).encode()
        self.set_raw(status_key(self.code, self.settings, version), body)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._cache is not None:
                self._cache.close()


def adopt(
    shared: SharedReplies,
    outputs: OutputsCache,
    data: TrialData,
    days: list[dt.date],
    errors: tuple[str, ...] = (),
) -> int:
    """Copy the shared replies of a date change to ``days`` into a worker's own cache (as
    the main callback would keep them): the first ask of a warmed date is then a local
    hit. Returns how many were copied."""
    copied = 0
    for day in days:
        key = outputs.key(data, day, True, [], [], errors)
        if outputs.get(data, key) is not None:
            continue
        found = shared.get(shared.key(data, day, True, (), (), errors))
        if found is not None:
            outputs.put(data, key, found)
            copied += 1
    return copied
