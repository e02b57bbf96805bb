"""Sites step: registry locations become numbered sites (``sites.csv``).

Site ids are strings in registry order, zero-padded ("01".."46"), so that two facilities
sharing a name stay distinct. The user-maintained columns (activation date, per-site target)
are carried over when the sites are regenerated from a newer registry file.
"""

from __future__ import annotations

import io
import re

import pandas as pd

from .datadir import (
    DataPaths,
)
from .registry import LOCATION_STATUSES, RegistryError

SITE_COLUMNS = ["site_id", "facility", "city", "country", "status", "activation_date", "target"]
USER_COLUMNS = ["activation_date", "target"]


class SitesError(ValueError):
    """sites.csv cannot be used; the message names the file, line and column."""


def site_id_width(n_sites: int) -> int:
    return max(2, len(str(n_sites)))


def normalise_site_id(value: object, width: int) -> str | None:
    """Match ids ignoring leading zeros ("8", "08", 8.0 → "08"); None when not a number."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    # ASCII digits only: "²".isdigit() is true and other scripts' digits are not ids.
    if not (text.isascii() and text.isdigit()):
        return None
    return str(int(text)).zfill(width)


def build_sites(locations: pd.DataFrame, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Number the registry's locations and carry the user's columns over from ``previous``.

    A previous row is matched by (facility, city, n-th occurrence), not by id, so that a
    newer registry file that inserts a location does not shift activation dates to the
    wrong hospital.
    """
    width = site_id_width(len(locations))
    sites = locations[["facility", "city", "country", "status"]].copy()
    sites.insert(0, "site_id", [str(i).zfill(width) for i in range(1, len(sites) + 1)])
    sites["activation_date"] = pd.NA
    sites["target"] = pd.NA
    if previous is not None and len(previous):
        prev = previous.copy()
        prev["_occurrence"] = prev.groupby(["facility", "city"]).cumcount()
        sites["_occurrence"] = sites.groupby(["facility", "city"]).cumcount()
        keep = prev.set_index(["facility", "city", "_occurrence"])[USER_COLUMNS]
        for idx, row in sites.iterrows():
            key = (row["facility"], row["city"], row["_occurrence"])
            if key in keep.index:
                for col in USER_COLUMNS:
                    sites.at[idx, col] = keep.loc[key, col]
        sites = sites.drop(columns="_occurrence")
    return sites[SITE_COLUMNS].reset_index(drop=True)


def sites_to_csv(sites: pd.DataFrame) -> str:
    out = sites.copy()
    out["activation_date"] = [
        "" if pd.isna(v) else pd.Timestamp(v).date().isoformat() for v in out["activation_date"]
    ]
    out["target"] = ["" if pd.isna(v) else str(int(v)) for v in out["target"]]
    rows = [SITE_COLUMNS, *out[SITE_COLUMNS].astype(str).itertuples(index=False, name=None)]
    return "".join(",".join(_csv_field(v) for v in row) + "\n" for row in rows)


_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def _csv_field(value: str) -> str:
    """RFC 4180 quoting, CR included: pandas and the csv module (lineterminator "\\n") leave
    a bare CR unquoted, and a registry facility name with one broke sites.csv."""
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def parse_sites_csv(text: str, source: str) -> pd.DataFrame:
    """Read sites.csv strictly: ids stay strings, dates ISO, targets whole numbers."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in SITE_COLUMNS[:5] if c not in frame.columns]
    if missing:
        raise SitesError(f"{source}: missing column(s) {', '.join(missing)}")
    for col in USER_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
    # Vectorised checks (a portfolio has thousands of sites; this runs on every load);
    # the messages are built for the bad rows only.
    errors = []
    lines = frame.index + 2
    bad_status = ~frame["status"].isin(LOCATION_STATUSES)
    for line, value in zip(lines[bad_status], frame.loc[bad_status, "status"], strict=True):
        errors.append(f"{source}: line {line}, column status: unknown status {value!r}")
    raw_dates = frame["activation_date"].str.strip()
    iso_shape = raw_dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}", na=False)
    activation = pd.to_datetime(raw_dates.where(iso_shape), format="%Y-%m-%d", errors="coerce")
    bad_date = (raw_dates != "") & activation.isna()
    for line, value in zip(lines[bad_date], raw_dates[bad_date], strict=True):
        errors.append(f"{source}: line {line}, column activation_date: {value!r} is not YYYY-MM-DD")
    raw_targets = frame["target"].str.strip()
    whole = raw_targets.str.fullmatch(r"[0-9]+", na=False)
    bad_target = (raw_targets != "") & ~whole
    for line, value in zip(lines[bad_target], raw_targets[bad_target], strict=True):
        errors.append(f"{source}: line {line}, column target: {value!r} is not a whole number")
    if errors:
        raise SitesError("\n".join(errors))
    frame["activation_date"] = activation.astype("datetime64[ns]")
    frame["target"] = pd.array(
        [int(v) if ok else pd.NA for v, ok in zip(raw_targets, whole, strict=True)], dtype="Int64"
    )
    frame["site_id"] = frame["site_id"].astype(str)
    if frame["site_id"].duplicated().any():
        dup = frame.loc[frame["site_id"].duplicated(), "site_id"].tolist()
        raise SitesError(f"{source}: duplicate site_id {', '.join(dup)}")
    return frame[SITE_COLUMNS]


def load_sites(paths: DataPaths) -> pd.DataFrame:
    # newline="": a CR inside a quoted facility name stays a CR (not read as a new line).
    with open(paths.sites, encoding="utf-8-sig", newline="") as handle:
        return parse_sites_csv(handle.read(), str(paths.sites))


def status_changes(
    previous: pd.DataFrame | None, sites: pd.DataFrame
) -> list[dict[str, str | None]]:
    """Sites whose registry status differs from the previous sites.csv (new sites included)."""
    if previous is None or not len(previous):
        return []
    prev = previous.assign(occurrence=previous.groupby(["facility", "city"]).cumcount())
    cur = sites.assign(occurrence=sites.groupby(["facility", "city"]).cumcount())
    old_status = prev.set_index(["facility", "city", "occurrence"])["status"]
    changes = []
    for row in cur.itertuples():
        before = old_status.get((row.facility, row.city, row.occurrence))
        if before != row.status:
            changes.append(
                {
                    "site_id": str(row.site_id),
                    "facility": str(row.facility),
                    "city": str(row.city),
                    "from": before if isinstance(before, str) else None,
                    "to": str(row.status),
                }
            )
    return changes


def site_id_map(previous: pd.DataFrame, sites: pd.DataFrame) -> dict[str, str]:
    """Old site id → new site id, matching sites by (facility, city, n-th occurrence)."""
    key = ["facility", "city", "occurrence"]
    prev = previous.assign(occurrence=previous.groupby(["facility", "city"]).cumcount())
    cur = sites.assign(occurrence=sites.groupby(["facility", "city"]).cumcount())
    merged = prev[[*key, "site_id"]].merge(cur[[*key, "site_id"]], on=key, suffixes=("_old", ""))
    return dict(zip(merged["site_id_old"], merged["site_id"], strict=True))


__all__ = [
    "RegistryError",
    "SitesError",
    "build_sites",
    "load_sites",
    "normalise_site_id",
    "parse_sites_csv",
    "site_id_map",
    "site_id_width",
    "status_changes",
    "sites_to_csv",
]
