"""The second reading with OCR: which pages are read again, and when the OCR reading wins."""

from __future__ import annotations

import dataclasses

import pytest

from her2extract.model import Document, Her2Record, IhcScore, Page, Percent, Status, TextSource
from her2extract.pipeline import better_reading, default_matcher, pages_to_reread

FIRST = Her2Record(source="r.pdf", er_status=Status.POSITIVE, er_percent=Percent(90.0))
PAGES = frozenset({2})


def _with(record: Her2Record, **fields) -> Her2Record:
    return dataclasses.replace(record, **fields)


def test_ocr_reading_that_fills_more_and_agrees_wins_with_a_warning():
    second = _with(FIRST, her2_ihc_score=IhcScore.THREE, her2_status=Status.POSITIVE)
    chosen = better_reading(FIRST, second, PAGES)
    assert chosen.her2_status is Status.POSITIVE
    assert any(w.startswith("ocr-reread: page(s) 2 ") for w in chosen.warnings)


@pytest.mark.parametrize("second", [
    # contradicts a value the text layer gave: keep the text layer's reading
    _with(FIRST, er_percent=Percent(70.0), her2_status=Status.POSITIVE),
    _with(FIRST, er_status=Status.NEGATIVE, er_percent=None, her2_status=Status.NEGATIVE),
    # fills nothing new
    FIRST,
    _with(FIRST, her2_status=Status.PENDING),
    # an error row
    Her2Record(source="r.pdf", status="error", error="OCR failed"),
])
def test_ocr_reading_that_contradicts_or_adds_nothing_loses(second):
    assert better_reading(FIRST, second, PAGES) is FIRST


def test_a_pending_result_may_be_answered_by_the_ocr_reading():
    first = _with(FIRST, her2_status=Status.PENDING)
    second = _with(FIRST, her2_ihc_score=IhcScore.THREE, her2_status=Status.POSITIVE)
    assert better_reading(first, second, PAGES).her2_status is Status.POSITIVE


def test_only_text_layer_pages_naming_an_open_marker_are_read_again():
    document = Document("r.pdf", (
        Page(1, "Gross description: a 3 cm mass of the left breast.", TextSource.PDF),
        Page(2, "HER2/neu (HercepTest): FOS!T!VE", TextSource.PDF),
        Page(3, "HER2 by FISH: see page 2", TextSource.OCR),
        Page(4, "ESTROGEN RECEPTOR: POSITIVE, 90%", TextSource.PDF),
    ))
    matcher = default_matcher()
    assert pages_to_reread(document, FIRST, matcher) == frozenset({2})
    done = _with(FIRST, her2_status=Status.NEGATIVE, pr_status=Status.NEGATIVE)
    assert pages_to_reread(document, done, matcher) == frozenset()
