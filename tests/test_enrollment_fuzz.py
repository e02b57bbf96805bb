"""Property-based tests: over a thousand generated and mutated exports, each one is either
imported with exactly the counts of the test's own model, or refused whole with located
errors — never another exception, never a partial write.

The generator builds a model (a list of patients) and writes it the many ways real exports
differ: encoding (UTF-8 with or without BOM, Windows-1252, UTF-16), separator, line ends,
header spellings and column order, date formats, status spellings, site ids with or
without leading zeros, padding, quoted values, blank rows, informative extra columns. Then
it may mutate the file: truncate it, insert garbage bytes, drop or add columns, or break
one cell in a way the rules forbid. The expected outcome is derived from the model alone
(never from the code under test):

- untouched, or an informative column dropped: imported, counts equal the model's;
- a rule broken on a known row: refused, with an error on that row's line;
- truncated: refused, or imported with the counts of the model's first ``rows`` patients;
- garbage inserted (never a digit, so no valid date or site id can be forged): refused,
  or imported with the model's counts.

Runs with ``import_enrollment`` in-process, a fresh copy of a small data dir per example.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dashboard.datadir import SHIPPED_DATA_DIR, DataPaths, read_dataset_meta, read_import_log
from dashboard.enrollment import EnrollmentError, load_enrollment
from dashboard.imports import import_enrollment
from dashboard.metrics import counts
from tests.helpers import snapshot_dir

TODAY = dt.date(2026, 1, 15)
FIRST_DAY = dt.date(2023, 2, 1)
N_SITES = 46
#: ENROLLMENT_FUZZ_SCALE=10 runs ten times as many examples (a longer hunt, by hand).
SCALE = int(os.environ.get("ENROLLMENT_FUZZ_SCALE", "1"))
CSV_EXAMPLES = 900 * SCALE
XLSX_EXAMPLES = 150 * SCALE
#: Files generated per test, to check the total at the end of the module.
GENERATED: Counter[str] = Counter()
#: Outcomes by expectation, to show that both imports and refusals were exercised.
OUTCOMES: Counter[str] = Counter()
SECRET = "ITACITINIB-XYZ"

CANONICAL = ("patient_id", "site_id", "screening_date", "randomization_date", "status")
HEADERS = {
    "patient_id": [
        "patient_id",
        "N° patient",
        "Nº Patient",
        "PATIENT",
        "Subject ID",
        "code_patient",
    ],
    "site_id": ["site_id", "Site", "N° centre", "Numéro de centre", "SITE-NUMBER", "site no"],
    "screening_date": [
        "screening_date",
        "Date de screening",
        "Date de sélection",
        "SCREENING DATE",
    ],
    "randomization_date": [
        "randomization_date",
        "Date de randomisation",
        "Randomisation date",
        "DATE_RANDOMIZATION",
    ],
    "status": ["status", "Statut", "STATUT", "Patient status"],
}
# No spelling is another valid spelling with characters inserted or cut off at the end
# (e.g. no "Screening failed", which truncates to "Screening"), so that a truncated or
# garbled status can only stay the same status or become invalid.
SPELLINGS = {
    "SCREENING": ["SCREENING", "Screening", "screening", "En screening"],
    "SCREEN_FAILED": [
        "SCREEN_FAILED",
        "Screen failed",
        "screen-failed",
        "Screen failure",
        "Échec de screening",
    ],
    "RANDOMIZED": ["RANDOMIZED", "Randomized", "randomised", "RANDOMISED", "Randomisé"],
    "WITHDRAWN": ["WITHDRAWN", "Withdrawn", "Retiré"],
    "COMPLETED": ["COMPLETED", "Completed", "Terminé"],
}
RANDOMIZED = ("RANDOMIZED", "WITHDRAWN", "COMPLETED")
EXTRAS = {
    "Centre investigateur": [
        "Hôpital Nord",
        "CHU de Besançon",
        "Hôpital Européen; bât. B",
        'Clinique "Les Pins"',
    ],
    "Nom du centre": ["Hôpital Sud", "Centre, Lyon", ""],
    "Commentaire": ["", "RAS", "à revoir", "vu le 3/4"],
}
BLIND_HEADERS = ["Bras", "Treatment arm", "ARMCD", "Kit number", "Groupe", "Allocation"]
IDENT_HEADERS = ["Nom", "Prénom", "Date de naissance", "NIR", "IPP", "Téléphone"]
#: Garbage is any byte but an ASCII digit.
GARBAGE_BYTES = bytes(b for b in range(256) if not 0x30 <= b <= 0x39)
SEMANTIC = (
    "bad_date",
    "unknown_status",
    "unknown_site",
    "duplicate",
    "rand_before",
    "blank_pid",
    "rand_missing",
    "rand_unexpected",
    "formula",
    "future",
)
MUTATIONS = (
    ("none",) * 6
    + ("truncate",) * 3
    + ("garbage",) * 3
    + ("drop_required", "drop_extra", "blind_column", "identifier_column")
    + SEMANTIC
)


@dataclass(frozen=True)
class Patient:
    pid: str
    site: int
    screening: dt.date
    randomization: dt.date | None
    status: str


def model_counts(patients: list[Patient], as_of: dt.date) -> tuple[int, int, int]:
    """The counts by the issue's definitions, straight from the model."""
    screened = sum(p.screening <= as_of for p in patients)
    failed = sum(p.screening <= as_of and p.status == "SCREEN_FAILED" for p in patients)
    randomized = sum(p.randomization is not None and p.randomization <= as_of for p in patients)
    return screened, failed, randomized


@st.composite
def patients_strategy(draw: st.DrawFn) -> list[Patient]:
    """The model. Sizes and the id prefix are Hypothesis draws; the per-patient values come
    from a Random seeded by Hypothesis (reproducible, and a hundred times cheaper than a
    draw per value)."""
    n = draw(st.integers(1, 25))
    prefix = draw(st.sampled_from(["P", "SCL-", "0", "", "S1-"]))
    span = draw(st.sampled_from([0, 3, 1000]))  # 0: everybody on one day
    rnd = draw(st.randoms(use_true_random=True))
    out = []
    for i in range(n):
        status = rnd.choice(list(SPELLINGS))
        screening = FIRST_DAY + dt.timedelta(days=rnd.randint(0, span))
        randomization = None
        if status in RANDOMIZED:
            randomization = screening + dt.timedelta(days=rnd.choice([0, 1, rnd.randint(2, 45)]))
        out.append(
            Patient(
                f"{prefix}{i + 1:03d}", rnd.randint(1, N_SITES), screening, randomization, status
            )
        )
    return out


def fmt_date(day: dt.date, style: int) -> str:
    return (day.isoformat(), day.strftime("%d/%m/%Y"), f"{day.day}/{day.month}/{day.year}")[style]


@dataclass
class Export:
    """A generated export: its rows of cells (header first) and where each patient sits."""

    header: list[str]
    rows: list[list[str]]  # patient rows and blank rows, in file order
    patient_rows: list[int]  # index into rows of each patient, model order
    columns: list[str]  # canonical name or "extra:<label>" per header position
    leading_blank_lines: int

    def line_of(self, patient: int) -> int:
        """The spreadsheet line of a patient (header is on line 1 + leading blank lines)."""
        return self.leading_blank_lines + 2 + self.patient_rows[patient]

    def cell(self, patient: int, canon: str) -> tuple[int, int]:
        return self.patient_rows[patient], self.columns.index(canon)


@st.composite
def export_strategy(draw: st.DrawFn, patients: list[Patient]) -> Export:
    """How the model is written: structure drawn by Hypothesis, cell cosmetics (date
    format, spelling, zero padding, spaces) from a seeded Random."""
    extras = draw(st.lists(st.sampled_from(list(EXTRAS)), unique=True, max_size=2))
    columns = draw(st.permutations([*CANONICAL, *(f"extra:{e}" for e in extras)]))
    header = [
        c[6:] if c.startswith("extra:") else draw(st.sampled_from(HEADERS[c])) for c in columns
    ]
    blank_rows = draw(st.sampled_from([0.0, 0.0, 0.15]))
    padding = draw(st.sampled_from([0.0, 0.3]))
    rnd = draw(st.randoms(use_true_random=True))
    rows: list[list[str]] = []
    patient_rows = []

    def pad() -> str:
        return rnd.choice([" ", "\u00a0", "  "]) if rnd.random() < padding else ""

    for p in patients:
        if rnd.random() < blank_rows:
            rows.append([""] * len(columns))  # a blank row, as Excel writes ";;;;"
        values = {
            "patient_id": p.pid,
            "site_id": rnd.choice([str(p.site), f"{p.site:02d}", f"{p.site:03d}"]),
            "screening_date": fmt_date(p.screening, rnd.randint(0, 2)),
            "randomization_date": fmt_date(p.randomization, rnd.randint(0, 2))
            if p.randomization
            else "",
            "status": rnd.choice(SPELLINGS[p.status]),
        }
        row = []
        for col in columns:
            if col.startswith("extra:"):
                row.append(rnd.choice(EXTRAS[col[6:]]))
            else:
                value = values[col]
                row.append(pad() + value + pad() if value else value)
        patient_rows.append(len(rows))
        rows.append(row)
    leading = draw(st.sampled_from([0, 0, 0, 1, 2]))
    return Export(header, rows, patient_rows, list(columns), leading)


def to_csv_bytes(export: Export, sep: str, newline: str, encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator=newline)
    writer.writerow(export.header)
    writer.writerows(export.rows)
    text = newline * export.leading_blank_lines + buffer.getvalue()
    return text.encode(encoding)


def to_xlsx_bytes(export: Export, patients: list[Patient], real_dates: bool) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for _ in range(export.leading_blank_lines):
        sheet.append([])
    sheet.append(export.header)
    by_row = {row: i for i, row in enumerate(export.patient_rows)}
    for r, row in enumerate(export.rows):
        cells: list[object] = list(row)
        if real_dates and r in by_row:
            p = patients[by_row[r]]
            for canon, day in (
                ("screening_date", p.screening),
                ("randomization_date", p.randomization),
            ):
                if day is not None and row[export.columns.index(canon)].strip():
                    cells[export.columns.index(canon)] = day
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def apply_semantic(export: Export, patients: list[Patient], kind: str, target: int) -> int:
    """Break one rule on one patient row; return the line where the error must be."""

    def put(patient: int, canon: str, value: str) -> None:
        r, c = export.cell(patient, canon)
        export.rows[r][c] = value

    p = patients[target]
    if kind == "bad_date":
        put(target, "screening_date", "31/02/2024")
    elif kind == "unknown_status":
        put(target, "status", "Enrolled")
    elif kind == "unknown_site":
        put(target, "site_id", "99")
    elif kind == "duplicate":
        if target == 0:
            target = 1
        put(target, "patient_id", patients[target - 1].pid)
    elif kind == "rand_before":
        put(target, "status", "Randomized")
        put(target, "randomization_date", fmt_date(p.screening - dt.timedelta(days=1), 0))
    elif kind == "blank_pid":
        put(target, "patient_id", "")
    elif kind == "rand_missing":
        put(target, "status", "Randomized")
        put(target, "randomization_date", "")
    elif kind == "rand_unexpected":
        put(target, "status", "Screen failed")
        put(target, "randomization_date", fmt_date(p.screening + dt.timedelta(days=3), 1))
    elif kind == "formula":
        put(target, "patient_id", "=1+1")
    elif kind == "future":
        put(target, "screening_date", fmt_date(TODAY + dt.timedelta(days=2), 1))
        put(target, "randomization_date", "")
        put(target, "status", "Screening")
    return export.line_of(target)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small data dir: the shipped registry and 46 sites, after a first real import.

    (The first import after the demo also removes the demo's synthetic-activation.csv; that
    path is tested in test_enrollment.py. Here every example starts from the steady state.)
    fsync is a no-op in this module: durability is tested in test_datadir.py, and a
    thousand examples must run in seconds, not minutes.
    """
    target = tmp_path_factory.mktemp("fuzz-base") / "data"
    shutil.copytree(
        SHIPPED_DATA_DIR,
        target,
        ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl", "geocodes.csv"),
    )
    first = target.parent / "first.csv"
    first.write_bytes(
        b"patient_id;site_id;screening_date;randomization_date;status\nX1;1;2024-01-02;;Screening\n"
    )
    import_enrollment(first, DataPaths(target), today=TODAY)
    (target / "import-log.jsonl").unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)
        yield target


def position(data: st.DataObject, size: int, label: str) -> int:
    """A byte position below ``size``, drawn without depending on ``size``: an .xlsx
    carries its save time, so its length may differ when Hypothesis replays an example,
    and a draw's bounds must not."""
    return data.draw(st.integers(0, 2**32), label=label) % size


#: No shrinking (an example costs ~40 ms and shrinking one failure took over five
#: minutes; the draws of a failing example are printed in full anyway), no example
#: database (nothing written into the work tree), no deadline (the machine may be busy).
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_import(
    base_dir: Path,
    name: str,
    data: bytes,
    patients: list[Patient],
    expect: str,
    error_line: int | None = None,
) -> None:
    """Import ``data``; check the outcome against the model.

    ``expect``: "import" (must import whole), "refuse" (must be refused, with an error on
    ``error_line`` when given), "prefix" (refused, or imported as the model's first rows),
    "either" (refused, or imported with the model's counts).
    """
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        shutil.copytree(base_dir, data_dir)
        export = Path(tmp) / name
        export.write_bytes(data)
        before = snapshot_dir(data_dir)
        paths = DataPaths(data_dir)
        try:
            report = import_enrollment(export, paths, today=TODAY)
        except EnrollmentError as exc:
            assert expect != "import", exc.errors
            assert exc.errors
            for error in exc.errors:
                assert name in error, error
            if error_line is not None:
                assert any(f"line {error_line}," in e for e in exc.errors), (error_line, exc.errors)
            assert snapshot_dir(data_dir) == before  # the import log is left out of both
            assert read_import_log(paths)[-1]["result"] == "refused"
            for error in exc.errors:
                assert SECRET not in error
            OUTCOMES[f"{expect}: refused"] += 1
            return
        assert expect != "refuse", f"imported, but an error on line {error_line} was expected"
        enrollment = load_enrollment(paths)
        rows = report["rows"]
        assert rows == len(enrollment)
        model = patients[:rows] if expect == "prefix" else patients
        assert len(model) == rows, (rows, len(patients))
        days = sorted(
            {p.screening for p in model} | {p.randomization for p in model if p.randomization}
        )
        probes = [days[0] - dt.timedelta(days=1), days[len(days) // 2], days[-1]]
        for as_of in probes:
            c = counts(enrollment, as_of)
            assert (c.screened, c.screen_failed, c.randomized) == model_counts(model, as_of), as_of
        if expect != "prefix":
            assert report["data_cutoff"] == days[-1].isoformat()
            assert enrollment["site_id"].tolist() == [f"{p.site:02d}" for p in model]
        if expect == "import":  # garbage may change a patient code into another valid one
            assert enrollment["patient_id"].tolist() == [p.pid for p in model]
        assert read_dataset_meta(paths)["synthetic"] is False
        assert read_import_log(paths)[-1]["result"] == "imported"
        for path in data_dir.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes()
    OUTCOMES[f"{expect}: imported"] += 1


@settings(FUZZ_SETTINGS, max_examples=CSV_EXAMPLES)
@given(data=st.data())
def test_generated_csv_exports(base_dir: Path, data: st.DataObject) -> None:
    patients = data.draw(patients_strategy(), label="patients")
    export = data.draw(export_strategy(patients), label="export")
    encoding = data.draw(
        st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "cp1252", "utf-16"]), label="encoding"
    )
    sep = data.draw(st.sampled_from([";", ";", ",", "\t"]), label="sep")
    newline = data.draw(st.sampled_from(["\r\n", "\n", "\r\n", "\r"]), label="newline")
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    expect, error_line = "import", None
    if mutation in SEMANTIC:
        if mutation == "duplicate" and len(patients) < 2:
            mutation = "none"
        else:
            target = data.draw(st.integers(0, len(patients) - 1), label="target")
            error_line = apply_semantic(export, patients, mutation, target)
            expect = "refuse"
    elif mutation in ("drop_required", "drop_extra"):
        extras = [i for i, c in enumerate(export.columns) if c.startswith("extra:")]
        required = [i for i, c in enumerate(export.columns) if not c.startswith("extra:")]
        pool = required if mutation == "drop_required" else extras
        if pool:
            drop = data.draw(st.sampled_from(pool), label="drop")
            export.header.pop(drop)
            export.columns.pop(drop)
            for row in export.rows:
                row.pop(drop)
            expect = "refuse" if mutation == "drop_required" else "import"
    elif mutation in ("blind_column", "identifier_column"):
        label = data.draw(
            st.sampled_from(BLIND_HEADERS if mutation == "blind_column" else IDENT_HEADERS)
        )
        insert_at = data.draw(st.integers(0, len(export.header)), label="insert_at")
        export.header.insert(insert_at, label)
        export.columns.insert(insert_at, f"extra:{label}")
        for row in export.rows:
            row.insert(insert_at, SECRET)
        expect, error_line = "refuse", 1 + export.leading_blank_lines
    raw = to_csv_bytes(export, sep, newline, encoding)
    if mutation == "truncate":
        raw = raw[: position(data, len(raw), "cut")]
        expect = "prefix"
    elif mutation == "garbage":
        chunk = data.draw(st.binary(min_size=1, max_size=4), label="garbage")
        chunk = bytes(GARBAGE_BYTES[b % len(GARBAGE_BYTES)] for b in chunk)
        at = position(data, len(raw) + 1, "at")
        raw = raw[:at] + chunk + raw[at:]
        expect = "either"
    name = data.draw(st.sampled_from(["export.csv", "Export IWRS.txt", "sites-é.csv", "x.tsv"]))
    check_import(base_dir, name, raw, patients, expect, error_line)
    GENERATED["csv"] += 1


@settings(FUZZ_SETTINGS, max_examples=XLSX_EXAMPLES)
@given(data=st.data())
def test_generated_xlsx_exports(base_dir: Path, data: st.DataObject) -> None:
    patients = data.draw(patients_strategy(), label="patients")
    export = data.draw(export_strategy(patients), label="export")
    mutation = data.draw(
        st.sampled_from(("none", "none", "truncate", "garbage", "unknown_site", "rand_missing")),
        label="mutation",
    )
    expect, error_line = "import", None
    if mutation in SEMANTIC:
        target = data.draw(st.integers(0, len(patients) - 1), label="target")
        error_line = apply_semantic(export, patients, mutation, target)
        expect = "refuse"
    raw = to_xlsx_bytes(export, patients, real_dates=data.draw(st.booleans(), label="real_dates"))
    if mutation == "truncate":
        raw = raw[: position(data, len(raw), "cut")]
        expect = "refuse"  # a cut zip loses its central directory
    elif mutation == "garbage":
        chunk = data.draw(st.binary(min_size=1, max_size=4), label="garbage")
        at = position(data, len(raw) + 1, "at")
        raw = raw[:at] + chunk + raw[at:]
        expect = "either"
    check_import(base_dir, "export.xlsx", raw, patients, expect, error_line)
    GENERATED["xlsx"] += 1


def test_at_least_a_thousand_files_were_generated(request: pytest.FixtureRequest) -> None:
    """Runs last in this module: the two property tests above generated ≥ 1,000 files."""
    if GENERATED["csv"] == 0 or GENERATED["xlsx"] == 0:
        pytest.skip("run the whole module to count the generated files")
    total = GENERATED["csv"] + GENERATED["xlsx"]
    print(f"\nfuzz: {GENERATED['csv']} CSV + {GENERATED['xlsx']} XLSX = {total} files generated")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
    assert total >= 1000
    # Both ways out were exercised, mutated files included.
    assert OUTCOMES["import: imported"] >= 200
    assert OUTCOMES["refuse: refused"] >= 200
    assert OUTCOMES["prefix: imported"] + OUTCOMES["either: imported"] >= 3
    assert OUTCOMES["prefix: refused"] + OUTCOMES["either: refused"] >= 30
