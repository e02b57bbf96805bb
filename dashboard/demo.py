"""Synthetic demo enrollment, so the dashboard can be shown without real (blinded) data.

Sites recruit at uneven rates (gamma-distributed, as in a Poisson–gamma model), open in
a staggered way, and some never randomize anyone; a share of screened patients fail
screening and a few randomized patients withdraw. Everything it writes is marked synthetic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .datadir import (
    DataPaths,
    append_import_log,
    atomic_write_bytes,
    atomic_write_text,
    read_dataset_meta,
    sha256_file,
    utc_now_iso,
    write_dataset_meta,
    write_lock,
)
from .enrollment import ENROLLMENT_COLUMNS, enrollment_to_csv
from .sites import load_sites
from .synthetic import synthetic_activation_to_csv
from .trial_settings import load_trial

DEFAULT_SEED = 10


def make_demo_enrollment(
    sites: pd.DataFrame, start: dt.date, cutoff: dt.date, seed: int = DEFAULT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (enrollment, sites with synthetic activation dates) for recruiting sites only."""
    rng = np.random.default_rng(seed)
    sites = sites.copy()
    recruiting = sites["status"] == "RECRUITING"
    span_days = (cutoff - start).days
    rows = []
    n = 0
    for idx in sites.index[recruiting]:
        # Activation: most sites open in the first 14 months, a few much later.
        offset = int(min(rng.gamma(1.6, 110.0), span_days - 60))
        activation = start + dt.timedelta(days=offset)
        if pd.isna(sites.at[idx, "activation_date"]):
            sites.at[idx, "activation_date"] = pd.Timestamp(activation)
        else:
            activation = pd.Timestamp(sites.at[idx, "activation_date"]).date()
        open_days = max((cutoff - activation).days, 0)
        # Screening rate per day: uneven across sites (gamma shape 1.1), mean ~1 per 9 months.
        rate = rng.gamma(1.1, 1.0 / 1.1) / 400.0
        n_screened = rng.poisson(rate * open_days)
        days = np.sort(rng.integers(0, max(open_days, 1), size=n_screened))
        for day in days:
            n += 1
            screening = activation + dt.timedelta(days=int(day))
            failed = rng.random() < 0.28
            randomization = None
            if failed:
                status = "SCREEN_FAILED"
            else:
                randomization = screening + dt.timedelta(days=int(rng.integers(7, 29)))
                if randomization > cutoff:
                    status, randomization = "SCREENING", None
                elif rng.random() < 0.07:
                    status = "WITHDRAWN"
                elif (cutoff - randomization).days > 360 and rng.random() < 0.9:
                    status = "COMPLETED"
                else:
                    status = "RANDOMIZED"
            rows.append(
                {
                    "site_id": sites.at[idx, "site_id"],
                    "screening_date": pd.Timestamp(screening),
                    "randomization_date": pd.Timestamp(randomization) if randomization else pd.NaT,
                    "status": status,
                }
            )
    frame = pd.DataFrame(rows).sort_values(["screening_date", "site_id"], kind="stable")
    # Pseudonymised codes like an IWRS gives: site + sequence, never anything identifying.
    seq = frame.groupby("site_id").cumcount() + 1
    frame["patient_id"] = [f"S{sid}-{k:03d}" for sid, k in zip(frame["site_id"], seq, strict=True)]
    frame["randomization_date"] = pd.to_datetime(frame["randomization_date"])
    return frame[ENROLLMENT_COLUMNS].reset_index(drop=True), sites


class DemoRefused(RuntimeError):
    """``demo`` would replace a real enrollment; the message says how to force it."""


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
            append_import_log(paths, {**entry, "result": "refused", "reasons": ["real_enrollment"]})
            raise DemoRefused(
                f"{paths.enrollment} holds a real (non-synthetic) enrollment "
                f"(data cut-off {meta.get('data_cutoff', 'unknown')}); the demo would replace "
                "it. Nothing was changed. Use --force to replace it anyway (a dated backup is "
                "kept beside it and the replacement is logged)."
            )
        enrollment, with_dates = make_demo_enrollment(sites, trial.start_date, cutoff, seed)
        typed = sites["activation_date"].notna()
        synthetic_dates = with_dates.loc[~typed.to_numpy(), ["site_id", "activation_date"]]
        if real:
            stamp = utc_now_iso()
            backup = _backup_name(paths.enrollment, stamp)
            atomic_write_bytes(backup, paths.enrollment.read_bytes())
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
        atomic_write_text(paths.synthetic_activation, synthetic_activation_to_csv(synthetic_dates))
        enrollment_text = enrollment_to_csv(enrollment)
        # The audit trail names what was written: here no file came in, so the one made.
        entry.update(
            file=paths.enrollment.name,
            sha256=hashlib.sha256(enrollment_text.encode("utf-8")).hexdigest(),
        )
        atomic_write_text(paths.enrollment, enrollment_text)
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
        write_dataset_meta(paths, meta)
        append_import_log(paths, {**entry, "result": "imported", "rows": len(enrollment)})
    return enrollment
