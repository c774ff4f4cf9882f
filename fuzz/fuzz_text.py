"""atheris fuzz target for the text pipeline: any bytes, decoded any way, must give a record.

usage: .venv/bin/python fuzz/fuzz_text.py [atheris/libFuzzer options] NEW_UNITS_DIR SEED_DIR, e.g.
       mkdir -p /tmp/fuzz && .venv/bin/python fuzz/fuzz_text.py -max_total_time=1800 -max_len=20000 \
           /tmp/fuzz sample_reports
(libFuzzer writes what it learns to the first folder; the sample reports seed it.)

The text pipeline is total: extract_document() returns a record for every string, and
read_bytes() either returns a document or raises UnreadableDocument (a clear error row). On
strings, the matcher with its literal prefilter must also find exactly what a plain matcher
(every rule scanned everywhere) finds.
Anything else is a crash that libFuzzer reports with the input that caused it. Not run in CI
(it needs minutes to be useful); the property tests in tests/test_fuzz.py run there.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["her2extract"]):
    from her2extract.errors import UnreadableDocument
    from her2extract.ingest import read_bytes
    from her2extract.model import Document, Page, TextSource
    from her2extract.match import Matcher
    from her2extract.pipeline import default_matcher, extract_document
    from her2extract.text import clean_string

MATCHER = default_matcher()
MATCHER.prepare()  # the literal prefilter from the first input on
PLAIN = Matcher(MATCHER.rules, prefilter=False)  # the reference it must agree with


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    choice = provider.ConsumeIntInRange(0, 2)
    if choice == 0:  # any unicode string straight into the text pipeline (clean, match, normalize, interpret)
        text = provider.ConsumeUnicodeNoSurrogates(len(data))
        record = extract_document(Document("fuzz", (Page(1, text, TextSource.TEXT),)), MATCHER)
        assert record.status == "ok"
        clean = clean_string(text).text  # the prefilter is a speed-up only: the same matches
        for name in ("findings", "sections", "parts", "triggers", "regions"):
            assert getattr(MATCHER, name)(clean) == getattr(PLAIN, name)(clean), name
    elif choice == 1:  # raw bytes as a text file: decoded, or refused with a reason
        raw = provider.ConsumeBytes(len(data))
        try:
            document = read_bytes(raw, "fuzz.txt", ocr="never")
        except UnreadableDocument as exc:
            assert exc.reason
            return
        extract_document(document, MATCHER)
    else:  # raw bytes that claim to be a PDF
        raw = b"%PDF-1.4\n" + provider.ConsumeBytes(len(data))
        try:
            document = read_bytes(raw, "fuzz.pdf", ocr="never", max_pages=5)
        except UnreadableDocument as exc:
            assert exc.reason
            return
        extract_document(document, MATCHER)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
