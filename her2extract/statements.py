"""Read the layout of a page's text: form rows, label/value blocks, table columns, legends.

A page's text keeps its layout: a text file as typed, a PDF page as ingest's page model lays
its words out (each at the column its position gives). This module finds what a pattern must
never read as this patient's result, and says why:

- printed option lists (checkboxes, CAP templates that print every option): every option but
  the marked one; with no mark, or two, none (`form-unticked`, `form-ambiguous`);
- label/value blocks whose values slipped a row: a block heading received a value while a
  label below it got none (or a value hangs below the last label): nothing in it is read
  (`layout-shift`);
- the reference-range column of a table, legends ("Negative 0-1+, Equivocal 2+, Positive 3+")
  and template placeholders ("[Positive/Negative]");
- results side by side for two specimens: the columns the reporting rules do not pick (a
  smaller focus, a lymph node, one observer's count); with no pick and values that disagree,
  the row (`specimen-columns`);
- struck-out words of an electronic form ("~~Negative~~").

It returns the spans to blank (the matcher reads spaces there; the page text itself is kept
for evidence) with the warnings and doubts that say what was left unread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

# --- what a result can be: the words of printed options -----------------------------------

_OPTION_WORD = (
    r"(?:low[\s-]{1,3}positive|weakly\s{1,3}positive|positive|negative|equivocal|borderline|indeterminate"
    r"|not\s{1,3}amplified|non-?\s?amplified|amplified|not\s{1,3}performed|not\s{1,3}done|not\s{1,3}indicated"
    r"|not\s{1,3}applicable|pending|present|absent|yes|no|weak|moderate|strong|group\s{0,2}[1-5]"
    r"|(?:score\s{0,2})?[0-3]\+?(?![\d.,%])|zero|intact|loss|high|low|intermediate)"
)
_OPTION_START = regex.compile(rf"(?i){_OPTION_WORD}\b|(?i)[0-3]\+")
# What may follow an OCR stand-in letter or a gutter mark: a call word, or a score with its plus.
_OPTION_WORD_STRICT = regex.compile(
    r"(?i)(?:low[\s-]{1,3}positive|weakly\s{1,3}positive|positive|negative|equivocal|borderline|indeterminate"
    r"|not\s{1,3}amplified|non-?\s?amplified|amplified|not\s{1,3}performed|not\s{1,3}indicated|pending"
    r"|present|absent|(?:score\s{0,2})?[0-3]\+|score\s{0,2}0|group\s{0,2}[1-5])(?![\w-])")
# Options of one set lie this close together (characters from one box to the next).
OPTION_REACH = 60
# A box, marked or not, as typed or as OCR renders it; a page model writes drawn boxes as "[x]"/"[ ]".
_TICKED = r"\[\s?[xX✓✔✗✘/]\s?\]|\(\s?[xX✓✔]\s?\)|[☒☑■▣◼●◉✓✔✗✘]|_{1,4}[xX✓✔]_{1,4}"
_EMPTY = r"\[\s{0,2}\]|\(\s{1,2}\)|[☐□▢◻❑❒○◯]|_{2,}"
_BOX = regex.compile(rf"(?P<ticked>{_TICKED})|(?P<empty>{_EMPTY})")
# A mark in the gutter before an option in a vertical list ("x  Low Positive (1-10% ...)").
_GUTTER = regex.compile(r"^(?P<indent>[ \t]*)(?P<mark>[xX✓✔]|\[\s?[xX✓✔]\s?\]|\(\s?[xX]\s?\)|_{1,4}[xX]_{1,4}|[☒☑■▣◼●])?"
                        r"(?P<box>\[\s{0,2}\]|\(\s{1,2}\)|[☐□▢◻❑○]|_{2,})?[ \t]{1,6}(?=\S)")

# --- markers, for saying which test a blanked statement was about --------------------------

_MARKERS = (
    ("her2", regex.compile(r"(?i)\b(?:her-?\s?2(?:\s?/\s?neu)?|c-?erb-?\s?b-?2|erbb2|neu)\b")),
    ("er", regex.compile(r"(?i)\b(?:ER|estrogen|oestrogen|ER-?alpha)\b")),
    ("pr", regex.compile(r"(?i)\b(?:PR|PgR|progesterone)\b")),
    ("ki67", regex.compile(r"(?i)\b(?:ki-?\s?67|mib-?1)\b")),
)


def markers_in(text: str) -> list[str]:
    """The markers a piece of text names, in the order of _MARKERS."""
    return [name for name, pattern in _MARKERS if pattern.search(text)]


@dataclass(frozen=True, slots=True)
class Unread:
    """A stretch of a page the matcher must not read as a result, and why."""

    start: int
    end: int
    code: str  # form-unticked, form-ambiguous, form-option, layout-shift, reference, legend, placeholder,
    # struck, other-specimen, specimen-columns
    note: str = ""  # the warning, for the kinds that leave a marker's value empty
    markers: tuple[str, ...] = ()
    statement: tuple[int, int] = (0, 0)  # the whole row or block, for evidence


@dataclass(frozen=True, slots=True)
class Reading:
    """What read_layout found on one page: spans to blank, in order."""

    unread: tuple[Unread, ...] = ()

    def blanks(self) -> list[tuple[int, int]]:
        return [(u.start, u.end) for u in self.unread]


@dataclass(slots=True)
class _Line:
    start: int  # offset of the line in the page text
    text: str
    index: int

    @property
    def indent(self) -> int:
        return len(self.text) - len(self.text.lstrip(" \t"))

    @property
    def blank(self) -> bool:
        return not self.text.strip()


@dataclass(slots=True)
class _Cell:
    start: int  # offset in the line
    end: int
    text: str


_CELL_GAP = regex.compile(r"[ ]{2,}|\t+|[ \t]*[|¦][ \t]*")  # two spaces, a tab, or a table's rule


def _cells(line: str) -> list[_Cell]:
    """A line's cells: stretches separated by two or more spaces or a tab."""
    out, last = [], 0
    for m in _CELL_GAP.finditer(line):
        if m.start() > last:
            out.append(_Cell(last, m.start(), line[last:m.start()]))
        last = m.end()
    if last < len(line):
        out.append(_Cell(last, len(line), line[last:]))
    return [c for c in out if c.text.strip()]


def _lines(text: str) -> list[_Line]:
    lines, start = [], 0
    for index, piece in enumerate(text.split("\n")):
        lines.append(_Line(start, piece, index))
        start += len(piece) + 1
    return lines


def read_layout(text: str) -> Reading:
    """Find the stretches of a page's text that are not results (see the module's docstring)."""
    if not text:
        return Reading()
    found: list[Unread] = _struck(text)
    if found:  # struck words are gone before anything else is read: "Positive  ~~Negative~~"
        text = _blank(text, found)
    lines = _lines(text)
    columns = _specimen_columns(lines)
    if columns:  # so are the columns of specimens not reported: the row reads as one result
        found += columns
        text = _blank(text, columns)
        lines = _lines(text)
    found += _option_rows(lines, text)
    found += _circled_choices(lines)
    found += _questions(lines)
    found += _option_lists(lines, text)
    found += _shifted_blocks(lines)
    if not found or not any(u.code == "layout-shift" for u in found):
        found += _shifted_sentences(text)
    found += _reference_columns(lines)
    found += _placeholders(text)
    found += _legends(lines)
    found.sort(key=lambda u: (u.start, u.end))
    return Reading(tuple(found))


# --- option rows: "ER  [ ] Positive  [X] Negative" ------------------------------------------

@dataclass(slots=True)
class _Option:
    box_start: int
    box_end: int
    end: int  # end of the option's text (or of its box, when the box comes after it)
    ticked: bool | None  # None: a stand-in letter, not known either way
    start: int = -1  # start of the option with its box; box_start when the box comes first

    @property
    def span(self) -> tuple[int, int]:
        return (self.box_start if self.start < 0 else self.start), self.end


# What OCR makes of a printed box glued to the word after it ("[Jamplified", "CJPositive").
_GLUED_BOX = r"\[J|CJ|LJ|\[I|c3|E3|El"
# An option word of a form row (a call, a score, an ISH result), where its box may stand before it.
_ROW_OPTION = re.compile(
    # (the lookahead's first letters let the scan skip most places cheaply; stdlib re runs this
    # alternation twice as fast as regex does)
    r"(?i)(?=[abcdefilmnpstwy0-9<>\u2264\u2265])(?:(?<![A-Za-z-])|(?<=" + _GLUED_BOX + r"))(?:luminal\s{0,2}[ab]|her-?2[\s-]{0,2}enriched|"
    r"triple[\s-]{1,3}negative|basal[\s-]{1,2}like|[bd]?dish|[fcs]ish|low[\s-]{1,3}positive|weakly\s{1,3}positive|positive|negative|equivocal|borderline"
    r"|not\s{1,3}amplified|non-?\s?amplified|amplified|not\s{1,3}performed|not\s{1,3}indicated|not\s{1,3}done|indeterminate"
    r"|(?<![\d.])(?:\d{1,3}\s{0,2}[-\u2013]\s{0,2}\d{1,3}|[<>\u2264\u2265]\s{0,2}\d{1,3})\s{0,2}%"
    r"|(?<![\d.])[0-3]\+|(?<![\d.,])0(?![\d.,%+])|score\s{0,2}[0-3]\+?|yes|no|present|absent|weak|moderate|strong)(?![\w])")
# What a reader makes of a printed box right before an option: a box as typed, or a short
# token no word is made of ("o", "q", "c3", "El", "©", "0"); common short words never are.
_TOKEN_BEFORE = regex.compile(
    rf"(?:(?P<ticked>{_TICKED})|(?P<empty>{_EMPTY})|(?<![\w+/.-])(?P<standin>[oOaqQDdcCnuUe0©®°•¤|]|c3|E3|El|Cl|CI|ra|q_|0\)|D\)|O\)"
    r"|\[J|\[\[\]|\[_\]|CJ|C\]|LJ|L\]|\[I|\|_\|))[ \t]{0,6}$")
_WORDS_NEVER_BOXES = frozenset({"is", "to", "as", "at", "in", "of", "or", "on", "by", "be", "an", "so", "if", "it", "a"})


def _row_options(line: str) -> list[list[_Option]]:
    """The sets of printed options of one line: two or more option words within OPTION_REACH
    characters of each other, at least one with a box (or a reader's stand-in for one) right
    before it. An option without a box of its own, or with a stand-in letter, is of unknown
    state: not marked as far as can be told."""
    found = []
    for m in _ROW_OPTION.finditer(line):
        token = _TOKEN_BEFORE.search(line, max(0, m.start() - 12), m.start())
        start, ticked, boxed = m.start(), None, False
        if token is not None:
            text = token.group(0).strip()
            if token.group("standin") and text in _WORDS_NEVER_BOXES and text != "a":
                token = None
            else:
                start, boxed = token.start(), True
                ticked = True if token.group("ticked") else False if token.group("empty") else None
        if not boxed and m.group().endswith("%"):
            continue  # a band is an option only with its own box: "(1-10% of cells)" describes one
        found.append((start, m.start(), m.end(), ticked, boxed))
    sets = []
    group: list[tuple] = []
    for item in found + [None]:
        if item is not None and group and item[0] - group[-1][2] <= OPTION_REACH:
            group.append(item)
            continue
        group = _without_label_words(line, group)
        trailing = _BOX.match(line, _skip_spaces(line, group[-1][2])) if group else None
        if len(group) >= 2 and not group[0][4] and trailing is not None:
            # boxes after their options ("0 [ ] 1+ [x] 2+ [ ] 3+ [ ]"): each option's box is the next one
            boxes = [(g[0], g[1], g[3]) for g in group[1:]] + [(trailing.start(), trailing.end(),
                                                                 trailing.group("ticked") is not None)]
            sets.append([_Option(box_start, box_end, box_end, ticked, word)
                         for (_, word, _, _, _), (box_start, box_end, ticked) in zip(group, boxes)])
            group = [item] if item is not None else []
            continue
        if len(group) == 1 and _single_unmarked(line, group[0]):
            # one option beside an empty box: whatever the rest of the row was, not this one
            start, word, word_end = group[0][0], group[0][1], group[0][2]
            after = _BOX.match(line, _skip_spaces(line, word_end))
            end = after.end() if after is not None and not group[0][4] else word_end
            sets.append([_Option(start, start, end, False), _Option(end, end, end, None)])
        if len(group) >= 2 and any(g[4] for g in group) and _one_kind(line, group):
            options = []
            for k, (start, word, word_end, ticked, _) in enumerate(group):
                stop = group[k + 1][0] if k + 1 < len(group) else word_end
                if k + 1 == len(group):  # the last option ends with its cell, or with its words
                    gap = _CELL_GAP.search(line, word_end, len(line))
                    stop = gap.start() if gap else _option_end(line, word_end)
                options.append(_Option(start, word, stop, ticked))
            sets.append(options)
        group = [item] if item is not None else []
    return sets


_OPTION_HINTS = ("positive", "negative", "equivocal", "amplified", "+", "yes", "no", "present", "absent",
                 "indicated", "performed", "borderline", "indeterminate", "score", "weak", "moderate", "strong", "0",
                 "fish", "sish", "cish", "dish", "luminal", "enriched", "%")


# Any box, as typed or as a reader makes of it, before a word (a set needs one).
# (a reader's stand-in counts only right before an option word: "a lumpectomy" is no box)
_OPTION_START = (r"(?i:low|weak|pos|neg|equiv|border|not\s|non|amp|indet|[0-3]\+|0(?![\d.,%+])|score|yes|no\b"
                 r"|present|absent|moderate|strong|luminal|her|triple|basal|[bd]?dish|[fcs]ish|\d{1,3}\s{0,2}[-–]|[<>≤≥])")
_ANY_BOX = re.compile(
    rf"{_TICKED}|{_EMPTY}|(?<![\w+/.-])(?:[oOaqQDdcCnuUe0©®°•¤|]|c3|E3|El|Cl|CI|ra|q_|0\)|D\)|O\)|\[J|CJ|C\]|LJ|L\]|\[I)"
    rf"[ \t]{{0,3}}{_OPTION_START}|(?:{_GLUED_BOX}){_OPTION_START}")


def _may_hold_options(line: str) -> bool:
    """Whether a line names an option word and holds something like a box at all (cheap
    tests before _row_options)."""
    low = line.lower()
    return any(word in low for word in _OPTION_HINTS) and _ANY_BOX.search(line) is not None


def _single_unmarked(line: str, item: tuple) -> bool:
    """An option word with an empty box (as typed or drawn: not a reader's stand-in letter)
    right before it, or none before and one right after it."""
    start, word, word_end, ticked, boxed = item
    if boxed:
        return ticked is False and _BOX.match(line, start) is not None
    after = _BOX.match(line, _skip_spaces(line, word_end))
    return after is not None and after.group("empty") is not None


_NEUTRAL_OPTION = regex.compile(r"(?i)not\s{1,3}(?:done|performed|indicated)|pending")
_INTENSITY_OPTION = regex.compile(r"(?i)weak|moderate|strong")
_METHOD_OPTION = regex.compile(r"(?i)[bd]?dish|[fcs]ish")
_SUBTYPE_OPTION = regex.compile(r"(?i)luminal.*|her-?2.*enriched|triple.*|basal.*")


def _without_label_words(line: str, group: list[tuple]) -> list[tuple]:
    """Drop the label's words before a set: "HER2 ISH (FISH/CISH): [ ] Amplified [x] Not
    amplified" (unboxed words of another kind than the first boxed option)."""
    boxed = next((item for item in group if item[4] and _option_kind(line, item)), None)
    if boxed is None:  # no boxed option, or only "not done", which says nothing of the set's kind
        return group
    kind = _option_kind(line, boxed)
    k = 0
    while k < len(group) and not group[k][4] and _option_kind(line, group[k]) not in ("", kind):
        k += 1
    return group[k:]


def _option_kind(line: str, item: tuple) -> str:
    """What question an option word answers; "" for "not done", which goes with any."""
    word = line[item[1]:item[2]]
    if _NEUTRAL_OPTION.fullmatch(word):
        return ""
    return ("subtype" if _SUBTYPE_OPTION.fullmatch(word) else
            "percent" if word.endswith("%") else
            "score" if any(ch.isdigit() for ch in word) else
            "intensity" if _INTENSITY_OPTION.fullmatch(word) else
            "method" if _METHOD_OPTION.fullmatch(word) else "call")


def _one_kind(line: str, group: list[tuple]) -> bool:
    """Options of one set answer one question: all calls, all scores, all intensities, all ISH
    methods, all subtypes or all percent bands (not "2+ positive"); "not done" goes with any."""
    return len({_option_kind(line, item) for item in group} - {""}) == 1


_OPTION_TAIL = regex.compile(r"[^.;\n]{0,40}?(?=[.;]\s|\s{2,}|$|\s(?:[A-Z][a-z]|[A-Z]{2,}\b))")


def _option_end(line: str, at: int) -> int:
    """Where the last option of a set ends when no cell gap ends it: at a sentence or a new label."""
    m = _OPTION_TAIL.match(line, _skip_spaces(line, at))
    return m.end() if m else min(len(line), at + 40)


def _skip_spaces(line: str, at: int) -> int:
    while at < len(line) and line[at] in " \t":
        at += 1
    return at


def _option_rows(lines: list[_Line], page: str) -> list[Unread]:
    """Decide each option set; a set on the line right below a set, with no label of its own,
    continues it ("[ ] Positive  [x] Negative" / "[ ] Equivocal  [ ] Not performed"): one
    decision for the lot, so the row without the tick is not an unticked form."""
    out: list[Unread] = []
    runs: list[tuple[list[_Option], str, list[int]]] = []  # options (page offsets), label, row
    previous = -2
    for line in lines:
        if len(line.text) < 6 or not _may_hold_options(line.text):
            continue
        last = 0
        for options in _row_options(line.text):
            own = line.text[last:options[0].span[0]][-60:]
            moved = [_Option(line.start + o.box_start, line.start + o.box_end, line.start + o.end, o.ticked,
                             line.start + o.start if o.start >= 0 else -1) for o in options]
            row = [line.start, line.start + len(line.text)]
            if not own.strip() and last == 0 and previous == line.index - 1 and runs:
                runs[-1][0].extend(moved)  # the set goes on from the line above
                runs[-1][2][1] = row[1]
            else:
                label = own
                if not label.strip() and line.index > 0:  # the label is the line above ("HER2 (IHC):" then the boxes)
                    above = lines[line.index - 1].text
                    label = above if len(above.strip()) < 60 else ""
                runs.append((moved, label, row))
            last = options[-1].end
            previous = line.index
    for options, label, row in runs:
        out += _decide(page, 0, options, label, (row[0], row[1]))
    return out


# An option's printed description that defines it by a share of cells ("(1-10% of cells ...)",
# "(greater than 10% ...)"): a definition. "(Score 2+)" is the option's value and stays.
_DESCRIPTION = regex.compile(r"\([^()\n]{0,60}%[^()\n]{0,60}\)")


def _decide(text: str, base: int, options: list[_Option], label: str, row: tuple[int, int]) -> list[Unread]:
    """Blank every option but the one marked; with no mark or several, blank them all.

    `options` hold offsets into `text`, which starts at `base` in the page; `row` is the
    statement in page offsets."""
    marked = [o for o in options if o.ticked]
    names = tuple(markers_in(label))
    shown = " ".join(label.split())[:40] or "a form row"
    if len(marked) == 1:
        keep = marked[0]
        spans = [o.span for o in options if o is not keep] + [(keep.box_start, keep.box_end)]
        # the printed description of the marked option is the template's, not a result:
        # "Low Positive (1-10% of cells demonstrate nuclear positivity)"
        spans += [m.span() for m in _DESCRIPTION.finditer(text, keep.box_end, keep.end)]
        return [Unread(base + a, base + b, "form-option", statement=row) for a, b in spans]
    if marked:
        code, note = "form-ambiguous", f"form-ambiguous: {shown}: more than one printed option is marked, left empty"
    else:
        code, note = "form-unticked", f"form-unticked: {shown}: printed options and none is marked, left empty"
    start, end = options[0].span[0], options[-1].span[1]
    return [Unread(base + start, base + end, code, note if names else "", names, row)]


# --- a choice marked by brackets around it: "0   (1+)   2+   3+", "Positive   (Negative)" ---------

_CIRCLED = regex.compile(
    r"(?i)(?<![\w(])\(\s?(?P<word>low[\s-]positive|positive|negative|equivocal|amplified|not\s{1,3}amplified"
    r"|[0-3]\+|0|yes|no|y|n)\s?\)(?![\w)])")
_BARE = regex.compile(
    r"(?i)(?<![\w(+-])(?:low[\s-]positive|positive|negative|equivocal|amplified|not\s{1,3}amplified"
    r"|[0-3]\+|0|yes|no|y|n)(?![\w)+-])")


def _circled_choices(lines: list[_Line]) -> list[Unread]:
    """A row of bare options with exactly one in brackets (a circled choice on a form): the
    bracketed one is the answer, the others are printed options."""
    out: list[Unread] = []
    for line in lines:
        circled = list(_CIRCLED.finditer(line.text))
        if len(circled) != 1:
            continue
        chosen = circled[0]
        near = [m for m in _BARE.finditer(line.text)
                if abs(m.start() - chosen.start()) <= OPTION_REACH and not (chosen.start() <= m.start() < chosen.end())]
        kind = _kind(chosen.group("word"))
        same = [m for m in near if _kind(m.group(0)) == kind]
        values = [_polarity(chosen.group("word"))] + [_polarity(m.group(0)) for m in same]
        if not same or len(set(values)) != len(values):
            continue  # "Negative (not amplified)" says one thing twice: no choice among options
        out += [Unread(line.start + m.start(), line.start + m.end(), "form-option") for m in same]
        # the brackets go too, so that "(1+)" reads as the score it is
        out += [Unread(line.start + chosen.start(), line.start + chosen.start("word"), "form-option"),
                Unread(line.start + chosen.end("word"), line.start + chosen.end(), "form-option")]
    return out


def _polarity(word: str) -> str:
    """What an option says, so that two spellings of one answer are not taken for two options."""
    word = " ".join(word.lower().split())
    if word in ("y", "yes", "positive", "amplified", "low positive", "low-positive"):
        return "+"
    if word in ("n", "no", "negative", "not amplified"):
        return "-"
    return word


def _kind(word: str) -> str:
    word = word.lower().strip()
    if word in ("y", "n", "yes", "no"):
        return "yes-no"
    return "score" if any(ch.isdigit() for ch in word) else "call"


# --- a question with a yes/no answer: "PR positive?   Y   (N)" ---------------------------------

_QUESTION = regex.compile(r"(?P<question>[A-Za-z][^?\n]{1,80})\?[ \t]+(?P<answers>[^\n]{1,40})")
_ANSWER = regex.compile(
    r"(?i)(?:\(\s?(?P<yes>y|yes)\s?\)|\[\s?[xX✓]\s?\]\s?(?P<yes2>y|yes)\b|(?P<no>\(\s?(?:n|no)\s?\))"
    r"|\[\s?[xX✓]\s?\]\s?(?P<no2>n|no)\b)")


def _questions(lines: list[_Line]) -> list[Unread]:
    """A printed question answered yes or no: "no" (or no answer to be seen) means the words
    of the question are not a statement ("PR positive?  Y  (N)" does not say PR is positive)."""
    out: list[Unread] = []
    for line in lines:
        if "?" not in line.text:
            continue
        for m in _QUESTION.finditer(line.text):
            if not markers_in(m.group("question")) or not _BARE.search(m.group("answers")):
                continue
            answer = _ANSWER.search(m.group("answers"))
            if answer is not None and (answer.group("yes") or answer.group("yes2")):
                continue
            out.append(Unread(line.start + m.start("question"), line.start + m.end("question") + 1, "form-option"))
    return out


# --- option lists: a CAP template prints every option on its own line ---------------------

def _option_lists(lines: list[_Line], page: str) -> list[Unread]:
    """Runs of two or more lines that each start with an option (after a mark or a box, or
    none) at one column: the marked line is the answer, the others are printed options."""
    out: list[Unread] = []
    run: list[tuple[_Line, regex.Match]] = []

    def flush() -> None:
        if len(run) >= 2:
            out.extend(_decide_list(run, lines, page))
        run.clear()

    for line in lines:
        m = _GUTTER.match(line.text) if 0 < len(line.text) <= LIST_LINE else None
        option = _OPTION_WORD_STRICT.match(line.text, m.end()) if m else None
        if option is None or ":" in line.text[m.end():option.end() + 3]:
            flush()
            continue
        if run and abs(m.end() - run[0][1].end()) > 2:
            flush()
        run.append((line, m))
    flush()
    return out


LIST_LINE = 160  # a line of a printed option list is short


def _decide_list(run: list[tuple[_Line, regex.Match]], lines: list[_Line], page: str) -> list[Unread]:
    words = {_OPTION_WORD_STRICT.match(line.text, m.end()).group(0).lower() for line, m in run}
    if len(words) < 2:  # one option word repeated is a list of results, not of options
        return []
    marked = [line for line, m in run if m.group("mark")]
    if not marked and any(regex.search(_TICKED, line.text[m.end():]) for line, m in run):
        return []  # the tick is further along a row: the rows' own sets decide
    boxed = any(m.group("box") for _, m in run)
    if not marked and not boxed:  # no box and no mark anywhere: a legend, not a form
        return [Unread(line.start, line.start + len(line.text), "legend") for line, _ in run]
    first = run[0][0]
    heading = lines[first.index - 1].text if first.index > 0 else ""
    options = [_Option(line.start + m.start(), line.start + m.end(), line.start + len(line.text),
                       bool(m.group("mark"))) for line, m in run]
    block = (first.start, run[-1][0].start + len(run[-1][0].text))
    return _decide(page, 0, options, heading, block)


# --- label/value blocks whose values slipped a row --------------------------------------------

_LABEL = regex.compile(r"^(?P<indent>[ \t]*)(?P<label>[A-Za-z][^:\n]{0,60}?:)(?:[ \t]+(?P<value>\S.*)|[ \t]*$)")
# A block's heading may be a heading in capitals with no colon ("BIOMARKERS   Positive, 95%").
_HEADING = regex.compile(r"^(?P<indent>[ \t]*)(?P<label>[A-Z][A-Z0-9 /&(),.-]{2,60}?)(?:[ \t]{2,}(?P<value>\S.*)|[ \t]*$)")
_VALUE_ONLY = regex.compile(r"^(?P<indent>[ \t]{8,})(?P<value>\S.*)$")


def _shifted_blocks(lines: list[_Line]) -> list[Unread]:
    """A heading whose labels below name two or more markers, that has a value itself while the
    last label has none (or whose value column runs on past the last label): the values sit one
    row off their labels. Every value of the block is blanked."""
    out: list[Unread] = []
    k = 0
    while k < len(lines):
        head = _LABEL.match(lines[k].text) or _HEADING.match(lines[k].text)
        if head is None:
            k += 1
            continue
        block = [(lines[k], head)]
        j = k + 1
        while j < len(lines):
            m = _LABEL.match(lines[j].text)
            if m is None or len(m.group("indent")) <= len(head.group("indent")):
                break
            block.append((lines[j], m))
            j += 1
        hanging = []
        while j < len(lines) and _VALUE_ONLY.match(lines[j].text) and len(block) > 2:
            hanging.append(lines[j])
            j += 1
        if len(block) >= 3 and len(set(sum((markers_in(m.group("label")) for _, m in block[1:]), []))) >= 2:
            last_empty = block[-1][1].group("value") is None
            if (head.group("value") and last_empty) or (hanging and not head.group("value")
                                                         and block[1][1].group("value") is None):
                out += _blank_block(block, hanging)
        k = max(j, k + 1)
    return out


# The same slip in a text whose lines were joined into sentences ("RECEPTOR STATUS AND HER2/NEU:
# 98% positive cells. Estrogen receptors: 25% positive. ... Ki-67 proliferative index: This
# report continues"): a heading naming a group of tests, then labels naming two or more markers.
_SEGMENT = regex.compile(r"(?<=^|[.:]\s|\n)[ \t]*(?P<label>[A-Za-z][^:.\n]{0,60}?:)[ \t]*(?P<value>[^.:\n]*(?:\.\d[^.:\n]*)*)")
_GROUP_HEAD = regex.compile(r"(?i)\b(?:receptors?\s{1,3}status|biomarkers?|prognostic|predictive|markers|immunohisto\w*|"
                            r"hormone\s{1,3}receptors?)\b")
_TWO_MARKER_LABEL = regex.compile(r"(?i)\b(?:ER|PR|PgR|HER-?2|estrogen|progesterone)\b[^:\n.]{0,40}"
                                   r"\b(?:ER|PR|PgR|HER-?2|estrogen|progesterone)\b[^:\n.]{0,20}:")
_VALUE_LIKE = regex.compile(r"(?i)\d|%|\+|\b(?:positive|negative|equivocal|amplified|pending|not\s{1,3}(?:done|performed)|"
                            r"weak|moderate|strong|low|high|over-?expressed)\b")


def _shifted_sentences(text: str) -> list[Unread]:
    out: list[Unread] = []
    if ":" not in text or not (_GROUP_HEAD.search(text) or _TWO_MARKER_LABEL.search(text)):
        return out
    segments = list(_SEGMENT.finditer(text, overlapped=True))
    k = 0
    while k < len(segments):
        head = segments[k]
        names = markers_in(head.group("label"))
        if not (_GROUP_HEAD.search(head.group("label")) or len(names) >= 2) or not _VALUE_LIKE.search(head.group("value")):
            k += 1
            continue
        block = [head]
        j = k + 1
        while j < len(segments) and markers_in(segments[j].group("label")) and segments[j].start() - block[-1].end() <= 4:
            block.append(segments[j])
            j += 1
        children = block[1:]
        if len(children) >= 2 and len({m for c in children for m in markers_in(c.group("label"))}) >= 2 \
                and not _VALUE_LIKE.search(children[-1].group("value")):
            label = " ".join(head.group("label").split())
            note = (f"layout-shift: the values beside '{label[:40]}' do not line up with their labels (the heading "
                    f"has a value, the last label none): a row has slipped, left unread")
            marks = tuple(dict.fromkeys(m for c in children for m in markers_in(c.group("label"))))
            statement = (block[0].start(), block[-1].end())
            out += [Unread(seg.start("value"), seg.end("value"), "layout-shift", note, marks, statement)
                    for seg in block if seg.group("value").strip()]
        k = max(j, k + 1)
    return out


def _blank_block(block: list[tuple[_Line, regex.Match]], hanging: list[_Line]) -> list[Unread]:
    head = " ".join(block[0][1].group("label").split())
    last = " ".join(block[-1][1].group("label").split())
    names = tuple(dict.fromkeys(sum((markers_in(m.group("label")) for _, m in block), [])))
    note = (f"layout-shift: the values beside '{head[:40]}' do not line up with their labels (the heading has a "
            f"value, '{last[:30]}' none, or a value hangs below it): a row has slipped, left unread")
    end_line = hanging[-1] if hanging else block[-1][0]
    statement = (block[0][0].start, end_line.start + len(end_line.text))
    out = [Unread(line.start + m.start("value"), line.start + m.end("value"), "layout-shift", note, names, statement)
           for line, m in block if m.group("value")]
    out += [Unread(line.start + len(line.text) - len(line.text.lstrip()), line.start + len(line.text),
                   "layout-shift", note, names, statement) for line in hanging]
    return out


# --- the reference-range column of a table ---------------------------------------------------

_REFERENCE_HEAD = regex.compile(
    r"(?i)^(?:normal|reference|ref\.?|expected|favou?rable|cut-?\s?off|interpretation\s{1,3}(?:key|guide))\b|\branges?:?$")
_RESULT_HEAD = regex.compile(r"(?i)^(?:results?|values?|findings?|status|interpretation|score|percent|%|assays?:?|"
                             r"tests?|markers?|stains?|antibody|biomarkers?)\b")
TABLE_ROWS = 25  # a table's rows are read this far below its header


# What OCR makes of a scan's specks before a cell's first word ("~ LOW POS 1-10%").
_SPECKS = regex.compile(r"[~_=.,'\"\u2018\u201c\u00b0\u00a9\u00bb\u00ab\u2014|:;-]{1,3}\s")


def _content_start(cell: _Cell) -> int:
    specks = _SPECKS.match(cell.text)
    return cell.start + specks.end() if specks else cell.start


def _reference_columns(lines: list[_Line]) -> list[Unread]:
    out: list[Unread] = []
    for k, line in enumerate(lines):
        cells = _cells(line.text)
        if len(cells) < 2 or not any(_RESULT_HEAD.match(c.text.strip()) for c in cells):
            continue
        refs = [i for i, c in enumerate(cells) if _REFERENCE_HEAD.search(c.text.strip())]
        if not refs:
            continue
        for i in refs:
            lo = cells[i].start
            hi = cells[i + 1].start if i + 1 < len(cells) else 10_000
            # a scan's columns line up only roughly: a cell up to 4 characters before the
            # heading is the column's when it lies nearer to it than to the column before
            before = max((c.end for c in cells[:i] if any(ch.isalnum() for ch in c.text)), default=-10_000)
            # the heading too: "reference range" is a definition's cue, and it names no result
            out.append(Unread(line.start + cells[i].start, line.start + cells[i].end, "reference"))
            for row in lines[k + 1:k + 1 + TABLE_ROWS]:
                if row.blank:
                    break
                for cell in _cells(row.text):
                    at = _content_start(cell)
                    if lo - 4 <= at < hi and lo - at < at - before:
                        out.append(Unread(row.start + cell.start, row.start + cell.end, "reference"))
                    elif cell.start < lo - 2 < lo < cell.end and row.text[lo - 1] == " " and row.text[lo] != " ":
                        # a long result cell runs up to the column with one space between:
                        # "(overexpressed) 2+-3+ positive", the column's part is the reference
                        out.append(Unread(row.start + lo, row.start + min(cell.end, hi), "reference"))
    return out


# --- results side by side, one column per specimen ---------------------------------------------
#
#                      Focus A: LIQ, 9 mm       Focus B: UOQ, 25 mm
#   ER                 Positive, 90%, strong    Positive, 95%, strong
#
# A pattern reads the value after a marker's name, so it would read the first column whatever
# that column is. The column the reporting rules pick is kept (the largest tumour of one
# breast, the main tumour, the primary, the combined count of two observers); the others are
# blanked. Where none can be picked (left and right, core and excision) and the columns
# disagree, the row is left unread with a `specimen-columns` warning.

_SPECIMEN_WORD = regex.compile(
    r"(?i)\b(?:tumou?rs?|focus|foci|lesion|nodule|part|specimen|core|biopsy|excision|resection|mastectomy|primary"
    r"|metasta\w{0,10}|(?:lymph\s)?node|recurrence|left|right|main|satellite|dominant|index|second|additional"
    r"|observer|reader)\b")
_COMBINED = regex.compile(r"(?i)\b(?:combined|total|overall|final|average|mean)\b")
_OBSERVER = regex.compile(r"(?i)\b(?:observer|reader|count)\s{0,2}(?:#\s?)?[1-3a-c]?\b")
_MAJOR = regex.compile(r"(?i)\b(?:main|dominant|largest|index|primary)\b")
_MINOR = regex.compile(r"(?i)\b(?:second|satellite|smaller|minor|additional|(?:lymph\s)?node|metasta\w{0,10}|recurrence)\b")
_SIDE = regex.compile(r"(?i)\b(left|right)\b")
_SIZE = regex.compile(r"(?i)(?<![\d.,])(\d{1,3}(?:[.,]\d{1,2})?)\s{0,2}(mm|cm)\b")
_ROW_PARAMETER = regex.compile(r"(?i)\b(?:ratio|signals?|copies|nuclei|cells|scored|counted|intensity|allred|score)\b")


def _size_mm(text: str) -> float | None:
    m = _SIZE.search(text)
    if m is None:
        return None
    size = float(m.group(1).replace(",", "."))
    return size * 10 if m.group(2).lower() == "cm" else size


def _pick_column(heads: list[str]) -> int | None:
    """Which specimen column the reporting rules pick, or None."""
    combined = [i for i, h in enumerate(heads) if _COMBINED.search(h)]
    if len(combined) == 1 and all(_OBSERVER.search(h) for i, h in enumerate(heads) if i != combined[0]):
        return combined[0]
    sides = {m.group(1).lower() for h in heads for m in _SIDE.finditer(h)}
    if len(sides) > 1:
        return None  # two breasts: two tumours, no pick
    sizes = [_size_mm(h) for h in heads]
    if all(size is not None for size in sizes):
        largest = max(sizes)
        return sizes.index(largest) if sizes.count(largest) == 1 else None
    major = [i for i, h in enumerate(heads) if _MAJOR.search(h) and not _MINOR.search(h)]
    if len(major) == 1:
        return major[0]
    minor = [i for i, h in enumerate(heads) if _MINOR.search(h)]
    if len(heads) - len(minor) == 1 and minor:
        return next(i for i in range(len(heads)) if i not in minor)
    return None


def _specimen_columns(lines: list[_Line]) -> list[Unread]:
    out: list[Unread] = []
    for k, line in enumerate(lines):
        if not ("  " in line.text or "\t" in line.text or "|" in line.text) or len(_SPECIMEN_WORD.findall(line.text)) < 2:
            continue  # a header names two specimens or more, in cells
        cells = _cells(line.text)
        heads = [i for i, c in enumerate(cells) if len(c.text) <= 40 and not markers_in(c.text)
                 and (_SPECIMEN_WORD.search(c.text) or _COMBINED.search(c.text) and _OBSERVER.search(line.text))]
        if len(heads) < 2 or cells[heads[0]].start < 4 or sum(1 for i in heads if _SPECIMEN_WORD.search(cells[i].text)) < 2:
            continue  # a table's header has a label column first, then two specimens or more
        if not any(markers_in(lines[j].text) for j in range(k + 1, min(len(lines), k + 4))):
            continue
        pick = _pick_column([cells[i].text for i in heads])
        for row in lines[k + 1:k + 1 + TABLE_ROWS]:
            if row.blank:
                break
            columns = _under(cells, heads, _cells(row.text))
            if columns is None:
                break  # the table ended, or its rows do not line up with the header
            if pick is not None:
                out += [Unread(row.start + c.start, row.start + c.end, "other-specimen")
                        for j, column in enumerate(columns) if j != pick for c in column]
                continue
            texts = {" ".join(" ".join(c.text for c in column).lower().split()) for column in columns if column}
            if len(texts) < 2:
                continue  # the same in every column: read once
            label = row.text[:cells[heads[0]].start]
            names = tuple(markers_in(label))
            if not names:  # a continuation line of such a row
                out += [Unread(row.start + c.start, row.start + c.end, "other-specimen")
                        for column in columns for c in column]
                continue
            shown = " ".join(label.split())[:40]
            heads_shown = " and ".join(" ".join(cells[i].text.split())[:30] for i in heads)
            note = (f"specimen-columns: {shown}: results are given side by side for {heads_shown}, and the "
                    "report does not say which one is reported, left empty")
            out += [Unread(row.start + c.start, row.start + c.end, "specimen-columns", note, names,
                           (row.start, row.start + len(row.text))) for column in columns for c in column]
    return out


def _under(header: list[_Cell], heads: list[int], row: list[_Cell]) -> list[list[_Cell]] | None:
    """A row's cells under each specimen column: by position where the row lines up with the
    header, by count where it has as many cells (a table read cell by cell); None when neither."""
    if not row:
        return None
    if len(row) == len(header) and row[0].start < header[heads[0]].start - 2:
        return [[row[i]] for i in heads]
    bounds = [(header[i].start, header[i + 1].start if i + 1 < len(header) else 10_000) for i in heads]
    columns: list[list[_Cell]] = [[] for _ in heads]
    for cell in row:
        if cell.start < bounds[0][0] - 2 < bounds[0][0] + 2 < cell.end:
            return None  # a line of text across the columns: the table has ended
        inside = [j for j, (lo, hi) in enumerate(bounds) if lo - 2 <= cell.start < hi - 2]
        if inside:
            columns[inside[0]].append(cell)
        elif cell.start >= bounds[0][0] - 2 and not any(abs(cell.start - h.start) <= 2 for h in header):
            return None  # a cell past the label column that lines up with no column
    return columns


# --- struck-out words ---------------------------------------------------------------------------

# Struck-out text as an electronic form renders it: markdown "~~Negative~~", HTML <s>, <del>.
_STRUCK = regex.compile(r"~~[^~\n]{1,80}~~|<(s|del|strike)>[^<\n]{0,80}</\1>", regex.I)


def _struck(text: str) -> list[Unread]:
    if "~~" not in text and "<" not in text:
        return []
    return [Unread(m.start(), m.end(), "struck") for m in _STRUCK.finditer(text)]


def _blank(text: str, spans: list[Unread]) -> str:
    chars = list(text)
    for u in spans:
        chars[u.start:u.end] = " " * (u.end - u.start)
    return "".join(chars)


# --- placeholders and legends ----------------------------------------------------------------

# A template's choice left in square brackets ("[Positive/Negative]", "[invasive carcinoma/DCIS/
# metastatic carcinoma]"), or a field's name in angle brackets.
_PLACEHOLDER = regex.compile(
    r"(?i)\[[^\[\]\n/]{1,40}(?:/[^\[\]\n/]{1,40}){1,6}\]|<\s?(?:result|value|score|status|percent)\s?>")


def _placeholders(text: str) -> list[Unread]:
    return [Unread(m.start(), m.end(), "placeholder") for m in _PLACEHOLDER.finditer(text)]


_CATEGORY = (r"(?:low[\s-]{1,3}positive|weakly\s{1,3}positive|positive|negative|equivocal|borderline|"
             r"not\s{1,3}amplified|non-?\s?amplified|amplified|high|low|intermediate)")
_NUM = r"(?<![\d.,])\d{1,3}(?:[.,]\d{1,2})?(?![\d])"
_BAND = (rf"(?:(?:score\s{{0,2}})?[<>≤≥]=?\s{{0,2}}{_NUM}\s{{0,2}}%?|{_NUM}\s{{0,2}}[%+]?\s{{0,2}}(?:-|–|to|or|/)"
         rf"\s{{0,2}}{_NUM}\s{{0,2}}[%+]?|(?<![\d.,])0\s{{0,2}}(?:,|/|or|and)\s{{0,2}}1\+|(?:score\s{{0,2}})?(?<![\d.,])[0-3]\+"
         rf"|(?:score\s{{0,2}})0\b|(?<![\d.,])0(?=\s{{0,2}}(?:=|:)))")
# A category with its band, either way round: "Negative 0-1+", "Equivocal (2+)", "2+ = equivocal".
# Found from the category word (one cheap scan), the band then tried right after or before it.
_CATEGORY_WORD = regex.compile(rf"(?i)(?<![\w-]){_CATEGORY}(?![\w-])")
# (three spaces or more with nothing between is a cell gap: the band there is another cell's)
_BAND_AFTER = regex.compile(rf"(?i)(?:\s{{0,3}}[:=(]\s{{0,3}}|[ \t]{{0,2}})(?:\(\s{{0,2}})?(?P<band>{_BAND})(?:\s{{0,2}}\))?")
_BAND_BEFORE = regex.compile(rf"(?i)(?P<band>{_BAND})\s{{0,3}}(?:(?:=|:|-|is)\s{{0,3}})?$")
BAND_REACH = 30  # a band before its category starts within this many characters of it


@dataclass(frozen=True, slots=True)
class _Pair:
    start: int
    end: int
    category: str
    band: str


def _pairs(text: str) -> list[_Pair]:
    """The category/band pairs of a line, in order."""
    out = []
    for m in _CATEGORY_WORD.finditer(text):
        category = " ".join(m.group(0).lower().split())
        after = _BAND_AFTER.match(text, m.end())
        if after is not None:
            out.append(_Pair(m.start(), after.end(), category, after.group("band")))
            continue
        lo = max(0, m.start() - BAND_REACH)
        before = _BAND_BEFORE.search(text[lo:m.start()])
        if before is not None:
            out.append(_Pair(lo + before.start(), m.end(), category, before.group("band")))
    return out
# a definition: the category is the label ("Low Positive: 1-10%", "2+ = equivocal")
_DEFINITION = regex.compile(rf"(?i){_CATEGORY}\s{{0,3}}[:=]\s{{0,3}}{_BAND}|{_BAND}\s{{0,3}}(?:=|\bis\b)\s{{0,3}}{_CATEGORY}")


def _legends(lines: list[_Line]) -> list[Unread]:
    """Two or more category/band pairs of different categories in one line, with no marker
    named between them; or consecutive lines that each define one category."""
    out: list[Unread] = []
    run: list[tuple[_Line, regex.Match]] = []
    for line in lines:
        pairs = _pairs(line.text) if _has_digit(line.text) else []
        legends = [span for group in _pair_runs(line.text, pairs)
                   if (span := _legend_span(line.text, group)) is not None]
        for legend in legends:
            head = line.text[:legend[0]]
            if _LEGEND_HEAD.fullmatch(head):  # "Scoring key: ..." names no result either
                legend = (len(head) - len(head.lstrip()), legend[1])
            out.append(Unread(line.start + legend[0], line.start + legend[1], "legend"))
        if legends:
            run.clear()
            continue
        definition = _DEFINITION.search(line.text) if len(pairs) == 1 else None
        if definition is not None:
            run.append((line, definition))
            continue
        out += _definition_run(run)
        run.clear()
    out += _definition_run(run)
    return out


# What may stand before a legend on its line: a short heading ("Scoring key:", "Interpretation (").
_LEGEND_HEAD = regex.compile(r"[ \t]*(?:[A-Za-z][\w /()-]{0,38}[:(]?)?[ \t(]*")


_DIGIT = regex.compile(r"\d")


def _has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


LEGEND_REACH = 40  # pairs of one legend follow each other this closely (characters between)


def _pair_runs(text: str, pairs: list[_Pair]) -> list[list[_Pair]]:
    """Pairs in runs: each close to the one before, with no marker named between them."""
    runs: list[list[_Pair]] = []
    for pair in pairs:
        if runs and pair.start - runs[-1][-1].end <= LEGEND_REACH \
                and not markers_in(text[runs[-1][-1].end:pair.start]):
            runs[-1].append(pair)
        else:
            runs.append([pair])
    return runs


def _legend_span(text: str, pairs: list[_Pair]) -> tuple[int, int] | None:
    if len(pairs) == 2 and _result_then_reference(text, *pairs):
        return pairs[1].start, pairs[1].end
    if len(pairs) < 2 or len({p.category for p in pairs}) < 2:
        return None
    if not any(_is_band(p.band) or "+" in p.band for p in pairs) and len(pairs) < 3:
        return None  # two exact numbers with two words ("90% positive ... 0% negative") may be results
    return pairs[0].start, pairs[-1].end


def _result_then_reference(text: str, result: _Pair, reference: _Pair) -> bool:
    """A table row's result and its reference cell: "ER   78% POSITIVE   Negative: <10%",
    "HER2   3+ POSITIVE   0-1+ negative". The first is one value right after the marker's name,
    the second a range or bound, a cell gap between them."""
    return (not _is_band(result.band) and _is_band(reference.band) and bool(markers_in(text[:result.start]))
            and _CELL_GAP.search(text, result.end, reference.start) is not None)


def _is_band(band: str) -> bool:
    """A range or a bound, not one number: "0-1+", "<1%", "1-10 %"."""
    return any(ch in band for ch in "<>≤≥-–/") or " to " in band or " or " in band or " and " in band


def _definition_run(run: list[tuple[_Line, regex.Match]]) -> list[Unread]:
    if len(run) < 2 or len({regex.sub(r"\W.*", "", m.group(0).lower()) for _, m in run}) < 2:
        return []
    return [Unread(line.start + m.start(), line.start + m.end(), "legend") for line, m in run]

