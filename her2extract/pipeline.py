"""The one place that knows the stage order: file -> document -> text -> findings -> record."""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path

from .errors import Her2ExtractError, UnreadableDocument
from .ingest import MAX_BYTES, MAX_PAGES, ocr_available, read_bytes, read_file_bytes
from .interpret import interpret
from .match import MAX_MENTIONS, Matcher, Trigger
from .model import Document, Doubt, Evidence, Her2Record, TextSource
from .normalize import Context, build_record, stated_markers, to_mentions
from .readings import compare
from .rules import load_rules
from .statements import read_layout
from .text import PAGE_JOINER, clean_string, clean_text

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def default_matcher(patterns: str | None = None) -> Matcher:
    """Load and compile the bundled rules (plus a user's folder) once per process."""
    return Matcher(load_rules(extra=patterns))


# A text this long that compresses this well is one thing said over and over (a generated or
# hostile file), not a report: it is refused at once instead of keeping a worker busy.
REPETITIVE_MIN_CHARS = 100_000
REPETITIVE_RATIO = 25.0
TIMED_OUT = "time-out: a pattern took too long on this file"


def extract_document(document: Document, matcher: Matcher | None = None,
                     abstain: dict[str, tuple[Doubt, str]] | None = None) -> Her2Record:
    """Extract and interpret one read document. Total: any text gives a record.

    A pathological text (see repetitive()) or a pattern that runs past its time limit gives an
    error record with the reason, never an exception. `abstain`: fields left empty whatever the
    text says, each with its doubt and warning (two readings that disagree: readings.compare).
    """
    matcher = matcher or default_matcher()
    why = repetitive(document)
    if why:
        return error_record(document.source, why)
    try:
        return _extract_document(document, matcher, abstain or {})
    except TimeoutError:
        return error_record(document.source, TIMED_OUT)


def repetitive(document: Document) -> str:
    """A reason when the document's text is long and one thing repeated; "" otherwise."""
    import zlib

    size = sum(len(p.text) for p in document.pages)
    if size < REPETITIVE_MIN_CHARS:
        return ""
    data = "".join(p.text for p in document.pages).encode("utf-8", errors="replace")
    ratio = len(data) / max(1, len(zlib.compress(data, 1)))
    if ratio < REPETITIVE_RATIO:
        return ""
    return (f"repetitive text: {size:,} characters that compress {ratio:.0f}-fold; "
            "this is not read as a pathology report")


def _extract_document(document: Document, matcher: Matcher, abstain: dict[str, tuple[Doubt, str]]) -> Her2Record:
    readings = [read_layout(page.text) for page in document.pages]
    clean = clean_text(document, [r.blanks() for r in readings])
    unread_notes, unread_doubts = _unread(document, readings, clean)
    text = clean.text
    sections = matcher.sections(text)
    # a new section ends every assertion's scope
    bounds = [Trigger("section", "terminate", "both", 0, s.start, s.start) for s in sections]
    triggers = sorted(matcher.triggers(text) + bounds, key=lambda t: t.start)
    parts = matcher.parts(text)
    ctx = Context(clean, sections, parts, triggers)
    mentions, warnings = to_mentions(matcher.findings(text), ctx)
    if abstain:
        mentions = [m for m in mentions if m.field not in abstain]
        unread_doubts += tuple(doubt for doubt, _ in abstain.values())
        warnings += [note for _, note in abstain.values()]
    base = Her2Record(
        source=document.source, pages=len(document.pages), text_source=document.text_source,
    )
    addenda = sum(1 for s in sections if s.kind == "addendum")
    capped = [f"too-many-mentions: {marker.upper()} is named more than {MAX_MENTIONS} times, only the first "
              f"{MAX_MENTIONS} were read" for marker in matcher.capped(text)]
    base = dataclasses.replace(base, doubts=unread_doubts)
    record = build_record(base, mentions, list(document.warnings) + unread_notes + warnings + capped,
                          matcher.part_facts(text, parts), addenda, stated_markers(ctx))
    meaning = interpret(record)
    return dataclasses.replace(
        record,
        **{name: None for name in meaning.drop},
        evidence=tuple(e for e in record.evidence if e.field not in meaning.drop),
        doubts=record.doubts + meaning.doubts,
        her2_ish_group=meaning.her2_ish_group,
        her2_status=meaning.her2_status,
        her2_category=meaning.her2_category,
        subtype=meaning.subtype,
        warnings=tuple(dict.fromkeys(record.warnings + meaning.warnings)),
        explanation=tuple((e.topic, e.text) for e in meaning.explanation),
        questions=meaning.questions,
        guideline=meaning.guideline,
        disclaimer=meaning.disclaimer,
    )


# What a doubt left unread says to a patient, by its code.
_UNREAD_WORDS = {
    "form-unticked": "the report prints the choices for {names} and none of them is marked",
    "form-ambiguous": "the report marks more than one of the printed choices for {names}",
    "layout-shift": "the {names} results in a table of the report do not line up with their labels",
    "specimen-columns": "the report gives {names} results side by side for two specimens that disagree and "
                        "does not say which one is reported",
}


def _unread(document: Document, readings: list, clean) -> tuple[list[str], tuple[Doubt, ...]]:
    """The warnings and doubts of what statements.read_layout left unread (one per statement)."""
    notes: list[str] = []
    doubts: list[Doubt] = []
    seen: set[tuple[int, tuple[int, int]]] = set()
    base = 0
    for page, reading in zip(document.pages, readings):
        for u in reading.unread:
            if not u.note or (page.number, u.statement) in seen:
                continue
            seen.add((page.number, u.statement))
            notes.append(u.note)
            start = clean.from_original(base + u.statement[0])
            end = max(start, clean.from_original(base + u.statement[1]))
            words = _UNREAD_WORDS[u.code].format(names=" and ".join(m.upper() for m in u.markers))
            evidence = Evidence(field=f"{u.markers[0]}_layout", rule_id=f"layout.{u.code}",
                                text=page.text[u.statement[0]:u.statement[1]], start=start, end=end,
                                page=page.number, page_start=u.statement[0], page_end=u.statement[1])
            doubts += [Doubt(marker, u.code, words, (evidence,)) for marker in u.markers]
        base += len(page.text) + len(PAGE_JOINER)
    return notes, tuple(doubts)


def extract_file(
    path: str | Path, *, matcher: Matcher | None = None, max_bytes: int = MAX_BYTES,
    max_pages: int = MAX_PAGES, ocr: str = "auto",
) -> Her2Record:
    """Extract one report file. Raises UnreadableDocument for files that cannot be read.

    `ocr`: "auto" reads pages without a usable text layer with Tesseract, "always" every
    PDF page, "never" none.
    """
    return read_and_extract(path, matcher=matcher, max_bytes=max_bytes, max_pages=max_pages, ocr=ocr)[1]


def read_and_extract(
    path: str | Path, *, matcher: Matcher | None = None, max_bytes: int = MAX_BYTES,
    max_pages: int = MAX_PAGES, ocr: str = "auto",
) -> tuple[Document, Her2Record]:
    """Extract one report file, with the document its evidence points into (see read_and_extract_bytes)."""
    data = read_file_bytes(path, max_bytes=max_bytes)
    return read_and_extract_bytes(data, str(path), matcher=matcher, max_pages=max_pages, ocr=ocr)


def read_and_extract_bytes(
    data: bytes, source: str, *, matcher: Matcher | None = None, max_pages: int = MAX_PAGES,
    ocr: str = "auto",
) -> tuple[Document, Her2Record]:
    """Extract one report held in memory (PDF or text, told apart by content).

    In "auto" mode, scanned pages whose text layer names a marker are read again with OCR
    (pages_to_reread); where the two readings disagree, readings.compare decides: the reading
    whose labels and values pair up by position is kept, else the value is left empty (a
    conflict naming both).
    """
    matcher = matcher or default_matcher()
    document = read_bytes(data, source, max_pages=max_pages, ocr=ocr)
    record = extract_document(document, matcher)
    if ocr != "auto" or not ocr_available() or record.status != "ok":
        return document, record
    pages = pages_to_reread(document, matcher)
    if not pages:
        return document, record
    again = read_bytes(data, source, max_pages=max_pages, ocr=ocr, ocr_pages=pages)
    second = extract_document(again, matcher)
    verdict = compare(record, second, document, again, pages)
    chosen_doc, chosen = (again, second) if verdict.second else (document, record)
    if verdict.abstain:
        chosen = extract_document(chosen_doc, matcher, verdict.abstain)
    if verdict.note:
        chosen = dataclasses.replace(chosen, warnings=chosen.warnings + (verdict.note,))
    return chosen_doc, chosen


def pages_to_reread(document: Document, matcher: Matcher) -> frozenset[int]:
    """Text-layer pages to read again from their image: every scanned page that names a marker
    (its text layer is another engine's reading, whose pairing of labels and values cannot be
    checked). A born-digital page is never read again: its text layer is the page.

    The text layers of scanned reports are old OCR; where one garbles a result ("HER2 (G/1+)",
    a heading lost in noise) or pairs a value with the wrong label, Tesseract on the page
    image, laid out by position, often reads it.
    """
    out = set()
    for page in document.pages:
        # a born-digital page's text layer is the page itself: its picture can only be misread
        if page.source is not TextSource.PDF or not page.scan:
            continue
        if matcher.markers(clean_string(page.text).text):
            out.add(page.number)
    return frozenset(out)


def extract_text(text: str, source: str = "<text>", matcher: Matcher | None = None) -> Her2Record:
    """Extract from report text already in memory."""
    return extract_document(read_bytes(text.encode("utf-8"), source), matcher)


def extract(path: str | Path, **kwargs) -> Her2Record:
    """Extract one report file (the public one-call API)."""
    return extract_file(path, **kwargs)


def safe_extract(path: str | Path, *, matcher: Matcher | None = None, max_bytes: int = MAX_BYTES,
                 max_pages: int = MAX_PAGES, ocr: str = "auto") -> Her2Record:
    """Extract one file; a bad file becomes an error record instead of an exception."""
    return safe_read_and_extract(path, matcher=matcher, max_bytes=max_bytes, max_pages=max_pages, ocr=ocr)[1]


def safe_read_and_extract(
    path: str | Path, *, matcher: Matcher | None = None, max_bytes: int = MAX_BYTES,
    max_pages: int = MAX_PAGES, ocr: str = "auto",
) -> tuple[Document | None, Her2Record]:
    """read_and_extract that never raises: a bad file gives (None, an error record)."""
    return _safely(str(path), lambda: read_and_extract(
        path, matcher=matcher, max_bytes=max_bytes, max_pages=max_pages, ocr=ocr))


def safe_read_and_extract_bytes(
    data: bytes, source: str, *, matcher: Matcher | None = None, max_pages: int = MAX_PAGES, ocr: str = "auto",
) -> tuple[Document | None, Her2Record]:
    """read_and_extract_bytes that never raises: bad bytes give (None, an error record)."""
    return _safely(source, lambda: read_and_extract_bytes(data, source, matcher=matcher, max_pages=max_pages, ocr=ocr))


def _safely(source: str, run) -> tuple[Document | None, Her2Record]:
    try:
        return run()
    except UnreadableDocument as exc:
        return None, error_record(source, exc.reason)
    except Her2ExtractError as exc:
        return None, error_record(source, str(exc))
    except TimeoutError:
        return None, error_record(source, TIMED_OUT)
    except Exception as exc:  # a bug must cost one row, never the batch (DESIGN.md: bad input)
        log.error("internal error (%s) while extracting one file", type(exc).__name__)
        return None, error_record(source, f"internal error: {type(exc).__name__}")


def error_record(source: str, reason: str) -> Her2Record:
    return Her2Record(source=source, status="error", error=reason, text_source=None)
