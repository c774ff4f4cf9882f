"""The literal prefilter: what literals() claims of a pattern holds for every match it has,
and a matcher that uses the claims finds exactly what one that scans everywhere finds."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import regex
from conftest import REPO, RULES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from her2extract.ingest import read_document
from her2extract.literals import (
    EXACT_CASE,
    NOTHING,
    WORD_START,
    Atoms,
    Places,
    behind_form,
    holds_at,
    literals,
    lowered,
    token_gate,
    top_level_alternatives,
)
from her2extract.match import STRUCTURE_FILES, Matcher
from her2extract.text import clean_string, clean_text

DEV_TEXTS = REPO.parent / "shared" / "corpus" / "tcga" / "dev" / "texts"


def _claims_hold(source: str, text: str) -> None:
    """Every match (at every start, so overlapped) holds an anchor where it says, and a need,
    starts with one of the prefixes, and holds no more line breaks and characters than said."""
    lit = literals(source)
    low = lowered(text)
    assert low is not None
    for m in regex.compile(source, regex.VERSION0).finditer(text, overlapped=True):
        if lit.needs:
            assert any(holds_at(n, text, low, at) for n in lit.needs for at in range(m.start(), m.end())), (
                source, m.group(0))
        if lit.width is not None:
            assert len(m.group(0)) <= lit.width, (source, m.group(0), lit.width)
        if lit.prefix:
            assert any(holds_at(p, text, low, m.start()) for p in lit.prefix), (source, m.group(0), sorted(lit.prefix))
        if lit.lines is not None:
            assert m.group(0).count("\n") <= lit.lines, (source, m.group(0), lit.lines)
        if lit.anchors:
            at_start = lit.at_start and m.start() == 0
            assert at_start or any(
                holds_at(s, text, low, m.start() + k) for s, least, most in lit.anchors for k in range(least, most + 1)
            ), (source, m.group(0), sorted(lit.anchors))


W, E = WORD_START, EXACT_CASE


def test_a_match_is_at_most_as_long_as_its_width():
    """The most characters a match can take, where bounded (the matcher tries a rule only where
    a needed string follows within that many characters)."""
    lit = literals(r"(?i)her2\D{0,40}?invasive\s{1,4}cells\s{1,4}of\s(?:the\s)?tumou?r\s{1,4}complete")
    assert lit.width == 4 + 40 + 8 + 4 + 5 + 4 + 2 + 1 + 4 + 6 + 4 + 8
    assert literals(r"(?i)her2(?=\s{0,9}x)(?<=\w{0,3})").width == 4  # lookarounds take nothing
    assert literals(r"(?i)her2\s\w*\s(?:amplified|not\samplified)").width is None
    assert literals(r"(?i)her2\s+x").width is None


# Value rules whose matches may be of any length: dot leaders ("ER ........ positive") and
# free text before a method name. Every other value rule's length is bounded (lexicon.toml).
UNBOUNDED = {"er.status_after_name", "pr.status_after_name", "er_pr.status_after_names", "her2_ish.method_field"}


def test_value_rules_have_a_bounded_length():
    """The matcher tries a rule only where its needed strings follow within its longest match;
    one `\\w*` in a macro makes that unknown for every rule that uses it."""
    unbounded = {r.id for r in RULES if r.kind == "regex" and r.file not in STRUCTURE_FILES and not r.region
                 and literals(r.source).width is None}
    assert unbounded == UNBOUNDED


@pytest.mark.parametrize(("source", "anchors", "needs"), [
    (r"(?i)her2", {("her2", 0, 0)}, {"her2"}),
    (r"(?i)HER-?2", {("her2", 0, 0), ("her-2", 0, 0)}, {"her2", "her-2"}),
    # case-sensitive letters are looked for as written; digits and signs have no case
    (r"HER2", {(E + "HER2", 0, 0)}, {E + "HER2"}),
    (r"(?i)x(?-i:ER)", {("xer", 0, 0)}, {"xer"}),  # a mixed string is looked for lower-cased
    (r"[0-3]\+", {("0+", 0, 0), ("1+", 0, 0), ("2+", 0, 0), ("3+", 0, 0)}, {"0+", "1+", "2+", "3+"}),
    # the literal after a little play: "erb" one to three characters in
    (r"(?i)c\s{0,2}erb", {("erb", 1, 3)}, {"erb"}),
    # an optional item ("x?") is read as a branch (with it, without it): each side's anchors
    # are tighter than one loose place ("erb" 1 to 3 characters in)
    (r"(?i)c-?\s?erb", {("c-erb", 0, 0), ("cerb", 0, 0), ("erb", 2, 2), ("erb", 3, 3)}, {"erb"}),
    # "biopsy" 5 to 9 characters in is rarer than "core" or "prior" at the start
    (r"(?i)(?:core|prior)\s{1,4}biopsy", {("biopsy", 5, 9)}, {"biopsy"}),
    # an optional start: the literal after it, at the start or 4 characters in; the longest is needed
    (r"(?i)(?:the\s)?report\s+confirmed", {("report", 0, 0), ("report", 4, 4)}, {"confirmed"}),
    # an optional item that leaves no anchor at all read plainly: each side gives one
    (r"(?i)(?:fluor\w*)?\s{0,4}in\s{0,4}situ", {("fluor", 0, 0), ("situ", 2, 10)}, {"situ"}),
    # after \b or (?<![\w-]), a string that starts with a word character starts a word
    (r"(?i)\bno\s+staining", {(W + "no", 0, 0)}, {"staining"}),
    (r"(?i)(?<![\w-])(?:pr|pgr)\s", {(W + "pr", 0, 0), (W + "pgr", 0, 0)}, {W + "pr", W + "pgr"}),
    (r"(?i)\b-x", {("-x", 0, 0)}, {"-x"}),  # \b before "-" says the opposite: no tag
    # lookarounds consume nothing; a variable-width lookbehind is dropped
    (r"(?i)(?<=a+)bc(?=:)", {("bc", 0, 0)}, {"bc"}),
    # repeated group names (the regex module allows them, the standard parser does not)
    (r"(?i)(?P<v>\d)x|y(?P<v>\d)", {("x", 1, 1), ("y", 0, 0)}, {"x", "y"}),
    (r"(?i)(?P<v>ab)x|cd(?P<v>\d)", {("abx", 0, 0), ("cd", 0, 0)}, {"abx", "cd"}),
    # (?m)^: a line start, unless a rarer literal is near
    (r"(?m)^\|?\s{0,4}\d+%", {("\n", -1, -1)}, {"%"}),
    (r"(?im)^\|?\s{0,4}Ki-67\s", {("ki-67", 0, 5)}, {"ki-67"}),
    (r"\d+%", None, {"%"}),
])
def test_literals_of_small_patterns(source, anchors, needs):
    lit = literals(source)
    assert (set(lit.anchors) if lit.anchors else None) == anchors
    assert (set(lit.needs) if lit.needs else None) == needs


@pytest.mark.parametrize(("source", "prefix"), [
    (r"(?i)(?:the\s)?report\s+confirmed", {"the", "report"}),  # an optional start: either
    (r"(?i)\bno\s+staining", {W + "no"}),
    (r"HER2|Her2", {E + "HER2", E + "Her2"}),
    (r"(?i)\s{0,4}x", None),  # may start with a space: no claim
    (r"(?i)(?<=:)\s?\d+%", None),
])
def test_prefix_of_small_patterns(source, prefix):
    lit = literals(source)
    assert (set(lit.prefix) if lit.prefix else None) == prefix


@pytest.mark.parametrize(("source", "lines"), [
    (r"(?i)a[^\n]*b", 0),
    (r"(?i)a\s{1,4}b", 4),  # \s holds a line break
    (r"(?i)a[\s\S]{0,3}b|x\n\ny", 3),  # the widest branch
    (r"[^\s]+\S\d\w", 0),
    (r"(?i)a.*b", None),  # "." holds one under (?s): no bound
    (r"(?i)a\s+b", None),
    (r"(a)\n\1", None),  # a back-reference: not known
])
def test_line_breaks_a_match_can_hold(source, lines):
    assert literals(source).lines == lines
    _claims_hold(source, "a\n\n\n\nb x\n\ny ab a b a.b")


def test_line_start_anchor_includes_the_text_start():
    lit = literals(r"(?m)^\d")
    assert lit.at_start and lit.anchors == frozenset({("\n", -1, -1)})
    assert not literals(r"(?m)\d^").at_start


@pytest.mark.parametrize("source", [
    r"\p{Lu}ER",  # regex-module syntax the standard parser does not read
    r"(?<=(",  # broken
    r"[a-z]+",  # nothing literal
    r"[[:alpha:]]+ER",  # a POSIX class to the regex module, a warning to the standard parser
])
def test_patterns_without_literals_are_scanned_everywhere(source):
    assert literals(source) == NOTHING or (literals(source).anchors is None and literals(source).needs is None)


def test_a_pattern_that_looks_for_a_tag_character_gets_no_claim_about_it():
    # the tags are "\x00" and "\x01"; a literal one in a pattern must not be read as a tag
    from her2extract.literals import tags

    for source in ("ab\x00cd", "[\x00\x01]x", "(?i)\x01ab", "[\x00-\x03]yz"):
        lit = literals(source)
        strings = [s for s, _, _ in lit.anchors or ()] + list(lit.needs or ())
        assert strings and all(not set(tags(s)[2]) & {EXACT_CASE, WORD_START} for s in strings), source
    assert literals("ab\x00cd").needs in (frozenset({E + "ab"}), frozenset({E + "cd"}))
    _claims_hold("ab\x00cd", "xx ab\x00cd yy")
    _claims_hold("(?i)\x01ab", "x \x01AB")


def test_letters_outside_ascii_are_never_relied_on():
    # case-insensitive matching may take "ſ" for "s": a literal holding such letters is no claim
    assert literals(r"(?i)ſtain").needs is None
    assert literals(r"ſtain").needs == frozenset({E + "ſtain"})  # exact case: looked for as written
    assert literals(r"(?i)≥2\.0").needs == frozenset({"≥2.0"})


def test_lowered_keeps_length_or_gives_up():
    assert lowered("HER2 Positive") == "her2 positive"
    assert lowered("\u212aI-67 ſtain") == "ki-67 stain"  # Kelvin sign, long s: the letters they match
    assert lowered("İ" * 3) == "iii"
    assert lowered("x\u1e9e") is not None  # capital sharp s lowers to one character


def test_atoms_find_every_occurrence_and_places_answer_by_range():
    text = "her2 er\nher2"
    places = Places(Atoms(["er", "her2", "\n"]).find(text, lowered(text)))
    assert places.starts(frozenset({("her2", 0, 0)}), 0, 100) == [0, 8]
    assert places.starts(frozenset({("er", 1, 1)}), 0, 100) == [0, 4, 8]  # "er" one character into a match
    assert places.starts(frozenset({("\n", -1, -1)}), 0, 100, at_start=True) == [0, 8]
    assert places.starts(frozenset({("her2", 0, 0)}), 1, 100) == [8]
    assert places.any_within(frozenset({"her2"}), 0, 4)
    assert not places.any_within(frozenset({"her2"}), 1, 11)  # the second one ends at 12


def test_places_that_know_the_text_length_answer_the_same_for_the_whole_text():
    text = "her2 er\nher2"
    found = Atoms(["er", "her2", "\n", "pr"]).find(text, lowered(text))
    sized, unsized = Places(found, len(text)), Places(found)
    for strings in ({"her2"}, {"pr"}, {"pr", "\n"}, set()):
        for lo, hi in ((0, len(text)), (0, 99), (-5, len(text)), (1, len(text)), (0, 3)):
            assert sized.any_within(frozenset(strings), lo, hi) == unsized.any_within(frozenset(strings), lo, hi)
    assert sized.any_within(frozenset({"pr", "\n"}), 0, len(text))
    assert not sized.any_within(frozenset({"pr"}), 0, len(text))


def test_atoms_honour_exact_case_and_word_starts():
    text = "ER 5%; other: er. PR 0; xPR"
    places = Places(Atoms([E + "ER", "er", W + "er", W + E + "PR"]).find(text, lowered(text)))
    assert places.starts(frozenset({(E + "ER", 0, 0)}), 0, 99) == [0]
    assert places.starts(frozenset({("er", 0, 0)}), 0, 99) == [0, 10, 14]
    assert places.starts(frozenset({(W + "er", 0, 0)}), 0, 99) == [0, 14]  # not inside "other"
    assert places.starts(frozenset({(W + E + "PR", 0, 0)}), 0, 99) == [18]  # not after "x"


@pytest.mark.parametrize(("source", "expected"), [
    (r"(?i)(?:(?:^|(?<=[.:]\s)|(?<=\n)))", (True, (r"(?i)[.:]\s", r"(?i)\n"))),
    (r"(?<=\n)", (False, (r"\n",))),
    (r"(?:^|(?<=a+))", None),  # variable width
    (r"(?m)(?:^|(?<=x))", None),  # ^ after every line break
    (r"(?i)\bher2", None),
])
def test_behind_form(source, expected):
    assert behind_form(source) == expected


def test_lookbehinds_and_group_names_go_only_where_they_are_syntax():
    from her2extract.literals import _for_stdlib

    # a fixed-width lookbehind stays (the standard parser reads it), a variable-width one goes
    assert _for_stdlib(r"(?<![\w-])(?P<v>\d)x(?<=a+)") == r"(?<![\w-])(?:\d)x"
    assert _for_stdlib(r"\(?P<v>[(?<=]") == r"\(?P<v>[(?<=]"  # an escaped "(" and a class


def test_top_level_alternatives():
    assert top_level_alternatives(r"a|(b|c)|[|]d|\|e") == ["a", "(b|c)", "[|]d", r"\|e"]


def test_claims_hold_for_every_rule_on_its_examples(rule):
    if rule.kind != "regex":
        return
    for example in (*rule.examples, *rule.counter_examples):
        _claims_hold(rule.source, clean_string(example).text)
        _claims_hold(rule.source, clean_string(f"x {example}. {example}\n").text)


def test_claims_hold_for_every_rule_on_the_samples(samples):
    texts = [clean_text(read_document(p, ocr="never")).text for p in sorted(samples.iterdir())
             if p.suffix in {".txt", ".pdf"}]
    for rule in RULES:
        if rule.kind == "regex":
            for text in texts:
                _claims_hold(rule.source, text)


TRICKY = [r"a?b", r"(?:ab|cd)e", r"x{2,3}y", r"[ab]c", r"(?i)Fo+", r"(?-i:ER)|(?i:pr)", r"(?<=a)b",
          r"(?m)^ab", r"a|b+c", r"\bab\b", r"c-?\s?erb", r"(?:a\s){0,2}bc", r"(?:ab)+c", r"a(?=b)",
          r"(?P<x>a)b|c(?P<x>d)", r"(?:a|)b", r"[^a]b", r"\n{2,}a"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(TRICKY), text=st.text(alphabet="abcdeErRxyF- \n", max_size=40))
def test_claims_hold_on_random_texts(source, text):
    _claims_hold(source, text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([e for r in RULES if r.kind == "regex" for e in r.examples][:400]),
                min_size=1, max_size=6),
       st.lists(st.sampled_from([" ", "\n", ". ", ", ", "; ", "\n\n", " and "]), min_size=6, max_size=6))
def test_prefiltered_matcher_equals_plain_on_mixed_examples(pieces, glue):
    text = clean_string("".join(p + g for p, g in zip(pieces, glue))).text
    fast, slow = _matchers()
    _same(fast, slow, text)


_PAIR: list[Matcher] = []


def _matchers() -> tuple[Matcher, Matcher]:
    if not _PAIR:
        fast = Matcher(RULES)
        fast.prepare()
        assert fast._atoms.strings  # the prefilter is set up
        _PAIR.extend([fast, Matcher(RULES, prefilter=False)])
    return _PAIR[0], _PAIR[1]


def _same(fast: Matcher, slow: Matcher, text: str) -> None:
    assert fast.findings(text) == slow.findings(text)
    assert fast.sections(text) == slow.sections(text)
    assert fast.parts(text) == slow.parts(text)
    assert fast.triggers(text) == slow.triggers(text)
    assert fast.regions(text) == slow.regions(text)
    assert fast.markers(text) == slow.markers(text)


def test_prefiltered_matcher_equals_plain_on_the_samples(samples):
    fast, slow = _matchers()
    for path in sorted(samples.iterdir()):
        if path.suffix in {".txt", ".pdf"}:
            _same(fast, slow, clean_text(read_document(path, ocr="never")).text)


@pytest.mark.skipif(not DEV_TEXTS.is_dir(), reason="the dev corpus (../shared/corpus) is not beside this checkout")
def test_prefiltered_matcher_equals_plain_on_the_dev_corpus():
    fast, slow = _matchers()
    paths = sorted(Path(DEV_TEXTS).glob("*.txt"))
    assert len(paths) > 100
    for path in paths:
        _same(fast, slow, clean_text(read_document(path, ocr="never")).text)


def test_the_prefilter_sets_itself_up_after_a_few_texts_and_changes_nothing(samples):
    from her2extract.match import PREPARE_AFTER

    matcher = Matcher(RULES)
    texts = [clean_text(read_document(p, ocr="never")).text for p in sorted(samples.glob("*.txt"))]
    assert len(texts) > PREPARE_AFTER
    _, slow = _matchers()
    for number, text in enumerate(texts, 1):
        assert matcher.findings(text) == slow.findings(text)
        assert bool(matcher._atoms.strings) == (number >= PREPARE_AFTER)


def test_spacy_runs_only_where_a_token_rule_can_give_a_value():
    """The token rule's value pattern needs a "+", and its tokens spell a HER2 name, then IHC
    words or signs, then a score: a stretch without that is not tokenized, and the findings are
    those of a matcher that tokenizes everything."""
    matcher = Matcher(RULES)
    assert not matcher._tokens_may_give_values("HER2 ratio 2.1", 0, 14)
    assert matcher._tokens_may_give_values("HER2 IHC score: 2 + equivocal", 0, 29)
    for text in ("HER2 (IHC, clone 4B5): 3+ (positive)", "HER2/neu immunostain score 3+.", "| HER2 IHC | 3+ |"):
        assert not matcher._tokens_may_give_values(text, 0, len(text)), text
    _, slow = _matchers()
    for text in ("HER2 IHC score: 2 + equivocal", "HER2 ratio 2.1, HER2 copies 4.0", "c-erbB-2 3 + (positive)",
                 "HER2 (IHC, clone 4B5): 3+ (positive)", "HER-2 (IHC) 2+, equivocal"):
        text = clean_string(text).text
        assert matcher.findings(text) == slow.findings(text)


@pytest.mark.parametrize(("pattern", "passes", "fails"), [
    ([{"LOWER": "her2"}, {"ORTH": {"IN": ["2", "3"]}, "OP": "?"}], ["HER2 3", "her22", "xher2"], ["her 2", "her-2"]),
    ([{"ORTH": "+", "OP": "{2}"}, {"LOWER": "a"}], ["++a", "+ + A"], ["+a", "+  +a"]),
    ([{"LOWER": "her2"}, {"ORTH": "\n"}, {"ORTH": "2"}], ["her2\n2", "her2 \n 2"], ["her2 2", "her2\n\n2"]),
])
def test_token_gate_spells_a_token_pattern(pattern, passes, fails):
    gate = regex.compile(token_gate(pattern))
    assert all(gate.search(text.lower()) for text in passes)
    assert not any(gate.search(text.lower()) for text in fails)


@pytest.mark.parametrize("pattern", [
    [{"LOWER": "her2"}, {"IS_DIGIT": True}],  # a token given by anything but its text
    [{"LOWER": "her2"}, {"ORTH": "2", "OP": "!"}],
    [{"LOWER": {"IN": ["her2", "h\u00e9r2"]}}],  # outside ASCII: lower-casing may differ
    [{"LOWER": {"NOT_IN": ["her2"]}}],
    [{}],
])
def test_token_gate_says_nothing_of_what_it_cannot_read(pattern):
    assert token_gate(pattern) is None


_NAMES = ["HER2", "her-2", "Her2/Neu", "ERBB2", "c-erbB-2", "c-ERBB2"]
_BETWEEN = ["IHC", "Score", "immunohistochemistry", "(", ")", ":", "-", "=", "clone", "4B5", ","]
_SCORES = ["1", "2", "3", "0", "2+", "3+", "1+"]
_AFTER = ["+", "positive", "Equivocal", "and", "with", ".", ",", ";", ")", "(", "results", "x", "\n"]
_GAPS = ["", " ", " ", "  ", "\n", " \n"]


def _pieces(words: list[str]):
    return st.lists(st.tuples(st.sampled_from(words), st.sampled_from(_GAPS)), max_size=3)


# texts shaped like a match (a name, signs and words, a score, what follows), with random
# spacing and strays, so that both matches and near misses are common
_TOKEN_TEXTS = st.tuples(
    _pieces(_AFTER + _SCORES), _pieces(_NAMES), _pieces(_BETWEEN), _pieces(_SCORES), _pieces(_AFTER),
).map(lambda parts: "".join(word + gap for part in parts for word, gap in part))


@functools.lru_cache(maxsize=1)
def _tokenizing_matcher() -> Matcher:
    matcher = Matcher(RULES)
    matcher._load_spacy()
    return matcher


@settings(max_examples=600, deadline=None)
@given(_TOKEN_TEXTS)
def test_a_token_rule_never_matches_where_its_gate_finds_nothing(text):
    """The gate is a necessary condition: wherever spaCy's matcher finds a token rule's match,
    the gate finds something in that match's text (so skipping spaCy where it finds nothing
    loses no finding)."""
    matcher = _tokenizing_matcher()
    doc = matcher._nlp.make_doc(text)
    for match_id, first, last in matcher._spacy_matcher(doc):
        rule = next(r for r in matcher._token_rules if r.id == matcher._nlp.vocab.strings[match_id])
        gate = regex.compile(token_gate(rule.pattern))
        assert gate.search(doc[first:last].text.lower()), (rule.id, doc[first:last].text)


def test_the_token_gate_test_sees_matches():
    """The property test above is not empty: texts built its way do match the token rule."""
    matcher = _tokenizing_matcher()
    for text in ("HER2 IHC score: 2 + equivocal", "HER-2 (IHC) 3+ positive", "ERBB2 3+ ("):
        assert list(matcher._spacy_matcher(matcher._nlp.make_doc(text))), text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="her2 \nxp", max_size=60), lo=st.integers(-3, 65), size=st.integers(0, 30),
       at_start=st.booleans())
def test_starts_within_a_stretch_equal_starts_there(text, lo, size, at_start):
    anchors = frozenset({("her2", 0, 0), ("\n", -1, -1), ("er", 1, 3), (W + "p", 0, 2)})
    places = Places(Atoms(s for s, _, _ in anchors).find(text, lowered(text)), len(text))
    hi = lo + size
    assert places.starts_within(anchors, lo, hi, at_start) == places.starts(anchors, lo, hi, at_start)
