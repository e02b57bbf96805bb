"""The main callback's replies encoded by :func:`dashboard.page.replies.dash_json`: the
very JSON Dash's own encoder (plotly's ``to_json_plotly``) writes, ASCII only."""

from __future__ import annotations

import json

import numpy as np
import plotly.io.json as pjson
import pytest
from dash import html
from hypothesis import given
from hypothesis import strategies as st

from dashboard.page import replies
from dashboard.page.callbacks import refresh_outputs
from dashboard.page.view_model import NumbersCache
from dashboard.store import load_trial_data
from tests.helpers import small_trial_data


def _plotly(value) -> str:
    return replies.ascii_json(pjson.to_json_plotly(value))


@pytest.mark.parametrize("which", ["small", "shipped"])
def test_every_refresh_output_encodes_as_dash_would(which, shipped_data_dir):
    data = small_trial_data() if which == "small" else load_trial_data(shipped_data_dir)
    made = refresh_outputs(
        NumbersCache(), data, ("Erreur à la ligne 3 → 4",), data.data_cutoff, [], [], False
    )
    for name, value in made.items():
        assert replies.dash_json(value) == _plotly(value), name


def test_numpy_values_nan_and_html_text_encode_as_dash_would():
    value = {
        "x": np.array([1.5, np.nan]),
        "n": np.int64(3),
        "html": "<b>Créteil</b> / 2",
        "child": html.Div(["a", html.Span("é", id="s")], className="c"),
        "sep": "\u2028",
    }
    assert replies.dash_json(value) == _plotly(value)
    assert replies.dash_json(value).isascii()


@given(
    st.recursive(st.text() | st.integers(), lambda k: st.lists(k) | st.dictionaries(st.text(), k))
)
def test_ascii_json_escapes_every_non_ascii_character_and_keeps_the_value(value):
    text = json.dumps(value, ensure_ascii=False)
    escaped = replies.ascii_json(text)
    assert escaped.isascii() and json.loads(escaped) == value
    # The same text as the escapes written one character at a time.
    assert escaped == replies._NON_ASCII.sub(replies._json_escape, text)
