"""Figure builders: plain data in (frames, dicts), a plotly ``go.Figure`` out.

They never read files and know nothing of Dash, so the app, a snapshot/PDF command and
the tests all draw the same figures from the same :mod:`dashboard.metrics` output.
"""

from .accrual import accrual_figure
from .activation import activation_figure, activation_order
from .bars import site_bar_figure, site_label
from .map import site_map_figure, spread_colocated
from .theme import STATUS_COLORS, graph_config

__all__ = [
    "STATUS_COLORS",
    "accrual_figure",
    "activation_figure",
    "activation_order",
    "graph_config",
    "site_bar_figure",
    "site_label",
    "site_map_figure",
    "spread_colocated",
]
