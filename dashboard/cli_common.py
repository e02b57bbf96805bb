"""What every ``recruitment-dashboard`` command shares: the ``--data-dir`` option, ISO date
parsing of options, loading the data dir with a clear refusal, the ``--as-of`` range check,
and the group that turns an unwritable data dir into a message instead of a traceback.

Kept apart from :mod:`dashboard.cli` (the group and the view commands) and
:mod:`dashboard.cli_data` (the data commands) so that both can use it without importing
each other.
"""

from __future__ import annotations

import datetime as dt
import errno
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

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


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


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
