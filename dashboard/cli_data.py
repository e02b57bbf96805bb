"""The data commands of ``recruitment-dashboard``: what builds and checks a trial's data dir
(registry import, init, geocode, import-enrollment, demo, validate, log, passwd).

:mod:`dashboard.cli` adds these to its group; this module never imports it, so the data
steps can be read (and imported) without the view commands.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from pathlib import Path

import click

from .cli_common import _date, _fail, _paths, data_dir_option


# --------------------------------------------------------------------------- registry
@click.group()
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


@click.command()
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
@click.command()
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
@click.command("import-enrollment")
@click.argument("export_file", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@click.option("--cutoff", callback=_date, help="Data cut-off (default: latest date in the file).")
def import_enrollment_cmd(export_file: Path, data_dir: Path | None, cutoff: dt.date | None) -> None:
    """Validate an EDC/IWRS export (.csv/.xlsx) and make it the trial's enrollment."""
    # One short pass over one file: the cyclic collector would only re-walk what pandas'
    # import creates (~40 ms, a twentieth of the command); reference counting frees
    # the rest. Restored after, for callers that run commands in-process.
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .enrollment import EnrollmentError
        from .imports import import_enrollment

        try:
            report = import_enrollment(export_file, _paths(data_dir), cutoff=cutoff)
        except EnrollmentError as exc:
            _fail(f"Refused, nothing changed: {export_file}\n" + "\n".join(exc.errors))
    finally:
        if collecting:
            gc.enable()
    for notice in report.get("notices", []):
        click.echo(f"Notice: {notice}", err=True)
    click.echo(
        f"Imported {report['rows']} patients from {export_file.name}; "
        f"data cut-off {report['data_cutoff']}."
    )


@click.command()
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


@click.command()
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


@click.command()
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
                f"{entry.get('time', '?')}  {entry.get('user', '?'):<12} "
                f"{entry.get('kind', 'import'):<10} "
                f"{entry.get('result', '?'):<8} {entry.get('file', '')}  rows={entry.get('rows', '')}"
                f"  sha256={str(entry.get('sha256', ''))[:12]}"
            )


@click.command()
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


#: Every data command; :mod:`dashboard.cli` adds them to its group (``--help`` sorts them).
DATA_COMMANDS: tuple[click.Command, ...] = (
    registry,
    init,
    geocode,
    import_enrollment_cmd,
    demo,
    validate,
    log,
    passwd,
)
