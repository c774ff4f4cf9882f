"""A private local web page: upload report PDFs or text, see what they say and what it means.

`create_app()` builds the FastAPI app; `her2extract serve` runs it with uvicorn on
127.0.0.1. Uploads are read into memory as they arrive (uploads.py: the size limit holds on
the bytes received), never written anywhere, read in a reader process with a time limit, and
forgotten when the response is sent. Nothing is fetched from the internet: the page, its
script and its style sheet are served from this package, under a Content-Security-Policy that
allows nothing else.
"""

from __future__ import annotations

import asyncio
import atexit
import hmac
import json
import logging
import os
import re
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Iterable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from .crops import value_strips
from .export import to_json, to_row
from .fhir import bundle_json
from .naaccr import naaccr_row, naaccr_xml
from .ingest import MAX_PAGES
from .model import TextSource
from .pipeline import default_matcher, error_record, safe_read_and_extract_bytes
from .uploads import UploadRefused, base_name, read_files

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # per file
MAX_FILES = 20
# Extractions at once (OCR of a scan takes a core for seconds); a request waits this long for a
# turn, then gets 503 with Retry-After instead of piling up work and memory.
MAX_AT_ONCE = max(1, os.cpu_count() or 1)
QUEUE_WAIT = 30.0  # seconds
# A file that takes longer than this to read (a hostile PDF, hundreds of scanned pages) is stopped.
FILE_TIMEOUT = 180.0  # seconds

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Report(BaseModel):
    """One uploaded file's result: the CSV row, and the full record with evidence and explanation."""

    filename: str
    status: str = Field(description='"ok" or "error"')
    error: str = Field("", description="why the file could not be read, in words")
    row: dict[str, str] = Field(description="the CSV row (the columns of docs/contract.md)")
    record: dict[str, Any] = Field(description="the record as `her2extract extract --json` prints it")
    sentences: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per field: the page, the sentence of the original page text the value sits in, "
                    "the value's [mark_start, mark_end) within it, whether OCR read it (`ocr`), and "
                    "for a value OCR read: `picture`, the strip of the page image around it (a PNG data URL)")
    naaccr: dict[str, str] = Field(description="NAACCR breast SSDI codes, by 'NUMBER Name'")
    fhir: dict[str, Any] = Field(description="a FHIR R4 mCODE Bundle of the record")


class ExtractResponse(BaseModel):
    reports: list[Report]
    naaccr_xml: str = Field(description="the reports' NAACCR items as one NAACCR-XML-style document")


def _static(name: str) -> bytes:
    return (resources.files("her2extract") / "static" / name).read_bytes()


def create_app(*, token: str | None = None, max_bytes: int = MAX_UPLOAD_BYTES, max_pages: int = MAX_PAGES,
               ocr: str = "auto", allowed_hosts: Iterable[str] | None = None, max_at_once: int = MAX_AT_ONCE,
               queue_wait: float = QUEUE_WAIT, timeout: float = FILE_TIMEOUT) -> FastAPI:
    """The web app. With `token`, every request must carry it (header X-Token, or ?token= for the page).

    `allowed_hosts`: the names a request's Host header may give (without the port), so that a
    web page elsewhere cannot reach this server through a name of its own that resolves here
    (DNS rebinding); None accepts any (`serve` passes the address it listens on).
    `max_at_once`: reader processes (files read at once); `queue_wait`: how long an upload waits
    for one before it gets 503; `timeout`: seconds a file may take, after which its reading is
    stopped and it gets an error entry.
    """
    if token is not None and not token.strip():
        raise ValueError("an empty token would protect nothing: give a token, or none")
    hosts = {h.lower().strip("[]") for h in allowed_hosts} if allowed_hosts is not None else None
    turns = asyncio.Semaphore(max_at_once)  # extractions running at once, across requests
    readers = _Readers(max_at_once, timeout, max_pages, ocr)
    big_buffers_mapped()

    @asynccontextmanager
    async def lifespan(_app):
        readers.started()  # the fork server loads the rules now, not during the first upload
        yield
        readers.close()

    app = FastAPI(lifespan=lifespan,
        title="her2extract", version="1", docs_url=None, redoc_url=None,
        description="Reads HER2, ER, PR and Ki-67 from a pathology report and explains them. Not medical advice.",
    )

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if hosts is not None and _host_name(request.headers.get("host", "")) not in hosts:
            return _with_headers(JSONResponse({"detail": "this server answers only to its own address"},
                                              status_code=421))
        if token is not None and not request.url.path.startswith("/static/"):  # the script and style are public
            given = request.headers.get("x-token") or request.query_params.get("token") or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _with_headers(JSONResponse({"detail": "a valid token is required"}, status_code=401))
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes * MAX_FILES + 1_000_000:
            return _with_headers(JSONResponse({"detail": _too_large(max_bytes)}, status_code=413))
        try:
            return _with_headers(await call_next(request))
        except Exception as exc:  # a bug: a plain 500, with the headers, and no report text
            log.error("internal error: %s", type(exc).__name__)
            return _with_headers(JSONResponse({"detail": "internal error"}, status_code=500))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        html = _static("index.html").decode("utf-8").replace("{{MAX_MB}}", f"{max_bytes / 1024 / 1024:.0f}")
        return HTMLResponse(html)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        kinds = {"app.js": "text/javascript", "app.css": "text/css"}
        if name not in kinds:
            raise HTTPException(404)
        return Response(_static(name), media_type=kinds[name])

    @app.post("/api/extract", response_model=ExtractResponse, openapi_extra=_UPLOAD_SCHEMA,
              responses={413: {"description": "a file is too large, or too many files"},
                         415: {"description": "not a PDF, text file or image of a report"},
                         422: {"description": "the file could not be read (corrupt, encrypted, empty, too slow)"},
                         503: {"description": "busy reading other reports: try again after Retry-After seconds"}})
    async def extract(request: Request) -> Any:
        """Extract every uploaded report (multipart/form-data, each file in a part named `files`).

        Files are held in memory only while they are read, and kept nowhere; a file past the
        size limit stops the upload there, whether or not the client gave a Content-Length.
        One bad file among several gives that file an error entry; when every file is bad, the
        answer is an HTTP error with the reason in `detail`.
        """
        try:
            uploads = await read_files(request.headers.get("content-type", ""), request.stream(),
                                       field_name="files", max_bytes=max_bytes, max_files=MAX_FILES)
        except UploadRefused as refused:
            return JSONResponse({"detail": refused.detail}, status_code=refused.status)
        reports: list[Report] = []
        codes: list[int] = []
        try:
            for index, (filename, data) in enumerate(uploads):
                name = base_name(filename)
                name = name if name.strip(". ") else "report"  # "x/", "..": a name with nothing of its own
                uploads[index] = (filename, b"")  # the request holds no copy once the reader has it
                # extraction (and OCR) is slow: it runs in a reader process, a few at a time
                try:
                    await asyncio.wait_for(turns.acquire(), timeout=queue_wait)
                except asyncio.TimeoutError:
                    return JSONResponse(
                        {"detail": "the server is busy reading other reports: try again in a minute"},
                        status_code=503, headers={"Retry-After": "60"})
                try:
                    report, code = await readers.read(data, name)
                finally:
                    turns.release()
                del data
                reports.append(report)
                codes.append(code)
        finally:
            del uploads
            give_back_memory()
        if all(code != 200 for code in codes):
            detail = "; ".join(f"{r.filename}: {r.error}" for r in reports)
            return JSONResponse({"detail": detail, "reports": [r.model_dump() for r in reports]},
                                status_code=max(codes))
        return ExtractResponse(reports=reports, naaccr_xml=naaccr_xml(r.naaccr for r in reports))

    return app


# The request body the API takes, for its OpenAPI description (the endpoint reads the body itself).
_UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "PDF, text or image reports"}}}}}}}


class _Readers:
    """Reader processes: each upload is read in a fresh process, so that a file past `timeout`
    has its work ended (the process and its OCR are stopped, not just the answer), and whatever
    a large or hostile file made the reader hold goes back to the system when it ends.

    The readers are forked from a fork server (multiprocessing's "forkserver"), a process that
    loaded the rules once (webreader.py) and runs no threads: a fork costs some 35 ms, and
    inherits nothing of the server's threads and locks (forking the server itself, whose
    threads may hold a lock at that moment, can leave a reader stuck).
    """

    RECYCLE_AFTER = 1  # files a reader process reads before a fresh one takes its place

    def __init__(self, workers: int, timeout: float, max_pages: int, ocr: str) -> None:
        self.workers, self.timeout, self.max_pages, self.ocr = workers, timeout, max_pages, ocr
        self._pool = None

    async def read(self, data: bytearray, name: str) -> tuple["Report", int]:
        from concurrent.futures import TimeoutError as FutureTimeout

        from pebble import ProcessExpired

        future = self.started().schedule(_read_one, args=(data, name, self.max_pages, self.ocr),
                                          timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            return _error_report(name, f"reading it took longer than {self.timeout:g} s, the limit per file: "
                                       "it was stopped"), 422
        except ProcessExpired:  # the reader died (a crash in a library, or killed)
            log.error("a reader process ended while reading one file")
            return _error_report(name, "the file could not be read (the reader stopped)"), 422

    def started(self):
        from pebble import ProcessPool

        if self._pool is None or not self._pool.active:
            self._pool = ProcessPool(max_workers=self.workers, max_tasks=self.RECYCLE_AFTER, context=_fork_server())
            _POOLS.add(self._pool)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            _POOLS.discard(self._pool)
            self._pool = None


_POOLS: set = set()


def _fork_server():
    """The multiprocessing context whose processes are forked from a fork server that has the
    rules loaded."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["her2extract.web", "her2extract.webreader"])
    return context


@atexit.register
def _stop_readers() -> None:
    for pool in list(_POOLS):
        pool.stop()
    _POOLS.clear()


def big_buffers_mapped() -> None:
    """Have glibc map each block of 1 MB or more on its own (an upload's bytes), so that freeing
    it gives it back at once (by default the threshold rises after the first large free, and
    later uploads are carved out of the heap, which keeps its high-water mark)."""
    if _LIBC is not None:
        _LIBC.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD


def give_back_memory() -> None:
    """Hand freed memory back to the system (glibc keeps freed blocks of a large upload in its
    arenas otherwise, and the server would stay at its peak after a burst)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def _read_one(data: bytearray, name: str, max_pages: int, ocr: str) -> tuple["Report", int]:
    """In a reader process (which reads one file, then ends): the file's Report and the HTTP
    status it would get alone."""
    (record, sentences), code = _extract_one(bytes(data), name, default_matcher(), max_pages, ocr)
    return _report(name, record, sentences), code


def _extract_one(data: bytes, name: str, matcher, max_pages: int, ocr: str):
    """((record, evidence sentences), HTTP status it would get alone). Never logs report text."""
    document, record = safe_read_and_extract_bytes(data, name, matcher=matcher, max_pages=max_pages, ocr=ocr)
    if document is not None and record.status == "ok":
        sentences = evidence_sentences(document, record)
        try:
            for field, strip in value_strips(data, document, record.evidence).items():
                sentences[field]["picture"] = strip
        except Exception as exc:  # a strip is a help, never a reason to lose the answer
            log.warning("page picture not drawn (%s)", type(exc).__name__)
        return (record, sentences), 200
    if document is not None:  # read, then refused (repetitive text, a pattern that ran too long)
        return (record, {}), 422
    if "Word document" in record.error:
        return (record, {}), 415
    if "binary file" in record.error or "not a PDF" in record.error:
        return (error_record(name, "not a PDF, a text file or an image of a report (judged by its content)"), {}), 415
    return (record, {}), 413 if "pages (limit" in record.error else 422


def _report(name: str, record, sentences: dict | None = None) -> Report:
    return Report(filename=name, status=record.status, error=record.error, row=to_row(record),
                  record=to_json(record), sentences=sentences or {}, naaccr=naaccr_row(record),
                  fhir=json.loads(bundle_json(record)))


SENTENCE_REACH = 240  # characters a shown sentence may run before and after its value


def evidence_sentences(document, record) -> dict[str, dict[str, Any]]:
    """Per value, the sentence it sits in, and where the value is in it.

    Taken from the cleaned text the rules read (so a flattened table shows "HER2/NEU: 1+", not
    the layer's "negative 1+"): the value's line, joined with the lines before and after it
    while the sentence runs on (no closing ".", ":" or ";"), then cut at ". " on either side.
    """
    from .text import clean_text

    clean = clean_text(document).text
    # a scan's text layer is some OCR engine's reading too
    read_by_ocr = {p.number for p in document.pages if p.source is TextSource.OCR or p.scan}
    out: dict[str, dict[str, Any]] = {}
    for ev in record.evidence:
        value = clean[ev.start:ev.end]
        value_start = ev.start + len(value) - len(value.lstrip())  # the mark covers the value's words only
        value_end = max(value_start, ev.end - (len(value) - len(value.rstrip())))
        start, end = _sentence_bounds(clean, value_start, value_end)
        raw = clean[start:end]
        lead = len(raw) - len(raw.lstrip())
        out[ev.field] = {"page": ev.page, "text": " ".join(raw.split()), "ocr": ev.page in read_by_ocr,
                         "mark_start": _squeezed(raw, value_start - start) - _squeezed(raw, lead),
                         "mark_end": _squeezed(raw, value_end - start) - _squeezed(raw, lead)}
    return out


def _sentence_bounds(text: str, value_start: int, value_end: int) -> tuple[int, int]:
    """The value's line; with the line before when the value starts its line (a label above it)
    or when its line starts in lower case (a wrapped sentence); with the following lines while
    they continue in lower case; then cut at ". " on either side."""
    floor, ceiling = max(0, value_start - SENTENCE_REACH), min(len(text), value_end + SENTENCE_REACH)
    start = text.rfind("\n", floor, value_start) + 1 or floor
    first = True
    while start > floor:
        line = text[start:text.find("\n", start) if "\n" in text[start:value_start + 1] else value_start]
        previous_start = text.rfind("\n", floor, start - 1) + 1 or floor
        previous = text[previous_start:start - 1]
        label_above = first and value_start - start <= 2
        wrapped = line[:1].islower() and not previous.rstrip().endswith((".", ";", ":"))
        if not previous.strip() or not (label_above or wrapped):
            break
        start, first = previous_start, False
    end = text.find("\n", value_end, ceiling)
    end = ceiling if end < 0 else end
    while end < ceiling and not text[:end].rstrip().endswith((".", ";", ":")) and text[end + 1:end + 2].islower():
        following = text.find("\n", end + 1, ceiling)
        end = ceiling if following < 0 else following
    cut = text.rfind(". ", start, value_start)
    start = cut + 2 if cut >= 0 else start
    cut = text.find(". ", value_end, end)
    end = cut + 1 if cut >= 0 else end
    return start, end


def _squeezed(text: str, at: int) -> int:
    """Where offset `at` of `text` lands once its runs of white space become single spaces."""
    return len(_SPACES.sub(" ", text[:at]))


_SPACES = re.compile(r"\s+")


def _host_name(host: str) -> str:
    """The name in a Host header, without its port: "127.0.0.1:8000" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _error_report(name: str, reason: str) -> Report:
    return _report(name, error_record(name, reason))


def _too_large(limit: int) -> str:
    return f"file too large (limit {limit / 1024 / 1024:.0f} MB)"


def _with_headers(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response
