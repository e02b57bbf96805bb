"""``recruitment-dashboard``: one click group over every step of the pipeline.

Commands import their step lazily so that data commands (import, summary) start fast and
never load Dash.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .datadir import DataPaths, default_data_dir

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: the shipped SCLERITA demo data, or $RECRUITMENT_DASHBOARD_DATA_DIR).",
)


def _paths(data_dir: Path | None) -> DataPaths:
    return DataPaths(data_dir or default_data_dir())


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    from .dates import parse_iso_date

    try:
        return parse_iso_date(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from exc


class DefaultGroup(click.Group):
    """A group whose bare invocation runs ``serve`` (as datasette does)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "--version", "-h")):
            args.insert(0, "serve")
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """A data dir that cannot be written (read-only, full disk, no permission) is a
        clear message and exit 1, not a traceback; atomic writes left the old files."""
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno not in _WRITE_ERRNOS:
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(
                f"Cannot write{where}: {exc.strerror}. Nothing was changed; free space or "
                "fix the permissions and run the command again.",
                err=True,
            )
            sys.exit(1)


_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recruitment-dashboard")
def main() -> None:
    """Recruitment dashboard for multi-site clinical trials (SCLERITA, NCT04789850)."""


def _fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


# --------------------------------------------------------------------------- registry
@main.group()
def registry() -> None:
    """The trial's registry record (ClinicalTrials.gov API v2 study JSON)."""


@registry.command("import")
@click.argument("study_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_dir_option
def registry_import(study_file: Path, data_dir: Path | None) -> None:
    """Store a study JSON and regenerate sites.csv (activation dates and targets are kept)."""
    from .imports import import_registry
    from .registry import RegistryError
    from .sites import SitesError

    try:
        nct_id, sites = import_registry(study_file, _paths(data_dir))
    except (RegistryError, SitesError) as exc:
        _fail(f"Registry import refused, nothing changed:\n{exc}")
    click.echo(f"Imported {nct_id}: {len(sites)} sites written to sites.csv")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--registry",
    "registry_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The trial's ClinicalTrials.gov API v2 study JSON.",
)
@click.option("--nct", "nct_id", help="Fetch the study JSON of this NCT id (needs internet).")
@click.option(
    "--api-url",
    default="https://clinicaltrials.gov/api/v2",
    show_default=True,
    help="ClinicalTrials.gov API v2 base URL (or a mirror).",
)
def init(directory: Path, registry_file: Path | None, nct_id: str | None, api_url: str) -> None:
    """Make DIRECTORY a new trial's data dir: record, sites, offline geocodes, no enrollment."""
    from .newtrial import InitError, init_data_dir
    from .registry import RegistryError
    from .sites import SitesError

    try:
        result = init_data_dir(
            directory,
            registry_file=registry_file,
            nct_id=nct_id,
            api_url=api_url,
            echo=lambda msg: click.echo(msg, err=True),
        )
    except (InitError, RegistryError, SitesError) as exc:
        _fail(f"init refused:\n{exc}")
    click.echo(f"Created {directory} for {result.nct_id}: {result.n_sites} sites")
    click.echo(result.geocode_summary)
    click.echo(
        "Next: recruitment-dashboard import-enrollment EXPORT.csv --data-dir "
        f"{directory}  (or `demo` for synthetic data), then `serve --data-dir {directory}`."
    )


# --------------------------------------------------------------------------- geocode
@main.command()
@data_dir_option
@click.option("--offline", is_flag=True, help="Use only the shipped gazetteer (city points).")
@click.option("--refresh", is_flag=True, help="Query again sites already in the cache.")
@click.option(
    "--nominatim-url",
    default="https://nominatim.openstreetmap.org",
    show_default=True,
    help="Nominatim server (self-hosted instance, or a test server).",
)
@click.option(
    "--min-delay", type=float, default=1.0, show_default=True, help="Seconds between requests."
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
def geocode(
    data_dir: Path | None,
    offline: bool,
    refresh: bool,
    nominatim_url: str,
    min_delay: float,
    timeout: float,
) -> None:
    """Geocode every site into geocodes.csv (cache kept, manual rows never overwritten)."""
    from .geocode import GeocodeError, run_geocode
    from .sites import SitesError

    try:
        result = run_geocode(
            _paths(data_dir),
            offline=offline,
            refresh=refresh,
            nominatim_url=nominatim_url,
            min_delay=min_delay,
            timeout=timeout,
            echo=lambda msg: click.echo(msg, err=True),
        )
    except (GeocodeError, SitesError) as exc:
        _fail(f"Geocoding refused, geocodes.csv unchanged:\n{exc}")
    click.echo(result)


# --------------------------------------------------------------------------- enrollment
@main.command("import-enrollment")
@click.argument("export_file", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@click.option("--cutoff", callback=_date, help="Data cut-off (default: latest date in the file).")
def import_enrollment_cmd(export_file: Path, data_dir: Path | None, cutoff: dt.date | None) -> None:
    """Validate an EDC/IWRS export (.csv/.xlsx) and make it the trial's enrollment."""
    from .enrollment import EnrollmentError
    from .imports import import_enrollment

    try:
        report = import_enrollment(export_file, _paths(data_dir), cutoff=cutoff)
    except EnrollmentError as exc:
        _fail(f"Refused, nothing changed: {export_file}\n" + "\n".join(exc.errors))
    for notice in report.get("notices", []):
        click.echo(f"Notice: {notice}", err=True)
    click.echo(
        f"Imported {report['rows']} patients from {export_file.name}; "
        f"data cut-off {report['data_cutoff']}."
    )


@main.command()
@data_dir_option
@click.option("--seed", type=int, default=None, help="Random seed (default: the shipped demo's).")
@click.option(
    "--cutoff", callback=_date, help="Data cut-off of the demo (default: the record's last update)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a real enrollment (kept as a dated backup beside it; logged).",
)
def demo(data_dir: Path | None, seed: int | None, cutoff: dt.date | None, force: bool) -> None:
    """Write a synthetic enrollment for the registry's recruiting sites (marked synthetic).

    sites.csv is never written; a real enrollment is replaced only with --force.
    """
    from .demo import DEFAULT_SEED, DemoRefused
    from .imports import write_demo

    try:
        enrollment = write_demo(
            _paths(data_dir),
            seed=DEFAULT_SEED if seed is None else seed,
            cutoff=cutoff,
            force=force,
        )
    except DemoRefused as exc:
        _fail(f"Demo refused: {exc}")
    click.echo(
        f"Wrote SYNTHETIC demo enrollment: {len(enrollment)} patients screened, "
        f"{int(enrollment['randomization_date'].notna().sum())} randomized."
    )


# --------------------------------------------------------------------------- reports
def _load(data_dir: Path | None):
    from .store import LOAD_ERRORS, load_trial_data

    paths = _paths(data_dir)
    try:
        return load_trial_data(paths.root)
    except LOAD_ERRORS as exc:
        _fail(f"Cannot load data dir {paths.root}:\n{exc}")


def _as_of_in_range(as_of: dt.date | None, data: Any) -> dt.date | None:
    """``--as-of`` checked against the trial's range (:mod:`dashboard.dates`): exit 2 outside."""
    from .dates import AsOfRefused, as_of_range, check_as_of

    if as_of is None:
        return None
    try:
        return check_as_of(as_of, as_of_range(data.trial.start_date, data.data_cutoff))
    except AsOfRefused as exc:
        raise click.BadParameter(str(exc), param_hint="'--as-of'") from None


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


@main.command()
@data_dir_option
def validate(data_dir: Path | None) -> None:
    """Check that registry, sites, geocodes and enrollment agree; exit 1 listing problems."""
    from .store import LOAD_ERRORS, load_trial_data

    paths = _paths(data_dir)
    try:
        data = load_trial_data(paths.root)
    except LOAD_ERRORS as exc:
        _fail(f"{paths.root}: NOT SOUND\n{exc}")
    if data.problems:
        _fail(f"{paths.root}: NOT SOUND\n" + "\n".join(f"- {p}" for p in data.problems))
    click.echo(
        f"{paths.root}: sound — {data.trial.nct_id}, {len(data.sites)} sites, "
        f"{len(data.geocodes)} geocoded, {len(data.enrollment)} patients"
        + (" (SYNTHETIC)" if data.synthetic else "")
    )


@main.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON lines.")
def log(data_dir: Path | None, as_json: bool) -> None:
    """Print the import log (audit trail of every import, refusals included)."""
    from .datadir import read_import_log

    for entry in read_import_log(_paths(data_dir)):
        if as_json:
            click.echo(json.dumps(entry, ensure_ascii=False))
        else:
            click.echo(
                f"{entry.get('time', '?')}  {entry.get('kind', 'import'):<10} "
                f"{entry.get('result', '?'):<8} {entry.get('file', '')}  rows={entry.get('rows', '')}"
                f"  sha256={str(entry.get('sha256', ''))[:12]}"
            )


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
    result["synthetic"] = data.synthetic
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(format_forecast(result, synthetic=data.synthetic))
        for warning in result["warnings"]:
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
def serve(
    data_dir: Path | None, host: str, port: int, as_of: dt.date | None, htpasswd: Path | None
) -> None:
    """Serve the dashboard (the default command).

    This is Flask's threaded server, fine for a PM's machine or a small team behind a
    reverse proxy. In production run gunicorn on the WSGI entry point instead:

        RECRUITMENT_DASHBOARD_DATA_DIR=/srv/data gunicorn --workers 2 --threads 4 --timeout 120 --bind 127.0.0.1:8050 dashboard.wsgi:server
    """
    from .app import create_app
    from .firststeps import serve_refusal
    from .security import SecurityConfigError, check_bind, load_auth

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
    app = create_app(root, as_of=as_of, auth=auth)
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(
        f"Serving {root} on http://{shown_host}:{port}/"
        + (" (basic auth on)" if auth is not None else "")
        + " — Ctrl+C to stop",
        err=True,
    )
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command()
@click.argument("username")
def passwd(username: str) -> None:
    """Print an htpasswd line (scrypt hash) for USERNAME: `passwd alice >> htpasswd`.

    The password is asked on the terminal (stderr), so only the line goes to stdout.
    """
    from .security import SecurityConfigError, htpasswd_entry

    password = click.prompt(
        f"Password for {username}", hide_input=True, confirmation_prompt=True, err=True
    )
    try:
        click.echo(htpasswd_entry(username, password))
    except (SecurityConfigError, ValueError) as exc:
        _fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
