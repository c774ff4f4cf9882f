"""The `her2extract` command, in process with typer's CliRunner (plus one installed-script check)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fpdf import FPDF
from typer.testing import CliRunner

from her2extract.cli import app
from her2extract.model import CSV_COLUMNS

runner = CliRunner()

REPORT = (
    "FINAL DIAGNOSIS:\n"
    "Breast, left, core biopsy: invasive ductal carcinoma.\n"
    "Estrogen receptor: 95%, strong.\n"
    "HER2 (IHC): 3+\n"
)


def _text_report(folder: Path, name: str = "good.txt", text: str = REPORT) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _two_page_pdf(path: Path) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(w=0, text="Surgical pathology report.\nBreast, right, excision: invasive carcinoma.")
    pdf.add_page()
    pdf.multi_cell(w=0, text="BIOMARKERS:\nHER2 (IHC): 3+\nEstrogen receptor: 95%")
    pdf.output(str(path))
    return path


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


# --- extract ---------------------------------------------------------------------------------

def test_extract_prints_values_and_pages(tmp_path):
    path = _text_report(tmp_path)
    result = runner.invoke(app, ["extract", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    her2 = [line for line in lines if "HER2 IHC score" in line]
    assert her2 and "3+" in her2[0] and "page 1" in her2[0]
    assert any("ER %" in line and "95" in line and "page 1" in line for line in lines)


def test_extract_shows_the_page_a_value_came_from(tmp_path):
    path = _two_page_pdf(tmp_path / "two.pdf")
    result = runner.invoke(app, ["extract", str(path)])
    assert result.exit_code == 0, result.output
    her2 = [line for line in result.stdout.splitlines() if "HER2 IHC score" in line]
    assert her2 and "3+" in her2[0] and "page 2" in her2[0]
    assert "2 page(s)" in result.stdout


def test_extract_json_is_valid_with_evidence(tmp_path):
    path = _two_page_pdf(tmp_path / "two.pdf")
    result = runner.invoke(app, ["extract", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(CSV_COLUMNS) <= set(data)
    assert data["her2_ihc_score"] == "3+"
    assert isinstance(data["evidence"], dict)
    ev = data["evidence"]["her2_ihc_score"]
    assert ev["page"] == 2
    assert "3+" in ev["text"]
    assert ev["assertion"] == "present"
    assert isinstance(data["results"], list) and data["results"]


def test_extract_unreadable_file_exits_1(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n this is not really a pdf")
    result = runner.invoke(app, ["extract", str(bad)])
    assert result.exit_code == 1
    assert "broken.pdf" in result.stderr and "corrupt" in result.stderr.lower()


def test_extract_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["extract", str(tmp_path / "absent.txt")])
    assert result.exit_code == 2


# --- batch -----------------------------------------------------------------------------------

def test_batch_writes_one_row_per_file_with_contract_columns(tmp_path, samples):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _text_report(inputs, "a-good.txt")
    shutil.copy(samples / "gej-biopsy-her2-3plus.txt", inputs / "b-sample.txt")
    nested = inputs / "nested"
    nested.mkdir()
    _two_page_pdf(nested / "c-two.pdf")
    (inputs / "notes.md").write_text("not a report", encoding="utf-8")
    out, jsonl = tmp_path / "out.csv", tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--jsonl", str(jsonl), "--quiet"])
    assert result.exit_code == 0, result.output
    header, rows = _read_csv(out)
    assert header == list(CSV_COLUMNS)
    assert len(rows) == 3
    assert sorted(Path(r["source"]).name for r in rows) == ["a-good.txt", "b-sample.txt", "c-two.pdf"]
    assert all(r["status"] == "ok" and r["error"] == "" for r in rows)
    by_name = {Path(r["source"]).name: r for r in rows}
    assert by_name["a-good.txt"]["her2_ihc_score"] == "3+"
    assert by_name["c-two.pdf"]["pages"] == "2"
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    for line in lines:
        record = json.loads(line)
        assert isinstance(record["evidence"], dict)
        assert list(record)[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)


def test_batch_keeps_going_after_a_bad_file(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _text_report(inputs, "good.txt")
    (inputs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--quiet"])
    assert result.exit_code == 1
    header, rows = _read_csv(out)
    assert header == list(CSV_COLUMNS)
    by_name = {Path(r["source"]).name: r for r in rows}
    assert set(by_name) == {"good.txt", "corrupt.pdf"}
    assert by_name["good.txt"]["status"] == "ok"
    assert by_name["good.txt"]["her2_ihc_score"] == "3+"
    assert by_name["corrupt.pdf"]["status"] == "error"
    assert by_name["corrupt.pdf"]["error"].strip()
    assert "corrupt.pdf" in result.stderr


def test_batch_survives_a_regex_time_out(tmp_path):
    # A user's rule with catastrophic backtracking times out (regex timeout 1 s) on one file:
    # that file may fail, but the other files' rows must still be written (DESIGN.md "Bad input").
    inputs = tmp_path / "in"
    inputs.mkdir()
    _text_report(inputs, "good.txt")
    _text_report(inputs, "slow.txt", "HER2 " + "a" * 40 + "!\n")
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "local.toml").write_text(
        '[[rules]]\nid = "local.backtracking"\n'
        "pattern = '(?i)HER2 (?:a|aa)+(?P<her2_ihc_score>[0-3]\\+)'\n"
        'examples = ["HER2 aa3+"]\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--patterns", str(patterns), "--quiet"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1)
    _, rows = _read_csv(out)
    by_name = {Path(r["source"]).name: r for r in rows}
    assert set(by_name) == {"good.txt", "slow.txt"}
    assert by_name["good.txt"]["her2_ihc_score"] == "3+"
    assert by_name["slow.txt"]["status"] == "ok" or by_name["slow.txt"]["error"].strip()


def test_batch_reads_a_file_named_twice_once(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    report = _text_report(inputs)
    _text_report(inputs, "other.txt")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["batch", str(inputs), str(report), str(report), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    _, rows = _read_csv(out)
    assert sorted(r["source"] for r in rows) == sorted([str(report), str(inputs / "other.txt")])


def test_batch_without_output_is_a_usage_error(tmp_path):
    _text_report(tmp_path)
    result = runner.invoke(app, ["batch", str(tmp_path)])
    assert result.exit_code == 2


def test_batch_with_bad_pattern_dir_exits_2(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _text_report(inputs)
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "local.toml").write_text(
        '[[rules]]\nid = "local.bad"\npattern = \'(?i)HER2 (?P<her2_ihc_score>[0-3]\'\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--patterns", str(patterns)])
    assert result.exit_code == 2
    assert "local.toml" in result.stderr and "local.bad" in result.stderr
    assert not out.exists()


def test_batch_resume_in_another_format_exits_2_and_keeps_the_earlier_output(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _text_report(inputs)
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["batch", str(inputs), "-o", str(out), "-q"]).exit_code == 0
    before = out.read_bytes()
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "-q", "--format", "naaccr", "--resume"])
    assert result.exit_code == 2
    assert "cannot resume" in result.stderr and "--format" in result.stderr
    assert out.read_bytes() == before


def test_extract_with_missing_pattern_dir_exits_2(tmp_path):
    path = _text_report(tmp_path)
    result = runner.invoke(app, ["extract", str(path), "--patterns", str(tmp_path / "nowhere")])
    assert result.exit_code == 2


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert result.exit_code in (0, 2)
    assert "extract" in result.output and "batch" in result.output


# --- the installed console script (one subprocess) -------------------------------------------

def test_installed_script_help():
    script = shutil.which("her2extract") or str(Path(sys.executable).with_name("her2extract"))
    command = [script, "--help"] if Path(script).exists() else [sys.executable, "-m", "her2extract", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "batch" in done.stdout and "extract" in done.stdout


@pytest.fixture(autouse=True)
def _no_pattern_cache_leak():
    # default_matcher is cached per --patterns value; keep tests independent of each other
    from her2extract.pipeline import default_matcher

    yield
    default_matcher.cache_clear()


def test_folders_give_their_report_files_in_path_order(tmp_path):
    """Folders are walked recursively for .pdf/.txt files (any case), in the order Path objects
    sort in (part by part, so "a/z.txt" before "a-b/x.txt"), not into links to folders; a file
    named on the command line is taken as it is."""
    from her2extract.cli import iter_inputs

    for name in ("a/z.txt", "a-b/x.txt", "a/deep/y.PDF", "b.txt", "notes.md", "a/.hidden.txt"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "linked.txt").write_text("x")
    (tmp_path / "in" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "in" / "named.md").write_text("x")
    found = list(iter_inputs([tmp_path / "in", tmp_path / "in" / "named.md"]))
    assert all(isinstance(f, str) for f in found)
    assert [Path(f).relative_to(tmp_path / "in").as_posix() for f in found] == [
        "a/.hidden.txt", "a/deep/y.PDF", "a/z.txt", "a-b/x.txt", "b.txt", "named.md"]
    assert found[:-1] == [str(p) for p in sorted(
        p for p in (tmp_path / "in").rglob("*") if p.is_file() and p.suffix.lower() in {".txt", ".pdf"})]
