"""Two readings of one scanned page that disagree: neither wins by default.

A scanned PDF's text layer is some OCR engine's reading, in its stream order; the second
reading is Tesseract's, laid out by the page model from its word boxes on the page image
(layout.py), so its labels and values pair up by position. For every value the two records
state differently:

- the same characters in both readings, paired with different labels: a layout disagreement,
  and the positional reading (OCR, unless its own page shows a slipped row) is kept;
- different characters (a digit read two ways): a conflict, and the value is left empty with
  a `conflict` warning naming both readings.

Values one reading has and the other lacks are kept from the one that has them; the chosen
document is the one whose reading wins more of them (pipeline.read_and_extract_bytes extracts
it again, leaving the conflicted fields empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

from .model import Document, Doubt, Evidence, Her2Record, Status, plain_number
from .statements import read_layout

# The stated fields two readings are compared on (derived statuses follow from them).
FIELDS = (
    "her2_ihc_score", "her2_ihc_percent", "her2_ish_method", "her2_ish_ratio", "her2_ish_her2_copies",
    "her2_ish_cep17_copies", "her2_ish_cells", "her2_ish_result", "her2_reported", "er_reported",
    "er_percent", "er_intensity", "er_allred", "pr_reported", "pr_percent", "pr_intensity", "pr_allred",
    "ki67_percent",
)
# Fields that decide a status weigh more when the two readings are counted against each other.
CORE = frozenset({"her2_ihc_score", "her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_result",
                  "her2_reported", "er_reported", "er_percent", "pr_reported", "pr_percent"})
_OPEN = (None, Status.UNKNOWN, Status.PENDING)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which reading to keep, and the fields to leave empty (each with its doubt and warning)."""

    second: bool
    abstain: dict[str, tuple[Doubt, str]] = field(default_factory=dict)
    note: str = ""


def _cell(value: object) -> str:
    return plain_number(value) if isinstance(value, float) else "" if value in _OPEN else str(value)


def _squeezed(text: str) -> str:
    return regex.sub(r"\s+", " ", text.lower()).strip()


def compare(first: Her2Record, second: Her2Record, first_doc: Document, second_doc: Document,
            pages: frozenset[int]) -> Verdict:
    """The verdict on two readings of a document (see the module's docstring)."""
    if second.status != "ok":
        return Verdict(False)
    a_ev = {e.field: e for e in first.evidence}
    b_ev = {e.field: e for e in second.evidence}
    positional = not any(u.code == "layout-shift" for page in second_doc.pages if page.number in pages
                         for u in read_layout(page.text).unread)
    # a marker the text layer shows as a printed option list with no mark: the image's reading
    # may not fill it from that list (an OCR engine misses boxes more often than it invents them)
    forms = {d.marker for d in first.doubts if d.code in ("form-unticked", "form-ambiguous")}
    win_b, keep_a, layout, conflicts = [], [], [], []
    for name in FIELDS:
        a, b = _cell(getattr(first, name)), _cell(getattr(second, name))
        if a == b:
            continue
        if not a:
            ev = b_ev.get(name)
            if ev is None or ev.page not in pages or name.split("_", 1)[0] in forms:
                continue
            if _uncorroborated(ev, first_doc):  # a number the text layer reads nowhere: a misread digit?
                conflicts.append(name)
            else:
                win_b.append(name)
            continue
        if not b:
            keep_a.append(name)
            continue
        if _same_characters(a_ev.get(name), b_ev.get(name), first_doc, second_doc) and positional:
            layout.append(name)
        else:
            conflicts.append(name)

    def weight(names: list[str]) -> int:
        return sum(2 if n in CORE else 1 for n in names)

    take_second = bool(win_b or layout) and weight(win_b + layout) > weight(keep_a)
    abstain = {name: _conflict(name, first, second, a_ev.get(name), b_ev.get(name)) for name in conflicts}
    if not take_second:  # the text layer is kept: where its pairing lost to the positional one, it is no value
        abstain.update({name: _conflict(name, first, second, a_ev.get(name), b_ev.get(name)) for name in layout})
    listed = ", ".join(str(n) for n in sorted(pages))
    note = ""
    if take_second:
        note = (f"ocr-reread: page(s) {listed} read from the page image (OCR), whose labels and values "
                "pair up by position, while the text layer gave " + ("no result there" if not layout else
                                                              "values paired with other labels"))
    return Verdict(take_second, abstain, note)


def _same_characters(a: Evidence | None, b: Evidence | None, first_doc: Document, second_doc: Document) -> bool:
    """Whether each reading's value text is also in the other reading's page: the readings saw
    the same characters and paired them with different labels."""
    if a is None or b is None:
        return False
    a_page = next((p.text for p in first_doc.pages if p.number == a.page), "")
    b_page = next((p.text for p in second_doc.pages if p.number == b.page), "")
    return _holds(_squeezed(b_page), _squeezed(a.text)) and _holds(_squeezed(a_page), _squeezed(b.text))


# How far from the words of its statement a number is looked for in the other reading.
NEAR = 200


def _uncorroborated(b: Evidence, first_doc: Document) -> bool:
    """A number the image's reading adds that the page's text layer contradicts: the text layer
    has the statement (its longer words) but not the number near them, even allowing for its
    OCR's letters for digits ("6O%", "2O1k"): one of the two engines misread a digit, and
    which one cannot be told. A text layer that lacks the statement says nothing against it."""
    page = next((p for p in first_doc.pages if p.number == b.page), None)
    if page is None or not page.text.strip() or not any(ch.isdigit() for ch in b.text):
        return False
    layer = _digits_repaired(page.text)
    anchors = [w for w in regex.findall(r"[A-Za-z]{6,}", b.context or b.text)]
    places = [m.start() for w in anchors for m in regex.finditer(regex.escape(w), layer, flags=regex.I)]
    if not places:
        return False
    numbers = [regex.sub(r"[.,]", r"\\s?[.,]?\\s?", n) for n in regex.findall(r"\d+(?:[.,]\d+)?", b.text)]
    return not any(all(regex.search(n, layer[max(0, at - NEAR):at + NEAR]) for n in numbers) for at in places)


def _digits_repaired(text: str) -> str:
    """A text layer with the letters OCR makes of digits next to digits turned back ("6O" -> "60")."""
    text = regex.sub(r"(?<=\d)[Oo]|[Oo](?=\d)", "0", text)
    return regex.sub(r"(?<=\d)[lI|]|[lI|](?=\d)", "1", text)


def _holds(page: str, value: str) -> bool:
    """Whether `page` holds `value` as a whole ("21%" does not hold "1%")."""
    return bool(value) and regex.search(rf"(?<![\w.]){regex.escape(value)}(?![\w.])", page) is not None


_MARKER_WORDS = {"her2": "HER2", "er": "ER", "pr": "PR", "ki67": "Ki-67"}


def _conflict(name: str, first: Her2Record, second: Her2Record, a: Evidence | None,
              b: Evidence | None) -> tuple[Doubt, str]:
    from .normalize import field_words

    first_value, second_value = _cell(getattr(first, name)), _cell(getattr(second, name))
    words = field_words(name)
    text = f"{words} reads {first_value} in the PDF's text and {second_value} on the page image"
    warning = (f"conflict: {words}: the text layer reads {first_value} and the page image (OCR) "
               f"reads {second_value}, left empty")
    marker = name.split("_", 1)[0]
    return Doubt(marker, "reading", text, tuple(e for e in (a, b) if e is not None)), warning
