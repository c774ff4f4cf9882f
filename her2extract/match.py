"""Run the rules over cleaned text: value findings, sections, parts, assertion triggers.

The only module that knows spaCy (token rules run on `spacy.blank("en")`'s tokenizer).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator

import regex

from .gaps import Relaxed, relax
from .literals import Atoms, Literals, Places, behind_form, length, literals, lowered, prefix_gate, tags, token_gate
from .model import Assertion, PartFacts
from .rules import DEFAULT_TIMEOUT, FIELD_ALIASES, Rule
from .text import Part, Section, clean_string, find_spans

STRUCTURE_FILES = frozenset({"sections", "assertions", "lexicon", "specimens", "markers"})
# The fast path: rules of a file with `near = [...]` run only in windows around where those
# markers are named (markers.toml), from this far before the name to this far after it,
# widened to whole lines. The widest reach of any value rule is well inside both.
WINDOW_BEFORE = 150
WINDOW_AFTER = 300
TOKEN_REACH = 120  # a token rule's match ends within this many characters after the marker's name
TOKEN_CHUNK = 2_000  # spaCy's tokenizer is slow on long runs of punctuation: never give it more at once


# A report names a marker a few dozen times at most; a text that names one more often than
# this is machine-made or an attack, and only its first mentions are read (with a warning).
MAX_MENTIONS = 500
LINE_SNAP = 200  # a window's edge moves to the line's end or start only if that is this close
# A rule with anchors (literals.py) is tried at their places instead of scanned for when it has fewer
# places than one per this many characters (a try at one place costs about as much as a scan
# over this many characters). Counted with benchmarks/instructions.py: 48 -> 16 took 4 % off a
# synthetic report and 5 % off the dev reports; 8 gave the same as 16, 96 was 10 % worse.
ANCHOR_COST = 16
PREPARE_AFTER = 8  # texts a matcher reads before it sets up the prefilter by itself (see prepare)
# With more places to try than this, a rule whose matches hold few line breaks is tried only
# where one of its needed strings follows within that many lines (see Matcher._starting).
LINE_GATE_MIN = 8
_LINE_BREAK = regex.compile(r"\n")


def _line_end(text: str, at: int) -> int:
    """The end of the line holding `at`, if near; else `at` (a 1 MB line has no useful end)."""
    at = min(len(text), at)
    end = text.find("\n", at, at + LINE_SNAP)
    return end if end >= 0 else min(len(text), at + LINE_SNAP) if len(text) - at <= LINE_SNAP else at


def _line_start(text: str, at: int) -> int:
    at = max(0, at)
    start = text.rfind("\n", max(0, at - LINE_SNAP), at)
    return start + 1 if start >= 0 else (0 if at <= LINE_SNAP else at)


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's raw hit: which field, the matched value text, and where."""

    rule_id: str
    field: str
    raw: str
    start: int  # the value's span (the whole match for constant values)
    end: int
    match_start: int
    match_end: int
    rank: int = 0


@dataclass(frozen=True, slots=True)
class Trigger:
    """An assertion cue found in the text (\"prior\", \"pending\", \"if\", ...)."""

    rule_id: str
    assertion: str
    direction: str
    window: int
    start: int
    end: int
    stops: tuple[str, ...] = ()  # a terminator: the cue kinds it ends (all when empty)


class Matcher:
    """All rules compiled once; `find` turns a text into findings, sections and triggers.

    With `prefilter` (the default), one Aho-Corasick pass finds the literal strings each rule
    cannot match without (literals.py), and a rule runs only where they are; the results are
    those of scanning every rule everywhere (tests/test_match.py compares both).
    """

    def __init__(self, rules: Iterable[Rule], *, prefilter: bool = True) -> None:
        rules = tuple(rules)
        self.rules = rules
        self.value_rules = tuple(r for r in rules if r.file not in STRUCTURE_FILES and not r.region)
        self.region_rules = tuple(r for r in rules if r.region)
        self.section_rules = tuple(r for r in rules if r.file == "sections" and r.section != "part")
        self.part_rules = tuple(r for r in rules if r.file == "sections" and r.section == "part")
        self.trigger_rules = tuple(r for r in rules if r.file == "assertions")
        self.specimen_rules = tuple(r for r in rules if r.file == "specimens")
        self.marker_rules = tuple(r for r in rules if r.file == "markers")
        self._token_rules = tuple(r for r in self.value_rules if r.kind == "tokens")
        self._nlp = None
        self._spacy_matcher = None
        self._spacy_lock = threading.Lock()
        self._token_gates: list[tuple[regex.Pattern | None, frozenset[str] | None]] | None = None
        # what was worked out for the text in hand, per thread (the web server shares a matcher)
        self._per_text = threading.local()
        # the literal prefilter, set up by prepare() (half a second of analysis: a batch or a
        # server does it at start, a one-report run never needs it)
        self._prefilter = prefilter
        self._texts_seen = 0
        self._literals: dict[str, Literals] = {}
        self._lead_literals: dict[str, Literals] = {}
        self._lead_behind: dict[str, tuple[bool, tuple[regex.Pattern, ...]]] = {}
        self._atoms = Atoms(())
        self._prefixes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._relaxed: dict[str, Relaxed] = {}  # rules with tempered gaps, relaxed (gaps.py)

    def prepare(self, spacy: bool = True) -> None:
        """Do now what the matcher would otherwise do on its way: analyse the rules for the
        literal prefilter, and (with `spacy`) load spaCy for the token rules. A server calls this
        at start; a batch calls it once before forking its workers, which then start with the
        prefilter in place, but leaves spaCy (a second) to the workers that meet a report that
        needs it (see _tokens_may_give_values). Without it, the prefilter is set up by itself
        after PREPARE_AFTER texts."""
        self._set_up_prefilter()
        if spacy:
            self._load_spacy()

    def _set_up_prefilter(self) -> None:
        if not self._prefilter or self._atoms.strings:
            return
        rules = self.rules
        self._literals = {r.id: literals(r.source) for r in rules if r.kind == "regex"}
        self._lead_literals = {r.lead.pattern: literals(r.lead.pattern) for r in rules if r.lead is not None}
        # leads made of lookbehinds only ({{HEAD}}): found by scanning for what they look behind for
        for lead, lit in self._lead_literals.items():
            form = behind_form(lead) if not lit.anchors else None
            if form is not None:
                self._lead_behind[lead] = (form[0], tuple(regex.compile(b, regex.VERSION0) for b in form[1]))
        self._relaxed = {r.id: loose for r in rules if r.kind == "regex" for loose in [relax(r.source)] if loose}
        stops = [gap.stop_literals for loose in self._relaxed.values() for gap in loose.gaps]
        self._atoms = Atoms(s for lit in (*self._literals.values(), *self._lead_literals.values(), *stops)
                            for s in lit.strings)
        self._prefixes = {rule_id: prefix_gate(lit.prefix) for rule_id, lit in self._literals.items() if lit.prefix}

    # --- values -------------------------------------------------------------------------
    def findings(self, text: str) -> list[Finding]:
        """Every value finding of every value rule, in text order.

        A rule with `within` counts only inside a region its kind opens (a marker table's
        header makes bare numbers in its rows percents).
        """
        regions = self.regions(text)
        windows = self.windows(text)
        whole = [(0, len(text))]
        near: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        out: list[Finding] = []
        for rule in self.value_rules:
            if rule.kind != "regex":
                continue
            if rule.near and self.marker_rules:
                spans = near.get(rule.near)
                if spans is None:  # the files' rules share their `near`
                    spans = near[rule.near] = _union([windows.get(m, []) for m in rule.near])
            else:
                spans = whole
            if not spans:
                continue
            if rule.lead is not None:
                matches = self._lead_matches(rule, text, MAX_MENTIONS)
            else:
                matches = (m for start, end in spans for m in self._scan(rule, text, start, end))
            found = (f for m in matches for f in _match_findings(rule, m))
            if rule.within:
                opened = regions.get(rule.within, [])
                out.extend(f for f in found if any(a <= f.match_start < b for a, b in opened))
            else:
                out.extend(found)
        if self._token_rules:
            near = {m for r in self._token_rules for m in r.near}
            if near and self.marker_rules:  # a token rule starts at the marker's name: tokenize just after it
                hits = self._marker_hits(text)
                spans = _union([[(start, min(len(text), end + TOKEN_REACH)) for start, end in hits.get(m, [])]
                                for m in near])
            else:  # no marker rules to say where: the whole text, in bounded pieces
                spans = [(start, min(len(text), start + TOKEN_CHUNK)) for start in range(0, len(text), TOKEN_CHUNK)]
            for start, end in spans:
                if self._tokens_may_give_values(text, start, end):
                    out.extend(self._token_findings(text, start, end))
        out.sort(key=lambda f: (f.start, f.end, f.rule_id))
        return out

    def windows(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Per marker, the merged stretches of text around where it is named (whole lines)."""
        return {
            marker: _union([[(_line_start(text, start - WINDOW_BEFORE),
                              _line_end(text, end + WINDOW_AFTER)) for start, end in spans]])
            for marker, spans in self._marker_hits(text).items()
        }

    def _marker_hits(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Where each marker is named (markers.toml); computed once per text."""
        cached = self._text_cache(text)
        if "hits" in cached:
            return cached["hits"]
        hits: dict[str, list[tuple[int, int]]] = {}
        for rule in self.marker_rules:
            marker = dict(rule.value)["marker"]
            found = self._scan(rule, text)
            hits.setdefault(marker, []).extend(m.span() for m in itertools.islice(found, MAX_MENTIONS))
        cached["hits"] = hits
        return hits

    def capped(self, text: str) -> list[str]:
        """The markers named more than MAX_MENTIONS times in `text`: only the first were read."""
        return sorted(marker for marker, spans in self._marker_hits(text).items() if len(spans) >= MAX_MENTIONS)

    def _tokens_may_give_values(self, text: str, start: int, end: int) -> bool:
        """False when no token rule can match and give a value in text[start:end]: for each,
        the regex its token pattern implies (literals.token_gate) finds nothing there, or the
        strings its value pattern needs (literals.py) are all absent. Then spaCy is not run
        (nor even loaded, for a batch of reports that never need it)."""
        if not self._prefilter:  # the plain matcher tokenizes everywhere (the tests' reference)
            return True
        if self._token_gates is None:
            self._token_gates = [_token_rule_gate(r) for r in self._token_rules]
        piece = lowered(text[start:end])
        if piece is None:
            return True
        return any((gate is None or gate.search(piece, timeout=DEFAULT_TIMEOUT) is not None)
                   and (needs is None or any(need in piece for need in needs))
                   for gate, needs in self._token_gates)

    def _load_spacy(self) -> None:
        if self._spacy_matcher is not None or not self._token_rules:
            return
        with self._spacy_lock:  # two threads (the web server's uploads) load it once
            if self._spacy_matcher is not None:
                return
            import spacy
            from spacy.matcher import Matcher as SpacyMatcher

            self._nlp = spacy.blank("en")
            matcher = SpacyMatcher(self._nlp.vocab, validate=True)
            for rule in self._token_rules:
                matcher.add(rule.id, [list(rule.pattern)])
            self._nlp.make_doc("HER2 2+")  # the tokenizer builds its caches on first use
            self._spacy_matcher = matcher

    def _token_findings(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Finding]:
        self._load_spacy()
        end = len(text) if end is None else end
        by_id = {r.id: r for r in self._token_rules}
        # spaCy's tokenizer and matcher keep caches that are not made for two threads at once
        # (the web server reads uploads in threads with one matcher): one at a time
        with self._spacy_lock:
            doc = self._nlp.make_doc(text[start:end])
            spans = [(self._nlp.vocab.strings[match_id], doc[first:last].start_char, doc[first:last].end_char)
                     for match_id, first, last in self._spacy_matcher(doc)]
        for rule_id, first_char, end_char in spans:
            yield from _span_findings(by_id[rule_id], text, start + first_char, start + end_char)

    # --- structure ----------------------------------------------------------------------
    def regions(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Where each region kind is open: from a region rule's match, for its window."""
        out: dict[str, list[tuple[int, int]]] = {}
        for rule in self.region_rules:
            for m in self._scan(rule, text):
                out.setdefault(rule.region, []).append((m.start(), m.end() + rule.window))
        return out

    def sections(self, text: str) -> list[Section]:
        return find_spans(text, ((r.section, _Finder(self, r), r.window, "line" if r.line else r.paragraph)
                                 for r in self.section_rules))

    # --- the prefilter ------------------------------------------------------------------
    def _places(self, text: str) -> Places | None:
        """Where the rules' literal strings occur in `text` (None: no prefilter for this text)."""
        cached = self._text_cache(text)
        if "places" not in cached:
            self._texts_seen += 1
            if self._texts_seen == PREPARE_AFTER:
                self._set_up_prefilter()
            low = lowered(text) if self._atoms.strings else None
            cached["places"] = Places(self._atoms.find(text, low), len(text)) if low is not None else None
            cached["low"] = low
        return cached["places"]

    def _starting(self, rule: Rule, text: str, starts: list[int]) -> list[int]:
        """The places among `starts` where a match can start: the text begins there with one of
        the rule's prefixes, and one of its needed strings follows within as many line breaks
        and characters as a match can hold."""
        cached = self._text_cache(text)
        low = cached.get("low")
        if low is None:
            return starts
        gate = self._prefixes.get(rule.id)
        if gate is not None:
            caseless, exact = gate
            if caseless and exact:
                starts = [p for p in starts if low.startswith(caseless, p) or text.startswith(exact, p)]
            else:  # one kind only: one startswith a place
                haystack, prefixes = (low, caseless) if caseless else (text, exact)
                starts = [p for p in starts if haystack.startswith(prefixes, p)]
        lit = self._literals.get(rule.id)
        if lit is None or not starts or not lit.needs or (lit.lines is None and lit.width is None):
            return starts
        if len(starts) < LINE_GATE_MIN:  # a few places: each asked directly, if a match's length is bounded
            if lit.width is None:
                return starts
            places = cached["places"]
            return [p for p in starts if places.any_within(lit.needs, p, p + lit.width)]
        return _within(starts, self._need_reach(text, cached, lit))

    def _need_reach(self, text: str, cached: dict, lit: Literals) -> list[tuple[int, int]]:
        """Merged stretches [lo, q] where a match holding at most `lit.lines` line breaks and
        `lit.width` characters (None: no bound) can start and still hold a needed string that
        starts at q (once per text: a rule is asked once per window, and a long text has hundreds)."""
        reach = cached.setdefault("reach", {})
        key = (lit.needs, lit.lines, lit.width)
        if key in reach:
            return reach[key]
        breaks = cached.get("breaks")
        if breaks is None and lit.lines is not None:
            breaks = cached["breaks"] = [m.start() for m in _LINE_BREAK.finditer(text)]
        spans = []
        places, lines, width = cached["places"], lit.lines, lit.width
        for string in lit.needs:
            spots = places.spots(string)
            if not spots:
                continue
            if lines is None:  # the width alone
                back = width - length(string)
                spans.extend((q - back, q + 1) for q in spots)
                continue
            size = length(string)
            for q in spots:
                before = bisect.bisect_left(breaks, q) - lines - 1  # the break a match cannot cross
                lo = breaks[before] + 1 if before >= 0 else 0
                spans.append((lo if width is None else max(lo, q + size - width), q + 1))
        reach[key] = _union([spans])
        return reach[key]

    def _text_cache(self, text: str) -> dict:
        """This thread's store of what was worked out for `text` (emptied for a new text)."""
        store = self._per_text
        if getattr(store, "text", None) is not text:
            store.text, store.cache = text, {}
        return store.cache

    def _scan(self, rule: Rule, text: str, lo: int = 0, hi: int | None = None) -> Iterator[regex.Match]:
        """`rule.pattern.finditer(text, lo, hi)`, tried only where the rule's literals allow."""
        hi = len(text) if hi is None else hi
        places = self._places(text)
        lit = self._literals.get(rule.id)
        if not _may_match(places, lit, lo, hi):
            return iter(())
        if places is not None and lit is not None and lit.anchors:
            starts = self._starting(rule, text, places.starts(lit.anchors, lo, hi, lit.at_start))
            if len(starts) * ANCHOR_COST < hi - lo:
                return _anchored_matches(rule.pattern, text, starts, hi, match=self._try_function(rule, rule.timeout))
        loose = self._relaxed.get(rule.id)
        if loose is not None and places is not None:
            return self._relaxed_scan(rule, loose, text, lo, hi)
        return rule.pattern.finditer(text, lo, hi, timeout=DEFAULT_TIMEOUT)

    def _try_function(self, rule: Rule, timeout: float | None):
        """How the rule is tried at one place, as `f(text, pos, endpos)`: its pattern's match, or
        for a rule with tempered gaps, the relaxed pattern's match when no stop phrase starts
        in a gap of it, else the pattern's own (the same result, found faster: gaps.py)."""
        original = _match_function(rule.pattern, timeout)
        loose = self._relaxed.get(rule.id)
        if loose is None:
            return original
        relaxed = _match_function(loose.pattern, timeout)

        def attempt(text: str, pos: int, endpos: int) -> regex.Match | None:
            m = relaxed(text, pos, endpos)
            if m is None or not self._stopped(loose, text, m, endpos, timeout):
                return m
            return original(text, pos, endpos)

        return attempt

    def _relaxed_scan(self, rule: Rule, loose: Relaxed, text: str, lo: int, hi: int) -> Iterator[regex.Match]:
        """`rule.pattern.finditer(text, lo, hi)` for a rule with relaxed gaps: the relaxed pattern
        finds the leftmost place either can match (it matches wherever the rule does); there the
        rule's match is the relaxed one when no stop phrase starts in its gaps, else the rule is
        tried itself. A relaxed pattern never matches empty text (gaps.relax)."""
        pos = lo
        while pos < hi:
            m = loose.pattern.search(text, pos, hi, timeout=DEFAULT_TIMEOUT)
            if m is None:
                return
            if self._stopped(loose, text, m, hi, DEFAULT_TIMEOUT):
                start = m.start()
                m = rule.pattern.match(text, start, hi, timeout=DEFAULT_TIMEOUT)
                if m is None:
                    pos = start + 1
                    continue
            yield m
            pos = m.end()

    def _stopped(self, loose: Relaxed, text: str, m: regex.Match, endpos: int, timeout: float | None) -> bool:
        """Whether a gap of a relaxed match holds a place where its stop phrase matches (as the
        tempered gap's look-ahead would see it: up to `endpos`). Only places the phrase's literals
        allow are tried; with none known, every place of the gap."""
        places = self._places(text)
        for gap in loose.gaps:
            a, b = m.span(gap.name)
            if a >= b:  # not in this match, or empty
                continue
            lit = gap.stop_literals
            spots: Iterable[int] = range(a, b)
            if places is not None and lit.anchors:
                spots = places.starts_within(lit.anchors, a, b, lit.at_start)
            elif places is not None and lit.needs and lit.width is not None \
                    and not places.any_within(lit.needs, a, b - 1 + lit.width):
                continue  # no needed string where a stop phrase starting in the gap would hold it
            stop = _match_function(gap.stop, timeout)
            if any(stop(text, q, endpos) is not None for q in spots):
                return True
        return False

    def _lead_matches(self, rule: Rule, text: str, limit: int | None = None) -> Iterator[regex.Match]:
        """A lead rule's matches, tried only where its leading macro matches (the first `limit`
        places), and not at all in a text that lacks every string a match needs."""
        if not _may_match(self._places(text), self._literals.get(rule.id), 0, len(text)):
            return iter(())
        starts = self._starting(rule, text, self._lead_starts(rule, text, limit))
        return _anchored_matches(rule.pattern, text, starts, match=self._try_function(rule, rule.timeout))

    def _heading_matches(self, rule: Rule, text: str) -> Iterator[regex.Match]:
        """A section or part rule's matches: at its anchors' places, else its lead's, else a scan."""
        lit = self._literals.get(rule.id)
        if rule.lead is None or (lit is not None and lit.anchors):
            return self._scan(rule, text)
        return self._lead_matches(rule, text)

    def _lead_starts(self, rule: Rule, text: str, limit: int | None = None) -> list[int]:
        """Where a rule's leading macro matches in `text` (the first `limit` places), once per text.

        Value rules' leads are marker names, capped at MAX_MENTIONS; structure rules' lead is
        {{HEAD}} (line and sentence starts), never capped.
        """
        self._places(text)
        cache = self._text_cache(text).setdefault("starts", {})
        key = (rule.lead.pattern, limit)
        if key not in cache:
            lit = self._lead_literals.get(rule.lead.pattern)
            places = self._places(text) if lit is not None and lit.anchors else None
            behind = self._lead_behind.get(rule.lead.pattern)
            if places is not None:  # where the lead matches = where it matches at one of its anchors' places
                lead = _match_function(rule.lead, rule.timeout)
                starts: Iterable[int] = (p for p in places.starts(lit.anchors, 0, len(text), lit.at_start)
                                         if lead(text, p))
            elif behind is not None:  # just after each match of what its lookbehinds look for
                at_start, patterns = behind
                found = {m.end() for p in patterns for m in p.finditer(text, overlapped=True, timeout=DEFAULT_TIMEOUT)}
                starts = sorted(found | {0} if at_start else found)
            else:
                starts = (m.start() for m in rule.lead.finditer(text, overlapped=True, timeout=DEFAULT_TIMEOUT))
            cache[key] = list(itertools.islice(starts, limit))
        return cache[key]

    def parts(self, text: str) -> list[Part]:
        hits = []
        for rule in self.part_rules:
            for m in self._heading_matches(rule, text):
                label = m.group("label") if "label" in rule.pattern.groupindex else m.group(0)
                hits.append((m.start(), label.strip().upper()))
        hits.sort()
        return [
            Part(label, start, hits[i + 1][0] if i + 1 < len(hits) else len(text))
            for i, (start, label) in enumerate(hits)
        ]

    def part_facts(self, text: str, parts: list[Part]) -> dict[str, PartFacts]:
        """Side and largest tumour size stated under each part label (all its stretches)."""
        if not parts:  # a statement counts only under a label: with none, nothing to look for
            return {}
        sides: dict[str, str] = {}
        sizes: dict[str, float] = {}
        for rule in self.specimen_rules:
            for m in self._scan(rule, text):
                label = next((p.label for p in parts if p.start <= m.start() < p.end), "")
                if not label:
                    continue
                found = m.groupdict()
                if found.get("side") and label not in sides:
                    sides[label] = found["side"].lower()
                if found.get("size"):
                    size = float(found["size"].replace(",", "."))
                    size *= 10 if (found.get("unit") or "").lower() == "cm" else 1
                    sizes[label] = max(size, sizes.get(label, 0.0))
        return {label: PartFacts(sides.get(label, ""), sizes.get(label)) for label in sides.keys() | sizes.keys()}

    def markers(self, text: str) -> set[str]:
        """The markers the text names at all ("her2", "er", "pr")."""
        return {dict(rule.value)["marker"] for rule in self.marker_rules
                if next(self._scan(rule, text), None) is not None}

    def triggers(self, text: str) -> list[Trigger]:
        out = []
        for rule in self.trigger_rules:
            for m in self._scan(rule, text):
                out.append(Trigger(rule.id, rule.assertion, rule.direction, rule.window,
                                   m.start(), m.end(), rule.stops))
        out.sort(key=lambda t: t.start)
        return out


def _may_match(places: Places | None, lit: Literals | None, lo: int, hi: int) -> bool:
    """False when [lo, hi) lacks every string a match of the rule must contain (None: no
    prefilter for this text, or nothing known of the rule)."""
    return places is None or lit is None or not lit.needs or places.any_within(lit.needs, lo, hi)


def _match_function(pattern: regex.Pattern, timeout: float | None):
    """`pattern.match`, with `timeout` bound when there is one: without a limit (the bundled
    rules' tries, hundreds a report) the call skips the keyword argument, which costs about as
    much as a short try."""
    return pattern.match if timeout is None else functools.partial(pattern.match, timeout=timeout)


def _token_rule_gate(rule: Rule) -> tuple[regex.Pattern | None, frozenset[str] | None]:
    """What a token rule's match must hold: its token pattern's regex (on lower-cased text),
    and one of the strings its value pattern needs (lower-cased); None where nothing is known."""
    gate = token_gate(rule.pattern)
    needs = literals(rule.value_pattern.pattern).needs if rule.value_pattern is not None else None
    return (regex.compile(gate) if gate is not None else None,
            frozenset(tags(n)[2].lower() for n in needs) if needs is not None else None)


def _within(starts: list[int], spans: list[tuple[int, int]]) -> list[int]:
    """The sorted `starts` that lie inside one of the sorted, disjoint `spans` [lo, hi)."""
    out: list[int] = []
    if not starts:
        return out
    # from the last span that opens at or before the first start (a window asks about few places)
    i = max(0, bisect.bisect_right(spans, starts[0], key=lambda span: span[0]) - 1)
    for p in starts:
        while i < len(spans) and spans[i][1] <= p:
            i += 1
        if i == len(spans):
            break
        if spans[i][0] <= p:
            out.append(p)
    return out


def _union(groups: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Merge spans (from several lists) that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(span for group in groups for span in group):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _anchored_matches(pattern: regex.Pattern, text: str, starts: list[int], endpos: int | None = None,
                      timeout: float | None = DEFAULT_TIMEOUT, match=None) -> Iterator[regex.Match]:
    """A pattern's matches, tried only at `starts` (as finditer would: leftmost first, no overlaps).

    `starts` must hold every place a match can start, in order; `endpos` is finditer's. `match`,
    when given, tries the pattern at one place instead of its own `match` (Matcher._try_function).
    """
    end = -1
    endpos = len(text) if endpos is None else endpos
    match = match or _match_function(pattern, timeout)
    for start in starts:
        if start < end:
            continue
        m = match(text, start, endpos)
        if m is not None:
            end = m.end() if m.end() > start else start + 1
            yield m


class _Finder:
    """A section rule as find_spans wants it: something with `finditer(text)`."""

    def __init__(self, matcher: Matcher, rule: Rule) -> None:
        self.matcher, self.rule = matcher, rule

    def finditer(self, text: str) -> Iterator[regex.Match]:
        return self.matcher._heading_matches(self.rule, text)


def _regex_findings(rule: Rule, text: str, spans: list[tuple[int, int]] | None = None) -> Iterator[Finding]:
    """A rule's findings, searched only inside `spans` (lookbehinds still see before a span)."""
    for start, end in spans if spans is not None else [(0, len(text))]:
        for m in rule.pattern.finditer(text, start, end, timeout=DEFAULT_TIMEOUT):
            yield from _match_findings(rule, m)


def _span_findings(rule: Rule, text: str, start: int, end: int) -> Iterator[Finding]:
    if rule.value_pattern is not None:
        m = rule.value_pattern.search(text, start, end, timeout=DEFAULT_TIMEOUT)
        if m is None:
            return
        yield from _match_findings(rule, m, (start, end))
    for name, constant in rule.value:
        for name2 in FIELD_ALIASES.get(name, (name,)):
            yield Finding(rule.id, name2, constant, start, end, start, end, rule.rank)


def _match_findings(rule: Rule, m: regex.Match, span: tuple[int, int] | None = None) -> Iterator[Finding]:
    match_start, match_end = span or m.span()
    for name, value in m.groupdict().items():
        if value is None or name.startswith("_") or name == "label":
            continue
        start, end = m.span(name)
        for field in FIELD_ALIASES.get(name, (name,)):
            yield Finding(rule.id, field, value, start, end, match_start, match_end, rule.rank)
    if span is None:
        for name, constant in rule.value:
            for field in FIELD_ALIASES.get(name, (name,)):
                yield Finding(rule.id, field, constant, match_start, match_end, match_start, match_end, rule.rank)


def rule_matches(rule: Rule, text: str, matcher: Matcher | None = None) -> bool:
    """Whether a rule fires on `text`, cleaned as a report is (for value rules: yields a finding)."""
    text = clean_string(text).text
    if rule.file in STRUCTURE_FILES or rule.region:
        return rule.pattern.search(text, timeout=DEFAULT_TIMEOUT) is not None
    if rule.within:  # tested on its own, a region-bound rule is read as if its region were open
        return any(True for _ in _regex_findings(rule, text))
    matcher = matcher or Matcher((rule, *_marker_rules()))
    return bool(matcher.findings(text))


@functools.lru_cache(maxsize=1)
def _marker_rules() -> tuple[Rule, ...]:
    """The bundled marker rules: a rule's examples are tested inside the windows it runs in."""
    from .rules import load_rules

    return tuple(r for r in load_rules() if r.file == "markers")


class Cues:
    """A text's assertion triggers, asked for those that can bear on one mention.

    A cue bears on a mention only within its window before or after it, and a terminator only
    between the two; so no trigger that starts farther than the widest window plus the
    longest trigger from the mention can change nearest_trigger's answer or _cue_inside's.
    """

    def __init__(self, triggers: list[Trigger]) -> None:
        self._triggers = sorted(triggers, key=lambda t: t.start)  # stable: ties keep their order
        self._starts = [t.start for t in self._triggers]
        self._reach = max((t.window + t.end - t.start for t in self._triggers), default=0)

    def near(self, start: int, end: int) -> list[Trigger]:
        """The triggers, in order, that may lie in scope of the mention [start, end)."""
        lo = bisect.bisect_left(self._starts, start - self._reach)
        hi = bisect.bisect_right(self._starts, end + self._reach)
        return self._triggers[lo:hi]


def nearest_trigger(
    match_start: int, match_end: int, triggers: list[Trigger], kinds: frozenset[str]
) -> Trigger | None:
    """The nearest in-scope trigger of the given kinds, or None.

    A trigger is in scope when it lies within its window before (backward) or after
    (forward) the mention and no terminator trigger ("terminate") stands between.
    Triggers inside the mention's own span belong to the rule and are ignored.
    """
    best: tuple[int, Trigger] | None = None
    terminators = [t for t in triggers if t.assertion == "terminate"]
    for trig in triggers:
        if trig.assertion not in kinds:
            continue
        if trig.end <= match_start and trig.direction in ("backward", "both"):
            gap, lo, hi = match_start - trig.end, trig.end, match_start
        elif trig.start >= match_end and trig.direction in ("forward", "both"):
            gap, lo, hi = trig.start - match_end, match_end, trig.start
        else:
            continue
        if gap > trig.window or (best is not None and gap >= best[0]):
            continue
        if any(lo <= t.start and t.end <= hi and (not t.stops or trig.assertion in t.stops)
               for t in terminators):
            continue
        best = (gap, trig)
    return best[1] if best else None


ASSERTION_KINDS = frozenset({"negated", "pending", "historical", "hypothetical", "boilerplate"})


def assertion_at(match_start: int, match_end: int, triggers: list[Trigger]) -> tuple[Assertion, str]:
    """The assertion a mention carries: its nearest in-scope assertion trigger, else PRESENT."""
    trig = nearest_trigger(match_start, match_end, triggers, ASSERTION_KINDS)
    if trig is None:
        return Assertion.PRESENT, ""
    kind = "hypothetical" if trig.assertion == "boilerplate" else trig.assertion
    return Assertion(kind), trig.rule_id
