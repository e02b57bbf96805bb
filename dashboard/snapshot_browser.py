"""The snapshot's browser page, watched: requests off this machine blocked and recorded,
HTTP and JavaScript errors collected, and the moment the dashboard is fully drawn found
by conditions (never fixed sleeps). Used by :mod:`dashboard.snapshot`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any
from urllib.parse import urlsplit


class SnapshotError(RuntimeError):
    """The snapshot could not be made; the message says why and what to check."""


# --------------------------------------------------------------------------- browser
#: True when the page is drawn: Dash has rendered its layout and has no callback pending,
#: every plotly graph has its SVG, every AG Grid has rows, the print table is filled.
#: Returns the unmet conditions (an empty list when ready) so a timeout can say what was
#: still missing.
_PENDING_JS = """
() => {
  const pending = [];
  if (!document.querySelector('#react-entry-point')) pending.push('Dash entry point');
  if (document.querySelector('._dash-loading')) pending.push('Dash layout');
  if (document.querySelector('._dash-loading-callback')) pending.push('Dash callbacks');
  const loading = document.querySelectorAll('[data-dash-is-loading="true"]');
  if (loading.length) pending.push(`${loading.length} component(s) loading`);
  const graphs = [...document.querySelectorAll('.js-plotly-plot')];
  if (!graphs.length) pending.push('plotly graphs');
  // dcc.Graph marks a graph "pending" until Plotly.react (topojson fetch included) resolved.
  const undrawn = graphs.filter(g => !g.querySelector('.main-svg') || !g._fullLayout
    || g.classList.contains('dash-graph--pending'));
  if (undrawn.length) pending.push(`${undrawn.length} plotly graph(s) not drawn`);
  const grids = [...document.querySelectorAll('.ag-root-wrapper')];
  if (!grids.length) pending.push('AG Grid');
  const empty = grids.filter(g => !g.querySelector('.ag-center-cols-container .ag-row'));
  if (empty.length) pending.push(`${empty.length} AG Grid(s) without rows`);
  // The print table is filled by a callback after the first screen (chart_text.register).
  const printed = document.querySelector('#print-sites');
  if (printed && !printed.querySelector('table')) pending.push('print table');
  return pending;
}
"""

#: Fonts loaded, then two animation frames so the last DOM change is painted.
_SETTLE_JS = """
async () => {
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return document.fonts.status;
}
"""

#: Fit every plotly graph to the box the print stylesheet gives it. print.css may cap a
#: graph's height (``max-height`` on the ``.dash-graph`` box) so the dashboard fits two
#: A4 pages; figures carry an explicit layout height, which ``Plots.resize`` would keep, so
#: a graph whose box differs from its figure is relaid out to the box. Resolves when all
#: graphs have redrawn; returns how many were relaid out.
FIT_GRAPHS_JS = """
async () => {
  window.dispatchEvent(new Event('resize'));
  if (!window.Plotly) return 0;
  const graphs = [...document.querySelectorAll('.js-plotly-plot')];
  let changed = 0;
  await Promise.all(graphs.map(g => {
    const box = (g.closest('.dash-graph') || g).getBoundingClientRect();
    const full = g._fullLayout || {};
    const update = {};
    if (box.height > 0 && Math.abs(box.height - full.height) > 1) update.height = Math.round(box.height);
    if (box.width > 0 && Math.abs(box.width - full.width) > 1) update.width = Math.round(box.width);
    if (!Object.keys(update).length) return window.Plotly.Plots.resize(g);
    changed += 1;
    return window.Plotly.relayout(g, update);
  }));
  return changed;
}
"""


class WatchedPage:
    """One Playwright page plus the bookkeeping of what it requested and logged."""

    def __init__(self, page: Any, allowed_hosts: set[str], deadline: float):
        self.page = page
        self.allowed_hosts = allowed_hosts
        self.deadline = deadline
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        page.route("**/*", self._route)
        page.on("pageerror", lambda exc: self.errors.append(f"JavaScript error: {exc}"))
        page.on("console", self._console)
        page.on("request", self._request_started)
        page.on("requestfinished", self._request_done)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    # -- network
    def _route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if (
            parts.scheme in ("data", "blob", "about")
            or (parts.hostname or "") in self.allowed_hosts
        ):
            route.continue_()
            return
        self.blocked.append(url)
        route.abort("blockedbyclient")

    def _request_started(self, request: Any) -> None:
        with self._lock:
            self.in_flight += 1

    def _request_done(self, request: Any) -> None:
        with self._lock:
            self.in_flight -= 1

    def _request_failed(self, request: Any) -> None:
        with self._lock:
            self.in_flight -= 1
        if request.url not in self.blocked:
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400 and path != "/favicon.ico":
            self.errors.append(f"HTTP {response.status} for {response.url}")

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error":
            # A blocked request shows up twice: in `blocked` and as a console error.
            if "ERR_BLOCKED_BY_CLIENT" in text or any(u in text for u in self.blocked):
                return
            self.errors.append(f"console error: {text}")
        elif message.type == "warning":
            self.warnings.append(f"console warning: {text}")

    # -- waiting
    def remaining_ms(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise SnapshotError(self._timeout_message())
        return left * 1000

    def check_errors(self) -> None:
        if self.errors:
            raise SnapshotError(
                "The dashboard page failed:\n" + "\n".join(f"- {e}" for e in self.errors[:10])
            )

    def _timeout_message(self) -> str:
        try:
            pending = self.page.evaluate(_PENDING_JS)
        except Exception:  # the page may be gone; the timeout is the news
            pending = ["(page not reachable)"]
        return (
            "Timed out waiting for the dashboard to finish drawing; still waiting for: "
            + (", ".join(pending) or "requests in flight")
            + ". Check the server log, or raise --timeout."
        )

    def settle(self) -> None:
        """Wait until the page is drawn and stays drawn through two painted frames."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        while True:
            self.check_errors()
            try:
                self.page.wait_for_function(
                    f"() => ({_PENDING_JS})().length === 0",
                    polling="raf",
                    timeout=self.remaining_ms(),
                )
                self.page.evaluate(_SETTLE_JS)
            except PlaywrightTimeout as exc:
                raise SnapshotError(self._timeout_message()) from exc
            self.check_errors()
            with self._lock:
                idle = self.in_flight <= 0
            if idle and not self.page.evaluate(_PENDING_JS):
                return
            # A callback chain was still running: wait for the in-flight request to end.
            try:
                self.page.wait_for_load_state("networkidle", timeout=self.remaining_ms())
            except PlaywrightTimeout as exc:
                raise SnapshotError(self._timeout_message()) from exc


#: Where the page states its as-of date: the "Showing counts as of" line and the date
#: picker; the whole text only when neither exists (a date elsewhere could be a deadline).
_SHOWN_AS_OF_JS = """
(iso) => {
  const places = [...document.querySelectorAll('#as-of-text, #as-of-date input, #as-of-date')];
  if (places.length) {
    return places.some(el => (el.value || '') === iso || (el.textContent || '').includes(iso));
  }
  return document.body.innerText.includes(iso);
}
"""

#: Date inputs to try, most specific first, when the page ignores ``?as_of=``.
_DATE_PICKER_SELECTORS = (
    "#as-of-date input",
    "input#as-of-date",
    ".as-of-picker input",
    ".SingleDatePickerInput input",
    "input[type=date]",
)


def page_shows_date(page: Any, as_of: dt.date) -> bool:
    """Whether the rendered page states the requested as-of date."""
    return bool(page.evaluate(_SHOWN_AS_OF_JS, as_of.isoformat()))


def set_date_picker(page: Any, as_of: dt.date) -> bool:
    """Fallback for a page without ``?as_of=``: type the date into its date picker."""
    for selector in _DATE_PICKER_SELECTORS:
        loc = page.locator(selector)
        if loc.count():
            field_ = loc.first
            field_.fill(as_of.isoformat())
            field_.press("Enter")
            field_.blur()
            return True
    return False
