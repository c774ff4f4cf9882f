"""Old and new matching side by side (issue 21's migration): the record as today, and the record
with one family's findings taken from the statement reader (recognize.py + link.py) instead of
the regex rules, for every report of a folder; prints each value that differs.

usage: .venv/bin/python scripts/side_by_side.py FOLDER [--family erpr] [--ocr never|auto] [--csv-old A.csv --csv-new B.csv]

With --csv-old/--csv-new, writes both runs as CSV, to score each with score.py. Report text is
printed only for differing values (the statement), so run it on the dev corpus, not on a
user's reports.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from her2extract.export import to_row
from her2extract.link import Linker
from her2extract.match import Finding, Matcher
from her2extract.model import CSV_COLUMNS
from her2extract.pipeline import default_matcher, extract_file
from her2extract.rules import load_rules

FAMILIES = {"erpr": ("er_reported", "er_percent", "er_intensity", "er_allred",
                     "pr_reported", "pr_percent", "pr_intensity", "pr_allred", "hr_reported")}


class ReaderMatcher(Matcher):
    """The regex rules, with `family`'s findings from the statement reader instead."""

    def __init__(self, rules, family: tuple[str, ...]) -> None:
        super().__init__(rules)
        self.family = family
        self.linker = Linker()

    def findings(self, text: str) -> list[Finding]:
        kept = [f for f in super().findings(text) if f.field not in self.family]
        facts, _ = self.linker.facts(text)
        new = [Finding(f"reader.{fact.strategy}", fact.field, fact.value, fact.start, fact.end, *fact.span)
               for fact in facts if fact.field in self.family]
        return sorted(kept + new, key=lambda f: (f.start, f.end))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--family", default="erpr", choices=sorted(FAMILIES))
    parser.add_argument("--csv-old", type=Path)
    parser.add_argument("--csv-new", type=Path)
    parser.add_argument("--ocr", default="never", choices=("auto", "always", "never"))
    args = parser.parse_args()
    family = FAMILIES[args.family]
    old_matcher = default_matcher()
    new_matcher = ReaderMatcher(load_rules(), family)
    rows_old, rows_new = [], []
    shown = sorted(set(family) & set(CSV_COLUMNS) | {"er_status", "pr_status"})
    differ = 0
    for path in sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".txt", ".pdf")):
        old = to_row(extract_file(path, matcher=old_matcher, ocr=args.ocr))
        new_record = extract_file(path, matcher=new_matcher, ocr=args.ocr)
        new = to_row(new_record)
        rows_old.append(old)
        rows_new.append(new)
        for field in shown:
            if old[field] != new[field]:
                differ += 1
                ev = next((e for e in new_record.evidence if e.field == field), None)
                print(f"{path.name}\t{field}\told={old[field]!r}\tnew={new[field]!r}\t"
                      f"{(ev.context if ev else '')[:140]!r}")
    print(f"{differ} values differ in {len(rows_old)} reports", file=sys.stderr)
    for target, rows in ((args.csv_old, rows_old), (args.csv_new, rows_new)):
        if target:
            with target.open("w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
