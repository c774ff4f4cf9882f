"""Text cleaning, the offset map back to pages, and section detection."""

from __future__ import annotations

import random
import re
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from her2extract import text as text_module
from her2extract.model import Document, Page, TextSource
from her2extract.text import clean_string, clean_text

# --- clean_string ----------------------------------------------------------------------------

CLEAN = [
    ("HER2 2 +", "HER2 2+"),
    ("HER2/neu 3  + (positive)", "HER2/neu 3+ (positive)"),
    ("Allred 5 + 3 = 8", "Allred 5 + 3 = 8"),
    ("Allred 2 + 3 = 5", "Allred 2 + 3 = 5"),
    ("Estrogen recep-\ntor positive", "Estrogen receptor positive"),
    ("the \ufb01nal diagnosis", "the final diagnosis"),
    ("ratio \u2265 2.0", "ratio >= 2.0"),
    ("ER \u2264 1 %", "ER <= 1 %"),
    ("Ki-67 \u2013 20 %", "Ki-67 - 20 %"),
    ("ER:\u00a0positive", "ER: positive"),
    ("a    b\t\tc", "a b c"),
    ("line one   \n   line two", "line one\nline two"),
    ("x\r\ny", "x\ny"),
    ("a\n\n\n\n\nb", "a\n\nb"),
]


@pytest.mark.parametrize(("raw", "expected"), CLEAN, ids=[repr(r) for r, _ in CLEAN])
def test_clean_string(raw, expected):
    assert clean_string(raw).text == expected


def test_clean_string_joins_split_score_but_not_sums():
    assert "2+" in clean_string("HER2 2 +").text
    assert clean_string("5 + 3").text == "5 + 3"


def test_clean_string_keeps_ordinary_hyphens():
    assert clean_string("HER-2/neu and c-erbB-2").text == "HER-2/neu and c-erbB-2"
    assert clean_string("ER 1-10% cells").text == "ER 1-10% cells"


def test_clean_string_index_maps_every_character():
    raw = "Estrogen recep-\ntor: \ufb01ne  2 + \u2265 10%"
    clean = clean_string(raw)
    assert len(clean.index) == len(clean.text)
    assert list(clean.index) == sorted(clean.index)
    assert all(0 <= i < len(raw) for i in clean.index)


# --- the offset map across pages ------------------------------------------------------------

PAGE_ONE = (
    "FINAL DIAGNOSIS:\r\n"
    "Invasive  ductal carcinoma, grade 2.\tEstrogen recep-\ntor: positive (\u2265 90 %), strong.\n"
    "HER2 (IHC): 2 + equivocal; Allred 5 + 3 = 8.   \n\n\n\n"
    "The \ufb01nal   call \u2014 pending.   \n"
    "   Progesterone receptor:\u00a0negative (< 1 %).\n"
    "ENDPAGEONE"
)
PAGE_TWO = (
    "STARTPAGETWO\n"
    "   ADDENDUM:\u00a0HER2/CEP17 ratio 2,3; HER2 2 + (equivocal).\f"
    "Ki-67 \u2013 20 %\n"
    "Oestrogen  recep-\ntor  \u2264 1 %.\n"
)


@pytest.fixture(scope="module")
def two_pages():
    document = Document("two-pages.pdf", (Page(1, PAGE_ONE, TextSource.PDF), Page(2, PAGE_TWO, TextSource.PDF)))
    return document, clean_text(document)


def _word_spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\S+", text) if lo <= m.start() and m.end() <= hi]


def test_clean_text_joins_pages_in_order(two_pages):
    _, clean = two_pages
    assert clean.text.index("ENDPAGEONE") < clean.text.index("STARTPAGETWO")
    assert "receptor: positive (>= 90 %)" in clean.text
    assert "HER2 2+ (equivocal)" in clean.text
    assert clean.page_starts[0] == 0
    assert clean.original[clean.page_starts[1]:].startswith("STARTPAGETWO")


def test_locate_random_word_spans_round_trip(two_pages):
    document, clean = two_pages
    text = clean.text
    end_one = text.index("ENDPAGEONE") + len("ENDPAGEONE")
    start_two = text.index("STARTPAGETWO")
    pages = {1: _word_spans(text, 0, end_one), 2: _word_spans(text, start_two, len(text))}
    rnd = random.Random(7)
    checked = 0
    for _ in range(400):
        number = rnd.choice((1, 2))
        words = pages[number]
        i = rnd.randrange(len(words))
        j = rnd.randrange(i, min(len(words), i + 8))
        start, end = words[i][0], words[j][1]
        page, p_start, p_end = clean.locate(start, end)
        assert page == number, (text[start:end], page)
        original = document.pages[page - 1].text
        assert 0 <= p_start < p_end <= len(original)
        assert clean_string(original[p_start:p_end]).text == text[start:end], (
            text[start:end], original[p_start:p_end])
        checked += 1
    assert checked == 400


@pytest.mark.parametrize(("needle", "page", "original"), [
    ("receptor:", 1, "recep-\ntor:"),
    ("(>=", 1, "(\u2265"),
    ("2+", 1, "2 +"),
    ("final", 1, "\ufb01nal"),
    ("ADDENDUM: HER2/CEP17", 2, "ADDENDUM:\u00a0HER2/CEP17"),
    ("Ki-67 - 20 %", 2, "Ki-67 \u2013 20 %"),
    ("Oestrogen receptor <=", 2, "Oestrogen  recep-\ntor  \u2264"),
])
def test_locate_known_spans(two_pages, needle, page, original):
    document, clean = two_pages
    start = clean.text.index(needle)
    got_page, p_start, p_end = clean.locate(start, start + len(needle))
    assert got_page == page
    assert document.pages[page - 1].text[p_start:p_end] == original


# --- sections ----------------------------------------------------------------------------------

REPORT = (
    "CLINICAL HISTORY:\n"
    "Left breast mass, core biopsy.\n\n"
    "FINAL DIAGNOSIS:\n"
    "A. Breast, left, core biopsy: invasive ductal carcinoma, grade 2.\n"
    "HER2 (IHC): 2+ (equivocal). FISH to follow.\n\n"
    "ADDENDUM:\n"
    "HER2 FISH: not amplified, ratio 1.3.\n"
)


def test_sections_found_at_their_headings(matcher):
    text = clean_string(REPORT).text
    sections = matcher.sections(text)
    assert [s.kind for s in sections] == ["history", "diagnosis", "addendum"]
    for section, heading in zip(sections, ("CLINICAL HISTORY", "FINAL DIAGNOSIS", "ADDENDUM")):
        assert section.start == text.index(heading)
        assert section.heading.startswith(heading)
    # a history section ends with its paragraph; nothing but white space lies between
    assert sections[0].end <= sections[1].start
    assert not text[sections[0].end:sections[1].start].strip()
    assert sections[1].end == sections[2].start
    assert sections[2].end == len(text)


def test_sections_cover_their_body_text(matcher):
    text = clean_string(REPORT).text
    sections = matcher.sections(text)

    def kind_at(offset: int) -> str:
        return next(s.kind for s in sections if s.start <= offset < s.end)

    assert kind_at(text.index("Left breast mass")) == "history"
    assert kind_at(text.index("HER2 (IHC)")) == "diagnosis"
    assert kind_at(text.index("not amplified")) == "addendum"


def test_sections_ignore_words_inside_sentences(matcher):
    text = "The diagnosis of carcinoma is confirmed; results will be reported in an addendum."
    assert matcher.sections(text) == []


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("HER2 P0SITIVE", "HER2 POSITIVE"),
        ("immun0histochemistry", "immunohistochemistry"),
        ("HER2:CEP17 rati0 2.1", "HER2:CEP17 ratio 2.1"),
        ("pN0 (0/3)", "pN0 (0/3)"),  # a stage, not a word
        ("clone A0485", "clone A0485"),
        ("HER2 score 0.", "HER2 score 0."),
    ],
)
def test_clean_string_repairs_ocr_zero_for_letter_o(raw, cleaned):
    assert clean_string(raw).text == cleaned


@pytest.mark.parametrize("raw, cleaned", [("Summary: 0esophagus, distal", "Summary: oesophagus, distal"),
                                          ("100% 0F TUMOR CELLS", "100% OF TUMOR CELLS"),
                                          ("ypT0 N0", "ypT0 N0")])
def test_clean_string_repairs_ocr_zero_at_a_word_start(raw, cleaned):
    assert clean_string(raw).text == cleaned


def test_page_furniture_is_dropped_but_a_repeated_result_is_kept():
    from her2extract.model import Document, Page, TextSource

    header = "Anytown Medical Center - Surgical Pathology"
    pages = (
        Page(1, f"{header}\nFINAL DIAGNOSIS: invasive carcinoma, the tumour\nER: positive (90%)\nPage 1 of 2\n", TextSource.PDF),
        Page(2, f"{header}\nmeasures 2.1 cm.\nER: positive (90%)\nPage 2 of 2\n", TextSource.PDF),
    )
    clean = clean_text(Document("x.pdf", pages))
    assert header not in clean.text
    assert "Page 1 of 2" not in clean.text and "Page 2 of 2" not in clean.text
    assert clean.text.count("ER: positive (90%)") == 2  # a result is never furniture
    start = clean.text.index("measures")
    page, p_start, _ = clean.locate(start, start + 8)
    assert page == 2 and pages[1].text[p_start:p_start + 8] == "measures"


@pytest.mark.parametrize("raw, cleaned", [("THEREFORE, 7O%) AND", "THEREFORE, 70%) AND"), ("ER l0% weak", "ER 10% weak"),
                                          ("Block A1O", "Block A1O"), ("HER2/CEP17 ratio 1.4", "HER2/CEP17 ratio 1.4")])
def test_clean_string_repairs_letters_read_for_digits_in_percents(raw, cleaned):
    assert clean_string(raw).text == cleaned



# Texts rich in what the repairs and their gates look at: digits (one from another script),
# O/o/l/I, spaces, line breaks, plus and percent signs, dashes, "page".
_REPAIR_ALPHABET = "0123 9OolIxX+%-.,\n\t\u0663"
_REPAIR_PIECES = [*_REPAIR_ALPHABET, "page", "PAGE", "  ", " \n", "of"]
# short texts, so that a gate string found by chance elsewhere does not hide a missing one
_short_texts = st.lists(st.sampled_from(_REPAIR_PIECES), max_size=8).map("".join)
_repair_texts = st.lists(st.sampled_from(_REPAIR_PIECES), max_size=60).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_short_texts)
def test_repair_gates_never_skip_a_repair_that_would_match(raw):
    shape = text_module._OcrShape()
    for pattern, _, needs, shapes in text_module._REPAIRS:
        if pattern.search(raw):
            assert text_module._gate(raw, needs, shapes, shape), pattern.pattern
    if text_module._PAGE_LINE.search(raw):
        assert text_module._may_hold_page_line(raw)


@settings(max_examples=300, deadline=None)
@given(_repair_texts)
def test_gated_cleaning_equals_running_every_repair(raw):
    clean = clean_string(raw)
    with mock.patch.object(text_module, "_gate", return_value=True), \
            mock.patch.object(text_module, "_may_hold_page_line", return_value=True):
        every = clean_string(raw)  # every repair run
    assert (clean.text, clean.index) == (every.text, every.index)


def test_repair_gates_skip_a_text_with_nothing_to_repair():
    shape = text_module._OcrShape()
    plain = "ER positive 90%\nHER2 3+\nKi-67 20%"
    skipped = [p.pattern for p, _, needs, shapes in text_module._REPAIRS
               if not text_module._gate(plain, needs, shapes, shape)]
    assert len(skipped) == 8  # all but the two "0"-gated ones
    assert not text_module._may_hold_page_line(plain)  # "Ki-67:" is no "- 67 -"


@pytest.mark.parametrize("line", ["- 3 -", "-12  -", "  Page 2 of 5", "PAGE 1/2", "** Continued on next page **"])
def test_page_line_gate_lets_every_page_line_through(line):
    text = f"HER2 3+\n{line}\nER 90%"
    assert text_module._PAGE_LINE.search(text)
    assert text_module._may_hold_page_line(text)


# --- flattened label/value tables --------------------------------------------------------

FLATTENED = (
    "SYNOPTIC SUMMARY\nT STAGE, PATHOLOGIC:\nN STAGE, PATHOLOGIC:\nESTROGEN RECEPTORS:\n"
    "PROGESTERONE RECEPTORS:\nHER2/NEU:\nOther: N/A\npT1c\npositive\nnegative\n2+\nmm\nSigned: Dr. X"
)


def test_flattened_label_column_gets_its_values_back():
    clean = clean_string(FLATTENED)
    lines = clean.text.splitlines()
    assert "T STAGE, PATHOLOGIC: Other: N/A" in lines
    assert "ESTROGEN RECEPTORS: positive" in lines
    assert "PROGESTERONE RECEPTORS: negative" in lines
    assert "HER2/NEU: 2+" in lines
    assert lines[-2:] == ["mm", "Signed: Dr. X"]  # lines after the table stay where they were


def test_rejoined_values_still_point_at_their_original_characters():
    clean = clean_string(FLATTENED)
    at = clean.text.index("HER2/NEU: 2+") + len("HER2/NEU: ")
    page, start, end = clean.locate(at, at + 2)
    assert FLATTENED[start:end] == "2+"
    # a span across a moved line maps to an ordered range that holds both pieces
    label = clean.text.index("HER2/NEU: 2+")
    page, start, end = clean.locate(label, at + 2)
    assert start < end and "HER2/NEU:" in FLATTENED[start:end] and "2+" in FLATTENED[start:end]


@pytest.mark.parametrize("text", [
    # three labels only: could be headings
    "DIAGNOSIS:\nCOMMENT:\nNOTE:\npositive\nnegative\n2+",
    # fewer value lines than labels before the next label
    "A STAGE:\nB STAGE:\nER:\nPR:\npositive\nnegative\nHER2:",
    # a value line too long to be a table cell
    "A STAGE:\nB STAGE:\nER:\nPR:\npT2\npN0\npositive in most of the tumour cells, strong\nnegative",
])
def test_label_runs_that_are_not_flattened_tables_stay_as_they_are(text):
    assert clean_string(text).text == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab 1\n\t\r\f\v\u00a0\u2013\u2265\u00ad\ufb01\u00b5\u212b\u00e9x%")), max_size=60))
def test_translate_with_a_changing_pattern_equals_asking_every_character(text):
    """Copying the stretches `_CHANGING` does not match gives what converting each character
    one by one gives, text and offset map alike."""
    from her2extract.text import _CHANGING, MappedText, _convert_char

    fast = MappedText(text).translate(_convert_char, _CHANGING)
    slow = MappedText(text).translate(_convert_char)
    assert (fast.text, fast.index) == (slow.text, slow.index)


def test_convert_char_changes_only_what_changing_matches():
    from her2extract.text import _CHANGING, _CHAR_MAP, _convert_char

    unchanged = [chr(c) for c in range(0x3000) if not _CHANGING.fullmatch(chr(c))]
    assert unchanged and all(_convert_char(ch) == ch for ch in unchanged)
    assert all(_CHANGING.fullmatch(ch) for ch in _CHAR_MAP)
