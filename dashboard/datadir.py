"""The data directory: where each file lives, and how it is written safely.

Every write to a data dir goes through :func:`atomic_write_bytes` (temporary file in the
same directory, fsync, rename) under :func:`write_lock`, so a crash or a concurrent import
never leaves a half-written file and the last good data set stays loadable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The shipped SCLERITA data set, next to the package in the source tree.
SHIPPED_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DATA_DIR_ENV = "RECRUITMENT_DASHBOARD_DATA_DIR"


def default_data_dir() -> Path:
    """The data dir used when a command gets no ``--data-dir``: env var, else shipped data."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else SHIPPED_DATA_DIR


@dataclass(frozen=True)
class DataPaths:
    """Names of the files of one data dir, so no module spells them on its own."""

    root: Path

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    @property
    def sites(self) -> Path:
        return self.root / "sites.csv"

    @property
    def geocodes(self) -> Path:
        return self.root / "geocodes.csv"

    @property
    def enrollment(self) -> Path:
        return self.root / "enrollment.csv"

    @property
    def synthetic_activation(self) -> Path:
        """The demo's made-up activation dates (written only by ``demo``)."""
        return self.root / "synthetic-activation.csv"

    @property
    def status_history(self) -> Path:
        """Registry status changes, one JSON line each (written only by registry import)."""
        return self.root / "status-history.jsonl"

    @property
    def dataset(self) -> Path:
        return self.root / "dataset.json"

    @property
    def import_log(self) -> Path:
        return self.root / "import-log.jsonl"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def registry_file(self) -> Path:
        """The study JSON of this data dir (the one named in dataset.json, else the only one)."""
        meta = read_dataset_meta(self)
        if meta.get("registry_file"):
            name = str(meta["registry_file"])
            if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
                # A path here would make the app read (and show) a file outside the data dir.
                raise ValueError("dataset.json: registry_file must be a file name in registry/")
            return self.registry_dir / name
        files = sorted(self.registry_dir.glob("*.json"))
        if len(files) != 1:
            raise FileNotFoundError(
                f"{self.registry_dir}: expected exactly one study JSON, found {len(files)}"
            )
        return files[0]

    def data_files(self) -> list[Path]:
        """Files whose content defines the data version seen by the app."""
        files = [
            self.sites,
            self.geocodes,
            self.enrollment,
            self.dataset,
            self.import_log,
            self.synthetic_activation,
            self.status_history,
        ]
        if self.registry_dir.is_dir():
            files += sorted(self.registry_dir.glob("*.json"))
        return files


@contextlib.contextmanager
def write_lock(paths: DataPaths) -> Iterator[None]:
    """Serialise writers of one data dir: a second import waits for the first to finish."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see either the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; keep the mode the file had (or the umask's default) so
        # an app running as another user of the group can still read the data it serves.
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_dataset_meta(paths: DataPaths) -> dict[str, Any]:
    """dataset.json: whether the enrollment is synthetic, its data cut-off, its origin."""
    if not paths.dataset.exists():
        return {}
    return json.loads(paths.dataset.read_text(encoding="utf-8"))


def dataset_meta_bytes(meta: dict[str, Any]) -> bytes:
    """dataset.json's content for ``meta`` (one spelling for every writer)."""
    return (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def append_import_log(paths: DataPaths, entry: dict[str, Any]) -> None:
    """Append one line to the audit trail; the log is never rewritten, only appended to.

    Writers hold :func:`write_lock`. A line is written whole or not at all: ``os.write``
    may write less than asked (a filling disk), so the rest is written in a loop, and on
    any error the file is cut back to where it was. A torn last line left by a crash (an
    entry that never committed) is cut off before the new line is added.
    """
    paths.root.mkdir(parents=True, exist_ok=True)
    line = (json.dumps({"time": utc_now_iso(), **entry}, ensure_ascii=False) + "\n").encode()
    fd = os.open(paths.import_log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = _cut_torn_tail(fd)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(paths.import_log))
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def _cut_torn_tail(fd: int) -> int:
    """Cut an unterminated last line off the log open at ``fd``; return the new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    keep, block = 0, 1 << 16
    end = size
    while end > 0:
        begin = max(0, end - block)
        chunk = os.pread(fd, end - begin, begin)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            keep = begin + cut + 1
            break
        end = begin
    try:  # a whole entry that only lacks its newline is kept (readers count it too)
        json.loads(os.pread(fd, size - keep, keep))
    except ValueError:
        os.ftruncate(fd, keep)
        return keep
    os.write(fd, b"\n")
    return size + 1


def refused_entry(
    entry: dict[str, Any],
    errors: Sequence[str],
    reasons: Iterable[str],
    *,
    keep_messages: bool = False,
) -> dict[str, Any]:
    """The one shape of a refusal in the log.

    ``errors`` is always the number of problems and ``reasons`` their categories; the
    texts themselves go in ``messages`` only when they cannot quote a patient's cell (a
    registry file's problem does; an enrollment file's would).
    """
    out = {**entry, "result": "refused", "errors": len(errors), "reasons": sorted(set(reasons))}
    if keep_messages:
        out["messages"] = [str(e) for e in errors]
    return out


def _one_shape(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry in the current shape: older registry refusals listed their texts in
    ``errors``; they read as a count plus ``messages``."""
    errors = entry.get("errors")
    if isinstance(errors, list):
        return {
            **entry,
            "errors": len(errors),
            "messages": [str(e) for e in errors],
            "reasons": entry.get("reasons", []),
        }
    return entry


def read_import_log(paths: DataPaths) -> list[dict[str, Any]]:
    """The log's entries; a torn last line (a crash mid-append: never committed) is skipped."""
    if not paths.import_log.exists():
        return []
    text = paths.import_log.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    torn = lines.pop() if lines else ""  # after the last newline: "" unless torn
    entries = []
    for line in lines:
        if line.strip():
            entries.append(json.loads(line))
    if torn.strip():
        with contextlib.suppress(ValueError):
            entries.append(json.loads(torn))
    return [_one_shape(e) if isinstance(e, dict) else e for e in entries]
