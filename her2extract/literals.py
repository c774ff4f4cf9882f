"""The literal strings a regex cannot match without: the matcher's prefilter.

For each rule, `literals(source)` reads the pattern's syntax tree and says

- `anchors`: strings one of which every match holds at a nearly fixed place (a prefix, or
  "erb" one to three characters into "c-?\\s?erb"), and
- `needs`: strings one of which every match contains anywhere,

lower-cased, except where the pattern itself is case-sensitive ("(?-i:ER)": such strings
carry the EXACT_CASE tag and are looked for as written); a string the pattern puts right
after "\\b" or "(?<![\\w-])" carries the WORD_START tag and counts only where no letter,
digit or "_" comes before it. They are necessary conditions only: a text that lacks them cannot match, a
text that has them may or may not. The matcher finds every such string in a report with one
Aho-Corasick pass over the lower-cased text (see `Atoms`) and then runs a rule only where its
strings are: tried at the few places its anchors allow, or skipped in a stretch of text that
holds none of its needs. Results are exactly those of scanning everywhere; only the work differs.

The tree comes from the standard library's regex parser (`re._parser`), which reads the
`regex` module's VERSION0 syntax except variable-width lookbehinds and repeated group names;
those are removed first (a lookbehind consumes nothing, so dropping it only widens what the
pattern matches). A pattern the parser still refuses gets no literals and is scanned everywhere.
"""

from __future__ import annotations

import bisect
import collections
import functools
import itertools
import re
import warnings
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

try:  # the parser moved in 3.11; the old name still works up to 3.12
    from re import _constants as _c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MAX_STRINGS = 48  # more alternatives than this: stop extending the literal there
MAX_LENGTH = 24  # a literal longer than this is cut (a prefix of it is still necessary)
SMALL_CLASS = 6  # a character class of up to this many characters counts as alternatives
SMALL_REPEAT = 3  # x{0,3} of a literal counts as alternatives; longer repeats do not
# Tags at a string's start: WORD_START (first, if present), then EXACT_CASE, then the text.
WORD_START = "\x01"  # only where the character before is not an ASCII letter, digit or "_"
EXACT_CASE = "\x00"  # with its case as written, in the text as written
_TAGS = frozenset({WORD_START, EXACT_CASE})
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True, slots=True)
class Literals:
    """Necessary strings of one pattern (lower-cased); None where nothing can be said."""

    anchors: frozenset[Anchor] | None = None  # (string, least, most characters before it in a match)
    needs: frozenset[str] | None = None
    at_start: bool = False  # with anchors: a match may also start at the text's start ("(?m)^...")
    prefix: frozenset[str] | None = None  # every match starts with one of these
    lines: int | None = None  # a match holds at most this many line breaks (None: no bound known)
    width: int | None = None  # a match is at most this many characters long (None: no bound known)

    @property
    def strings(self) -> frozenset[str]:
        return frozenset(s for s, _, _ in self.anchors or ()) | (self.needs or frozenset())


NOTHING = Literals()


@functools.lru_cache(maxsize=1024)
def literals(source: str) -> Literals:
    """The anchors and needed strings of a `regex` pattern (NOTHING when it cannot be read)."""
    try:
        tree = _parse(_for_stdlib(source))
    except re.error:  # unbalanced parentheses
        return NOTHING
    if tree is None:
        return NOTHING
    items = list(tree)
    info = _sequence(items, bool(tree.state.flags & re.IGNORECASE))
    anchors = info.anchors if info.anchors and _caseless_safe(s for s, _, _ in info.anchors) else None
    needs = _best(*(s for s in (info.needs, info.prefix, info.exact) if s is not None and _caseless_safe(s)))
    prefix = info.prefix if _useful(info.prefix) and _caseless_safe(info.prefix) else None
    breaks = _newlines(items)
    lines = breaks if breaks < INF else None
    width = info.width[1] if info.width[1] < INF else None
    if items[:1] == [(_c.AT, _c.AT_BEGINNING)] and tree.state.flags & re.MULTILINE and info.width[0] > 0:
        # "(?m)^...": a match starts at the text's start or just after a line break
        line_starts = frozenset({("\n", -1, -1)})
        if anchors is None or anchor_cost(line_starts) < anchor_cost(anchors):
            return Literals(line_starts, needs, at_start=True, prefix=prefix, lines=lines, width=width)
    return Literals(anchors, needs, prefix=prefix, lines=lines, width=width)


def _parse(source: str):
    """The standard parser's tree, or None. A warning counts as a refusal: the parser warns
    where it reads a construct another way than the regex module may ("[[:alpha:]]")."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return _sre_parse.parse(source)
        except (re.error, RecursionError, OverflowError, ValueError, Warning):
            return None


def _caseless_safe(strings: Iterable[str]) -> bool:
    """No caseless letter outside ASCII: case-insensitive matching may take it for another."""
    return all(ch.isascii() or ch.lower() == ch.upper()
               for s in strings for word, exact, body in [tags(s)] if not exact for ch in body)


@functools.lru_cache(maxsize=65536)
def tags(string: str) -> tuple[bool, bool, str]:
    """(word start, exact case, the text itself) of a tagged string."""
    word = string.startswith(WORD_START)
    rest = string[word:]
    exact = rest.startswith(EXACT_CASE)
    return word, exact, rest[exact:]


def _tagged(word: bool, exact: bool, body: str) -> str:
    return (WORD_START if word else "") + (EXACT_CASE if exact else "") + body


@functools.lru_cache(maxsize=65536)
def length(string: str) -> int:
    """How many characters of text a tagged string stands for."""
    return len(tags(string)[2])


def prefix_gate(strings: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tagged strings as two tuples for str.startswith: (look for in the lowered text, look for
    as written). A word-start tag is dropped: the string's own place is the weaker claim."""
    caseless, exact = set(), set()
    for string in strings:
        _, is_exact, body = tags(string)
        (exact if is_exact else caseless).add(body)
    return tuple(sorted(caseless)), tuple(sorted(exact))


def holds_at(string: str, text: str, low: str, at: int) -> bool:
    """Whether a tagged string occurs at `at` (`low` = lowered(text))."""
    word, exact, body = tags(string)
    if word and not _at_word_start(text, at):
        return False
    return (text if exact else low).startswith(body, at)


def _at_word_start(text: str, at: int) -> bool:
    """No ASCII letter, digit or "_" just before `at` (what WORD_START asks)."""
    return at == 0 or text[at - 1] not in _ASCII_WORD


def _char(ch: str, caseless: bool) -> str:
    return ch.lower() if caseless or ch.lower() == ch.upper() else EXACT_CASE + ch


def _uncased(body: str) -> bool:
    return body.lower() == body.upper()


@functools.lru_cache(maxsize=65536)
def _join(left: str, right: str) -> str:
    """Two strings in a row. Exact case only if each part is exact-case or has no letters; a
    word start only from the left part (or the right one, if the left is empty and the right
    starts with a word character)."""
    word_l, exact_l, body_l = tags(left)
    word_r, exact_r, body_r = tags(right)
    body = body_l + body_r
    word = (word_l or word_r) if not body_l else word_l
    word = word and (not body or body[0] in _ASCII_WORD)
    if (exact_l or exact_r) and (exact_l or _uncased(body_l)) and (exact_r or _uncased(body_r)):
        return _tagged(word, True, body)
    return _tagged(word, False, body.lower())


def _word_started(strings: frozenset[str]) -> frozenset[str]:
    """The strings, each put at a word start (those that start with a word character)."""
    return frozenset(_join(WORD_START, s) for s in strings)


# --- token rules ------------------------------------------------------------------------------
_TEXT_ATTRS = frozenset({"ORTH", "TEXT", "LOWER"})
_TOKEN_OPS = {None: "", "?": "?", "*": "*", "+": "+"}
_COUNT_OP = re.compile(r"\{\d*(?:,\d*)?\}")


def token_gate(pattern: Iterable[dict]) -> str | None:
    """A regex that the lower-cased text of every match of a spaCy token pattern contains, or
    None when the pattern says too little (a token given by anything but its text, "!", a
    string outside ASCII).

    A match is its tokens in a row, each followed by its trailing whitespace, which spaCy keeps
    as "" or one " " (any other whitespace is a token of its own). So a pattern whose tokens
    are each one of a few strings (ORTH/TEXT/LOWER, a string or {IN: [...]}) matches only text
    of the form "s1 ?s2 ?...", with the pattern's quantifiers: the matcher tokenizes a stretch
    of text only where that regex finds something.
    """
    units = []
    for spec in pattern:
        spec = dict(spec)
        op = spec.pop("OP", None)
        if len(spec) != 1 or not (op in _TOKEN_OPS or isinstance(op, str) and _COUNT_OP.fullmatch(op)):
            return None
        [(attr, value)] = spec.items()
        if attr not in _TEXT_ATTRS:
            return None
        if isinstance(value, dict):
            if set(value) != {"IN"}:
                return None
            value = value["IN"]
        strings = [value] if isinstance(value, str) else list(value)
        if not strings or not all(isinstance(s, str) and s and s.isascii() for s in strings):
            return None
        choices = "|".join(re.escape(s.lower()) for s in sorted(set(strings), key=lambda s: (-len(s), s)))
        units.append(f"(?:(?:{choices}) ?){_TOKEN_OPS.get(op, op)}")
    return "".join(units) or None


# --- preparing a regex-module pattern for the standard parser ------------------------------
_GROUP_NAME = re.compile(r"\(\?P?<(?![=!])\w+>")


def _for_stdlib(source: str) -> str:
    """`source` without group names and variable-width lookbehinds, which the standard parser
    refuses (a lookbehind consumes nothing, so dropping one only widens what matches)."""
    out, at = [], 0
    ends = _group_ends(source)
    for i in sorted(ends):
        if i < at:
            continue
        if source.startswith(("(?<=", "(?<!"), i):
            end = ends[i]
            if _fixed_width(source[i + 4:end - 1]) is None:
                out.append(source[at:i])
                at = end
        elif name := _GROUP_NAME.match(source, i):
            out.append(source[at:i] + "(?:")
            at = name.end()
    out.append(source[at:])
    return "".join(out)


def syntax(source: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth) of every character of a regex that is syntax.

    Escaped characters and character classes are skipped. A "(" reports the depth of the group
    it opens, a ")" the depth of the group it closes; other characters their own depth.
    """
    depth, i, in_class = 0, 0, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if source.startswith("^", i + 1):
                i += 1
            if source.startswith("]", i + 1):
                i += 1
        else:
            depth += ch == "("
            yield i, ch, depth
            depth -= ch == ")"
        i += 1


def group_end(source: str, start: int) -> int:
    """The index just past the ")" that closes the group opened at `start`."""
    end = _group_ends(source).get(start)
    if end is None:
        raise re.error("unbalanced parenthesis")
    return end


@functools.lru_cache(maxsize=256)
def _group_ends(source: str) -> dict[int, int]:
    """For every "(" that opens a group, the index just past its ")" (one walk)."""
    ends: dict[int, int] = {}
    opened: list[int] = []
    for i, ch, _ in syntax(source):
        if ch == "(":
            opened.append(i)
        elif ch == ")":
            if not opened:
                raise re.error("unbalanced parenthesis")
            ends[opened.pop()] = i + 1
    return ends


def top_level_alternatives(source: str) -> list[str]:
    """A regex split at its "|"s outside every group ([source] when there is none)."""
    cuts = [i for i, ch, depth in syntax(source) if ch == "|" and depth == 0]
    edges = [-1, *cuts, len(source)]
    return [source[a + 1:b] for a, b in itertools.pairwise(edges)]


_FLAGS = re.compile(r"\(\?[a-z]+\)")


def behind_form(source: str) -> tuple[bool, tuple[str, ...]] | None:
    """A zero-width pattern made of "^" and lookbehinds only, as what it looks behind for.

    "(?i)(?:^|(?<=[.:]\\s)|(?<=\\n))" -> (True, ("(?i)[.:]\\s", "(?i)\\n")): it holds at the text's
    start and just after every match of those fixed-width patterns. Finding those matches is
    one quick scan each, where trying the lookbehinds at every place is not. None for other
    patterns.
    """
    flags = ""
    while m := _FLAGS.match(source):
        flags += m.group(0)
        source = source[m.end():]
    if "m" in flags:  # "^" after every line break too: not handled here
        return None
    try:
        while source.startswith("(?:") and group_end(source, 0) == len(source):
            source = source[3:-1]
        at_start, behind = False, []
        for alternative in top_level_alternatives(source):
            if alternative == "^":
                at_start = True
            elif alternative.startswith("(?<=") and group_end(alternative, 0) == len(alternative):
                inner = alternative[4:-1]
                if _fixed_width(inner) is None:
                    return None
                behind.append(flags + inner)
            else:
                return None
    except re.error:
        return None
    return at_start, tuple(behind)


def _fixed_width(source: str) -> int | None:
    try:
        low, high = _sre_parse.parse(_for_stdlib(source)).getwidth()
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    return low if low == high else None


# --- the analysis ------------------------------------------------------------------------------
INF = 1 << 30  # an unbounded width
MAX_SPREAD = 16  # a string whose place in a match can vary by more than this is no anchor
MAX_EXPAND = 4  # optional items read as a branch, at most this deep (2**MAX_EXPAND sequences)
_REPEATS = tuple(op for op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)) if op is not None)

Anchor = tuple[str, int, int]  # a string, and the least and the most characters before it in a match


@dataclass(frozen=True, slots=True)
class _Info:
    exact: frozenset[str] | None  # every string the node can match (lower-cased), if few
    prefix: frozenset[str] | None  # every match starts with one of these ("" inside = no claim)
    needs: frozenset[str] | None  # every match contains one of these
    anchors: frozenset[Anchor] | None  # every match holds one of these strings where its range says
    width: tuple[int, int]  # the least and the most characters a match takes
    boundary: bool = False  # "\\b" or "(?<![\\w...])": what follows starts a word


_ZERO = _Info(frozenset({""}), frozenset({""}), None, None, (0, 0))  # anchors (^, $), lookarounds
_BOUNDARY = _Info(frozenset({""}), frozenset({""}), None, None, (0, 0), boundary=True)
_ONE = _Info(None, None, None, None, (1, 1))  # one character we say nothing about (\w, [^x], .)
_ANY = _Info(None, None, None, None, (0, INF))  # anything (a back-reference)


def _useful(strings: frozenset[str] | None) -> bool:
    return bool(strings) and all(length(s) for s in strings)


def _best(*options: frozenset[str] | None) -> frozenset[str] | None:
    """The most selective useful set: longest shortest string, then fewest strings."""
    useful = [o for o in options if _useful(o)]
    if not useful:
        return None
    return max(useful, key=lambda o: (min(map(length, o)), -len(o)))


def _best_anchors(*options: frozenset[Anchor] | None) -> frozenset[Anchor] | None:
    """The anchors that leave the fewest places to try (see anchor_cost)."""
    useful = [o for o in options if o and all(s and hi - lo <= MAX_SPREAD for s, lo, hi in o)]
    return min(useful, key=anchor_cost) if useful else None


def anchor_cost(anchors: frozenset[Anchor]) -> float:
    """About how many places per character of text these anchors make the matcher try.

    A string of n characters is taken to occur once in 20**n characters, four times less often
    at a word start (rough for English, and only used to choose among a pattern's anchors);
    each occurrence is tried at every place its range allows.
    """
    return sum((hi - lo + 1) / 20.0 ** length(s) / (4 if s.startswith(WORD_START) else 1)
               for s, lo, hi in anchors)


def _at(strings: frozenset[str] | None, lo: int, hi: int) -> frozenset[Anchor] | None:
    return frozenset((s, lo, hi) for s in strings) if _useful(strings) and hi - lo <= MAX_SPREAD else None


@functools.lru_cache(maxsize=65536)  # macros repeat across rules: the same sets meet again
def _cross(left: frozenset[str], right: frozenset[str]) -> frozenset[str] | None:
    """Every concatenation (None when too many or too long)."""
    if len(left) * len(right) > MAX_STRINGS:
        return None
    out = frozenset(_join(a, b) for a in left for b in right)
    return None if any(length(s) > MAX_LENGTH for s in out) else out


def _add(a: int, b: int) -> int:
    return min(INF, a + b)


def _prefixes_from(infos: list[_Info]) -> list[frozenset[str]]:
    """For each item, what a match of it and the items after it starts with (built from the
    end; where a concatenation would be too long, the shorter start, which still holds)."""
    out: list[frozenset[str]] = [frozenset({""})] * (len(infos) + 1)
    for i in range(len(infos) - 1, -1, -1):
        info, after = infos[i], out[i + 1]
        if info.boundary:
            out[i] = _cross(frozenset({WORD_START}), after) or frozenset({""})
        elif info.exact is not None:
            out[i] = _cross(info.exact, after) or info.exact
        else:
            out[i] = info.prefix if info.prefix is not None else frozenset({""})
    return out[:-1]


def _sequence(items: list, caseless: bool) -> _Info:
    return _expanded(items, [_node(op, av, caseless) for op, av in items], caseless, MAX_EXPAND)


def _expanded(items: list, infos: list[_Info], caseless: bool, expand: int) -> _Info:
    info = _plain_sequence(tuple(infos))
    if expand and (info.anchors is None or any(lo < hi for _, lo, hi in info.anchors)):
        # "X?Y" matches what "XY|Y" matches: read as that branch, each side may have anchors
        # where the optional item's play left the sequence none or loose ones ("(?:average\s)?HER2 ...")
        optional = _first_optional(items, infos)
        if optional is not None:
            i, sub = optional
            inside = [_node(op, av, caseless) for op, av in sub]
            sides = _branch([
                _expanded(items[:i] + items[i + 1:], infos[:i] + infos[i + 1:], caseless, expand - 1),
                _expanded(items[:i] + sub + items[i + 1:], infos[:i] + inside + infos[i + 1:], caseless, expand - 1),
            ])
            if sides.anchors is not None and (info.anchors is None or anchor_cost(sides.anchors) < anchor_cost(info.anchors)):
                return replace(info, anchors=sides.anchors,
                               prefix=info.prefix if _useful(info.prefix) else sides.prefix)
    return info


def _first_optional(items: list, infos: list[_Info]) -> tuple[int, list] | None:
    """The first item that may be absent or present once ("(?:X)?"), if it starts within
    MAX_SPREAD of play from the sequence's start (later, no anchor can come from it)."""
    lo = hi = 0
    for i, ((op, av), info) in enumerate(zip(items, infos)):
        if hi - lo > MAX_SPREAD:
            return None
        if op in _REPEATS and av[0] == 0 and av[1] == 1:
            return i, list(av[2])
        lo, hi = _add(lo, info.width[0]), _add(hi, info.width[1])
    return None


@functools.lru_cache(maxsize=65536)  # macros repeat across rules: the same sequences meet again
def _plain_sequence(infos: tuple[_Info, ...]) -> _Info:
    exact: frozenset[str] | None = frozenset({""})
    for info in infos:
        exact = _cross(exact, info.exact) if exact is not None and info.exact is not None else None
    starting = _prefixes_from(infos)  # what a match starts with, from each item on
    prefix = starting[0] if infos else frozenset({""})
    # needs: the best of each item's needs and of every run of exact items
    options: list[frozenset[str] | None] = [prefix, exact]
    run = frozenset({""})
    for info in infos:
        options.append(info.needs)
        if info.exact is not None:
            longer = _cross(run, info.exact)
            if longer is None:
                options.append(run)
                run = info.exact if _cross(frozenset({""}), info.exact) is not None else frozenset({""})
            else:
                run = longer
            continue
        options.append(run)
        if info.prefix is not None:
            options.append(_cross(run, info.prefix))
        run = frozenset({""})
    options.append(run)
    # anchors: strings that start where the items before them leave little play
    anchor_options: list[frozenset[Anchor] | None] = []
    lo = hi = 0
    for i, info in enumerate(infos):
        if hi - lo <= MAX_SPREAD:
            anchor_options.append(_at(starting[i], lo, hi))
            if info.anchors:
                after_boundary = i > 0 and infos[i - 1].boundary  # the item's own start is a word start
                anchor_options.append(frozenset(
                    (_join(WORD_START, s) if after_boundary and a == b == 0 else s, lo + a, hi + b)
                    for s, a, b in info.anchors))
        lo, hi = _add(lo, info.width[0]), _add(hi, info.width[1])
    return _Info(exact, prefix, _best(*options), _best_anchors(*anchor_options), (lo, hi))


def _node(op, av, caseless: bool) -> _Info:
    if op is _c.LITERAL:
        if chr(av) in _TAGS:  # a pattern that looks for a tag character: no claim about it
            return _ONE
        return _exact(frozenset({_char(chr(av), caseless)}))
    if op is _c.IN:
        chars = _class_chars(av, caseless)
        return _exact(chars) if chars is not None else _ONE
    if op in (_c.ANY, _c.NOT_LITERAL, _c.CATEGORY):
        return _ONE
    if op is _c.AT and av is _c.AT_BOUNDARY or op is _c.ASSERT_NOT and _not_after_word(av):
        return _BOUNDARY
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return _ZERO
    if op is _c.SUBPATTERN:  # (group, flags added, flags removed, items): "(?-i:ER)" is case-sensitive
        _, added, removed, sub = av
        return _sequence(list(sub), (caseless or bool(added & re.IGNORECASE)) and not removed & re.IGNORECASE)
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _sequence(list(av), caseless)
    if op is _c.BRANCH:
        return _branch([_sequence(list(p), caseless) for p in av[1]])
    if op in _REPEATS:
        low, high, sub = av
        return _repeat(low, high, _sequence(list(sub), caseless))
    return _ANY  # a back-reference, a conditional, anything else: no claims, any width


# --- how many line breaks a match can hold ----------------------------------------------------
_NEWLINE = ord("\n")
# character categories, and whether "\n" is in them
_CATEGORY_NEWLINE = {
    getattr(_c, name): holds for name, holds in (
        ("CATEGORY_SPACE", True), ("CATEGORY_NOT_SPACE", False), ("CATEGORY_DIGIT", False),
        ("CATEGORY_NOT_DIGIT", True), ("CATEGORY_WORD", False), ("CATEGORY_NOT_WORD", True),
        ("CATEGORY_UNI_SPACE", True), ("CATEGORY_UNI_NOT_SPACE", False), ("CATEGORY_UNI_DIGIT", False),
        ("CATEGORY_UNI_NOT_DIGIT", True), ("CATEGORY_UNI_WORD", False), ("CATEGORY_UNI_NOT_WORD", True),
        ("CATEGORY_LINEBREAK", True), ("CATEGORY_NOT_LINEBREAK", False),
        ("CATEGORY_UNI_LINEBREAK", True), ("CATEGORY_UNI_NOT_LINEBREAK", False),
    ) if hasattr(_c, name)
}


def _newlines(items) -> int:
    """The most line breaks a match of these items can hold (INF: no bound, or not known)."""
    total = 0
    for op, av in items:
        total = _add(total, _node_newlines(op, av))
    return total


def _node_newlines(op, av) -> int:
    if op is _c.LITERAL:
        return int(av == _NEWLINE)
    if op is _c.NOT_LITERAL:
        return int(av != _NEWLINE)
    if op is _c.IN:
        holds = _class_holds_newline(av)
        return INF if holds is None else int(holds)
    if op is _c.ANY:
        return 1  # "." holds a line break under (?s)
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return 0
    if op is _c.SUBPATTERN:
        return _newlines(av[3])
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _newlines(av)
    if op is _c.BRANCH:
        return max(_newlines(p) for p in av[1])
    if op in _REPEATS:
        low, high, sub = av
        each = _newlines(sub)
        return 0 if each == 0 else INF if high >= INF or each >= INF else min(INF, high * each)
    return INF  # a back-reference, a conditional: no bound


def _class_holds_newline(items) -> bool | None:
    """Whether a character class matches "\n" (None: cannot tell)."""
    negate, holds = False, False
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            holds = holds or av == _NEWLINE
        elif op is _c.RANGE:
            holds = holds or av[0] <= _NEWLINE <= av[1]
        elif op is _c.CATEGORY and av in _CATEGORY_NEWLINE:
            holds = holds or _CATEGORY_NEWLINE[av]
        else:
            return None
    return holds != negate


def _not_after_word(av) -> bool:
    """A negative lookbehind for a class holding \\w: "(?<![\\w-])"."""
    direction, sub = av
    items = list(sub)
    return direction == -1 and len(items) == 1 and items[0][0] is _c.IN and any(
        op is _c.CATEGORY and arg in (_c.CATEGORY_WORD, getattr(_c, "CATEGORY_UNI_WORD", None))
        for op, arg in items[0][1])


@functools.lru_cache(maxsize=4096)
def _exact(strings: frozenset[str]) -> _Info:
    widths = {length(s) for s in strings}
    return _Info(strings, strings, strings if _useful(strings) else None, _at(strings, 0, 0),
                 (min(widths), max(widths)))


def _class_chars(items, caseless: bool) -> frozenset[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL and chr(av) in _TAGS:
            return None
        if op is _c.LITERAL:
            chars.add(_char(chr(av), caseless))
        elif op is _c.RANGE and av[1] - av[0] < SMALL_CLASS and not any(
                chr(c) in _TAGS for c in range(av[0], av[1] + 1)):
            chars.update(_char(chr(c), caseless) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY, a wide range
            return None
    return frozenset(chars) if 0 < len(chars) <= SMALL_CLASS else None


def _union(sets: Iterable[frozenset | None], limit: int) -> frozenset | None:
    out: set = set()
    for one in sets:
        if one is None:
            return None
        out |= one
        if len(out) > limit:
            return None
    return frozenset(out)


def _branch(infos: list[_Info]) -> _Info:
    exact = _union((i.exact for i in infos), MAX_STRINGS)
    prefix = _union((i.prefix for i in infos), MAX_STRINGS)
    needs = _union((_best(i.needs, i.prefix, i.exact) for i in infos), MAX_STRINGS)
    anchors = _union((i.anchors for i in infos), 2 * MAX_STRINGS)
    width = (min(i.width[0] for i in infos), max(i.width[1] for i in infos))
    return _Info(exact, prefix if prefix is not None else frozenset({""}), needs, anchors, width)


def _repeat(low: int, high: int, sub: _Info) -> _Info:
    width = (min(INF, low * sub.width[0]), INF if high >= INF or sub.width[1] >= INF else min(INF, high * sub.width[1]))
    exact = None
    if sub.exact is not None and high <= SMALL_REPEAT:
        exact = frozenset()
        for count in range(low, high + 1):
            power: frozenset[str] | None = frozenset({""})
            for _ in range(count):
                power = _cross(power, sub.exact) if power is not None else None
            if power is None:
                exact = None
                break
            exact |= power
        if exact is not None and len(exact) > MAX_STRINGS:
            exact = None
    if low == 0:  # may match nothing: no prefix, need or anchor of its own
        return _Info(exact, exact if exact is not None else frozenset({""}), None, None, width)
    if exact is not None:
        return _Info(exact, exact, _best(exact, sub.needs), _best_anchors(_at(exact, 0, 0), sub.anchors), width)
    return _Info(None, sub.prefix, sub.needs, sub.anchors, width)


# --- finding the strings in a text --------------------------------------------------------------
# Characters outside ASCII that the regex module's case-insensitive matching takes for an ASCII
# letter; the lower-cased text shows them as that letter, so no match is ever missed.
_ASCII_FOLDS = str.maketrans({"\u017f": "s", "\u212a": "k", "\u0130": "i", "\u0131": "i"})


def lowered(text: str) -> str | None:
    """The text lower-cased character for character, or None if that changes its length."""
    low = text.lower() if text.isascii() else text.translate(_ASCII_FOLDS).lower()
    return low if len(low) == len(text) else None


class Atoms:
    """Every place each tagged string of a set occurs in a text: one Aho-Corasick pass
    (pyahocorasick) over the lower-cased text, and one over the text as written for
    EXACT_CASE strings; WORD_START strings count only where no word character is before."""

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings = frozenset(s for s in strings if length(s))
        keys: dict[tuple[bool, str], list[tuple[str, bool]]] = {}
        for string in sorted(self.strings):
            word, exact, body = tags(string)
            keys.setdefault((exact, body), []).append((string, word))
        self._lower = _automaton({body: k for (exact, body), k in keys.items() if not exact})
        self._exact = _automaton({body: k for (exact, body), k in keys.items() if exact})

    def find(self, text: str, low: str) -> dict[str, list[int]]:
        """Start offsets of every occurrence of every string, in order (`low` = lowered(text))."""
        places: dict[str, list[int]] = collections.defaultdict(list)
        for automaton, haystack in ((self._lower, low), (self._exact, text)):
            if automaton is None:
                continue
            for end, (size, anywhere, word_start) in automaton.iter(haystack):
                start = end - size + 1
                for key in anywhere:
                    places[key].append(start)
                if word_start and _at_word_start(text, start):
                    for key in word_start:
                        places[key].append(start)
        return places


def _automaton(words: dict[str, list[tuple[str, bool]]]):
    if not words:
        return None
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for body, keys in words.items():  # (length, keys found anywhere, keys found at word starts only)
        automaton.add_word(body, (len(body), tuple(k for k, w in keys if not w), tuple(k for k, w in keys if w)))
    automaton.make_automaton()
    return automaton


@functools.lru_cache(maxsize=1024)
def _by_string(anchors: frozenset[Anchor]) -> dict[str, tuple[tuple[int, int], ...]]:
    """An anchor set as string -> the (least, most) places it may have in a match."""
    out: dict[str, list[tuple[int, int]]] = {}
    for string, least, most in sorted(anchors):
        out.setdefault(string, []).append((least, most))
    return {string: tuple(ranges) for string, ranges in out.items()}


class Places:
    """A text's atom places, asked per rule: where its prefixes start, whether its needs occur."""

    def __init__(self, places: dict[str, list[int]], size: int | None = None) -> None:
        self._places = places  # only strings that occur have a key
        self._size = size  # the text's length, when known
        self._starts: dict[tuple[frozenset[Anchor], bool], list[int]] = {}  # rules share anchor sets
        self._present: dict[frozenset[Anchor], list[tuple[list[int], tuple[tuple[int, int], ...]]]] = {}

    def starts(self, anchors: frozenset[Anchor], lo: int, hi: int, at_start: bool = False) -> list[int]:
        """Sorted places in [lo, hi) where a match can start, by where the anchors' strings are."""
        key = (anchors, at_start)
        every = self._starts.get(key)
        if every is None:
            every = self._starts[key] = self._every_start(anchors, at_start)
        return every[bisect.bisect_left(every, lo):bisect.bisect_left(every, hi)]

    def _every_start(self, anchors: frozenset[Anchor], at_start: bool) -> list[int]:
        found: list[int] = [0] if at_start else []
        by_string = _by_string(anchors)
        for string in by_string.keys() & self._places.keys():  # most of a set's strings are absent
            spots = self._places[string]
            for least, most in by_string[string]:
                if least == most == 0:
                    found.extend(spots)
                    continue
                chosen = spots[bisect.bisect_left(spots, least):]
                if least == most:
                    found.extend(spot - least for spot in chosen)
                else:
                    for spot in chosen:
                        found.extend(range(max(0, spot - most), spot - least + 1))
        return sorted(set(found))

    def starts_within(self, anchors: frozenset[Anchor], lo: int, hi: int, at_start: bool = False) -> list[int]:
        """starts(), worked out for [lo, hi) alone (for short stretches asked once: a relaxed
        gap's check for stop phrases, where a big anchor set's every place would cost more)."""
        present = self._present.get(anchors)
        if present is None:  # the set's strings this text holds, once per text
            by_string = _by_string(anchors)
            present = self._present[anchors] = [(self._places[s], by_string[s])
                                                for s in by_string.keys() & self._places.keys()]
        found: list[int] = [0] if at_start and lo <= 0 < hi else []
        for spots, ranges in present:
            for least, most in ranges:
                for spot in spots[bisect.bisect_left(spots, lo + least):bisect.bisect_left(spots, hi + most)]:
                    found.extend(range(max(lo, 0, spot - most), min(hi, spot - least + 1)))
        return sorted(set(found))

    def spots(self, string: str) -> list[int]:
        """Where one string starts, in order."""
        return self._places.get(string, [])

    def any_within(self, strings: frozenset[str], lo: int, hi: int) -> bool:
        """Whether one of `strings` lies wholly inside [lo, hi)."""
        if self._size is not None and lo <= 0 and hi >= self._size:  # the whole text: any at all
            return not self._places.keys().isdisjoint(strings)
        for string in strings:
            spots = self._places.get(string)
            if spots:
                i = bisect.bisect_left(spots, lo)
                if i < len(spots) and spots[i] + length(string) <= hi:
                    return True
        return False
