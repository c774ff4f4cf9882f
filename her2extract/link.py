"""Statements, and the values each statement gives each hormone receptor (ER, PR).

A statement is a line of the cleaned text, or a sentence of a prose line; a prose sentence that
runs over a line break (the next line goes on in lower case) is one statement. Inside one, the
recognized terms (recognize.py) are linked to markers by a few named strategies, each with its
table of cases (patterns/reader/links.toml):

- `respectively`: markers listed, values listed, "respectively": paired in order;
- `values-for-marker`: "negative for ER, PR and HER2": the call goes to every marker named;
- `value-before-marker`: "90% ER positive": a percent right before a marker's name is its;
- `marker-then-values`: a marker (or a coordinated list, "ER and PR") takes the values after it,
  up to the next marker or a word that ends its reach ("control", "if"); a call distributes
  over a list, a number does not (which marker would it be?).

When a marker is given two different values for one field in one statement, or a number by a
list of markers, no value is linked: `link-ambiguous`.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

from .recognize import Recognizer, Term, default_recognizer

RECEPTORS = {"er": ("er",), "pr": ("pr",), "hr": ("er", "pr")}
# between the names of one list: "ER, PR and HER2", "ER/PR", "Estrogen Receptor (ER" (a name and its abbreviation)
# (and a test's noun between: "Estrogen and progesterone receptor analysis and HER2/neu")
_JOINER = re.compile(r"\s*(?:\([^()\n]{0,40}\)\s*)?(?:(?:analysis|studies|stains?|staining|testing|tests?|assays?|"
                     r"immunostains?|status)\s+)?(?:,|and|&|/|or|\+|\()?\s*", re.IGNORECASE)
_FOR_NEXT = re.compile(r"\s+for\b", re.IGNORECASE)
_FOR = re.compile(r"\s*(?:for|in)\s+(?:the\s+|both\s+)?", re.IGNORECASE)
_VERB_GAP = re.compile(r"\s*(?:the\s+)?", re.IGNORECASE)  # "does not express (the) oestrogen receptor"
_UNIT_GAP = re.compile(r"[\s:=()]*(?:score|total|of)?[\s:=()]*", re.IGNORECASE)  # "Allred score: 7", "ER (%): 90"
_BAND = re.compile(r"\s*\(\s*$")  # "Low Positive (1-9%)": the call's band, not the value
_SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9)%\]])\.\s+(?=[A-Z])")
_VALUE_KINDS = {"predicate", "percent", "intensity", "allred", "unit", "number"}
REACH = 80  # characters from a marker (or its last value) within which its next value may follow
_ABSENCE_AFTER = re.compile(r"[^;:]{0,40}?\b(?:found|detected|identified|seen|present|demonstrated)\b", re.IGNORECASE)
# after a heading's marker: nothing but a colon, brackets or a dash ("ER (%):", "Estrogen receptor -")
_HEADING_END = re.compile(r"[\s:()%/.-]*(?:status|results?|expression|score|assay)?[\s:()%/.-]*", re.IGNORECASE)
# a statement that starts with a sub-label goes on with the heading before it
_SUB_LABEL = re.compile(
    r"\s*(?:[-*•+]\s*)?(?:\w+\s*:\s*)?(?:results?|interpretation|score|status|findings?"
    r"|percent(?:age)?\s+(?:of\s+)?(?:tumou?r\s+)?(?:cells|nuclei)[^:\n]{0,50}|proportion\s+of\s+(?:tumou?r\s+)?(?:cells|nuclei)[^:\n]{0,40}"
    r"|percent\s+positive|%\s*(?:of\s+)?(?:positive\s+)?(?:cells|nuclei|positive|staining)"
    r"|(?:average\s+|staining\s+)?intensity(?:\s+of\s+staining)?|allred(?:\s+score)?|quick\s?score|h-?score)"
    r"(?:\s*:|\s*$|\s)", re.IGNORECASE | re.MULTILINE)
# "1% is Positive. < 1% is Negative", "Negative: <10%": a reference range, not a result
_DEFINES = re.compile(r"\s*(?:is|are|=|:)\s*", re.IGNORECASE)
_BY_BOUND = re.compile(r"\s*[:=]\s*")
_RESPECTIVELY = re.compile(r"\brespectively\b", re.IGNORECASE)
_FIELD = {"predicate": "reported", "percent": "percent", "intensity": "intensity", "allred": "allred"}
MIN_SENTENCE_WORDS = 4  # a piece of a line shorter than this is a label's or value's, not a sentence


@dataclass(frozen=True, slots=True)
class Fact:
    """A value linked to a marker: field ("er_percent"), the value, where it is, how it was linked."""

    field: str
    value: str
    start: int
    end: int
    statement: tuple[int, int]
    strategy: str
    marker: tuple[int, int] = (0, 0)  # the marker's name (or list of names) the value is linked to

    @property
    def span(self) -> tuple[int, int]:
        """From the marker's name to the value, whichever comes first: what the statement says of it."""
        return min(self.start, self.marker[0]), max(self.end, self.marker[1])


@dataclass(frozen=True, slots=True)
class Ambiguity:
    marker: str
    field: str
    statement: tuple[int, int]


def statements(text: str) -> list[tuple[int, int]]:
    """(start, end) of each statement of `text`: lines, split into sentences where a line holds
    prose, and prose lines joined where a sentence runs on in lower case."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        if not line.strip():
            spans.append((start, start))  # a blank line: ends any run-on
            continue
        if spans and spans[-1][1] > spans[-1][0] and (line.lstrip()[:1].islower() or line.lstrip()[:1] == "(") \
                and not text[spans[-1][0]:spans[-1][1]].rstrip().endswith((".", ":", ";")):
            spans[-1] = (spans[-1][0], end)  # a sentence going on over the line break
            continue
        spans.append((start, end))
    return [span for span in spans if span[1] > span[0]]


def sentences(text: str, span: tuple[int, int], terms: list[Term]) -> list[tuple[int, int]]:
    """The sentences of one line's statement. A full stop is not a sentence's end where a
    marker's name stops right before it or a value starts right after it ("Estrogen Receptor.
    Low Positive (1-9%). 5 %.", "ER: Positive. Allred Score: 8": a label and its values with
    full stops between), nor where either side has fewer than MIN_SENTENCE_WORDS words."""
    start, end = span
    ends = {t.end for t in terms if t.kind == "marker"}
    starts = {t.start for t in terms if t.kind in _VALUE_KINDS}
    bounds = [start]
    for m in _SENTENCE_END.finditer(text, start, end):
        if m.start() in ends or m.end() in starts:
            continue
        bounds.append(m.end())
    bounds.append(end)
    pieces = list(zip(bounds, bounds[1:]))
    out: list[tuple[int, int]] = []
    cut = start
    for (a, b), (c, d) in zip(pieces, pieces[1:]):
        if len(text[a:b].split()) >= MIN_SENTENCE_WORDS and len(text[c:d].split()) >= MIN_SENTENCE_WORDS:
            out.append((cut, b))
            cut = c
    out.append((cut, end))
    return out


class Linker:
    def __init__(self, recognizer: Recognizer | None = None) -> None:
        self.recognizer = recognizer or default_recognizer()

    def facts(self, text: str) -> tuple[list[Fact], list[Ambiguity]]:
        facts: list[Fact] = []
        doubts: list[Ambiguity] = []
        everything = self.recognizer.terms(text)  # one pass of the tokenizer over the whole text
        starts = [t.start for t in everything]
        heading: Term | None = None  # a marker whose values may go on in the statements after it
        awaiting = False  # and nothing was said of it yet
        table: dict | None = None  # the header of the table these lines are rows of
        previous_end = 0
        for line in statements(text):
            if "\n\n" in text[previous_end:line[0] + 1]:
                heading = table = None  # a blank line ends a block, and a table
            previous_end = line[1]
            terms = everything[bisect.bisect_left(starts, line[0]):bisect.bisect_left(starts, line[1])]
            if heading is None and table is None and not any(t.kind == "marker" and t.value in RECEPTORS for t in terms) \
                    and not any(t.kind == "unit" for t in terms):
                continue
            header = _table_header(text, line, terms)
            if header is not None:
                table = header
                continue
            if table is not None and any(t.kind == "marker" and t.value in RECEPTORS for t in terms):
                terms = _table_row(text, line, terms, table)
            for span in sentences(text, line, terms):
                inside = [t for t in terms if span[0] <= t.start < span[1]]
                if any(t.kind == "marker" for t in inside):
                    heading = None
                    if any(t.kind == "marker" and t.value in RECEPTORS for t in inside):
                        found, unclear = link_statement(text, span, inside)
                        facts += found
                        doubts += unclear
                        heading = _owner(inside)
                        awaiting = not any(t.kind in _FIELD for t in inside if t.start > heading.end) and \
                            _HEADING_END.fullmatch(text, heading.end, span[1]) is not None
                    continue
                label = _SUB_LABEL.match(text, span[0]) if heading is not None else None
                if heading is None or not (awaiting or label):
                    heading = None
                    continue
                found, unclear = link_statement(text, span, [heading] + inside, heading)
                facts += found
                doubts += unclear
                # the block goes on after a label's line or an awaited value's; a label alone on its
                # line ("Percentage of Cells with Nuclear Positivity"): its value follows
                awaiting = bool(label) and not any(t.kind in _VALUE_KINDS and t.kind != "unit" for t in inside)
        return facts, doubts


def _at_most_100(number: str) -> bool:
    return all(float(part) <= 100 for part in number.split("-"))


# a table's header: column labels, one of them a unit ("Marker  Result  % cells  Intensity")
_HEADER_WORDS = re.compile(r"\b(?:marker|markers|result|results|clone|antibody|stain|test|assay|intensity|score|"
                           r"reference|range|interpretation|status|value)\b", re.IGNORECASE)


def _table_header(text: str, span: tuple[int, int], terms: list[Term]) -> dict | None:
    """What a header line says of its table's columns: which hold percents; for a pipe table,
    which cells (by index) are a reference range. None when the line is not a header."""
    line = text[span[0]:span[1]]
    units = {t.value for t in terms if t.kind == "unit"}
    if any(t.kind in ("marker", "predicate", "percent") for t in terms) or "percent" not in units \
            or len(_HEADER_WORDS.findall(line)) < 2:
        return None
    cells = line.strip().strip("|").split("|")
    reference = {i for i, cell in enumerate(cells) if re.search(r"reference|range|normal", cell, re.IGNORECASE)}
    return {"pipes": len(cells) > 2, "reference": reference}


def _table_row(text: str, span: tuple[int, int], terms: list[Term], table: dict) -> list[Term]:
    """A row's terms read by its header: a bare number (or range) of at most 100 is a percent when
    it is the row's only one; a pipe table's reference-range cells are read as nothing."""
    if table["pipes"] and table["reference"]:
        line = text[span[0]:span[1]]
        offset = span[0] + len(line) - len(line.lstrip())
        cells, bounds = line.strip().strip("|").split("|"), []
        start = offset + (1 if line.strip().startswith("|") else 0)
        for cell in cells:
            bounds.append((start, start + len(cell)))
            start += len(cell) + 1
        dropped = [bounds[i] for i in table["reference"] if i < len(bounds)]
        terms = [t for t in terms if not any(a <= t.start < b for a, b in dropped)]
    def bracketed(at: int) -> bool:  # "7/8 (proportion 5, intensity 2)": a breakdown, not a cell
        before = text[span[0]:at]
        return before.count("(") > before.count(")")

    bare = [k for k, t in enumerate(terms) if t.kind == "number" and _at_most_100(t.value) and not bracketed(t.start)]
    if len(bare) == 1:
        t = terms[bare[0]]
        terms = terms[:bare[0]] + [Term("percent", t.value, t.start, t.end)] + terms[bare[0] + 1:]
    return terms


def _owner(terms: list[Term]) -> Term:
    """The statement's last receptor name: the block heading of the lines after it ("Estrogen
    Receptor (ER) Status: Positive" then "Percentage of cells with nuclear positivity: 90%")."""
    return [t for t in terms if t.kind == "marker" and t.value in RECEPTORS][-1]


def _groups(text: str, terms: list[Term]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Marker names joined into lists ("ER, PR and HER2"): (first index, last index, markers)."""
    groups: list[tuple[int, int, tuple[str, ...]]] = []
    i = 0
    while i < len(terms):
        if terms[i].kind != "marker":
            i += 1
            continue
        j = i
        names = [terms[i].value]
        while j + 1 < len(terms) and terms[j + 1].kind == "marker" and \
                _JOINER.fullmatch(text, terms[j].end, terms[j + 1].start):
            j += 1
            names.append(terms[j].value)
        groups.append((i, j, tuple(names)))
        i = j + 1
    return groups


def _receptors(names) -> tuple[str, ...]:
    """The receptors a list of marker names names, in order ("hr" is both)."""
    out: list[str] = []
    for name in names:
        out += [r for r in RECEPTORS.get(name, ()) if r not in out]
    return tuple(out)


def link_statement(text: str, span: tuple[int, int], terms: list[Term],
                   heading: Term | None = None) -> tuple[list[Fact], list[Ambiguity]]:
    """The facts one statement gives ER and PR (see the module's strategies). `heading`: the
    marker of a block heading before the statement, as its first term (strategy block-heading)."""
    groups = _groups(text, terms)
    given: dict[tuple[str, str], list[tuple[Term, str, Term]]] = {}
    # a reference range ("= 1% is Positive. < 1% is Negative"): neither its number nor its call
    used: set[int] = {j for k in range(len(terms) - 1) if (
        terms[k].kind == "percent" and terms[k + 1].kind == "predicate"
        and _DEFINES.fullmatch(text, terms[k].end, terms[k + 1].start)
        or terms[k].kind == "predicate" and terms[k + 1].kind == "percent" and terms[k + 1].value[:1] in "<>"
        and _BY_BOUND.fullmatch(text, terms[k].end, terms[k + 1].start)) for j in (k, k + 1)}
    # a definition ("ER/PR positive is defined as an Allred score of >2"): nothing of its sentence
    cues = [t for t in terms if t.kind == "legend"]
    ends = list(_SENTENCE_END.finditer(text, span[0], span[1])) if cues else []
    for cue in cues:
        low = max([m.end() for m in ends if m.end() <= cue.start], default=span[0])
        high = min([m.start() for m in ends if m.start() >= cue.end], default=span[1])
        used.update(k for k, t in enumerate(terms) if low <= t.start < high and t.kind != "marker")

    def give(marker: str, kind: str, term: Term, strategy: str, anchor: Term, value: str | None = None) -> None:
        for receptor in RECEPTORS.get(marker, ()):
            given.setdefault((receptor, _FIELD[kind]), []).append(
                (Term(kind, value or term.value, term.start, term.end), strategy, anchor))

    # respectively: one list of markers, then as many values of a kind, paired in order
    if _RESPECTIVELY.search(text, span[0], span[1]) and groups:
        first, last, names = max(groups, key=lambda g: len(_receptors(g[2])))
        names = _receptors(names)
        if len(names) >= 2:
            for kind in ("percent", "predicate", "intensity", "allred"):
                values = [k for k in range(last + 1, len(terms)) if terms[k].kind == kind]
                if len(values) == len(names):
                    for name, k in zip(names, values):
                        give(name, kind, terms[k], "respectively", terms[first])
                        used.add(k)
    # values-for-marker: "negative for ER, PR and HER2"
    for first, last, names in groups:
        before = first - 1
        if before >= 0 and terms[before].kind == "predicate" and before not in used and (
                _FOR.fullmatch(text, terms[before].end, terms[first].start) or
                "express" in text[terms[before].start:terms[before].end].lower()
                and _VERB_GAP.fullmatch(text, terms[before].end, terms[first].start)):
            for name in names:
                give(name, "predicate", terms[before], "values-for-marker", terms[first])
            used.add(before)
    # values-for-marker, by absence: "No estrogen receptors found in the tumour cell nuclei"
    for first, last, names in groups:
        before = first - 1
        if before >= 0 and terms[before].kind == "absence" and not text[terms[before].end:terms[first].start].strip() \
                and (verb := _ABSENCE_AFTER.match(text, terms[last].end, span[1])):
            for name in names:
                give(name, "predicate", terms[before], "values-for-marker", terms[first], "negative")
            # the verb ("detected", "present") says the absence, not a call of its own
            used.update(k for k in range(last + 1, len(terms)) if terms[k].start < verb.end())
    # value-before-marker: "90% ER positive"
    for first, last, names in groups:
        before = first - 1
        if len(_receptors(names)) == 1 and before >= 0 and terms[before].kind == "percent" and before not in used and \
                not text[terms[before].end:terms[first].start].strip():
            give(names[0], "percent", terms[before], "value-before-marker", terms[first])
            used.add(before)
    # marker-then-values
    for g, (first, last, names) in enumerate(groups):
        stop = groups[g + 1][0] if g + 1 < len(groups) else len(terms)
        receptors = _receptors(names)
        reach = span[0] if heading is not None and terms[last] is heading else terms[last].end  # a heading: from its line
        for k in range(last + 1, stop):
            term = terms[k]
            if term.kind == "break" or term.start - reach > REACH:
                break
            if term.kind == "unit" or k in used:  # a label, or a value another strategy took: the chain goes on
                reach = term.end
                continue
            kind = term.kind
            if kind == "predicate" and _FOR_NEXT.match(text, term.end, span[1]):
                break  # "positive for ER and PR, negative for HER2": the call is the next name's
            if kind == "number":  # a bare number: its unit is in the label right before it
                unit = terms[k - 1]
                if unit.kind != "unit" or not _UNIT_GAP.fullmatch(text, unit.end, term.start):
                    continue
                if unit.value == "percent" and _at_most_100(term.value):
                    kind = "percent"
                elif unit.value == "allred" and term.value in {"0", "2", "3", "4", "5", "6", "7", "8"}:
                    kind = "allred"
                else:
                    continue
            if kind == "percent" and "-" in term.value and terms[k - 1].kind == "predicate" and \
                    _BAND.fullmatch(text, terms[k - 1].end, term.start) and \
                    any(terms[j].kind == "percent" for j in range(k + 1, stop)):
                continue  # "Low Positive (1-9%). 5 %": the band the call stands for, then the value
            if kind not in _FIELD:
                continue
            reach = term.end  # a value of this marker: the next may follow within REACH of it
            # a call goes to every name of a list; a number to none (which one would it be?)
            strategy = "ambiguous" if kind != "predicate" and len(receptors) > 1 else "marker-then-values"
            for name in names:
                give(name, kind, term, strategy, terms[last])
    facts: list[Fact] = []
    doubts: list[Ambiguity] = []
    for (receptor, field), options in given.items():
        values = {t.value for t, _, _ in options}
        if len(values) != 1 or any(strategy == "ambiguous" for _, strategy, _ in options):
            doubts.append(Ambiguity(receptor, f"{receptor}_{field}", span))
            continue
        term, strategy, anchor = options[0]
        if heading is not None and anchor.start == heading.start:
            strategy = "block-heading"
        facts.append(Fact(f"{receptor}_{field}", term.value, term.start, term.end, span, strategy,
                          (anchor.start, anchor.end)))
    return facts, doubts


@functools.lru_cache(maxsize=1)
def default_linker() -> Linker:
    return Linker()
