"""The charts in words: a one-sentence summary and a data table for each figure.

A chart read only by hovering is closed to anyone who cannot see it. Each figure of the
page (accrual, map, randomized per site, activation) is described by a summary sentence
that a screen reader announces with the figure's name, and its numbers are reachable as
a plain table behind a "Show data" toggle. Both come from the same
:class:`~dashboard.page.view_model.PageNumbers` as the chart: per-site aggregates only, never a
patient-level row. :func:`register` fills the tables after the first screen and refreshes
both when the as-of date changes.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
from dash import Input, Output, State, ctx, html, no_update

from .. import dates
from ..registry import STATUS_LABELS
from .accessibility import described_figure
from .components.print_table import print_table
from .static_html import static_html

if TYPE_CHECKING:
    import dash

    from ..store import DataStore, TrialData
    from .view_model import NumbersCache, PageNumbers

#: The four charts: (figure name read by screen readers, id of its summary, id of its table).
CHARTS: dict[str, tuple[str, str, str]] = {
    "map": ("Map of the sites", "site-map-summary", "site-map-data"),
    "accrual": ("Accrual over time", "accrual-summary", "accrual-data"),
    "bars": ("Randomized per site", "site-bars-summary", "site-bars-data"),
    "activation": (
        "Site activation to first randomization",
        "site-activation-summary",
        "site-activation-data",
    ),
}


# ----------------------------------------------------------------------------- wording
def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    """The frame's rows as named tuples (their fields are the table's columns)."""
    return iter(frame.itertuples())


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _day(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _site_label(row: Any) -> str:
    name = str(row.facility or "").strip()
    return f"site {row.site_id}" + (f" {name}" if name else "")


def accrual_summary(numbers: PageNumbers, target: int, planned_completion: dt.date) -> str:
    """ "Accrual: 52 of 74 randomized as of 2025-11-20 (75 screened); plan 74 by 2026-02-28;
    forecast median 2026-10-26 (80 % 2026-07-21 – 2027-03-04)." """
    s = numbers.summary
    parts = [
        f"Accrual: {s.randomized} of {target} randomized as of {numbers.as_of.isoformat()} "
        f"({s.screened} screened)",
        f"plan {target} by {planned_completion.isoformat()}",
    ]
    forecast = numbers.forecast
    if forecast is None:
        parts.append("no forecast")
    elif forecast.remaining <= 0:
        reached = forecast.target_reached_date
        parts.append(f"target reached on {reached.isoformat()}" if reached else "target reached")
    else:
        pg = forecast.poisson_gamma
        if pg.median_target_date is not None:
            text = f"forecast median {pg.median_target_date.isoformat()}"
            low, high = pg.interval_80
            if low or high:
                text += (
                    f" (80 % {low.isoformat() if low else 'before'} – "
                    f"{high.isoformat() if high else 'beyond the horizon'})"
                )
            parts.append(text)
        else:
            parts.append("no forecast date" + (f": {pg.reason}" if pg.reason else ""))
    return "; ".join(parts) + "."


def map_summary(table: pd.DataFrame) -> str:
    """Sites, cities, statuses and how many have randomized: what the markers tell."""
    n = len(table)
    if n == 0:
        return "Map: no site in the registry record."
    cities = table["city"].fillna("").astype(str).str.strip()
    statuses = table["status"].value_counts()
    status_text = ", ".join(f"{k} {STATUS_LABELS.get(str(s), str(s))}" for s, k in statuses.items())
    randomizing = int((table["randomized"] > 0).sum())
    text = (
        f"Map: {_plural(n, 'site')} in {_plural(cities[cities != ''].nunique(), 'city', 'cities')}"
        f"; status: {status_text}; {randomizing} with at least one randomized patient, "
        f"{n - randomizing} none yet (hollow markers)"
    )
    missing = int((table["lat"].isna() | table["lon"].isna()).sum())
    if missing:
        text += f"; {_plural(missing, 'site')} without a location not drawn"
    return text + "."


def bars_summary(table: pd.DataFrame, top: int = 3) -> str:
    """The total, how many sites share it, and the sites with most randomized."""
    n = len(table)
    total = int(table["randomized"].sum()) if n else 0
    randomizing = table[table["randomized"] > 0]
    text = f"Randomized per site: {total} randomized at {len(randomizing)} of {_plural(n, 'site')}"
    if len(randomizing):
        leaders = randomizing.sort_values(["randomized", "site_id"], ascending=[False, True])
        most = ", ".join(
            f"{_site_label(r)} ({int(r.randomized)})"
            for r in _rows(leaders.head(top)[["site_id", "facility", "randomized"]])
        )
        text += f"; most: {most}"
    return text + "."


def activation_summary(table: pd.DataFrame, as_of: dt.date) -> str:
    """Activated, waiting for a first patient, median days from activation to the first."""
    n = len(table)
    activation = table["activation_date"].map(_day)
    known = activation.notna()
    activated = known & activation.map(lambda d: d is not None and d <= as_of)
    not_yet = known & ~activated
    unknown = int((~known).sum())
    started = table["randomized"] > 0
    parts = [f"Activation: {int(activated.sum())} of {_plural(n, 'site')} activated by {as_of}"]
    extra = []
    if not_yet.any():
        extra.append(f"{int(not_yet.sum())} later")
    if unknown:
        extra.append(f"{unknown} without an activation date")
    if extra:
        parts[0] += f" ({', '.join(extra)})"
    lag = pd.to_numeric(table["days_activation_to_first_randomization"], errors="coerce").dropna()
    n_started = int(started.sum())
    first = f"{n_started} {'has' if n_started == 1 else 'have'} randomized a first patient"
    if len(lag):
        first += f", a median {int(round(lag.median()))} days after activation"
    parts.append(first)
    waiting = int((activated & ~started).sum())
    parts.append(f"{_plural(waiting, 'activated site')} still waiting for a first patient")
    return "; ".join(parts) + "."


def summaries(numbers: PageNumbers, data: TrialData) -> dict[str, str]:
    trial = data.trial
    return {
        "map": map_summary(numbers.table),
        "accrual": accrual_summary(numbers, trial.target, trial.planned_completion_date),
        "bars": bars_summary(numbers.table),
        "activation": activation_summary(numbers.table, numbers.as_of),
    }


# ----------------------------------------------------------------------------- tables
def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, pd.Timestamp | dt.date):
        return pd.Timestamp(value).date().isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@functools.lru_cache(maxsize=32_768)
def _row_head(text: str) -> html.Th:
    """A row's header cell, made once per text: a component costs ~16 µs to make and the
    four tables of 2,000 sites hold ~50,000 cells, most the same from one date to the
    next. Components are never changed once made, so one cell may sit in several rows."""
    return html.Th(text, scope="row")


@functools.lru_cache(maxsize=32_768)
def _data_cell(text: str) -> html.Td:
    """A data cell, made once per text (see :func:`_row_head`)."""
    return html.Td(text)


def _table(caption: str, header: list[str], rows: list[list[Any]]) -> html.Table:
    return html.Table(
        [
            html.Caption(caption),
            html.Thead(html.Tr([html.Th(h, scope="col") for h in header])),
            html.Tbody(
                [
                    html.Tr([_row_head(_cell(row[0]))] + [_data_cell(_cell(v)) for v in row[1:]])
                    for row in rows
                ]
            ),
        ],
        className="table table-sm chart-data-table",
    )


def accrual_rows(accrual: pd.DataFrame) -> list[list[Any]]:
    """Cumulative counts at each month's end and on the as-of date (the daily series is
    the accrual export)."""
    if accrual.empty:
        return []
    frame = accrual.assign(date=pd.to_datetime(accrual["date"]))
    last = frame.groupby(frame["date"].dt.to_period("M")).tail(1)
    return [[r.date, int(r.screened), int(r.randomized)] for r in _rows(last)]


#: The site table's columns the data tables read: row tuples of the ~30 columns cost
#: most of the time of these tables.
TABLE_COLUMNS = (
    "site_id",
    "facility",
    "city",
    "status",
    "randomized",
    "share_of_randomized",
    "target",
    "activation_date",
    "first_randomization",
    "days_activation_to_first_randomization",
    "lat",
    "lon",
)


def data_tables(numbers: PageNumbers) -> dict[str, html.Table]:
    table = numbers.table[[c for c in TABLE_COLUMNS if c in numbers.table]]
    table = table.sort_values("site_id", key=lambda s: s.astype(str))
    status = [STATUS_LABELS.get(s, s) for s in table["status"]]
    located = ~(table["lat"].isna() | table["lon"].isna())
    return {
        "map": _table(
            "Sites on the map",
            ["Site", "Facility", "City", "Status", "Randomized", "On the map"],
            [
                [r.site_id, r.facility, r.city, st, int(r.randomized), "yes" if loc else "no"]
                for r, st, loc in zip(_rows(table), status, located, strict=True)
            ],
        ),
        "accrual": _table(
            "Cumulative screened and randomized at each month's end",
            ["Date", "Screened", "Randomized"],
            accrual_rows(numbers.accrual),
        ),
        "bars": _table(
            "Randomized per site",
            ["Site", "Facility", "Status", "Randomized", "Share %", "Site target"],
            [
                [
                    r.site_id,
                    r.facility,
                    st,
                    int(r.randomized),
                    r.share_of_randomized,
                    None if pd.isna(r.target) else int(r.target),
                ]
                for r, st in zip(_rows(table), status, strict=True)
            ],
        ),
        "activation": _table(
            "Site activation and first randomization",
            ["Site", "Facility", "Activated", "First randomization", "Days to first"],
            [
                [
                    r.site_id,
                    r.facility,
                    r.activation_date,
                    r.first_randomization,
                    None
                    if pd.isna(r.days_activation_to_first_randomization)
                    else int(r.days_activation_to_first_randomization),
                ]
                for r in _rows(table)
            ],
        ),
    }


# ----------------------------------------------------------------------------- page parts
def described_chart(kind: str, graph: Any, numbers: PageNumbers, data: TrialData) -> list[Any]:
    """The chart ``kind`` as a named figure with its summary, then its "Show data" toggle.

    The table behind the toggle is NOT in the page's first layout: the four tables and
    the print table are ~1,500 components the browser would lay out before the first
    screen, for views nobody sees on arrival (collapsed, or print only). :func:`register`
    fills them right after; the summary sentence is here at once for screen readers.
    """
    name, summary_id, data_id = CHARTS[kind]
    return [
        described_figure(graph, name, summary_id, summaries(numbers, data)[kind]),
        html.Details(
            [html.Summary(f"Show data: {name.lower()}"), html.Div(id=data_id)],
            className="chart-data",
        ),
    ]


def chosen_as_of(value: Any, search: str | None, first_call: bool) -> Any:
    """The as-of the page asks for: the picker's value, or at the page's first call the
    ``?as_of=`` of its link when that differs (the picker is about to follow the link:
    filling the tables for the picker's date first would show another date's rows)."""
    if first_call:
        from_url = dates.parse_as_of(search)
        if from_url is not None and from_url.isoformat() != str(value)[:10]:
            return from_url.isoformat()
    return value


def register(
    app: dash.Dash,
    store: DataStore,
    as_of_input: str,
    recounted: str,
    cache: NumbersCache,
    default_as_of: Callable[[], dt.date | None] = lambda: None,
    *,
    url: str,
    print_table_id: str,
) -> None:
    """Fill the summaries, the "Show data" tables and the print table (``print_table_id``)
    once the page is on screen, and again once it has been
    recounted for a new as-of date (``recounted``: the as-of line the page's refresh
    rewrites): the numbers are then in ``cache``, never computed twice at once. A new
    selection does not change them: they describe every site.

    The as-of is read from the page (the picker, ``url``'s ``?as_of=`` at the first call:
    :func:`chosen_as_of`), as the refresh reads it; a refused date leaves the tables as
    they are and says why in the summaries. Dash drops the reply of a call overtaken by a
    newer one, so a slow first call never overwrites a later date's tables.
    """
    kinds = list(CHARTS)

    @app.callback(
        *(Output(CHARTS[k][1], "children") for k in kinds),
        *(Output(CHARTS[k][2], "children") for k in kinds),
        Output(print_table_id, "children"),
        Input(recounted, "children"),
        State(as_of_input, "value"),
        State(url, "search"),
    )
    def refresh_chart_text(_recounted: Any, value: Any, search: Any):
        data = store.get()
        allowed = dates.as_of_range(data.trial.start_date, data.data_cutoff)
        first_call = ctx.triggered_id is None
        wanted = chosen_as_of(value, search if isinstance(search, str) else None, first_call)
        try:
            as_of = dates.resolve_as_of(wanted, default_as_of() or data.data_cutoff, allowed)
        except dates.AsOfRefused as exc:
            # The charts keep the last date they drew; their descriptions say why.
            return (*(str(exc) for _ in kinds), *(no_update for _ in kinds), no_update)
        numbers = cache.get(data, as_of)
        texts, tables = summaries(numbers, data), data_tables(numbers)
        # One HTML string per table, not a component per cell (see static_html).
        return (
            *(texts[k] for k in kinds),
            *(static_html(tables[k]) for k in kinds),
            static_html(print_table(numbers.table)),
        )
