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
  and template placeholders ("[Positive/Negative]").

It returns the spans to blank (the matcher reads spaces there; the page text itself is kept
for evidence) with the warnings and doubts that say what was left unread.
"""

from __future__ import annotations

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
# A single letter OCR makes of a box ("o Negative o Positive", "a Positive"): a box only when
# every option of the row has one.
_STANDIN = regex.compile(r"(?<![\w+/.-])(?P<standin>[oOaDQ0©®°•¤])(?=\s{1,3}\S)")
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
    code: str  # form-unticked, form-ambiguous, form-option, layout-shift, reference, legend, placeholder
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


_CELL_GAP = regex.compile(r"[ ]{2,}|\t+")


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
    lines = _lines(text)
    found: list[Unread] = []
    found += _option_rows(lines)
    found += _option_lists(lines)
    found += _shifted_blocks(lines)
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
    end: int  # end of the option's text
    ticked: bool | None  # None: a stand-in letter, not known either way


def _row_options(line: str) -> list[list[_Option]]:
    """The sets of boxed options of one line: two or more boxes, each before an option word,
    each within OPTION_REACH characters of the next."""
    boxes = [(m.start(), m.end(), m.group("ticked") is not None) for m in _BOX.finditer(line)]
    boxes = [b for b in boxes if _OPTION_START.match(line, _skip_spaces(line, b[1]))]
    letters = [(m.start(), m.end(), None) for m in _STANDIN.finditer(line)
               if _OPTION_WORD_STRICT.match(line, _skip_spaces(line, m.end()))]
    sets = []
    for group in _clusters(sorted(boxes + letters)):
        if len(group) < 2 or (sum(1 for b in group if b[2] is None) == 1 and len(group) == 2):
            continue  # one stand-in letter beside one box proves nothing
        options = []
        for k, (start, end, ticked) in enumerate(group):
            stop = group[k + 1][0] if k + 1 < len(group) else len(line)
            gap = _CELL_GAP.search(line, _skip_spaces(line, end), stop)
            if k + 1 == len(group):  # the last option ends with its cell, or with its words
                stop = gap.start() if gap else min(stop, _option_end(line, end))
            options.append(_Option(start, end, stop, ticked))
        sets.append(options)
    return sets


def _clusters(boxes: list[tuple[int, int, bool | None]]) -> list[list[tuple[int, int, bool | None]]]:
    groups: list[list[tuple[int, int, bool | None]]] = []
    for box in boxes:
        if groups and box[0] - groups[-1][-1][1] <= OPTION_REACH:
            groups[-1].append(box)
        else:
            groups.append([box])
    return groups


_OPTION_TAIL = regex.compile(r"[^.;\n]{0,40}?(?=[.;]\s|\s{2,}|$|\s(?:[A-Z][a-z]|[A-Z]{2,}\b))")


def _option_end(line: str, at: int) -> int:
    """Where the last option of a set ends when no cell gap ends it: at a sentence or a new label."""
    m = _OPTION_TAIL.match(line, _skip_spaces(line, at))
    return m.end() if m else min(len(line), at + 40)


def _skip_spaces(line: str, at: int) -> int:
    while at < len(line) and line[at] in " \t":
        at += 1
    return at


def _option_rows(lines: list[_Line]) -> list[Unread]:
    out: list[Unread] = []
    for line in lines:
        if len(line.text) < 6:
            continue
        last = 0
        for options in _row_options(line.text):
            label = line.text[last:options[0].box_start][-60:]
            if not label.strip() and line.index > 0:  # the label is the line above ("HER2 (IHC):" then the boxes)
                above = lines[line.index - 1].text
                label = above if len(above.strip()) < 60 else ""
            out += _decide(line, options, label)
            last = options[-1].end
    return out


def _decide(line: _Line, options: list[_Option], label: str) -> list[Unread]:
    """Blank every option but the one marked; with no mark or several, blank them all."""
    marked = [o for o in options if o.ticked]
    names = tuple(markers_in(label))
    row = (line.start, line.start + len(line.text))
    shown = " ".join(label.split())[:40] or "a form row"
    if len(marked) == 1:
        keep = marked[0]
        spans = [(o.box_start, o.end) for o in options if o is not keep] + [(keep.box_start, keep.box_end)]
        return [Unread(line.start + a, line.start + b, "form-option", statement=row) for a, b in spans]
    if marked:
        code, note = "form-ambiguous", f"form-ambiguous: {shown}: more than one printed option is marked; left empty"
    else:
        code, note = "form-unticked", f"form-unticked: {shown}: printed options and none is marked; left empty"
    start, end = options[0].box_start, options[-1].end
    return [Unread(line.start + start, line.start + end, code, note if names else "", names, row)]


# --- option lists: a CAP template prints every option on its own line ---------------------

def _option_lists(lines: list[_Line]) -> list[Unread]:
    """Runs of two or more lines that each start with an option (after a mark or a box, or
    none) at one column: the marked line is the answer, the others are printed options."""
    out: list[Unread] = []
    run: list[tuple[_Line, regex.Match]] = []

    def flush() -> None:
        if len(run) >= 2:
            out.extend(_decide_list(run, lines))
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


def _decide_list(run: list[tuple[_Line, regex.Match]], lines: list[_Line]) -> list[Unread]:
    words = {_OPTION_WORD_STRICT.match(line.text, m.end()).group(0).lower() for line, m in run}
    if len(words) < 2:  # one option word repeated is a list of results, not of options
        return []
    marked = [line for line, m in run if m.group("mark")]
    boxed = any(m.group("box") for _, m in run)
    if not marked and not boxed:  # no box and no mark anywhere: a legend, not a form
        return [Unread(line.start, line.start + len(line.text), "legend") for line, _ in run]
    first = run[0][0]
    heading = lines[first.index - 1].text if first.index > 0 else ""
    options = [_Option(line.start + m.start(), line.start + m.end(), line.start + len(line.text),
                       bool(m.group("mark"))) for line, m in run]
    pseudo = _Line(0, "", first.index)
    found = _decide(pseudo, options, heading)
    block = (first.start, run[-1][0].start + len(run[-1][0].text))
    return [Unread(u.start, u.end, u.code, u.note, u.markers, block) for u in found]


# --- label/value blocks whose values slipped a row --------------------------------------------

_LABEL = regex.compile(r"^(?P<indent>[ \t]*)(?P<label>[A-Za-z][^:\n]{0,60}?:)(?:[ \t]+(?P<value>\S.*)|[ \t]*$)")
_VALUE_ONLY = regex.compile(r"^(?P<indent>[ \t]{8,})(?P<value>\S.*)$")


def _shifted_blocks(lines: list[_Line]) -> list[Unread]:
    """A heading whose labels below name two or more markers, that has a value itself while the
    last label has none (or whose value column runs on past the last label): the values sit one
    row off their labels. Every value of the block is blanked."""
    out: list[Unread] = []
    k = 0
    while k < len(lines):
        head = _LABEL.match(lines[k].text)
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


def _blank_block(block: list[tuple[_Line, regex.Match]], hanging: list[_Line]) -> list[Unread]:
    head = " ".join(block[0][1].group("label").split())
    last = " ".join(block[-1][1].group("label").split())
    names = tuple(dict.fromkeys(sum((markers_in(m.group("label")) for _, m in block), [])))
    note = (f"layout-shift: the values beside '{head[:40]}' do not line up with their labels (the heading has a "
            f"value, '{last[:30]}' none, or a value hangs below it): a row has slipped; left unread")
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
            # the heading too: "reference range" is a definition's cue, and it names no result
            out.append(Unread(line.start + cells[i].start, line.start + cells[i].end, "reference"))
            for row in lines[k + 1:k + 1 + TABLE_ROWS]:
                if row.blank:
                    break
                for cell in _cells(row.text):
                    if lo - 2 <= cell.start < hi:
                        out.append(Unread(row.start + cell.start, row.start + cell.end, "reference"))
    return out


# --- placeholders and legends ----------------------------------------------------------------

_PLACEHOLDER = regex.compile(
    rf"(?i)\[\s{{0,2}}{_OPTION_WORD}(?:\s{{0,2}}/\s{{0,2}}{_OPTION_WORD}){{1,5}}\s{{0,2}}\]|<\s?(?:result|value|score|status)\s?>")


def _placeholders(text: str) -> list[Unread]:
    return [Unread(m.start(), m.end(), "placeholder") for m in _PLACEHOLDER.finditer(text)]


_CATEGORY = (r"(?:low[\s-]{1,3}positive|weakly\s{1,3}positive|positive|negative|equivocal|borderline|"
             r"not\s{1,3}amplified|non-?\s?amplified|amplified)")
_NUM = r"(?<![\d.,])\d{1,3}(?:[.,]\d{1,2})?(?![\d])"
_BAND = (rf"(?:(?:score\s{{0,2}})?[<>≤≥]=?\s{{0,2}}{_NUM}\s{{0,2}}%?|{_NUM}\s{{0,2}}[%+]?\s{{0,2}}(?:-|–|to|or|/)"
         rf"\s{{0,2}}{_NUM}\s{{0,2}}[%+]?|(?:score\s{{0,2}})?(?<![\d.,])[0-3]\+|(?:score\s{{0,2}})0\b|(?<![\d.,])0(?=\s{{0,2}}(?:=|:)))")
# A category with its band, either way round: "Negative 0-1+", "Equivocal (2+)", "2+ = equivocal".
_PAIR = regex.compile(
    rf"(?i)(?P<cat>{_CATEGORY})\s{{0,3}}[:=(]?\s{{0,3}}(?:\(\s{{0,2}})?(?P<band>{_BAND})(?:\s{{0,2}}\))?"
    rf"|(?P<band2>{_BAND})\s{{0,3}}(?:=|:|-|is)\s{{0,3}}(?P<cat2>{_CATEGORY})")
# a definition: the category is the label ("Low Positive: 1-10%", "2+ = equivocal")
_DEFINITION = regex.compile(rf"(?i){_CATEGORY}\s{{0,3}}[:=]\s{{0,3}}{_BAND}|{_BAND}\s{{0,3}}[=]\s{{0,3}}{_CATEGORY}")


def _legends(lines: list[_Line]) -> list[Unread]:
    """Two or more category/band pairs of different categories in one line, with no marker
    named between them; or consecutive lines that each define one category."""
    out: list[Unread] = []
    run: list[tuple[_Line, regex.Match]] = []
    for line in lines:
        pairs = list(_PAIR.finditer(line.text)) if _has_digit(line.text) else []
        pairs = [p for p in pairs if _band_of(p)]
        legend = _legend_span(line.text, pairs)
        if legend is not None:
            head = line.text[:legend[0]]
            if _LEGEND_HEAD.fullmatch(head):  # "Scoring key: ..." names no result either
                legend = (len(head) - len(head.lstrip()), legend[1])
            out.append(Unread(line.start + legend[0], line.start + legend[1], "legend"))
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


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _band_of(pair: regex.Match) -> str:
    return pair.group("band") or pair.group("band2") or ""


def _category_of(pair: regex.Match) -> str:
    return " ".join((pair.group("cat") or pair.group("cat2") or "").lower().split())


def _legend_span(text: str, pairs: list[regex.Match]) -> tuple[int, int] | None:
    if len(pairs) < 2 or len({_category_of(p) for p in pairs}) < 2:
        return None
    if not any(_is_band(_band_of(p)) for p in pairs) and len(pairs) < 3:
        return None
    for a, b in zip(pairs, pairs[1:]):
        if markers_in(text[a.end():b.start()]):
            return None
    return pairs[0].start(), pairs[-1].end()


def _is_band(band: str) -> bool:
    """A range or a bound, not one number: "0-1+", "<1%", "1-10 %"."""
    return any(ch in band for ch in "<>≤≥-–/") or " to " in band or " or " in band


def _definition_run(run: list[tuple[_Line, regex.Match]]) -> list[Unread]:
    if len(run) < 2 or len({regex.sub(r"\W.*", "", m.group(0).lower()) for _, m in run}) < 2:
        return []
    return [Unread(line.start + m.start(), line.start + m.end(), "legend") for line, m in run]

