"""The matcher's fast path gives the same findings as scanning every rule over the whole text."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from her2extract import match as match_module
from her2extract.ingest import read_document
from her2extract.match import Matcher
from her2extract.pipeline import default_matcher
from her2extract.rules import _top_level_alternation
from her2extract.text import clean_text


@pytest.mark.parametrize(("source", "expected"), [
    (r"a|b", True),
    (r"(?:a|b)c", False),
    (r"[|]x", False),
    (r"\|x", False),
    (r"[]|]x", False),
    (r"(a)|(b)", True),
    (r"(?i)(?:her2)(?:\s|:){0,3}(?P<v>[0-3]\+)", False),
])
def test_top_level_alternation(source, expected):
    assert _top_level_alternation(source) is expected


def _texts(samples):
    paths = sorted(p for p in samples.iterdir() if p.suffix in {".txt", ".pdf"})
    return [clean_text(read_document(p, ocr="never")).text for p in paths]


def test_lead_rules_find_what_a_full_scan_finds(samples):
    prefiltered = Matcher(default_matcher().rules)
    prefiltered.prepare()
    plain = Matcher(default_matcher().rules, prefilter=False)
    lead_rules = [r for r in plain.value_rules if r.lead is not None]
    assert len(lead_rules) >= 20
    for text in _texts(samples):
        for rule in lead_rules:
            scanned = [_public(m) for m in rule.pattern.finditer(text)]
            for matcher in (prefiltered, plain):  # lead places from the literal pass, and from the lead's regex
                assert [_public(m) for m in matcher._lead_matches(rule, text)] == scanned, rule.id


def _public(m) -> tuple:
    """A match's span and groups, without the matcher's own ("_gap0" of a relaxed pattern: gaps.py)."""
    return m.span(), {name: value for name, value in m.groupdict().items() if not name.startswith("_")}


def test_windowed_findings_equal_whole_text_findings_on_the_samples(samples):
    """The windows, leads and literal prefilter are a speed-up only: on every sample, the same findings."""
    fast = default_matcher()
    fast.prepare()
    slow = Matcher(r for r in fast.rules if r.file != "markers")  # no markers: every rule on the whole text
    slow_rules = tuple(
        r.__class__(**{**{f: getattr(r, f) for f in r.__slots__}, "lead": None}) for r in slow.rules)
    slow = Matcher(slow_rules, prefilter=False)
    for text in _texts(samples):
        assert fast.findings(text) == slow.findings(text)
        assert fast.sections(text) == slow.sections(text)
        assert fast.parts(text) == slow.parts(text)


def test_what_a_matcher_works_out_for_a_text_is_kept_per_thread(samples):
    """The web server runs uploads in threads with one matcher: the places worked out for the
    text in hand (markers, leads, literals) must not be swapped for another thread's text."""
    import threading

    matcher = Matcher(default_matcher().rules)
    matcher.prepare()
    first, second = _texts(samples)[:2]
    expected = matcher.findings(first)
    mine = matcher._text_cache(first)
    other = threading.Thread(target=lambda: matcher.findings(second))
    other.start()
    other.join()
    assert matcher._text_cache(first) is mine  # the other thread's text did not replace it
    assert matcher.findings(first) == expected


def _count_tries(monkeypatch) -> list[int]:
    """The places where the matcher tries rules (filled as it tries them)."""
    tried: list[int] = []
    real = match_module._anchored_matches

    def counting(pattern, text, starts, *args, **kwargs):
        tried.extend(starts)
        return real(pattern, text, starts, *args, **kwargs)

    monkeypatch.setattr(match_module, "_anchored_matches", counting)
    return tried


def test_a_rule_is_tried_only_where_a_needed_string_follows_within_its_line_breaks(monkeypatch):
    """A rule whose matches hold at most one line break ("need" on the line after a line start)
    is tried only at line starts with "need" at most one break away; it still finds every match
    a plain scan finds."""
    import dataclasses

    from her2extract.rules import load_rules

    base = next(r for r in load_rules() if r.file == "assertions")
    source = r"(?m)^a[^\n]*\n[^\n]*need"
    rule = dataclasses.replace(base, id="assertions.test_lines", pattern=regex.compile(source), source=source)
    text = "".join(f"a{i}\n" for i in range(20)) + "a line\nthen need\n" + "a\nx\ny need\n" + "a\n" * 10
    matcher = Matcher((rule,))
    matcher.prepare()
    tried = _count_tries(monkeypatch)
    found = [(t.start, t.end) for t in matcher.triggers(text)]
    assert found == [m.span() for m in regex.finditer(source, text)] == [(text.index("a line"), text.index("need") + 4)]
    # of the 33 line starts that begin with "a", only the one with "need" one break away
    assert tried == [text.index("a line")]


@pytest.mark.parametrize("copies", [1, 12])  # few places (asked one by one) and many (the reach is worked out)
def test_a_rule_is_tried_only_where_a_needed_string_follows_within_its_length(monkeypatch, copies):
    """A rule whose matches are at most 3 + 30 + 4 characters long is tried only where "need"
    starts within that many characters of a start; it still finds every match a plain scan finds."""
    import dataclasses

    from her2extract.rules import load_rules

    base = next(r for r in load_rules() if r.file == "assertions")
    source = r"(?i)\bab\s[^\n]{0,30}?need"
    rule = dataclasses.replace(base, id="assertions.test_width", pattern=regex.compile(source), source=source)
    near, far = "ab " + "x" * 20 + " need. ", "ab " + "x" * 40 + " need. "
    text = (far + near) * copies
    matcher = Matcher((rule,))
    matcher.prepare()
    tried = _count_tries(monkeypatch)
    found = [(t.start, t.end) for t in matcher.triggers(text)]
    assert found == [m.span() for m in regex.finditer(source, text)]
    assert len(found) == copies
    assert tried == [start for start, _ in found]  # the "ab" with "need" 41 characters on is never tried


def test_the_line_gate_is_worked_out_once_per_text_not_once_per_window(monkeypatch):
    """A long report with many marker windows that do not merge asks each rule once per window;
    the reach of its needed strings must be worked out once per text, so the work does not grow
    with the number of windows (it did: a 1.2 MB text took 170 s instead of about 1 s)."""
    from her2extract.literals import Places

    filler = "\n".join(f"cells {i} nuclei {i * 7} average {i % 90} signals per cell" for i in range(14))
    matcher = default_matcher()
    matcher.prepare()
    calls: list[int] = []
    real = Places.spots

    def counting(self, string):
        calls.append(1)
        return real(self, string)

    monkeypatch.setattr(Places, "spots", counting)
    counts = []
    for paragraphs in (30, 90):
        calls.clear()
        matcher.findings("".join(f"HER2 IHC {k % 4}+ cells {k}%.\n{filler}\n\n" for k in range(paragraphs)))
        counts.append(len(calls))
    assert counts[0] > 0, "the line gate was never used: the test no longer tests it"
    assert counts[0] == counts[1]


def test_threads_take_turns_with_spacy():
    """The web server reads uploads in threads with one matcher; spaCy's tokenizer and matcher
    are used by one thread at a time (while another holds them, a thread waits)."""
    import threading

    matcher = Matcher(default_matcher().rules)
    matcher.prepare()
    text = "HER2 IHC score: 2 + equivocal"
    found: list = []
    with matcher._spacy_lock:
        reader = threading.Thread(target=lambda: found.extend(matcher._token_findings(text)))
        reader.start()
        reader.join(timeout=1.0)
        assert reader.is_alive(), "the thread used spaCy while another held it"
    reader.join(timeout=30)
    assert [(f.field, f.raw) for f in found] == [("her2_ihc_score", "2 +")]


# --- Cues: the triggers that can bear on one mention ------------------------------------------
_KINDS = ("negated", "pending", "historical", "hypothetical", "boilerplate", "in_situ", "terminate")


@st.composite
def _triggers(draw):
    out = []
    for n in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, 400))
        kind = draw(st.sampled_from(_KINDS))
        stops = draw(st.sampled_from([(), ("historical",), ("pending", "negated")])) if kind == "terminate" else ()
        out.append(match_module.Trigger(f"r{n}", kind, draw(st.sampled_from(["backward", "forward", "both"])),
                                        draw(st.integers(0, 160)), start, start + draw(st.integers(0, 40)), stops))
    return sorted(out, key=lambda t: t.start)


@settings(max_examples=300, deadline=None)
@given(_triggers(), st.integers(0, 450), st.integers(1, 60))
def test_cues_near_keeps_every_trigger_that_can_decide(triggers, start, length):
    """Asked about the triggers near a mention only, nearest_trigger gives what it gives when
    asked about all of them (a `near` that dropped one in reach fails this)."""
    end = start + length
    near = match_module.Cues(triggers).near(start, end)
    assert all(t in triggers for t in near)
    for kinds in (match_module.ASSERTION_KINDS, frozenset({"in_situ"})):
        assert match_module.nearest_trigger(start, end, near, kinds) == \
            match_module.nearest_trigger(start, end, triggers, kinds)
    inside = [t for t in triggers if start <= t.start and t.end <= end]
    assert all(t in near for t in inside)


def test_cues_near_leaves_out_triggers_beyond_every_window():
    far = match_module.Trigger("far", "negated", "both", 10, 1000, 1005)
    close = match_module.Trigger("close", "negated", "both", 10, 95, 99)
    assert match_module.Cues([far, close]).near(100, 110) == [close]
