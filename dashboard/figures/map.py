"""Map of the sites, framed by the trial's own sites, with an inset where they crowd.

The frame (one country, a continent or the world) and the inset come from the sites'
points (:mod:`dashboard.figures.map_frame`); the basemap topojson is served by the app
(the app passes its URL in the Graph config), so the browser never asks a CDN for it.

Several sites share a city or even a building. Markers closer on screen than a legible
distance are spread deterministically on a small ring around their common centre (a faint
leader line joins each spread marker to the true point), and the most crowded area gets its
own zoomed inset, so every site stays visible and hoverable. Hover text says when a marker
was moved for legibility.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..dates import iso
from ..registry import LOCATION_STATUSES
from . import theme
from .map_frame import Inset, MapFrame, country_iso3, find_inset, fit_frame, grow_to

#: Minimum distance between two marker centres, as a share of each view's longitude span
#: (about 11 px on the main map, 13 px on the inset at the app's card sizes).
MAIN_SEPARATION_SHARE = 0.021
INSET_SEPARATION_SHARE = 0.058

MIN_MARKER_PX = 8.0
MAX_MARKER_PX = 26.0

LAND_COLOR = "#ECECEA"
#: Countries with sites are drawn white over grey neighbours.
SITE_COUNTRY_COLOR = "#FFFFFF"
OCEAN_COLOR = "#EEF4F9"
BORDER_COLOR = "#9AA1A8"


def marker_size(randomized: float) -> float:
    """Marker diameter in px: area grows with the randomized count; 0 stays clearly visible."""
    n = 0.0 if randomized is None or pd.isna(randomized) else max(float(randomized), 0.0)
    return float(min(MIN_MARKER_PX + 3.4 * math.sqrt(n), MAX_MARKER_PX))


def _merc_y(lat: np.ndarray) -> np.ndarray:
    """Mercator ordinate in degrees: distances in (lon, y) are proportional to screen px."""
    return np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


def _merc_lat(y: np.ndarray) -> np.ndarray:
    return np.degrees(2 * np.arctan(np.exp(np.radians(y))) - np.pi / 2)


def _clusters(x: np.ndarray, y: np.ndarray, threshold: float) -> list[list[int]]:
    """Single-linkage groups of points closer than ``threshold`` (input order kept)."""
    n = len(x)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Only points in the same or a neighbouring cell of side ``threshold`` can be closer
    # than it: comparing those is O(n) for spread-out sites instead of O(n²) (2,000 sites:
    # ~3 s → ~10 ms). A union always keeps the smaller root, so every component's root is
    # its first point whatever the order of the comparisons: same groups as all pairs.
    cells: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        if threshold > 0 and math.isfinite(x[i]) and math.isfinite(y[i]):
            cells.setdefault(
                (math.floor(x[i] / threshold), math.floor(y[i] / threshold)), []
            ).append(i)
    for (cx, cy), members in cells.items():
        near = [
            j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in cells.get((cx + dx, cy + dy), ())
        ]
        for i in members:
            for j in near:
                if j > i and math.hypot(x[i] - x[j], y[i] - y[j]) < threshold:
                    ri, rj = find(i), find(j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [members for _, members in sorted(groups.items())]


def _ring_offsets(n: int, separation: float) -> list[tuple[float, float]]:
    """Offsets of n markers around their centre, at least ``separation`` apart."""
    if n == 2:
        return [(-separation / 2, 0.0), (separation / 2, 0.0)]
    if n <= 10:
        radius = separation / (2 * math.sin(math.pi / n))
        return [
            (
                radius * math.cos(math.pi / 2 - 2 * math.pi * k / n),
                radius * math.sin(math.pi / 2 - 2 * math.pi * k / n),
            )
            for k in range(n)
        ]
    golden = math.pi * (3 - math.sqrt(5))  # sunflower spiral for large groups
    return [
        (
            0.62 * separation * math.sqrt(k + 0.5) * math.cos(k * golden),
            0.62 * separation * math.sqrt(k + 0.5) * math.sin(k * golden),
        )
        for k in range(n)
    ]


@dataclass(frozen=True)
class SpreadPoints:
    """Display positions of markers, with the true centre of each spread group."""

    lat: np.ndarray
    lon: np.ndarray
    moved: np.ndarray  # bool: the marker is drawn away from its geocoded point
    centre_lat: np.ndarray
    centre_lon: np.ndarray


def spread_colocated(
    lat: Collection[float], lon: Collection[float], min_separation: float
) -> SpreadPoints:
    """Spread markers closer than ``min_separation`` (degrees of longitude) on a ring.

    Deterministic: groups and ring positions depend only on the input order and
    coordinates. Points of a group keep their input order clockwise from the top.
    """
    lat_a = np.asarray(list(lat), dtype=float)
    lon_a = np.asarray(list(lon), dtype=float)
    return _spread(lat_a.tobytes(), lon_a.tobytes(), float(min_separation))


@functools.lru_cache(maxsize=16)
def _spread(lat_bytes: bytes, lon_bytes: bytes, min_separation: float) -> SpreadPoints:
    """:func:`spread_colocated` on raw coordinates, memoised: the positions depend only on
    the sites' coordinates, not on the as-of date or the selection, and clustering 2,000
    sites (hundreds in Paris) costs ~0.5 s. The arrays returned are read-only."""
    lat_a = np.frombuffer(lat_bytes, dtype=float)
    lon_a = np.frombuffer(lon_bytes, dtype=float)
    y = _merc_y(lat_a)
    out_x, out_y = lon_a.copy(), y.copy()
    centre_x, centre_y = lon_a.copy(), y.copy()
    moved = np.zeros(len(lat_a), dtype=bool)
    for members in _clusters(lon_a, y, min_separation):
        if len(members) < 2:
            continue
        cx, cy = float(lon_a[members].mean()), float(y[members].mean())
        for index, (dx, dy) in zip(
            members, _ring_offsets(len(members), min_separation), strict=True
        ):
            out_x[index], out_y[index] = cx + dx, cy + dy
            centre_x[index], centre_y[index] = cx, cy
            moved[index] = True
    arrays = (_merc_lat(out_y), out_x, moved, _merc_lat(centre_y), centre_x)
    for array in arrays:
        array.setflags(write=False)
    return SpreadPoints(*arrays)


def site_hover_text(row: Mapping[str, Any], moved: bool = False) -> str:
    """What a PM reads on hover: who, where, status, counts, dates, geocode precision
    (the text the map's hover template writes from a point's ``customdata``)."""
    data = _hover_data(
        [str(row["site_id"])],
        [row["facility"]],
        [row["city"]],
        [int(row["randomized"])],
        [int(row["screened"])],
        [iso(row.get("first_randomization"))],
        [iso(row.get("last_randomization"))],
        [row.get("geocode_precision")],
        [moved],
    )[0]
    return fill_template(hover_template(str(row["status"])), data)


#: The line a spread marker's hover adds (``customdata[8]``; empty for the others).
OFFSET_NOTE = "<br><i>Marker offset slightly: sites share a location</i>"


def hover_template(status: str) -> str:
    """The hover of one status trace: the site's own values come from ``customdata``
    ([site id, facility, city, randomized, screened, first and last randomization,
    geocode precision, offset note]), so the texts are not sent once per point."""
    return (
        "<b>%{customdata[1]}</b><br>%{customdata[2]} · site %{customdata[0]}"
        f"<br>Status: {theme.status_label(status)}"
        "<br>Randomized: %{customdata[3]} · Screened: %{customdata[4]}"
        "<br>First randomization: %{customdata[5]}<br>Last randomization: %{customdata[6]}"
        "<br>Geocode precision: %{customdata[7]}%{customdata[8]}<extra></extra>"
    )


def fill_template(template: str, customdata: Sequence[Any]) -> str:
    """A hover template with a point's ``customdata`` filled in, as plotly.js shows it."""
    text = re.sub(r"%\{customdata\[(\d+)\]\}", lambda m: str(customdata[int(m.group(1))]), template)
    return text.replace("<extra></extra>", "")


def _texts(values: Sequence[Any], missing: str) -> list[str]:
    return [
        missing if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values
    ]


def _hover_data(
    ids: Sequence[str],
    facilities: Sequence[Any],
    cities: Sequence[Any],
    randomized: Sequence[int],
    screened: Sequence[int],
    first: Sequence[str | None],
    last: Sequence[str | None],
    precision: Sequence[Any],
    moved: Sequence[bool],
) -> list[list[str]]:
    """Each point's ``customdata`` (see :func:`hover_template`); dates as ISO text."""
    firsts = [v or "—" for v in first]
    lasts = [v or "—" for v in last]
    return [
        list(row)
        for row in zip(
            ids,
            map(str, facilities),
            map(str, cities),
            map(str, randomized),
            map(str, screened),
            firsts,
            lasts,
            _texts(precision, "unknown"),
            [OFFSET_NOTE if m else "" for m in moved],
            strict=True,
        )
    ]


def _leader_lines(points: SpreadPoints, geo: str) -> dict[str, Any] | None:
    moved = np.flatnonzero(points.moved)
    if not len(moved):
        return None
    # 5 decimals (~1 m), as the markers: 15 digits per point were a fifth of the map.
    # One segment per spread marker: centre, marker, gap (None).
    lats: list[float | None] = [None] * (3 * len(moved))
    lons: list[float | None] = [None] * (3 * len(moved))
    lats[0::3] = np.round(points.centre_lat[moved], 5).tolist()
    lats[1::3] = np.round(points.lat[moved], 5).tolist()
    lons[0::3] = np.round(points.centre_lon[moved], 5).tolist()
    lons[1::3] = np.round(points.lon[moved], 5).tolist()
    return {
        "type": "scattergeo",
        "lat": lats,
        "lon": lons,
        "mode": "lines",
        "line": {"color": "#868E96", "width": 0.8},
        "hoverinfo": "skip",
        "showlegend": False,
        "geo": geo,
        "name": "leader lines",
    }


def _marker_sizes(randomized: np.ndarray) -> list[float]:
    """:func:`marker_size` of every count at once, to 0.1 px."""
    n = np.maximum(randomized.astype(float), 0.0)
    return np.round(np.minimum(MIN_MARKER_PX + 3.4 * np.sqrt(n), MAX_MARKER_PX), 1).tolist()


def _status_traces(
    frame: pd.DataFrame,
    points: SpreadPoints,
    geo: str,
    status_counts: Mapping[str, int],
    highlighted: set[str] | None,
    selected: set[str],
    showlegend: bool,
) -> list[dict[str, Any]]:
    traces = []
    status_of = frame["status"].to_numpy(dtype=object)
    present = set(status_of)
    statuses = [s for s in LOCATION_STATUSES if s in present]
    statuses += sorted(present - set(statuses))
    ids = frame["site_id"].tolist()
    randomized = frame["randomized"].to_numpy(dtype=np.int64)
    hover = _hover_data(
        ids,
        frame["facility"].tolist(),
        frame["city"].tolist(),
        randomized.tolist(),
        frame["screened"].astype(int).tolist(),
        theme.iso_days(frame["first_randomization"]),
        theme.iso_days(frame["last_randomization"]),
        frame["geocode_precision"].tolist(),
        points.moved.tolist(),
    )
    sizes_all = _marker_sizes(randomized)
    lat_all = np.round(points.lat, 5).tolist()
    lon_all = np.round(points.lon, 5).tolist()
    for status in statuses:
        members = np.flatnonzero(status_of == status)
        # Filled markers first so that the legend swatch (first point) is a filled one.
        idx = members[np.lexsort((members, -randomized[members]))].tolist()
        color = theme.status_color(status)
        symbols, widths, line_colors, opacities = [], [], [], []
        for i in idx:
            is_zero = randomized[i] == 0
            is_selected = ids[i] in selected
            symbols.append("circle-open" if is_zero else "circle")
            widths.append(3.0 if is_selected else (2.2 if is_zero else 1.0))
            line_colors.append(
                theme.SELECTED_OUTLINE if is_selected else (color if is_zero else "#FFFFFF")
            )
            dim = highlighted is not None and ids[i] not in highlighted
            opacities.append(theme.DIMMED_OPACITY if dim else 0.95)
        label = theme.status_label(status)
        count = status_counts.get(status)
        traces.append(
            {
                "type": "scattergeo",
                "lat": [lat_all[i] for i in idx],
                "lon": [lon_all[i] for i in idx],
                "customdata": [hover[i] for i in idx],
                "hovertemplate": hover_template(status),
                "mode": "markers",
                "marker": {
                    "size": [sizes_all[i] for i in idx],
                    "color": color,
                    "symbol": symbols,
                    "opacity": opacities,
                    "line": {"width": widths, "color": line_colors},
                },
                "name": f"{label} ({count})" if count is not None else label,
                "legendgroup": status,
                "showlegend": showlegend,
                "geo": geo,
            }
        )
    return traces


def _geo_layout(frame: MapFrame, **extra: Any) -> dict[str, Any]:
    layout = {
        "scope": frame.scope,
        "resolution": frame.resolution,
        "projection": {"type": frame.projection},
        "fitbounds": False,
        "lonaxis": {"range": list(frame.lon_range)},
        "lataxis": {"range": list(frame.lat_range)},
        "showland": True,
        "landcolor": LAND_COLOR,
        "showocean": True,
        "oceancolor": OCEAN_COLOR,
        "showlakes": True,
        "lakecolor": OCEAN_COLOR,
        "showcountries": True,
        "countrycolor": BORDER_COLOR,
        "countrywidth": 0.8,
        "showcoastlines": True,
        "coastlinecolor": BORDER_COLOR,
        "coastlinewidth": 0.6,
        "showframe": True,
        "framecolor": "#DEE2E6",
        "framewidth": 1,
        "bgcolor": "#FFFFFF",
    }
    layout.update(extra)
    return layout


def _country_fill(geo: str, countries: list[str]) -> dict[str, Any]:
    """The trial's countries in white over grey neighbours, so they read at a glance."""
    return {
        "type": "choropleth",
        "locations": countries,
        "z": [1] * len(countries),
        "locationmode": "ISO-3",
        "colorscale": [[0, SITE_COUNTRY_COLOR], [1, SITE_COUNTRY_COLOR]],
        "showscale": False,
        "marker": {"line": {"color": BORDER_COLOR, "width": 0.8}},
        "hoverinfo": "skip",
        "geo": geo,
        "name": "countries with sites",
        "showlegend": False,
    }


@dataclass(frozen=True)
class MapViews:
    """The frames of one set of sites: main view, optional inset, countries to fill."""

    frame: MapFrame
    inset: Inset | None
    countries: tuple[str, ...]
    main_separation: float


def map_views(located: pd.DataFrame, with_inset: bool = True) -> MapViews:
    """Frame and inset of the located sites (memoised on their coordinates, cities and
    countries: they do not change with the as-of date or the selection)."""
    countries = (
        tuple(str(c) for c in located["country"]) if "country" in located else ("",) * len(located)
    )
    return _map_views(
        np.asarray(located["lat"], dtype=float).tobytes(),
        np.asarray(located["lon"], dtype=float).tobytes(),
        tuple(str(c) for c in located["city"]),
        countries,
        with_inset,
    )


@functools.lru_cache(maxsize=16)
def _map_views(
    lat_bytes: bytes,
    lon_bytes: bytes,
    cities: tuple[str, ...],
    countries: tuple[str, ...],
    with_inset: bool,
) -> MapViews:
    lat = np.frombuffer(lat_bytes, dtype=float)
    lon = np.frombuffer(lon_bytes, dtype=float)
    iso3 = [country_iso3(c) for c in countries]
    frame = fit_frame(lat, lon, iso3)
    separation = MAIN_SEPARATION_SHARE * frame.lon_span
    points = spread_colocated(lat, lon, separation)
    # Every marker, spread ones included, stays inside the frame with half a marker to spare.
    frame = grow_to(frame, points.lat, points.lon, separation)
    inset = find_inset(lat, lon, cities, countries, frame, _clusters) if with_inset else None
    return MapViews(frame, inset, tuple(sorted({c for c in iso3 if c})), separation)


def site_map_figure(
    table: pd.DataFrame,
    status_counts: Mapping[str, int],
    *,
    highlighted: Collection[str] | None = None,
    selected: Collection[str] = (),
    inset: bool = True,
    height: int = 560,
    validate: bool = True,
) -> go.Figure | dict[str, Any]:
    """Map of every geocoded site, coloured by status, sized by randomized count.

    ``table`` is :func:`dashboard.metrics.site_table` (columns site_id, facility, city,
    country, status, lat, lon, geocode_precision, randomized, screened,
    first/last_randomization); ``status_counts`` is :func:`dashboard.metrics.status_counts`
    (legend counts). ``highlighted``: ids to emphasise, the others dimmed (None: nothing
    dimmed); ``selected``: ids clicked by the user, drawn with a black outline.
    Marker traces on ``geo`` (the main map, framed by the sites) hold one point per
    geocoded site; with ``inset``, the sites of the most crowded area (if any crowds) are
    drawn again on ``geo2``. ``customdata`` is the site id.
    """
    highlighted_set = None if highlighted is None else {str(s) for s in highlighted}
    selected_set = {str(s) for s in selected}
    located = table[table["lat"].notna() & table["lon"].notna()].reset_index(drop=True)
    located = located.assign(site_id=located["site_id"].astype(str))
    views = map_views(located, inset)
    countries = list(views.countries)
    data: list[dict[str, Any]] = [_country_fill("geo", countries)]
    main_points = spread_colocated(located["lat"], located["lon"], views.main_separation)
    leader = _leader_lines(main_points, "geo")
    if leader is not None:
        data.append(leader)
    data += _status_traces(
        located, main_points, "geo", status_counts, highlighted_set, selected_set, True
    )
    zoom = views.inset
    if zoom is not None:
        data.append(_country_fill("geo2", countries))
        if zoom.label and zoom.label_point:
            data.append(
                {
                    "type": "scattergeo",
                    "lat": [round(zoom.label_point[0], 5)],
                    "lon": [round(zoom.label_point[1], 5)],
                    "text": [zoom.label],
                    "mode": "text",
                    "textfont": {"size": 10, "color": theme.MUTED_COLOR},
                    "hoverinfo": "skip",
                    "showlegend": False,
                    "geo": "geo2",
                    "name": "inset label",
                }
            )
        in_view = located["lon"].between(*zoom.frame.lon_range) & located["lat"].between(
            *zoom.frame.lat_range
        )
        crowded = located[in_view].reset_index(drop=True)
        if len(crowded):
            separation = INSET_SEPARATION_SHARE * zoom.frame.lon_span
            inset_points = spread_colocated(crowded["lat"], crowded["lon"], separation)
            leader = _leader_lines(inset_points, "geo2")
            if leader is not None:
                data.append(leader)
            data += _status_traces(
                crowded, inset_points, "geo2", status_counts, highlighted_set, selected_set, False
            )
    layout = map_layout(views.frame, zoom, height)
    missing = len(table) - len(located)
    if missing:
        layout.setdefault("annotations", []).append(
            {
                "text": f"{missing} site(s) without coordinates are not on the map",
                "x": 0.0,
                "y": 0.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": theme.REQUIRED_COLOR},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )
    return theme.make_figure(data, layout, validate=validate)


def map_subtitle(n_sites: int, figure: Mapping[str, Any]) -> str:
    """The map card's subtitle: how many sites, and which area the inset enlarges."""
    layout = figure.get("layout") or {}
    if "geo2" not in layout:
        return f"{n_sites} sites"
    title = re.sub(r"<[^>]+>", "", layout["annotations"][0]["text"])
    return f"{n_sites} sites · {title} enlarged in the inset"


def map_layout(frame: MapFrame, inset: Inset | None, height: int) -> dict[str, Any]:
    has_inset = inset is not None
    # The legend has the right-hand column (below the inset when there is one), so that it
    # never covers a site, whatever the shape of the trial's frame.
    main_domain = {"x": [0.0, 0.70 if has_inset else 0.78], "y": [0.0, 1.0]}
    layout = theme.base_layout(
        height=height,
        margin={"l": 4, "r": 4, "t": 4, "b": 4},
        dragmode="pan",
        clickmode="event",
        showlegend=True,
        legend={
            "x": 0.73 if has_inset else 0.80,
            "y": 0.47 if has_inset else 0.95,
            "xanchor": "left",
            "yanchor": "top",
            "bgcolor": "rgba(255,255,255,0.9)",
            "title": {"text": "Site status (n)", "font": {"size": 12}},
            "itemclick": "toggle",
            "itemdoubleclick": "toggleothers",
            "font": {"size": 12},
        },
        geo=_geo_layout(frame, domain=main_domain),
    )
    if inset is not None:
        layout["geo2"] = _geo_layout(
            inset.frame,
            domain={"x": [0.73, 1.0], "y": [0.52, 0.95]},
            showrivers=True,
            rivercolor="#9CC3E0",
            riverwidth=1.5,
            framecolor="#6C757D",
            showcoastlines=False,
        )
        layout["annotations"] = [
            {
                "text": inset.title,
                "x": 0.73,
                "y": 0.955,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": theme.TEXT_COLOR},
            }
        ]
    return layout
