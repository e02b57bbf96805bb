"""Preload hints: what the first screen needs and the browser would otherwise only ask for
once Dash has drawn the layout (a round trip each, after ~300 kB of layout).

dcc.Graph and dash-ag-grid load their code as lazy chunks when the first graph or grid
mounts; plotly.js is already in the page (``assets/plotly-partial.min.js``). Naming the
chunks in the index page lets the browser fetch them alongside the page's scripts; the
chunk loader then finds them in its cache. Same-origin URLs only (offline first).
"""

from __future__ import annotations

import dash

#: Lazy chunks the dashboard's first screen always loads (paths under Dash's component suites).
FIRST_SCREEN_CHUNKS = ("dash/dcc/async-graph.js", "dash_ag_grid/async-community.js")


def preload_links(app: dash.Dash) -> str:
    """``<link rel="preload">`` tags for :data:`FIRST_SCREEN_CHUNKS`, under the app's prefix."""
    prefix = app.config.requests_pathname_prefix
    return "".join(
        f'<link rel="preload" as="script" href="{prefix}_dash-component-suites/{chunk}">'
        for chunk in FIRST_SCREEN_CHUNKS
    )
