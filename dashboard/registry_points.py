"""What the registry record says about where each site is: state/province and geoPoint.

ClinicalTrials.gov API v2 locations carry the state or province and, usually, a
``geoPoint`` (the city's lat/lon). sites.csv keeps neither (it is the user's table), so the
geocode step reads them from the stored record, matching sites to locations the way
``registry import`` numbered them (facility, city, n-th occurrence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .datadir import DataPaths
from .registry import RegistryError, load_registry


@dataclass(frozen=True)
class RegistryPlace:
    """A site's state/province and the registry's city point (None when absent)."""

    state: str
    lat: float | None
    lon: float | None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


def _number(value: object, limit: float) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and abs(number) <= limit else None


def registry_places(paths: DataPaths, sites: pd.DataFrame) -> dict[str, RegistryPlace]:
    """Site id → what the record says about its place; empty when there is no usable record."""
    try:
        _, locations = load_registry(paths.registry_file())
    except (RegistryError, OSError, ValueError):
        return {}
    key = ["facility", "city"]
    locs = locations.assign(occurrence=locations.groupby(key).cumcount())
    cur = sites.assign(occurrence=sites.groupby(key).cumcount())
    merged = cur[[*key, "occurrence", "site_id"]].merge(locs, on=[*key, "occurrence"], how="inner")
    out = {}
    for row in merged.to_dict(orient="records"):
        lat = _number(row.get("registry_lat"), 90.0)
        lon = _number(row.get("registry_lon"), 180.0)
        if lat is None or lon is None:
            lat = lon = None
        out[str(row["site_id"])] = RegistryPlace(str(row.get("state") or ""), lat, lon)
    return out


__all__ = ["RegistryPlace", "registry_places"]
