"""Batch runs over many files: a process pool, rows streamed to disk, resumable, time-limited.

One row per input file, always: a file that fails, hangs past ``timeout`` or kills its worker
becomes an error row, and the run goes on. Rows are written as files finish (in finishing
order), each as one complete line, so memory stays flat and an interrupted run leaves a
readable CSV. A sidecar ``OUTPUT.progress`` lists the path and content hash of every file
whose row is written, and which other outputs (JSONL, per-result rows) hold it;
``resume=True`` skips those (when their content is unchanged and every output asked for now
holds them) and finishes the rest.
"""

from __future__ import annotations

import atexit
import csv
import hashlib
import io
import itertools
import json
import logging
import os
import stat
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .export import RESULT_COLUMNS, plain_cell, safe_cell
from .ingest import MAX_BYTES, MAX_PAGES
from .model import CSV_COLUMNS

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0  # seconds per file: OCR of a long scan takes minutes, a hang forever
IN_FLIGHT_PER_WORKER = 4  # tasks queued per worker: enough to keep workers busy, memory flat
# Text files go to the pool this many to a task: a text report takes a few ms, and each task
# costs a round trip through the pool during which its worker waits (4,000 reports on 2 workers:
# 13.3-13.8 s at 32 a task, 15.3-15.5 s at 8). A task that times out or loses its worker is
# redone file by file, so a bad file still costs its own row only. PDFs (OCR can take minutes)
# go one to a task.
TEXT_FILES_PER_TASK = 32


@dataclass(frozen=True, slots=True)
class FileResult:
    """What a worker sends back for one file: small, picklable, ready to write."""

    path: str
    digest: str
    row: dict[str, str]  # the DESIGN.md row (the summary counts from it)
    json_line: str | None
    ocr_pages: int
    out: dict[str, str] | str | None = None  # the main output's row (naaccr) or line (fhir); None: `row`
    results: tuple[dict[str, str], ...] = ()  # --per-result rows


@dataclass
class BatchSummary:
    files: int = 0
    skipped: int = 0  # already written by an earlier run (--resume)
    ok: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    ocr_pages: int = 0
    filled: dict[str, int] = field(default_factory=dict)


def file_digest(path: str | Path, max_bytes: int = MAX_BYTES) -> str:
    """SHA-256 of a regular file's content: "" when it cannot be read, is a pipe, a device or
    a socket (whose reading may never end), or is larger than any report read (`max_bytes`:
    such a file is an error row, found again at once by its size)."""
    digest = hashlib.sha256()
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return ""
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


# --- the worker side -------------------------------------------------------------------------

_WORKER: dict = {}


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What every worker needs to know, sent once per worker (picklable)."""

    patterns: str | None = None
    ocr: str = "auto"
    with_json: bool = False
    fmt: str = "csv"
    per_result: bool = False
    max_bytes: int = MAX_BYTES
    max_pages: int = MAX_PAGES


def init_worker(setup: WorkerSetup) -> None:
    """Load the rules (with their prefilter) once per worker process; Tesseract gets one thread
    per process. Forked workers find that done by the parent already. spaCy is loaded by a
    worker when a report first needs it: many batches never do, and where one does, the
    workers load it side by side."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from .pipeline import default_matcher

    matcher = default_matcher(setup.patterns)
    matcher.prepare(spacy=False)
    _WORKER.update(matcher=matcher, setup=setup)


_GUARDS: dict = {}  # on a Dask worker: its own pool of child processes, for one setup


def process_file_guarded(path: str, setup: WorkerSetup, timeout: float) -> FileResult:
    """process_file for workers that were not started by us (Dask): the file is read in a child
    process of this one, so that past `timeout`, or when it crashes that child, it becomes its
    error row instead of holding or killing the Dask worker (whose thread cannot be stopped).

    A daemonic worker process (Dask's default, `distributed.worker.daemon`) may not have
    children: there the file is read in the worker's own thread, with no time limit.
    """
    import multiprocessing

    if multiprocessing.current_process().daemon:
        if _WORKER.get("setup") != setup:
            log.warning("daemonic Dask worker: files are read without a time limit "
                        "(set distributed.worker.daemon to False to have one)")
            init_worker(setup)
        return process_file(path)
    pool = _GUARDS.get(setup)
    if pool is None or not pool.active:
        stop_guards()  # a pool set up for other settings
        pool = _GUARDS[setup] = _start_pool(_dask_threads(), setup)
    try:
        return pool.schedule(process_file, args=(path,), timeout=timeout).result()
    except Exception as exc:  # timed out, the child died, or a bug: that file's row only
        return _failure(path, exc, timeout, setup.with_json, setup.fmt)


def stop_guards() -> None:
    """Stop the child processes process_file_guarded started (also done at exit)."""
    for pool in _GUARDS.values():
        pool.stop()
        pool.join()
    _GUARDS.clear()


atexit.register(stop_guards)


def _dask_threads() -> int:
    """The tasks this Dask worker runs at once (1 outside a Dask worker)."""
    try:
        from distributed import get_worker

        return max(1, get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return 1


def process_file(path: str) -> FileResult:
    """Extract one file in a worker (after init_worker); never raises for a bad file."""
    from .errors import UnreadableDocument
    from .export import result_rows, to_json, to_row
    from .ingest import read_file_bytes
    from .model import TextSource
    from .pipeline import error_record, safe_read_and_extract_bytes

    if not _WORKER:
        init_worker(WorkerSetup())
    setup: WorkerSetup = _WORKER["setup"]
    try:
        data = read_file_bytes(path, max_bytes=setup.max_bytes)
    except UnreadableDocument as exc:
        document, record, digest = None, error_record(path, exc.reason), file_digest(path, setup.max_bytes)
    else:  # the hash of the very bytes the row was read from (read once)
        digest = hashlib.sha256(data).hexdigest()
        document, record = safe_read_and_extract_bytes(data, path, matcher=_WORKER["matcher"], ocr=setup.ocr,
                                                       max_pages=setup.max_pages)
    ocr_pages = sum(1 for p in document.pages if p.source is TextSource.OCR) if document else 0
    line = json.dumps(to_json(record), ensure_ascii=False) if setup.with_json else None
    return FileResult(path, digest, to_row(record), line, ocr_pages, _main_output(record, setup.fmt),
                      tuple(result_rows(record)) if setup.per_result else ())


def process_files(paths: tuple[str, ...]) -> list[FileResult]:
    """process_file over a few files in one task."""
    return [process_file(path) for path in paths]


def _tasks(todo: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """The files in tasks: PDFs alone, other files TEXT_FILES_PER_TASK at a time."""
    texts: list[str] = []
    for path in todo:
        if path.lower().endswith(".pdf"):
            yield (path,)
            continue
        texts.append(path)
        if len(texts) == TEXT_FILES_PER_TASK:
            yield tuple(texts)
            texts = []
    if texts:
        yield tuple(texts)


def _main_output(record, fmt: str):
    if fmt == "naaccr":
        from .naaccr import naaccr_row

        return naaccr_row(record)
    if fmt == "fhir":
        from .fhir import bundle_json

        return bundle_json(record)
    return None


def failed_result(path: str, reason: str, with_json: bool, fmt: str = "csv") -> FileResult:
    """The error row of a file whose worker timed out or died. The writing process does not
    read the file (it may be what hung the worker): with no hash, --resume tries it again."""
    from .export import to_json, to_row
    from .model import Her2Record

    record = Her2Record(source=path, status="error", error=reason)
    line = json.dumps(to_json(record), ensure_ascii=False) if with_json else None
    return FileResult(path, "", to_row(record), line, 0, _main_output(record, fmt))


# --- the writer side -------------------------------------------------------------------------

FORMATS = ("csv", "naaccr", "fhir")


def _columns(fmt: str) -> tuple[str, ...] | None:
    """The main output's CSV header, or None for NDJSON (fhir: one Bundle per line)."""
    if fmt == "naaccr":
        from .naaccr import naaccr_columns

        return tuple(naaccr_columns())
    return None if fmt == "fhir" else CSV_COLUMNS


def _jsonl_source(obj: dict) -> str | None:
    return obj.get("source")


def _bundle_source(obj: dict) -> str | None:
    return (obj.get("identifier") or {}).get("value")


def output_paths(output: Path, jsonl: Path | None = None, per_result: Path | None = None,
                 fmt: str = "csv") -> dict[str, Path]:
    """Every file a run writes, by what it is."""
    paths = {"-o": Path(output), "progress file": Path(f"{output}.progress")}
    if fmt == "naaccr":
        paths["NAACCR XML"] = Path(output).with_suffix(".xml")
    if jsonl:
        paths["--jsonl"] = Path(jsonl)
    if per_result:
        paths["--per-result"] = Path(per_result)
    return paths


def check_outputs(output: Path, jsonl: Path | None = None, per_result: Path | None = None, fmt: str = "csv",
                  *, resume: bool = False, overwrite: bool = False) -> None:
    """Raise OutputError, before anything is written, when the outputs cannot be written as
    asked: two of them are one file, or (without --resume or --overwrite) an earlier run's
    output is there. The output's folder is made when it is missing."""
    from .errors import OutputError

    paths = output_paths(output, jsonl, per_result, fmt)
    seen: dict[Path, str] = {}
    for name, path in paths.items():
        key = Path(os.path.abspath(path))
        if key in seen:
            raise OutputError(f"{seen[key]} and {name} are the same file ({path}): give each output its own name")
        seen[key] = name
    if not resume and not overwrite:
        earlier = [path for path in paths.values() if path.exists() and (not path.is_file() or path.stat().st_size)]
        if earlier:
            raise OutputError(f"{earlier[0]} exists (an earlier run's output): give --resume to finish that run, "
                              "--overwrite to replace it, or another -o")
    folder = Path(output).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the output folder {folder}: {exc.strerror or exc}") from None


class RowWriter:
    """Appends complete rows to the main output (and JSONL), and the path + hash to the progress file."""

    def __init__(self, output: Path, jsonl: Path | None, resume: bool,
                 digest: Callable[[str], str] = file_digest, fmt: str = "csv",
                 per_result: Path | None = None) -> None:
        self.output, self.jsonl, self.columns = Path(output), jsonl, _columns(fmt)
        self.per_result = Path(per_result) if per_result else None
        self.progress_path = Path(f"{output}.progress")
        # the outputs besides the main one this run writes, as the progress file records them
        self.extras = ("j" if self.jsonl else "") + ("r" if self.per_result else "")
        self.done: dict[str, str] = {}
        self._out = self._json = self._results = self._progress = None
        try:
            if resume and self.output.exists() and self.output.stat().st_size:
                self._check_resumable()
                self.done = self._recover(digest)
            else:
                self._start_fresh()
            self._out = open(self.output, "a", encoding="utf-8", newline="")
            self._json = open(self.jsonl, "a", encoding="utf-8") if self.jsonl else None
            self._results = open(self.per_result, "a", encoding="utf-8", newline="") if self.per_result else None
            self._progress = open(self.progress_path, "a", encoding="utf-8")
        except OSError as exc:
            from .errors import OutputError

            self.close()
            raise OutputError(f"cannot write {exc.filename or self.output}: {exc.strerror or exc}") from None

    def _header(self) -> str:
        return _header_line(self.columns) if self.columns else ""

    def _start_fresh(self) -> None:
        self.output.write_text(self._header(), encoding="utf-8")
        if self.jsonl:
            self.jsonl.write_text("", encoding="utf-8")
        if self.per_result:
            self.per_result.write_text(_header_line(RESULT_COLUMNS), encoding="utf-8")
        self.progress_path.write_text("", encoding="utf-8")

    def _check_resumable(self) -> None:
        """Raise ResumeError when the outputs on disk are not this run's to continue: written in
        another format (their first line is not this run's header), or with no progress file
        to say which rows are done. Starting afresh would throw the earlier rows away."""
        from .errors import ResumeError

        if not self.progress_path.exists():
            raise ResumeError(f"cannot resume into {self.output}: {self.progress_path.name} is missing, so "
                              "which of its rows are complete is not known; write to a new file instead")
        results_header = _header_line(RESULT_COLUMNS)
        for path, header, source_of in ((self.output, self._header(), _bundle_source),
                                        (self.jsonl, "", _jsonl_source),
                                        (self.per_result, results_header, None)):
            if path is None or not path.exists():
                continue
            with open(path, encoding="utf-8", newline="") as handle:
                first = handle.readline()
            if not first.endswith("\n"):  # nothing complete yet: the whole of it is redone
                continue
            if header:
                fits = first == header
            else:
                try:
                    fits = source_of(json.loads(first)) is not None
                except (json.JSONDecodeError, AttributeError):
                    fits = False
            if not fits:
                raise ResumeError(f"cannot resume into {path}: it was written in another format or by another "
                                  "run (its first line is not what this run writes); resume with the first run's "
                                  "--format, or write to a new file")

    def _recover(self, digest: Callable[[str], str]) -> dict[str, str]:
        """Files finished by the killed run: rows whose path is in the progress file with the
        file's present content hash, and which every output of this run already holds.

        A row written but not yet in the progress file, a half-written last line, the row of a
        file changed since, or a file whose JSONL line or per-result rows this run asks for but
        the earlier one did not write (--jsonl added on resuming), is dropped and redone.
        Each file is replaced whole, so a kill while this runs leaves the old file or the new.
        """
        wanted = self.extras
        done: dict[str, str] = {}
        for line in self.progress_path.read_text(encoding="utf-8").splitlines():
            entry = line.split("\t")  # path, hash, and the extra outputs written for it
            if len(entry) == 2:  # written before the extras were recorded: the main output only
                entry.append("")
            if len(entry) == 3 and entry[1] and all(flag in entry[2] for flag in wanted) \
                    and digest(entry[0]) == entry[1]:
                done[entry[0]] = entry[1]
        if self.columns:
            rows = _complete_rows(self.output.read_text(encoding="utf-8"))
            present = {r.get("source") for r in rows}
        else:
            lines = _ndjson_lines(self.output, _bundle_source)
            present = {source for source, _ in lines}
        if self.jsonl:
            json_lines = _ndjson_lines(self.jsonl, _jsonl_source)
            present &= {source for source, _ in json_lines}
        done = {k: v for k, v in done.items() if k in present}
        if self.columns:
            _replace_text(self.output, self._header() + "".join(_csv_line(r, self.columns) for r in rows
                                                                if r.get("source") in done))
        else:
            _replace_text(self.output, "".join(line for source, line in lines if source in done))
        if self.jsonl:
            _replace_text(self.jsonl, "".join(line for source, line in json_lines if source in done))
        if self.per_result:
            text = self.per_result.read_text(encoding="utf-8") if self.per_result.exists() else ""
            kept = [r for r in _complete_rows(text) if r.get("source") in done]
            _replace_text(self.per_result,
                          _header_line(RESULT_COLUMNS) + "".join(_csv_line(r, RESULT_COLUMNS) for r in kept))
        _replace_text(self.progress_path, "".join(f"{k}\t{v}\t{wanted}\n" for k, v in done.items()))
        return done

    def write(self, result: FileResult) -> None:
        """Write one file's rows, then its progress line; WriteError when a write fails."""
        try:
            self._write(result)
        except OSError as exc:
            from .errors import WriteError

            raise WriteError(f"writing {exc.filename or self.output} failed: {exc.strerror or exc}") from None

    def _write(self, result: FileResult) -> None:
        main = (_csv_line(result.out if isinstance(result.out, dict) else result.row, self.columns)
                if self.columns else f"{result.out}\n")
        pieces = [(self._out, self.output, main)]
        if self._json and result.json_line is not None:
            pieces.append((self._json, self.jsonl, result.json_line + "\n"))
        if self._results:
            pieces.append((self._results, self.per_result,
                           "".join(_csv_line(r, RESULT_COLUMNS) for r in result.results)))
        pieces.append((self._progress, self.progress_path, f"{result.path}\t{result.digest}\t{self.extras}\n"))
        for handle, path, text in pieces:
            try:
                handle.write(text)
                handle.flush()
            except OSError as exc:
                exc.filename = exc.filename or str(path)
                raise

    def close(self) -> None:
        for handle in (self._out, self._json, self._results, self._progress):
            if handle:
                try:
                    handle.close()
                except OSError:  # its last bytes could not be flushed (a full disk): said already
                    pass


def _ndjson_lines(path: Path, source_of: Callable[[dict], str | None]) -> list[tuple[str, str]]:
    """The complete lines of an NDJSON file that name their source, as (source, line)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
    out = []
    for line in lines:
        try:
            source = source_of(json.loads(line)) if line.endswith("\n") else None
        except (json.JSONDecodeError, AttributeError):
            source = None
        if source is not None:
            out.append((source, line))
    return out


def _csv_line(row: dict[str, str], columns: Iterable[str] = CSV_COLUMNS) -> str:
    """One CSV row, each cell safe to open in a spreadsheet (export.safe_cell)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([safe_cell(row.get(c, "")) for c in columns])
    return buffer.getvalue()


def _replace_text(path: Path, text: str) -> None:
    """Write a file's new content beside it, then put it in its place (never half of either)."""
    spare = path.with_name(f".{path.name}.resume")
    try:
        with open(spare, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(spare, path)
    finally:
        spare.unlink(missing_ok=True)


def _header_line(columns: tuple[str, ...]) -> str:
    return _csv_line(dict(zip(columns, columns)), columns)


def _complete_rows(text: str) -> list[dict[str, str]]:
    """The CSV's data rows, without a half-written last line."""
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{k: plain_cell(v) for k, v in r.items()} for r in rows
            if None not in r and all(v is not None for v in r.values())]


def write_naaccr_xml(csv_path: Path) -> Path:
    """The NAACCR-XML-style file next to a NAACCR CSV (same name, .xml), from its rows."""
    from .naaccr import naaccr_xml

    target = Path(csv_path).with_suffix(".xml")
    target.write_text(naaccr_xml(_complete_rows(Path(csv_path).read_text(encoding="utf-8"))), encoding="utf-8")
    return target


# --- the run ---------------------------------------------------------------------------------

def run_batch(
    files: Iterable[str | Path], output: Path, *, jsonl: Path | None = None, workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT, resume: bool = False, ocr: str = "auto",
    patterns: str | None = None, on_done: Callable[[FileResult | None], None] | None = None,
    scheduler: str | None = None, fmt: str = "csv", per_result: Path | None = None,
    max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES, overwrite: bool = False,
) -> BatchSummary:
    """Extract every file into one row each, in `workers` worker processes (this one writes the rows).

    `scheduler`: a Dask scheduler address ("tcp://host:8786") or "local" for a LocalCluster
    of `workers` processes; the files must then be readable at the same paths on every
    worker. Each Dask worker reads its files in child processes of its own, which enforce
    `timeout` and take a crash.

    `fmt`: the main output: "csv" (DESIGN.md columns), "naaccr" (NAACCR items as CSV, plus the
    same as XML next to it) or "fhir" (NDJSON, one mCODE Bundle per report).

    Raises OutputError (nothing written) when an earlier run's output is there and neither
    `resume` nor `overwrite` is given, or two outputs share one path.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}")
    check_outputs(output, jsonl, per_result, fmt, resume=resume, overwrite=overwrite)
    writer = RowWriter(output, jsonl, resume, lambda path: file_digest(path, max_bytes), fmt=fmt, per_result=per_result)
    summary = BatchSummary()
    todo: list[str] = []
    for path in files:
        summary.files += 1
        key = str(path)
        if key in writer.done:
            summary.skipped += 1
            if on_done:
                on_done(None)
            continue
        todo.append(key)

    def record(result: FileResult) -> None:
        writer.write(result)
        if result.row["status"] == "ok":
            summary.ok += 1
        else:
            summary.errors.append((result.path, result.row["error"]))
        summary.ocr_pages += result.ocr_pages
        for name in ("her2_ihc_score", "her2_ish_result", "her2_status", "er_status", "pr_status", "ki67_percent"):
            if result.row.get(name) not in ("", "unknown", None):
                summary.filled[name] = summary.filled.get(name, 0) + 1
        if on_done:
            on_done(result)

    try:
        workers = workers or os.cpu_count() or 1
        setup = WorkerSetup(patterns, ocr, jsonl is not None, fmt, per_result is not None, max_bytes, max_pages)
        if scheduler:
            _run_dask(todo, scheduler, workers, setup, timeout, record)
        else:  # one worker too: the time limit and a crash need a process to lose
            _run_pool(todo, workers, setup, timeout, record)
    finally:
        writer.close()
    if fmt == "naaccr":
        write_naaccr_xml(output)
    return summary


def _start_pool(workers: int, setup: WorkerSetup):
    """A pebble pool of `workers` processes. The rules and their prefilter are loaded here
    first, once: the workers are forked from this process (Linux) and start with them in place
    instead of each paying the second or so it takes (spaCy: see init_worker)."""
    from pebble import ProcessPool

    init_worker(setup)
    return ProcessPool(max_workers=workers, initializer=init_worker, initargs=(setup,))


def _run_pool(todo, workers, setup, timeout, record) -> None:
    from pebble import ProcessExpired

    with_json, fmt = setup.with_json, setup.fmt
    pending: dict = {}
    tasks = _tasks(todo)
    redo: deque[tuple[str, ...]] = deque()  # the files of a failed task, one task each
    with _start_pool(workers, setup) as pool:
        def fill() -> None:
            while len(pending) < workers * IN_FLIGHT_PER_WORKER:
                task = redo.popleft() if redo else next(tasks, None)
                if task is None:
                    return
                pending[pool.schedule(process_files, args=(task,), timeout=timeout)] = task

        fill()
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                task = pending.pop(future)
                try:
                    results = future.result()
                except (FutureTimeout, ProcessExpired, Exception) as exc:
                    if len(task) > 1:  # which file failed is not known: each again, alone
                        redo.extend((path,) for path in task)
                        continue
                    results = [_failure(task[0], exc, timeout, with_json, fmt)]
                for result in results:
                    record(result)
            fill()


def _failure(path: str, exc: BaseException, timeout: float, with_json: bool, fmt: str) -> FileResult:
    """The error row of a file whose task failed on its own."""
    from pebble import ProcessExpired

    if isinstance(exc, FutureTimeout):
        return failed_result(path, f"timed out after {timeout:g} s", with_json, fmt)
    if isinstance(exc, ProcessExpired):
        return failed_result(path, f"worker process died (exit code {exc.exitcode})", with_json, fmt)
    log.warning("unexpected %s while processing one file", type(exc).__name__)  # a bug: that row only
    return failed_result(path, f"internal error: {type(exc).__name__}", with_json, fmt)


def local_cluster(workers: int):
    """A Dask LocalCluster of `workers` one-thread processes whose workers may start children
    (process_file_guarded's time limit needs them)."""
    import dask
    from dask.distributed import LocalCluster

    # set only while the workers start (each nanny keeps the configuration it started with),
    # so the caller's configuration is left as it was
    with dask.config.set({"distributed.worker.daemon": False}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            dashboard_address=None, silence_logs=logging.ERROR)


def _run_dask(todo, scheduler, workers, setup, timeout, record) -> None:
    """The same per-file function mapped over a Dask cluster; results stream back as they finish."""
    from dask.distributed import Client, as_completed

    cluster = None
    if scheduler == "local":
        cluster = local_cluster(workers)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        queue = iter(todo)
        limit = max(len(client.scheduler_info().get("workers", {})), workers) * IN_FLIGHT_PER_WORKER
        names: dict = {}

        def submit(path: str):
            future = client.submit(process_file_guarded, path, setup, timeout, pure=False)
            names[future.key] = path
            return future

        running = as_completed([submit(p) for p in itertools.islice(queue, limit)])
        for future in running:
            path = names.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # a task that failed on every worker it was tried on
                result = failed_result(path, f"worker failed: {type(exc).__name__}", setup.with_json, setup.fmt)
            record(result)
            following = next(queue, None)
            if following is not None:
                running.add(submit(following))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
