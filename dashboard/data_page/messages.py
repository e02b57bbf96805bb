"""Refusal messages of an uploaded export as the browser may show them: no cell value.

``import-enrollment`` names every problem with its file, line, column *and value*, which
an operator at a terminal needs. A reply to the browser must never carry a patient code
or another cell (blinding, and the page may be screen-shared), so a row-level message is
rebuilt here: its location (file, line, column header) is kept and every quoted value in
the rest is replaced by a placeholder. Header-level messages (a blinding or identifier
column, a missing column) quote headers only, never values, and pass whole.
"""

from __future__ import annotations

import re

#: Messages about the header line only: they name headers, never cell values.
HEADER_LEVEL = (
    "refused to protect the blind",
    "direct patient identifier",
    "look like the",
    "no column for the",
    "has no header but holds values",
)
HIDDEN = "‹value›"
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_LOCATION = re.compile(
    r"^(?P<where>[^:\n]{0,200}: line \d+(?:, column (?:number \d+|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?)"
    r"(?P<rest>.*)$",
    re.DOTALL,
)


def browser_safe(message: str) -> str:
    """``message`` with every cell value it quotes hidden (location and rule kept)."""
    if any(marker in message for marker in HEADER_LEVEL):
        return message
    match = _LOCATION.match(message)
    if match is None:
        return _QUOTED.sub(HIDDEN, message)
    return match.group("where") + _QUOTED.sub(HIDDEN, match.group("rest"))


def browser_safe_all(messages: list[str], limit: int = 50) -> list[str]:
    shown = [browser_safe(m) for m in messages[:limit]]
    if len(messages) > limit:
        shown.append(f"… and {len(messages) - limit} more (run import-enrollment for all)")
    return shown
