"""Relaxed gaps (gaps.py): a rule tried with plain gaps and a stop check finds what it finds itself."""

from __future__ import annotations

import dataclasses

import pytest
import regex
from conftest import RULES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from her2extract import match as match_module
from her2extract.gaps import first_chars, relax
from her2extract.match import Matcher

STOP = r"\bER\b|\bPR\b|\n\s{0,2}\n|x{2}"
TOY = {
    "lazy": rf"(?i)HER2(?:(?!{STOP})[\s\S]){{0,30}}?(?P<score>[0-3]\+|zero)",
    "greedy": rf"(?i)HER2(?:(?!{STOP})[^;]){{0,30}}(?P<score>[0-3]\+)",
    "wrapped": rf"(?i)(?:HER2(?:(?:(?!{STOP})(?:[^\n]|\n))){{0,30}}?)(?:score\s|\()(?P<score>[0-3])",
    "branch": rf"(?i)(?:ki-?67|HER2(?:(?!{STOP})[\s\S]){{0,30}}?(?P<score>[0-3]\+))\.?",
    "two gaps": rf"(?i)HER2(?:(?!{STOP})[\s\S]){{0,20}}?(?P<score>[0-3]\+)(?:(?!\bif\b)[\s\S]){{0,20}}?(?P<pct>\d{{1,3}}%)",
}


def test_relax_turns_each_gap_into_a_named_plain_one_with_a_look_ahead():
    loose = relax(TOY["lazy"])
    assert loose is not None
    assert [gap.name for gap in loose.gaps] == ["_gap0"]
    assert "_gap0" in loose.pattern.groupindex
    assert "(?!" not in loose.pattern.pattern  # the stop check left the pattern
    assert loose.gaps[0].stop.pattern == "(?i)" + STOP
    assert loose.gaps[0].stop_literals.anchors  # where a stop phrase may start is known
    assert [gap.name for gap in relax(TOY["two gaps"]).gaps] == ["_gap0", "_gap1"]


@pytest.mark.parametrize("source", [
    rf"(?i)(?:HER2(?:(?!{STOP})[\s\S]){{0,30}}?x)+(?P<score>[0-3]\+)",  # the gap's group is repeated
    rf"(?i)HER2(?=(?:(?!{STOP})[\s\S]){{0,30}}?\d)",  # inside a look-ahead
    rf"HER2(?i:(?:(?!{STOP})[\s\S]){{0,30}}?)(?P<score>[0-3]\+)",  # under a flag of its own
    rf"HER2(?:(?!{STOP})[\s\S]){{0,30}}?(?i)(?P<score>[0-3]\+)",  # a flag set further on
    rf"(?:(?!{STOP})[\s\S]){{0,30}}?",  # may match nothing
    rf"HER2(?:(?!{STOP})[\s\S]{{2}}){{0,30}}?\d",  # the gap's step is not one character
    r"HER2\s{0,4}\d",  # no gap at all
    r"(?P<n>HER2)(?:(?!(?P=n))[\s\S]){0,30}?\d",  # the stop phrase refers to a group outside it
])
def test_relax_leaves_alone_what_it_cannot_check(source):
    assert relax(source) is None


@pytest.mark.parametrize(("source", "expected"), [
    (r"(?i)zero|(?-i:[lI])", r"(?i:[\x7a])|[\x49\x6c]"),
    (r"(?i)(?<=score\s)(?:[0-3]|zero)", r"(?i:[\x30-\x33\x7a])"),
    (r"\b(?:a?b|c)", r"[\x61\x62\x63]"),
    (r"\d+%", r"[\d]"),
    (r"a*b?", None),  # may be empty
    (r"[^a]x", None),  # a negated class: no claim
    (r".x", None),
])
def test_first_chars(source, expected):
    assert first_chars(source) == expected


def test_first_chars_holds_the_first_character_of_every_match():
    for source in (*TOY.values(), *(r.source for r in RULES if r.kind == "regex")):
        guard = first_chars(source)
        if guard is None:
            continue
        pattern, check = regex.compile(source, regex.VERSION0), regex.compile(guard, regex.VERSION0)
        for example in ("HER2 2+", "HER2: zero", "her2 (score 1)", "ki67 5%. HER2 1+ 10%"):
            for m in pattern.finditer(example):
                if m.end() > m.start():
                    assert check.match(example, m.start()), (source, example)


def _toy_rule(source: str):
    rule = next(r for r in RULES if r.kind == "regex" and r.file not in match_module.STRUCTURE_FILES)
    return dataclasses.replace(rule, id="toy", pattern=regex.compile(source, regex.VERSION0), source=source,
                               lead=None, near=(), within="", timeout=None)


_PIECES = ["HER2", "her2 ", " ER ", " PR", "\n", "\n\n", " 2+", "3+", " zero", "score ", "(", "1", ";",
           " 40%", "xx", "x", " if ", "ki67", ".", "  "]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TOY)), pieces=st.lists(st.sampled_from(_PIECES), max_size=25))
def test_relaxed_tries_find_what_the_rule_finds(name, pieces):
    """Scanned or tried place by place, a rule with relaxed gaps gives the rule's own matches,
    also where a stop phrase inside a gap sends the matcher back to the rule itself."""
    text = "".join(pieces)
    rule = _toy_rule(TOY[name])
    matcher = Matcher([rule])
    matcher.prepare(spacy=False)
    assert "toy" in matcher._relaxed
    expected = [_public(m) for m in rule.pattern.finditer(text)]
    assert [_public(m) for m in matcher._relaxed_scan(rule, matcher._relaxed["toy"], text, 0, len(text))] == expected
    tried = match_module._anchored_matches(rule.pattern, text, list(range(len(text) + 1)),
                                           match=matcher._try_function(rule, None))
    assert [_public(m) for m in tried] == expected


def test_a_stop_inside_the_gap_sends_the_matcher_back_to_the_rule():
    rule = _toy_rule(TOY["lazy"])
    matcher = Matcher([rule])
    matcher.prepare(spacy=False)
    text = "HER2 and ER 2+; HER2 is 3+"
    loose = matcher._relaxed["toy"]
    first = loose.pattern.match(text, 0)
    assert first is not None and first.group("score") == "2+"  # the relaxed pattern reads past " ER "
    assert matcher._stopped(loose, text, first, len(text), None)
    assert [m.group("score") for m in matcher._relaxed_scan(rule, loose, text, 0, len(text))] == ["3+"]
    assert [m.group("score") for m in rule.pattern.finditer(text)] == ["3+"]


def _public(m) -> tuple:
    return m.span(), {k: v for k, v in m.groupdict().items() if not k.startswith("_")}
