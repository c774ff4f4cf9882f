"""Instructions per report, counted by valgrind's callgrind: a speed figure that does not drift.

usage: .venv/bin/python benchmarks/instructions.py [--reports 30] [--stage extract] [--texts DIR]

Wall-clock figures on a shared machine drift by 10-20 % between runs, which hides a change
worth 5 %. Callgrind counts the instructions the extraction executes instead (the same count
on every run, whatever else the machine does): it runs this script again under valgrind, and
counts only the work done inside one `itertools.starmap` over the reports (so not start-up,
loading the rules or making the reports). About 100 s for 30 reports; needs `valgrind`.

--stage extract   the whole of extract_text, from the report's text to the interpreted record;
--stage NAME      one Matcher method on cleaned text (findings, sections, triggers, parts),
                  plus the literal pass it needs.
--texts DIR       *.txt reports from DIR (the first N, by name) instead of synthetic ones.

Figures only; nothing here is a test.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
HERE = Path(__file__).resolve().parent.parent
TOGGLE = "starmap_next"  # the C function every counted report runs inside


def _reports(count: int, folder: str | None) -> list[str]:
    if folder:
        paths = sorted(Path(folder).glob("*.txt"))[:count]
        return [p.read_text(encoding="utf-8", errors="replace") for p in paths]
    from synthetic import report_text

    rng = random.Random(3)
    return [report_text(rng) for _ in range(count)]


def run_counted(stage: str, count: int, folder: str | None) -> None:
    """What runs under valgrind: set up, then the counted starmap."""
    from her2extract.pipeline import default_matcher, extract_text
    from her2extract.text import clean_string

    texts = _reports(count, folder)
    matcher = default_matcher()
    matcher.prepare()
    for text in texts[:3]:  # caches and lazy set-up, outside the count
        extract_text(text, matcher=matcher)
    cleaned = [clean_string(text).text for text in texts]

    def one(raw: str, clean: str) -> None:
        if stage == "extract":
            extract_text(raw, matcher=matcher)
        else:
            matcher._places(clean)
            getattr(matcher, stage)(clean)

    list(itertools.starmap(one, zip(texts, cleaned)))  # noqa: RUF058 - callgrind counts inside starmap_next


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--stage", default="extract")
    parser.add_argument("--texts", default=None)
    parser.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted:
        run_counted(args.stage, args.reports, args.texts)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        command = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={TOGGLE}",
                   f"--callgrind-out-file={tmp}/callgrind.out", sys.executable, __file__, "--counted",
                   "--reports", str(args.reports), "--stage", args.stage]
        if args.texts:
            command += ["--texts", args.texts]
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(HERE)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind failed ({done.returncode}):\n{done.stderr[-800:]}")
    total = int(found.group(1))
    source = args.texts or "synthetic"
    print(f"{args.stage}: {total / args.reports / 1e6:.2f} M instructions a report "
          f"({args.reports} reports, {source}; callgrind)")


if __name__ == "__main__":
    main()
