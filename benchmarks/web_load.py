"""Load test of the page server, as a user runs it (`her2extract serve` on 127.0.0.1).

usage: .venv/bin/python benchmarks/web_load.py [--uploads 20] [--mb 19] [--check]

Prints, for one server process and its reader processes:

- memory at rest (after one small upload, so the readers exist), at the peak of a burst of
  `--uploads` concurrent uploads of one `--mb` MB PDF each, and 5 s after the burst: the
  server process's RSS and the whole tree's PSS (proportional set size: pages the forked
  readers share with the server are counted once);
- how long the burst took, and the answers it got;
- a chunked upload of 600 MB without Content-Length: its answer and how much the client could
  send before it (what the server read is checked in tests/test_web_bounds.py);
- a hostile PDF (many image-only pages of dense print, for OCR) under `--timeout 10`: how long
  until its answer.

With --check, exits 1 when a stated bound is broken: peak tree PSS over 1.5 GB, the burst over
120 s or any 5xx in it, the server's RSS after the burst over 1.5x its figure at rest, the
chunked upload not refused with 413, the hostile PDF answered later than 25 s.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent.parent
BOUNDARY = "her2extractLoadBoundary"
SAMPLE = HERE / "sample_reports" / "core-biopsy-her2-2plus-fish-not-amplified-er-5.pdf"


def big_pdf(megabytes: float) -> bytes:
    """The sample report with a large photo attached on a second page (a noise JPEG), about
    `megabytes` MB in all. The photo page is small on the page, so it is not taken for a scan."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    rng = np.random.default_rng(7)
    side = int((megabytes * 1024 * 1024 / 1.2) ** 0.5)  # a noise JPEG at quality 95: ~1.2 bytes a pixel
    for _ in range(3):  # two corrections bring it within a few per cent of the size asked for
        photo = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=95)
        side = int(side * (megabytes * 1024 * 1024 / len(buffer.getvalue())) ** 0.5)
    pdf = pdfium.PdfDocument(SAMPLE.read_bytes())
    page = pdf.new_page(612, 792)
    image = pdfium.PdfImage.new(pdf)
    image.load_jpeg(io.BytesIO(buffer.getvalue()), inline=False)
    image.set_matrix(pdfium.PdfMatrix().scale(120, 120).translate(60, 600))
    page.insert_obj(image)
    page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


def slow_scan_pdf(pages: int = 60) -> bytes:
    """Image-only pages of dense small print: OCR takes seconds a page."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    for row in range(0, 2200, 14):
        draw.text((10, row), "lorem ipsum 0.123 HER2 3+ ER 95% " * 8, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF(unit="pt", format=(612, 792))
    for _ in range(pages):
        pdf.add_page()
        pdf.image(io.BytesIO(buffer.getvalue()), x=0, y=0, w=612, h=792)
    return bytes(pdf.output())


def multipart(name: str, data: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def post(port: int, body: bytes, timeout: float = 600) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/api/extract", body=body,
                           headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def chunked_upload(port: int, name: str, chunks) -> tuple[int, int]:
    """Send one file as a chunked multipart upload (no Content-Length) until the server answers;
    (HTTP status, bytes of file content sent by then)."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sent = 0
    answer = b""
    try:
        sock.sendall((f"POST /api/extract HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                      f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode())
        pieces = [head, *chunks, f"\r\n--{BOUNDARY}--\r\n".encode()]
        for number, piece in enumerate(pieces):
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: stop sending
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            if 0 < number < len(pieces) - 1:
                sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(60)
        while b"\r\n" not in answer:
            more = sock.recv(4096)
            if not more:
                break
            answer += more
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent


def memory(pid: int) -> tuple[float, float]:
    """(server RSS, tree PSS) in MB."""
    server = psutil.Process(pid)
    tree = [server, *server.children(recursive=True)]
    pss = 0
    for process in tree:
        try:
            pss += process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return server.memory_info().rss / 2**20, pss / 2**20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--mb", type=float, default=19)
    parser.add_argument("--check", action="store_true", help="exit 1 when a stated bound is broken")
    args = parser.parse_args()

    port = free_port()
    command = [str(HERE / ".venv" / "bin" / "her2extract"), "serve", "--port", str(port), "--timeout", "10"]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    broken: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        small = multipart("r.txt", b"Breast core biopsy. HER2 (IHC): 3+. ER positive (90%).")
        post(port, small)
        time.sleep(2)
        rest_rss, rest_pss = memory(server.pid)
        pdf = big_pdf(args.mb)
        body = multipart("big.pdf", pdf)
        print(f"upload: {len(pdf) / 2**20:.1f} MB PDF, {args.uploads} at once; readers: {os.cpu_count()}")

        peak = [rest_rss, rest_pss]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                rss, pss = memory(server.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        answers: list[int] = []
        began = time.monotonic()
        clients = [threading.Thread(target=lambda: answers.append(post(port, body)[0])) for _ in range(args.uploads)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        burst = time.monotonic() - began
        done.set()
        watcher.join()
        time.sleep(5)
        after_rss, after_pss = memory(server.pid)
        codes = {code: answers.count(code) for code in sorted(set(answers))}
        print(f"burst: {burst:.1f} s; answers {codes}")
        print(f"memory MB      server RSS   tree PSS")
        print(f"  at rest      {rest_rss:10.0f} {rest_pss:10.0f}")
        print(f"  peak         {peak[0]:10.0f} {peak[1]:10.0f}")
        print(f"  5 s after    {after_rss:10.0f} {after_pss:10.0f}   ({after_rss / rest_rss:.2f}x, "
              f"{after_pss / rest_pss:.2f}x of rest)")
        if peak[1] > 1536:
            broken.append(f"peak tree PSS {peak[1]:.0f} MB > 1536")
        if burst > 120 or any(code >= 500 for code in answers):
            broken.append("burst too slow or a 5xx")
        if after_rss > 1.5 * rest_rss:
            broken.append(f"server RSS after the burst {after_rss:.0f} MB > 1.5x {rest_rss:.0f}")

        megabyte = b"%PDF-1.4\n" + b"0" * ((1 << 20) - 9)
        status, sent = chunked_upload(port, "huge.pdf", (megabyte for _ in range(600)))
        print(f"chunked 600 MB: {status} after the client sent {sent / 2**20:.1f} MB")
        if status != 413:
            broken.append(f"chunked upload got {status}")

        began = time.monotonic()
        status, _ = post(port, multipart("hostile.pdf", slow_scan_pdf()))
        took = time.monotonic() - began
        print(f"hostile PDF (60 image pages, --timeout 10): {status} after {took:.1f} s")
        if status != 422 or took > 25:
            broken.append("hostile PDF not cut off")
        time.sleep(2)
        rss, pss = memory(server.pid)
        print(f"memory after all: server RSS {rss:.0f} MB, tree PSS {pss:.0f} MB")
    finally:
        server.terminate()
        server.wait(20)
    for line in broken:
        print("BROKEN:", line)
    return 1 if broken and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
