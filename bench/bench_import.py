"""Benchmark (run by hand): importing a 200,000-row French export vs a bare pandas read.

Why: the issue asks that ``recruitment-dashboard import-enrollment`` on a big French
Excel export cost not much more than ``pandas.read_csv`` of the same file (goal ≤ 1.4×,
timed as whole processes, interpreter start and imports included), so that validation
never becomes the reason to skip an import.

It writes, in a temporary directory, a 2,000-site data dir (sites.csv with ids
"0001".."2000", a copy of the shipped registry JSON, dataset.json) and a 200,000-row CSV
the way French Excel saves one (``;``, Windows-1252, DD/MM/YYYY, site ids without leading
zeros, an accented "Centre investigateur" column), then times each command 5 times and
prints the medians and their ratio: wall clock (the goal), and CPU time (user + system of
the process), which other work on a busy machine disturbs less.

    python bench/bench_import.py [--rows 200000] [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "data"
N_SITES = 2000
STATUS_SPELLINGS = {
    "SCREENING": ("Screening", "En screening"),
    "SCREEN_FAILED": ("Screen failed", "Échec de screening", "SCREEN_FAILED"),
    "RANDOMIZED": ("Randomisé", "Randomized", "randomized"),
    "WITHDRAWN": ("Withdrawn", "Retiré"),
    "COMPLETED": ("Terminé", "Completed"),
}


def make_data_dir(root: Path) -> Path:
    """A data dir with 2,000 recruiting sites (the shipped registry file is copied as is)."""
    data = root / "data"
    (data / "registry").mkdir(parents=True)
    for study in (SHIPPED / "registry").glob("*.json"):
        shutil.copy(study, data / "registry" / study.name)
    lines = ["site_id,facility,city,country,status,activation_date,target"]
    lines += [f"{i:04d},Hôpital {i},Ville {i},France,RECRUITING,," for i in range(1, N_SITES + 1)]
    (data / "sites.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = {"registry_file": "NCT04789850.json", "synthetic": False}
    (data / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return data


def make_export(path: Path, rows: int, seed: int = 1) -> None:
    """A French-Excel-style export: ; separator, cp1252, DD/MM/YYYY, ids without zeros."""
    rng = np.random.default_rng(seed)
    start = dt.date(2023, 2, 1).toordinal()
    screening = start + rng.integers(0, 900, size=rows)
    delay = rng.integers(5, 30, size=rows)
    kind = rng.choice(
        ["SCREENING", "SCREEN_FAILED", "RANDOMIZED", "WITHDRAWN", "COMPLETED"],
        p=[0.05, 0.28, 0.5, 0.05, 0.12],
        size=rows,
    )
    sites = rng.integers(1, N_SITES + 1, size=rows)
    spell = rng.integers(0, 3, size=rows)
    out = [
        "N° patient;N° centre;Centre investigateur;Date de screening;Date de randomisation;Statut"
    ]
    for i in range(rows):
        scr = dt.date.fromordinal(int(screening[i]))
        status = str(kind[i])
        rand = ""
        if status in ("RANDOMIZED", "WITHDRAWN", "COMPLETED"):
            rand = dt.date.fromordinal(int(screening[i] + delay[i])).strftime("%d/%m/%Y")
        spellings = STATUS_SPELLINGS[status]
        out.append(
            f"P{i + 1:06d};{sites[i]};Hôpital {sites[i]} – Médecine interne;"
            f"{scr.strftime('%d/%m/%Y')};{rand};{spellings[spell[i] % len(spellings)]}"
        )
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("cp1252"))


def console_script() -> list[str]:
    """The installed entry point next to this interpreter, as a user runs it.

    Not what ``shutil.which`` finds first: under pyenv that is a bash shim that re-resolves
    the interpreter on every call (0.1-0.2 s), which the bare ``python -c`` command it is
    compared with does not pay.
    """
    script = Path(sys.executable).parent / "recruitment-dashboard"
    if script.exists():
        return [str(script)]
    found = shutil.which("recruitment-dashboard")
    return [found] if found else [sys.executable, "-m", "dashboard.cli"]


def time_command(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        data = make_data_dir(root)
        export = root / "export-fr.csv"
        make_export(export, args.rows)
        size_mb = export.stat().st_size / 1e6
        importer = [*console_script(), "import-enrollment", str(export), "--data-dir", str(data)]
        reader = [
            sys.executable,
            "-c",
            f"import pandas; pandas.read_csv({str(export)!r}, sep=';', encoding='cp1252')",
        ]
        # Interleave the runs so that machine noise hits both commands alike.
        runs: dict[str, list[tuple[float, float]]] = {"read": [], "import": []}
        time_command(reader)  # warm the page cache
        for _ in range(args.runs):
            runs["read"].append(time_command(reader))
            runs["import"].append(time_command(importer))
        print(f"export: {args.rows:,} rows, {size_mb:.1f} MB, {N_SITES} sites ({export})")
        print(f"import command: {' '.join(importer[:2])} ...")
        print(f"{'command':<34} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU median s':>13}")
        for label, key in (
            ("pandas.read_csv (bare)", "read"),
            ("recruitment-dashboard import", "import"),
        ):
            walls = [w for w, _ in runs[key]]
            cpus = [c for _, c in runs[key]]
            print(
                f"{label:<34} {statistics.median(walls):>9.3f} {min(walls):>7.3f} "
                f"{max(walls):>7.3f} {statistics.median(cpus):>13.3f}"
            )
        ratio = statistics.median(w for w, _ in runs["import"]) / statistics.median(
            w for w, _ in runs["read"]
        )
        cpu_ratio = statistics.median(c for _, c in runs["import"]) / statistics.median(
            c for _, c in runs["read"]
        )
        print(f"ratio import / read_csv: {ratio:.2f}x wall (goal <= 1.4x), {cpu_ratio:.2f}x CPU")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
