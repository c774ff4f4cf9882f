"""Property and pathological-input tests: the text pipeline is total and bounded.

Random unicode, report-like token soup, raw bytes, and hand-made worst cases (a trigger word
repeated 10^5 times, numbers with thousands of digits, deep parentheses, NUL bytes, a 1 MB
line) must each give a record or a clear UnreadableDocument, never another exception, and
finish quickly. The long-running fuzzer is fuzz/fuzz_text.py (atheris), outside CI.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from her2extract.errors import UnreadableDocument
from her2extract.ingest import read_bytes
from her2extract.model import Document, Her2Record, Page, TextSource
from her2extract.pipeline import default_matcher, extract_document
from her2extract.text import clean_text

MATCHER = default_matcher()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REPORT_WORDS = [
    "HER2", "HER-2/neu", "c-erbB-2", "ER", "PR", "PgR", "estrogen receptor", "progesterone receptor", "Ki-67",
    "FISH", "ISH", "ratio", "CEP17", "amplified", "not amplified", "equivocal", "positive", "negative",
    "3+", "2+", "1+", "0", "%", "90%", "<1%", ">95%", "1-10%", "2.2", "1,9", "score", "Allred", "strong",
    "weak", "(", ")", ":", ";", ".", ",", "\n", "\n\n", "ADDENDUM", "FINAL DIAGNOSIS:", "COMMENT:",
    "previously", "pending", "if", "not", "no", "core biopsy", "A.", "B)", "Part 2:", "breast", "gastric",
    "l+", "o", "1. 1", "\u00a0", "\x00", "\ufeff", "\u1680", "--", "|", "  ",
]


def _extract(text: str) -> Her2Record:
    return extract_document(Document("prop.txt", (Page(1, text, TextSource.TEXT),)), MATCHER)


def _check(record: Her2Record, text: str) -> None:
    assert isinstance(record, Her2Record)
    if record.status != "ok":
        assert record.error  # an error record always says why
        return
    clean = clean_text(Document("prop.txt", (Page(1, text, TextSource.TEXT),))).text
    for ev in record.evidence:
        assert 0 <= ev.start <= ev.end <= len(clean)
        assert 0 <= ev.page_start <= ev.page_end <= len(text)


@SETTINGS
@given(st.text(max_size=3000))
def test_any_unicode_gives_a_record(text):
    _check(_extract(text), text)


@SETTINGS
@given(st.lists(st.sampled_from(REPORT_WORDS), max_size=400).map(" ".join))
def test_report_like_token_soup_gives_a_record(text):
    _check(_extract(text), text)


@SETTINGS
@given(st.binary(max_size=4000))
def test_any_bytes_are_read_or_refused_with_a_reason(data):
    for name in ("x.txt", "x.pdf"):
        try:
            document = read_bytes(data, name, ocr="never")
        except UnreadableDocument as exc:
            assert exc.reason
            continue
        assert isinstance(extract_document(document, MATCHER), Her2Record)


@SETTINGS
@given(st.binary(max_size=3000))
def test_any_bytes_behind_a_pdf_header_are_read_or_refused(data):
    try:
        document = read_bytes(b"%PDF-1.4\n" + data, "x.pdf", ocr="never", max_pages=5)
    except UnreadableDocument as exc:
        assert exc.reason
        return
    assert isinstance(extract_document(document, MATCHER), Her2Record)


PATHOLOGICAL = {
    "her2_1e5": "HER2 " * 100_000,
    "her2_score_1e4": "HER2 3+ " * 10_000,
    "er_percent_1e4": "ER: 90% " * 10_000,
    "thousand_digit_numbers": ("HER2 ratio " + "9" * 5000 + ". ER " + "1" * 5000 + "%\n") * 5,
    "deep_parentheses": "(" * 50_000 + "HER2 3+" + ")" * 50_000,
    "one_huge_line": ("The specimen shows fibrocystic change and HER2 testing was considered. " * 14_000)[:1_000_000],
    "nul_bytes": "HER2\x00ER\x00PR\x00" * 20_000,
    "no_spaces": "HER2ER3+90%" * 50_000,
    "newlines": "\n" * 500_000 + "HER2 3+",
    "digits_and_spaces_1mb": ("0 1 2 3 4 5 6 7 8 9 " * 50_000),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_text_finishes_fast_with_a_record(name):
    text = PATHOLOGICAL[name]
    started = time.perf_counter()
    record = _extract(text)
    elapsed = time.perf_counter() - started
    assert isinstance(record, Her2Record) and (record.status == "ok" or record.error)
    limit = 1.0 if len(text) >= 1_000_000 else 3.0
    assert elapsed < limit, f"{name}: {elapsed:.2f} s"


def test_a_real_looking_report_of_1mb_is_not_refused_as_repetitive():
    """The repetition guard must not refuse a long but varied report (200 pages of different text)."""
    import random

    rng = random.Random(7)
    words = ["tumour", "margin", "lymph", "node", "carcinoma", "duct", "fibrosis", "cyst", "stroma", "calcification",
             "mm", "cm", "grade", "invasive", "in situ", "block", "slide", "specimen", "left", "right"]
    text = "\n".join(" ".join(rng.choice(words) + str(rng.randint(0, 999)) for _ in range(12)) for _ in range(2000))
    text += "\nER: positive (90%). HER2 (IHC): 3+.\n"
    from her2extract.pipeline import repetitive

    assert repetitive(Document("long.txt", (Page(1, text, TextSource.TEXT),))) == ""
