"""Privacy: with DEBUG logging on, no report text reaches a log line, and no temp file survives.

Runs the real command (`her2extract --log-level debug batch ...` and `... serve`) in a
subprocess with its own TMPDIR, on reports (text, a PDF with a ruled table, a scan read by
OCR) that carry a unique marker string.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fpdf import FPDF

from conftest import scanned_pdf

MARKER = "ZXQV4471PRIVATE"


def _reports(folder: Path) -> list[Path]:
    folder.mkdir()
    text = folder / "report.txt"
    text.write_text(f"Patient: {MARKER}\nFINAL DIAGNOSIS: left breast, invasive carcinoma.\n"
                    f"ER: positive (90%). HER2 (IHC): 2+. Note {MARKER}.\n", encoding="utf-8")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.cell(0, 8, f"Patient {MARKER}", new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:  # ruled: read again by pdfplumber, whose parser logs at DEBUG
        for label, value in (("Estrogen receptor", f"positive 90% {MARKER}"), ("HER2 IHC", "3+")):
            row = table.row()
            row.cell(label)
            row.cell(value)
    for n in range(10):  # ruling lines: the page counts as a ruled table (ingest.MIN_RULE_OBJECTS)
        pdf.line(10, 60 + 6 * n, 200, 60 + 6 * n)
    table_pdf = folder / "table.pdf"
    pdf.output(str(table_pdf))
    scan_pdf = scanned_pdf(folder, [f"PATIENT {MARKER}", "HER2 (IHC): 3+ POSITIVE"])
    return [text, table_pdf, scan_pdf]


def _env(tmp: Path) -> dict[str, str]:
    tmp.mkdir()
    return dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")


def test_batch_at_debug_logs_no_report_text_and_leaves_no_temp_file(tmp_path):
    files = _reports(tmp_path / "in")
    env = _env(tmp_path / "tmp")
    done = subprocess.run(
        [sys.executable, "-m", "her2extract", "--log-level", "debug", "batch", *map(str, files),
         "-o", str(tmp_path / "out.csv"), "--jsonl", str(tmp_path / "out.jsonl"), "--workers", "2"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-2000:]
    assert "DEBUG" in logs, "DEBUG logging produced nothing: the check would be empty"
    assert MARKER not in logs
    rows = (tmp_path / "out.csv").read_text()
    assert rows.count(",ok,") == 3 and "3+" in rows  # all three were read, the scan by OCR
    assert list((tmp_path / "tmp").iterdir()) == []


def test_serve_at_debug_logs_no_report_text_and_leaves_no_temp_file(tmp_path):
    files = _reports(tmp_path / "in")
    env = _env(tmp_path / "tmp")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "her2extract", "--log-level", "debug", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        uploads = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
        uploads.append(("files", ("big.txt", (MARKER + " ER positive 90%\n").encode() * 80_000, "text/plain")))
        response = httpx.post(base + "/api/extract", files=uploads, timeout=120)
        assert response.status_code == 200
        reports = response.json()["reports"]
        assert [r["status"] for r in reports[:3]] == ["ok"] * 3  # the reports were read (the check is real)
        assert "repetitive" in reports[3]["error"]  # 2 MB of one line repeated: spooled to disk, then refused
        assert reports[2]["row"]["her2_ihc_score"] == "3+"
    finally:
        server.terminate()
        logs, _ = server.communicate(timeout=30)
    assert "DEBUG" in logs or "debug" in logs.lower(), "DEBUG logging produced nothing"
    assert MARKER not in logs
    assert list((tmp_path / "tmp").iterdir()) == []
