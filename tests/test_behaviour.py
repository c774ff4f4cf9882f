"""The behavioural suite: short reports and the values they must (or must not) give.

CheckList style (Ribeiro et al., ACL 2020), as data: tests/behaviour/*.toml. A case is a
minimum-functionality test (MFT: one text, its values), an invariance test (INV: the text with
each filling of its {{slot}} gives the same values) or a directional test (DIR: each filling
changes the values as its own `expect` says). Values are compared as CSV cells; a status with
no result is "unknown", an empty cell "". `warnings` lists codes (or code: detail fragments)
that must be among the record's warnings, `no_warnings` codes that must not. `explain` and
`no_explain` are fragments the plain-language explanation (what a patient reads) must or must
not hold; `naaccr` maps NAACCR item numbers to the codes the registry export must give.

These cases describe behaviour, not rules: they must stay green whatever matching layer
produces the values.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from her2extract.export import to_row
from her2extract.naaccr import naaccr_items
from her2extract.pipeline import extract_text

CASES_DIR = Path(__file__).parent / "behaviour"
CONTRACT = Path(__file__).parent.parent / "docs" / "contract.md"
WARNING = re.compile(r"([a-z0-9]+(?:-[a-z0-9]+)*): \S")
KINDS = frozenset({"MFT", "INV", "DIR"})


def _load() -> list[tuple[str, dict, dict]]:
    out = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            variants = case.get("variants") or [{}]
            for number, variant in enumerate(variants):
                out.append((f"{path.stem}:{case['id']}:{number}", case, variant))
    return out


CASES = _load()


def _text(case: dict, variant: dict) -> str:
    text = case["text"]
    if "{{slot}}" in text:
        return text.replace("{{slot}}", variant.get("slot", ""))
    assert "slot" not in variant, "a variant fills a slot the text does not have"
    return text


def test_the_suite_is_well_formed():
    ids = [c["id"] for _, c, v in CASES if v is (c.get("variants") or [{}])[0]]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for name, case, _ in CASES:
        assert case.get("kind") in KINDS, name
        assert case.get("item") in range(1, 9), name
        if case["kind"] == "MFT":
            assert len(case.get("variants") or [{}]) == 1, name
        else:
            assert len(case["variants"]) >= 2 and "{{slot}}" in case["text"], name
        if case["kind"] == "INV":
            assert all("expect" not in v for v in case["variants"]), f"{name}: INV shares one expect"
    items = {c["item"] for _, c, _ in CASES}
    assert len({c["id"] for _, c, _ in CASES}) >= 60 and items >= {2, 3, 4, 5, 6, 7, 8}


@pytest.mark.parametrize("name,case,variant", CASES, ids=[c[0] for c in CASES])
def test_behaviour(name, case, variant):
    record = extract_text(_text(case, variant), source=name)
    row = to_row(record)
    expect = {**case.get("expect", {}), **variant.get("expect", {})}
    got = {field: row[field] for field in expect}
    assert got == expect, f"{name}: {case.get('description', '')}\nwarnings: {list(record.warnings)}"
    codes = list(record.warnings)
    first_cells = re.findall(r"^\| (`[^|]+)\|", CONTRACT.read_text(encoding="utf-8"), re.M)
    documented = {code for cell in first_cells for code in re.findall(r"`([a-z0-9-]+)`", cell)}
    for warning in codes:  # the CSV joins warnings with " | ": one must never hold that separator itself
        code = WARNING.match(warning)
        assert code and "|" not in code.group(1), f"{name}: malformed warning {warning!r}"
        assert code.group(1) in documented, f"{name}: warning code {code.group(1)!r} is not in docs/contract.md"
    for wanted in case.get("warnings", []) + variant.get("warnings", []):
        assert any(w.startswith(wanted) or wanted in w for w in codes), f"{name}: no warning {wanted!r} in {codes}"
    for unwanted in case.get("no_warnings", []) + variant.get("no_warnings", []):
        assert not any(w.startswith(unwanted) for w in codes), f"{name}: unexpected warning {unwanted!r} in {codes}"
    said = " ".join(text for _, text in record.explanation) + " " + " ".join(record.questions)
    for wanted in case.get("explain", []) + variant.get("explain", []):
        assert wanted.lower() in said.lower(), f"{name}: the explanation lacks {wanted!r}: {said}"
    for unwanted in case.get("no_explain", []) + variant.get("no_explain", []):
        assert unwanted.lower() not in said.lower(), f"{name}: the explanation says {unwanted!r}: {said}"
    codes_wanted = {**case.get("naaccr", {}), **variant.get("naaccr", {})}
    if codes_wanted:
        items = naaccr_items(record)
        assert {k: items[int(k)] for k in codes_wanted} == codes_wanted, name
