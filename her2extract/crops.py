"""The picture a value was read from: for a value OCR read off a scanned page or a photo, the
strip of the page image around it, so a reader can check each digit against the page itself.
"""

from __future__ import annotations

import base64
import io

from .ingest import page_picture
from .model import Document, Evidence

DPI = 150  # the page picture the strips are cut from
REACH_LEFT = 330.0  # points of the line shown before the value (its label)
REACH_RIGHT = 140.0  # and after it
MAX_WIDTH = 720  # pixels of a strip at most


def value_box(page_boxes, start: int, end: int) -> tuple[float, float, float, float] | None:
    """The box (x0, top, x1, bottom), in points, of the words a value's characters fall in."""
    hits = [b for b in page_boxes if b[0] < end and b[1] > start]
    if not hits:
        return None
    return min(b[2] for b in hits), min(b[3] for b in hits), max(b[4] for b in hits), max(b[5] for b in hits)


def strip_box(page_boxes, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The value's box widened to show its line: the words level with it, up to REACH_LEFT
    before and REACH_RIGHT after; and the line above too when nothing stands before the value
    on its own line (its label is above it)."""
    x0, top, x1, bottom = box
    height = max(bottom - top, 6.0)
    middle = (top + bottom) / 2
    level = [b for b in page_boxes if b[3] <= middle <= b[5] and b[4] >= x0 - REACH_LEFT and b[2] <= x1 + REACH_RIGHT]
    label_before = any(b[4] <= x0 for b in level)
    if level:
        x0, x1 = min(x0, *(b[2] for b in level)), max(x1, *(b[4] for b in level))
        top, bottom = min(top, *(b[3] for b in level)), max(bottom, *(b[5] for b in level))
    if not label_before:
        above = [b for b in page_boxes if top - 2.5 * height <= b[5] <= top - 0.05 * height
                 and b[4] >= x0 - REACH_LEFT and b[2] <= x1 + REACH_RIGHT]
        if above:
            closest = max(b[5] for b in above)
            line = [b for b in above if b[5] >= closest - 0.5 * height]
            x0, x1 = min(x0, *(b[2] for b in line)), max(x1, *(b[4] for b in line))
            top = min(top, *(b[3] for b in line))
    return x0 - 6, top - 0.4 * height, x1 + 6, bottom + 0.4 * height


def value_strips(data: bytes, document: Document, evidence: list[Evidence]) -> dict[str, str]:
    """Per field whose value was read by OCR on a page with word boxes: a PNG data URL of the
    strip of the page image around it. Each page is drawn once."""
    pages = {p.number: p for p in document.pages if p.boxes}
    wanted: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {}
    for ev in evidence:
        page = pages.get(ev.page)
        box = value_box(page.boxes, ev.page_start, ev.page_end) if page else None
        if box is not None:
            wanted.setdefault(ev.page, []).append((ev.field, strip_box(page.boxes, box)))
    strips: dict[str, str] = {}
    for number, boxes in wanted.items():
        picture = page_picture(data, number, DPI)
        scale = DPI / 72
        for field, (x0, top, x1, bottom) in boxes:
            area = (max(0, round(x0 * scale)), max(0, round(top * scale)),
                    min(picture.width, round(x1 * scale)), min(picture.height, round(bottom * scale)))
            if area[2] - area[0] < 4 or area[3] - area[1] < 4:
                continue
            strip = picture.crop(area)
            if strip.width > MAX_WIDTH:
                strip = strip.resize((MAX_WIDTH, max(1, round(strip.height * MAX_WIDTH / strip.width))))
            buffer = io.BytesIO()
            strip.save(buffer, format="PNG", optimize=True)
            strips[field] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return strips
