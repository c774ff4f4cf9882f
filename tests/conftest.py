"""Shared fixtures: the bundled rules, one Matcher, and the sample reports.

Tests that take a `rule` argument run once per bundled rule; tests that take a
`report` argument run once per sample report (see pytest_generate_tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from her2extract.match import Matcher
from her2extract.rules import load_rules

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_reports"
REPORTS = sorted(SAMPLES.glob("*.txt")) + sorted(SAMPLES.glob("*.pdf"))
RULES = load_rules()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reader", choices=["erpr"], default=None,
                     help="issue 21's migration: read this family of fields with the statement reader "
                          "(link.py) instead of its regex rules, in every extraction that uses the default rules")


def pytest_configure(config: pytest.Config) -> None:
    family = config.getoption("--reader")
    if not family:
        return
    import sys

    from her2extract import pipeline

    sys.path.insert(0, str(REPO / "scripts"))
    from side_by_side import FAMILIES, ReaderMatcher

    reader = ReaderMatcher(RULES, FAMILIES[family])
    pipeline.default_matcher = lambda patterns=None: reader if patterns is None else Matcher(load_rules(extra=patterns))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rule" in metafunc.fixturenames:
        metafunc.parametrize("rule", RULES, ids=[r.id for r in RULES])
    if "report" in metafunc.fixturenames:
        metafunc.parametrize("report", REPORTS, ids=[p.name for p in REPORTS])


@pytest.fixture(scope="session")
def rules():
    return load_rules()


@pytest.fixture(scope="session")
def matcher(rules):
    return Matcher(rules)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def sample_reports() -> list[Path]:
    return list(REPORTS)


def scanned_pdf(folder: Path, lines: list[str], name: str = "scan.pdf") -> Path:
    """A PDF whose only page is a picture of `lines` (no text layer), like a scan."""
    import io

    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 120 + 140 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    for i, line in enumerate(lines):
        draw.text((60, 60 + 140 * i), line, fill=0, font=font)
    picture = io.BytesIO()
    image.save(picture, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(picture, x=10, y=10, w=190)
    path = folder / name
    pdf.output(str(path))
    return path
