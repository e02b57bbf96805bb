"""Issue 12: files written by imports stay inside the data dir and loadable; sizes and
nesting are refused before the work."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.cli import main
from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.registry import MAX_STUDY_BYTES, RegistryError, read_study_file
from dashboard.store import load_trial_data

SHIPPED_JSON = SHIPPED_DATA_DIR / "registry" / "NCT04789850.json"


def _study() -> dict:
    return json.loads(SHIPPED_JSON.read_text(encoding="utf-8"))


def _import(path: Path, data_dir: Path):
    return CliRunner().invoke(main, ["registry", "import", str(path), "--data-dir", str(data_dir)])


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize(
    "bad", ["../../x/NCT04789850", "NCT04789850/../../x", "/tmp/NCT04789850", "NCT1"]
)
def test_a_path_in_nct_id_is_refused_and_nothing_is_written(tmp_path: Path, data_dir: Path, bad):
    study = _study()
    study["protocolSection"]["identificationModule"]["nctId"] = bad
    path = tmp_path / "in" / "study.json"
    path.parent.mkdir()
    path.write_text(json.dumps(study), encoding="utf-8")
    outside_before = _tree(tmp_path)
    result = _import(path, data_dir)
    assert result.exit_code != 0
    assert "NCT and 8 digits" in result.output
    after = _tree(tmp_path)
    new = {k for k in after if k not in outside_before}
    assert new <= {"data/import-log.jsonl"}, new  # only the refusal is logged
    load_trial_data(data_dir, strict=True)


def test_a_facility_with_a_carriage_return_leaves_a_loadable_data_dir(tmp_path, data_dir):
    study = _study()
    location = study["protocolSection"]["contactsLocationsModule"]["locations"][0]
    location["facility"] = 'CHU\rRouen, "Nord"\nbis'
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    result = _import(path, data_dir)
    assert result.exit_code == 0, result.output
    data = load_trial_data(data_dir)  # parses (the renamed site has no geocode yet)
    assert 'CHU\rRouen, "Nord"\nbis' in set(data.sites["facility"])
    assert len(data.sites) == len(study["protocolSection"]["contactsLocationsModule"]["locations"])


def test_deeply_nested_json_is_refused_without_a_traceback(tmp_path, data_dir):
    path = tmp_path / "nested.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(RegistryError, match="nested"):
        read_study_file(path)
    result = _import(path, data_dir)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "nested" in result.output


def test_an_oversized_json_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.write(b'{"pad": "')
        handle.truncate(MAX_STUDY_BYTES + 10)
    started = time.monotonic()
    with pytest.raises(RegistryError, match="larger than"):
        read_study_file(path)
    assert time.monotonic() - started < 5


def test_strings_with_brackets_do_not_count_as_nesting(tmp_path):
    study = _study()
    study["protocolSection"]["identificationModule"]["briefTitle"] = "[" * 500 + '\\"{'
    path = tmp_path / "s.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    assert read_study_file(path)["protocolSection"]["identificationModule"]["nctId"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_disk_or_read_only_data_dir_is_a_clean_error(tmp_path, data_dir, code, monkeypatch):
    # The kernel's answer is simulated at the os boundary (the tests run as root, which
    # ignores permissions, and have no full disk to fill).
    path = tmp_path / "study.json"
    path.write_text(json.dumps(_study()), encoding="utf-8")
    before = _tree(data_dir)

    def refuse(*_args, **_kwargs):
        raise OSError(code, os.strerror(code), str(data_dir / ".sites.csv.x.tmp"))

    monkeypatch.setattr("os.fsync", refuse)
    result = _import(path, data_dir)
    assert result.exit_code == 1, result.output
    assert "Cannot write" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    after = _tree(data_dir)
    assert {k: v for k, v in after.items() if k != "import-log.jsonl"} == {
        k: v for k, v in before.items() if k != "import-log.jsonl"
    }


def _wide_xlsx(cells: int) -> bytes:
    """A minimal workbook whose one row holds ``cells`` cells (written by hand: openpyxl
    would take minutes to write four million)."""
    import io
    import zipfile

    import numpy as np

    values = np.random.default_rng(12).integers(0, 10**9, cells)  # compresses as real data
    row = b"".join(b'<c t="n"><v>%d</v></c>' % v for v in values.tolist())
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c t="inlineStr"><is><t>Patient</t></is></c></row>'
        b'<row r="2">' + row + b"</row></sheetData></worksheet>"
    )
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, body in parts.items():
            archive.writestr(part, body)
    return out.getvalue()


def test_a_million_cell_row_is_refused_before_openpyxl_builds_it():
    import resource

    from dashboard.enrollment.edc_reader import ExportReadError, open_export

    data = _wide_xlsx(1_000_000)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ExportReadError) as refused:
        open_export(data, "wide.xlsx")
    seconds = time.monotonic() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert "more than 1000 cells" in refused.value.errors[0]
    assert seconds < 5 and grown_mb < 300, (seconds, grown_mb)


def test_widest_row_counts_cells_across_blocks():
    import io

    from dashboard import xlsx_width

    xml = (
        b"<sheetData>"
        + b"".join(
            b"<row r='%d'>" % k + b"<c r='A1'><v>1</v></c>" * k + b"</row>" for k in range(1, 40)
        )
        + b"</sheetData>"
    )
    real = xlsx_width.BLOCK
    try:
        xlsx_width.BLOCK = 7  # tags split between blocks must not be lost or counted twice
        assert xlsx_width.widest_row(io.BytesIO(xml), 10_000) == 39
    finally:
        xlsx_width.BLOCK = real
    assert xlsx_width.widest_row(io.BytesIO(xml), 10_000) == 39


def test_a_path_in_dataset_registry_file_is_refused(data_dir):
    meta = json.loads((data_dir / "dataset.json").read_text(encoding="utf-8"))
    meta["registry_file"] = "../../../etc/passwd.json"
    (data_dir / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match="registry_file"):
        load_trial_data(data_dir)
