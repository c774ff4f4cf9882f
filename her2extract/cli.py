"""The `her2extract` command: the only place that prints or sets exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import textwrap
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from .ingest import SUFFIXES

app = typer.Typer(
    help="Extract HER2, ER, PR and Ki-67 results from pathology reports (PDF or text).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

class OcrMode(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


class LogLevel(str, Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


@app.callback()
def main_options(
    log_level: Annotated[LogLevel, typer.Option(
        "--log-level", case_sensitive=False, envvar="HER2EXTRACT_LOG_LEVEL",
        help="How much to log to stderr. Logs never hold report text.")] = LogLevel.warning,
) -> None:
    """Extract HER2, ER, PR and Ki-67 results from pathology reports (PDF or text)."""
    import logging

    logging.basicConfig(level=log_level.value.upper(), format="%(levelname)s %(name)s: %(message)s")


class DaskMode(str, Enum):
    local = "local"


class OutputFormat(str, Enum):
    csv = "csv"
    naaccr = "naaccr"
    fhir = "fhir"


OcrOption = Annotated[
    OcrMode,
    typer.Option("--ocr", help="OCR PDF pages: auto (pages without a usable text layer), always, never.",
                 case_sensitive=False),
]

PatternsOption = Annotated[
    Optional[Path],
    typer.Option("--patterns", help="A folder of extra pattern files (*.toml) added to the bundled ones.",
                 exists=True, file_okay=False),
]


def _matcher(patterns: Path | None):
    from .errors import PatternFileError
    from .pipeline import default_matcher

    try:
        return default_matcher(str(patterns) if patterns else None)
    except PatternFileError as exc:
        typer.echo(f"error: pattern file: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def extract(
    file: Annotated[Path, typer.Argument(help="A report: .pdf or .txt.", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record with evidence as JSON.")] = False,
    patterns: PatternsOption = None,
    ocr: OcrOption = OcrMode.auto,
) -> None:
    """Extract one report and show each value with where it was found."""
    from .errors import UnreadableDocument
    from .export import to_json
    from .pipeline import extract_file

    matcher = _matcher(patterns)
    try:
        record = extract_file(file, matcher=matcher, ocr=ocr.value)
    except UnreadableDocument as exc:
        typer.echo(f"error: {file}: {exc.reason}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(to_json(record), indent=2, ensure_ascii=False))
    elif record.status == "ok":
        typer.echo(render_summary(record))
    if record.status != "ok":  # read, then refused (a repetitive file, a pattern that ran too long)
        typer.echo(f"error: {file}: {record.error}", err=True)
        raise typer.Exit(1)


def render_summary(record) -> str:
    """A readable summary: each filled value with its page and the text it came from."""
    from .export import to_row

    row = to_row(record)
    evidence = {ev.field: ev for ev in record.evidence}
    lines = [f"{record.source}  ({row['pages']} page(s), text from {row['text_source']})", ""]
    shown = [
        ("Site", "site"), ("HER2 IHC score", "her2_ihc_score"), ("HER2 IHC % cells", "her2_ihc_percent"),
        ("HER2 IHC clone", "her2_ihc_clone"), ("ISH method", "her2_ish_method"),
        ("HER2/CEP17 ratio", "her2_ish_ratio"), ("HER2 copies/cell", "her2_ish_her2_copies"),
        ("CEP17 copies/cell", "her2_ish_cep17_copies"), ("Cells counted", "her2_ish_cells"),
        ("ISH result", "her2_ish_result"), ("ISH group", "her2_ish_group"),
        ("HER2 as reported", "her2_reported"), ("HER2 status", "her2_status"),
        ("HER2 category", "her2_category"), ("ER status", "er_status"), ("ER %", "er_percent"),
        ("ER intensity", "er_intensity"), ("ER Allred", "er_allred"), ("PR status", "pr_status"),
        ("PR %", "pr_percent"), ("PR intensity", "pr_intensity"), ("PR Allred", "pr_allred"),
        ("Ki-67 %", "ki67_percent"), ("Subtype", "subtype"),
    ]
    for label, name in shown:
        value = row[name]
        if not value or value == "unknown":
            continue
        ev = evidence.get(name) or evidence.get(name.replace("_status", "_reported"))
        where = f'   page {ev.page}: "{_snippet(ev.context or ev.text)}"' if ev else "   (derived)"
        lines.append(f"  {label:<18} {value:<16}{where}")
    if len(lines) == 2:
        lines.append("  No HER2, ER, PR or Ki-67 value could be given: see what is unclear below."
                     if record.doubts else "  No HER2, ER, PR or Ki-67 result found.")
    if record.doubts:
        lines += ["", "Unclear, so left empty:"]
        for doubt in record.doubts:
            lines.append(f"  {doubt.marker.upper()}: {doubt.text}")
            lines += [f'      page {ev.page}: "{_snippet(ev.context or ev.text)}"' for ev in doubt.evidence]
    if record.warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in record.warnings]
    if record.explanation:
        lines += ["", "What it means:"]
        for topic, text in record.explanation:
            lines += [f"  {topic}:"] + [f"    {line}" for line in textwrap.wrap(text, 86)]
    if record.questions:
        lines += ["", "Questions you may want to ask your care team:"] + [f"  - {q}" for q in record.questions]
    if record.disclaimer:
        lines += ["", record.disclaimer, f"(Guidelines: {record.guideline})"]
    return "\n".join(lines)


def _snippet(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iter_inputs(paths: list[Path], skipped: Counter | None = None) -> Iterator[str]:
    """Files to process: given files as they are, folders walked recursively for .pdf/.txt/images
    (not into links to folders), in path order. Files of other types in a folder are counted
    in `skipped` by their suffix.

    Paths as strings: a Path object costs about four times the memory, and an archive of
    200,000 reports would hold 140 MB of them for the whole run.
    """
    for path in paths:
        if path.is_dir():
            found = []
            for folder, _, names in os.walk(path):
                for name in names:
                    suffix = os.path.splitext(name)[1].lower()
                    if suffix in SUFFIXES and os.path.isfile(os.path.join(folder, name)):
                        found.append(os.path.join(folder, name))
                    elif skipped is not None:
                        skipped[suffix or "(no suffix)"] += 1
            found.sort(key=lambda name: name.split(os.sep))  # as Path objects sort: part by part
            yield from found
        else:
            yield str(path)


@app.command()
def batch(
    inputs: Annotated[list[Path], typer.Argument(help="Report files and/or folders (searched recursively).",
                                                 exists=True)],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (see --format).", dir_okay=False)],
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="csv: the columns in docs/contract.md; naaccr: NAACCR breast SSDIs as CSV, plus OUTPUT.xml "
             "(docs/registry.md); "
             "fhir: NDJSON, one FHIR R4 mCODE Bundle per report.")] = OutputFormat.csv,
    jsonl: Annotated[Optional[Path], typer.Option("--jsonl", help="Also write JSONL with evidence.",
                                                  dir_okay=False)] = None,
    per_result: Annotated[Optional[Path], typer.Option(
        "--per-result", dir_okay=False,
        help="Also write a CSV with one row per result found (every specimen, test and statement).")] = None,
    patterns: PatternsOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    ocr: OcrOption = OcrMode.auto,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", "-w", min=1, help="Worker processes (default: the number of CPU cores).")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds one file may take before it becomes an error row.")] = 600.0,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the rows an interrupted run wrote (same path and content) and do the rest.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace outputs an earlier run wrote (without it, or --resume, the run stops).")] = False,
    max_mb: Annotated[int, typer.Option("--max-mb", min=1, help="Largest file read, in MB (bigger: an error row).")] = 50,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, help="Most PDF pages read (more: an error row).")] = 200,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Run on a Dask cluster: its scheduler address, e.g. tcp://10.0.0.5:8786.")] = None,
    dask: Annotated[Optional[DaskMode], typer.Option(
        "--dask", help="'local': a Dask LocalCluster of --workers processes on this machine.")] = None,
) -> None:
    """Extract every report under the given paths into one CSV row per file.

    Rows are written as files finish; OUTPUT.progress records which files are done, so a
    killed run can be finished with --resume.
    """
    from .batch import output_paths, run_batch
    from .errors import OutputError, ResumeError, WriteError

    if resume and overwrite:
        typer.echo("error: give --resume or --overwrite, not both", err=True)
        raise typer.Exit(2)
    if scheduler and dask:
        typer.echo("error: give --scheduler or --dask, not both", err=True)
        raise typer.Exit(2)
    _matcher(patterns)  # a bad pattern file stops the run here, before any worker starts
    skipped: Counter = Counter()
    files = list(dict.fromkeys(iter_inputs(inputs, skipped)))  # a file named twice (a folder and a file in it): one row
    ours = {os.path.abspath(p) for p in output_paths(output, jsonl, per_result, fmt.value).values()}
    if any(os.path.abspath(f) in ours for f in files):  # an output inside an input folder is no report
        files = [f for f in files if os.path.abspath(f) not in ours]
        typer.echo("note: this run's outputs lie among its inputs; they are not read as reports", err=True)
    if skipped and not quiet:
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])))
        typer.echo(f"{sum(skipped.values())} skipped (not a PDF, text or image file): {kinds}", err=True)
    if not files:
        typer.echo("error: no PDF, text or image files found", err=True)
        raise typer.Exit(2)
    options = dict(jsonl=jsonl, workers=workers, timeout=timeout, resume=resume, ocr=ocr.value,
                   patterns=str(patterns) if patterns else None,
                   scheduler=scheduler or (dask.value if dask else None), fmt=fmt.value, per_result=per_result,
                   max_bytes=max_mb * 1024 * 1024, max_pages=max_pages, overwrite=overwrite)
    try:
        with _batch_progress(quiet, len(files)) as on_done:
            summary = run_batch(files, output, on_done=on_done, **options)
    except (ResumeError, OutputError) as exc:  # raised before any row is written: the earlier rows are kept
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except WriteError as exc:  # a full disk, say: the rows recorded so far are complete
        typer.echo(f"error: {exc}; the rows written before are complete: make room (or fix the cause) and "
                   "run the same command with --resume to finish", err=True)
        raise typer.Exit(3) from None
    except KeyboardInterrupt:  # Ctrl+C: every row written so far is complete and recorded
        typer.echo(f"interrupted: the rows written so far are in {output}; run the same command "
                   "with --resume to finish the rest", err=True)
        raise typer.Exit(130) from None
    if not quiet:
        typer.echo(render_batch_summary(summary, output))
    for source, error in summary.errors:
        typer.echo(f"error: {source}: {error}", err=True)
    if summary.errors:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on. Keep 127.0.0.1 unless you set --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    token: Annotated[Optional[str], typer.Option(
        "--token", envvar="HER2EXTRACT_TOKEN",
        help="Require this token (header X-Token, or ?token= in the page address).")] = None,
    max_mb: Annotated[int, typer.Option("--max-mb", min=1, help="Largest upload, per file, in MB.")] = 20,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, help="Most pages a PDF may have.")] = 200,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds one file may take to read; past it, its reading is stopped.")] = 180,
    readers: Annotated[Optional[int], typer.Option(
        "--readers", min=1, help="Files read at once, each in its own process (default: CPU cores); "
                                 "other uploads wait their turn, or get 'busy' after 30 s.")] = None,
) -> None:
    """Serve the private upload page on this computer (http://127.0.0.1:8000 by default)."""
    import uvicorn

    from .web import create_app

    if token is not None and not token.strip():
        typer.echo("error: --token is empty, which would protect nothing: give a token, or leave --token out",
                   err=True)
        raise typer.Exit(2)
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        typer.echo("warning: serving beyond this computer without --token: anyone who can reach "
                   f"{host}:{port} can upload reports", err=True)
    # the Host header must name this server (DNS rebinding); listening on every address, the
    # names it may be reached by are not known here: --token protects it then
    local = ("127.0.0.1", "localhost", "::1")
    hosts = None if host in ("0.0.0.0", "::", "") else ({host, *local} if host in local else {host})
    extra = {"max_at_once": readers} if readers else {}
    application = create_app(token=token, max_bytes=max_mb * 1024 * 1024, max_pages=max_pages,
                             allowed_hosts=hosts, timeout=timeout, **extra)
    where = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    typer.echo(f"her2extract page: {where}  (Ctrl+C to stop)", err=True)
    import logging

    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    # uvicorn shuts down on SIGTERM, then raises it again for the handler it found: make that an
    # ordinary exit, so the readers' fork server and its temporary folder are cleaned up too
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    uvicorn.run(application, host=host, port=port, log_level=level if level in ("debug", "info") else "warning",
                access_log=False, server_header=False)


PLAIN_PROGRESS_SECONDS = 10.0


@contextlib.contextmanager
def _batch_progress(quiet: bool, total: int):
    """What a batch calls as each file is done: a progress bar on a terminal, a plain line now
    and then otherwise, nothing with --quiet."""
    if quiet:
        yield None
    elif not sys.stderr.isatty():
        yield _plain_progress(total)
    else:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        columns = (TextColumn("Extracting"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("extract", total=total, rate="")

            def advance(_result) -> None:
                progress.advance(task)
                speed = progress.tasks[0].speed
                progress.update(task, rate=f"{speed:.1f} files/s" if speed else "")

            yield advance


def _plain_progress(total: int):
    """Progress for logs and pipes: one line every PLAIN_PROGRESS_SECONDS, and at the end."""
    import time

    started = last = time.monotonic()
    done = 0

    def advance(_result) -> None:
        nonlocal done, last
        done += 1
        now = time.monotonic()
        if now - last >= PLAIN_PROGRESS_SECONDS or done == total:
            rate = done / max(now - started, 1e-9)
            eta = (total - done) / rate if rate else 0.0
            typer.echo(f"{done}/{total} files, {rate:.1f} files/s, ETA {eta:.0f} s", err=True)
            last = now

    return advance


def render_batch_summary(summary, output: Path) -> str:
    """A short table: files, errors, pages OCR'd, and how many reports gave each main value."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("value")
    table.add_column("reports", justify="right")
    table.add_row("read ok", str(summary.ok))
    table.add_row("errors", str(len(summary.errors)))
    if summary.skipped:
        table.add_row("done before (--resume)", str(summary.skipped))
    table.add_row("pages OCR'd", str(summary.ocr_pages))
    for label, name in (("HER2 IHC score", "her2_ihc_score"), ("HER2 ISH result", "her2_ish_result"),
                        ("HER2 status", "her2_status"), ("ER status", "er_status"),
                        ("PR status", "pr_status"), ("Ki-67", "ki67_percent")):
        table.add_row(label, str(summary.filled.get(name, 0)))
    console = Console(width=100)
    with console.capture() as capture:
        console.print(table)
    return f"{summary.files} file(s) -> {output}\n" + capture.get().rstrip()


def main() -> None:  # pragma: no cover - the console-script entry point
    app()
