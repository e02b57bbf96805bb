"""Exports uploaded on the Data page, held on the server until the editor confirms or cancels.

An upload is validated and previewed at once, but imported only when its editor clicks
"Confirm import". Until then the file waits here:

- on the server only: the browser keeps a random token, never the file nor its rows;
- outside the data dir (the store never sees it) and outside every path the app serves
  (assets, /data): by default a private directory of the system's temporary area named
  after the data dir, so that every worker of a gunicorn server finds the same uploads
  (``$RECRUITMENT_DASHBOARD_UPLOAD_DIR`` chooses another place);
- for :data:`EXPIRY_SECONDS` (15 minutes): an upload left unconfirmed is deleted, so a
  stale preview cannot be confirmed days later over newer data;
- for its uploader only: a token is bound to the user who uploaded it.

The directory is created mode 0700 and refused when it is a symbolic link, belongs to
another user or can be read by others: in a shared /tmp, someone else could otherwise
prepare it to read or swap the exports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_UPLOAD_DIR = "RECRUITMENT_DASHBOARD_UPLOAD_DIR"
EXPIRY_SECONDS = 15 * 60
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
_META = "upload.json"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()\-]+")
ALLOWED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")


class UploadDirError(RuntimeError):
    """The holding directory is unsafe to use; the message says why."""


@dataclass(frozen=True)
class PendingUpload:
    """One held export: its file on the server and what the page shows of it (aggregates)."""

    token: str
    user: str
    file: Path
    name: str
    sha256: str
    size: int
    created: float
    preview: dict[str, Any]

    def expires_in(self, now: float | None = None) -> float:
        return self.created + EXPIRY_SECONDS - (time.time() if now is None else now)


def safe_file_name(name: str) -> str:
    """The browser's file name reduced to a plain base name (it names the file in the log).

    Directories, control characters and odd punctuation go; accents are folded; the
    extension is kept so the reader recognises an .xlsx.
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _SAFE_NAME.sub("_", base).strip(" .")[:120]
    return base or "export.csv"


def default_upload_dir(data_dir: Path) -> Path:
    env = os.environ.get(ENV_UPLOAD_DIR, "").strip()
    if env:
        return Path(env)
    key = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"recruitment-dashboard-uploads-{os.geteuid()}-{key}"


class PendingUploads:
    """The held uploads of one data dir (shared by every worker through the directory)."""

    def __init__(self, root: Path, *, forbidden: tuple[Path, ...] = ()):
        self.root = Path(root)
        resolved = self.root.resolve()
        for place in forbidden:
            place = Path(place).resolve()
            if resolved == place or place in resolved.parents or resolved in place.parents:
                raise UploadDirError(
                    f"{self.root}: uploads must be held outside {place} (it is read or served)"
                )
        self._ensure_private_dir()

    def _ensure_private_dir(self) -> None:
        with contextlib.suppress(FileExistsError):
            self.root.mkdir(mode=0o700, parents=True)
        info = os.lstat(self.root)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise UploadDirError(f"{self.root}: not a plain directory (symbolic link?)")
        if info.st_uid != os.geteuid():
            raise UploadDirError(f"{self.root}: belongs to another user")
        if info.st_mode & 0o077:
            os.chmod(self.root, 0o700)

    # ------------------------------------------------------------------ life cycle
    def hold(self, user: str, name: str, data: bytes) -> PendingUpload:
        """Keep ``data`` for ``user``; the preview is added by :meth:`set_preview`."""
        self.purge_expired()
        self._ensure_private_dir()
        token = secrets.token_urlsafe(24)
        folder = self.root / token
        folder.mkdir(mode=0o700)
        file = folder / safe_file_name(name)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        upload = PendingUpload(
            token=token,
            user=user,
            file=file,
            name=file.name,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            created=time.time(),
            preview={},
        )
        self._write_meta(upload)
        return upload

    def set_preview(self, upload: PendingUpload, preview: dict[str, Any]) -> PendingUpload:
        updated = PendingUpload(**{**upload.__dict__, "preview": preview})
        self._write_meta(updated)
        return updated

    def get(self, token: object, user: str) -> PendingUpload | None:
        """The upload ``token`` of ``user``, or None (unknown, expired, or someone else's)."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        folder = self.root / token
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        upload = PendingUpload(
            token=token,
            user=str(meta["user"]),
            file=folder / str(meta["name"]),
            name=str(meta["name"]),
            sha256=str(meta["sha256"]),
            size=int(meta["size"]),
            created=float(meta["created"]),
            preview=dict(meta.get("preview") or {}),
        )
        if upload.expires_in() <= 0:
            self.discard(token)
            return None
        if upload.user != user:
            return None
        if not ({"refused", "done"} & upload.preview.keys()) and not upload.file.is_file():
            return None  # a refused export's file is deleted at once; its messages stay
        return upload

    def claim(self, upload: PendingUpload) -> bool:
        """True for the one request that may import ``upload`` (a double click sends two)."""
        try:
            fd = os.open(upload.file.parent / ".claimed", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def finish(self, upload: PendingUpload, outcome: dict[str, Any]) -> None:
        """Delete the held file at once; keep only ``outcome`` (a message) until expiry, so
        a repeated Confirm gets the same answer instead of "unknown upload"."""
        upload.file.unlink(missing_ok=True)
        self.set_preview(upload, {"done": outcome})

    def discard(self, token: object) -> None:
        if isinstance(token, str) and _TOKEN.fullmatch(token):
            shutil.rmtree(self.root / token, ignore_errors=True)

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every upload older than :data:`EXPIRY_SECONDS`; return how many."""
        now = time.time() if now is None else now
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for folder in self.root.iterdir():
                if not _TOKEN.fullmatch(folder.name):
                    continue
                try:
                    created = json.loads((folder / _META).read_text(encoding="utf-8"))["created"]
                except (OSError, ValueError, KeyError):
                    created = folder.stat().st_mtime
                if now - float(created) >= EXPIRY_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        return removed

    def _write_meta(self, upload: PendingUpload) -> None:
        meta = {
            "user": upload.user,
            "name": upload.name,
            "sha256": upload.sha256,
            "size": upload.size,
            "created": upload.created,
            "preview": upload.preview,
        }
        target = upload.file.parent / _META
        tmp = target.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(meta, handle)
        os.replace(tmp, target)
