"""Fresh report sets, scored once before any tuning on them, kept as regression tests.

Each folder under tests/first_contact/ holds reports written by someone who had not read the
rules (fictional patients; texts, born-digital PDFs and image-only scans) and, in
expected.jsonl, every acceptable answer for the core columns, from labels by two independent
readers (see the folder's README.md for its first-contact figure). An answer may be empty
(recall is measured by benchmarks, not asserted here), but a value that is not acceptable is a
wrong value: the test fails on it. The few wrong values still known are listed in KNOWN and
marked xfail(strict), so one that gets fixed shows up too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from her2extract.export import to_row
from her2extract.ingest import ocr_available
from her2extract.pipeline import default_matcher, extract_file

HERE = Path(__file__).resolve().parent / "first_contact"

# report id -> columns still wrong, with why (a target for later work, not a pass)
KNOWN = {
    "fg22": "Tesseract loses the ruled table's FISH rows, so IHC 2+ 'equivocal' stands as the call",
}


def _cases():
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir()):
        for line in (folder / "expected.jsonl").read_text(encoding="utf-8").splitlines():
            expected = json.loads(line)
            path = next(folder.glob(expected["id"] + ".*"))
            marks = [pytest.mark.xfail(reason=KNOWN[expected["id"]], strict=True)] if expected["id"] in KNOWN else []
            yield pytest.param(path, expected, id=f"{folder.name}/{path.name}", marks=marks)


def _norm(value: str) -> str:
    """One spelling per answer: lower case, no %, numbers without trailing zeros, ranges a-b."""
    text = " ".join(str(value or "").lower().replace("%", "").split())
    if text == "unknown":  # "read, no result": the same as an empty cell here
        return ""
    text = re.sub(r"\s*(?:-|–|\bto\b)\s*(?=\d)", "-", text)
    text = re.sub(r"(?<=[<>])\s+", "", text)

    def plain(m: re.Match) -> str:
        return f"{float(m.group(0)):g}"

    return re.sub(r"\d+(?:\.\d+)?", plain, text) if re.fullmatch(r"[<>]?=?[\d.\-\s]+", text) else text


@pytest.fixture(scope="module")
def matcher():
    return default_matcher()


@pytest.mark.parametrize("path,expected", list(_cases()))
def test_no_wrong_value(path, expected, matcher):
    if path.suffix == ".pdf" and not ocr_available():
        pytest.skip("Tesseract is not installed (scripts/test installs it)")
    row = to_row(extract_file(path, matcher=matcher, ocr="auto"))
    wrong = {}
    for column, acceptable in expected.items():
        if column == "id":
            continue
        answer = _norm(row[column])
        if answer and answer not in {_norm(a) for a in acceptable}:
            wrong[column] = (row[column], acceptable)
    assert not wrong, f"wrong values: {wrong}"


def test_every_set_has_its_first_contact_figure():
    for folder in (p for p in HERE.iterdir() if p.is_dir()):
        readme = (folder / "README.md").read_text(encoding="utf-8")
        assert "first contact" in readme.lower() and "precision" in readme
