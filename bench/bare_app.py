"""The floor the dashboard is measured against: a bare Dash page with one graph and an echo callback.

Served the same way as the dashboard (gunicorn, same workers, the same response
compression: :func:`dashboard.compression.enable_compression`) so that ratios cancel the machine's
noise: ``gunicorn bench.bare_app:server``.
"""

from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

from dashboard.compression import enable_compression

app = dash.Dash(__name__, serve_locally=True)
app.layout = html.Div(
    [
        dcc.Input(id="as-of-date", type="date", value="2025-11-20"),
        html.Div(id="echo"),
        dcc.Graph(
            id="site-map",
            figure={"data": [{"type": "scatter", "x": [1, 2, 3], "y": [1, 3, 2]}]},
        ),
    ]
)


@app.callback(Output("echo", "children"), Input("as-of-date", "value"))
def echo(as_of: str) -> str:
    return as_of


@app.server.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


enable_compression(app.server)
server = app.server
