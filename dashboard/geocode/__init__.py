"""Geocode step: each site gets a point on the map (the facility when trustworthy, else its city).

- :mod:`.geocodes`: ``geocodes.csv``, its columns, reader and writer;
- :mod:`.gazetteer`: the offline city gazetteer (GeoNames cities);
- :mod:`.nominatim`: the Nominatim client, throttle and failure counting;
- :mod:`.pipeline`: :func:`run_geocode`, which decides each site's point.
"""

from .geocodes import (
    GEOCODE_COLUMNS,
    PRECISIONS,
    SOURCES,
    GeocodeError,
    geocodes_to_csv,
    load_geocodes,
    parse_geocodes_csv,
)
from .nominatim import MAX_CONSECUTIVE_FAILURES, USER_AGENT, nominatim_client
from .pipeline import MAX_FACILITY_DISTANCE_KM, SiteQuery, haversine_km, run_geocode

__all__ = [
    "GEOCODE_COLUMNS",
    "MAX_CONSECUTIVE_FAILURES",
    "MAX_FACILITY_DISTANCE_KM",
    "PRECISIONS",
    "SOURCES",
    "USER_AGENT",
    "GeocodeError",
    "SiteQuery",
    "geocodes_to_csv",
    "haversine_km",
    "load_geocodes",
    "nominatim_client",
    "parse_geocodes_csv",
    "run_geocode",
]
