"""The page: header, alerts, KPI cards, map, accrual, per-site views and the sites table.

Every number shown comes from :mod:`dashboard.metrics` via :func:`page_numbers`; the
builders here only word and arrange them. :func:`serve_layout` is called on every page
load (Dash layout function), so a reload shows the data dir's current files.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from . import forecast as fc
from . import metrics
from .accessibility import MAIN_ID, as_of_input, progress_bar, status_filter
from .asof import as_of_warnings
from .basemap import topojson_url_for
from .chart_text import described_chart
from .figures import theme
from .figures.accrual import accrual_figure
from .figures.map import map_subtitle, site_map_figure
from .figures.sites import activation_figure, figure_height, site_bar_figure
from .forecast_from_cutoff import forecast_as_of
from .forecast_table import forecast_details
from .print_table import print_panel
from .registry import STATUS_LABELS, Trial
from .store import LOAD_ERRORS, DataStore, TrialData
from .viewer_warnings import viewer_messages

# ----------------------------------------------------------------------------- component ids
URL = "url"
AS_OF = "as-of-date"
STATUS_FILTER = "status-filter"
SELECTION = "selected-sites"
CLEAR_SELECTION = "clear-selection"
SELECTION_TEXT = "selection-text"
ALERTS = "alerts"
KPIS = "kpi-cards"
AS_OF_TEXT = "as-of-text"
MAP = "site-map"
ACCRUAL = "accrual-chart"
BARS = "site-bars"
ACTIVATION = "site-activation"
GRID = "sites-grid"
GRID_COUNT = "sites-grid-count"
# Downloads: the snapshot (same file as the ``snapshot`` command) and the tables (the same
# files as the ``export`` command).
PDF_BUTTON = "download-pdf"
PNG_BUTTON = "download-png"
SNAPSHOT_DOWNLOAD = "download-snapshot"
SNAPSHOT_STATUS = "snapshot-status"
SNAPSHOT_BUSY = "snapshot-busy"
SITES_CSV = "export-sites-csv"
SITES_XLSX = "export-sites-xlsx"
SITES_DOWNLOAD = "download-sites"
ACCRUAL_CSV = "export-accrual-csv"
ACCRUAL_XLSX = "export-accrual-xlsx"
ACCRUAL_DOWNLOAD = "download-accrual"

MAP_HEIGHT = 560
ACCRUAL_HEIGHT = 560

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- numbers
@dataclass(frozen=True)
class PageNumbers:
    """Everything the page shows for one as-of date, all computed by :mod:`dashboard.metrics`."""

    as_of: dt.date
    summary: dict[str, Any]  # metrics.summary: counts, percent, sites, pace
    week: dict[str, Any]  # metrics.week_changes
    table: pd.DataFrame  # metrics.site_table
    accrual: pd.DataFrame  # metrics.accrual_series
    status_counts: dict[str, int]  # metrics.status_counts
    #: dashboard.forecast.forecast (both methods), or None when it failed (see forecast_error)
    forecast: dict[str, Any] | None = None
    forecast_error: str | None = None

    @property
    def pace(self) -> dict[str, Any]:
        return self.summary["pace"]


def run_forecast(
    data: TrialData, as_of: dt.date, paths: int | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """:func:`dashboard.forecast.forecast` with its defaults (10,000 paths, fixed seed),
    made from the data cut-off when ``as_of`` is after it
    (:func:`dashboard.forecast_from_cutoff.forecast_as_of`; its ``warnings`` say so).

    A forecast that fails must not take the page down with it: the counts are still right.
    The error is logged and worded on the forecast cards instead.
    """
    options = {} if paths is None else {"paths": paths}
    try:
        result = forecast_as_of(
            data.trial, data.sites, data.enrollment, as_of, data.data_cutoff, **options
        )
        return result, None
    except Exception as exc:  # any failure: the counts are shown without a forecast
        logger.exception("forecast failed for as_of %s", as_of)
        return None, f"{type(exc).__name__}: {exc}"


def page_numbers(
    data: TrialData, as_of: metrics.DateLike, forecast_paths: int | None = None
) -> PageNumbers:
    cut = metrics.to_date(as_of)
    result, error = run_forecast(data, cut, forecast_paths)
    table = metrics.site_table(
        data.sites, data.geocodes, data.enrollment, cut, data.trial.start_date
    )
    return PageNumbers(
        as_of=cut,
        summary=metrics.summary(
            data.trial,
            data.sites,
            data.geocodes,
            data.enrollment,
            cut,
            synthetic=data.synthetic,
            data_cutoff=data.data_cutoff,
            table=table,
        ),
        week=metrics.week_changes(data.sites, data.enrollment, cut, data.status_events),
        table=table,
        accrual=metrics.accrual_series(data.enrollment, data.trial.start_date, cut),
        status_counts=metrics.status_counts(data.sites),
        forecast=result,
        forecast_error=error,
    )


class NumbersCache:
    """The last few :class:`PageNumbers`, per data version and as-of date.

    A click that only changes the selection redraws the figures from the same numbers
    instead of recounting, and the forecast (10,000 simulated paths) runs once per data
    version and as-of date. Entries hold their :class:`TrialData`, so a new data version
    (a new object) never reuses old numbers.
    """

    def __init__(self, size: int = 8, forecast_paths: int | None = None):
        self.size = size
        #: Simulated forecast paths (None: the forecast's default, 10,000).
        self.forecast_paths = forecast_paths
        self._entries: OrderedDict[tuple[int, str, dt.date], tuple[TrialData, PageNumbers]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, data: TrialData, as_of: metrics.DateLike) -> PageNumbers:
        cut = metrics.to_date(as_of)
        key = (id(data), data.version, cut)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] is data:
                self._entries.move_to_end(key)
                return hit[1]
        numbers = page_numbers(data, cut, self.forecast_paths)
        with self._lock:
            self._entries[key] = (data, numbers)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return numbers


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
    (``plotly.io.json.to_json_plotly``, components and figures included): a cached
    response is then copied into the reply, not walked and encoded again. Without
    orjson, the value itself. ``dash.no_update`` stays as it is.
    """
    if isinstance(value, Component | dict | list | tuple | str) and json_fragments_supported():
        import orjson
        import plotly.io.json as pjson

        return orjson.Fragment(ascii_json(pjson.to_json_plotly(value)))
    return value


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
    instead of 2 ms).
    """
    return text if text.isascii() else _NON_ASCII.sub(_json_escape, text)


def _encoded_size(value: Any) -> int:
    contents = getattr(value, "contents", None)
    return len(contents) if isinstance(contents, bytes | str) else 1024


class CachedOutputs(tuple):
    """A cached tuple of encoded outputs, numbered: ``serial`` is never reused, so it
    names these exact outputs (the compressed reply is kept under it)."""

    serial: int


class OutputsCache:
    """The main callback's complete outputs, per data version, as-of, filter and selection.

    Seeing a date or a selection again (back and forth on the date picker, a click undone)
    costs a dictionary look-up and copying the already encoded JSON into the reply. Keys
    hold everything the outputs depend on besides the data (the as-of date, whether the
    date changed, the status filter, the selection, the store's error lines); entries hold
    their :class:`TrialData`, so a new data version (a new object) never reuses old
    outputs, even if ``id()`` of a freed object is reused. Bounded in entries and in bytes
    of encoded JSON (2,000 sites: ~1 MB an entry).
    """

    def __init__(self, size: int = 64, max_bytes: int = 128 * 1024 * 1024):
        self.size = size
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple, tuple[TrialData, CachedOutputs, int]] = OrderedDict()
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
            tuple(sorted(map(str, statuses or ()))),
            tuple(sorted(map(str, selection or ()))),
            tuple(errors),
        )

    def get(self, data: TrialData, key: tuple) -> CachedOutputs | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] is not data:
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, data: TrialData, key: tuple, outputs: tuple) -> CachedOutputs:
        """Store ``outputs`` for ``key``; returns them as numbered :class:`CachedOutputs`."""
        size = sum(_encoded_size(v) for v in outputs)
        outputs = CachedOutputs(outputs)
        with self._lock:
            outputs.serial = next(self._serials)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._entries[key] = (data, outputs, size)
            self._bytes += size
            while len(self._entries) > self.size or (
                self._bytes > self.max_bytes and len(self._entries) > 1
            ):
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return outputs

    def __len__(self) -> int:
        return len(self._entries)


# ----------------------------------------------------------------------------- wording
def week_delta_text(delta: int) -> str:
    """ "+1 this week", "−2 this week", "no change this week"."""
    if delta == 0:
        return "no change this week"
    return f"{'+' if delta > 0 else '−'}{abs(delta)} this week"


def rate_text(rate: float) -> str:
    return f"{rate:.1f}/month"


def pace_comparison(current: float, required: float | None) -> tuple[str, str]:
    """(sentence, tone) comparing the current rate with a required one; tone is a
    Bootstrap colour: "success" on track, "warning" slightly behind, "danger" behind."""
    if required is None:
        return "no time left: the date has passed", "danger"
    if required <= 0:
        return "target reached", "success"
    now = f"{rate_text(current)} now vs {rate_text(required)} needed"
    if current <= 0:
        return f"{now} — no randomization in the last 90 days", "danger"
    ratio = required / current
    if ratio <= 1.0:
        return f"{now} — on track", "success"
    tone = "warning" if ratio < 1.25 else "danger"
    return f"{now} — {ratio:.1f}× behind", tone


def completion_text(days_to_completion: int) -> str:
    if days_to_completion > 0:
        return f"{days_to_completion} day{'s' if days_to_completion != 1 else ''} left"
    if days_to_completion == 0:
        return "completion is today"
    late = -days_to_completion
    return f"{late} day{'s' if late != 1 else ''} past"


def lpi_comparison(pace: dict[str, Any], last_patient_in: dt.date) -> tuple[str, str]:
    """The rate needed for the last patient to finish treatment by planned completion."""
    if pace["remaining"] <= 0:
        return "target reached", "success"
    if pace["days_to_last_patient_in"] < 0:
        return f"last-patient-in date passed on {last_patient_in.isoformat()}", "danger"
    return pace_comparison(pace["current_rate_per_month"], pace["required_rate_lpi_per_month"])


def sites_delta_text(delta: int) -> str:
    """The Sites card's weekly change: sites whose *first* randomization fell in the week."""
    if delta == 0:
        return "no new site enrolling this week"
    sites = "site" if abs(delta) == 1 else "sites"
    return f"{'+' if delta > 0 else '−'}{abs(delta)} {sites} enrolling this week"


# ----------------------------------------------------------------------------- forecast wording
FORECAST_HORIZON_YEARS = fc.MAX_FORECAST_DAYS // 365


def probability_text(p: float | None) -> str:
    """A probability as a whole percentage: simulations do not support a decimal.

    Never rounds to a certainty that is not one: "< 1 %" and "> 99 %" stay apart from
    "0 %" and "100 %" (a known outcome: the date has passed, or the target is reached).
    """
    if p is None:
        return "—"
    if p <= 0:
        return "0 %"
    if p >= 1:
        return "100 %"
    if p < 0.01:
        return "< 1 %"
    if p > 0.99:
        return "> 99 %"
    return f"{round(100 * p)} %"


def probability_tone(p: float | None) -> str | None:
    """Bootstrap tone of a probability of reaching the target on time (as the pace card)."""
    if p is None:
        return None
    if p >= fc.TARGET_PROBABILITY:
        return "success"
    return "warning" if p >= 0.5 else "danger"


def _forecast_date(value: str | None) -> str:
    return value or f"beyond {FORECAST_HORIZON_YEARS} years"


def months_apart_text(later: dt.date, earlier: dt.date, what: str) -> str:
    """ "≈8 months after planned completion", "≈2 months before …", "within a month of …",
    "≈9 years after …" (years from 24 months on)."""
    days = (later - earlier).days
    side = "after" if days > 0 else "before"
    months = round(abs(days) / metrics.MONTH_DAYS)
    if months == 0:
        return f"within a month of {what}"
    if months >= 24:
        return f"≈{round(abs(days) / 365.25)} years {side} {what}"
    unit = "month" if months == 1 else "months"
    return f"≈{months} {unit} {side} {what}"


def additional_sites_text(
    n: int | None, reason: str | None, lag_days: int | None = None
) -> tuple[str | None, bool]:
    """(sentence, muted) about the sites that would lift P(target on time) to 80 %."""
    goal = f"{fc.TARGET_PROBABILITY:.0%}".replace("%", " %")
    if n is None:
        return (reason, True) if reason else (None, False)
    if n == 0:
        return f"no additional site needed for {goal}", False
    sites = "site" if n == 1 else "sites"
    lag = f"opening after a {lag_days}-day lag" if lag_days is not None else "opening after a lag"
    return f"≈{n} more {sites} ({lag}) would be needed for {goal}", False


def forecast_method_text(result: dict[str, Any] | None) -> str:
    """One line naming the method, its simulations and whether parameter uncertainty is in."""
    pg = (result or {}).get("poisson_gamma") or {}
    paths = pg.get("paths") or fc.DEFAULT_PATHS
    uncertainty = (
        "parameter uncertainty included"
        if pg.get("parameter_uncertainty", True)
        else "plug-in parameters (their uncertainty could not be drawn)"
    )
    sites = ""
    if pg.get("sites_used"):
        planned = len(pg.get("sites_planned") or [])
        sites = (
            f", {pg['sites_used']} open" + (f" + {planned} planned" if planned else "") + " sites"
        )
    return (
        f"Forecast: Poisson–gamma (Anisimov & Fedorov), {paths:,} simulations, {uncertainty}"
        f"{sites}. Linear trend: weighted least squares of the cumulative count (accrualPlot)."
    )


def chart_forecast(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the accrual chart draws of a forecast: the Poisson–gamma fan and median path and
    the linear date; None when the target is reached or there is nothing to draw."""
    if not result or result.get("remaining", 0) <= 0:
        return None
    pg = result["poisson_gamma"]
    out: dict[str, Any] = {}
    chart = pg.get("chart") or {}
    if pg.get("alpha") is not None and len(chart.get("dates") or []) > 1:
        out.update(chart)
    linear_date = result["linear"].get("predicted_target_date")
    if linear_date:
        out["linear_date"] = linear_date
    return out or None


# ----------------------------------------------------------------------------- header & alerts
def as_of_text(as_of: dt.date) -> list[Any]:
    return ["Counts as of ", html.Strong(as_of.isoformat(), id="as-of-value")]


def header(
    data: TrialData,
    as_of: dt.date,
    max_date: dt.date,
    status_choices: list[dict[str, str]] | None = None,
) -> html.Header:
    trial = data.trial
    title_badges = []
    if data.synthetic:
        title_badges.append(
            dbc.Badge(
                "DEMO · SYNTHETIC DATA",
                color="warning",
                text_color="dark",
                className="ms-2 align-middle demo-badge",
                id="synthetic-badge",
            )
        )
    facts = [
        html.A(
            [trial.nct_id, " ↗"],
            href=trial.registry_url,
            target="_blank",
            rel="noopener noreferrer",
            id="nct-link",
            className="fw-semibold",
        ),
        html.Span(["Sponsor: ", html.Strong(trial.sponsor)]),
        html.Span(f"Target {trial.target} randomized"),
        html.Span(f"Start {trial.start_date.isoformat()}"),
        html.Span(f"Planned completion {trial.planned_completion_date.isoformat()}"),
    ]
    fact_items: list[Any] = []
    for i, fact in enumerate(facts):
        if i:
            fact_items.append(html.Span("·", className="sep"))
        fact_items.append(fact)
    controls = html.Div(
        [
            html.Div(
                [
                    dbc.Label("As of", html_for=AS_OF, className="control-label"),
                    as_of_input(AS_OF, as_of, trial.start_date, max_date),
                ],
                className="control",
            ),
            html.Div(
                status_filter(STATUS_FILTER, status_choices or [], "Select by status"),
                className="control control-status",
            ),
            html.Div(
                [
                    html.Div("No selection", id=SELECTION_TEXT, className="selection-text"),
                    dbc.Button(
                        "Clear selection",
                        id=CLEAR_SELECTION,
                        color="secondary",
                        outline=True,
                        size="sm",
                    ),
                ],
                className="control control-clear",
            ),
            snapshot_control(),
        ],
        className="controls",
    )
    return html.Header(
        dbc.Container(
            [
                html.Div(
                    [
                        html.H1(
                            [
                                html.Span(trial.acronym or trial.nct_id, className="acronym"),
                                html.Span(" — ", className="text-body-tertiary"),
                                html.Span(trial.title, className="trial-title"),
                                *title_badges,
                            ],
                            className="page-title",
                            id="page-title",
                        ),
                        html.Div(fact_items, className="facts"),
                        html.Div(
                            [
                                html.Span(
                                    [
                                        "Data cut-off ",
                                        html.Strong(data.data_cutoff.isoformat(), id="data-cutoff"),
                                    ]
                                ),
                                html.Span("·", className="sep"),
                                html.Span(as_of_text(as_of), id=AS_OF_TEXT),
                            ],
                            className="as-of-line",
                        ),
                    ],
                    className="title-block",
                ),
                controls,
            ],
            fluid=True,
            className="header-inner",
        ),
        className="page-header",
    )


def snapshot_control() -> html.Div:
    """ "Download snapshot: PDF | PNG": the ``snapshot`` command's file for the as-of date.

    The server renders the page in headless Chromium (10–30 s): while it does, both buttons
    are disabled and a spinner says so (the callback's ``running`` outputs).
    """
    return html.Div(
        [
            html.Div(
                [
                    "Download snapshot",
                    html.Span(
                        [
                            html.Span(className="spinner-border spinner-border-sm me-1"),
                            "rendering…",
                        ],
                        id=SNAPSHOT_BUSY,
                        className="snapshot-busy",
                        style={"display": "none"},
                        role="status",
                    ),
                ],
                className="control-label",
            ),
            dbc.ButtonGroup(
                [
                    html.Button(
                        "PDF",
                        id=PDF_BUTTON,
                        type="button",
                        className="btn btn-outline-primary btn-sm",
                        title="Download PDF: A4 landscape, at most three pages (as the snapshot command)",
                        **{"aria-label": "Download PDF"},
                    ),
                    html.Button(
                        "PNG",
                        id=PNG_BUTTON,
                        type="button",
                        className="btn btn-outline-primary btn-sm",
                        title="Download PNG: the whole page, 1920 px wide",
                        **{"aria-label": "Download PNG"},
                    ),
                ],
                size="sm",
            ),
            html.Div(id=SNAPSHOT_STATUS, className="snapshot-status", role="alert"),
            dcc.Download(id=SNAPSHOT_DOWNLOAD),
        ],
        className="control control-snapshot",
    )


def export_menu(what: str, csv_id: str, xlsx_id: str, download_id: str) -> list[Any]:
    """A panel's small "Export" menu: its table as CSV (UTF-8 with BOM) or XLSX, the same
    files as ``recruitment-dashboard export --what <what>``."""
    return [
        dbc.DropdownMenu(
            [
                dbc.DropdownMenuItem("Download CSV", id=csv_id),
                dbc.DropdownMenuItem("Download XLSX", id=xlsx_id),
            ],
            label="Export",
            color="primary",  # drawn as an outline button by dashboard.css (.export-menu)
            size="sm",
            align_end=True,
            id=f"{download_id}-menu",
            className="export-menu",
        ),
        dcc.Download(id=download_id),
    ]


def alerts(data: TrialData, store_errors: tuple[str, ...], as_of: dt.date) -> list[Any]:
    """Warnings a reader must see before trusting the numbers.

    The date warnings are :func:`dashboard.asof.as_of_warnings`, the words ``summary`` and
    ``forecast`` print (the forecast's own ones are in its note: :func:`forecast_warning_spans`).
    """
    out: list[Any] = []
    if store_errors:
        out.append(
            dbc.Alert(
                [
                    html.Strong(
                        "The data directory has problems; showing the last good data. "
                        "Run `recruitment-dashboard validate` on the server for details."
                    ),
                    html.Ul([html.Li(e) for e in store_errors[:12]], className="mb-0 mt-1"),
                ],
                color="danger",
                className="py-2 mb-2",
                id="store-errors",
            )
        )
    if data.synthetic:
        note = data.meta.get("note") or "Synthetic enrollment for demonstration."
        out.append(
            dbc.Alert(
                [html.Strong("Demo: synthetic data. "), note],
                color="warning",
                className="py-2 mb-2",
                id="synthetic-alert",
            )
        )
    if not len(data.enrollment) and not data.synthetic:
        out.append(
            dbc.Alert(
                [
                    html.Strong("No enrollment imported yet. "),
                    "Next: type the sites' activation dates (and targets) into sites.csv, then "
                    "import the EDC/IWRS export: recruitment-dashboard import-enrollment "
                    "EXPORT.csv --cutoff YYYY-MM-DD --data-dir DIR (or `recruitment-dashboard "
                    "demo --data-dir DIR` for synthetic data).",
                ],
                color="info",
                className="py-2 mb-2",
                id="no-enrollment",
            )
        )
    summary_warnings = as_of_warnings(data.trial.start_date, data.data_cutoff, as_of)
    ids = ["before-start", "stale-cutoff"]
    for warning in summary_warnings:
        ident = ids[0] if warning.startswith("The as-of date") else ids[1]
        out.append(dbc.Alert(warning, color="warning", className="py-2 mb-2", id=ident))
    return out


def forecast_warning_spans(numbers: PageNumbers, data: TrialData) -> list[Any]:
    """The forecast's own date warnings (a past last-patient-in date, a forecast made from
    the cut-off), in the forecast note: the alerts above already say the others."""
    said = set(as_of_warnings(data.trial.start_date, data.data_cutoff, numbers.as_of))
    extra = [w for w in (numbers.forecast or {}).get("warnings", []) if w not in said]
    if not extra:
        return []
    return [
        html.Span(" ⚠ " + " ".join(extra), className="forecast-warning", id="forecast-warnings")
    ]


# ----------------------------------------------------------------------------- KPI cards
def _card(
    title: str, value: Any, details: list[Any], card_id: str, tone: str | None = None
) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(title, className="kpi-title"),
                html.Div(value, className=f"kpi-value{' text-' + tone if tone else ''}"),
                *details,
            ]
        ),
        className="kpi-card h-100",
        id=card_id,
    )


def _delta(delta: int, card: str, wording=week_delta_text) -> html.Div:
    tone = "pos" if delta > 0 else ("neg" if delta < 0 else "zero")
    return html.Div(wording(delta), className=f"kpi-delta kpi-delta-{tone}", id=f"{card}-delta")


# ----------------------------------------------------------------------------- this week
#: Longest list of sites the "This week" card shows before "… and N more".
WEEK_LIST_MAX = 8


def week_count_text(n: int) -> str:
    """ "+2", "0", "−1": a week's change as a signed count."""
    return f"+{n}" if n > 0 else ("0" if n == 0 else f"−{-n}")


def week_range_text(week: dict[str, Any], as_of: dt.date) -> str:
    """The seven days of the week: (since, as_of], written as first – last day."""
    first = dt.date.fromisoformat(week["since"]) + dt.timedelta(days=1)
    return f"{first.isoformat()} – {as_of.isoformat()}"


def _site_name(site: dict[str, Any]) -> str:
    city = site.get("city")
    return f"{site['facility']}, {city}" if city else str(site["facility"])


def status_change_text(event: dict[str, Any]) -> str:
    """ "CHU Tours, Tours: Not yet recruiting → Recruiting" (a site new to the registry
    has no "from")."""
    before = event.get("from")
    was = STATUS_LABELS.get(before, before) if before else "new in the registry"
    now = STATUS_LABELS.get(event.get("to"), event.get("to") or "?")
    return f"{_site_name(event)}: {was} → {now}"


def week_has_changes(week: dict[str, Any]) -> bool:
    return bool(
        week["randomized"]
        or week["screened"]
        or week["sites_enrolling"]
        or week["sites_recruiting"]
        or week["sites_randomizing_in_week"]
        or week["sites_activated_in_week"]
        or week["status_changes_in_week"]
    )


def _week_list(label: str, items: list[Any], list_id: str) -> html.Div:
    shown = items[:WEEK_LIST_MAX]
    rows = [html.Li(item) for item in shown]
    if len(items) > len(shown):
        rows.append(
            html.Li(
                f"… and {len(items) - len(shown)} more (see the sites table)",
                className="text-body-secondary",
            )
        )
    return html.Div(
        [html.Div(label, className="week-label"), html.Ul(rows, className="week-list")],
        className="week-group",
        id=list_id,
    )


def week_card(week: dict[str, Any], as_of: dt.date) -> dbc.Card:
    """What changed in the seven days to the as-of date (:func:`metrics.week_changes`):
    the counts, and the sites that randomized, were activated or changed registry status."""
    card_id = "kpi-week"

    def stat(n: int, one: str, many: str | None = None) -> html.Span:
        word = one if n == 1 or many is None else many
        tone = "pos" if n > 0 else ("neg" if n < 0 else "zero")
        return html.Span(
            [html.Strong(week_count_text(n)), f" {word}"], className=f"week-stat week-stat-{tone}"
        )

    stats = html.Div(
        [
            stat(week["randomized"], "randomized"),
            stat(week["screened"], "screened"),
            stat(week["sites_enrolling"], "site enrolling", "sites enrolling"),
            stat(week["sites_recruiting"], "site activated", "sites activated"),
        ],
        className="week-stats",
        id=f"{card_id}-stats",
    )
    body: list[Any] = [stats]
    randomizing = week["sites_randomizing_in_week"]
    if randomizing:
        body.append(
            _week_list(
                "Randomized at",
                [
                    [_site_name(s), html.Span(f" +{s['randomized']}", className="week-count")]
                    for s in randomizing
                ],
                f"{card_id}-randomized-sites",
            )
        )
    activated = week["sites_activated_in_week"]
    if activated:
        body.append(
            _week_list(
                "Activated", [_site_name(s) for s in activated], f"{card_id}-activated-sites"
            )
        )
    changes = week["status_changes_in_week"]
    if changes:
        body.append(
            _week_list(
                "Registry status changed",
                [status_change_text(e) for e in changes],
                f"{card_id}-status-changes",
            )
        )
    if not week_has_changes(week):
        body = [
            html.Div(
                "No change this week",
                className="kpi-detail text-body-secondary",
                id=f"{card_id}-none",
            )
        ]
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        "This week",
                        html.Span(f" · {week_range_text(week, as_of)}", className="kpi-title-note"),
                    ],
                    className="kpi-title",
                ),
                *body,
            ]
        ),
        className="kpi-card kpi-week h-100",
        id=card_id,
    )


def _muted(text: str, detail_id: str | None = None) -> html.Div:
    kwargs = {"id": detail_id} if detail_id else {}
    return html.Div(text, className="kpi-detail text-body-secondary", **kwargs)


def forecast_probability_card(
    result: dict[str, Any] | None, trial: Trial, error: str | None = None
) -> dbc.Card:
    """P(target by the planned completion), the count expected by then, and the sites
    that would be needed for 80 %."""
    card_id = "kpi-forecast-probability"
    planned = trial.planned_completion_date.isoformat()
    title = f"P({trial.target} by {planned})"
    if result is None:
        return _card(
            title,
            html.Span("—", id=f"{card_id}-value"),
            [_muted(f"Forecast unavailable ({error or 'no result'})", f"{card_id}-reason")],
            card_id,
        )
    pg = result["poisson_gamma"]
    p = pg["probability_by"].get(planned)
    expected = pg["expected_by"].get(planned)
    as_of = dt.date.fromisoformat(result["as_of"])
    details: list[Any] = []
    reached = result.get("target_reached_date")
    if reached:
        details.append(
            html.Div(
                f"Target reached on {reached}", className="kpi-detail", id=f"{card_id}-reached"
            )
        )
    elif trial.planned_completion_date <= as_of and expected is not None:
        observed = round(expected["mean"])
        details.append(
            html.Div(
                f"date passed: {observed} randomized by then",
                className="kpi-detail",
                id=f"{card_id}-expected",
            )
        )
    elif expected is not None:
        lo, hi = expected["lo80"], expected["hi80"]
        spread = f" ({lo}–{hi})" if lo != hi else ""
        details.append(
            html.Div(
                f"expected {round(expected['mean'])}{spread} by then",
                className="kpi-detail",
                id=f"{card_id}-expected",
            )
        )
    if p is None and pg.get("reason"):
        details.append(_muted(pg["reason"], f"{card_id}-reason"))
    elif not reached and trial.planned_completion_date > as_of:
        sentence, muted = additional_sites_text(
            pg.get("additional_sites_needed"),
            pg.get("additional_sites_reason"),
            pg.get("additional_sites_lag_days"),
        )
        if sentence:
            details.append(
                _muted(sentence, f"{card_id}-sites")
                if muted
                else html.Div(sentence, className="kpi-detail", id=f"{card_id}-sites")
            )
    return _card(
        title,
        html.Span(probability_text(p), id=f"{card_id}-value"),
        details,
        card_id,
        tone=probability_tone(p),
    )


def forecast_date_card(
    result: dict[str, Any] | None, trial: Trial, error: str | None = None
) -> dbc.Card:
    """Median date the target is reached, its 80 % interval, and the linear method's date."""
    card_id = "kpi-forecast-date"
    title = f"Expected date for {trial.target} (80 % interval)"
    if result is None:
        return _card(
            title,
            html.Span("—", id=f"{card_id}-value"),
            [_muted(f"Forecast unavailable ({error or 'no result'})", f"{card_id}-reason")],
            card_id,
        )
    reached = result.get("target_reached_date")
    if reached:
        return _card(
            title,
            html.Span("Reached", id=f"{card_id}-value"),
            [
                html.Div(
                    f"Target reached on {reached}", className="kpi-detail", id=f"{card_id}-reached"
                )
            ],
            card_id,
            tone="success",
        )
    pg = result["poisson_gamma"]
    linear = result["linear"]
    median = pg.get("median_target_date")
    lo, hi = pg.get("interval_80") or (None, None)
    details: list[Any] = []
    tone = None
    if median is None and pg.get("reason"):
        value = "—"
        details.append(_muted(pg["reason"], f"{card_id}-reason"))
    elif median is None:
        value = "—"
        details.append(
            _muted(
                f"not reached within {FORECAST_HORIZON_YEARS} years in most simulations",
                f"{card_id}-reason",
            )
        )
    else:
        value = median
        median_day = dt.date.fromisoformat(median)
        tone = "danger" if median_day > trial.planned_completion_date else "success"
        details.append(
            html.Div(
                f"80 %: {_forecast_date(lo)} – {_forecast_date(hi)}",
                className="kpi-detail",
                id=f"{card_id}-interval",
            )
        )
        details.append(
            html.Div(
                months_apart_text(median_day, trial.planned_completion_date, "planned completion"),
                className="kpi-detail",
                id=f"{card_id}-vs-plan",
            )
        )
    if linear.get("predicted_target_date"):
        details.append(
            _muted(f"linear trend: {linear['predicted_target_date']}", f"{card_id}-linear")
        )
    elif linear.get("reason"):
        details.append(_muted(f"linear trend: no date ({linear['reason']})", f"{card_id}-linear"))
    return _card(title, html.Span(value, id=f"{card_id}-value"), details, card_id, tone=tone)


def kpi_cards(numbers: PageNumbers, data: TrialData) -> html.Div:
    """Two rows of cards: where the trial stands; then the week and the forecast."""
    s = numbers.summary
    trial = data.trial
    pace = numbers.pace
    pct = s["percent_of_target"]
    randomized = _card(
        "Randomized",
        [
            html.Span(str(s["randomized"]), id="kpi-randomized-value"),
            html.Span(f" / {trial.target}", className="kpi-of"),
            html.Span(
                f"{pct:.1f} %" if pct is not None else "",
                className="kpi-pct",
                id="kpi-randomized-pct",
            ),
        ],
        [
            progress_bar(
                "kpi-randomized-progress",
                pct,
                f"Randomized: {pct or 0:.1f} % of the target of {trial.target}",
            ),
            _delta(numbers.week["randomized"], "kpi-randomized"),
        ],
        "kpi-randomized",
    )
    sf_pct = s["screen_fail_percent"]
    screened = _card(
        "Screened",
        html.Span(str(s["screened"]), id="kpi-screened-value"),
        [
            html.Div(
                f"{s['screen_failed']} screen failures"
                + (f" ({sf_pct:.1f} %)" if sf_pct is not None else ""),
                className="kpi-detail",
                id="kpi-screen-fail",
            ),
            _delta(numbers.week["screened"], "kpi-screened"),
        ],
        "kpi-screened",
    )
    by_status = s["sites"]["by_status"]
    others = ", ".join(
        f"{n} {STATUS_LABELS.get(k, k).lower()}" for k, n in by_status.items() if k != "RECRUITING"
    )
    sites = _card(
        "Sites recruiting",
        [
            html.Span(str(by_status.get("RECRUITING", 0)), id="kpi-sites-value"),
            html.Span(f" / {s['sites']['total']}", className="kpi-of"),
        ],
        [
            html.Div(
                f"{s['sites']['enrolling']} have randomized ≥ 1",
                className="kpi-detail",
                id="kpi-sites-enrolling",
            ),
            html.Div(others, className="kpi-detail text-body-secondary") if others else None,
            _delta(numbers.week["sites_enrolling"], "kpi-sites", sites_delta_text),
        ],
        "kpi-sites",
    )
    days = pace["days_to_completion"]
    time_left = _card(
        "Planned completion",
        html.Span(completion_text(days), id="kpi-days-value"),
        [
            html.Div(
                ("to " if days >= 0 else "since ") + trial.planned_completion_date.isoformat(),
                className="kpi-detail",
            ),
            html.Div(
                f"Last patient in by {trial.last_patient_in_date.isoformat()} "
                f"({trial.treatment_days} days of treatment)",
                className="kpi-detail text-body-secondary",
            )
            if trial.last_patient_in_date is not None
            else None,
        ],
        "kpi-days",
        tone="danger" if days < 0 else None,
    )
    completion_sentence, completion_tone = pace_comparison(
        pace["current_rate_per_month"], pace["required_rate_per_month"]
    )
    lpi_sentence, lpi_tone = (
        lpi_comparison(pace, trial.last_patient_in_date)
        if trial.last_patient_in_date is not None
        else ("", "body")
    )
    pace_card = _card(
        "Randomization pace (last 90 days)",
        html.Span(rate_text(pace["current_rate_per_month"]), id="kpi-rate-value"),
        [
            html.Div(
                [
                    html.Span(
                        f"To reach {trial.target} by {trial.planned_completion_date.isoformat()}: ",
                        className="text-body-secondary",
                    ),
                    html.Span(completion_sentence, className=f"fw-semibold text-{completion_tone}"),
                ],
                className="kpi-detail",
                id="kpi-pace-completion",
            ),
            html.Div(
                [
                    html.Span(
                        f"For every patient to finish {trial.treatment_days} days of treatment: ",
                        className="text-body-secondary",
                    ),
                    html.Span(lpi_sentence, className=f"fw-semibold text-{lpi_tone}"),
                ],
                className="kpi-detail",
                id="kpi-pace-lpi",
            )
            if trial.last_patient_in_date is not None
            else None,
        ],
        "kpi-pace",
    )
    status_row = dbc.Row(
        [
            dbc.Col(randomized, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(screened, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(sites, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(time_left, xs=12, sm=6, lg=3, xxl=2),
            dbc.Col(pace_card, xs=12, xxl=4),
        ],
        className="g-3 kpi-row",
    )
    # The week just gone, then where the trial is heading; the method note sits under the
    # two forecast cards.
    outlook_row = dbc.Row(
        [
            dbc.Col(week_card(numbers.week, numbers.as_of), xs=12, lg=4),
            dbc.Col(
                forecast_probability_card(numbers.forecast, trial, numbers.forecast_error),
                xs=12,
                sm=6,
                lg=4,
            ),
            dbc.Col(
                forecast_date_card(numbers.forecast, trial, numbers.forecast_error),
                xs=12,
                sm=6,
                lg=4,
            ),
        ],
        className="g-3 kpi-row kpi-row-outlook",
    )
    note = dbc.Row(
        dbc.Col(
            html.Div(
                [
                    forecast_method_text(numbers.forecast),
                    *forecast_warning_spans(numbers, data),
                    *forecast_details(numbers.forecast),
                ],
                className="forecast-note",
                id="forecast-note",
            ),
            xs=12,
            lg={"size": 8, "offset": 4},
        ),
        className="gx-3",
    )
    return html.Div([status_row, outlook_row, note], className="kpi-rows")


# ----------------------------------------------------------------------------- figures
# ``validate=False`` (the page and its callbacks): the builders' plain dicts, not
# ``go.Figure`` objects; tests validate the very same dicts through the default.
def map_figure(numbers: PageNumbers, highlighted=None, selected=(), *, validate: bool = True):
    return site_map_figure(
        numbers.table,
        numbers.status_counts,
        highlighted=highlighted,
        selected=selected,
        height=MAP_HEIGHT,
        validate=validate,
    )


def accrual(numbers: PageNumbers, data: TrialData, *, validate: bool = True):
    """The accrual chart with the forecast of :attr:`PageNumbers.forecast` (see
    :func:`chart_forecast`)."""
    trial = data.trial
    return accrual_figure(
        numbers.accrual,
        target=trial.target,
        start_date=trial.start_date,
        planned_completion_date=trial.planned_completion_date,
        last_patient_in_date=trial.last_patient_in_date,
        as_of=numbers.as_of,
        randomized=numbers.summary["randomized"],
        required_rate_per_month=numbers.pace["required_rate_per_month"],
        forecast=chart_forecast(numbers.forecast),
        height=ACCRUAL_HEIGHT,
        validate=validate,
    )


def bars_figure(numbers: PageNumbers, highlighted=None, selected=(), *, validate: bool = True):
    return site_bar_figure(
        numbers.table, highlighted=highlighted, selected=selected, validate=validate
    )


def timeline_figure(
    numbers: PageNumbers, data: TrialData, highlighted=None, selected=(), *, validate: bool = True
):
    return activation_figure(
        numbers.table,
        as_of=numbers.as_of,
        trial_start=data.trial.start_date,
        highlighted=highlighted,
        selected=selected,
        validate=validate,
    )


# ----------------------------------------------------------------------------- sites grid
def _num(value: Any, digits: int | None = None) -> Any:
    if value is None or pd.isna(value):
        return None
    return round(float(value), digits) if digits is not None else int(value)


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def grid_rows(
    table: pd.DataFrame,
    highlighted: set[str] | None = None,
    selected: set[str] | frozenset = frozenset(),
) -> list[dict[str, Any]]:
    """One aggregate row per site for the grid (no patient-level field ever)."""
    rows = []
    for r in table.itertuples():
        rows.append(
            {
                "site_id": str(r.site_id),
                "facility": r.facility,
                "city": r.city,
                "status": STATUS_LABELS.get(r.status, r.status),
                "activation_date": _iso(r.activation_date),
                "screened": _num(r.screened),
                "randomized": _num(r.randomized),
                "share": _num(r.share_of_randomized, 1),
                "first_randomization": _iso(r.first_randomization),
                "last_randomization": _iso(r.last_randomization),
                "days_since_last": _num(r.days_since_last_randomization),
                "rate": _num(r.rate_per_month_since_activation, 2),
                "flag": r.flag or "",
                "selected": str(r.site_id) in selected,
                "dimmed": highlighted is not None and str(r.site_id) not in highlighted,
            }
        )
    return rows


def grid_columns() -> list[dict[str, Any]]:
    """Columns of the sites grid: fixed widths for numbers and dates, text columns flex."""
    number = {"type": "numericColumn", "filter": "agNumberColumnFilter", "width": 108}
    date = {"filter": "agTextColumnFilter", "width": 116}
    return [
        {"field": "site_id", "headerName": "Site", "width": 90, "sort": "asc"},
        {
            "field": "facility",
            "headerName": "Facility",
            "flex": 2,
            "minWidth": 200,
            "tooltipField": "facility",
        },
        {
            "field": "city",
            "headerName": "City",
            "flex": 1.2,
            "minWidth": 120,
            "tooltipField": "city",
        },
        {"field": "status", "headerName": "Status", "flex": 1.2, "minWidth": 130},
        {"field": "activation_date", "headerName": "Activated", **date},
        {"field": "screened", "headerName": "Screened", **number},
        {"field": "randomized", "headerName": "Randomized", **number, "width": 132},
        {
            "field": "share",
            "headerName": "Share %",
            **number,
            "width": 100,
            "headerTooltip": "Share of all randomized patients",
        },
        {
            "field": "first_randomization",
            "headerName": "First rand.",
            **date,
            "headerTooltip": "Date of the site's first randomization",
        },
        {
            "field": "last_randomization",
            "headerName": "Last rand.",
            **date,
            "headerTooltip": "Date of the site's latest randomization",
        },
        {
            "field": "days_since_last",
            "headerName": "Days since last",
            **number,
            "width": 146,
            "headerTooltip": "Days since the site's latest randomization",
        },
        {
            "field": "rate",
            "headerName": "Rand. / month",
            **number,
            "width": 136,
            "headerTooltip": "Randomized per month since activation",
        },
        {
            "field": "flag",
            "headerName": "Flag",
            "flex": 1.8,
            "minWidth": 270,
            "cellClassRules": {
                "flag-cell flag-none": "params.value === 'Recruiting, none randomized'",
                "flag-cell flag-stale": "params.value === 'None in last 90 days'",
                # Data inconsistencies (metrics.site_table): a wrong date, a lagging registry.
                "flag-cell flag-data": "params.value.indexOf('Data:') >= 0 "
                "|| params.value.indexOf('registry says') >= 0",
            },
        },
    ]


#: Up to this many rows the grid draws every row (the page and its tests see them all);
#: beyond, AG Grid draws only the rows in view (2,000 rows drawn at once cost ~20 s).
GRID_ALL_ROWS_MAX = 200


def sites_grid(rows: list[dict[str, Any]]) -> dag.AgGrid:
    return dag.AgGrid(
        id=GRID,
        rowData=rows,
        columnDefs=grid_columns(),
        defaultColDef={
            "sortable": True,
            "filter": True,
            "resizable": True,
            "floatingFilter": True,
            "suppressHeaderMenuButton": True,
            "suppressHeaderFilterButton": True,
            "suppressFloatingFilterButton": True,
        },
        getRowId="params.data.site_id",
        rowClassRules={
            "row-selected": "params.data.selected",
            "row-dimmed": "params.data.dimmed",
        },
        dashGridOptions={
            "rowHeight": 32,
            "headerHeight": 36,
            "suppressRowVirtualisation": len(rows) <= GRID_ALL_ROWS_MAX,
            "suppressColumnVirtualisation": True,
            "animateRows": False,
            # Cells take the keyboard focus: arrows move, Enter or Space on a row or cell
            # selects the site (assets/grid_keyboard.js); Tab goes row by row, then out of
            # the grid (not through its 600 cells), Shift+Tab back.
            "suppressCellFocus": False,
            "tabToNextCell": {"function": "false"},
            "tabToNextHeader": {"function": "false"},
            "tooltipShowDelay": 300,
        },
        style={"height": "560px", "width": "100%"},
        className="sites-grid",
    )


# ----------------------------------------------------------------------------- page
def _panel(
    title: str, body: Any, subtitle: Any = None, tools: Any = None, panel_id: str | None = None
):
    head = html.Div(
        [
            html.Div(
                [
                    html.H2(title, className="panel-title"),
                    html.Div(subtitle, className="panel-subtitle"),
                ],
            ),
            html.Div(tools, className="panel-tools") if tools is not None else None,
        ],
        className="panel-head",
    )
    return dbc.Card(
        [head, dbc.CardBody(body, className="panel-body")], className="panel h-100", id=panel_id
    )


def _graph(
    graph_id: str,
    figure: Any,
    filename: str,
    topojson_url: str | None = None,
    height: int | None = None,
):
    config = theme.graph_config(filename, topojson_url=topojson_url)
    if graph_id == MAP:
        config["scrollZoom"] = False
    return dcc.Graph(
        id=graph_id,
        figure=figure,
        config=config,
        responsive=True,
        style={"height": f"{height}px"} if height else None,
        className="panel-graph",
    )


def status_options(status_counts: dict[str, int]) -> list[dict[str, str]]:
    return [
        {"label": f"{STATUS_LABELS.get(k, k)} ({n})", "value": k} for k, n in status_counts.items()
    ]


def page(
    data: TrialData,
    as_of: dt.date,
    *,
    store_errors: tuple[str, ...] = (),
    topojson_url: str | None = None,
    max_date: dt.date | None = None,
    numbers: PageNumbers | None = None,
) -> html.Div:
    """The whole page for one data version and as-of date (also usable by a snapshot)."""
    trial = data.trial
    max_date = max_date or max(dt.date.today(), trial.planned_completion_date, data.data_cutoff)
    numbers = numbers or page_numbers(data, as_of)
    head = header(data, as_of, max_date, status_options(numbers.status_counts))
    site_map = map_figure(numbers, validate=False)
    map_panel = _panel(
        "Sites on the map",
        [
            *described_chart(
                "map",
                _graph(
                    MAP, site_map, "site-map", topojson_url_for(topojson_url, site_map), MAP_HEIGHT
                ),
                numbers,
                data,
            ),
            html.Div(
                "Colour: registry status · marker area: randomized patients · hollow: none "
                "randomized yet. Sites sharing a location are spread slightly around it "
                "(thin line to the true point). Click a site to select it.",
                className="figure-note",
            ),
        ],
        subtitle=map_subtitle(len(data.sites), site_map),
        panel_id="panel-map",
    )
    accrual_panel = _panel(
        "Accrual over time",
        described_chart(
            "accrual",
            _graph(
                ACCRUAL, accrual(numbers, data, validate=False), "accrual", height=ACCRUAL_HEIGHT
            ),
            numbers,
            data,
        ),
        subtitle="Cumulative screened and randomized against the plan; "
        "forecast median with 80 % and 95 % intervals",
        tools=export_menu("accrual", ACCRUAL_CSV, ACCRUAL_XLSX, ACCRUAL_DOWNLOAD),
        panel_id="panel-accrual",
    )
    n_sites = len(numbers.table)
    bars_panel = _panel(
        "Randomized per site",
        described_chart(
            "bars",
            _graph(
                BARS,
                bars_figure(numbers, validate=False),
                "randomized-per-site",
                height=figure_height(n_sites),
            ),
            numbers,
            data,
        ),
        subtitle="Sorted by randomized count; colour: registry status"
        + ("; tick: site target" if numbers.table["target"].notna().any() else ""),
        panel_id="panel-bars",
    )
    activation_panel = _panel(
        "Site activation → first randomization",
        described_chart(
            "activation",
            _graph(
                ACTIVATION,
                timeline_figure(numbers, data, validate=False),
                "site-activation",
                height=figure_height(n_sites),
            ),
            numbers,
            data,
        ),
        subtitle="Sites not yet activated first, then sites still waiting for their first patient",
        panel_id="panel-activation",
    )
    grid_panel = _panel(
        "Sites",
        [sites_grid(grid_rows(numbers.table))],
        subtitle=html.Span(id=GRID_COUNT, children=f"{n_sites} sites"),
        tools=export_menu("sites", SITES_CSV, SITES_XLSX, SITES_DOWNLOAD),
        panel_id="panel-grid",
    )
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=SELECTION, data=[]),
            head,
            dbc.Container(
                [
                    html.Div(alerts(data, store_errors, as_of), id=ALERTS),
                    html.Div(kpi_cards(numbers, data), id=KPIS, className="mb-3"),
                    dbc.Row(
                        [
                            dbc.Col(map_panel, xs=12, xl=6, xxl=5),
                            dbc.Col(accrual_panel, xs=12, xl=6, xxl=7),
                        ],
                        className="g-3 mb-3",
                    ),
                    dbc.Row(
                        [
                            dbc.Col(bars_panel, xs=12, xl=5),
                            dbc.Col(activation_panel, xs=12, xl=7),
                        ],
                        className="g-3 mb-3",
                    ),
                    dbc.Row([dbc.Col(grid_panel, xs=12)], className="g-3 mb-3"),
                    # Paper and PNG get every row as a static table (the grid scrolls).
                    print_panel(numbers.table),
                    html.Footer(
                        [
                            f"Registry record {trial.nct_id}"
                            + (
                                f", last updated {trial.last_updated.isoformat()}"
                                if trial.last_updated
                                else ""
                            )
                            + f" · data version {data.version}"
                            + " · only per-site aggregates are shown; no patient-level data leave the server.",
                        ],
                        className="page-footer",
                    ),
                ],
                fluid=True,
                className="page-body",
                tag="main",
                id=MAIN_ID,
            ),
        ],
        className="page",
    )


def error_page(message: str) -> html.Div:
    """Shown when the data dir has never loaded: what is wrong, in the reader's words."""
    return dbc.Container(
        [
            html.H1("Recruitment dashboard", className="page-title mt-4"),
            dbc.Alert(
                [
                    html.Strong("The data directory cannot be loaded. "),
                    html.Pre(message, className="mb-0 mt-2 small"),
                ],
                color="danger",
                id="load-error",
            ),
        ],
        className="page-body",
        tag="main",
        id=MAIN_ID,
    )


def serve_layout(
    store: DataStore,
    default_as_of: dt.date | None = None,
    topojson_url: str | None = None,
    cache: NumbersCache | None = None,
) -> html.Div:
    """Dash layout function: current data, default as-of = ``default_as_of`` or the cut-off."""
    try:
        data = store.get()
    except LOAD_ERRORS as exc:
        # Viewers get file, line and rule only (no cell value, patient code or path).
        return error_page("\n".join(viewer_messages(exc)))
    as_of = default_as_of or data.data_cutoff
    return page(
        data,
        as_of,
        store_errors=store.errors,
        topojson_url=topojson_url,
        numbers=cache.get(data, as_of) if cache is not None else None,
    )
