"""The print table: every site when they fit, else flagged and top sites, and it says so."""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboard.page.components.print_table import (
    PRINT_ROWS_MAX,
    print_table,
    select_rows,
    selection_note,
)

NONE = "Recruiting, none randomized"
STALE = "None in last 90 days"


def table(n: int, flags: dict[int, str], randomized: dict[int, int]) -> pd.DataFrame:
    """A site table of ``n`` sites "0001"…; flags and randomized counts by site number."""
    return pd.DataFrame(
        {
            "site_id": [f"{i:04d}" for i in range(1, n + 1)],
            "facility": [f"Hospital {i}" for i in range(1, n + 1)],
            "city": ["Lyon"] * n,
            "status": ["RECRUITING"] * n,
            "randomized": [randomized.get(i, 0) for i in range(1, n + 1)],
            "flag": [flags.get(i, "") for i in range(1, n + 1)],
        }
    )


def texts(component) -> list[str]:
    rows = component[2].children[1].children
    return [row.children[0].children for row in rows]


def test_every_site_when_they_fit_in_site_order() -> None:
    t = table(46, {3: NONE}, {1: 4})
    sel = select_rows(t)
    assert sel.left_out == 0 and len(sel.rows) == 46
    children = print_table(t)
    assert texts(children) == [f"{i:04d}" for i in range(1, 47)]
    assert selection_note(sel) == "All 46 sites, in site order."
    assert isinstance(children[2], html.Table)


def test_two_thousand_sites_list_top_then_flagged_and_say_how_many_are_left_out() -> None:
    # 2,000 sites: site i < 100 randomized 100 - i (1 most); sites 500–999 stale, 1500–1599 none.
    randomized = {i: 100 - i for i in range(1, 100)}
    flags = {i: STALE for i in range(500, 1000)} | {i: NONE for i in range(1500, 1600)}
    sel = select_rows(table(2000, flags, randomized))
    ids = list(sel.rows["site_id"])
    assert len(ids) == PRINT_ROWS_MAX == 48
    # 20 top sites (hand-ranked: 0001 has 99, 0002 has 98 …), then "none randomized" first.
    assert ids[:20] == [f"{i:04d}" for i in range(1, 21)]
    assert ids[20:] == [f"{i:04d}" for i in range(1500, 1528)]
    assert (sel.total, sel.flagged_total, sel.flagged_shown, sel.left_out) == (2000, 600, 28, 1952)
    note = selection_note(sel)
    assert "48 of 2000 sites" in note and "28 of 600 flagged sites" in note
    assert "1952 sites are left out" in note and "export --what sites" in note


def test_few_flagged_sites_are_all_listed_and_top_sites_fill_the_rest() -> None:
    sel = select_rows(table(60, {59: NONE, 60: STALE}, {i: i for i in range(1, 40)}), 50)
    ids = list(sel.rows["site_id"])
    # 48 unflagged: 39 (39 randomized) down to 1, then the unrandomized 40–48 by site id.
    top = [f"{i:04d}" for i in range(39, 0, -1)] + [f"{i:04d}" for i in range(40, 49)]
    assert ids == [*top, "0059", "0060"]
    assert sel.left_out == 10
    assert "the 48 unflagged sites with most randomized, then 2 flagged sites" in selection_note(
        sel
    )
