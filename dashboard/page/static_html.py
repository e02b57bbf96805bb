"""Static tables sent as one piece of HTML instead of a tree of Dash components.

The "Show data" tables and the print table are filled by a callback after the first
screen (:func:`dashboard.page.chart_text.register`). Sent as ~1,500 ``html.Td``/``html.Tr``
components they cost the browser over ten seconds on this machine: Dash's renderer mounts
each one as a component of its own, and the main thread is blocked meanwhile (the map
waits to be drawn). The same tables as one HTML string in a ``dcc.Markdown`` (raw HTML
allowed) are parsed by the browser at once, as a page's HTML is. Every text is escaped
(facility names come from the users' files), so the HTML holds only what the component
tree held.
"""

from __future__ import annotations

import html as html_text
from typing import Any

from dash import dcc

#: Component properties written as HTML attributes (the rest are never set on these tables).
_ATTRIBUTES = {"className": "class", "id": "id", "scope": "scope", "colSpan": "colspan"}


def to_html(node: Any) -> str:
    """``node`` (``dash.html`` components, strings, numbers, lists) as escaped HTML."""
    if node is None:
        return ""
    if isinstance(node, list | tuple):
        return "".join(to_html(n) for n in node)
    if isinstance(node, str | int | float):
        return html_text.escape(str(node))
    tag = type(node).__name__.lower()
    attributes = "".join(
        f' {name}="{html_text.escape(str(getattr(node, prop)))}"'
        for prop, name in _ATTRIBUTES.items()
        if getattr(node, prop, None) is not None
    )
    return f"<{tag}{attributes}>{to_html(getattr(node, 'children', None))}</{tag}>"


def static_html(node: Any) -> dcc.Markdown:
    """``node`` as one HTML block for the browser to parse (no blank line: markdown would
    end the block there)."""
    return dcc.Markdown(to_html(node), dangerously_allow_html=True, className="static-html")
