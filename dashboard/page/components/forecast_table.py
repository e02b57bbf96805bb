"""The forecast's details under the outlook cards: rate trend, prior, and the sites-needed table.

Why: a sponsor deciding whether to open sites needs more than one number — how much opening
k more sites would help, depending on how long they take to open. The heat table shows
P(target by the deadline) per activation lag (rows) and number of extra sites (columns),
with the smallest number reaching 80 % per lag. Kept apart from the KPI cards, which
only call :func:`forecast_details`.
"""

from __future__ import annotations

from typing import Any

from dash import html

from ... import forecast as fc
from ...report_text import prior_text, trend_text

#: Columns shown on the page (a subset of the JSON's k values, to stay small).
PAGE_K = (0, 1, 2, 5, 10, 20, 50)


def _heat_class(p: float) -> str:
    """A colour class in five steps of P (the same tones as the probability card)."""
    if p >= fc.TARGET_PROBABILITY:
        return "heat heat-ok"
    if p >= 0.5:
        return "heat heat-mid"
    if p >= 0.2:
        return "heat heat-low"
    return "heat heat-none"


def _pct(p: float) -> str:
    if p <= 0:
        return "0"
    if p >= 1:
        return "100"
    if p < 0.01:
        return "<1"
    if p > 0.99:
        return ">99"
    return f"{round(100 * p)}"


def sites_needed_table(table: dict[str, Any] | None, deadline_index: int = 0) -> html.Div | None:
    """The heat table of one deadline (planned completion first), or None without one."""
    if not table or not table.get("deadlines"):
        return None
    block = table["deadlines"][min(deadline_index, len(table["deadlines"]) - 1)]
    goal = f"{table['target_probability']:.0%}".replace("%", " %")
    caption = (
        f"P(target by {block['deadline']}, {block['date']}) with k more sites opening after a "
        f"lag, {table['ramp_up_days']}-day ramp-up, rates drawn from the fitted law (%)"
    )
    if block.get("reason"):
        return html.Div(
            [html.Div(caption, className="sites-table-caption"), html.Div(block["reason"])],
            className="sites-needed",
            id="sites-needed",
        )
    ks = [k for k in PAGE_K if str(k) in block["rows"][0]["probability_by_k"]]
    header = html.Tr(
        [html.Th("lag")] + [html.Th(f"+{k}") for k in ks] + [html.Th(f"smallest k for {goal}")]
    )
    body = []
    for row in block["rows"]:
        probs = row["probability_by_k"]
        smallest = row["smallest_k_for_target_probability"]
        body.append(
            html.Tr(
                [html.Th(f"{row['lag_days']} d")]
                + [html.Td(_pct(probs[str(k)]), className=_heat_class(probs[str(k)])) for k in ks]
                + [
                    html.Td(
                        str(smallest) if smallest is not None else f"> {table['max_k']}",
                        className="sites-smallest",
                    )
                ]
            )
        )
    return html.Div(
        [
            html.Div(caption, className="sites-table-caption"),
            html.Table([html.Thead(header), html.Tbody(body)], className="sites-table"),
        ],
        className="sites-needed",
        id="sites-needed",
    )


def forecast_details(result: dict[str, Any] | None) -> list[Any]:
    """Trend sentence, prior sentence and the sites-needed heat table (what there is of them)."""
    pg = (result or {}).get("poisson_gamma") or {}
    out: list[Any] = []
    if pg.get("trend"):
        out.append(html.Div(trend_text(pg["trend"]), id="forecast-trend"))
    if pg.get("prior"):
        out.append(html.Div(prior_text(pg["prior"]), id="forecast-prior"))
    table = sites_needed_table(pg.get("sites_needed"))
    if table is not None:
        out.append(table)
    return out
