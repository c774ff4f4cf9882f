"""The `her2extract` command: the only place that prints or sets exit codes."""

from __future__ import annotations

import json
import sys
import textwrap
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
        return
    typer.echo(render_summary(record))


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
        lines.append("  No HER2, ER, PR or Ki-67 result found.")
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


def iter_inputs(paths: list[Path]) -> Iterator[Path]:
    """Files to process: given files as they are, folders walked recursively for .pdf/.txt."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
            )
        else:
            yield path


@app.command()
def batch(
    inputs: Annotated[list[Path], typer.Argument(help="Report files and/or folders (searched recursively).",
                                                 exists=True)],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.", dir_okay=False)],
    jsonl: Annotated[Optional[Path], typer.Option("--jsonl", help="Also write JSONL with evidence.",
                                                  dir_okay=False)] = None,
    patterns: PatternsOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    ocr: OcrOption = OcrMode.auto,
) -> None:
    """Extract every report under the given paths into one CSV row per file."""
    from .export import write_csv, write_jsonl
    from .pipeline import safe_extract

    matcher = _matcher(patterns)
    files = list(iter_inputs(inputs))
    if not files:
        typer.echo("error: no .pdf or .txt files found", err=True)
        raise typer.Exit(2)
    records = []
    show_bar = not quiet and sys.stderr.isatty()
    if show_bar:
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            task = progress.add_task("Extracting", total=len(files))
            for path in files:
                records.append(safe_extract(path, matcher=matcher, ocr=ocr.value))
                progress.advance(task)
    else:
        records = [safe_extract(path, matcher=matcher, ocr=ocr.value) for path in files]
    write_csv(records, output)
    if jsonl:
        write_jsonl(records, jsonl)
    failed = [r for r in records if r.status != "ok"]
    if not quiet:
        typer.echo(render_batch_summary(records, output))
    for r in failed:
        typer.echo(f"error: {r.source}: {r.error}", err=True)
    if failed:
        raise typer.Exit(1)


def render_batch_summary(records, output: Path) -> str:
    """A short table: files, errors, and how many reports gave each main value."""
    from rich.console import Console
    from rich.table import Table

    from .export import to_row

    rows = [to_row(r) for r in records]
    ok = [r for r in rows if r["status"] == "ok"]
    table = Table()
    table.add_column("value")
    table.add_column("reports", justify="right")
    table.add_row("read ok", str(len(ok)))
    table.add_row("errors", str(len(rows) - len(ok)))
    for label, name in (("HER2 IHC score", "her2_ihc_score"), ("HER2 ISH result", "her2_ish_result"),
                        ("HER2 status", "her2_status"), ("ER status", "er_status"),
                        ("PR status", "pr_status"), ("Ki-67", "ki67_percent")):
        table.add_row(label, str(sum(1 for r in ok if r[name] not in ("", "unknown"))))
    console = Console(width=100)
    with console.capture() as capture:
        console.print(table)
    return f"{len(rows)} file(s) -> {output}\n" + capture.get().rstrip()


def main() -> None:  # pragma: no cover - the console-script entry point
    app()
