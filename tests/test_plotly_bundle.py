"""The page's own plotly.js (assets/plotly-partial.min.js, built by tools/plotly-bundle):
the same version as the plotly.js Dash ships, with every trace type the page draws, served
by the app instead of Dash's full bundle.

dcc.Graph draws with ``window.Plotly`` when it is defined and only otherwise fetches Dash's
4.8 MB ``plotly.min.js``; a version drift or a missing trace type would silently change or
blank a chart, so both are checked here (and in the browser, tests/browser/test_page.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from dashboard.app import ASSETS_DIR, create_app
from dashboard.datadir import SHIPPED_DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ASSETS_DIR / "plotly-partial.min.js"
RECIPE = ROOT / "tools" / "plotly-bundle"
HEADER = re.compile(
    r"\A/\*\*\n\* plotly\.js v(?P<version>\S+) \(partial bundle; traces: (?P<traces>[a-z, ]+)\)\n"
    r"\* Copyright 2012-\d{4}, Plotly, Inc\.\n\* All rights reserved\.\n"
    r"\* Licensed under the MIT license\n"
)


@pytest.fixture(scope="module")
def header() -> re.Match[str]:
    with BUNDLE.open(encoding="utf-8") as f:
        match = HEADER.match(f.read(1000))
    assert match is not None, "the bundle must start with plotly.js's MIT licence header"
    return match


def bundle_traces(header: re.Match[str]) -> set[str]:
    return {t.strip() for t in header["traces"].split(",")}


def test_served_plotly_js_is_the_version_dash_ships(header: re.Match[str]) -> None:
    dash_version = get_plotlyjs_version()  # what Dash serves as plotly/package_data/plotly.min.js
    assert header["version"] == dash_version
    package = json.loads((RECIPE / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["plotly.js"] == dash_version
    lock = json.loads((RECIPE / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/plotly.js"]["version"] == dash_version


def test_bundle_carries_the_licences_of_what_it_bundles() -> None:
    tail = BUNDLE.read_text(encoding="utf-8")[-20_000:]
    assert "Bundled license information" in tail


def all_plotly_trace_types() -> set[str]:
    return {
        cls().type
        for name in dir(go)
        if isinstance(cls := getattr(go, name), type)
        and issubclass(cls, BaseTraceType)
        and cls is not BaseTraceType
    }


def test_figure_code_names_only_trace_types_in_the_bundle(header: re.Match[str]) -> None:
    """Any trace type literal in the figure builders (``"type": "heatmap"``) must be built in."""
    trace_types = all_plotly_trace_types()
    assert {"scatter", "bar", "scattergeo", "heatmap"} <= trace_types  # the scan can fail
    named: set[str] = set()
    for source in (ROOT / "dashboard").rglob("*.py"):
        literals = re.findall(r"""["']type["']\s*[:=]\s*["'](\w+)["']""", source.read_text("utf-8"))
        named |= {name for name in literals if name in trace_types}
    assert named, "no trace type found: the scan is broken"
    assert named <= bundle_traces(header)


def figures(component: Any) -> list[dict[str, Any]]:
    found = []
    for child in [component, *component._traverse()]:
        figure = getattr(child, "figure", None)
        if figure is not None:
            found.append(figure if isinstance(figure, dict) else figure.to_plotly_json())
    return found


def test_every_trace_on_the_page_is_in_the_bundle(header: re.Match[str]) -> None:
    app = create_app(SHIPPED_DATA_DIR, auth=None)
    page_figures = figures(app.layout())
    assert len(page_figures) >= 4
    drawn = {trace.get("type", "scatter") for fig in page_figures for trace in fig["data"]}
    assert {"scattergeo", "bar", "scatter"} <= drawn
    assert drawn <= bundle_traces(header)


def test_the_dashboard_loads_the_partial_bundle_and_the_data_page_does_not() -> None:
    client = create_app(SHIPPED_DATA_DIR, auth=None).server.test_client()
    dashboard = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', dashboard)
    ours = [s for s in scripts if "plotly-partial.min.js" in s]
    assert len(ours) == 1
    # Before dash-renderer: window.Plotly exists before any dcc.Graph asks for plotly.js.
    renderer = next(i for i, s in enumerate(scripts) if "dash_renderer" in s)
    assert scripts.index(ours[0]) < renderer
    assert not any("/plotly/package_data/" in s for s in scripts)
    served = client.get(ours[0])
    assert served.status_code == 200
    assert served.get_data() == BUNDLE.read_bytes()
    data_page = client.get("/data/").get_data(as_text=True)
    assert "plotly-partial" not in data_page
