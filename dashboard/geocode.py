"""Geocode step: each site gets a point (facility when trustworthy, else city).

(Stub: the full geocoder — gazetteer, Nominatim via geopy, cache — is being written.)
"""

from __future__ import annotations

import io

import pandas as pd

from .datadir import DataPaths

GEOCODE_COLUMNS = ["site_id", "lat", "lon", "precision", "source", "query", "geocoded_at"]


class GeocodeError(ValueError):
    """geocodes.csv cannot be used."""


def parse_geocodes_csv(text: str, source: str) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(text), dtype={"site_id": str, "query": str})
    missing = [c for c in GEOCODE_COLUMNS if c not in frame.columns]
    if missing:
        raise GeocodeError(f"{source}: missing column(s) {', '.join(missing)}")
    return frame[GEOCODE_COLUMNS]


def load_geocodes(paths: DataPaths) -> pd.DataFrame:
    if not paths.geocodes.exists():
        return pd.DataFrame(columns=GEOCODE_COLUMNS)
    return parse_geocodes_csv(paths.geocodes.read_text(encoding="utf-8-sig"), str(paths.geocodes))
