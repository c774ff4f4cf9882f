"""Photos, screenshots and scans of a report as image files (issue 20): read by OCR, by content."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from her2extract.errors import UnreadableDocument
from her2extract.export import to_row
from her2extract.ingest import ocr_available, read_bytes
from her2extract.pipeline import extract_file

SAMPLES = Path(__file__).resolve().parent.parent / "sample_reports"
SAMPLE = SAMPLES / "core-biopsy-her2-2plus-fish-not-amplified-er-5.pdf"
needs_ocr = pytest.mark.skipif(not ocr_available(), reason="Tesseract is not installed (scripts/test installs it)")


def phone_photo(pdf_path: Path, angle: float = 3.0, exif_turn: bool = False, seed: int = 1) -> bytes:
    """A hand-held phone photo of the report's first page: perspective, a few degrees of
    rotation, noise, blur, JPEG. With `exif_turn`, the pixels lie sideways and the EXIF
    orientation says so, as phones store them."""
    import pypdfium2 as pdfium

    image = pdfium.PdfDocument(str(pdf_path))[0].render(scale=3.5).to_pil().convert("RGB")
    w, h = image.size
    d = int(w * 0.03)  # the top edge a little narrower than the bottom
    image = image.transform((w, h), Image.QUAD, (d, 0, 0, h, w, h, w - d, 0), resample=Image.BICUBIC,
                            fillcolor=(235, 232, 225))
    image = image.rotate(angle, expand=True, fillcolor=(235, 232, 225), resample=Image.BICUBIC)
    import numpy as np

    grain = np.random.default_rng(seed).normal(128, 18, (image.height, image.width)).clip(0, 255)
    noise = Image.fromarray(grain.astype("uint8"), "L").convert("RGB")  # the same grain on every run
    image = Image.blend(image, noise, 0.08).filter(ImageFilter.GaussianBlur(0.6))
    exif = Image.Exif()
    if exif_turn:
        image = image.transpose(Image.ROTATE_90)  # stored turned; orientation 6: show it turned back
        exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=exif)
    return buffer.getvalue()


EXPECTED = {"her2_ihc_score": "2+", "her2_ish_ratio": "1.3", "her2_ish_result": "not amplified",
            "her2_status": "negative", "er_status": "low positive", "er_percent": "5", "pr_status": "negative",
            "ki67_percent": "25", "text_source": "ocr"}


@needs_ocr
@pytest.mark.parametrize("exif_turn", [False, True])
def test_a_phone_photo_of_a_report_reads_like_the_pdf(tmp_path, exif_turn):
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(phone_photo(SAMPLE, exif_turn=exif_turn))
    row = to_row(extract_file(photo))
    # never a wrong value; a ratio whose digit OCR misread is left empty by its copy numbers
    wrong = {k: row[k] for k in EXPECTED if row[k] != EXPECTED[k] and not (k == "her2_ish_ratio" and row[k] == "")}
    assert not wrong, wrong
    if not exif_turn:
        assert {k: row[k] for k in EXPECTED} == EXPECTED


@needs_ocr
def test_an_iphone_heic_photo_reads_like_the_jpeg(tmp_path):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    with Image.open(io.BytesIO(phone_photo(SAMPLE))) as jpeg:
        buffer = io.BytesIO()
        jpeg.save(buffer, format="HEIF", quality=90)
    assert buffer.getvalue()[4:12] == b"ftypheic"
    photo = tmp_path / "IMG_2041.HEIC"
    photo.write_bytes(buffer.getvalue())
    row = to_row(extract_file(photo))
    assert {k: row[k] for k in EXPECTED if k != "her2_ish_ratio"} == {k: v for k, v in EXPECTED.items()
                                                                        if k != "her2_ish_ratio"}
    assert row["her2_ish_ratio"] in ("1.3", "")  # never a misread digit
    misnamed = tmp_path / "photo.jpg"  # judged by content, not name
    misnamed.write_bytes(buffer.getvalue())
    assert to_row(extract_file(misnamed))["her2_status"] == "negative"


@needs_ocr
def test_a_small_screenshot_is_scaled_up_for_ocr(tmp_path):
    import pypdfium2 as pdfium

    image = pdfium.PdfDocument(str(SAMPLE))[0].render(scale=1.3).to_pil()  # about 800 px wide
    shot = tmp_path / "screenshot.png"
    image.save(shot)
    row = to_row(extract_file(shot))
    assert row["her2_ihc_score"] == "2+" and row["er_percent"] == "5"


def test_an_image_with_ocr_off_says_why():
    with pytest.raises(UnreadableDocument, match="OCR is off"):
        read_bytes(phone_photo(SAMPLE), "photo.jpg", ocr="never")


def test_a_word_document_gets_a_next_step():
    docx = b"PK\x03\x04\x14\x00\x06\x00" + b"[Content_Types].xml" + b"\x00" * 40 + b"word/document.xml"
    with pytest.raises(UnreadableDocument, match="save it as PDF"):
        read_bytes(docx, "report.docx")


def test_batch_reads_images_in_a_folder(tmp_path):
    from her2extract.cli import iter_inputs

    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.PNG").write_bytes(b"x")
    (tmp_path / "c.docx").write_bytes(b"x")
    assert sorted(Path(p).name for p in iter_inputs([tmp_path])) == ["a.jpg", "b.PNG"]
