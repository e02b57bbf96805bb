"""The "Show data" tables and the print table come after the first screen, for the date
the page shows: not in the initial layout, filled by chart_text's callback at load."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from dashboard.page import ids
from dashboard.page.chart_text import CHARTS, chosen_as_of

LINKED = "2024-06-30"


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _by_id(tree: Any, ident: str) -> dict[str, Any]:
    return next(n for n in _walk(tree) if n.get("props", {}).get("id") == ident)


@pytest.fixture
def served(data_dir):
    from dashboard.app import create_app

    app = create_app(data_dir, auth=None)
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if f"{ids.PRINT_TABLE}.children" in d["output"])
    return client, dep


def _call(client, dep, picker: str, search: str, changed: list[str]) -> dict[str, Any]:
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append({"id": ident, "property": prop})
    values = {(ids.AS_OF, "value"): picker, (ids.URL, "search"): search}

    def item(i: dict[str, Any]) -> dict[str, Any]:
        return {**i, "value": values.get((i["id"], i["property"]), "as of")}

    body = {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [item(i) for i in dep["inputs"]],
        "state": [item(s) for s in dep["state"]],
        "changedPropIds": changed,
    }
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200
    return reply.get_json()["response"]


def test_initial_layout_holds_summaries_but_no_table(served):
    client, _ = served
    layout = client.get("/_dash-layout").get_json()
    text = json.dumps(layout)
    assert "chart-data-table" not in text and "print-sites-table" not in text
    for _name, summary_id, data_id in CHARTS.values():
        assert _by_id(layout, summary_id)["props"]["children"]  # the sentence is there at once
        assert not _by_id(layout, data_id)["props"].get("children")
    assert not _by_id(layout, ids.PRINT_TABLE)["props"].get("children")


def test_the_tables_are_filled_at_load(served):
    client, dep = served
    assert not dep.get("prevent_initial_call")
    response = _call(client, dep, picker="", search="", changed=[])
    printed = json.dumps(response[ids.PRINT_TABLE]["children"])
    assert "print-sites-table" in printed and "All 46 sites" in printed
    for _name, _summary_id, data_id in CHARTS.values():
        assert "chart-data-table" in json.dumps(response[data_id]["children"])


def test_a_dated_link_never_shows_the_pickers_date_first(served):
    """At load the picker still holds the cut-off while the link asks for another date:
    the first fill is for the link's date, as the later fill (picker followed) is."""
    client, dep = served
    first = _call(client, dep, picker="", search=f"?as_of={LINKED}", changed=[])
    assert f"as of {LINKED}" in first["accrual-summary"]["children"]
    later = _call(
        client,
        dep,
        picker=LINKED,
        search=f"?as_of={LINKED}",
        changed=[f"{ids.AS_OF_TEXT}.children"],
    )
    assert first == later
    cutoff = _call(client, dep, picker="", search="", changed=[])
    assert first[ids.PRINT_TABLE] != cutoff[ids.PRINT_TABLE]


def test_after_load_the_picker_decides():
    assert chosen_as_of("2024-05-01", "?as_of=2024-06-30", first_call=True) == "2024-06-30"
    assert chosen_as_of("2024-05-01", "?as_of=2024-06-30", first_call=False) == "2024-05-01"
    assert chosen_as_of("2024-06-30", "?as_of=2024-06-30", first_call=True) == "2024-06-30"
    assert chosen_as_of("2024-05-01", "?as_of=nonsense", first_call=True) == "2024-05-01"
    assert chosen_as_of(None, None, first_call=True) is None
    assert dt.date.fromisoformat(chosen_as_of(None, "?as_of=2024-06-30", True)) == dt.date(
        2024, 6, 30
    )


def test_static_html_escapes_what_users_typed():
    from dash import html

    from dashboard.page.static_html import to_html

    table = html.Table(
        [html.Caption("Sites"), html.Tbody(html.Tr([html.Th("01", scope="row"), html.Td("<b>&")]))],
        className="t",
    )
    assert to_html(table) == (
        '<table class="t"><caption>Sites</caption><tbody><tr><th scope="row">01</th>'
        "<td>&lt;b&gt;&amp;</td></tr></tbody></table>"
    )
