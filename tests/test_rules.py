"""Every bundled rule against its own examples; the loader's validation; regex run time."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from her2extract.errors import PatternFileError
from her2extract.match import STRUCTURE_FILES, Matcher, _marker_rules, rule_matches
from her2extract.pipeline import extract_text
from her2extract.rules import DEFAULT_TIMEOUT, load_rules
from her2extract.text import clean_string


# --- every rule against its own sentences -------------------------------------------------

def test_rule_has_examples(rule):
    assert rule.examples, f"{rule.id} has no example sentence"


def test_rule_matches_its_examples(rule):
    missed = [text for text in rule.examples if not rule_matches(rule, text)]
    assert not missed, f"{rule.id} missed {missed!r}"


def test_rule_ignores_its_counter_examples(rule):
    fired = [text for text in rule.counter_examples if rule_matches(rule, text)]
    assert not fired, f"{rule.id} fired on {fired!r}"


def test_rules_ids_unique_and_named_after_file(rules):
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    for r in rules:
        assert r.id.startswith(f"{r.file}."), f"{r.id} is not <file>.<name> (file {r.file})"


def test_rules_cover_every_csv_value_field(rules):
    filled = set().union(*(r.fields for r in rules))
    for name in ("her2_ihc_score", "her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_result",
                 "her2_reported", "er_reported", "er_percent", "pr_reported", "pr_percent",
                 "ki67_percent", "site"):
        assert name in filled, f"no rule fills {name}"


# --- adversarial input: every regex must finish quickly -----------------------------------

_rnd = random.Random(20240917)
ADVERSARIAL_CHARS = 50_000
ADVERSARIAL = {
    "her2_repeated": "HER2 " * 10_000,
    "digits_and_spaces": "".join(_rnd.choice("0123456789 ") for _ in range(ADVERSARIAL_CHARS)),
    "er_positive_repeated": "ER positive " * 4200,
    "her2_score_open_paren": "HER2/neu 2+ (" * 3850,
    "parentheses": "(" * 25_000 + "HER2 3+" + ")" * 25_000,
    # U+1680 (Ogham space mark) survives clean_string (NFKC keeps it) and is \s to the regexes.
    "ogham_spaces": "HER2 FISH " + "\u1680" * ADVERSARIAL_CHARS + " ratio 2.2",
}


def test_adversarial_texts_survive_cleaning():
    for name, text in ADVERSARIAL.items():
        assert len(text) >= ADVERSARIAL_CHARS, name
        assert len(clean_string(text).text) >= ADVERSARIAL_CHARS * 0.95, f"{name} is not reachable after cleaning"


def test_rule_finishes_on_adversarial_text(rule):
    """Each rule, run the way the pipeline runs it (windows, leads, mention cap), on 50 kB texts."""
    matcher = Matcher((rule, *_marker_rules())) if rule.file not in ("markers",) else Matcher((rule,))
    start = time.perf_counter()
    for name, text in ADVERSARIAL.items():
        try:
            if rule.kind == "regex" and (rule.file in STRUCTURE_FILES or rule.region):
                for _ in rule.pattern.finditer(text, timeout=DEFAULT_TIMEOUT):
                    pass
            else:
                matcher.findings(text)
        except TimeoutError:
            pytest.fail(f"{rule.id} timed out on {name}")
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"{rule.id} took {elapsed:.2f} s on the adversarial texts"


def test_no_regex_backtracks_catastrophically(rule):
    """A raw pattern's time grows about linearly with its input: 4x the text, well under 16x the time."""
    if rule.kind != "regex":
        return
    for name, text in ADVERSARIAL.items():
        small, large = text[:5_000], text[:20_000]
        times = []
        for sample in (small, large):
            started = time.perf_counter()
            for _ in rule.pattern.finditer(sample, timeout=5.0):
                pass
            times.append(time.perf_counter() - started)
        assert times[1] < max(0.05, 10 * times[0]), f"{rule.id} on {name}: {times[0]:.3f} s -> {times[1]:.3f} s"


# --- the loader: loading is validation ------------------------------------------------------

GOOD_RULE = """
[[rules]]
id = "{id}"
pattern = '{pattern}'
examples = ["HER2 test 2+"]
"""


def _pattern_dir(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "patterns"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


BAD_FILES = {
    "bad_regex": (
        "local.toml",
        '[[rules]]\nid = "local.bad_regex"\npattern = \'(?i)HER2 (?P<her2_ihc_score>[0-3]\\+\'\n',
        "local.bad_regex",
        "bad regex",
    ),
    "unknown_key": (
        "local.toml",
        '[[rules]]\nid = "local.typo"\npattern = \'(?i)HER2 (?P<her2_ihc_score>[0-3]\\+)\'\n'
        'exampels = ["HER2 2+"]\n',
        "local.typo",
        "exampels",
    ),
    "unknown_field_group": (
        "local.toml",
        '[[rules]]\nid = "local.her3"\npattern = \'(?i)HER3 (?P<her3_score>[0-3]\\+)\'\n',
        "local.her3",
        "her3_score",
    ),
    "unknown_macro": (
        "local.toml",
        '[[rules]]\nid = "local.macro"\npattern = \'(?i){{NOPE}}\\s*(?P<her2_ihc_score>[0-3]\\+)\'\n',
        "local.macro",
        "NOPE",
    ),
    "invalid_toml": (
        "local.toml",
        '[[rules]]\nid = "local.broken\npattern = \'x\'\n',
        None,
        "TOML",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES), ids=sorted(BAD_FILES))
@pytest.mark.parametrize("as_extra", [False, True], ids=["alone", "extra"])
def test_load_rules_rejects_bad_file(tmp_path, case, as_extra):
    name, text, rule_id, reason = BAD_FILES[case]
    folder = _pattern_dir(tmp_path, name, text)
    with pytest.raises(PatternFileError) as info:
        load_rules(extra=folder) if as_extra else load_rules(folder)
    message = str(info.value)
    assert name in message, message
    assert reason.lower() in message.lower(), message
    if rule_id is not None:
        assert rule_id in message, message
        assert info.value.rule_id == rule_id
    assert info.value.path.name == name


def test_load_rules_rejects_duplicate_id_in_one_file(tmp_path):
    text = GOOD_RULE.format(id="local.twice", pattern=r"(?i)HER2 test (?P<her2_ihc_score>[0-3]\+)") * 2
    folder = _pattern_dir(tmp_path, "local.toml", text)
    with pytest.raises(PatternFileError) as info:
        load_rules(folder)
    message = str(info.value)
    assert "local.toml" in message and "local.twice" in message and "duplicate" in message.lower()


def test_load_rules_rejects_user_rule_reusing_a_bundled_id(tmp_path, rules):
    taken = next(r.id for r in rules if r.file == "her2_ihc")
    text = GOOD_RULE.format(id=taken, pattern=r"(?i)HER2 test (?P<her2_ihc_score>[0-3]\+)")
    folder = _pattern_dir(tmp_path, "mine.toml", text)
    with pytest.raises(PatternFileError) as info:
        load_rules(extra=folder)
    message = str(info.value)
    assert "mine.toml" in message and taken in message and "duplicate" in message.lower()


def test_load_rules_rejects_missing_directory(tmp_path):
    with pytest.raises(PatternFileError):
        load_rules(extra=tmp_path / "no-such-folder")


def test_load_rules_extra_adds_a_user_rule(tmp_path, rules):
    sentence = "Membrane marker M2 reading: 3+"
    text = (
        "# a local phrasing\n"
        "[[rules]]\n"
        'id = "local.marker_m2"\n'
        "pattern = '(?i)\\bmembrane marker M2 reading:\\s*(?P<her2_ihc_score>[0-3]\\+)'\n"
        f'examples = ["{sentence}"]\n'
        'counter_examples = ["Membrane marker M3 reading: 3+"]\n'
    )
    folder = _pattern_dir(tmp_path, "local.toml", text)
    extended = load_rules(extra=folder)
    assert len(extended) == len(rules) + 1
    added = [r for r in extended if r.id == "local.marker_m2"]
    assert len(added) == 1
    rule = added[0]
    assert rule.fields == frozenset({"her2_ihc_score"})
    assert rule_matches(rule, sentence)
    assert not rule_matches(rule, "Membrane marker M3 reading: 3+")
    # the bundled rules alone do not read this phrasing; with the user's rule the value is filled
    assert extract_text(sentence, matcher=Matcher(rules)).her2_ihc_score is None
    assert extract_text(sentence, matcher=Matcher(extended)).her2_ihc_score == "3+"


def test_user_rules_keep_the_regex_time_limit_where_they_are_tried_at_one_place(tmp_path, rules):
    """Bundled rules (shown linear above) go without a per-try time limit; a user's rule keeps
    it, also where the matcher tries it only at its anchors' places."""
    assert {r.timeout for r in rules} == {None}
    text = (
        "[[rules]]\n"
        'id = "local.backtracking"\n'
        "pattern = '(?i)HER2 (?:a|aa)+(?P<her2_ihc_score>[0-3]\\+)'\n"
        'examples = ["HER2 aa3+"]\n'
    )
    extended = load_rules(extra=_pattern_dir(tmp_path, "local.toml", text))
    user = next(r for r in extended if r.id == "local.backtracking")
    assert user.timeout == DEFAULT_TIMEOUT
    assert {r.timeout for r in extended if r.id != user.id} == {None}
    matcher = Matcher((user, *_marker_rules()))
    with pytest.raises(TimeoutError):
        matcher.findings(clean_string("HER2 " + "a" * 60 + "!").text)


def test_a_users_macros_put_the_time_limit_back_on_every_rule(tmp_path):
    """A user's file may redefine a macro the bundled rules use: none of them is then trusted."""
    text = '[macros]\nKI67 = \'\'\'(?:Ki-?67)\'\'\'\n'
    extended = load_rules(extra=_pattern_dir(tmp_path, "local.toml", text))
    assert {r.timeout for r in extended} == {DEFAULT_TIMEOUT}
