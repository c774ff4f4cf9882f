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
