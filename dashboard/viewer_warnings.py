"""What viewers may read about a broken data dir: file, line, column and rule — nothing else.

The loaders' errors are written for the operator at a terminal (``validate``,
``import-enrollment``): they quote the offending cell, name the server's paths and, for a
hand-edited ``enrollment.csv``, may quote a patient code or an arm name. The page and every
HTTP reply are read by viewers of a blinded trial, so what they get is rebuilt here from
the error's *shape* only: the data file's name (never its path), the line number, one of
the product's own column names, and a rule from a fixed list. No text of the file can
reach a viewer through this module, because nothing of the original message is copied
except digits and names from fixed lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .datadir import DataPaths

#: The data files a warning may name (basenames only; a path would show the server's layout).
DATA_FILE_NAMES = (
    "enrollment.csv",
    "sites.csv",
    "geocodes.csv",
    "dataset.json",
    "import-log.jsonl",
)
#: Column names a warning may name: the product's own canonical columns.
SAFE_COLUMNS = (
    "patient_id",
    "site_id",
    "screening_date",
    "randomization_date",
    "status",
    "facility",
    "city",
    "country",
    "activation_date",
    "target",
    "lat",
    "lon",
    "precision",
    "source",
    "query",
    "geocoded_at",
)
#: (pattern in the operator's message, rule shown to viewers), first match wins.
RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), rule)
    for pattern, rule in (
        (r"symbolic link", "is a symbolic link, which is refused"),
        (r"is missing|no such file|not found", "is missing"),
        (r"missing column", "a required column is missing"),
        (r"unexpected column", "has a column that is not allowed (refused unread)"),
        (r"is not YYYY-MM-DD|not a date", "is not a YYYY-MM-DD date"),
        (r"unknown status", "is not one of the known statuses"),
        (r"unknown site", "names a site that is not in sites.csv"),
        (r"duplicate", "repeats a patient code"),
        (r"randomized before screening", "has a randomization before the screening"),
        (r"no point|coordinates", "has a site without map coordinates"),
        (r"permission", "cannot be read (permissions)"),
        (r"utf-8|codec|can't decode", "is not UTF-8 text"),
        (r"json|expecting", "is not valid JSON"),
    )
)
FALLBACK_RULE = "could not be read"
MAX_SHOWN = 12
_LINE = re.compile(r"\bline (\d{1,9})\b")
_COLUMN = re.compile(r"\bcolumn ([A-Za-z_]+)")


def _file_named(message: str, default: str) -> str:
    for name in DATA_FILE_NAMES:
        if name in message:
            return name
    if "registry" in message or message.strip().endswith(".json"):
        return "the registry record"
    return default


def _default_file(exc: BaseException) -> str:
    kind = type(exc).__name__
    return {
        "EnrollmentError": "enrollment.csv",
        "SitesError": "sites.csv",
        "GeocodeError": "geocodes.csv",
        "RegistryError": "the registry record",
        "JSONDecodeError": "dataset.json",
    }.get(kind, "a data file")


def safe_line(message: str, default_file: str = "a data file") -> str:
    """One operator message rebuilt from fixed words: ``file, line N, column C: rule``."""
    where = [_file_named(message, default_file)]
    line = _LINE.search(message)
    if line:
        where.append(f"line {int(line.group(1))}")
    column = _COLUMN.search(message)
    if column and column.group(1) in SAFE_COLUMNS:
        where.append(f"column {column.group(1)}")
    rule = next((rule for pattern, rule in RULES if pattern.search(message)), FALLBACK_RULE)
    return f"{', '.join(where)}: {rule}"


def viewer_messages(exc: BaseException) -> tuple[str, ...]:
    """The warnings a viewer sees for a data dir refused with ``exc`` (deduplicated)."""
    raw: Iterable[str] = getattr(exc, "errors", None) or str(exc).splitlines() or [repr(exc)]
    default = _default_file(exc)
    out: list[str] = []
    for message in raw:
        line = safe_line(str(message), default)
        if line not in out:
            out.append(line)
        if len(out) >= MAX_SHOWN:
            break
    return tuple(out) or (f"{default}: {FALLBACK_RULE}",)


def symlinked_files(paths: DataPaths) -> list[str]:
    """Data files that are symbolic links: refused, since they may point at any file the
    server can read (and would then be parsed and, before this module, quoted)."""
    names = [p for p in (paths.sites, paths.geocodes, paths.enrollment, paths.dataset)]
    if paths.registry_dir.is_dir():
        names += sorted(paths.registry_dir.glob("*.json"))
    return [p.name for p in names if p.is_symlink()]
