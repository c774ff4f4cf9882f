"""Read a report file into pages of text: the only module that knows PDF libraries."""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

from .errors import UnreadableDocument
from .layout import OPTION, PageLayout, Word, lay_out, mark_boxes
from .model import Document, Page, TextSource

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024  # a pathology report is a few hundred kB; refuse archives
MAX_PAGES = 200
TEXT_SUFFIXES = frozenset({".txt", ".text"})
PDF_SUFFIXES = frozenset({".pdf"})
# A photo, screenshot or scan of a report, read by OCR (told apart by content, like the rest).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".heic", ".heif"})
SUFFIXES = TEXT_SUFFIXES | PDF_SUFFIXES | IMAGE_SUFFIXES
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*")
# HEIC/HEIF (an iPhone's photos): an ISO media file whose first box names a HEIF brand
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
IMAGE_MAX_SIDE = 4200  # pixels: a phone photo of a page; bigger ones are scaled down before OCR
IMAGE_MIN_WIDTH = 1600  # pixels: a small screenshot is scaled up, so its letters are big enough for OCR
IMAGE_MAX_PIXELS = 60_000_000
OCR_MODES = frozenset({"auto", "always", "never"})

# A page with fewer non-space characters than this has no usable text layer.
MIN_PAGE_CHARS = 20
# A page of 6-point text holds some 20,000 characters; a text layer far beyond that is no page
# of a report, and laying it out by character boxes would take gigabytes.
MAX_PAGE_CHARS = 100_000
# Ruled tables: a page with this many line/rectangle objects is rebuilt with pdfplumber,
# which keeps each table row on one line (PDFium emits cells in drawing order).
MIN_RULE_OBJECTS = 8


def read_document(
    path: str | Path, *, max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES, ocr: str = "auto",
    ocr_pages: frozenset[int] = frozenset(),
) -> Document:
    """Read a .txt or .pdf report into a Document, page by page.

    Raises:
        UnreadableDocument: the file is missing, empty, too large, binary, corrupt or encrypted.
    """
    data = read_file_bytes(path, max_bytes=max_bytes)
    return read_bytes(data, str(path), max_pages=max_pages, ocr=ocr, ocr_pages=ocr_pages)


def read_file_bytes(path: str | Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """A report file's bytes, after the checks that need no parsing (exists, not empty, not too large)."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise UnreadableDocument(path, f"cannot open file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):  # a pipe or a device could be read for ever, or block
        raise UnreadableDocument(path, f"not a regular file ({special_kind(info.st_mode)}): not read")
    size = info.st_size
    if size == 0:
        raise UnreadableDocument(path, "empty file (0 bytes)")
    if size > max_bytes:
        raise UnreadableDocument(
            path, f"file too large: {size / 1e6:.1f} MB (limit {max_bytes / 1e6:.0f} MB)"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(path, f"cannot read file: {exc.strerror or exc}") from None


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def read_bytes(
    data: bytes, source: str, *, max_pages: int = MAX_PAGES, ocr: str = "auto",
    ocr_pages: frozenset[int] = frozenset(),
) -> Document:
    """Read report bytes; the kind (PDF or text) is decided by content, not by name.

    `ocr_pages`: page numbers (from 1) to read with OCR whatever their text layer is like.
    """
    if not data:
        raise UnreadableDocument(source, "empty file (0 bytes)")
    if data[:1024].lstrip()[:5] == b"%PDF-":
        if ocr not in OCR_MODES:
            raise ValueError(f"ocr must be one of {sorted(OCR_MODES)}")
        return _read_pdf(data, source, max_pages, ocr, ocr_pages)
    if is_image(data):
        return _read_image(data, source, ocr)
    if data.startswith(b"PK\x03\x04") and b"word/" in data[:65536]:
        raise UnreadableDocument(source, "a Word document: open it and save it as PDF "
                                         "(File, Save As, PDF), then read the PDF")
    if source.lower().endswith(tuple(PDF_SUFFIXES)):
        raise UnreadableDocument(source, "not a PDF: the file has a .pdf name but no PDF header")
    text = decode_text(data, source)
    return Document(source=source, pages=(Page(1, text, TextSource.TEXT),))


def is_image(data: bytes) -> bool:
    """Whether the bytes are a JPEG, PNG, TIFF or HEIC/HEIF picture (judged by content)."""
    return data.startswith(_IMAGE_MAGIC) or (data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS)


def _upright_grey(data: bytes, source: str):
    """An image file as a greyscale PIL image, turned upright by its EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _heif_opener()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > IMAGE_MAX_PIXELS:
                raise UnreadableDocument(source, f"image too large: {opened.width} x {opened.height} pixels")
            return ImageOps.exif_transpose(opened).convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableDocument(source, f"corrupt image: {type(exc).__name__}") from None


def _read_image(data: bytes, source: str, ocr: str) -> Document:
    """A photo or scan of a one-page report: turned upright by its EXIF orientation, scaled to
    a size Tesseract reads well, read by OCR and laid out like a scanned PDF page (its drawn
    boxes read from the pixels)."""
    from PIL import Image

    if ocr == "never":
        raise UnreadableDocument(source, "an image of a report can only be read by OCR, and OCR is off")
    if not ocr_available():
        raise UnreadableDocument(source, "an image of a report needs OCR: install tesseract-ocr")
    image = _upright_grey(data, source)
    side = max(image.size)
    if side > IMAGE_MAX_SIDE:
        image = image.resize((round(image.width * IMAGE_MAX_SIDE / side), round(image.height * IMAGE_MAX_SIDE / side)))
    elif image.width < IMAGE_MIN_WIDTH:
        factor = IMAGE_MIN_WIDTH / image.width
        image = image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    tsv = _tesseract(buffer.getvalue(), "tsv")
    if tsv is None:
        raise UnreadableDocument(source, "OCR could not read the image")
    # the image as a page 612 points (8.5 in) wide: the page model works in points
    points = 612 / image.width
    words = tesseract_words(tsv, points)
    boxes: tuple = ()
    if not upright(words):
        text = _in_reading_order(words)
    else:
        import numpy as np

        words = mark_boxes(words, np.asarray(image), 1 / points)
        laid = lay_out(words, 612, image.height * points)
        text, boxes = laid.text, word_boxes(laid)
    if len(text.strip()) < MIN_PAGE_CHARS:
        raise UnreadableDocument(source, "no text found in the image (is it a photo of a report?)")
    return Document(source=source, pages=(Page(1, text, TextSource.OCR, True, boxes),))


@functools.lru_cache(maxsize=1)
def _heif_opener() -> None:
    """Let Pillow open HEIC/HEIF photos (pillow-heif), once per process."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # without it a HEIC photo is a "corrupt image" with the reason
        return
    register_heif_opener()


def decode_text(data: bytes, source: str = "") -> str:
    """Decode report text: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252, else latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableDocument(source, "invalid UTF-16 text") from None
    else:
        if b"\x00" in data[:4096]:
            raise UnreadableDocument(source, "binary file, not text (contains NUL bytes)")
        for encoding in ("utf-8-sig", "cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    if _looks_binary(text):
        raise UnreadableDocument(source, "binary file, not text")
    if not text.strip():
        raise UnreadableDocument(source, "no text: the file holds only white space")
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _looks_binary(text: str) -> bool:
    """More than 1 % control characters (other than tab, line breaks and form feed)."""
    sample = text[:8192]
    return len(_CONTROL.findall(sample)) > max(8, len(sample) // 100)


def _read_pdf(
    data: bytes, source: str, max_pages: int, ocr: str = "auto", ocr_pages: frozenset[int] = frozenset()
) -> Document:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = str(exc).lower()
        if "password" in reason:
            raise UnreadableDocument(source, "encrypted PDF: a password is required") from None
        raise UnreadableDocument(source, f"corrupt PDF: {exc}") from None
    try:
        count = len(pdf)
        if count == 0:
            raise UnreadableDocument(source, "PDF has no pages")
        if count > max_pages:
            raise UnreadableDocument(source, f"PDF has {count} pages (limit {max_pages})")
        pages: list[Page] = []
        warnings: list[str] = []
        for index in range(count):
            try:
                page = pdf[index]
            except pdfium.PdfiumError:  # one broken page costs that page, not the report
                pages.append(Page(index + 1, "", TextSource.NONE))
                warnings.append(f"unreadable-page: page {index + 1} is damaged and could not be read")
                continue
            try:
                try:
                    text = _pdfium_text(page)
                except _TooMuchText as exc:
                    raise UnreadableDocument(
                        source, f"page {index + 1}'s text layer holds {exc.count:,} characters, more than a page "
                                f"can show (limit {MAX_PAGE_CHARS:,}): not read as a pathology report") from None
                scan = is_scan(page)
                ruled = _plumber_text(data, index) if _has_ruled_table(page) else ""
                if ruled:
                    text = ruled
                elif not scan:
                    text = _laid_out(page, text)
                quality = text_quality(text)
                usable = len(text.strip()) >= MIN_PAGE_CHARS and quality >= MIN_QUALITY
                scanned, scanned_boxes = None, ()
                forced = ocr == "always" or index + 1 in ocr_pages
                if forced or (ocr == "auto" and not usable):
                    scanned, scanned_boxes = ocr_page(page)
            finally:
                page.close()
            if scanned is not None and (forced and len(scanned.strip()) >= MIN_PAGE_CHARS
                                        or not usable and text_quality(scanned) > quality):
                pages.append(Page(index + 1, scanned, TextSource.OCR, scan, scanned_boxes))
            elif usable or (len(text.strip()) >= MIN_PAGE_CHARS):
                pages.append(Page(index + 1, text, TextSource.PDF, scan))
            else:
                pages.append(Page(index + 1, text, TextSource.NONE, scan))
                why = ("OCR is off" if ocr == "never" else "OCR found no text" if scanned is not None
                       else "OCR is not available (install tesseract-ocr)")
                warnings.append(f"no-text-layer: page {index + 1} has no text layer and {why}")
    except pdfium.PdfiumError as exc:  # damage PDFium finds only while reading a page's content
        raise UnreadableDocument(source, f"corrupt PDF: {exc}") from None
    finally:
        pdf.close()
    if pages and all(p.source is TextSource.NONE for p in pages) and any(
            w.startswith("unreadable-page") for w in warnings):
        raise UnreadableDocument(source, "corrupt PDF: no page could be read")
    return Document(source=source, pages=tuple(pages), warnings=tuple(warnings))


# OCR: Tesseract, one thread per process (its default threading is ~6x slower on 2 cores);
# page segmentation mode 1 detects the orientation first, so a page scanned sideways reads too.
OCR_DPI = 300
OCR_TIMEOUT = 120  # seconds per page
MIN_QUALITY = 0.3  # share of word-like tokens below which a text layer is junk
_WORDLIKE = re.compile(r"[A-Za-z]+")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")


def text_quality(text: str) -> float:
    """Share of letter runs that look like words (3+ letters, a vowel, not one letter repeated).

    Junk text layers ("IIIIIII" barcodes, glyph soup) score low; a real report ~0.6-0.8.
    """
    tokens = _WORDLIKE.findall(text)
    if not tokens:
        return 0.0
    good = sum(1 for t in tokens if len(t) >= 3 and _VOWEL.search(t) and len(set(t.lower())) > 1)
    return good / len(tokens)


@functools.lru_cache(maxsize=1)
def ocr_available() -> bool:
    return shutil.which("tesseract") is not None


def ocr_page(page) -> tuple[str | None, tuple]:
    """Render one PDF page at 300 dpi and read it with Tesseract: (text, word boxes as
    Page.boxes); (None, ()) when OCR cannot run.

    The text is the page model's (layout.lay_out) of Tesseract's word boxes, with drawn
    checkboxes written as "[x]" / "[ ]" from the pixels inside them.
    """
    if not ocr_available():
        return None, ()
    bitmap = page.render(scale=OCR_DPI / 72, grayscale=True)
    try:
        image = bitmap.to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    finally:
        bitmap.close()
    tsv = _tesseract(buffer.getvalue(), "tsv")
    if tsv is None:
        return None, ()
    words = tesseract_words(tsv, 72 / OCR_DPI)
    if not upright(words):  # a page scanned sideways: Tesseract turned it, its boxes did not
        return _in_reading_order(words), ()
    import numpy as np

    words = mark_boxes(words, np.asarray(image.convert("L")), OCR_DPI / 72)
    laid = lay_out(words, page.get_width(), page.get_height())
    return laid.text, word_boxes(laid)


def word_boxes(laid: PageLayout) -> tuple[tuple[int, int, float, float, float, float], ...]:
    """Page.boxes of a laid-out page: each word's place in the text and on the page."""
    return tuple((p.start, p.end, round(p.word.x0, 1), round(p.word.top, 1), round(p.word.x1, 1),
                  round(p.word.bottom, 1)) for p in laid.placed)


def page_picture(data: bytes, number: int, dpi: float = 150):
    """Page `number` (from 1) of a PDF or an image file as a greyscale PIL image at `dpi` (72 dpi
    = one pixel a point; an image file is a page 612 points wide), turned as it was read."""
    if is_image(data):
        image = _upright_grey(data, "")
        width = round(612 * dpi / 72)
        return image.resize((width, max(1, round(image.height * width / image.width))))
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        bitmap = pdf[number - 1].render(scale=dpi / 72, grayscale=True)
        try:
            return bitmap.to_pil().convert("L")
        finally:
            bitmap.close()
    finally:
        pdf.close()


def upright(words: list[Word]) -> bool:
    """Whether the words run across the page (most word boxes wider than tall)."""
    long = [w for w in words if len(w.text) >= 4]
    return not long or sum(1 for w in long if w.x1 - w.x0 >= w.height) >= len(long) / 2


def _in_reading_order(words: list[Word]) -> str:
    """Tesseract's own lines, in its order (for pages whose boxes cannot be laid out)."""
    lines: dict[int, list[str]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w.text)
    return "\n".join(" ".join(texts) for texts in lines.values())


def _tesseract(png: bytes, *config: str) -> str | None:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "--psm", "1", "-l", "eng", *config], input=png,
            capture_output=True, timeout=OCR_TIMEOUT, env=env, check=False, preexec_fn=_dies_with_reader(),
        )
    except (OSError, subprocess.TimeoutExpired):
        log.warning("OCR failed on one page")
        return None
    if done.returncode != 0:
        log.warning("OCR failed on one page (tesseract exit %d)", done.returncode)
        return None
    return done.stdout.decode("utf-8", errors="replace")


def _dies_with_reader():
    """On Linux, in a process with one thread (a batch or web reader process): a function that
    makes Tesseract get SIGKILL when the process that started it ends, so that a reader stopped
    for taking too long leaves no OCR running. None elsewhere (a preexec function is not safe
    where other threads run)."""
    import sys
    import threading

    prctl = _prctl() if sys.platform.startswith("linux") and threading.active_count() == 1 else None
    if prctl is None:
        return None

    def die_with_parent() -> None:
        prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL

    return die_with_parent


@functools.lru_cache(maxsize=1)
def _prctl():
    """The C library's prctl, or None."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def tesseract_words(tsv: str, scale: float) -> list[Word]:
    """Tesseract's TSV word rows as Words in page points (`scale`: points per pixel); each
    keeps the number of Tesseract's line (block, paragraph, line) it belongs to."""
    words: list[Word] = []
    lines: dict[tuple[str, str, str], int] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        left, top, width, height = (float(c) for c in cells[6:10])
        line = lines.setdefault((cells[2], cells[3], cells[4]), len(lines))
        words.append(Word(cells[11].strip(), left * scale, top * scale, (left + width) * scale,
                          (top + height) * scale, line))
    return words


# A text layer whose own lines fall apart on the page model (its boxes jitter word by word) is
# read in stream order instead: below this share of neighbouring words kept on one line.
MIN_COHERENCE = 0.9
# Page rendering for checkboxes on a text-layer page (only when it may hold a form row): at
# 150 dpi a box's frame is half its inside, too coarse to tell a mark from the frame.
BOX_DPI = 300


# A page whose picture covers this share of it is a scan: its text layer (if any) is an OCR
# engine's reading, whose word boxes are too rough to pair labels with values by position.
SCAN_COVER = 0.5


def is_scan(page) -> bool:
    """Whether an image covers most of the page (a scanned page, with or without a text layer)."""
    import pypdfium2.raw as raw

    area = page.get_width() * page.get_height()
    for image in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        left, bottom, right, top = image.get_bounds()
        if (right - left) * (top - bottom) >= SCAN_COVER * area:
            return True
    return False


def _laid_out(page, stream: str) -> str:
    """A born-digital page's text from the page model of its text layer (layout.lay_out), or the
    stream text when the layer's boxes do not hold its own lines together."""
    words = pdfium_words(page)
    if len(words) < 2:
        return stream
    laid = lay_out(words, page.get_width(), page.get_height())
    if coherence(words, laid) < MIN_COHERENCE:
        return stream
    if sum(1 for w in words if OPTION.match(w.text)) >= 2:
        import numpy as np

        bitmap = page.render(scale=BOX_DPI / 72, grayscale=True)
        try:
            image = np.asarray(bitmap.to_pil().convert("L"))
        finally:
            bitmap.close()
        marked = mark_boxes(words, image, BOX_DPI / 72)
        if marked != words:
            laid = lay_out(marked, page.get_width(), page.get_height())
    return laid.text


def coherence(words: list[Word], laid: PageLayout) -> float:
    """The share of neighbouring words of the source's own lines that the page model keeps on
    one line (1.0: the layer's geometry agrees with its lines)."""
    line_of: dict[int, int] = {}
    number, last = 0, -1
    for item in laid.placed:
        if item.start > last + 1 and laid.text.rfind("\n", 0, item.start) > last:
            number += 1
        line_of[id(item.word)] = laid.text.count("\n", 0, item.start)
        last = item.end
    same = total = 0
    for a, b in zip(words, words[1:]):
        if a.line == b.line and a.line >= 0 and id(a) in line_of and id(b) in line_of:
            total += 1
            same += line_of[id(a)] == line_of[id(b)]
    return same / total if total else 1.0


def pdfium_words(page) -> list[Word]:
    """The text layer's words with their boxes (points, origin top left), in stream order; a
    word's `line` is its line in the stream."""
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    try:
        height = page.get_height()
        count = textpage.count_chars()
        words: list[Word] = []
        chars: list[str] = []
        box = [0.0, 0.0, 0.0, 0.0]
        line = 0

        def flush() -> None:
            if chars:
                words.append(Word("".join(chars), box[0], height - box[3], box[2], height - box[1], line))
                chars.clear()

        for i in range(count):
            char = chr(raw.FPDFText_GetUnicode(textpage.raw, i))
            if char in "\r\n":
                flush()
                if char == "\n":
                    line += 1
                continue
            if char.isspace() or not char.isprintable():
                flush()
                continue
            # the font's box (ascent to descent), not the glyph's: "of" and "Positive" on one
            # baseline get one height, so the page model keeps them on one line
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            if chars and (left > box[2] + 2 * (box[3] - box[1]) or top < box[1] or bottom > box[3]):
                flush()  # a wide gap with no space in the stream, or another line
            if not chars:
                box = [left, bottom, right, top]
            else:
                box = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
            chars.append(char)
        flush()
        return words
    finally:
        textpage.close()


def _pdfium_text(page) -> str:
    """The page's text layer; _TooMuchText past MAX_PAGE_CHARS (counted before it is read)."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count > MAX_PAGE_CHARS:
            raise _TooMuchText(count)
        return textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
    finally:
        textpage.close()


class _TooMuchText(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def _has_ruled_table(page) -> bool:
    import pypdfium2.raw as raw

    count = 0
    for _ in page.get_objects(filter=(raw.FPDF_PAGEOBJ_PATH,), max_depth=1):
        count += 1
        if count >= MIN_RULE_OBJECTS:
            return True
    return False


def _plumber_text(data: bytes, index: int) -> str:
    """Rebuild one page with pdfplumber: ruled tables row by row, the text around them in order.

    PDFium emits table cells in drawing order, and a value cell that wraps onto two lines
    gets interleaved with the next row's label. pdfplumber's tables keep each cell whole.
    """
    import io

    import pdfplumber

    # pdfminer (under pdfplumber) logs every token it parses at DEBUG, report text included:
    # never let that reach a log, whatever level the application runs at.
    logging.getLogger("pdfminer").setLevel(logging.WARNING)
    try:
        with pdfplumber.open(io.BytesIO(data), pages=[index + 1]) as pdf:
            page = pdf.pages[0]
            tables = sorted(page.find_tables(), key=lambda t: t.bbox[1])
            if not tables:  # lines and boxes but no table (a form's checkboxes): the page model reads it
                return ""
            parts: list[str] = []
            top = float("-inf")
            for table in tables:
                x0, t_top, x1, t_bottom = table.bbox
                if t_top > top:
                    parts.append(_crop_text(page, top, t_top))
                parts.extend(_row_text(row) for row in table.extract() if any(row))
                top = max(top, t_bottom)
            parts.append(_crop_text(page, top, float("inf")))
            return "\n".join(p for p in parts if p.strip())
    except Exception as exc:  # pdfplumber raises many kinds; PDFium already read the page
        log.warning("page %d: layout rebuild failed (%s); using PDFium text", index + 1, type(exc).__name__)
        return ""


def _crop_text(page, top: float, bottom: float) -> str:
    """The text between two heights, lines rebuilt by position.

    A filter, not ``page.crop``: in some scanned reports (dev corpus, Omnipage 12 output) every
    character sits outside the page's box (top 860-1320 on a 792 pt page), and a crop would
    drop them all. No small generated PDF reproduces this, so no unit test covers it.
    """
    region = page.filter(lambda obj: top <= obj.get("top", top) and obj.get("bottom", bottom) <= bottom)
    return region.extract_text(x_tolerance=2, y_tolerance=3) or ""


def _row_text(row: list[str | None]) -> str:
    """One table row on one line; a cell's own line breaks become spaces."""
    return "  ".join(" ".join((cell or "").split()) for cell in row if cell and cell.strip())
