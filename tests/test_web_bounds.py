"""The page server's bounds, on a real server on 127.0.0.1: bytes received, time per file.

(The load test with twenty large uploads at once, and its memory figures, is
benchmarks/web_load.py.)
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import uvicorn

from her2extract.web import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from web_load import chunked_upload, slow_scan_pdf  # noqa: E402  (the load test's uploads)

BOUNDARY = "her2extractLoadBoundary"  # as web_load.py sends


class _Counted:
    """ASGI wrapper: how many body bytes the app has taken from the server."""

    def __init__(self, app) -> None:
        self.app, self.received = app, 0

    async def __call__(self, scope, receive, send):
        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture()
def server():
    """A real server on a free port of 127.0.0.1, in a thread; yields (port, counted app)."""
    started = []

    def serve(app):
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        instance = uvicorn.Server(config)
        started.append(instance)
        instance.run()

    def start(**options):
        app = _Counted(create_app(**options))
        thread = threading.Thread(target=serve, args=(app,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not (started and started[-1].started):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        port = started[-1].servers[0].sockets[0].getsockname()[1]
        return port, app

    yield start
    for instance in started:
        instance.should_exit = True
    time.sleep(0.3)


def test_a_chunked_600_mb_upload_is_refused_before_25_mb_is_read(server):
    port, app = server()
    megabyte = b"%PDF-1.4\n" + b"0" * ((1 << 20) - 9)
    status, sent = chunked_upload(port, "huge.pdf", (megabyte for _ in range(600)))
    assert status == 413
    assert app.received < 25 * 1024 * 1024, f"{app.received / 2**20:.1f} MB read before the refusal"
    assert sent < 100 * 1024 * 1024  # the client was stopped long before its 600 MB


def test_a_chunked_upload_within_the_limit_is_read(server, samples):
    port, _ = server()
    text = (samples / "her2-2plus-fish-neg-er-low-5.txt").read_bytes()
    status, _ = chunked_upload(port, "report.txt", [text[:100], text[100:]])
    assert status == 200


def test_a_file_past_the_time_limit_is_stopped_with_its_ocr(server):
    from her2extract.ingest import ocr_available

    if not ocr_available():
        pytest.skip("needs tesseract")
    port, _ = server(timeout=3.0, max_at_once=1)
    seen: set[int] = set()  # the OCR processes our reader started (other programs' are not ours)
    answered = threading.Event()

    def watch() -> None:
        while not answered.is_set():
            for child in psutil.Process().children(recursive=True):
                try:
                    if child.name() == "tesseract":
                        seen.add(child.pid)
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    began = time.monotonic()
    status, _, detail = _post(port, _body("slow.pdf", slow_scan_pdf(40)))
    took = time.monotonic() - began
    answered.set()
    watcher.join(5)
    assert status == 422 and b"longer than 3 s" in detail
    assert took < 15
    assert seen, "the slow file never reached OCR: the test proves nothing"
    time.sleep(1.0)  # the stopped reader's OCR ends with it

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # a zombie has ended, not yet reaped
        except psutil.NoSuchProcess:
            return False

    assert not [pid for pid in seen if running(pid)], "OCR still running after the time limit"
    # and the server reads the next file with a fresh reader
    assert _post(port, _body("r.txt", b"Breast core biopsy. HER2 (IHC): 3+"))[0] == 200


def test_files_are_read_a_few_at_a_time_and_an_upload_that_waits_too_long_gets_503(server):
    from her2extract.ingest import ocr_available

    if not ocr_available():
        pytest.skip("needs tesseract")
    port, _ = server(max_at_once=1, queue_wait=0.5, timeout=5.0)
    slow = _body("slow.pdf", slow_scan_pdf(40))
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(answer=_post(port, slow)))
    thread.start()
    time.sleep(1.5)  # the slow file holds the only reader
    status, headers, _ = _post(port, _body("b.txt", b"Breast core biopsy. HER2 (IHC): 1+"))
    assert status == 503 and headers["retry-after"] == "60" and headers["x-content-type-options"] == "nosniff"
    thread.join(30)
    assert first["answer"][0] == 422  # stopped at its time limit
    assert _post(port, _body("c.txt", b"Breast core biopsy. HER2 (IHC): 2+"))[0] == 200  # the turn came back


def _body(name: str, data: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'
            ).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def _post(port: int, body: bytes) -> tuple[int, dict, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/api/extract", body=body,
                           headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()
