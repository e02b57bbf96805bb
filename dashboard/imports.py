"""Imports: the transactions that change several data files at once.

Each data file has one owner module that reads it and renders its bytes
(:mod:`dashboard.enrollment.canonical` for enrollment.csv, :mod:`dashboard.sites` for
sites.csv, :mod:`dashboard.geocode.geocodes` for geocodes.csv, ...). An import decides
what changes and hands the owners' bytes to :func:`dashboard.transaction.commit`, so the
files and the import-log entry land together or not at all.

:func:`import_enrollment` takes the EDC/IWRS file as a site or a sponsor tool writes it
(CSV in UTF-8 or Windows-1252 with ``;``/``,``/tab, or .xlsx; see
:mod:`dashboard.enrollment.edc_reader`) and either imports it whole or refuses it whole,
listing every problem with its file, line, column and value.

Choices about what an enrollment file may hold:

- Statuses: case, spaces, hyphens, underscores and accents are ignored; British
  ``Randomised``, ``Screen failure``/``Screen fail`` and the French labels (``Randomisé``,
  ``Échec de screening``, ``En screening``, ``Retiré``, ``Sortie prématurée``, ``Terminé``)
  are accepted, and each such spelling is reported in a notice with its row count.
- A SCREENING or SCREEN_FAILED patient with a randomization date is refused: the two
  contradict each other, and the counts (which go by dates) would silently disagree with
  the status.
- Dates: ``YYYY-MM-DD`` or day-first ``D/M/YYYY`` (one or two digits for day and month),
  Excel date cells; never month-first, never two-digit years. A date after today is
  refused as a typo.
- ``--cutoff`` must be on or after every date in the file, and not after today.
- Formula cells (xlsx formulas, or text starting with ``=``, ``+``, ``-`` or ``@``) and
  control or invisible characters in the used columns are refused with their location,
  never stripped: a silently altered patient code could merge two patients.
- Columns that could unblind, or that look like direct identifiers, are refused on their
  header alone, before any value is parsed; their values are never printed, logged or
  stored (word lists in :mod:`dashboard.enrollment.vocabulary`). A column with no header
  that holds values is refused too (it could hold anything). Other extra columns are
  ignored with a notice naming them, never their values.
- Rows whose used columns are all blank (Excel's ``;;;;;``) are skipped with a count.
- Limits (:class:`dashboard.enrollment.edc_reader.Limits`): 50 MB, 1,000,000 rows, 1,000
  columns; an .xlsx whose parts would unpack to more than 500 MB, or one part more than
  200 times its packed size, is refused before anything is unpacked.
- The import log records file name, sha256, size, rows, result, and for refusals the
  number of errors and their categories — never an error text, which quotes cells.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import pandas as pd

from .datadir import (
    DataPaths,
    append_import_log,
    dataset_meta_bytes,
    read_dataset_meta,
    refused_entry,
    sha256_file,
    utc_now_iso,
    write_lock,
)
from .demo import DEFAULT_SEED, DemoRefused, make_demo_enrollment
from .enrollment.canonical import EnrollmentError, enrollment_to_csv
from .enrollment.checks import ValidatedEnrollment, validate_export
from .enrollment.edc_reader import ExportReadError, Limits, open_export
from .registry import LOCATION_STATUSES, RegistryError, parse_study, read_study_file
from .sites import SitesError, build_sites, load_sites, site_id_map, sites_to_csv, status_changes
from .transaction import commit, recover

# The registry import and the demo import their own helpers (geocodes, status history,
# trial settings) inside the functions: import-enrollment, benchmarked against a bare
# pandas.read_csv, should not load them.


def _refuse(paths: DataPaths, entry: dict[str, Any], exc: EnrollmentError) -> None:
    """Log a refusal (counts and categories only: never a cell value)."""
    if paths.root.is_dir():
        if exc.rows is not None:
            entry = {**entry, "rows": exc.rows}
        append_import_log(
            paths,
            refused_entry(entry, exc.errors, exc.reasons),
        )


def _read_export_bytes(export_file: Path, name: str, max_bytes: int) -> bytes:
    try:
        info = export_file.stat()
    except FileNotFoundError as exc:
        raise EnrollmentError([f"{name}: file not found ({export_file})"], ["unreadable"]) from exc
    except OSError as exc:
        raise EnrollmentError([f"{name}: cannot read ({exc.strerror})"], ["unreadable"]) from exc
    if not stat.S_ISREG(info.st_mode):
        raise EnrollmentError([f"{name}: not a regular file"], ["unreadable"])
    if info.st_size > max_bytes:
        raise EnrollmentError(
            [
                f"{name}: the file is {info.st_size / 1e6:.1f} MB, over the "
                f"{max_bytes / 1e6:.0f} MB limit for an enrollment export"
            ],
            ["too_big"],
        )
    try:
        return export_file.read_bytes()
    except OSError as exc:
        raise EnrollmentError([f"{name}: cannot read ({exc.strerror})"], ["unreadable"]) from exc


def import_enrollment(
    export_file: Path,
    paths: DataPaths,
    cutoff: dt.date | None = None,
    *,
    limits: Limits | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Validate an EDC/IWRS export and make it the trial's enrollment, all or nothing.

    On success enrollment.csv is replaced atomically, dataset.json records the cut-off
    (``cutoff``, else the latest date in the file) and that the data are real, and the
    demo's own activation-date file is removed (sites.csv is never written). Every outcome, refusals included, is
    appended to import-log.jsonl. Raises :class:`EnrollmentError` listing every problem;
    then nothing but the log line is written.

    ``limits`` (:class:`dashboard.enrollment.edc_reader.Limits`) and ``today`` exist for tests.
    ``dry_run``: the same checks and report (refusals logged as usual) but nothing is
    imported; the report adds ``csv_text``, the canonical enrollment the import would write,
    for the Data page's preview, which shows only counts made from it.
    """
    limits = limits or Limits()
    today = today or dt.date.today()
    export_file = Path(export_file)
    name = export_file.name
    entry: dict[str, Any] = {"kind": "enrollment", "file": name, "sha256": None}
    if not paths.sites.is_file():
        exc = EnrollmentError(
            [f"{name}: the data dir {paths.root} has no sites.csv; import the registry first"],
            ["no_sites"],
        )
        _refuse(paths, entry, exc)
        raise exc
    try:
        data = _read_export_bytes(export_file, name, limits.max_bytes)
    except EnrollmentError as exc:
        _refuse(paths, entry, exc)
        raise
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    entry["bytes"] = len(data)
    with write_lock(paths):
        recover(paths)  # a killed import before this one: finish it first
        try:
            try:
                sites = _registry_sites(paths)
            except (SitesError, OSError, ValueError) as exc:
                raise EnrollmentError(
                    [f"{name}: cannot use the data dir's sites.csv: {exc}"], ["bad_sites"]
                ) from exc
            try:
                table = open_export(data, name, limits)
                result = validate_export(table, sites, today, limits.max_rows)
            except ExportReadError as exc:
                raise EnrollmentError(exc.errors, [exc.reason]) from exc
            entry["rows"] = result.rows
            if cutoff is not None and cutoff < result.latest_date:
                raise EnrollmentError(
                    rows=result.rows,
                    errors=[
                        f"{name}: --cutoff {cutoff.isoformat()} is earlier than the latest date in "
                        f"the file, {result.latest_date.isoformat()} ({result.latest_where.removeprefix(name + ': ')}); "
                        "the cut-off must be on or after every recorded date"
                    ],
                    reasons=["cutoff_too_early"],
                )
            if cutoff is not None and cutoff > today:
                raise EnrollmentError(
                    [f"{name}: --cutoff {cutoff.isoformat()} is in the future (today is {today})"],
                    ["cutoff_in_future"],
                    rows=result.rows,
                )
            try:
                meta = read_dataset_meta(paths)
            except (OSError, ValueError) as exc:
                raise EnrollmentError(
                    [f"{name}: cannot use the data dir's dataset.json: {exc}"], ["bad_dataset"]
                ) from exc
        except EnrollmentError as exc:
            _refuse(paths, entry, exc)
            raise
        # Everything is computed before the first write, so nothing can fail half-way
        # but the writes themselves.
        data_cutoff = cutoff or result.latest_date
        notices = [f"read as {table.description}", *result.notices]
        status_by_site = dict(zip(sites["site_id"], sites["status"], strict=True))
        not_recruiting = [s for s in result.site_ids if status_by_site.get(s) != "RECRUITING"]
        if not_recruiting:
            notices.append(
                "patients at site(s) not RECRUITING in the registry (it may be out of date): "
                + ", ".join(f"{s} ({status_by_site.get(s)})" for s in not_recruiting)
            )
        # sites.csv is the user's: never written here. The demo's made-up activation
        # dates live in their own file, which a real enrollment makes meaningless.
        drop_synthetic = paths.synthetic_activation.exists()
        if drop_synthetic:
            notices.append(
                f"removed {paths.synthetic_activation.name} (the demo's made-up activation "
                "dates); the activation dates typed in sites.csv are kept as they are"
            )
        if meta.get("activation_dates_synthetic"):
            notices.append(
                "dataset.json says an older demo wrote activation dates into sites.csv; they "
                "were kept (nothing typed there is ever cleared): check them"
            )
        if meta.get("synthetic"):
            notices.append("replaced the synthetic demo enrollment")
        meta.pop("note", None)
        meta.pop("activation_dates_synthetic", None)
        meta.update(
            {
                "synthetic": False,
                "data_cutoff": data_cutoff.isoformat(),
                "source": f"recruitment-dashboard import-enrollment {name}",
                "source_sha256": entry["sha256"],
                "imported_at": utc_now_iso(),
            }
        )
        if dry_run:
            return {**_report(result, data_cutoff, notices, entry), "csv_text": result.csv_text}
        _cleanup_stale_temp(paths)
        # Enrollment, dataset.json, the demo file's removal and the log entry commit together.
        files = {
            paths.enrollment: result.csv_text.encode("utf-8"),
            paths.dataset: dataset_meta_bytes(meta),
        }
        if drop_synthetic:
            entry["removed"] = [paths.synthetic_activation.name]
        commit(
            paths,
            files,
            {**entry, "result": "imported", "data_cutoff": data_cutoff.isoformat()},
            removals=(paths.synthetic_activation,) if drop_synthetic else (),
        )
    return _report(result, data_cutoff, notices, entry)


def _report(
    result: ValidatedEnrollment, data_cutoff: dt.date, notices: list[str], entry: dict[str, Any]
) -> dict[str, Any]:
    return {
        "rows": result.rows,
        "data_cutoff": data_cutoff.isoformat(),
        "notices": notices,
        "file": entry["file"],
        "sha256": entry["sha256"],
        "randomized": result.randomized,
        "screen_failed": result.screen_failed,
        "sites": len(result.site_ids),
    }


def _registry_sites(paths: DataPaths) -> pd.DataFrame:
    """site_id and status of sites.csv, read with the csv module.

    Why not :func:`dashboard.sites.load_sites`: it checks every row with pandas in a
    Python loop (about 0.3 s for 2,000 sites), which would dominate a big import. The two
    columns used here are checked the same way; anything unusual falls back to
    ``load_sites`` so that its located ``SitesError`` is what the user sees.
    """

    text = paths.sites.read_text(encoding="utf-8-sig")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        rows = []
    header = rows[0] if rows else []
    if "site_id" in header and "status" in header:
        i_id, i_status = header.index("site_id"), header.index("status")
        body = [r for r in rows[1:] if r]
        if all(len(r) == len(header) for r in body):
            ids = [r[i_id] for r in body]
            statuses = [r[i_status] for r in body]
            if len(set(ids)) == len(ids) and set(statuses) <= set(LOCATION_STATUSES):
                return pd.DataFrame({"site_id": ids, "status": statuses}, dtype=object)
    return load_sites(paths)[["site_id", "status"]]


def _cleanup_stale_temp(paths: DataPaths) -> None:
    """Remove temp files a killed import left behind (we hold the lock: none is live)."""
    for tmp in paths.root.glob(f".{paths.enrollment.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# =========================================================================== registry
def _renumbered_geocodes(
    paths: DataPaths, previous: pd.DataFrame | None, sites: pd.DataFrame
) -> str | None:
    """New geocodes.csv text when the regenerated sites moved or lost ids, else None."""
    if previous is None:
        return None
    from .geocode.geocodes import renumbered_geocodes_csv

    mapping = site_id_map(previous, sites)
    if all(old == new for old, new in mapping.items()) and len(mapping) == len(sites):
        return None
    return renumbered_geocodes_csv(paths, mapping)


def import_registry(study_file: Path, paths: DataPaths) -> tuple[str, pd.DataFrame]:
    """Validate a study JSON, then store it and regenerate sites.csv; all or nothing.

    Every attempt is appended to the import log. Status changes are recorded, dated by
    the import, in status-history.jsonl (:mod:`dashboard.status_history`): that is how the
    weekly card knows which sites changed status. geocodes.csv follows renumbered sites.
    """
    from .status_history import history_bytes

    entry: dict[str, Any] = {"kind": "registry", "file": Path(study_file).name}
    with write_lock(paths):
        recover(paths)  # a killed import before this one: finish it first
        try:
            entry["sha256"] = sha256_file(Path(study_file))
            study = read_study_file(study_file)
            trial, locations = parse_study(study, source=str(study_file))
            target_name = f"{trial.nct_id}.json"
            # Study files of another trial would make the data dir ambiguous.
            existing = (
                sorted(paths.registry_dir.glob("*.json")) if paths.registry_dir.is_dir() else []
            )
            for other in existing:
                if other.name != target_name:
                    raise RegistryError(
                        f"{paths.registry_dir}: already holds {other.name}; "
                        f"use a separate data dir for {trial.nct_id}"
                    )
            previous = load_sites(paths) if paths.sites.exists() else None
        except (RegistryError, SitesError, OSError) as exc:
            reason = (
                "bad_registry"
                if isinstance(exc, RegistryError)
                else "bad_sites"
                if isinstance(exc, SitesError)
                else "unreadable"
            )
            append_import_log(paths, refused_entry(entry, [str(exc)], [reason], keep_messages=True))
            raise
        sites = build_sites(locations, previous)
        changes = status_changes(previous, sites)
        renumbered = _renumbered_geocodes(paths, previous, sites)
        files = {
            paths.registry_dir / target_name: (
                json.dumps(study, indent=2, ensure_ascii=False) + "\n"
            ).encode("utf-8"),
            paths.sites: sites_to_csv(sites).encode("utf-8"),
        }
        if renumbered is not None:
            files[paths.geocodes] = renumbered.encode("utf-8")
        history = history_bytes(paths, utc_now_iso()[:10], changes)
        if history is not None:
            files[paths.status_history] = history
        meta = read_dataset_meta(paths)
        meta["registry_file"] = target_name
        files[paths.dataset] = dataset_meta_bytes(meta)
        # The study, sites, geocodes, status history, dataset.json and the log entry
        # commit together.
        commit(
            paths,
            files,
            {**entry, "result": "imported", "rows": len(sites), "status_changes": changes},
        )
    return trial.nct_id, sites


# =========================================================================== demo
def _backup_name(path: Path, stamp: str) -> Path:
    """``enrollment.csv`` → ``enrollment.csv.2026-12-01T11-30-00Z.bak`` beside it."""
    return path.with_name(f"{path.name}.{stamp.replace(':', '-')}.bak")


def write_demo(
    paths: DataPaths,
    seed: int = DEFAULT_SEED,
    cutoff: dt.date | None = None,
    *,
    force: bool = False,
) -> pd.DataFrame:
    """Write a synthetic enrollment into the data dir and mark the data set synthetic.

    The cut-off defaults to the registry record's last update (else today): the demo then
    shows the trial as its record last described it. sites.csv is never written: the
    made-up activation dates go to their own file (:mod:`dashboard.synthetic`), for the
    sites the user has given none. A real (non-synthetic) enrollment is never replaced
    silently: without ``force`` this raises :class:`DemoRefused` and changes nothing; with
    ``force`` the real file is kept as a dated backup beside it and the replacement is
    written to the import log.
    """
    from .synthetic import synthetic_activation_to_csv
    from .trial_settings import load_trial

    trial = load_trial(paths)
    if cutoff is None:
        cutoff = trial.last_updated or dt.date.today()
    with write_lock(paths):
        sites = load_sites(paths)
        meta = read_dataset_meta(paths)
        real = paths.enrollment.exists() and not meta.get("synthetic", False)
        entry: dict[str, Any] = {
            "kind": "demo",
            "seed": seed,
            "data_cutoff": cutoff.isoformat(),
        }
        if real and not force:
            refusal = DemoRefused(
                f"{paths.enrollment} holds a real (non-synthetic) enrollment "
                f"(data cut-off {meta.get('data_cutoff', 'unknown')}); the demo would replace "
                "it. Nothing was changed. Use --force to replace it anyway (a dated backup is "
                "kept beside it and the replacement is logged)."
            )
            append_import_log(paths, refused_entry(entry, [str(refusal)], ["real_enrollment"]))
            raise refusal
        enrollment, with_dates = make_demo_enrollment(sites, trial.start_date, cutoff, seed)
        typed = sites["activation_date"].notna()
        synthetic_dates = with_dates.loc[~typed.to_numpy(), ["site_id", "activation_date"]]
        files: dict[Path, bytes] = {}
        if real:
            stamp = utc_now_iso()
            backup = _backup_name(paths.enrollment, stamp)
            files[backup] = paths.enrollment.read_bytes()
            entry.update(
                {
                    "replaced": {
                        "file": paths.enrollment.name,
                        "sha256": sha256_file(paths.enrollment),
                        "data_cutoff": meta.get("data_cutoff"),
                        "source": meta.get("source"),
                    },
                    "backup": backup.name,
                }
            )
        files[paths.synthetic_activation] = synthetic_activation_to_csv(synthetic_dates).encode()
        files[paths.enrollment] = enrollment_to_csv(enrollment).encode("utf-8")
        # The audit trail names the bytes written: no file came in, so the one made.
        entry.update(
            file=paths.enrollment.name,
            sha256=hashlib.sha256(files[paths.enrollment]).hexdigest(),
        )
        meta.pop("activation_dates_synthetic", None)  # the old, in-sites.csv way
        for key in ("source_sha256", "imported_at"):
            meta.pop(key, None)
        meta.update(
            {
                "synthetic": True,
                "data_cutoff": cutoff.isoformat(),
                "source": f"recruitment-dashboard demo --seed {seed} --cutoff {cutoff.isoformat()}",
                "note": (
                    f"Synthetic enrollment for demonstration; not {trial.display_name} trial data."
                ),
            }
        )
        files[paths.dataset] = dataset_meta_bytes(meta)
        # The backup, the demo's files, dataset.json and the log entry commit together.
        commit(paths, files, {**entry, "result": "imported", "rows": len(enrollment)})
    return enrollment


__all__ = ["import_enrollment", "import_registry", "write_demo"]
