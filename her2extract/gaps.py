"""Tempered gaps tried without their stop check, which is made afterwards, once.

A value rule often reads "a marker's name, then up to n characters none of which starts a stop
phrase, then the value": `NAME(?:(?!STOP)C){0,n}?VALUE`. The regex module checks STOP (another
marker's name, a blank line, dozens of alternatives) at every character of the gap and VALUE
after it, on every try: 0.5-1.5 us a character, 100-200 us for a try that fails on a long line.

`relax(source)` rewrites such a pattern with plain gaps, `(?P<_gap0>C{0,n}?)`, each followed by
a look-ahead for the characters the rest can start with (so VALUE is attempted only there).
The relaxed pattern matches wherever the original does (it allows more), and its search visits
the same choices in the same order; so when its match has no stop phrase starting inside any
gap, that match is the original's. The matcher checks that at the few places the stop
phrase's literals allow (literals.py), and tries the original pattern when a stop is there.
Results are exactly the original pattern's (tests/test_literals.py compares them).

Only gaps that are neither repeated, inside a look-around or an atomic group, nor under a
scoped flag are relaxed; a pattern without one gets None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

from .literals import (
    _REPEATS,
    Literals,
    _c,
    _for_stdlib,
    _group_ends,
    _parse,
    group_end,
    length,
    literals,
    syntax,
    tags,
    top_level_alternatives,
)

_TEMPERED = "(?:(?!"
_QUANTIFIER = re.compile(r"(?:\{\d*(?:,\d*)?\}|[*+?])\??(?!\+)")
_GLOBAL_FLAGS = re.compile(r"(?:\(\?[a-zA-Z]+\))*")
_FLAGS_GROUP = re.compile(r"\(\?[a-zA-Z]+\)")
_PLAIN_GROUPS = ("(?:", "(?P<", "(?<")  # open a group that only groups (lookbehinds are told apart below)
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


@dataclass(frozen=True)
class Gap:
    """One relaxed gap: its group's name in the relaxed pattern and what may not start in it."""

    name: str
    stop: regex.Pattern
    stop_literals: Literals


@dataclass(frozen=True)
class Relaxed:
    """A pattern with its tempered gaps made plain (see the module's docstring)."""

    pattern: regex.Pattern
    gaps: tuple[Gap, ...]


def relax(source: str) -> Relaxed | None:
    """The relaxed form of a `regex` (VERSION0) pattern, or None when it has no gap to relax."""
    if _TEMPERED not in source:
        return None
    flags = _GLOBAL_FLAGS.match(source).group(0)
    if any(ch == "(" and k >= len(flags) and _FLAGS_GROUP.match(source, k) for k, ch, _ in syntax(source)):
        return None  # flags set further on: the stop phrase's own would differ
    tree = _parse(_for_stdlib(source))
    if tree is None or tree.getwidth()[0] == 0:  # a match may be empty: finditer's rules for those differ
        return None
    try:
        ends = _group_ends(source)
    except re.error:
        return None
    found = [gap for i in sorted(ends) if source.startswith(_TEMPERED, i)
             for gap in [_gap_at(source, i, ends)] if gap is not None]
    if not found:
        return None
    out, at, gaps = [], 0, []
    for number, (start, end, body, quantifier, stop) in enumerate(found):
        if start < at:  # inside a gap already taken (a stop phrase holding a gap)
            continue
        name = f"_gap{number}"
        guard = first_chars(flags + _tail(source, end, ends))
        out.append(source[at:start])
        out.append(f"(?P<{name}>(?:{body}){quantifier})" + (f"(?={guard})" if guard else ""))
        at = end
        try:  # alone, a stop phrase may not compile (a reference to a group outside it)
            phrase = regex.compile(flags + stop, regex.VERSION0)
        except regex.error:
            return None
        gaps.append(Gap(name, phrase, stop_literals(flags, stop)))
    out.append(source[at:])
    try:
        pattern = regex.compile("".join(out), regex.VERSION0)
    except regex.error:
        return None
    return Relaxed(pattern, tuple(gaps))


def stop_literals(flags: str, stop: str) -> Literals:
    """The literals of a stop phrase, for finding where it may start: literals() of the whole,
    or, when that has no anchors, the anchors of each alternative together (a phrase of dozens of
    alternatives has more strings than literals() keeps for one pattern). Strings of one
    character (but a line break) are left out: "c" of "c-erbB2" would cost the literal pass,
    which looks for every string in every report, more than it saves here."""
    whole = literals(flags + stop)
    anchors, at_start = whole.anchors, whole.at_start
    if anchors is None:
        parts = _alternative_literals(flags, stop)
        if len(parts) > 1 and all(part.anchors for part in parts):
            anchors = frozenset().union(*(part.anchors for part in parts))
            at_start = any(part.at_start for part in parts)
    if anchors is not None and not _long_enough(s for s, _, _ in anchors):
        anchors = None
    needs = whole.needs if whole.needs is not None and _long_enough(whole.needs) else None
    return Literals(anchors=anchors, needs=needs, at_start=at_start and anchors is not None, width=whole.width)


def _alternative_literals(flags: str, stop: str) -> list[Literals]:
    try:
        while stop.startswith("(?:") and group_end(stop, 0) == len(stop):
            stop = stop[3:-1]
    except re.error:
        return []
    return [literals(flags + alternative) for alternative in top_level_alternatives(stop)]


def _long_enough(strings) -> bool:
    return all(length(s) > 1 or tags(s)[2] == "\n" for s in strings)


def _gap_at(source: str, i: int, ends: dict[int, int]) -> tuple[int, int, str, str, str] | None:
    """(start, end, one character's pattern, quantifier, stop phrase) of the gap whose
    "(?:(?!" opens at `i`, or None where it is not one that may be relaxed."""
    look = i + 3
    look_end = ends.get(look)
    inner_end = ends.get(i)
    if look_end is None or inner_end is None:
        return None
    stop, body = source[look + 3:look_end - 1], source[look_end:inner_end - 1]
    if not _one_character(body):
        return None
    start, end = i, inner_end
    # climb out of groups that hold only the gap ("{{HER2_GAP}}" expands to "(?:(?:(?!...)C))")
    while not _QUANTIFIER.match(source, end):
        outer = start - 3
        if outer < 0 or not source.startswith("(?:", outer) or ends.get(outer) != end + 1:
            return None
        start, end = outer, end + 1
    quantifier = _QUANTIFIER.match(source, end).group(0)
    end += len(quantifier)
    for a, b in ends.items():  # every group around the gap: one that only groups, not repeated
        if a < start and b >= end and (not _plain_group(source, a) or _QUANTIFIER.match(source, b)):
            return None
    return start, end, body, quantifier, stop


def _plain_group(source: str, at: int) -> bool:
    """Whether the group opened at `at` only groups: "(", "(?:", "(?P<name>" (not a look-around,
    an atomic group or a group with flags of its own)."""
    if not source.startswith("(?", at):
        return True
    return source.startswith(_PLAIN_GROUPS, at) and not source.startswith(_LOOKAROUND, at)


def _one_character(body: str) -> bool:
    """Whether a pattern always matches exactly one character (and reads as the standard parser does)."""
    tree = _parse(_for_stdlib(body))
    return tree is not None and tree.getwidth() == (1, 1)


def _tail(source: str, at: int, ends: dict[int, int]) -> str:
    """What follows `at` in a match, as one pattern: the rest of each alternative `at` lies in,
    from the innermost group out (the groups around a relaxed gap are plain and not repeated)."""
    bars: dict[int, list[int]] = {}  # a group's opening (-1: the whole pattern) -> its own "|"s
    opened: list[int] = []
    for k, ch, _ in syntax(source):
        if ch == "(":
            opened.append(k)
        elif ch == ")":
            opened.pop()
        elif ch == "|":
            bars.setdefault(opened[-1] if opened else -1, []).append(k)
    around = sorted(((a, b) for a, b in ends.items() if a < at < b), reverse=True)  # innermost first
    pieces, pos = [], at
    for a, b in [*around, (-1, len(source) + 1)]:
        close = b - 1  # the group's ")" (or the end of the pattern)
        stop = next((k for k in bars.get(a, ()) if pos <= k < close), close)
        pieces.append(source[pos:stop])
        pos = b
    return "".join(pieces)


# --- the characters a match can start with ---------------------------------------------------
# the class escapes the standard parser's categories stand for
_CATEGORIES = {getattr(_c, name): escape for name, escape in (
    ("CATEGORY_DIGIT", r"\d"), ("CATEGORY_NOT_DIGIT", r"\D"), ("CATEGORY_SPACE", r"\s"),
    ("CATEGORY_NOT_SPACE", r"\S"), ("CATEGORY_WORD", r"\w"), ("CATEGORY_NOT_WORD", r"\W"),
) if hasattr(_c, name)}


def first_chars(source: str) -> str | None:
    """A pattern for one character that holds the first character of every match of `source`,
    or None: not known, or a match may be empty. Characters the pattern reads without regard to
    case go in a case-insensitive class (so the regex module folds them as it folds the
    pattern's own), the others as written: "(?i)zero|(?-i:[lI])" gives "(?i:[z])|[Il]"."""
    tree = _parse(_for_stdlib(source))
    if tree is None:
        return None
    found = _first(list(tree), bool(tree.state.flags & re.IGNORECASE))
    if found is None or found[2]:
        return None
    caseless, exact, _ = found
    classes = ([f"(?i:[{''.join(sorted(caseless))}])"] if caseless else []) + \
        ([f"[{''.join(sorted(exact))}]"] if exact else [])
    return "|".join(classes) or None


_First = tuple[set[str], set[str], bool]  # (caseless, exact, may be empty)


def _first(items: list, caseless: bool) -> _First | None:
    fold: set[str] = set()
    exact: set[str] = set()
    for op, av in items:
        found = _first_node(op, av, caseless)
        if found is None:
            return None
        fold |= found[0]
        exact |= found[1]
        if not found[2]:
            return fold, exact, False
    return fold, exact, True


def _first_node(op, av, caseless: bool) -> _First | None:
    if op is _c.LITERAL:
        return ({_char(av)}, set(), False) if caseless else (set(), {_char(av)}, False)
    if op is _c.IN:
        fold: set[str] = set()
        exact: set[str] = set()
        for kind, arg in av:
            if kind is _c.LITERAL:
                (fold if caseless else exact).add(_char(arg))
            elif kind is _c.RANGE:
                (fold if caseless else exact).add(_char(arg[0]) + "-" + _char(arg[1]))
            elif kind is _c.CATEGORY and arg in _CATEGORIES:
                exact.add(_CATEGORIES[arg])
            else:  # a negated class, anything else: no claim
                return None
        return fold, exact, False
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return set(), set(), True
    if op is _c.SUBPATTERN:  # (group, flags added, flags removed, items)
        _, added, removed, sub = av
        return _first(list(sub), (caseless or bool(added & re.IGNORECASE)) and not removed & re.IGNORECASE)
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _first(list(av), caseless)
    if op is _c.BRANCH:
        fold, exact, empty = set(), set(), False
        for branch in av[1]:
            found = _first(list(branch), caseless)
            if found is None:
                return None
            fold |= found[0]
            exact |= found[1]
            empty = empty or found[2]
        return fold, exact, empty
    if op in _REPEATS:
        low, _, sub = av
        found = _first(list(sub), caseless)
        return None if found is None else (found[0], found[1], found[2] or low == 0)
    return None


def _char(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
