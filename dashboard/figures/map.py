"""Map of the sites: metropolitan France plus an Île-de-France inset, drawn offline.

The basemap is the ``europe_50m`` topojson shipped in ``assets/topojson/`` (the app passes
its URL in the Graph config), so the browser never asks a CDN for it.

Several sites share a city (Paris has five, Marseille three...) or even a building. Markers
closer on screen than a legible distance are spread deterministically on a small ring
around their common centre (a faint leader line joins each spread marker to the true
point), and the Paris area gets its own zoomed inset, so every site stays visible and
hoverable. Hover text says when a marker was moved for legibility.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..registry import LOCATION_STATUSES
from . import theme

#: Metropolitan France, Corsica included.
FRANCE_LON_RANGE = (-5.5, 10.0)
FRANCE_LAT_RANGE = (41.0, 51.5)
#: Paris and the inner suburbs (Boulogne-Billancourt, Bobigny, Créteil).
PARIS_LON_RANGE = (2.1, 2.6)
PARIS_LAT_RANGE = (48.7, 49.0)

#: Minimum distance between two marker centres, as a share of each view's longitude span
#: (about 11 px on the main map, 13 px on the inset at the app's card sizes).
MAIN_MIN_SEPARATION = 0.021 * (FRANCE_LON_RANGE[1] - FRANCE_LON_RANGE[0])
INSET_MIN_SEPARATION = 0.058 * (PARIS_LON_RANGE[1] - PARIS_LON_RANGE[0])

MIN_MARKER_PX = 8.0
MAX_MARKER_PX = 26.0

LAND_COLOR = "#ECECEA"
FRANCE_COLOR = "#FFFFFF"
OCEAN_COLOR = "#EEF4F9"
BORDER_COLOR = "#9AA1A8"

#: Points of the Paris inset: markers and the city label.
PARIS_LABEL = (48.885, 2.335)


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


def _fmt_date(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return pd.Timestamp(value).date().isoformat()


def site_hover_text(row: Mapping[str, object], moved: bool = False) -> str:
    """What a PM reads on hover: who, where, status, counts, dates, geocode precision."""
    precision = row.get("geocode_precision")
    precision_text = "unknown" if precision is None or pd.isna(precision) else str(precision)
    lines = [
        f"<b>{row['facility']}</b>",
        f"{row['city']} · site {row['site_id']}",
        f"Status: {theme.status_label(str(row['status']))}",
        f"Randomized: {int(row['randomized'])} · Screened: {int(row['screened'])}",
        f"First randomization: {_fmt_date(row.get('first_randomization'))}",
        f"Last randomization: {_fmt_date(row.get('last_randomization'))}",
        f"Geocode precision: {precision_text}",
    ]
    if moved:
        lines.append("<i>Marker offset slightly: sites share a location</i>")
    return "<br>".join(lines)


def _leader_lines(points: SpreadPoints, geo: str) -> dict[str, Any] | None:
    lats: list[float | None] = []
    lons: list[float | None] = []
    for i in np.flatnonzero(points.moved):
        # 5 decimals (~1 m), as the markers: 15 digits per point were a fifth of the map.
        lats += [round(float(points.centre_lat[i]), 5), round(float(points.lat[i]), 5), None]
        lons += [round(float(points.centre_lon[i]), 5), round(float(points.lon[i]), 5), None]
    if not lats:
        return None
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
    present = set(frame["status"])
    statuses = [s for s in LOCATION_STATUSES if s in present]
    statuses += sorted(present - set(statuses))
    records = theme.records(frame)
    for status in statuses:
        idx = [i for i, r in enumerate(records) if r["status"] == status]
        # Filled markers first so that the legend swatch (first point) is a filled one.
        idx.sort(key=lambda i: (-int(records[i]["randomized"]), i))
        color = theme.status_color(status)
        sizes, symbols, widths, line_colors, opacities, texts = [], [], [], [], [], []
        for i in idx:
            row = records[i]
            is_zero = int(row["randomized"]) == 0
            is_selected = row["site_id"] in selected
            sizes.append(marker_size(row["randomized"]))
            symbols.append("circle-open" if is_zero else "circle")
            widths.append(3.0 if is_selected else (2.2 if is_zero else 1.0))
            line_colors.append(
                theme.SELECTED_OUTLINE if is_selected else (color if is_zero else "#FFFFFF")
            )
            dim = highlighted is not None and row["site_id"] not in highlighted
            opacities.append(theme.DIMMED_OPACITY if dim else 0.95)
            texts.append(site_hover_text(row, bool(points.moved[i])))
        label = theme.status_label(status)
        count = status_counts.get(status)
        traces.append(
            {
                "type": "scattergeo",
                "lat": [round(float(points.lat[i]), 5) for i in idx],
                "lon": [round(float(points.lon[i]), 5) for i in idx],
                "customdata": [str(records[i]["site_id"]) for i in idx],
                "hovertext": texts,
                "hoverinfo": "text",
                "mode": "markers",
                "marker": {
                    "size": sizes,
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


def _geo_layout(
    lon_range: tuple[float, float], lat_range: tuple[float, float], **extra: Any
) -> dict[str, Any]:
    layout = {
        "scope": "europe",
        "resolution": 50,
        "projection": {"type": "mercator"},
        "fitbounds": False,
        "lonaxis": {"range": list(lon_range)},
        "lataxis": {"range": list(lat_range)},
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


def _france_fill(geo: str) -> dict[str, Any]:
    """France in white over grey neighbours, so the country reads at a glance."""
    return {
        "type": "choropleth",
        "locations": ["FRA"],
        "z": [1],
        "locationmode": "ISO-3",
        "colorscale": [[0, FRANCE_COLOR], [1, FRANCE_COLOR]],
        "showscale": False,
        "marker": {"line": {"color": BORDER_COLOR, "width": 0.8}},
        "hoverinfo": "skip",
        "geo": geo,
        "name": "France",
        "showlegend": False,
    }


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
    status, lat, lon, geocode_precision, randomized, screened, first/last_randomization);
    ``status_counts`` is :func:`dashboard.metrics.status_counts` (legend counts).
    ``highlighted``: ids to emphasise, the others dimmed (None: nothing dimmed);
    ``selected``: ids clicked by the user, drawn with a black outline.
    Marker traces on ``geo`` (the main map) hold one point per geocoded site; with
    ``inset`` the Paris-area sites are drawn again on ``geo2``. ``customdata`` is the
    site id.
    """
    highlighted_set = None if highlighted is None else {str(s) for s in highlighted}
    selected_set = {str(s) for s in selected}
    located = table[table["lat"].notna() & table["lon"].notna()].reset_index(drop=True)
    located = located.assign(site_id=located["site_id"].astype(str))
    data: list[dict[str, Any]] = [_france_fill("geo")]
    main_points = spread_colocated(located["lat"], located["lon"], MAIN_MIN_SEPARATION)
    leader = _leader_lines(main_points, "geo")
    if leader is not None:
        data.append(leader)
    data += _status_traces(
        located, main_points, "geo", status_counts, highlighted_set, selected_set, True
    )
    if inset:
        data.append(_france_fill("geo2"))
        data.append(
            {
                "type": "scattergeo",
                "lat": [PARIS_LABEL[0]],
                "lon": [PARIS_LABEL[1]],
                "text": ["PARIS"],
                "mode": "text",
                "textfont": {"size": 10, "color": theme.MUTED_COLOR},
                "hoverinfo": "skip",
                "showlegend": False,
                "geo": "geo2",
                "name": "Paris label",
            }
        )
        in_paris = located["lon"].between(*PARIS_LON_RANGE) & located["lat"].between(
            *PARIS_LAT_RANGE
        )
        paris = located[in_paris].reset_index(drop=True)
        if len(paris):
            inset_points = spread_colocated(paris["lat"], paris["lon"], INSET_MIN_SEPARATION)
            leader = _leader_lines(inset_points, "geo2")
            if leader is not None:
                data.append(leader)
            data += _status_traces(
                paris, inset_points, "geo2", status_counts, highlighted_set, selected_set, False
            )
    layout = map_layout(inset, height)
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


def map_layout(inset: bool, height: int) -> dict[str, Any]:
    main_domain = {"x": [0.0, 0.70], "y": [0.0, 1.0]} if inset else {"x": [0, 1], "y": [0, 1]}
    layout = theme.base_layout(
        height=height,
        margin={"l": 4, "r": 4, "t": 4, "b": 4},
        dragmode="pan",
        clickmode="event",
        showlegend=True,
        legend={
            "x": 0.73 if inset else 0.01,
            "y": 0.47 if inset else 0.99,
            "xanchor": "left",
            "yanchor": "top",
            "bgcolor": "rgba(255,255,255,0.9)",
            "title": {"text": "Site status (n)", "font": {"size": 12}},
            "itemclick": "toggle",
            "itemdoubleclick": "toggleothers",
            "font": {"size": 12},
        },
        geo=_geo_layout(FRANCE_LON_RANGE, FRANCE_LAT_RANGE, domain=main_domain),
    )
    if inset:
        layout["geo2"] = _geo_layout(
            PARIS_LON_RANGE,
            PARIS_LAT_RANGE,
            domain={"x": [0.73, 1.0], "y": [0.52, 0.95]},
            showrivers=True,
            rivercolor="#9CC3E0",
            riverwidth=1.5,
            framecolor="#6C757D",
            showcoastlines=False,
        )
        layout["annotations"] = [
            {
                "text": "<b>Île-de-France</b> (Paris area)",
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
