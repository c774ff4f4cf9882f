"""Measure Tesseract on real scans: OCR pages that also have a good text layer, compare.

usage: .venv/bin/python benchmarks/ocr_accuracy.py PDF_DIR [--pages N]

Character accuracy is difflib's similarity of the two texts after folding case and white
space; the text layer is itself the scanner's OCR, so this is agreement, not ground truth.
Prints seconds per page (one Tesseract thread, as the tool runs it).
"""

from __future__ import annotations

import argparse
import difflib
import re
import statistics
import time
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium

from her2extract.ingest import _pdfium_text, ocr_page, text_quality


def fold(text: str) -> str:
    return " ".join(text.lower().split())


def word_agreement(layer: str, scanned: str) -> float:
    """Share of the text layer's words (3+ letters) that OCR also read, order aside."""
    want = Counter(w for w in re.findall(r"[a-z0-9]{3,}", layer.lower()))
    got = Counter(w for w in re.findall(r"[a-z0-9]{3,}", scanned.lower()))
    total = sum(want.values())
    return sum(min(n, got[w]) for w, n in want.items()) / total if total else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pdf_dir", type=Path)
    parser.add_argument("--pages", type=int, default=25)
    args = parser.parse_args()
    scores, words, seconds = [], [], []
    for path in sorted(args.pdf_dir.glob("*.[pP][dD][fF]")):
        if len(scores) >= args.pages:
            break
        pdf = pdfium.PdfDocument(str(path))
        try:
            page = pdf[0]
            layer = _pdfium_text(page)
            if text_quality(layer) < 0.7 or len(layer) < 500:
                continue
            start = time.perf_counter()
            scanned = ocr_page(page) or ""
            seconds.append(time.perf_counter() - start)
            scores.append(difflib.SequenceMatcher(None, fold(layer), fold(scanned), autojunk=False).ratio())
            words.append(word_agreement(layer, scanned))
            page.close()
        finally:
            pdf.close()
    print(f"pages: {len(scores)}")
    print(f"character agreement with the text layer: mean {statistics.mean(scores):.3f}, "
          f"median {statistics.median(scores):.3f}, min {min(scores):.3f}")
    print(f"word agreement (order aside): mean {statistics.mean(words):.3f}, median {statistics.median(words):.3f}")
    print(f"seconds per page: mean {statistics.mean(seconds):.2f}, max {max(seconds):.2f}")


if __name__ == "__main__":
    main()
