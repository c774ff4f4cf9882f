"""Build the bundled sample PDF pathology reports from small text sources.

Every ``scripts/pdf_sources/NAME.txt`` becomes ``sample_reports/NAME.pdf``.
The reports are fictional; the PDFs exist so that the extractor can be tested
on real PDF text (page breaks, headers/footers, bordered tables).

Source markup (one instruction per line):

* ``@font helvetica`` or ``@font courier`` -- body font (core fonts only, so
  no font files are needed).  Default: helvetica.
* ``@size N`` -- body font size in points.  Default: 10.
* ``@header TEXT`` -- text printed at the top of every page.
* ``@footer TEXT`` -- text printed at the bottom of every page; ``{page}`` is
  replaced by the page number and ``{pages}`` by the total page count.
  (``@`` lines are settings; put them at the top of the file.)
* ``## Heading`` -- a bold heading line.
* ``=== page ===`` -- page break.
* ``| A | B |`` -- a table row with bordered cells.  Two cells give a
  label/value table (narrow label column); more cells give equal columns.
  Consecutive row lines form one table.
* ``:: LABEL :: VALUE`` -- a row of a borderless two-column table, written the way
  some scanners' text layers hold it: every label of the block first, then every
  value (so a PDF reader emits the labels, then the values).
* ``@scan`` -- the PDF becomes a scan: every page is rendered to a 200 dpi image and
  only the image is kept.  A sidecar ``NAME.layer`` file, when present, is written over
  the image as an invisible text layer (a scanner's own, possibly garbled, OCR);
  ``=== page ===`` separates its pages.
* an empty line -- a small vertical gap.
* any other line -- paragraph text, wrapped to the page width.  Leading
  spaces are kept, so ``@font courier`` can show aligned text tables.

All text must be latin-1 encodable (write ``>=`` rather than the Unicode
sign, straight quotes only).  Output is deterministic: the creation date is
fixed, so re-running the script rewrites byte-identical files.

Usage::

    python scripts/make_sample_pdfs.py
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "scripts" / "pdf_sources"
OUTPUT_DIR = ROOT / "sample_reports"
FIXED_DATE = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
PAGE_BREAK = "=== page ==="
LINE_HEIGHT_FACTOR = 0.5  # mm of line height per point of font size


@dataclass
class Settings:
    """Per-document settings read from the ``@`` lines of a source file."""

    font: str = "helvetica"
    size: float = 10.0
    header: str = ""
    footer: str = ""
    scan: bool = False


@dataclass
class Block:
    """One unit of content: a paragraph, heading, table, gap or page break."""

    kind: str  # "text", "heading", "table", "columns", "gap", "page"
    lines: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class ReportPDF(FPDF):
    """FPDF with a repeated header and footer taken from the settings."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.settings = settings

    def header(self) -> None:
        if not self.settings.header:
            return
        self.set_font(self.settings.font, "B", self.settings.size)
        self.cell(0, 6, self.settings.header, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self) -> None:
        if not self.settings.footer:
            return
        self.set_y(-15)
        self.set_font(self.settings.font, "", self.settings.size - 1)
        text = self.settings.footer.replace("{page}", str(self.page_no()))
        text = text.replace("{pages}", self.alias_nb_pages_text())
        self.cell(0, 6, text, align="C")

    def alias_nb_pages_text(self) -> str:
        """Placeholder that fpdf2 replaces with the total page count."""
        return self.str_alias_nb_pages


def parse_table_row(line: str) -> list[str]:
    """Split ``| a | b |`` into ``["a", "b"]``."""
    inner = line.strip().strip("|")
    return [cell.strip() for cell in inner.split("|")]


def parse_source(text: str) -> tuple[Settings, list[Block]]:
    """Read settings and content blocks from a markup source."""
    settings = Settings()
    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("@"):
            apply_setting(settings, stripped)
        elif stripped == PAGE_BREAK:
            blocks.append(Block("page"))
        elif stripped.startswith("## "):
            blocks.append(Block("heading", lines=[stripped[3:]]))
        elif stripped.startswith("::"):
            row = [cell.strip() for cell in stripped[2:].split("::", 1)]
            if blocks and blocks[-1].kind == "columns":
                blocks[-1].rows.append(row)
            else:
                blocks.append(Block("columns", rows=[row]))
        elif stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            row = parse_table_row(stripped)
            if blocks and blocks[-1].kind == "table":
                blocks[-1].rows.append(row)
            else:
                blocks.append(Block("table", rows=[row]))
        elif not stripped:
            blocks.append(Block("gap"))
        else:
            blocks.append(Block("text", lines=[line]))
    return settings, blocks


def apply_setting(settings: Settings, line: str) -> None:
    """Apply one ``@name value`` line to the settings."""
    name, _, value = line[1:].partition(" ")
    value = value.strip()
    if name == "font":
        settings.font = value.lower()
    elif name == "size":
        settings.size = float(value)
    elif name == "header":
        settings.header = value
    elif name == "footer":
        settings.footer = value
    elif name == "scan":
        settings.scan = True
    else:
        raise ValueError(f"unknown setting: @{name}")


def line_height(settings: Settings) -> float:
    return settings.size * LINE_HEIGHT_FACTOR


def write_text(pdf: ReportPDF, text: str, bold: bool = False) -> None:
    """Write one wrapped paragraph line."""
    settings = pdf.settings
    pdf.set_font(settings.font, "B" if bold else "", settings.size)
    pdf.multi_cell(0, line_height(settings), text, new_x="LMARGIN", new_y="NEXT")


def write_table(pdf: ReportPDF, rows: list[list[str]]) -> None:
    """Draw consecutive table rows as one bordered table."""
    settings = pdf.settings
    ncols = max(len(row) for row in rows)
    widths = (35, 65) if ncols == 2 else tuple([1] * ncols)
    pdf.set_font(settings.font, "", settings.size)
    with pdf.table(
        col_widths=widths,
        first_row_as_headings=False,
        line_height=line_height(settings) + 1,
        text_align="LEFT",
    ) as table:
        for cells in rows:
            row = table.row()
            for i in range(ncols):
                row.cell(cells[i] if i < len(cells) else "")
    pdf.ln(1)


def write_columns(pdf: ReportPDF, rows: list[list[str]]) -> None:
    """Labels at the left margin, then values at 90 mm, on the same lines (labels drawn first)."""
    settings = pdf.settings
    pdf.set_font(settings.font, "", settings.size)
    height = line_height(settings)
    top = pdf.get_y()
    for n, (label, *_) in enumerate(rows):
        pdf.set_xy(pdf.l_margin, top + n * height)
        pdf.cell(80, height, label)
    for n, row in enumerate(rows):
        pdf.set_xy(pdf.l_margin + 80, top + n * height)
        pdf.cell(0, height, row[1] if len(row) > 1 else "")
    pdf.set_xy(pdf.l_margin, top + len(rows) * height)


def render(settings: Settings, blocks: list[Block]) -> ReportPDF:
    """Lay out all blocks into a new PDF document."""
    pdf = ReportPDF(settings)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title("Sample pathology report (fictional)")
    pdf.set_author("her2extract sample generator")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    for block in blocks:
        if block.kind == "page":
            pdf.add_page()
        elif block.kind == "gap":
            pdf.ln(line_height(settings) / 2)
        elif block.kind == "heading":
            pdf.ln(1)
            write_text(pdf, block.lines[0], bold=True)
        elif block.kind == "table":
            write_table(pdf, block.rows)
        elif block.kind == "columns":
            write_columns(pdf, block.rows)
        else:
            write_text(pdf, block.lines[0])
    return pdf


def build_one(source: Path, output_dir: Path) -> Path:
    """Convert one markup source into ``output_dir/NAME.pdf``."""
    text = source.read_text(encoding="utf-8")
    text.encode("latin-1")  # fail early on characters the core fonts lack
    settings, blocks = parse_source(text)
    target = output_dir / f"{source.stem}.pdf"
    data = bytes(render(settings, blocks).output())
    if settings.scan:
        layer = source.with_suffix(".layer")
        data = as_scan(data, layer.read_text(encoding="utf-8") if layer.exists() else "")
    target.write_bytes(data)
    return target


SCAN_DPI = 200


def as_scan(data: bytes, layer: str) -> bytes:
    """The PDF as a scanner makes it: page images, with an invisible text layer if given."""
    import io

    import pypdfium2 as pdfium
    from fpdf.enums import TextMode

    source = pdfium.PdfDocument(data)
    layers = layer.split(PAGE_BREAK) if layer.strip() else []
    scan = FPDF(orientation="P", unit="mm", format="A4")
    scan.set_creation_date(FIXED_DATE)
    scan.set_title("Sample pathology report (fictional, scanned)")
    scan.set_auto_page_break(auto=False)
    for index in range(len(source)):
        bitmap = source[index].render(scale=SCAN_DPI / 72, grayscale=True)
        image = io.BytesIO()
        bitmap.to_pil().save(image, format="PNG")
        scan.add_page()
        scan.image(image, x=0, y=0, w=scan.w, h=scan.h)
        if index < len(layers):
            scan.set_font("courier", "", 9)
            scan.text_mode = TextMode.INVISIBLE
            scan.set_xy(15, 15)
            for line in layers[index].strip("\n").splitlines():
                scan.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
            scan.text_mode = TextMode.FILL
    source.close()
    return bytes(scan.output())


def main() -> None:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    sources = sorted(SOURCE_DIR.glob("*.txt"))
    for source in sources:
        target = build_one(source, OUTPUT_DIR)
        print(f"wrote {target.relative_to(ROOT)}")
    print(f"{len(sources)} PDF(s) written")


if __name__ == "__main__":
    main()
