"""Two readings of a scanned page: which pages are read again, and what happens when they disagree."""

from __future__ import annotations

import dataclasses

from her2extract.model import Document, Doubt, Evidence, Her2Record, IhcScore, Page, Percent, Status, TextSource
from her2extract.pipeline import default_matcher, pages_to_reread
from her2extract.readings import compare

PAGES = frozenset({2})


def _ev(field: str, text: str, page: int = 2) -> Evidence:
    return Evidence(field=field, rule_id="t", text=text, start=0, end=len(text), page=page, page_start=0,
                    page_end=len(text))


def _doc(page2: str) -> Document:
    return Document("r.pdf", (Page(1, "Gross: breast.", TextSource.PDF, True), Page(2, page2, TextSource.PDF, True)))


FIRST = Her2Record(source="r.pdf", er_reported=Status.POSITIVE, er_percent=Percent(90.0),
                   evidence=(_ev("er_reported", "positive"), _ev("er_percent", "90%")))
FIRST_DOC = _doc("ER: positive, 90%. HER2: see below")


def test_the_image_reading_that_fills_more_wins_with_a_note():
    second = dataclasses.replace(FIRST, her2_ihc_score=IhcScore.THREE,
                                 evidence=FIRST.evidence + (_ev("her2_ihc_score", "3+"),))
    verdict = compare(FIRST, second, FIRST_DOC, _doc("ER: positive, 90%. HER2: 3+"), PAGES)
    assert verdict.second and not verdict.abstain
    assert verdict.note.startswith("ocr-reread: page(s) 2 read from the page image")


def test_the_same_characters_paired_with_another_label_go_to_the_positional_reading():
    first = Her2Record(source="r.pdf", er_reported=Status.NEGATIVE, er_percent=Percent(1.0, None, "<"),
                       evidence=(_ev("er_reported", "Negative"), _ev("er_percent", "less than 1%")))
    second = Her2Record(source="r.pdf", er_reported=Status.POSITIVE, er_percent=Percent(100.0),
                        evidence=(_ev("er_reported", "POSITIVE"), _ev("er_percent", "100%")))
    stream = _doc("RECEPTORS: POSITIVE (100% cells)\nEstrogen receptors: Negative (less than 1% cells)")
    image = _doc("RECEPTORS:\nEstrogen receptors: POSITIVE (100% cells)\nProgesterone receptors: Negative (less than 1% cells)")
    verdict = compare(first, second, stream, image, PAGES)
    assert verdict.second and not verdict.abstain


def test_a_value_read_as_different_characters_is_left_empty_naming_both():
    second = dataclasses.replace(FIRST, er_percent=Percent(30.0),
                                 evidence=(_ev("er_reported", "positive"), _ev("er_percent", "30%")))
    verdict = compare(FIRST, second, FIRST_DOC, _doc("ER: positive, 30%. HER2: see below"), PAGES)
    doubt, warning = verdict.abstain["er_percent"]
    assert warning.startswith("conflict: ER percent: the text layer reads 90 and the page image (OCR) reads 30, left empty")
    assert doubt.code == "reading" and doubt.marker == "er" and len(doubt.evidence) == 2


def test_an_error_reading_loses():
    verdict = compare(FIRST, Her2Record(source="r.pdf", status="error", error="OCR failed"), FIRST_DOC, FIRST_DOC,
                      PAGES)
    assert not verdict.second and not verdict.abstain


def test_the_image_may_not_fill_a_marker_the_text_layer_shows_as_an_unmarked_form():
    first = dataclasses.replace(FIRST, doubts=(Doubt("her2", "form-unticked", "unmarked"),))
    second = dataclasses.replace(first, her2_reported=Status.NEGATIVE,
                                 evidence=FIRST.evidence + (_ev("her2_reported", "Negative"),))
    verdict = compare(first, second, FIRST_DOC, _doc("Her-2/neu [Negative aPositve"), PAGES)
    assert not verdict.second


def test_scanned_pages_naming_a_marker_are_read_again_and_born_digital_pages_never():
    document = Document("r.pdf", (
        Page(1, "Gross description: a 3 cm mass of the left breast.", TextSource.PDF, True),
        Page(2, "HER2/neu (HercepTest): FOS!T!VE", TextSource.PDF),
        Page(3, "HER2 by FISH: see page 2", TextSource.OCR, True),
        Page(4, "ESTROGEN RECEPTOR: POSITIVE, 90%", TextSource.PDF),
        Page(5, "ESTROGEN RECEPTOR: POSITIVE, 90%", TextSource.PDF, True),
    ))
    assert pages_to_reread(document, default_matcher()) == frozenset({5})
