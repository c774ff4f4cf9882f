"""Print reports/s for text and PDF inputs over sample_reports/ (a benchmark, not a test).

usage: .venv/bin/python benchmarks/throughput.py [--rounds N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from her2extract.pipeline import default_matcher, safe_extract

SAMPLES = Path(__file__).resolve().parent.parent / "sample_reports"


def measure(files: list[Path], rounds: int) -> tuple[float, float]:
    """Reports per second and mean milliseconds per report over `rounds` passes."""
    matcher = default_matcher()
    start = time.perf_counter()
    for _ in range(rounds):
        for path in files:
            safe_extract(path, matcher=matcher)
    elapsed = time.perf_counter() - start
    count = len(files) * rounds
    return count / elapsed, 1000 * elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    matcher = default_matcher()
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    matcher.prepare()  # the literal prefilter and spaCy, as batch and serve set them up at start
    prepared = time.perf_counter() - t0
    texts = sorted(SAMPLES.glob("*.txt"))
    pdfs = sorted(SAMPLES.glob("*.pdf"))
    safe_extract(texts[0], matcher=matcher)  # warm-up
    print(f"rules loaded and compiled: {len(matcher.rules)} rules in {load:.2f} s; "
          f"prefilter and spaCy set up in {prepared:.2f} s")
    for label, files in (("text", texts), ("pdf", pdfs)):
        rate, ms = measure(files, args.rounds)
        print(f"{label:5} {len(files):3d} files x {args.rounds} rounds: {rate:7.1f} reports/s ({ms:.1f} ms/report)")


if __name__ == "__main__":
    main()
