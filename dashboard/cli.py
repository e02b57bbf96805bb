"""``recruitment-dashboard``: one click group over every step of the pipeline.

This module holds the group and the view commands (summary, snapshot, export, forecast,
serve); the data commands live in :mod:`dashboard.cli_data` and the shared options and
helpers in :mod:`dashboard.cli_common`. Commands import their step lazily so that data
commands (import, summary) start fast and never load Dash.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from . import __version__
from .cli_common import (
    DefaultGroup,
    _as_of_in_range,
    _date,
    _fail,
    _load,
    _paths,
    data_dir_option,
)
from .cli_data import DATA_COMMANDS


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recruitment-dashboard")
def main() -> None:
    """Recruitment dashboard for multi-site clinical trials (SCLERITA, NCT04789850)."""


for _command in DATA_COMMANDS:
    main.add_command(_command)


@main.command()
@data_dir_option
@click.option(
    "--as-of", "as_of", callback=_date, help="Count as of this date (default: data cut-off)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary(data_dir: Path | None, as_of: dt.date | None, as_json: bool) -> None:
    """Where recruitment stands: randomized vs target, screening, sites."""
    from .metrics import summary as build_summary
    from .report_text import format_summary

    data = _load(data_dir)
    as_of = _as_of_in_range(as_of, data)
    result = build_summary(
        data.trial,
        data.sites,
        data.geocodes,
        data.enrollment,
        as_of or data.data_cutoff,
        synthetic=data.synthetic,
        data_cutoff=data.data_cutoff,
    )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_summary(result))


# --------------------------------------------------------------------------- snapshot
@main.command()
@data_dir_option
@click.option(
    "--as-of", "as_of", callback=_date, help="Dashboard as of this date (default: data cut-off)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file, .pdf or .png (default: snapshots/<nct>-<as_of>.pdf).",
)
@click.option(
    "--url",
    default=None,
    help="Snapshot this running dashboard instead of starting one (give --data-dir it serves).",
)
@click.option(
    "--scale", type=click.IntRange(1, 2), default=1, show_default=True, help="PNG pixel density."
)
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds before giving up."
)
@click.option(
    "--mail-to",
    default=None,
    help="Mail the file to these addresses (comma-separated) through "
    "$RECRUITMENT_DASHBOARD_SMTP_HOST (see README).",
)
@click.option("--mail-from", default=None, help="Sender address of the mail.")
def snapshot(
    data_dir: Path | None,
    as_of: dt.date | None,
    out: Path | None,
    url: str | None,
    scale: int,
    timeout: float,
    mail_to: str | None,
    mail_from: str | None,
) -> None:
    """Dated PDF (A4 landscape) or PNG of the dashboard, rendered by headless Chromium."""
    from .serving import snapshot_data_dir
    from .snapshot import SnapshotError

    mail = _mail_setup(mail_to, mail_from)
    data = _load(data_dir)
    as_of = _as_of_in_range(as_of, data)
    try:
        result = snapshot_data_dir(
            out,
            data_dir=_paths(data_dir).root,
            as_of=as_of,
            url=url,
            scale=scale,
            timeout=timeout,
            data=data,
        )
    except SnapshotError as exc:
        _fail(f"Snapshot failed: {exc}")
    for blocked in result.blocked_requests:
        click.echo(f"Warning: blocked a request off this machine: {blocked}", err=True)
    detail = (
        f"{result.pages} page(s)"
        if result.kind == "pdf"
        else f"{result.width_px}x{result.height_px} px"
    )
    click.echo(f"Wrote {result.path} ({detail}, as of {result.as_of}, {result.seconds:.1f} s)")
    if mail is not None:
        _mail_snapshot(mail, data, result)


def _mail_setup(mail_to: str | None, mail_from: str | None):
    """Recipients, sender and SMTP settings, checked before the (slow) rendering."""
    from .mail import MailError, parse_addresses, smtp_settings

    if mail_to is None:
        if mail_from is not None:
            _fail("--mail-from needs --mail-to.", 2)
        return None
    try:
        sender = parse_addresses(mail_from)[0] if mail_from else None
        return parse_addresses(mail_to), sender, smtp_settings()
    except MailError as exc:
        _fail(f"Cannot mail the snapshot: {exc}", 2)


def _mail_snapshot(mail, data, result) -> None:
    from .mail import MailError, mail_pack

    recipients, sender, settings = mail
    try:
        sent = mail_pack(
            data,
            result.as_of,
            result.path,
            recipients,
            sender=sender,
            settings=settings,
            pages=result.pages,
        )
    except MailError as exc:
        _fail(f"Mail failed: {exc}\nThe snapshot is on disk: {result.path}")
    tls = "STARTTLS" if sent.tls else "no TLS"
    click.echo(f"Mailed {result.path.name} to {', '.join(sent.recipients)} ({tls}): {sent.subject}")


# --------------------------------------------------------------------------- export
@main.command()
@data_dir_option
@click.option(
    "--as-of", "as_of", callback=_date, help="Count as of this date (default: data cut-off)."
)
@click.option(
    "--what",
    type=click.Choice(["sites", "accrual"]),
    required=True,
    help="sites: one row per site; accrual: daily cumulative screened and randomized.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file, .csv (UTF-8 with BOM) or .xlsx "
    "(default: exports/<nct>-<what>-as-of-<date>[-DEMO].csv).",
)
@click.option(
    "--xlsx", "as_xlsx", is_flag=True, help="With the default --out: write .xlsx, not .csv."
)
def export(
    data_dir: Path | None, as_of: dt.date | None, what: str, out: Path | None, as_xlsx: bool
) -> None:
    """Aggregate table (never patient rows) as CSV or XLSX, formulas escaped."""
    from .datadir import atomic_write_bytes
    from .export_about import export_about, export_filename
    from .tabular import accrual_export_frame, sites_export_frame, to_csv_bytes, to_xlsx_bytes

    if out is not None and out.suffix.lower() not in (".csv", ".xlsx"):
        _fail(f"{out}: the export file must end in .csv or .xlsx")
    data = _load(data_dir)
    as_of = _as_of_in_range(as_of, data)
    cut = as_of or data.data_cutoff
    if out is None:
        out = Path("exports") / export_filename(data, what, cut, "xlsx" if as_xlsx else "csv")
    suffix = out.suffix.lower()
    frame = sites_export_frame(data, cut) if what == "sites" else accrual_export_frame(data, cut)
    about = export_about(data, what, cut)
    body = to_csv_bytes(frame) if suffix == ".csv" else to_xlsx_bytes(frame, what, about)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, body)
    click.echo(f"Wrote {out}: {len(frame)} rows of {what} as of {cut}")


@main.command()
@data_dir_option
@click.option(
    "--as-of", "as_of", callback=_date, help="Forecast from this date (default: data cut-off)."
)
@click.option(
    "--target",
    type=click.IntRange(min=0),
    default=None,
    help="Patients to reach (default: the registry's).",
)
@click.option(
    "--by",
    "by",
    multiple=True,
    callback=lambda ctx, param, values: [_date(ctx, param, v) for v in values],
    help="Also give P(target by DATE) and the expected count then (repeatable).",
)
@click.option(
    "--paths",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Simulated paths.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Random seed (default: fixed, so runs repeat).",
)
@click.option(
    "--no-parameter-uncertainty",
    is_flag=True,
    help="Plug the fitted gamma parameters in instead of drawing them (narrower intervals).",
)
@click.option(
    "--lags",
    default="0,90,180",
    show_default=True,
    help="Activation lags (days, comma-separated) of the sites-needed table.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the forecast as JSON.")
def forecast(
    data_dir: Path | None,
    as_of: dt.date | None,
    target: int | None,
    by: list[dt.date],
    paths: int,
    seed: int | None,
    no_parameter_uncertainty: bool,
    lags: str,
    as_json: bool,
) -> None:
    """When the target is reached: weighted linear and Poisson–gamma forecasts."""
    try:
        lag_days = tuple(sorted({int(x) for x in lags.split(",") if x.strip()}))
    except ValueError:
        raise click.BadParameter(
            "whole days separated by commas, e.g. 0,90,180", param_hint="--lags"
        ) from None
    if not lag_days or min(lag_days) < 0:
        raise click.BadParameter("at least one lag, none negative", param_hint="--lags")
    from .forecast import DEFAULT_SEED
    from .forecast_from_cutoff import forecast_as_of
    from .report_text import format_forecast

    data = _load(data_dir)
    as_of = _as_of_in_range(as_of, data)
    result = forecast_as_of(
        data.trial,
        data.sites,
        data.enrollment,
        as_of or data.data_cutoff,
        data.data_cutoff,
        target=target,
        by=by,
        paths=paths,
        seed=DEFAULT_SEED if seed is None else seed,
        parameter_uncertainty=not no_parameter_uncertainty,
        lags=lag_days,
    )
    if as_json:
        payload = result.to_json()
        payload["synthetic"] = data.synthetic
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(format_forecast(result, synthetic=data.synthetic))
        for warning in result.warnings:
            click.echo(f"Warning: {warning}")


# --------------------------------------------------------------------------- serve
@main.command()
@data_dir_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (a non-loopback address needs authentication).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True)
@click.option(
    "--as-of", "as_of", callback=_date, help="Default date of the page (default: data cut-off)."
)
@click.option(
    "--htpasswd",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File of 'user:<werkzeug hash>' lines enabling basic auth "
    "(or $RECRUITMENT_DASHBOARD_HTPASSWD / $RECRUITMENT_DASHBOARD_AUTH).",
)
@click.option(
    "--editors",
    default=None,
    metavar="USER[,USER...]",
    help="With basic auth: users who may import exports and edit sites on the Data page; "
    "everyone else only views (default: $RECRUITMENT_DASHBOARD_EDITORS). Without auth the "
    "local user is an editor.",
)
def serve(
    data_dir: Path | None,
    host: str,
    port: int,
    as_of: dt.date | None,
    htpasswd: Path | None,
    editors: str | None,
) -> None:
    """Serve the dashboard (the default command).

    This is Flask's threaded server, fine for a PM's machine or a small team behind a
    reverse proxy. In production run gunicorn on the WSGI entry point instead:

        RECRUITMENT_DASHBOARD_DATA_DIR=/srv/data gunicorn --workers 2 --threads 4 --timeout 120 --bind 127.0.0.1:8050 dashboard.wsgi:server
    """
    from .app import create_app
    from .firststeps import serve_refusal
    from .security import SecurityConfigError, check_bind, load_auth
    from .store import settle_heap

    try:
        auth = load_auth(htpasswd)
        check_bind(host, auth)
    except SecurityConfigError as exc:
        _fail(str(exc))
    root = _paths(data_dir).root
    refusal = serve_refusal(root)
    if refusal is not None:
        _fail(refusal, code=2)
    as_of = _as_of_in_range(as_of, _load(data_dir))
    from .roles import editors_from_environment, parse_editors

    editor_names = parse_editors(editors) if editors is not None else editors_from_environment()
    unknown = sorted(editor_names - set(auth.users)) if auth is not None else []
    if unknown:
        click.echo(f"Warning: editor(s) not among the users: {', '.join(unknown)}", err=True)
    app = create_app(root, as_of=as_of, auth=auth, editors=editor_names)
    if auth is not None:
        click.echo(
            "Data page editors: " + (", ".join(sorted(editor_names)) or "none (read-only)"),
            err=True,
        )
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(
        f"Serving {root} on http://{shown_host}:{port}/"
        + (" (basic auth on)" if auth is not None else "")
        + " — Ctrl+C to stop",
        err=True,
    )
    settle_heap()  # the app is built and served until exit: see dashboard.wsgi
    app.run(host=host, port=port, debug=False, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover
    main()
