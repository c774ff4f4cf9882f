"""The statement reader (issue 21, being built; not yet what the pipeline uses): every link case
of patterns/reader/links.toml end to end, every predicate of the lexicon, and invariances.

Migration state: scripts/side_by_side.py runs it in place of the regex rules for ER and PR, on a
folder, and prints every value that differs; the family switches when the dev corpus says so.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from her2extract.link import Linker
from her2extract.recognize import load_vocabulary

READER = Path(__file__).resolve().parent.parent / "patterns" / "reader"


def _cases():
    data = tomllib.loads((READER / "links.toml").read_text(encoding="utf-8"))
    for table in data["cases"]:
        for case in table["cases"]:
            yield pytest.param(case, id=f"{table['strategy']}: {case['text'][:50]}")


@pytest.fixture(scope="module")
def linker():
    return Linker()


def _read(linker, text):
    facts, doubts = linker.facts(text)
    return {f.field: f.value for f in facts}, sorted(d.field for d in doubts)


@pytest.mark.parametrize("case", list(_cases()))
def test_every_link_case_gives_its_values_and_nothing_else(linker, case):
    want = {k: v for k, v in case.items() if k not in ("text", "ambiguous")}
    got, ambiguous = _read(linker, case["text"])
    assert got == want
    assert ambiguous == sorted(case.get("ambiguous", []))


def test_every_predicate_of_the_lexicon_gives_its_call(linker):
    vocabulary = load_vocabulary()
    wrong = {}
    for call, phrases in vocabulary.predicates.items():
        for phrase in phrases:
            got, _ = _read(linker, f"Progesterone receptor: {phrase}")
            if got.get("pr_reported") != call:
                wrong[phrase] = got
    assert not wrong, wrong


@pytest.mark.parametrize("damaged", ["0estrogen receptor", "Estrogcn receptor", "OESTROGEN RECEPT0R", "Oestrogen Reciptor"])
def test_ocr_damage_to_a_marker_name_is_read_as_the_name(linker, damaged):
    assert _read(linker, f"{damaged}: negative (0%)")[0] == {"er_reported": "negative", "er_percent": "0"}


@pytest.mark.parametrize("noise", [
    "Reagents: anti-TTF-1 (lung), anti-CDX2 (colon), anti-PAX8 (kidney); controls positive.",
    "HER2 (4B5): negative (1+).",
    "Ki-67: 15%.",
])
def test_a_statement_about_other_things_changes_nothing(linker, noise):
    base = "ESTROGEN RECEPTOR: POSITIVE, 80% OF NUCLEI, STRONG\nPROGESTERONE RECEPTOR: NEGATIVE (<1%)"
    assert _read(linker, base + "\n" + noise) == _read(linker, noise + "\n" + base) == _read(linker, base)


def test_an_unrecognized_word_is_never_a_near_miss_of_a_short_name(linker):
    # "Err", "Per", "Pr." are not ER or PR: near misses count only for words of six letters or more
    assert _read(linker, "Err: negative. Per protocol: positive. Pr. Smith: positive") == ({}, [])
