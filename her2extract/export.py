"""Records to rows: the CSV of DESIGN.md (pandas) and JSONL with every value's evidence."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import Iterable, TextIO

from .model import CSV_COLUMNS, Evidence, Her2Record, Mention, plain_number


# What joins a row's warnings in one CSV cell (no warning holds it: split on it to get them back).
WARNING_JOIN = " | "


def cell(value: object) -> str:
    """One CSV cell: empty for None, plain numbers, enum values, warnings joined with " | "."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return plain_number(value)
    if isinstance(value, (tuple, list)):
        # a warning quoting a pipe-ruled table keeps its words, not the separator
        return WARNING_JOIN.join(cell(v).replace(WARNING_JOIN, " / ") for v in value)
    return str(value)


_ERROR_ROW = frozenset({"source", "status", "error"})


def to_row(record: Her2Record) -> dict[str, str]:
    """The record as one CSV row: exactly the contract's columns, in order. An error row holds
    its source, status and reason and nothing else (no "unknown": that means "read, no result")."""
    if record.status == "error":
        return {name: cell(getattr(record, name)) if name in _ERROR_ROW else "" for name in CSV_COLUMNS}
    return {name: cell(getattr(record, name)) for name in CSV_COLUMNS}


_EVIDENCE_FIELDS = tuple(f.name for f in dataclasses.fields(Evidence))  # all plain str/int but assertion


def _evidence_dict(ev: Evidence) -> dict:
    # not dataclasses.asdict: it deep-copies every value, a third of a batch's time with --jsonl
    out = {name: getattr(ev, name) for name in _EVIDENCE_FIELDS}
    out["assertion"] = ev.assertion.value
    return out


def _mention_dict(m: Mention) -> dict:
    return {"field": m.field, "value": cell(m.value), "in_situ": m.in_situ, "evidence": _evidence_dict(m.evidence)}


def to_json(record: Her2Record) -> dict:
    """The record as JSON: the row, the evidence of every value, and every result found."""
    out: dict = dict(to_row(record))
    out["warnings"] = list(record.warnings)
    out["evidence"] = {ev.field: _evidence_dict(ev) for ev in record.evidence}
    out["explanation"] = {
        "results": [{"topic": topic, "text": text} for topic, text in record.explanation],
        "questions": list(record.questions),
        "guideline": record.guideline,
        "disclaimer": record.disclaimer,
    }
    out["results"] = [_mention_dict(m) for m in record.mentions]
    # what was left empty on purpose, and the evidence on each side
    out["unclear"] = [{"marker": d.marker, "code": d.code, "text": d.text,
                       "evidence": [_evidence_dict(e) for e in d.evidence]} for d in record.doubts]
    return out


# --per-result: one row per result found (every specimen, test and statement), DESIGN.md.
RESULT_COLUMNS = ("source", "field", "value", "reported", "assertion", "specimen", "section", "in_situ",
                  "page", "page_start", "page_end", "rule_id", "text")


def result_rows(record: Her2Record) -> list[dict[str, str]]:
    """Every result the report states, chosen or not: `reported` says whether it is the row's value."""
    chosen = {(ev.field, ev.start, ev.end) for ev in record.evidence}
    rows, seen = [], set()
    for m in record.mentions:
        ev = m.evidence
        key = (m.field, cell(m.value), ev.start, ev.end)
        if key in seen:  # two rules read the same words the same way
            continue
        seen.add(key)
        rows.append({
            "source": record.source, "field": m.field, "value": cell(m.value),
            "reported": "yes" if (ev.field, ev.start, ev.end) in chosen else "no",
            "assertion": ev.assertion.value, "specimen": ev.specimen, "section": ev.section,
            "in_situ": "yes" if m.in_situ else "no", "page": str(ev.page), "page_start": str(ev.page_start),
            "page_end": str(ev.page_end), "rule_id": ev.rule_id, "text": ev.text,
        })
    return rows


# A cell a spreadsheet would run as a formula starts with one of these (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs: one starting with = + - @, a tab or a carriage return
    (a file named "=HYPERLINK(...).txt") gets a leading apostrophe, which spreadsheets show
    and plain_cell takes off again."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def plain_cell(text: str) -> str:
    """A cell as written by safe_cell, back to its value."""
    return text[1:] if text[:1] == "'" and text[1:2] and text[1:].startswith(FORMULA_START) else text


def write_csv(records: Iterable[Her2Record], path: str | Path | TextIO) -> int:
    """Write records as CSV with the DESIGN.md header (cells made safe for spreadsheets:
    safe_cell); returns the number of rows."""
    import pandas as pd

    rows = [{k: safe_cell(v) for k, v in to_row(r).items()} for r in records]
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS), dtype=str)
    frame.to_csv(path, index=False)
    return len(rows)


def write_jsonl(records: Iterable[Her2Record], path: str | Path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(to_json(record), ensure_ascii=False) + "\n")
            count += 1
    return count
