"""The page model (layout.py) and the form and table reading built on it, on PDFs made here.

Each layout is written as a born-digital PDF whose text stream runs column by column (a PDF
reader's stream order does not follow the printed rows), and again as an image-only scan of
the same page (rendered, turned a little, no text layer), read through OCR.
"""

from __future__ import annotations

import io
import shutil

import pytest

from her2extract.export import to_row
from her2extract.layout import Word, find_boxes, lay_out
from her2extract.pipeline import extract_file

OCR = shutil.which("tesseract") is not None
needs_ocr = pytest.mark.skipif(not OCR, reason="tesseract is not installed (scripts/setup installs it)")

HEADER = ["SPECIMEN: Left breast, core needle biopsy", "DIAGNOSIS: Invasive ductal carcinoma, grade 2"]


# --- the page model on words -----------------------------------------------------------------

def _words(rows: list[list[tuple[str, float]]], top: float = 100, step: float = 14, slope: float = 0.0,
           offset: float = 0.0) -> list[Word]:
    """Words of printed rows: (text, x) per word; `slope` tilts the page, `offset` moves the
    words right of x=300 down by that much (a value column set a little off its labels)."""
    out = []
    for n, row in enumerate(rows):
        for text, x in row:
            y = top + n * step + slope * x + (offset if x >= 300 else 0)
            out.append(Word(text, x, y, x + 6 * len(text), y + 10, n))
    return out


ROWS = [[("Estrogen", 60), ("receptor:", 115), ("Positive", 320), ("(90%)", 370)],
        [("Progesterone", 60), ("receptor:", 140), ("Negative", 320), ("(<1%)", 370)],
        [("HER2", 60), ("(IHC):", 95), ("1+", 320)]]


@pytest.mark.parametrize(("slope", "offset"), [(0.0, 0.0), (0.02, 0.0), (-0.03, 0.0), (0.0, 4.0)],
                         ids=["square", "tilted-down", "tilted-up", "values-slightly-low"])
def test_labels_and_values_pair_by_position(slope, offset):
    laid = lay_out(_words(ROWS, slope=slope, offset=offset))
    lines = [" ".join(line.split()) for line in laid.text.splitlines()]
    assert lines == ["Estrogen receptor: Positive (90%)", "Progesterone receptor: Negative (<1%)", "HER2 (IHC): 1+"]


def test_a_column_gap_stays_a_gap_and_a_phrase_keeps_single_spaces():
    laid = lay_out(_words(ROWS))
    first = laid.text.splitlines()[0]
    assert "Estrogen receptor:" in first and "receptor:  " in first  # two or more spaces before the value
    placed = {p.word.text: laid.text[p.start:p.end] for p in laid.placed}
    assert placed["Positive"] == "Positive"


# --- checkboxes on an image ---------------------------------------------------------------------

def _image(draw_fn, size=(600, 140)):
    import numpy as np
    from PIL import Image, ImageDraw

    image = Image.new("L", size, 255)
    draw_fn(ImageDraw.Draw(image))
    return np.asarray(image)


def _font(bold: bool = False):
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/{name}", 46)
    except OSError:
        return ImageFont.load_default(size=46)


SCALE = 300 / 72  # pixels per point at 300 dpi


@pytest.mark.parametrize(("draw", "expected"), [
    (lambda d: d.rectangle((20, 40, 60, 80), outline=0, width=4), [False]),
    (lambda d: d.rectangle((20, 40, 50, 70), outline=0, width=2), [False]),
    (lambda d: (d.rectangle((20, 40, 60, 80), outline=0, width=4), d.line((24, 44, 56, 76), fill=0, width=4),
                d.line((24, 76, 56, 44), fill=0, width=4)), [True]),
    (lambda d: (d.rectangle((20, 40, 60, 80), outline=0, width=3), d.line((26, 60, 36, 72), fill=0, width=4),
                d.line((36, 72, 56, 46), fill=0, width=4)), [True]),
    (lambda d: d.text((10, 30), "ER: Negative poqdb Results", font=_font(bold=True), fill=0), []),
    (lambda d: d.text((10, 30), "Allred Score: 0 = Proportion", font=_font(), fill=0), []),
], ids=["empty", "thin-empty", "crossed", "checked", "bold-letters", "plain-letters"])
def test_find_boxes_tells_frames_from_letters_and_marks_from_empty(draw, expected):
    assert [box[4] for box in find_boxes(_image(draw), SCALE)] == expected


# --- PDFs made here -----------------------------------------------------------------------------

def _pdf(path, rows: list[tuple[float, float, str]], boxes=(), header=HEADER):
    """A one-page PDF: (x, y, text) placed in the order given (the stream order), drawn boxes
    (x, y, size, marked)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="letter")
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for n, line in enumerate(header):
        pdf.text(50, 60 + 16 * n, line)
    for x, y, text in rows:
        pdf.text(x, y, text)
    for x, y, size, marked in boxes:
        pdf.rect(x, y, size, size)
        if marked:
            pdf.line(x + 1.5, y + 1.5, x + size - 1.5, y + size - 1.5)
            pdf.line(x + 1.5, y + size - 1.5, x + size - 1.5, y + 1.5)
    pdf.output(str(path))
    return path


def _scan(pdf_path, out_path, angle: float = 0.6):
    """The PDF's page as an image-only PDF (200 dpi, turned a little, no text layer)."""
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(str(pdf_path))[0]
    image = page.render(scale=200 / 72, grayscale=True).to_pil().rotate(angle, expand=False, fillcolor=255)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PDF", resolution=200)
    out_path.write_bytes(buffer.getvalue())
    return out_path


def _row(path, **kwargs) -> dict[str, str]:
    return to_row(extract_file(path, **kwargs))


# Two "label: value" columns side by side, the values written after all the labels.
TWO_COLUMN = ([(60, 140, "BIOMARKERS"), (80, 160, "Estrogen receptor:"), (80, 176, "Progesterone receptor:"),
               (80, 192, "HER2 (IHC, 4B5):"), (80, 208, "Ki-67:")]
              + [(300, 160, "Positive, 95% of nuclei, strong"), (300, 176, "Negative, less than 1%"),
                 (300, 192, "2+ (equivocal)"), (300, 208, "30%")])
TWO_COLUMN_EXPECT = {"er_status": "positive", "er_percent": "95", "pr_status": "negative", "pr_percent": "<1",
                     "her2_ihc_score": "2+", "ki67_percent": "30"}

# A marker | result | reference range table, written column by column.
THREE_COLUMN = ([(60, 140, "TEST"), (60, 160, "Estrogen receptor"), (60, 176, "Progesterone receptor"),
                 (60, 192, "HER2 (IHC)")]
                + [(240, 140, "RESULT"), (240, 160, "Negative (0%)"), (240, 176, "Negative (0%)"), (240, 192, "3+")]
                + [(400, 140, "REFERENCE RANGE"), (400, 160, "Positive: >=1%"), (400, 176, "Positive: >=1%"),
                   (400, 192, "Positive: 3+ / Negative: 0-1+")])
THREE_COLUMN_EXPECT = {"er_status": "negative", "er_percent": "0", "pr_status": "negative", "her2_ihc_score": "3+",
                       "her2_status": "positive", "subtype": "HR-/HER2+"}

# A form row per marker with drawn boxes; ER's "Positive" is marked, PR and HER2 are not.
FORM = ([(60, 160, "ER"), (160, 160, "Negative"), (260, 160, "Positive"),
         (60, 184, "PR"), (160, 184, "Negative"), (260, 184, "Positive"),
         (60, 208, "HER2"), (160, 208, "Negative"), (260, 208, "Positive")])
FORM_BOXES = [(146, 151, 10, False), (246, 151, 10, True), (146, 175, 10, False), (246, 175, 10, False),
              (146, 199, 10, False), (246, 199, 10, False)]


def test_two_column_block_written_column_by_column(tmp_path):
    row = _row(_pdf(tmp_path / "two.pdf", TWO_COLUMN))
    assert {k: row[k] for k in TWO_COLUMN_EXPECT} == TWO_COLUMN_EXPECT


def test_three_column_table_reads_the_result_not_the_reference_range(tmp_path):
    row = _row(_pdf(tmp_path / "three.pdf", THREE_COLUMN))
    assert {k: row[k] for k in THREE_COLUMN_EXPECT} == THREE_COLUMN_EXPECT


def test_value_column_one_row_up_is_left_unread(tmp_path):
    shifted = [(x, y - 16 if x == 300 else y, text) for x, y, text in TWO_COLUMN]
    record = extract_file(_pdf(tmp_path / "shift.pdf", shifted))
    row = to_row(record)
    assert row["er_status"] == row["pr_status"] == row["her2_status"] == "unknown"
    assert row["er_percent"] == row["her2_ihc_score"] == ""
    assert any(w.startswith("layout-shift") for w in record.warnings)


def test_drawn_checkboxes_only_the_marked_one_counts(tmp_path):
    record = extract_file(_pdf(tmp_path / "form.pdf", FORM, FORM_BOXES))
    row = to_row(record)
    assert (row["er_status"], row["pr_status"], row["her2_status"]) == ("positive", "unknown", "unknown")
    assert any(w.startswith("form-unticked") for w in record.warnings)


@needs_ocr
def test_image_only_two_column_block(tmp_path):
    scan = _scan(_pdf(tmp_path / "two.pdf", TWO_COLUMN), tmp_path / "two-scan.pdf")
    row = _row(scan)
    assert row["text_source"] == "ocr"
    assert {k: row[k] for k in TWO_COLUMN_EXPECT} == TWO_COLUMN_EXPECT


@needs_ocr
def test_image_only_three_column_table(tmp_path):
    scan = _scan(_pdf(tmp_path / "three.pdf", THREE_COLUMN), tmp_path / "three-scan.pdf", angle=-0.5)
    row = _row(scan)
    assert {k: row[k] for k in THREE_COLUMN_EXPECT} == THREE_COLUMN_EXPECT


@needs_ocr
def test_image_only_form_reads_the_marked_box_by_its_pixels(tmp_path):
    scan = _scan(_pdf(tmp_path / "form.pdf", FORM, FORM_BOXES), tmp_path / "form-scan.pdf")
    record = extract_file(scan)
    row = to_row(record)
    assert (row["er_status"], row["pr_status"], row["her2_status"]) == ("positive", "unknown", "unknown")


@needs_ocr
def test_image_only_blank_form_gives_no_value(tmp_path):
    blank = [(x, y, size, False) for x, y, size, _ in FORM_BOXES]
    record = extract_file(_scan(_pdf(tmp_path / "blank.pdf", FORM, blank), tmp_path / "blank-scan.pdf"))
    row = to_row(record)
    assert (row["er_status"], row["pr_status"], row["her2_status"]) == ("unknown", "unknown", "unknown")
