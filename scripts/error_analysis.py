"""List every wrong and missed value on a labelled corpus, with its context, grouped by cause.

usage: .venv/bin/python scripts/error_analysis.py REPORTS_DIR LABELS.jsonl [--fields f1,f2] [--context 80]

Reads the gold labels (the corpus format of ../shared/corpus: each field a list of acceptable
answers, [] = not stated), runs the extractor on every report and prints, per cause:

  wrong: <rule id>            a value the gold does not accept, by the rule that produced it
  missed: dropped as <kind>   the value was found but asserted historical/pending/...
  missed: found, not chosen   found as present, but another value won (or the field was emptied)
  missed: conflict            the field was left empty because values disagreed
  missed: no rule matched     the gold value is in the text but no rule took it
  missed: not in the text     the value is not in the text as written (OCR, layout, wording)

Report text is printed to the terminal only; nothing is written to disk.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from her2extract.export import to_row
from her2extract.ingest import SUFFIXES, read_document
from her2extract.pipeline import default_matcher, safe_extract
from her2extract.text import clean_text

FIELDS = [
    "her2_ihc_score", "her2_ihc_percent", "her2_ish_method", "her2_ish_ratio", "her2_ish_her2_copies",
    "her2_ish_cep17_copies", "her2_ish_cells", "her2_ish_result", "her2_reported", "er_percent",
    "er_intensity", "er_allred", "pr_percent", "pr_intensity", "pr_allred", "ki67_percent",
]


DERIVED = ["her2_status", "er_status", "pr_status", "subtype"]


def load_scorer(labels: Path):
    """The corpus's score.py (next to the labels or above them), for the derived columns' answers."""
    for folder in labels.resolve().parents:
        script = folder / "score.py"
        if script.is_file():
            spec = importlib.util.spec_from_file_location("corpus_score", script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def canon(value: str) -> str:
    text = str(value).strip().lower().replace("%", "").replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return f"{float(text):g}"
    return text


def snippet(text: str, start: int, end: int, width: int) -> str:
    left, right = max(0, start - width), min(len(text), end + width)
    return " ".join((text[left:start] + "[[" + text[start:end] + "]]" + text[end:right]).split())


def locate(text: str, value: str) -> int:
    """Where a gold value appears in the text, or -1 (numbers match as whole numbers)."""
    if not value:
        return -1
    pattern = re.escape(value) if not re.fullmatch(r"[\d.]+", value) else rf"(?<![\d.]){re.escape(value)}(?![\d])"
    m = re.search(pattern, text, re.I)
    return m.start() if m else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--fields", default=",".join(FIELDS))
    parser.add_argument("--context", type=int, default=80)
    args = parser.parse_args()
    fields = args.fields.split(",")
    gold = {}
    for line in args.labels.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            gold[row["id"]] = row
    scorer = load_scorer(args.labels)
    if scorer is None and any(f in DERIVED for f in fields):
        print("no score.py found above the labels: derived columns are skipped", file=sys.stderr)
        fields = [f for f in fields if f not in DERIVED]
    matcher = default_matcher()
    groups: dict[str, list[str]] = defaultdict(list)
    for path in sorted(p for p in args.reports.iterdir() if p.suffix.lower() in SUFFIXES):
        key = path.stem
        if key not in gold:
            continue
        record = safe_extract(path, matcher=matcher)
        if record.status != "ok":
            groups["error row"].append(f"{key[:12]}: {record.error}")
            continue
        row = to_row(record)
        text = clean_text(read_document(path)).text
        derived = scorer.derived_options(gold[key]) if scorer else {}
        for field in fields:
            if field in derived:  # score.py's own answers and spelling for the derived columns
                accepted = {a.replace(" ", "") for a in derived[field]}
                got = scorer.norm(row.get(field, "")).replace(" ", "")
            else:
                accepted = {canon(v) for v in gold[key].get(field, [])} or {""}
                got = canon(row.get(field, ""))
            if got in accepted or (not got and "" in accepted):
                continue
            if got:
                ev = next((e for e in record.evidence if e.field == field), None)
                where = snippet(text, ev.start, ev.end, args.context) if ev else "(derived)"
                cause = f"wrong: {ev.rule_id if ev else 'derived'}"
                groups[cause].append(f"{key[:12]} {field}: got {got!r}, gold {sorted(accepted)} | {where}")
                continue
            wanted = sorted(a for a in accepted if a)
            dropped = [m for m in record.mentions if m.field == field and canon(str(m.value)) in accepted]
            if dropped:
                m = dropped[0]
                cause = ("missed: found, not chosen" if m.evidence.assertion.value == "present"
                         else f"missed: dropped as {m.evidence.assertion.value}")
                where = snippet(text, m.evidence.start, m.evidence.end, args.context)
            elif any(w.startswith(f"conflict: {field}") for w in record.warnings):
                cause, where = "missed: conflict", next(w for w in record.warnings if w.startswith(f"conflict: {field}"))
            else:
                at = next((locate(text, w) for w in wanted if locate(text, w) >= 0), -1)
                cause = "missed: no rule matched" if at >= 0 else "missed: not in the text"
                where = snippet(text, at, at + len(wanted[0]), args.context) if at >= 0 else ""
            groups[cause].append(f"{key[:12]} {field}: gold {wanted} | {where}")
    for cause in sorted(groups, key=lambda c: (-len(groups[c]), c)):
        print(f"\n== {cause} ({len(groups[cause])})")
        for line in groups[cause]:
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
