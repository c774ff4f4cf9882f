"""Clean report text while keeping a map back to page and original offsets; find sections and parts."""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import regex

from .model import Document

PAGE_JOINER = "\n\n"

# Characters that NFKC leaves alone but that reports use for plain ASCII meanings.
_CHAR_MAP = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'",
    "\u2265": ">=", "\u2264": "<=", "\u00b1": "+/-", "\u00a0": " ", "\t": " ", "\f": "\n",
    "\v": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n", "\r": "", "\u00ad": "", "\u200b": "", "\ufeff": "", "\u2022": "-", "\u00b7": ".",
}

# Text repairs, applied in order. Each keeps the offset map (see MappedText.sub).
# Each runs only where the text holds one of its strings, or its OCR shape (_OCR_SHAPE) one of its
# shape strings: a repair scans every character (40-90 us on a 5 kB report), a gate looks for
# a few short strings. Every match holds one of them, so skipping a repair changes nothing
# (tests/test_text.py tries that on random texts).
_REPAIRS: tuple[tuple[regex.Pattern, str, tuple[str, ...], tuple[bytes, ...]], ...] = (
    # a word hyphenated across a line break: "recep-\ntor" -> "receptor"
    (regex.compile(r"(?<=[A-Za-z]{2})-\n[ ]*(?=[a-z]{2})"), "", ("-\n",), ()),
    # a score with its plus sign split off: "2 +" -> "2+" (not "5 + 3", an Allred sum)
    (regex.compile(r"(?<=(?<![\d.,])[0-3])[ ]+(?=\+(?![ ]*\d))"), "", (" +",), ()),
    # OCR's letter O for a zero, and l/I for a one, inside a number: "7O%", "1O0", "l0%"
    (regex.compile(r"(?<=\d)[Oo](?=\s?%|\d)|(?<![A-Za-z])[Oo](?=\d{1,2}\s?%)"), "0", (), (b"#O", b"O#")),
    (regex.compile(r"(?<=\d)[lI](?=\s?%|\d)|(?<![A-Za-z])[lI](?=\d\s?%)"), "1", (), (b"#l", b"l#")),
    # OCR's zero for the letter O inside a word: "P0SITIVE", "immun0histochemistry", "rati0"
    (regex.compile(r"(?<=[A-Z])0(?=[A-Z])|(?<=[A-Z]{3})0(?![\w.,%])|(?<![\w.,])0(?=[A-Z]{1,}\b)"), "O", ("0",), ()),
    (regex.compile(r"(?<=[a-z])0(?=[a-z])|(?<=[a-z]{3})0(?![\w.,%])|(?<![\w.,])0(?=[a-z]{2,})"), "o", ("0",), ()),
    # a text table's rules ("| ER | Positive | 95 |"): cell gaps, like the spaces of an aligned table
    (regex.compile(r"(?m)(?<=\S)[ ]*\|[ ]*(?=\S)|^[ ]*\|[ ]*|[ ]*\|[ ]*$"), " ", ("|",), ()),
    # runs of spaces, and spaces at line ends
    (regex.compile(r"[ ]{2,}"), " ", ("  ",), ()),
    (regex.compile(r"[ ]+(?=\n)|(?<=\n)[ ]+"), "", (" \n", "\n "), ()),
    (regex.compile(r"\n{3,}"), "\n\n", ("\n\n\n",), ()),
)
# An ASCII text's shape for the OCR gates above: every digit "#", O and o "O", l and I "l",
# every other letter "x" ("#O" then means a digit right before an O or o).
_OCR_SHAPE = bytes.maketrans(
    b"0123456789" + b"Oo" + b"lI" + bytes(c for c in range(65, 123) if chr(c).isalpha() and chr(c) not in "OolI"),
    b"#" * 10 + b"OO" + b"ll" + b"x" * 48,
)


def _gate(text: str, needs: tuple[str, ...], shapes: tuple[bytes, ...], shape: "_OcrShape") -> bool:
    """Whether `text` holds one of `needs`, or its shape one of `shapes` (True when the text has
    no shape: it is not ASCII, and "\\d" also matches other scripts' digits)."""
    if any(need in text for need in needs):
        return True
    if not shapes:
        return False
    shaped = shape(text)
    return shaped is None or any(s in shaped for s in shapes)


class MappedText:
    """A string with, for every character, the offset of the original character it came from."""

    __slots__ = ("text", "index")

    def __init__(self, text: str, index: list[int] | None = None) -> None:
        self.text = text
        self.index = list(range(len(text))) if index is None else index

    def translate(self, convert: Callable[[str], str], changing: regex.Pattern | None = None) -> "MappedText":
        """Replace each character by `convert(char)` (zero, one or more characters).

        `changing`, when given, matches every character `convert` may change; the others are
        copied a stretch at a time instead of asked one by one (a report is mostly ASCII).
        """
        out: list[str] = []
        index: list[int] = []
        text, old = self.text, self.index
        last = 0
        runs = (m.span() for m in changing.finditer(text)) if changing is not None else [(0, len(text))]
        for start, end in runs:
            out.append(text[last:start])
            index.extend(old[last:start])
            for i in range(start, end):
                new = convert(text[i])
                out.append(new)
                index.extend([old[i]] * len(new))
            last = end
        out.append(text[last:])
        index.extend(old[last:])
        return MappedText("".join(out), index)

    def sub(self, pattern: regex.Pattern, replacement: str) -> "MappedText":
        """Like pattern.sub; replaced characters map onto the characters they replace."""
        pieces: list[str] = []
        index: list[int] = []
        last = 0
        for m in pattern.finditer(self.text):
            start, end = m.span()
            pieces.append(self.text[last:start])
            index.extend(self.index[last:start])
            new = m.expand(replacement)
            pieces.append(new)
            span = self.index[start:end] or [self.index[start] if start < len(self.index) else (self.index[-1] + 1 if self.index else 0)]
            index.extend(span[min(k, len(span) - 1)] for k in range(len(new)))
            last = end
        if not pieces:
            return self
        pieces.append(self.text[last:])
        index.extend(self.index[last:])
        return MappedText("".join(pieces), index)


# A two-column synoptic table flattened by the text layer: a run of labels with nothing after
# their colons, then the same number of short values ("ESTROGEN RECEPTORS:\nPROGESTERONE
# RECEPTORS:\nHER2/NEU:\npositive\npositive\n2+"). Four or more labels, so a heading pair
# ("DIAGNOSIS:\nCOMMENT:") is never taken for a table.
MIN_LABEL_RUN = 4
MAX_VALUE_CHARS = 30
_LABEL_ONLY = regex.compile(r"^[ \t]*[A-Za-z][^:\n]{1,80}:[ \t]*$")
_SHORT_VALUE = regex.compile(rf"^[ \t]*[^\s:][^\n]{{0,{MAX_VALUE_CHARS - 1}}}$")


def rejoin_label_columns(mapped: MappedText) -> MappedText:
    """Put each value of a flattened label/value table back after its label (offsets kept).

    The N lines right after a run of N labels are taken as the values, in order, when every
    one of them is short and none is itself a label. A value line may hold one colon
    ("Other: N/A").
    """
    text = mapped.text
    if text.count(":\n") < MIN_LABEL_RUN:
        return mapped
    bounds: list[tuple[int, int]] = []
    start = 0
    for line in text.split("\n"):
        bounds.append((start, start + len(line)))
        start += len(line) + 1
    lines = [text[a:b] for a, b in bounds]
    is_label = [bool(_LABEL_ONLY.match(ln)) for ln in lines]
    order: list[tuple[int, int] | tuple[tuple[int, int], tuple[int, int]]] = []
    i = 0
    changed = False
    while i < len(lines):
        j = i
        while j < len(lines) and is_label[j]:
            j += 1
        run = j - i
        values = lines[j:j + run]
        if (run >= MIN_LABEL_RUN and len(values) == run
                and all(_SHORT_VALUE.match(v) and not is_label[j + k] and v.count(":") <= 1
                        for k, v in enumerate(values))):
            order.extend((bounds[i + k], bounds[j + k]) for k in range(run))
            i = j + run
            changed = True
        else:
            order.extend(bounds[i:max(j, i + 1)])
            i = max(j, i + 1)
    if not changed:
        return mapped
    pieces: list[str] = []
    index: list[int] = []
    for n, item in enumerate(order):
        if n:
            pieces.append("\n")
            index.append(index[-1] if index else 0)
        if isinstance(item[0], tuple):
            (la, lb), (va, vb) = item
            label, value = text[la:lb].rstrip(), text[va:vb].strip()
            vstart = va + (len(text[va:vb]) - len(text[va:vb].lstrip()))
            pieces.extend((label, " ", value))
            index.extend(mapped.index[la:la + len(label)])
            index.append(mapped.index[vstart] if vstart < len(mapped.index) else index[-1])
            index.extend(mapped.index[vstart:vstart + len(value)])
        else:
            a, b = item
            pieces.append(text[a:b])
            index.extend(mapped.index[a:b])
    return MappedText("".join(pieces), index)


# The characters _convert_char may change: all but ASCII, and four ASCII controls (_CHAR_MAP).
_CHANGING = regex.compile(r"[^\x00-\x08\x0a\x0e-\x7f]+")


def _convert_char(ch: str) -> str:
    mapped = _CHAR_MAP.get(ch)
    if mapped is not None:
        return mapped
    if ch.isascii():
        return ch
    return unicodedata.normalize("NFKC", ch)


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of text under one heading (diagnosis, biomarkers, addendum, comment, ...)."""

    kind: str
    start: int
    end: int
    heading: str


@dataclass(frozen=True, slots=True)
class Part:
    """A specimen/part label ("Part A", "Specimen 2", "B.") and the text it governs."""

    label: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class CleanText:
    """Cleaned report text with the map back to pages and original characters."""

    text: str
    original: str
    index: tuple[int, ...]
    page_starts: tuple[int, ...]  # offset of each page in `original`; page n starts at [n-1]

    def locate(self, start: int, end: int) -> tuple[int, int, int]:
        """Map a cleaned span to (page number, start, end) in that page's original text."""
        if not self.index:
            return 1, 0, 0
        last = len(self.index) - 1
        o_start = self.index[min(start, last)]
        o_end = self.index[min(max(end - 1, start), last)] + 1
        if o_end <= o_start:  # the span crosses lines that rejoin_label_columns moved
            span = self.index[min(start, last):min(max(end, start + 1), last + 1)]
            o_start, o_end = min(span), max(span) + 1
        page = bisect.bisect_right(self.page_starts, o_start)
        base = self.page_starts[page - 1]
        return page, o_start - base, o_end - base

    def page_of(self, offset: int) -> int:
        return self.locate(offset, offset + 1)[0]

    def from_original(self, offset: int) -> int:
        """The cleaned offset of the first character at or after an `original` offset."""
        index = self.index
        at = bisect.bisect_left(index, offset)
        if at < len(index) and index[at] >= offset and (at == 0 or index[at - 1] < offset):
            return at
        return next((i for i, o in enumerate(index) if o >= offset), len(index))  # rejoined columns


def clean_text(document: Document, blanks: Sequence[Sequence[tuple[int, int]]] = ()) -> CleanText:
    """Normalize a document's pages into one cleaned text with an offset map.

    Page furniture goes: a line repeated at the top or bottom of two or more pages (a
    header, a footer with its page number), and "Page 2 of 5" / "continued" lines.
    `blanks`: per page, (start, end) spans of its text that are not to be read (unmarked form
    options, a reference-range column: statements.read_layout); they become spaces in the
    cleaned text, while `original` keeps the page text for evidence.
    """
    starts: list[int] = []
    pos = 0
    for page in document.pages:
        starts.append(pos)
        pos += len(page.text) + len(PAGE_JOINER)
    texts = [p.text for p in document.pages]
    original = PAGE_JOINER.join(texts)
    if any(blanks):
        texts = [blank_spans(text, spans) for text, spans in zip(texts, list(blanks) + [()] * len(texts))]
    furniture = _furniture_pattern(texts)
    clean = clean_string(PAGE_JOINER.join(texts), tuple(starts) or (0,), furniture)
    return clean if not any(blanks) else CleanText(clean.text, original, clean.index, clean.page_starts)


def blank_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with the characters of `spans` turned into spaces: same length. A line that held
    text and is left blank gives up its line break too, so it does not read as a paragraph
    break between a label and its value ("HER2 (IHC)" / blanked options / "_X_ 2+")."""
    chars = list(text)
    touched: set[int] = set()
    for start, end in spans:
        for i in range(max(0, start), min(len(chars), end)):
            if chars[i] != "\n":
                chars[i] = " "
                touched.add(text.rfind("\n", 0, i) + 1)
    for first in touched:
        last = text.find("\n", first)
        if last >= 0 and not "".join(chars[first:last]).strip() and text[first:last].strip():
            chars[last] = " "
    return "".join(chars)


EDGE_LINES = 4  # how many lines at a page's top and bottom may be furniture
_PAGE_LINE = regex.compile(
    r"(?im)^[ \t]*(?:[-*=_ ]*(?:page\s{0,3}\d{1,3}\s{0,3}(?:of|/)\s{0,3}\d{1,3}|\*{0,2}\s{0,2}continued\s{1,3}on\s{1,3}next\s{1,3}page\s{0,2}\*{0,2}|-\s{0,2}\d{1,3}\s{0,2}-)[-*=_ ]*)[ \t]*$\n?"
)


# _PAGE_LINE's gate: its first two kinds hold "page", the third a number between dashes
_DASH_NUMBER = regex.compile(r"-\s{0,2}\d{1,3}\s{0,2}-")


def _may_hold_page_line(text: str) -> bool:
    return not text.isascii() or "page" in text.lower() or _DASH_NUMBER.search(text) is not None


class _OcrShape:
    """The text's OCR shape (see _OCR_SHAPE), made once per text and only when a gate asks."""

    __slots__ = ("text", "shaped")

    def __init__(self) -> None:
        self.text: str | None = None
        self.shaped: bytes | None = None

    def __call__(self, text: str) -> bytes | None:
        if text is not self.text:
            self.text = text
            self.shaped = text.encode("ascii").translate(_OCR_SHAPE) if text.isascii() else None
        return self.shaped


def _shape(line: str) -> str:
    return regex.sub(r"\d+", "#", " ".join(line.split()))


def _furniture_pattern(pages: list[str]) -> regex.Pattern | None:
    """A pattern for lines repeated at the edges of two or more pages (digits may differ)."""
    if len(pages) < 2:
        return None
    seen: dict[str, int] = {}
    for text in pages:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        edges = {_shape(ln) for ln in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}
        for shape in edges:
            seen[shape] = seen.get(shape, 0) + 1
    repeated = [s for s, n in seen.items() if n >= 2 and len(s) >= 8 and not _biomarker_line(s)]
    if not repeated:
        return None
    body = "|".join(
        r"[ \t]*".join(regex.escape(part).replace("\\#", "#").replace("#", r"\d+") for part in s.split(" "))
        for s in sorted(repeated, key=len, reverse=True)
    )
    return regex.compile(rf"(?m)^[ \t]*(?:{body})[ \t]*$\n?")


def _biomarker_line(shape: str) -> bool:
    """Never drop a repeated line that reports a marker (a result repeated on two pages)."""
    return bool(regex.search(r"(?i)\b(?:HER-?2|ER|PR|PgR|estrogen|progesterone|Ki-?67|FISH|ratio)\b", shape))


def clean_string(
    original: str, page_starts: tuple[int, ...] = (0,), furniture: regex.Pattern | None = None
) -> CleanText:
    """Normalize one string (unicode NFKC, dashes, split scores, spaces), keeping offsets."""
    mapped = MappedText(original)
    if not original.isascii() or any(ch in original for ch in "\t\f\v\r"):
        mapped = mapped.translate(_convert_char, _CHANGING)
    if furniture is not None:
        mapped = mapped.sub(furniture, "")
    if _may_hold_page_line(mapped.text):
        mapped = mapped.sub(_PAGE_LINE, "")
    mapped = rejoin_label_columns(mapped)
    shape = _OcrShape()
    for pattern, replacement, needs, shapes in _REPAIRS:
        if _gate(mapped.text, needs, shapes, shape):
            mapped = mapped.sub(pattern, replacement)
    return CleanText(mapped.text, original, tuple(mapped.index), page_starts)


def find_spans(text: str, heads: Iterable[tuple[str, regex.Pattern, int, bool]]) -> list[Section]:
    """Cut text into sections at every heading match.

    `heads` gives (kind, pattern, longest, paragraph) per heading rule: a section runs to
    the next heading, or for at most `longest` characters when that is not 0 (OCR text has
    no blank lines to end a method note), or to the first blank line when `paragraph`, or to
    the end of its first line of text when `paragraph` is "line".
    """
    hits: list[tuple[int, int, str, str, int, bool]] = []
    for kind, pattern, longest, paragraph in heads:
        for m in pattern.finditer(text):
            hits.append((m.start(), -m.end(), kind, m.group(0), longest, paragraph))
    hits.sort()
    starts: list[tuple[int, int, str, str, int, bool]] = []
    for start, neg_end, kind, heading, longest, paragraph in hits:
        if starts and starts[-1][0] == start:
            continue  # the longest heading at one position wins
        starts.append((start, -neg_end, kind, heading.strip(), longest, paragraph))
    sections = []
    for i, (start, head_end, kind, heading, longest, paragraph) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        if longest:
            end = min(end, start + longest)
        if paragraph == "line":  # a one-line field: its first line of text, on the heading's line or the next
            body = head_end + len(text[head_end:end]) - len(text[head_end:end].lstrip())
            stop = text.find("\n", body, end)
            end = stop if stop >= 0 else end
        elif paragraph:
            body = head_end + len(text[head_end:end]) - len(text[head_end:end].lstrip())
            blank = _BLANK_LINE.search(text, body, end)
            end = blank.start() if blank else end
        sections.append(Section(kind, start, end, heading))
    return sections


_BLANK_LINE = regex.compile(r"\n[ ]*\n")
