"""The page model: words with boxes -> lines by baseline -> a page text laid out in columns.

A scanned report read in stream order comes out column by column or one row shifted, so a
value lands on the wrong label. Here every word keeps its box (PDFium's character boxes for a
text layer, Tesseract's TSV for OCR); the page is deskewed, words are grouped into lines by
the vertical overlap of their boxes, and each line is written with every word at the column
its x position gives (as `pdftotext -layout` does). Labels and values on one printed line end
up on one text line, and the columns of a table stay aligned for statements.read_layout.

Checkboxes: square frames are found on the page image (find_boxes); one right before a word
that can be a printed option ("Positive", "Negative", "2+") is written as "[x]" or "[ ]",
decided by the dark pixels inside it, and the letter an OCR engine made of it is dropped.

Pure: knows no PDF library and no OCR engine (ingest gives it words and, for checkboxes, the
page as a grey image in a numpy array).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import regex

# A line's words lie within this share of a line height of its middle (after deskewing).
SAME_LINE = 0.5
# A gap wider than this many median character widths is a column gap, written as 2+ spaces.
COLUMN_GAP = 2.5


@dataclass(frozen=True, slots=True)
class Word:
    """One word and its box in page points (origin top left); `line` is the source's own line."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    line: int = -1

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Placed:
    """A word of the laid-out text: where it is in the text and on the page."""

    word: Word
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PageLayout:
    """A page's words laid out as text (lines top to bottom, words at their columns)."""

    text: str
    placed: tuple[Placed, ...] = ()
    skew: float = 0.0  # the slope removed: points down per point right
    width: float = 0.0
    height: float = 0.0


def lay_out(words: list[Word], width: float = 0.0, height: float = 0.0) -> PageLayout:
    """Group words into lines by baseline (after deskewing) and write each line with its words
    at the columns their x positions give."""
    words = [w for w in words if w.text.strip()]
    if not words:
        return PageLayout("", (), 0.0, width, height)
    size = _median_height(words)
    slope = skew(words, size)
    lines = _lines(words, slope, size)
    char = _char_width(words)
    pieces: list[str] = []
    placed: list[Placed] = []
    pos = 0
    for number, line in enumerate(lines):
        if number:
            pieces.append("\n")
            pos += 1
        column = 0
        for k, word in enumerate(line):
            want = int(round(word.x0 / char))
            if k == 0:
                gap = want
            elif word.x0 - line[k - 1].x1 > COLUMN_GAP * char:  # a column gap: align to the column
                gap = max(want - column, 2)
            else:  # words of one phrase: one space, whatever the font's spacing
                gap = 1
            pieces.append(" " * gap)
            pos += gap
            pieces.append(word.text)
            placed.append(Placed(word, pos, pos + len(word.text)))
            pos += len(word.text)
            column = want + len(word.text) if k == 0 else column + gap + len(word.text)
    return PageLayout("".join(pieces), tuple(placed), slope, width, height)


def _median_height(words: list[Word]) -> float:
    heights = [w.height for w in words if len(w.text) > 1 and w.height > 0]
    return statistics.median(heights) if heights else 10.0


def _char_width(words: list[Word]) -> float:
    widths = [(w.x1 - w.x0) / len(w.text) for w in words if len(w.text) >= 3 and w.x1 > w.x0]
    return max(statistics.median(widths), 0.5) if widths else 5.0


def skew(words: list[Word], size: float) -> float:
    """The page's slope (points down per point right): the median slope between neighbouring
    words of the source's own lines (a scan is rarely square to the page)."""
    slopes = []
    for a, b in zip(words, words[1:]):
        if a.line < 0 or a.line != b.line or len(a.text) < 2 or len(b.text) < 2:
            continue
        if not 0 <= b.x0 - a.x1 < 3 * size or abs(a.height - b.height) > 0.3 * size:
            continue
        run = (b.x0 + b.x1 - a.x0 - a.x1) / 2
        if run > size:
            slopes.append((b.bottom - a.bottom) / run)
    if len(slopes) < 5:
        return 0.0
    slope = statistics.median(slopes)
    return slope if abs(slope) < 0.2 else 0.0


def _lines(words: list[Word], slope: float, size: float) -> list[list[Word]]:
    """Words grouped by the vertical overlap of their (deskewed) boxes, each line left to right."""
    bands = []
    for w in words:
        middle = (w.top + w.bottom) / 2 - slope * (w.x0 + w.x1) / 2
        half = (w.height if 0.5 * size <= w.height <= 2.5 * size else size) / 2
        bands.append((middle - half, middle + half, w))
    bands.sort(key=lambda b: (b[0] + b[1]) / 2)
    rows: list[list] = []  # [top, bottom, words]
    for top, bottom, w in bands:
        best, overlap = None, 0.0
        for row in rows[-6:]:
            shared = min(bottom, row[1]) - max(top, row[0])
            if shared > overlap:
                best, overlap = row, shared
        if best is not None and overlap >= SAME_LINE * min(bottom - top, best[1] - best[0]):
            best[2].append(w)
        else:
            rows.append([top, bottom, [w]])
    rows.sort(key=lambda r: r[0])
    return [sorted(r[2], key=lambda w: w.x0) for r in rows]


# --- checkboxes --------------------------------------------------------------------------

# Words that can be a printed option; a box is looked for just before them.
OPTION = regex.compile(
    r"(?i)^(?:positive|negative|equivocal|borderline|amplified|not|non-?amplified|low|pending|present|absent|"
    r"yes|no|weak|moderate|strong|[0-3]\+?|score|group|performed|indicated)[.,;:]?$")
# What an OCR engine or a text layer makes of a printed box.
BOX_GLYPH = regex.compile(r"^(?:[oOaDQ0©®°•¤□■☐☑☒❑❒▢◻◼\[\]()|xXvV✓✔]|\[\s?\]|\[[xX]\]|El|O\)|0\)|Cl|C\])$")
# Dark pixels inside a box's inner part that make it marked, and that leave it empty.
TICKED_INK = 0.12
EMPTY_INK = 0.05


# A printed checkbox is this many points wide, or so (1.5 to 6 mm).
BOX_MIN, BOX_MAX = 4.0, 16.0


def _made_of_box(word: Word, x0: float, top: float, x1: float, bottom: float) -> bool:
    """Whether a reader's word is its reading of the box: a box glyph, or a short word ("[_]",
    "Wf") lying mostly inside the box."""
    if word.bottom <= top or word.top >= bottom or word.x1 <= x0 - 1 or word.x0 >= x1 + 1:
        return False
    if BOX_GLYPH.match(word.text):
        return True
    inside = max(0.0, min(word.x1, x1 + 1) - max(word.x0, x0 - 1))
    return len(word.text) <= 3 and not OPTION.match(word.text) and inside >= 0.5 * max(word.x1 - word.x0, 0.1)


def find_boxes(image, scale: float) -> list[tuple[float, float, float, float, bool]]:
    """Square frames of a checkbox's size on a page image, and whether each is marked.

    `image`: a 2-D numpy array of grey levels (0 black); `scale`: its pixels per point.
    A frame is a horizontal run of ink (its top edge) with a like run about its width below it
    (its bottom edge) and ink down both sides; it is marked when its inside holds enough ink.
    Returns (x0, top, x1, bottom, marked) in pixels.
    """
    import numpy as np

    dark = image < 128
    lo, hi = max(4, int(BOX_MIN * scale)), int(BOX_MAX * scale)
    edges: dict[tuple[int, int], list[int]] = {}
    padded = np.zeros((dark.shape[0], dark.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = dark
    steps = np.diff(padded, axis=1)
    for y in np.flatnonzero(((steps == 1).sum(axis=1) > 0)):
        starts = np.flatnonzero(steps[y] == 1)
        ends = np.flatnonzero(steps[y] == -1)
        for x0, x1 in zip(starts, ends):
            if lo <= x1 - x0 <= hi:
                edges.setdefault((int(x0) // 3, int(x1) // 3), []).append(int(y))
    found = []
    for (a, b), rows in edges.items():
        rows.sort()
        groups = [[rows[0]]]
        for y in rows[1:]:
            if y - groups[-1][-1] <= 2:
                groups[-1].append(y)
            else:
                groups.append([y])
        width = (b - a) * 3
        for top, bottom in zip(groups, groups[1:]):
            y0, y1 = top[0], bottom[-1]
            if not 0.7 * width <= y1 - y0 <= 1.4 * width:
                continue
            x0, x1 = _tight(dark, y0, y1, a * 3, b * 3 + 3)
            if width < 0.85 * (x1 - x0):
                continue  # the edge run spans only part of the ink below it: letters, not a frame
            box = dark[y0:y1 + 1, x0:x1 + 1]
            if not _square_frame(box):
                continue
            t = max(3, (y1 - y0) // 4)
            inner = dark[y0 + t:y1 + 1 - t, x0 + t:x1 - t]
            if inner.size == 0:
                continue
            ink = float(inner.mean())
            if EMPTY_INK <= ink < TICKED_INK:
                continue  # neither clearly marked nor clearly empty: say nothing
            found.append((float(x0), float(y0), float(x1), float(y1), ink >= TICKED_INK))
    return _distinct(found)


def _tight(dark, y0: int, y1: int, x0: int, x1: int) -> tuple[int, int]:
    """The columns of the ink that holds an edge run: the run of inked columns (rows y0..y1)
    around it, so a round letter is judged by its whole width, not by its top stroke."""
    import numpy as np

    pad = (x1 - x0) // 2 + 2
    lo, hi = max(0, x0 - pad), min(dark.shape[1], x1 + pad)
    inked = dark[y0:y1 + 1, lo:hi].any(axis=0)
    middle = min(len(inked) - 1, (x0 + x1) // 2 - lo)
    left = right = middle
    while left > 0 and inked[left - 1]:
        left -= 1
    while right < len(inked) - 1 and inked[right + 1]:
        right += 1
    return lo + left, lo + right + 1


def _square_frame(box) -> bool:
    """Whether a patch is a frame: straight left and right sides, and ink in all four corners
    (a bold "o", "p" or "d" has round sides and empty corners)."""
    import numpy as np

    rows, cols = box.shape
    if rows < 6 or cols < 6:
        return False
    c = max(2, cols // 12)
    corners = (box[:c, :c], box[:c, -c:], box[-c:, :c], box[-c:, -c:])
    if min(float(k.mean()) for k in corners) < 0.5:
        return False  # a frame's corners are square; a round letter's are empty
    if min(float(box[:3].any(axis=0).mean()), float(box[-3:].any(axis=0).mean())) < 0.85:
        return False  # a frame's top and bottom run all the way across
    middle = box[rows // 3:rows - rows // 3]
    walls = (np.argmin(middle, axis=1), np.argmin(middle[:, ::-1], axis=1))
    if max(float(np.median(w)) for w in walls) > 0.25 * cols:
        return False  # a frame is drawn with a thin line; a bold letter's strokes are thick
    inked = box.any(axis=1)
    if inked.mean() < 0.9:
        return False
    lefts = np.argmax(box, axis=1)
    rights = cols - 1 - np.argmax(box[:, ::-1], axis=1)
    spread = max(2, cols // 8)
    return bool((np.ptp(lefts) <= spread) and (np.ptp(rights) <= spread))


def _distinct(boxes: list[tuple[float, float, float, float, bool]]) -> list[tuple[float, float, float, float, bool]]:
    """One box per place (the same frame is found from runs of several widths)."""
    out: list[tuple[float, float, float, float, bool]] = []
    for box in sorted(boxes, key=lambda b: (b[1], b[0])):
        if any(abs(box[0] - o[0]) < 6 and abs(box[1] - o[1]) < 6 for o in out):
            continue
        out.append(box)
    return out


def mark_boxes(words: list[Word], image, scale: float) -> list[Word]:
    """The words with each drawn box next to an option word (before or after it) written as a
    "[x]" or "[ ]" word, and the glyph a reader made of that box dropped. `scale`: the image's
    pixels per point."""
    candidates = [w for w in words if OPTION.match(w.text)]
    if len(candidates) < 2:  # one option alone is not a form
        return list(words)
    boxes = find_boxes(image, scale)
    out = list(words)
    added = 0
    for bx0, btop, bx1, bbottom, ticked in boxes:
        x0, top, x1, bottom = bx0 / scale, btop / scale, bx1 / scale, bbottom / scale
        middle, reach = (top + bottom) / 2, 2.5 * (x1 - x0) + 3
        # an option word just after the box, or just before it (forms put boxes on either side)
        near = [w for w in candidates if w.top - 2 <= middle <= w.bottom + 2
                and (0 <= w.x0 - x1 <= reach or 0 <= x0 - w.x1 <= reach
                     or (w.x0 < x0 and x0 < w.x1 <= x1 + 2))]  # or glued to the word's end ("2+[]")
        if not near:
            continue
        word = min(near, key=lambda w: min(abs(w.x0 - x1), abs(x0 - w.x1)))
        out = [o for o in out if not _made_of_box(o, x0, top, x1, bottom)]
        out.append(Word("[x]" if ticked else "[ ]", x0, word.top, x1, word.bottom, word.line))
        added += 1
    if not added:
        return list(words)
    out.sort(key=lambda o: (o.line, o.x0))
    return out
