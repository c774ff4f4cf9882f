"""Reading files into pages: text encodings, PDFs, and every kind of unreadable input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fpdf import FPDF

from her2extract.errors import UnreadableDocument
from her2extract.ingest import read_bytes, read_document
from her2extract.model import TextSource

from conftest import scanned_pdf

# --- text encodings --------------------------------------------------------------------------

ENCODED = [
    ("utf-8", "ER \u2265 90 %, Ki-67 \u2013 20 %, \u00b5m", "utf-8"),
    ("utf-8-bom", "Oestrog\u00e8ne: positif \u2265 90 %", "utf-8-sig"),
    ("cp1252", "Ki-67 \u2013 20 % \u2014 \u201cstrong\u201d", "cp1252"),
    ("latin-1", "Östrogenrezeptor: positiv, 80 % \u00b1 5, Gr\u00f6\u00dfe 2 cm", "latin-1"),
    ("utf-16-bom", "HER2 \u2265 2.0, Ki-67 \u2013 20 %", "utf-16"),
    ("utf-16-be-bom", "HER2 (IHC): 3+ \u2013 positive", "utf-16-be"),
]


@pytest.mark.parametrize(("name", "text", "encoding"), ENCODED, ids=[e[0] for e in ENCODED])
def test_read_document_decodes_text(tmp_path, name, text, encoding):
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "report.txt"
    path.write_bytes(data)
    document = read_document(path)
    assert len(document.pages) == 1
    page = document.pages[0]
    assert page.number == 1
    assert page.source is TextSource.TEXT
    assert page.text.lstrip("\ufeff") == text
    assert document.text_source is TextSource.TEXT
    assert document.source == str(path)


def test_read_bytes_decides_by_content_not_name(samples):
    pdf = next(p for p in sorted(samples.glob("*.pdf")))
    document = read_bytes(pdf.read_bytes(), "renamed.txt")
    assert document.text_source is TextSource.PDF


# --- unreadable inputs -----------------------------------------------------------------------

def _sample_pdf(samples: Path) -> Path:
    return sorted(samples.glob("*.pdf"))[0]


def _pdf_pages(path: Path, count: int) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(1, count + 1):
        pdf.add_page()
        pdf.cell(text=f"Page {number}: HER2 (IHC) score 1+, estrogen receptor positive.")
    pdf.output(str(path))
    return path


def _encrypted_pdf(path: Path) -> Path:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="user-secret")
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="HER2 (IHC): 3+")
    pdf.output(str(path))
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# case -> (build the file in a folder, read_document options, words the reason must contain)
BAD_INPUTS = {
    "zero-byte": (lambda d, s: _write(d / "empty.txt", b""), {}, ("empty",)),
    "pdf-name-not-pdf": (
        lambda d, s: _write(d / "fake.pdf", b"ER positive, PR negative, HER2 1+\n"), {}, ("not a pdf",)),
    "truncated-pdf": (
        lambda d, s: _write(d / "truncated.pdf", _sample_pdf(s).read_bytes()[:300]), {}, ("corrupt",)),
    "encrypted-pdf": (lambda d, s: _encrypted_pdf(d / "locked.pdf"), {}, ("encrypted", "password")),
    "random-bytes": (lambda d, s: _write(d / "noise.txt", random.Random(3).randbytes(6000)), {}, ("binary",)),
    # no NUL byte, but mostly control characters
    "control-bytes": (lambda d, s: _write(d / "controls.txt", bytes(range(1, 256)) * 20), {}, ("binary",)),
    "over-max-bytes": (
        lambda d, s: _write(d / "big.txt", b"ER positive (90%). " * 200), {"max_bytes": 1000}, ("too large",)),
    "over-max-pages": (lambda d, s: _pdf_pages(d / "long.pdf", 4), {"max_pages": 3}, ("4 pages", "limit 3")),
    "whitespace-only": (lambda d, s: _write(d / "blank.txt", b"   \n\n\t  \n"), {}, ("no text",)),
    "missing": (lambda d, s: d / "no-such-file.txt", {}, ("cannot open",)),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_read_document_rejects_unreadable(tmp_path, samples, case):
    build, options, words = BAD_INPUTS[case]
    path = build(tmp_path, samples)
    with pytest.raises(UnreadableDocument) as info:
        read_document(path, **options)
    reason = info.value.reason
    assert reason and "\n" not in reason
    assert all(word.lower() in reason.lower() for word in words), reason
    assert info.value.source == str(path)


def test_read_document_accepts_pdf_at_the_page_limit(tmp_path):
    path = _pdf_pages(tmp_path / "three.pdf", 3)
    document = read_document(path, max_pages=3)
    assert [p.number for p in document.pages] == [1, 2, 3]
    assert all("Page" in p.text for p in document.pages)


# --- PDFs ------------------------------------------------------------------------------------

def test_pdf_page_without_text_is_a_warning_not_an_error(tmp_path):
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="Page one: estrogen receptor positive (90%), HER2 (IHC) score 1+.")
    pdf.add_page()
    pdf.rect(20, 20, 80, 40)  # a scanned page would look like this: no text layer
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    document = read_document(path)
    assert [p.number for p in document.pages] == [1, 2]
    assert document.pages[0].source is TextSource.PDF
    assert document.pages[1].source is TextSource.NONE
    assert any(w.startswith("no-text-layer") and "page 2" in w for w in document.warnings)
    assert not any("page 1" in w for w in document.warnings)


def test_pdf_with_only_a_drawing_reads_as_no_text(tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    path = tmp_path / "drawing.pdf"
    pdf.output(str(path))
    document = read_document(path)
    assert len(document.pages) == 1
    assert document.pages[0].source is TextSource.NONE
    # the CSV's text_source keeps to the DESIGN.md values: still a PDF, and the warning says why it is empty
    assert document.text_source is TextSource.PDF
    assert any(w.startswith("no-text-layer") for w in document.warnings)


def test_multi_page_sample_pdf_keeps_page_numbers(samples):
    path = samples / "multi-page-mastectomy-fish-group3.pdf"
    document = read_document(path)
    assert len(document.pages) >= 2
    assert [p.number for p in document.pages] == list(range(1, len(document.pages) + 1))
    assert all(p.source is TextSource.PDF and p.text.strip() for p in document.pages)
    assert len({p.text for p in document.pages}) == len(document.pages)


def test_generated_pdf_text_lands_on_its_page(tmp_path):
    document = read_document(_pdf_pages(tmp_path / "pages.pdf", 3))
    for page in document.pages:
        assert f"Page {page.number}:" in page.text
        others = [n for n in (1, 2, 3) if n != page.number]
        assert not any(f"Page {n}:" in page.text for n in others)


def _scanned_pdf(tmp_path, lines):
    return scanned_pdf(tmp_path, lines)


def test_scanned_page_is_read_by_ocr(tmp_path):
    from her2extract import extract_file

    path = _scanned_pdf(tmp_path, ["ESTROGEN RECEPTOR: POSITIVE (90%)", "HER2 (IHC): 3+ POSITIVE"])
    document = read_document(path)
    assert document.pages[0].source is TextSource.OCR
    record = extract_file(path)
    assert record.text_source == "ocr"
    assert record.her2_ihc_score == "3+" and str(record.er_percent) == "90"


def test_ocr_never_leaves_a_scanned_page_empty_with_a_warning(tmp_path):
    path = _scanned_pdf(tmp_path, ["HER2 (IHC): 3+ POSITIVE"])
    document = read_document(path, ocr="never")
    assert document.pages[0].source is TextSource.NONE
    assert any("OCR is off" in w for w in document.warnings)


def test_text_quality_tells_words_from_junk():
    from her2extract.ingest import text_quality

    assert text_quality("Invasive ductal carcinoma, estrogen receptor positive") > 0.6
    assert text_quality("IIIIIII IIIII llll IIII ||| IIIIII") < 0.3


def _scan_with_layer(tmp_path, lines, layer):
    """A scan (picture of `lines`) carrying an invisible text layer `layer`, like an old scanner's OCR."""
    from fpdf.enums import TextMode

    picture = _scanned_pdf(tmp_path, lines)
    import pypdfium2 as pdfium

    bitmap = pdfium.PdfDocument(picture)[0].render(scale=200 / 72, grayscale=True)
    image = tmp_path / "page.png"
    bitmap.to_pil().save(image)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.set_font("courier", "", 9)
    pdf.text_mode = TextMode.INVISIBLE
    for line in layer:
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "layered.pdf"
    pdf.output(str(path))
    return path


def test_ocr_pages_forces_ocr_on_a_page_with_a_text_layer(tmp_path):
    path = _scan_with_layer(tmp_path, ["HER2 (IHC): 3+ POSITIVE"], ["HER2 (IHC): FOS!T!VE, SC0RE B+ and more words here"])
    assert read_document(path).pages[0].source is TextSource.PDF
    forced = read_document(path, ocr_pages=frozenset({1}))
    assert forced.pages[0].source is TextSource.OCR
    assert "3+" in forced.pages[0].text
    assert read_document(path, ocr="never", ocr_pages=frozenset({1})).pages[0].source is TextSource.OCR


def test_garbled_text_layer_is_read_again_with_ocr(tmp_path):
    from her2extract.pipeline import read_and_extract

    path = _scan_with_layer(
        tmp_path,
        ["ESTROGEN RECEPTOR: POSITIVE (90%)", "HER2 (IHC): 3+ POSITIVE"],
        ["ESTROGEN RECEPTOR: POSITIVE (90%)", "HER2 (IHC): FOS!T!VE, SC0RE B+"],
    )
    document, record = read_and_extract(path)
    assert record.her2_ihc_score == "3+" and str(record.er_percent) == "90"
    assert document.pages[0].source is TextSource.OCR
    assert any(w.startswith("ocr-reread: page(s) 1") for w in record.warnings)
    # with OCR off, the garbled layer is all there is: no HER2 value, and nothing invented
    _, never = read_and_extract(path, ocr="never")
    assert never.her2_ihc_score is None and str(never.er_percent) == "90"



def test_layout_rebuild_logs_no_report_text_even_at_debug(tmp_path, caplog):
    """pdfminer logs parsed text at DEBUG; a ruled-table page must not leak it into logs."""
    import logging

    marker = "ZQXJ7731MARKER"
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    with pdf.table() as table:
        for label, value in (("Patient", marker), ("ER", "90 %"), ("HER2", "1+")):
            row = table.row()
            row.cell(label)
            row.cell(value)
    from her2extract.ingest import _plumber_text

    data = bytes(pdf.output())
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("pdfminer").setLevel(logging.NOTSET)  # as an app at DEBUG would leave it
        text = _plumber_text(data, 0)
    assert marker in text  # the rebuild ran and read the table
    assert not any(marker in record.getMessage() for record in caplog.records)
