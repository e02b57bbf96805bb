"""Snapshot step: a dated PDF or PNG of the running dashboard, for the steering committee.

The snapshot is the real page, rendered by headless Chromium (Debian's, never a downloaded
one) through Playwright, so the PDF shows exactly what the dashboard shows: no second
renderer to keep in sync. The flow:

1. take the URL of a running dashboard: the app's own address for its download buttons,
   ``--url``, or a temporary loopback server started by :mod:`dashboard.serving` (this
   module never imports the app, which imports it);
2. open it with every request to a host other than loopback (and the ``--url`` host)
   blocked and recorded — the page must work offline, and a PDF of blinded-trial data
   must not make the browser call out;
3. wait for *conditions*, never fixed sleeps: every plotly graph drawn, no Dash callback
   pending, no request in flight, the AG Grid holding rows, web fonts loaded;
4. PDF: switch to print media (``assets/print.css``), let plotly re-layout, print A4
   landscape with a header (trial, as-of, data cut-off, DEMO badge) taken from the data;
   PNG: the same print view on screen media (``snapshot-mode``: no controls, the static
   sites table instead of the scrolling grid), a full-page 1920 px screenshot;
5. write the file atomically and stop whatever it started.

Any failure (no Chromium, an HTTP error, a JavaScript error, a timeout) raises
:class:`SnapshotError` with a message that says what to do; the CLI turns it into a
non-zero exit, so a cron job that mails its output tells the PM the PDF is missing.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .datadir import atomic_write_bytes
from .dates import DateLike, to_date
from .snapshot_browser import (
    FIT_GRAPHS_JS,
    SnapshotError,
    WatchedPage,
    page_shows_date,
    set_date_picker,
)
from .store import TrialData

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM_ENV = "RECRUITMENT_DASHBOARD_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Flags that keep a headless Chromium from phoning home (updates, sync, QUIC probes) and
#: running in containers without a user namespace sandbox.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
DEFAULT_TIMEOUT_S = 60.0

#: CSS px width at which the dashboard is laid out for the PDF. The print is scaled so that
#: this width exactly fills the printable width of A4 landscape: plotly's SVGs, sized in px
#: for this width, then fit the paper without being cut or stretched.
PDF_LAYOUT_WIDTH = 1400
PDF_VIEWPORT_HEIGHT = 900
PNG_WIDTH = 1920
PNG_VIEWPORT_HEIGHT = 1080
A4_LANDSCAPE_MM = (297.0, 210.0)
#: Top margin holds the running header, bottom margin the page numbers.
PDF_MARGINS_MM = {"top": 17.0, "bottom": 11.0, "left": 8.0, "right": 8.0}
CSS_PX_PER_MM = 96 / 25.4

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass
class SnapshotResult:
    """What was written, and what the browser saw while making it."""

    path: Path
    kind: str  # "pdf" or "png"
    url: str
    as_of: dt.date
    #: How the as-of date reached the page: "url" (``?as_of=`` honoured), or "date-picker".
    as_of_method: str
    seconds: float
    #: Every request the page tried to send off this machine (blocked). Should be empty.
    blocked_requests: list[str] = field(default_factory=list)
    #: Console warnings worth a look that did not fail the snapshot.
    warnings: list[str] = field(default_factory=list)
    pages: int | None = None
    width_px: int | None = None
    height_px: int | None = None


# --------------------------------------------------------------------------- helpers
def chromium_executable() -> Path:
    """The Chromium binary to drive: ``$RECRUITMENT_DASHBOARD_CHROMIUM``, else Debian's.

    Checked before Playwright starts, because Playwright's own error for a missing
    executable is a long stack trace that does not say which variable to set.
    """
    path = Path(os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise SnapshotError(
            f"Chromium not found at {path}. Install it (apt-get install chromium) or point "
            f"{CHROMIUM_ENV} at a Chromium/Chrome executable."
        )
    return path


def default_output(nct_id: str, as_of: dt.date, suffix: str = ".pdf") -> Path:
    """``snapshots/<nct>-<as_of>.pdf``: one file per week, sorted by date in a listing."""
    return Path("snapshots") / f"{nct_id}-{as_of.isoformat()}{suffix}"


def pdf_scale() -> float:
    """Print scale that maps :data:`PDF_LAYOUT_WIDTH` px onto the A4 printable width."""
    printable_mm = A4_LANDSCAPE_MM[0] - PDF_MARGINS_MM["left"] - PDF_MARGINS_MM["right"]
    return round(printable_mm * CSS_PX_PER_MM / PDF_LAYOUT_WIDTH, 4)


def with_as_of(url: str, as_of: dt.date) -> str:
    """The page URL with ``?as_of=YYYY-MM-DD`` (other query parameters kept)."""
    parts = urlsplit(url)
    query = [q for q in parts.query.split("&") if q and not q.startswith("as_of=")]
    query.append(urlencode({"as_of": as_of.isoformat()}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "&".join(query), ""))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (no imaging library needed)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def header_template(data: TrialData, as_of: dt.date) -> str:
    """The running header of every PDF page: trial, as-of, data cut-off, DEMO badge.

    Chromium renders it in a separate document with a 0 px default font and no access to
    the page's CSS, so every style is inline. All text comes from the data and is escaped:
    the registry title is public, editable input.
    """
    trial = data.trial
    name = f"{trial.acronym} · {trial.nct_id}" if trial.acronym else trial.nct_id
    title = trial.title if len(trial.title) <= 90 else trial.title[:89] + "…"
    badge = (
        '<span style="background:#b02a37;color:#fff;font-weight:700;padding:1px 5px;'
        'border-radius:3px;margin-left:8px;">DEMO · synthetic data</span>'
        if data.synthetic
        else ""
    )
    esc = html.escape
    return (
        '<div style="width:100%;margin:0 8mm;font-family:DejaVu Sans,Arial,sans-serif;'
        "font-size:8.5px;color:#222;display:flex;justify-content:space-between;"
        "align-items:center;border-bottom:0.5px solid #999;padding-bottom:2px;"
        '-webkit-print-color-adjust:exact;print-color-adjust:exact;">'
        f"<span><b>{esc(name)}</b> — {esc(title)}</span>"
        f"<span>As of <b>{esc(as_of.isoformat())}</b> · data cut-off "
        f"<b>{esc(data.data_cutoff.isoformat())}</b> · target {trial.target}{badge}</span>"
        "</div>"
    )


def footer_template(generated: dt.datetime) -> str:
    """Page numbers, and when and by what the PDF was made (for the audit trail)."""
    from . import __version__

    stamp = generated.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<div style="width:100%;margin:0 8mm;font-family:DejaVu Sans,Arial,sans-serif;'
        'font-size:7.5px;color:#555;display:flex;justify-content:space-between;">'
        f"<span>Generated {html.escape(stamp)} by recruitment-dashboard {html.escape(__version__)}"
        " — blinded: no per-arm data</span>"
        '<span>Page <span class="pageNumber"></span> / <span class="totalPages"></span></span>'
        "</div>"
    )


# --------------------------------------------------------------------------- main entry
def check_output(out: Path, scale: int) -> str:
    """The snapshot kind ("pdf" or "png") of ``out``; :class:`SnapshotError` for a file
    name or scale the snapshot cannot make (checked before any server or browser starts)."""
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("pdf", "png"):
        raise SnapshotError(f"{out}: the snapshot file must end in .pdf or .png")
    if scale not in (1, 2):
        raise SnapshotError("--scale must be 1 or 2")
    return kind


def take_snapshot(
    out: Path | None = None,
    *,
    url: str,
    data: TrialData,
    as_of: DateLike | None = None,
    scale: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    http_credentials: dict[str, str] | None = None,
) -> SnapshotResult:
    """Render the dashboard at ``url`` to ``out`` (``.pdf`` or ``.png``); say what happened.

    ``data`` is the data the dashboard at ``url`` serves: it supplies the header text and
    the default as-of date (the data cut-off). ``http_credentials``
    (``{"username": ..., "password": ...}``) are sent as basic auth with every request to
    the page's own origin, and to no other host: the app's "Download PDF" passes on the
    credentials its user logged in with.
    """
    started = time.monotonic()
    cut = data.data_cutoff if as_of is None else to_date(as_of)
    out = out or default_output(data.trial.nct_id, cut)
    kind = check_output(out, scale)
    executable = chromium_executable()
    result = _render(
        executable=executable,
        page_url=with_as_of(url, cut),
        allowed_hosts=set(LOOPBACK_HOSTS) | {urlsplit(url).hostname or ""},
        data=data,
        as_of=cut,
        out=out,
        kind=kind,
        scale=scale,
        deadline=started + timeout,
        http_credentials=http_credentials,
    )
    result.seconds = round(time.monotonic() - started, 2)
    return result


def _render(
    *,
    executable: Path,
    page_url: str,
    allowed_hosts: set[str],
    data: TrialData,
    as_of: dt.date,
    out: Path,
    kind: str,
    scale: int,
    deadline: float,
    http_credentials: dict[str, str] | None = None,
) -> SnapshotResult:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=str(executable),
                args=list(CHROMIUM_ARGS),
                headless=True,
                timeout=max((deadline - time.monotonic()) * 1000, 1000),
            )
        except PlaywrightError as exc:
            raise SnapshotError(f"Chromium at {executable} did not start: {exc}") from exc
        try:
            options: dict[str, Any] = {}
            if http_credentials:
                parts = urlsplit(page_url)
                options["http_credentials"] = {
                    "username": http_credentials["username"],
                    "password": http_credentials["password"],
                    # Sent up front (no 401 round trip, which the page would log as an
                    # HTTP error), and only to the dashboard's own origin.
                    "origin": f"{parts.scheme}://{parts.netloc}",
                    "send": "always",
                }
            if kind == "pdf":
                viewport: ViewportSize = {"width": PDF_LAYOUT_WIDTH, "height": PDF_VIEWPORT_HEIGHT}
                context = browser.new_context(viewport=viewport, device_scale_factor=1, **options)
            else:
                viewport = {"width": PNG_WIDTH, "height": PNG_VIEWPORT_HEIGHT}
                context = browser.new_context(
                    viewport=viewport, device_scale_factor=scale, **options
                )
            page = WatchedPage(context.new_page(), allowed_hosts, deadline)
            try:
                response = page.page.goto(page_url, wait_until="load", timeout=page.remaining_ms())
            except PlaywrightError as exc:
                raise SnapshotError(f"Cannot open {page_url}: {exc}") from exc
            if response is None or not response.ok:
                status = "no response" if response is None else f"HTTP {response.status}"
                raise SnapshotError(f"{page_url} answered {status}")
            page.settle()
            as_of_method = "url"
            if not page_shows_date(page.page, as_of):
                if not set_date_picker(page.page, as_of):
                    raise SnapshotError(
                        f"The page does not show the as-of date {as_of} and has no date "
                        "picker to set it; refusing to print a snapshot of another date."
                    )
                as_of_method = "date-picker"
                page.settle()
            result = SnapshotResult(
                path=out,
                kind=kind,
                url=page_url,
                as_of=as_of,
                as_of_method=as_of_method,
                seconds=0.0,
            )
            if kind == "pdf":
                body = _print_pdf(page, data, as_of)
                result.pages = _count_pdf_pages(body)
            else:
                _enter_snapshot_mode(page)
                body = page.page.screenshot(full_page=True, type="png", timeout=page.remaining_ms())
                result.width_px, result.height_px = png_size(body)
            page.check_errors()
            result.blocked_requests = list(page.blocked)
            result.warnings = list(page.warnings)
        finally:
            browser.close()
    _write_output(out, body)
    return result


def _write_output(out: Path, body: bytes) -> None:
    """Write atomically (a failed run never leaves half a PDF), readable as umask allows.

    ``atomic_write_bytes`` keeps mkstemp's private 0600 mode, right for the data dir but
    not for a report meant to be mailed or served: the snapshot gets 0666 minus umask.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, body)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(out, 0o666 & ~umask)


#: The PNG's print view (assets/print_table.css): controls hidden, the static print table
#: (every row of the scrolling grid) shown instead of the grid.
_SNAPSHOT_MODE_JS = "() => { document.body.classList.add('snapshot-mode'); return true; }"


def _enter_snapshot_mode(page: WatchedPage) -> None:
    """Put the page in snapshot mode for the PNG, then let graphs fit and the page settle.

    The PNG keeps screen media (1920 px layout, figures at their screen size) but must not
    show buttons nor a grid cut at its fifteenth row, as the PDF's print media does not.
    """
    page.page.evaluate(_SNAPSHOT_MODE_JS)
    page.settle()


def pdf_title(data: TrialData, as_of: dt.date) -> str:
    """The PDF's title, as a screen reader announces the file: trial, what, which date."""
    trial = data.trial
    return f"{trial.acronym or trial.nct_id} ({trial.nct_id}) recruitment as of {as_of.isoformat()}"


def _print_pdf(page: WatchedPage, data: TrialData, as_of: dt.date) -> bytes:
    """Print media (assets/print.css), graphs fitted to it, then A4 landscape with header."""
    pw_page = page.page
    pw_page.emulate_media(media="print")
    pw_page.evaluate(FIT_GRAPHS_JS)
    page.settle()
    margins = {k: f"{v}mm" for k, v in PDF_MARGINS_MM.items()}
    # Readable by screen readers (WCAG 2.1 AA, PDF/UA's basics): Chromium writes the
    # structure tree (tagged) and headings as bookmarks; /Title is the document's title and
    # /Lang the page's lang (dashboard.accessibility).
    pw_page.evaluate("t => { document.title = t; }", pdf_title(data, as_of))
    return pw_page.pdf(
        tagged=True,
        outline=True,
        format="A4",
        landscape=True,
        print_background=True,
        display_header_footer=True,
        header_template=header_template(data, as_of),
        footer_template=footer_template(dt.datetime.now(dt.UTC)),
        margin=margins,
        scale=pdf_scale(),
        prefer_css_page_size=False,
    )


def _count_pdf_pages(body: bytes) -> int:
    """Page count of a Chromium PDF (its page tree has one ``/Type /Page`` per page)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?!s)", body))


__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_ENV",
    "SnapshotError",
    "SnapshotResult",
    "chromium_executable",
    "default_output",
    "header_template",
    "check_output",
    "take_snapshot",
]
