"""A generated corpus of 200+ broken inputs: every one gives a row (a clear error or a result), none crashes.

Truncated PDFs, broken cross-reference tables, encrypted PDFs with and without a user
password, page-count bombs, a compression bomb, zero-byte files, images renamed .pdf, random
bytes, UTF-16 and binary-looking text, and a 100 MB text file.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest
from fpdf import FPDF

from her2extract.batch import run_batch

REPORT_LINES = ["FINAL DIAGNOSIS: invasive ductal carcinoma, left breast.", "ER: positive (90%).",
                "PR: negative (0%).", "HER2 (IHC): 2+ (equivocal). FISH ratio 1.4, not amplified."]


def _pdf(pages: int = 1, password: str | None = None, owner: str | None = None) -> bytes:
    pdf = FPDF()
    if owner or password:
        pdf.set_encryption(owner_password=owner or "owner", user_password=password)
    pdf.set_font("helvetica", size=11)
    for n in range(pages):
        pdf.add_page()
        for line in REPORT_LINES:
            pdf.cell(0, 8, f"{line} (page {n + 1})", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _compression_bomb() -> bytes:
    """A one-page PDF whose content stream inflates to 64 MB of spaces."""
    stream = zlib.compress(b" " * (64 * 1024 * 1024), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _png() -> bytes:
    from PIL import Image
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def broken_corpus(folder: Path) -> list[Path]:
    rng = random.Random(8)
    good = _pdf(pages=2)
    files: dict[str, bytes] = {}
    for n, cut in enumerate(sorted(rng.sample(range(10, len(good) - 1), 60))):
        files[f"truncated-{n:02d}.pdf"] = good[:cut]
    xref = good.rfind(b"startxref")
    for n in range(30):  # a wrong startxref offset, or garbage in the xref table
        broken = bytearray(good)
        if n % 2:
            broken[xref + 10:xref + 16] = str(rng.randint(0, 99999)).zfill(6).encode()
        else:
            at = good.find(b"xref") + rng.randint(5, 60)
            broken[at:at + 8] = bytes(rng.randrange(256) for _ in range(8))
        files[f"bad-xref-{n:02d}.pdf"] = bytes(broken)
    for n in range(30):  # flipped bytes anywhere
        broken = bytearray(good)
        for _ in range(rng.randint(1, 40)):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        files[f"flipped-{n:02d}.pdf"] = bytes(broken)
    files["encrypted-user-password.pdf"] = _pdf(password="secret")
    files["encrypted-owner-only.pdf"] = _pdf(owner="owner-only")
    files["too-many-pages.pdf"] = _pdf(pages=201)
    files["compression-bomb.pdf"] = _compression_bomb()
    files["zero.pdf"] = b""
    files["zero.txt"] = b""
    files["image-renamed.pdf"] = _png()
    files["image.png.txt"] = _png()
    for n in range(40):
        files[f"random-{n:02d}.{'pdf' if n % 2 else 'txt'}"] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5000)))
    files["utf16-le.txt"] = ("\ufeff" + "\n".join(REPORT_LINES)).encode("utf-16-le")
    files["utf16-be.txt"] = "\n".join(REPORT_LINES).encode("utf-16")
    files["only-spaces.txt"] = b"   \n\t\n   "
    files["nul-text.txt"] = b"ER positive\x00\x00\x00 HER2 3+" * 50
    files["pdf-header-only.pdf"] = b"%PDF-1.7\n"
    files["html-renamed.pdf"] = b"<html><body>ER positive</body></html>"
    for n in range(30):  # text with random control characters and odd encodings
        text = "\n".join(REPORT_LINES) + "".join(chr(rng.randrange(0, 32)) for _ in range(rng.randint(0, 400)))
        files[f"controls-{n:02d}.txt"] = text.encode(rng.choice(["utf-8", "latin-1", "cp1252"]), errors="replace")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    huge = folder / "huge-100mb.txt"
    with open(huge, "wb") as handle:  # sparse: 100 MB on paper, refused by size before it is read
        handle.truncate(100 * 1024 * 1024)
    paths.append(huge)
    return paths


def test_every_broken_input_gives_one_row_and_none_crashes(tmp_path):
    paths = broken_corpus(tmp_path / "broken")
    assert len(paths) >= 200
    summary = run_batch(paths, tmp_path / "out.csv", workers=2, timeout=60, ocr="never")
    import csv

    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(paths) == summary.files
    assert {Path(r["source"]).name for r in rows} == {p.name for p in paths}
    for row in rows:
        assert row["status"] in ("ok", "error")
        if row["status"] == "error":
            assert row["error"] and "internal error" not in row["error"] and "died" not in row["error"], row
    by_name = {Path(r["source"]).name: r for r in rows}
    assert "password" in by_name["encrypted-user-password.pdf"]["error"]
    assert by_name["encrypted-owner-only.pdf"]["status"] == "ok"  # opens without a password
    assert "201 pages" in by_name["too-many-pages.pdf"]["error"]
    assert "too large" in by_name["huge-100mb.txt"]["error"]
    assert "empty" in by_name["zero.pdf"]["error"] and "empty" in by_name["zero.txt"]["error"]
    assert by_name["utf16-le.txt"]["er_status"] == "positive"
    assert summary.ok + len(summary.errors) == len(paths)


def test_limits_are_configurable(tmp_path):
    pages = tmp_path / "five-pages.pdf"
    pages.write_bytes(_pdf(pages=5))
    text = tmp_path / "two-mb.txt"
    text.write_bytes(b"ER positive 90%\n" * 140_000)
    summary = run_batch([pages, text], tmp_path / "out.csv", workers=1, max_pages=4, max_bytes=1024 * 1024)
    reasons = dict(summary.errors)
    assert "5 pages (limit 4)" in reasons[str(pages)]
    assert "too large" in reasons[str(text)]
