"""The main callback's replies, encoded once and kept: a view seen before is copied out.

:func:`encode_output` encodes a value as Dash would (JSON, ASCII only) and
:class:`OutputsCache` keeps the complete named outputs per data version, as-of date,
status filter and selection.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
import threading
from typing import Any

import cachetools
from dash.development.base_component import Component

from ..store import TrialData


def json_fragments_supported() -> bool:
    """Whether Dash encodes responses with orjson ≥ 3.9, which passes an
    ``orjson.Fragment`` (JSON encoded beforehand) through as it is."""
    import plotly.io.json as pjson

    try:
        import orjson
    except ImportError:
        return False
    return hasattr(orjson, "Fragment") and pjson.config.default_engine in ("auto", "orjson")


def encode_output(value: Any) -> Any:
    """A callback output encoded once, as Dash itself would encode it, for the cache.

    With orjson, an ``orjson.Fragment`` of the JSON Dash's encoder writes for the value
    (:func:`dash_json`, components and figures included): a cached response is then
    copied into the reply, not walked and encoded again. Without orjson, the value
    itself. ``dash.no_update`` stays as it is.
    """
    if isinstance(value, Component | dict | list | tuple | str) and json_fragments_supported():
        import orjson

        return orjson.Fragment(dash_json(value))
    return value


#: What plotly's encoder escapes so that JSON can sit inside HTML (``plotly.io._json``);
#: U+2028 and U+2029 are not ASCII, so :func:`ascii_json` escapes them.
_HTML_SAFE = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"/", b"\\u002f"))


def _component(value: Any) -> Any:
    """``Component.to_plotly_json()``, reading the props from the instance's own dict (the
    method asks ``hasattr`` and ``getattr`` for each of ~30 possible props: ~40 µs a
    component, 650 components in the print table). Same props, same order."""
    if not isinstance(value, Component):
        raise TypeError(type(value).__name__)
    own = value.__dict__
    props = {p: own[p] for p in value._prop_names if p in own}
    wildcards = tuple(value._valid_wildcard_attributes)
    props.update({k: own[k] for k in own if k.startswith(wildcards)})
    return {"props": props, "type": value._type, "namespace": value._namespace}


def dash_json(value: Any) -> str:
    """The JSON ``plotly.io.json.to_json_plotly`` writes for a callback output (the same
    value, ASCII only), written by orjson in one pass.

    plotly's encoder tries orjson on the value and, at the first Dash component (the
    KPI cards, the print table), walks the whole tree in Python to clean it first (~10×
    slower); here orjson asks each component for its ``to_plotly_json()`` as it meets it.
    A value orjson cannot write that way goes through plotly's encoder, as before.
    """
    import orjson

    try:
        raw = orjson.dumps(
            value,
            default=_component,
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        )
    except TypeError:
        import plotly.io.json as pjson

        return ascii_json(pjson.to_json_plotly(value))
    for unsafe, safe in _HTML_SAFE:
        if unsafe in raw:
            raw = raw.replace(unsafe, safe)
    text = raw.decode("utf-8")
    return text if raw.isascii() else ascii_json(text)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@functools.lru_cache(maxsize=4096)
def _escape_char(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _json_escape(match: re.Match[str]) -> str:
    return "".join(map(_escape_char, match.group()))


def ascii_json(text: str) -> str:
    """JSON text with every non-ASCII character written as a ``\\u`` escape (same value).

    Dash turns the encoded response into a ``str`` and back into bytes; a response with
    one "→" or "é" is a wide string, ~10× slower to handle (4 MB at 2,000 sites: 24 ms
    instead of 2 ms). Python's own ``backslashreplace`` writes the escapes in C; those it
    writes as ``\\xNN`` (U+0080–U+00FF, not JSON) are rewritten ``\\u00NN``. JSON that
    already holds a backslash then "x", or characters beyond U+FFFF (surrogate pairs in
    JSON), is escaped character by character.
    """
    if text.isascii():
        return text
    if "\\x" in text:  # the text of a string holds a backslash then "x": escape one by one
        return _NON_ASCII.sub(_json_escape, text)
    raw = text.encode("ascii", "backslashreplace")
    if b"\\U" in raw:  # beyond U+FFFF: JSON needs surrogate pairs
        return _NON_ASCII.sub(_json_escape, text)
    return raw.replace(b"\\x", b"\\u00").decode("ascii")


def _encoded_size(value: Any) -> int:
    """Bytes of an encoded output (an ``orjson.Fragment`` does not tell its length: it is
    written out, a copy, ~0.1 ms a megabyte)."""
    contents = getattr(value, "contents", None)
    if isinstance(contents, bytes | str):
        return len(contents)
    try:
        import orjson

        return len(orjson.dumps(value))
    except (ImportError, TypeError):
        return 1024


class CachedOutputs(dict):
    """Cached encoded outputs by name, numbered: ``serial`` is never reused, so it names
    these exact outputs (the compressed reply is kept under it)."""

    serial: int


def names(values: Any) -> tuple[str, ...]:
    """A status filter or site selection as the caches compare it: order and type aside."""
    return tuple(sorted(map(str, values or ())))


class OutputsCache:
    """The main callback's complete outputs, per data version, as-of, filter and selection.

    Seeing a date or a selection again (back and forth on the date picker, a click undone)
    costs a dictionary look-up and copying the already encoded JSON into the reply. Keys
    hold everything the outputs depend on besides the data (the as-of date, whether the
    date changed, the status filter, the selection, the store's error lines); entries hold
    their :class:`TrialData`, so a new data version (a new object) never reuses old
    outputs, even if ``id()`` of a freed object is reused.

    Bounded in entries and in bytes of encoded JSON (2,000 sites: ~1 MB an entry): an LRU
    cache whose budget is ``max_bytes``, where an entry weighs its encoded size but at
    least ``max_bytes / size``, so it never holds more than ``size`` entries either. A
    reply larger than the whole budget is sent, not kept.
    """

    def __init__(self, size: int = 64, max_bytes: int = 128 * 1024 * 1024):
        self.size = size
        self.max_bytes = max_bytes
        least = max(1, max_bytes // size)
        self._entries: cachetools.LRUCache[tuple, tuple[TrialData, CachedOutputs, int]] = (
            cachetools.LRUCache(maxsize=max_bytes, getsizeof=lambda entry: max(entry[2], least))
        )
        self._lock = threading.Lock()
        self._serials = itertools.count(1)

    @staticmethod
    def key(
        data: TrialData,
        as_of: dt.date,
        date_changed: bool,
        statuses: Any,
        selection: Any,
        errors: tuple[str, ...] = (),
    ) -> tuple:
        return (
            id(data),
            data.version,
            as_of,
            bool(date_changed),
            names(statuses),
            names(selection),
            tuple(errors),
        )

    def get(self, data: TrialData, key: tuple) -> CachedOutputs | None:
        with self._lock:
            hit = self._entries.get(key)
        if hit is None or hit[0] is not data:
            return None
        return hit[1]

    def put(self, data: TrialData, key: tuple, outputs: dict[str, Any]) -> CachedOutputs:
        """Store ``outputs`` for ``key``; returns them as numbered :class:`CachedOutputs`."""
        size = sum(_encoded_size(v) for v in outputs.values())
        numbered = CachedOutputs(outputs)
        with self._lock:
            numbered.serial = next(self._serials)
            self._entries.pop(key, None)
            if max(size, 1) <= self.max_bytes:
                self._entries[key] = (data, numbered, size)
        return numbered

    def __len__(self) -> int:
        return len(self._entries)
