"""What a registrar can count on from `batch` (issue 19): no silent loss, no hang, no injection,
a clear line for every failure."""

from __future__ import annotations

import csv
import errno
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fpdf import FPDF
from typer.testing import CliRunner

from her2extract import batch as batch_module
from her2extract.cli import app
from her2extract.export import plain_cell, safe_cell

runner = CliRunner()

REPORT = "Breast, left, core biopsy: invasive ductal carcinoma.\nEstrogen receptor: 95%, strong.\nHER2 (IHC): 3+\n"


def _reports(folder: Path, count: int, names=None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, name in enumerate(names or [f"r{k:03d}.txt" for k in range(count)]):
        path = folder / name
        path.write_text(REPORT.replace("95%", f"{10 + n}%"), encoding="utf-8")
        paths.append(path)
    return paths


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- no silent loss --------------------------------------------------------------------------

def test_a_second_run_to_the_same_output_is_refused_and_the_first_kept(tmp_path):
    _reports(tmp_path / "in", 5)
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(out), "-q"]).exit_code == 0
    before = out.read_bytes()
    (tmp_path / "one").mkdir()
    _reports(tmp_path / "one", 1)
    result = runner.invoke(app, ["batch", str(tmp_path / "one"), "-o", str(out), "-q"])
    assert result.exit_code == 2
    assert "exists" in result.output and "--resume" in result.output and "--overwrite" in result.output
    assert "Traceback" not in result.output
    assert out.read_bytes() == before and len(_rows(out)) == 5
    # --overwrite replaces it on purpose
    assert runner.invoke(app, ["batch", str(tmp_path / "one"), "-o", str(out), "-q", "--overwrite"]).exit_code == 0
    assert len(_rows(out)) == 1


def test_an_earlier_jsonl_alone_is_not_overwritten_either(tmp_path):
    _reports(tmp_path / "in", 2)
    (tmp_path / "old.jsonl").write_text('{"source": "kept"}\n', encoding="utf-8")
    result = runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "new.csv"),
                                 "--jsonl", str(tmp_path / "old.jsonl"), "-q"])
    assert result.exit_code == 2 and "old.jsonl exists" in result.output
    assert (tmp_path / "old.jsonl").read_text(encoding="utf-8") == '{"source": "kept"}\n'
    assert not (tmp_path / "new.csv").exists()


@pytest.mark.parametrize("second", ["--jsonl", "--per-result"])
def test_two_outputs_with_one_path_are_refused(tmp_path, second):
    _reports(tmp_path / "in", 2)
    same = tmp_path / "same.csv"
    result = runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(same), second, str(same), "-q"])
    assert result.exit_code == 2 and "same file" in result.output
    assert not same.exists()


def test_an_output_inside_the_input_folder_is_not_read_back(tmp_path):
    folder = tmp_path / "in"
    _reports(folder, 3)
    out = folder / "results.txt"  # named like a report, in the folder being read
    first = runner.invoke(app, ["batch", str(folder), "-o", str(out), "-q"])
    assert first.exit_code == 0 and len(_rows(out)) == 3
    again = runner.invoke(app, ["batch", str(folder), "-o", str(out), "-q", "--overwrite"])
    assert again.exit_code == 0 and "not read as reports" in again.output
    assert sorted(Path(r["source"]).name for r in _rows(out)) == ["r000.txt", "r001.txt", "r002.txt"]


def test_files_of_other_types_are_counted_by_type(tmp_path):
    folder = tmp_path / "in"
    _reports(folder, 2)
    for name in ("a.docx", "b.docx", "c.zip"):
        (folder / name).write_bytes(b"x")
    result = runner.invoke(app, ["batch", str(folder), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0
    assert "3 skipped (not a PDF, text or image file): 2 .docx, 1 .zip" in result.output


def test_a_missing_output_folder_is_made(tmp_path):
    _reports(tmp_path / "in", 1)
    out = tmp_path / "new" / "deeper" / "out.csv"
    assert runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(out), "-q"]).exit_code == 0
    assert len(_rows(out)) == 1


# --- no hang ---------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_and_a_device_give_error_rows_at_once(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would block for ever
    good = _reports(tmp_path / "in", 1)[0]
    out = tmp_path / "out.csv"
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "her2extract", "batch", str(fifo), "/dev/zero", str(good),
                          "-o", str(out), "--timeout", "5", "-q"], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert run.returncode == 1
    rows = {r["source"]: r for r in _rows(out)}
    assert rows[str(fifo)]["status"] == "error" and "a pipe" in rows[str(fifo)]["error"]
    assert rows["/dev/zero"]["status"] == "error" and "a device" in rows["/dev/zero"]["error"]
    assert rows[str(good)]["status"] == "ok"


def test_the_writer_never_reads_a_file_whose_worker_failed(monkeypatch, tmp_path):
    """A timed-out or crashed file's row is made without reading the file again (it may be what
    hung the worker): no hash, so --resume tries it again."""
    monkeypatch.setattr(batch_module, "file_digest", lambda path: pytest.fail("the writer read the file"))
    result = batch_module.failed_result(str(tmp_path / "slow.pdf"), "timed out after 5 s", False)
    assert result.digest == "" and result.row["status"] == "error"


def test_the_hash_that_resume_checks_never_reads_a_special_or_oversized_file(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2048)
    assert batch_module.file_digest(big, max_bytes=1024) == ""  # an error row by its size, found again at once
    assert len(batch_module.file_digest(big, max_bytes=4096)) == 64
    assert batch_module.file_digest("/dev/zero") == ""


def _repetitive_scan_pdf(path: Path, pages: int = 20) -> Path:
    """Pages that look scanned (an image over the page) with a huge repeated text layer."""
    from PIL import Image

    image = tmp = path.with_suffix(".png")
    Image.new("L", (200, 260), 255).save(tmp)
    pdf = FPDF()
    pdf.set_font("helvetica", size=6)
    line = "HER2 IHC 2+ equivocal ER positive 90% PR positive 50% Ki-67 20% " * 3
    for _ in range(pages):
        pdf.add_page()
        pdf.image(str(image), x=0, y=0, w=210, h=297)
        pdf.set_xy(5, 5)
        pdf.multi_cell(w=200, h=2.2, text="\n".join([line] * 120))
    pdf.output(str(path))
    return path


def test_a_refused_document_is_not_read_again_by_ocr(tmp_path):
    from her2extract.ingest import ocr_available
    from her2extract.pipeline import extract_file

    if not ocr_available():
        pytest.skip("Tesseract is not installed")
    pdf = _repetitive_scan_pdf(tmp_path / "repeat.pdf")
    started = time.monotonic()
    record = extract_file(pdf, ocr="auto")
    assert record.status == "error" and "repetitive" in record.error
    assert time.monotonic() - started < 2  # no page sent to Tesseract (that is ~3 s a page)


def test_a_text_layer_larger_than_a_page_is_refused_with_a_reason(tmp_path):
    from her2extract.errors import UnreadableDocument
    from her2extract.ingest import MAX_PAGE_CHARS, read_document

    pdf = FPDF()
    pdf.set_font("helvetica", size=1)
    pdf.add_page()
    pdf.set_auto_page_break(False)
    text = "x" * 200 + "\n"
    for row in range(MAX_PAGE_CHARS // 200 + 50):
        pdf.set_xy(0, (row % 280))
        pdf.cell(text=text[:-1])
    path = tmp_path / "dense.pdf"
    pdf.output(str(path))
    with pytest.raises(UnreadableDocument, match="more than a page can show"):
        read_document(path, ocr="never")


# --- no injection ----------------------------------------------------------------------------

HOSTILE = ["=HYPERLINK(1).txt", "+cmd.txt", "-2+3.txt", "@SUM(A1).txt", "a--b\x01c.txt"]


@pytest.mark.parametrize("value,expected", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
                                            ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok", "ok"), ("", ""),
                                            ("'=x", "'=x")])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected
    if value[:1] != "'":
        assert plain_cell(safe_cell(value)) == value


def _hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in HOSTILE:
        (folder / name).write_text(REPORT, encoding="utf-8")
    return folder


def _cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


@pytest.mark.parametrize("fmt", ["csv", "naaccr"])
def test_formula_like_file_names_are_neutralised_in_every_csv(tmp_path, fmt, monkeypatch):
    monkeypatch.chdir(_hostile_folder(tmp_path))  # names as given: each starts its source cell
    out, results = tmp_path / "out.csv", tmp_path / "results.csv"
    result = runner.invoke(app, ["batch", "-o", str(out), "-f", fmt, "--per-result", str(results), "-q", "--", *HOSTILE])
    assert result.exit_code == 0, result.output
    for written in (out, results):
        cells = _cells(written)
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], written
        assert "'=HYPERLINK(1).txt" in cells and "'-2+3.txt" in cells, written


def test_resume_matches_neutralised_names(tmp_path, monkeypatch):
    monkeypatch.chdir(_hostile_folder(tmp_path))
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["batch", "-o", str(out), "-q", "--", *HOSTILE]).exit_code == 0
    again = runner.invoke(app, ["batch", "-o", str(out), "--resume", "--", *HOSTILE])
    assert again.exit_code == 0 and "done before" in again.output
    assert sorted(plain_cell(r["source"]) for r in _rows(out)) == sorted(HOSTILE)


def test_naaccr_xml_of_hostile_names_parses(tmp_path):
    folder = _hostile_folder(tmp_path)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")  # an error row: listed in a comment
    out = tmp_path / "out.csv"
    runner.invoke(app, ["batch", str(folder), "-o", str(out), "-f", "naaccr", "-q"])
    root = ET.parse(out.with_suffix(".xml")).getroot()  # raises if not well-formed
    assert len(root.findall("{http://naaccr.org/naaccrxml}Patient")) == len(HOSTILE)


# --- clear failures --------------------------------------------------------------------------

def test_a_full_disk_ends_with_one_line_and_exit_3(tmp_path, monkeypatch):
    _reports(tmp_path / "in", 6)
    out = tmp_path / "out.csv"
    real = batch_module.RowWriter._write
    calls = {"n": 0}

    def full_after_two(self, result):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, result)

    monkeypatch.setattr(batch_module.RowWriter, "_write", full_after_two)
    result = runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(out), "-q", "--workers", "1"])
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "--resume" in lines[0]
    assert "Traceback" not in result.output
    monkeypatch.setattr(batch_module.RowWriter, "_write", real)
    assert runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(out), "-q", "--resume"]).exit_code == 0
    assert len(_rows(out)) == 6


def test_extract_on_a_refused_file_says_why_and_fails(tmp_path):
    path = tmp_path / "repeat.txt"
    path.write_text("HER2 3+ positive. " * 40_000, encoding="utf-8")
    result = runner.invoke(app, ["extract", str(path)])
    assert result.exit_code == 1
    assert "repetitive" in result.output and "No HER2" not in result.output


# --- the contract is in the repository -------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE = Path(__file__).resolve().parent.parent / "her2extract"
# the modules that write warnings and error reasons (the CLI's own messages are not row content)
EMITTERS = ("ingest", "interpret", "normalize", "pipeline", "readings", "statements", "batch")


def test_every_csv_column_is_documented():
    from her2extract.model import CSV_COLUMNS

    contract = (DOCS / "contract.md").read_text(encoding="utf-8")
    documented = {name for cell in re.findall(r"^\| ([^|]+)\|", contract, re.M) for name in re.findall(r"`([a-z0-9_]+)`", cell)}
    assert set(CSV_COLUMNS) <= documented, sorted(set(CSV_COLUMNS) - documented)


def test_every_warning_code_the_code_can_write_is_documented():
    contract = (DOCS / "contract.md").read_text(encoding="utf-8")
    codes = set()
    for name in EMITTERS:
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        codes |= set(re.findall(r"f?\"([a-z][a-z0-9]*(?:-[a-z0-9]+)*): ", source))
    assert {"discordant", "conflict", "form-unticked", "superseded"} <= codes  # the scan finds them
    missing = sorted(code for code in codes if f"`{code}`" not in contract)
    assert not missing, f"warning codes not in docs/contract.md: {missing}"


def test_help_and_readme_point_to_the_docs():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/contract.md" in readme and "docs/registry.md" in readme
    assert "DESIGN.md" not in readme and "DOMAIN.md" not in readme  # users of the repository have neither
    result = runner.invoke(app, ["batch", "--help"])
    assert "docs/contract.md" in " ".join(result.output.split())
