"""``geocodes.csv``: one row per site, its reader and its writer (the file's one owner).

Columns::

    site_id, lat, lon, precision (facility|city), source (nominatim|gazetteer|manual|registry),
    query, geocoded_at (UTC ISO 8601)
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from ..datadir import DataPaths, atomic_write_text

GEOCODE_COLUMNS = ["site_id", "lat", "lon", "precision", "source", "query", "geocoded_at"]
PRECISIONS = ("facility", "city")
SOURCES = ("nominatim", "gazetteer", "manual", "registry")


class GeocodeError(ValueError):
    """geocodes.csv cannot be used, or the geocode command cannot run as asked."""


# --------------------------------------------------------------------------- the file
def parse_geocodes_csv(text: str, source: str) -> pd.DataFrame:
    """Read geocodes.csv strictly, naming the line and column of every problem.

    Site ids stay strings ("01"); lat/lon are floats (a blank stays NaN, for ``validate``
    to report); precision and source must be known words, because the map and the
    geocoder act on them (a manual row is protected, a city point is drawn as such).
    """
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GeocodeError(f"{source}: not a readable CSV file ({exc})") from exc
    missing = [c for c in GEOCODE_COLUMNS if c not in frame.columns]
    if missing:
        raise GeocodeError(f"{source}: missing column(s) {', '.join(missing)}")
    frame = frame[GEOCODE_COLUMNS].copy()
    for col in GEOCODE_COLUMNS:
        frame[col] = frame[col].astype(str).str.strip()
    errors: list[str] = []
    coords: dict[str, list[float]] = {"lat": [], "lon": []}
    limits = {"lat": 90.0, "lon": 180.0}
    for i, (_, row) in enumerate(frame.iterrows()):
        line = i + 2
        if not row["site_id"]:
            errors.append(f"{source}: line {line}, column site_id: blank")
        for col in ("lat", "lon"):
            raw = row[col]
            try:
                value = float(raw) if raw else math.nan
            except ValueError:
                errors.append(f"{source}: line {line}, column {col}: {raw!r} is not a number")
                value = math.nan
            if not math.isnan(value) and not abs(value) <= limits[col]:
                errors.append(f"{source}: line {line}, column {col}: {raw} is out of range")
                value = math.nan
            coords[col].append(value)
        for col, allowed in (("precision", PRECISIONS), ("source", SOURCES)):
            if row[col].lower() not in allowed:
                errors.append(
                    f"{source}: line {line}, column {col}: {row[col]!r} is not one of "
                    f"{', '.join(allowed)}"
                )
    duplicated = frame.loc[frame["site_id"].duplicated() & (frame["site_id"] != ""), "site_id"]
    if len(duplicated):
        errors.append(f"{source}: duplicate site_id {', '.join(duplicated)}")
    if errors:
        raise GeocodeError("\n".join(errors))
    frame["lat"] = pd.Series(coords["lat"], index=frame.index, dtype="float64")
    frame["lon"] = pd.Series(coords["lon"], index=frame.index, dtype="float64")
    frame["precision"] = frame["precision"].str.lower()
    frame["source"] = frame["source"].str.lower()
    return frame.reset_index(drop=True)


def renumbered_geocodes_csv(paths: DataPaths, mapping: dict[str, str]) -> str | None:
    """geocodes.csv with ids moved along with their sites (a manual point must follow its
    hospital when a newer registry file inserts a location); rows of sites no longer in
    ``mapping`` go. Cells are carried over as written. None when there is no file."""
    if not paths.geocodes.exists():
        return None
    geocodes = pd.read_csv(paths.geocodes, dtype=str, keep_default_na=False)
    geocodes["site_id"] = geocodes["site_id"].map(mapping)
    geocodes = geocodes[geocodes["site_id"].notna()].sort_values("site_id", kind="stable")
    buf = io.StringIO()
    geocodes.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def load_geocodes(paths: DataPaths) -> pd.DataFrame:
    """geocodes.csv of a data dir; an empty table when the dir has none yet."""
    if not paths.geocodes.exists():
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c in ("lat", "lon") else str) for c in GEOCODE_COLUMNS}
        )
    return parse_geocodes_csv(paths.geocodes.read_text(encoding="utf-8-sig"), str(paths.geocodes))


def _format_coordinate(value: float) -> str:
    return "" if value is None or math.isnan(value) else repr(round(float(value), 6))


def geocodes_to_csv(rows: list[dict[str, Any]]) -> str:
    """The CSV text of ``rows`` (coordinates to 6 decimals, about 0.1 m)."""
    frame = pd.DataFrame(rows, columns=GEOCODE_COLUMNS)
    frame["lat"] = [_format_coordinate(v) for v in frame["lat"]]
    frame["lon"] = [_format_coordinate(v) for v in frame["lon"]]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_geocodes(paths: DataPaths, rows: list[dict[str, Any]]) -> None:
    """Replace geocodes.csv atomically (the geocode step's own write; the caller holds
    the data dir's write lock). Imports that move ids go through
    :func:`renumbered_geocodes_csv` inside their transaction instead."""
    atomic_write_text(paths.geocodes, geocodes_to_csv(rows))
