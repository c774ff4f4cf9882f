"""Turn findings into typed values, and choose the one reportable value per field."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from typing import Callable, Iterable

from .errors import NormalizationError
from .match import Cues, Finding, Trigger, assertion_at, nearest_trigger
from .model import (
    Assertion, Doubt, Evidence, Her2Record, IhcScore, Intensity, IshMethod, IshResult, Mention,
    PartFacts, Percent, Site, Status, plain_number,
)
from .text import CleanText, Part, Section

# --- normalizers: one input type (matched text), one output type, one exception type ----

_SCORE = re.compile(r"^\(?\s*(?:score\s*[:=]?\s*)?([0-3olI]|zero|one|two|three)\s*(\+|plus|\+\s*/\s*3)?\s*\)?$", re.I)
_SCORE_WORDS = {"zero": "0", "o": "0", "one": "1", "l": "1", "i": "1", "two": "2", "three": "3"}


def normalize_ihc(raw: str) -> IhcScore:
    """Turn matched score text ("2+", "2 +", "3 plus", "0", "l+" from OCR) into an IhcScore."""
    m = _SCORE.match(raw.strip())
    if not m:
        raise NormalizationError(f"not an IHC score: {raw!r}")
    digit = _SCORE_WORDS.get(m.group(1).lower(), m.group(1))
    if digit != "0" and not m.group(2) and m.group(1).lower() in "oli":
        raise NormalizationError(f"not an IHC score: {raw!r}")
    return IhcScore("0" if digit == "0" else f"{digit}+")


_NUMBER = r"\d+(?:[.,]\s?\d+)?"
_BOUND_WORDS = (
    (re.compile(r"^(?:<=|less than or equal to|up to|at most)\s*", re.I), "<="),
    (re.compile(r"^(?:<|less\s+than|under|below|fewer\s+than)\s*", re.I), "<"),
    (re.compile(r"^(?:>=|at\s+least|greater\s+than\s+or\s+equal\s+to)\s*", re.I), ">="),
    (re.compile(r"^(?:>|greater\s+than|more\s+than|over|above|in\s+excess\s+of)\s*", re.I), ">"),
)
_RANGE = re.compile(rf"^({_NUMBER})\s*%?\s*(?:-|to|and)\s*({_NUMBER})\s*%?$", re.I)
_EXACT = re.compile(rf"^(?:approximately|approx\.?|about|ca\.?|~)?\s*({_NUMBER})\s*%?$", re.I)


def _float(text: str) -> float:
    return float(re.sub(r"\s", "", text).replace(",", "."))


def normalize_percent(raw: str) -> Percent:
    """Parse a percent of cells: "90%", "1-10 %", "<1%", "over 75", "approximately 50"."""
    text = re.sub(r"(?i)\s*per\s?cent\b", "%", raw.strip().rstrip(".").strip())
    bound = ""
    for pattern, symbol in _BOUND_WORDS:
        m = pattern.match(text)
        if m:
            bound, text = symbol, text[m.end():]
            break
    m = _RANGE.match(text)
    if m and not bound:
        low, high = _float(m.group(1)), _float(m.group(2))
        if not 0 <= low < high <= 100:
            raise NormalizationError(f"implausible percent range: {raw!r}")
        return Percent(low, high)
    m = _EXACT.match(text)
    if not m:
        raise NormalizationError(f"not a percent: {raw!r}")
    value = _float(m.group(1))
    if not 0 <= value <= 100 or (bound.startswith(">") and value >= 100) or (bound == "<" and value <= 0):
        raise NormalizationError(f"implausible percent: {raw!r}")
    return Percent(value, None, bound)


def normalize_ratio(raw: str) -> float:
    """Parse a HER2/CEP17 ratio, accepting a decimal comma ("2,3") and OCR's "1. 1"."""
    try:
        value = _float(raw)
    except ValueError:
        raise NormalizationError(f"not a number: {raw!r}") from None
    if not 0 < value <= 50:
        raise NormalizationError(f"implausible HER2/CEP17 ratio: {raw!r}")
    return value


def normalize_copies(raw: str) -> float:
    """Parse an average signal count per cell (HER2 or CEP17)."""
    try:
        value = _float(raw)
    except ValueError:
        raise NormalizationError(f"not a number: {raw!r}") from None
    if not 0 < value < 100:
        raise NormalizationError(f"implausible signals per cell: {raw!r}")
    return value


_WORD_NUMBERS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
                 "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "one hundred": 100}


def normalize_cells(raw: str) -> int:
    """Parse a count of cells scored ("60", "Sixty", "200")."""
    text = raw.strip().lower()
    value = _WORD_NUMBERS.get(text)
    if value is None:
        if not text.isdigit():
            raise NormalizationError(f"not a cell count: {raw!r}")
        value = int(text)
    if not 1 <= value <= 100_000:
        raise NormalizationError(f"implausible cell count: {raw!r}")
    return value


def normalize_allred(raw: str) -> int:
    """Parse an Allred total (0 and 2-8; "7/8" -> 7)."""
    m = re.match(r"^\s*(\d)\s*(?:/\s*8)?\s*$", raw)
    if not m:
        raise NormalizationError(f"not an Allred score: {raw!r}")
    value = int(m.group(1))
    if value == 1 or value > 8:  # proportion >= 1 implies intensity >= 1: a total of 1 is impossible
        raise NormalizationError(f"impossible Allred total: {raw!r}")
    return value


_INTENSITY_WORDS = {
    "weak": "weak", "weakly": "weak", "faint": "weak", "low": "weak", "1+": "weak", "mild": "weak",
    "moderate": "moderate", "intermediate": "moderate", "medium": "moderate", "2+": "moderate",
    "moderately": "moderate",
    "strong": "strong", "strongly": "strong", "intense": "strong", "high": "strong", "3+": "strong",
}


def normalize_intensity(raw: str) -> Intensity:
    """Parse staining intensity: "strong", "weak to moderate", "2+", "moderate-strong"."""
    words = re.findall(r"[a-z]+|[1-3]\+", raw.lower())
    levels = [_INTENSITY_WORDS[w] for w in words if w in _INTENSITY_WORDS]
    if not levels:
        raise NormalizationError(f"not an intensity: {raw!r}")
    order = ["weak", "moderate", "strong"]
    lo, hi = min(levels, key=order.index), max(levels, key=order.index)
    return Intensity(lo if lo == hi else f"{lo}-{hi}")


def normalize_status(raw: str, field: str = "") -> Status:
    """Map a stated call to a Status ("Positive", "(-)", "weakly positive", "not performed")."""
    text = " ".join(re.findall(r"[a-z]+|[+-]", raw.lower()))
    her2 = field.startswith("her2")
    if re.search(r"\b(?:pending|to follow|ordered|sent|will be|in progress|requested|awaited)\b", text):
        return Status.PENDING
    if re.search(r"\bnot (?:performed|done|tested|indicated|requested|repeated)\b|\bcancel", text):
        return Status.NOT_PERFORMED
    if re.search(r"\b(?:equivocal|borderline|indeterminate)\b", text):
        return Status.EQUIVOCAL
    if re.search(r"\bnegative\b|^-$|\bneg\b", text) or re.search(r"\bnot (?:amplified|detected|overexpressed)\b", text):
        return Status.NEGATIVE
    if re.search(r"\blow positive\b|\bpositive low\b", text) and not her2:
        return Status.LOW_POSITIVE
    if re.search(r"\bweak(?:ly)? positive\b", text) and her2:
        return Status.EQUIVOCAL  # 2007-era wording for IHC 2+ ("weakly positive (2+)")
    if re.search(r"\bpositive\b|^\+$|\bpos\b|\bamplified\b|\boverexpress", text):
        return Status.POSITIVE
    raise NormalizationError(f"not a status: {raw!r}")


def normalize_ish_result(raw: str) -> IshResult:
    """Map an ISH statement to amplified / not amplified / equivocal."""
    text = raw.lower()
    if re.search(r"equivocal|borderline|indeterminate", text):
        return IshResult.EQUIVOCAL
    if re.search(r"\b(?:not?|non|negative|without|absence|absent)\b|non-?amplified|\bnot\b", text):
        return IshResult.NOT_AMPLIFIED
    if re.search(r"amplifi|positive", text):
        return IshResult.AMPLIFIED
    raise NormalizationError(f"not an ISH result: {raw!r}")


def normalize_method(raw: str) -> IshMethod:
    text = raw.lower().replace(" ", "").replace("-", "")
    if "dualprobe" in text:  # a dual-probe assay of any kind (FISH included): say no more than ISH
        text = text.replace("dualprobe", "")
    for key, method in (("fish", IshMethod.FISH), ("fluorescen", IshMethod.FISH), ("cish", IshMethod.CISH),
                        ("chromogen", IshMethod.CISH), ("sish", IshMethod.SISH), ("silver", IshMethod.SISH),
                        ("dish", IshMethod.DISH), ("dual", IshMethod.DISH), ("brightfield", IshMethod.DISH),
                        ("ish", IshMethod.ISH), ("insitu", IshMethod.ISH)):
        if key in text:
            return method
    raise NormalizationError(f"not an ISH method: {raw!r}")


_CLONES = (("4b5", "4B5"), ("hercep", "HercepTest"), ("a0485", "A0485"), ("a485", "A0485"),
           ("cb11", "CB11"), ("sp3", "SP3"), ("ab8", "AB8"), ("e2-4001", "SP3"))


def normalize_clone(raw: str) -> str:
    text = raw.lower().replace(" ", "").replace("-", "")
    for key, clone in _CLONES:
        if key.replace("-", "") in text:
            return clone
    raise NormalizationError(f"not a known HER2 clone: {raw!r}")


def normalize_site(raw: str) -> Site:
    return Site(raw.lower())


def normalize_procedure(raw: str) -> str:
    if raw not in ("biopsy", "resection"):
        raise NormalizationError(f"not a procedure: {raw!r}")
    return raw


def normalize_malignancy(raw: str) -> str:
    if raw not in ("absent", "present", "invasive"):
        raise NormalizationError(f"not a malignancy statement: {raw!r}")
    return raw


def normalize_staining(raw: str) -> str:
    if raw not in ("null", "ultralow"):
        raise NormalizationError(f"not a staining detail: {raw!r}")
    return raw


NORMALIZERS: dict[str, Callable[[str], object]] = {
    "site": normalize_site,
    "her2_ihc_score": normalize_ihc,
    "her2_ihc_percent": normalize_percent,
    "her2_ihc_clone": normalize_clone,
    "her2_ihc_staining": normalize_staining,
    "her2_ish_method": normalize_method,
    "her2_ish_ratio": normalize_ratio,
    "her2_ish_her2_copies": normalize_copies,
    "her2_ish_cep17_copies": normalize_copies,
    "her2_ish_cells": normalize_cells,
    "her2_ish_result": normalize_ish_result,
    "her2_reported": lambda raw: normalize_status(raw, "her2"),
    "er_reported": normalize_status,
    "er_percent": normalize_percent,
    "er_intensity": normalize_intensity,
    "er_allred": normalize_allred,
    "pr_reported": normalize_status,
    "pr_percent": normalize_percent,
    "pr_intensity": normalize_intensity,
    "pr_allred": normalize_allred,
    "ki67_percent": normalize_percent,
    "procedure": normalize_procedure,
    "malignancy": normalize_malignancy,
}


def normalize_value(field: str, raw: str) -> object:
    """Normalize the raw text of one field's finding; raises NormalizationError."""
    return NORMALIZERS[field](raw)


# --- from findings to mentions -----------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What the text around findings says: sections, parts and assertion triggers."""

    clean: CleanText
    sections: list[Section]
    parts: list[Part]
    triggers: list[Trigger]

    def section_of(self, offset: int) -> Section | None:
        """The (innermost, last-starting) section holding `offset`, or None."""
        found = None
        for s in self.sections:
            if s.start <= offset < s.end:
                found = s
        return found

    def section_at(self, offset: int) -> str:
        found = self.section_of(offset)
        return found.kind if found else ""

    def addendum_at(self, offset: int) -> tuple[int, bool]:
        """Which addendum (1, 2, ...) holds `offset` (0: the original report), and whether
        its heading says it amends or corrects.

        An addendum holds its title ("ADDENDUM: SYNOPTIC REPORT - HER-2 RESULTS") and its
        notes ("Interpretation:", "Comment:", method and criteria); any other heading ends it.
        """
        number, current, amended, opened = 0, 0, False, -1
        for s in self.sections:
            if s.start > offset:
                break
            if s.kind == "addendum":
                number += 1
                current, amended, opened = number, bool(_AMENDING.search(s.heading)), s.start
            elif s.kind not in ADDENDUM_NOTES and s.start - opened > ADDENDUM_TITLE:
                current, amended = 0, False
        return current, amended

    def part_at(self, offset: int) -> str:
        label = ""
        for p in self.parts:
            if p.start <= offset < p.end:
                label = p.label
        return label


_AMENDING = re.compile(r"(?i)amend|correct|revis")
IN_SITU_KINDS = frozenset({"in_situ"})
# An in-situ word that labels the value itself: "DCIS ER: positive", "DCIS component - ER 95 %"
# (no sentence end between, and close).
_IN_SITU_LABEL = re.compile(r"[^.;\n]{0,14}")
# Headings an addendum keeps as its own; any other heading ends it (after its title, which
# may follow within this many characters).
ADDENDUM_NOTES = frozenset({"comment", "method", "criteria"})
ADDENDUM_TITLE = 50
HISTORY_SECTIONS = frozenset({"history"})
# Sections whose text never reports this patient's result (method notes, gross, disclaimers).
NON_RESULT_SECTIONS = frozenset({"method", "criteria"})


def to_mentions(findings: Iterable[Finding], ctx: Context) -> tuple[list[Mention], list[str]]:
    """Type every finding and attach its context; implausible values become warnings."""
    mentions: list[Mention] = []
    warnings: list[str] = []
    text = ctx.clean.text
    cues = Cues(ctx.triggers)
    for f in findings:
        try:
            value = normalize_value(f.field, f.raw)
        except NormalizationError as exc:
            if f.field in ("her2_ish_ratio", "her2_ish_her2_copies", "er_percent", "pr_percent", "er_allred", "pr_allred"):
                warnings.append(f"implausible: {field_words(f.field)}: {exc}")
            continue
        held = ctx.section_of(f.match_start)
        section, heading = (held.kind, held.heading) if held else ("", "")
        if section in NON_RESULT_SECTIONS and f.field not in _REPORT_FACTS:  # gross text names the organ
            continue
        near = cues.near(f.match_start, f.match_end)
        assertion, _ = assertion_at(f.match_start, f.match_end, near)
        if assertion is Assertion.PRESENT:
            assertion = _cue_inside(f, near)
        if assertion is Assertion.PENDING and value is Status.PENDING:
            assertion = Assertion.PRESENT  # "HER2 is pending; the result will follow" says it twice
        # quoted: said by an explicit cue ("prior biopsy showed"), or under a heading that quotes
        # results ("PRIOR CORE BIOPSY RESULTS:", "OUTSIDE REPORT:")
        quoted = assertion is Assertion.HISTORICAL or (
            section in HISTORY_SECTIONS and _QUOTING_HEADING.search(heading) is not None)
        if assertion is Assertion.PRESENT and section in HISTORY_SECTIONS:
            assertion = Assertion.HISTORICAL
        in_situ_cue = nearest_trigger(f.match_start, f.match_end, near, IN_SITU_KINDS)
        in_situ = in_situ_cue is not None
        label = in_situ and _IN_SITU_LABEL.fullmatch(text, in_situ_cue.end, f.match_start) is not None
        page, p_start, p_end = ctx.clean.locate(f.start, f.end)
        evidence = Evidence(
            field=f.field, rule_id=f.rule_id, text=text[f.start:f.end], start=f.start, end=f.end,
            page=page, page_start=p_start, page_end=p_end, section=section,
            specimen=ctx.part_at(f.match_start), assertion=assertion,
            context=_context(text, f),
        )
        addendum, amended = ctx.addendum_at(f.match_start)
        role = site_role(text, f.match_start, f.match_end, section) if f.field == "site" else ""
        mentions.append(Mention(f.field, value, evidence, in_situ, f.rank, addendum, amended, role, quoted, label))
    return mentions, warnings


# --- the role of a site mention's statement (choose_site) -----------------------------------

# A statement ends at a line break, or at ". " / "; " (OCR'd texts join their lines with ". ").
_STATEMENT_END = re.compile(r"\n|[.;]\s")
_ENDS_BACK = ("\n", ". ", "; ", ".\t", ";\t", ".\r", ";\r")
# A specimen or procedure line: a part label ("A.", "2)", "Part B:") or a specimen heading.
_SPECIMEN_LINE = re.compile(
    r"(?i)^\s*(?:(?:part\s{0,2})?(?:[A-H]|\d{1,2})\s{0,2}[.):]\s|(?:part\s{0,2}[A-H\d]{1,2}|specimens?(?:\s{1,4}(?:type|site|source|submitted|received|description))?"
    r"|source(?:\s{1,4}of\s{1,4}(?:the\s{1,4})?specimens?)?|(?:anatomic(?:al)?\s{1,4})?site|procedure|tissue(?:\s{1,4}(?:type|site|source))?|organ)\s{0,4}(?:\([^)\n]{0,20}\)\s{0,4})?[:.-])")
# Statements whose organ words name no tumour of this patient: reagents and antibody lists,
# controls, validation and method text, guidelines, organisms.
_REAGENT_CUE = re.compile(
    r"(?i)\b(?:antibod(?:y|ies)|clones?|controls?|validat\w*|reagents?|ASRs?|analyte|FDA|guidelines?|criteria|scoring\s+systems?|"
    r"CAP/ASCP|pylori|helicobacter|immunostains?\s+(?:run|used|offered|performed\s+in\s+this)|laboratory\s+(?:policy|offers|runs))\b")
_HISTORY_CUE = re.compile(r"(?i)\b(?:history|h/o|s/p|status\s+post|prior|previous(?:ly)?|known|treated|remote)\b")


def _statement(text: str, start: int, end: int) -> tuple[int, int]:
    """The statement around text[start:end]: from the last statement end before it to the next."""
    lo = max(0, start - 300)
    # the last statement end before it (as _STATEMENT_END finds them, searched from the right)
    first = max([lo] + [at + len(mark) for mark in _ENDS_BACK if (at := text.rfind(mark, lo, start)) >= 0
                        and at + len(mark) <= start])
    m = _STATEMENT_END.search(text, end, min(len(text), end + 300))
    return first, (m.start() if m else min(len(text), end + 300))


def site_role(text: str, start: int, end: int, section: str) -> str:
    """The role of the statement a site word sits in: specimen, diagnosis, text, history or reagent."""
    first, last = _statement(text, start, end)
    statement = text[first:last]
    if _REAGENT_CUE.search(statement) or section in NON_RESULT_SECTIONS:
        return "reagent"
    if section in HISTORY_SECTIONS or _HISTORY_CUE.search(text, first, start):
        return "history"
    if _SPECIMEN_LINE.match(statement):
        return "specimen"
    if section == "diagnosis":
        return "diagnosis"
    return "text"


def _context(text: str, f: Finding, limit: int = 100) -> str:
    """The statement a value came from, on one line, cut around the value when long."""
    start, end = f.match_start, f.match_end
    if end - start > limit:
        cut = max(start, f.start - (limit - (f.end - f.start)) // 2)
        if cut > start:  # begin at a word
            space = text.find(" ", cut, f.start)
            cut = space + 1 if space >= 0 else cut
        start, end = cut, min(end, cut + limit)
    return " ".join(text[start:end].split())


_QUOTING_HEADING = re.compile(r"(?i)\b(?:prior|previous|earlier|outside|referring)\b")
_INSIDE_KINDS = {"historical": Assertion.HISTORICAL, "hypothetical": Assertion.HYPOTHETICAL,
                 "boilerplate": Assertion.HYPOTHETICAL}


def _cue_inside(f: Finding, triggers: list[Trigger]) -> Assertion:
    """A cue between a label and its value: "HER2 ... the outside interpretation (2+)",
    "HER2 IHC is scored using a 10% cut-off; IHC 3+ or ..." (the nearest one counts)."""
    inside = [t for t in triggers if t.assertion in _INSIDE_KINDS
              and f.match_start <= t.start and t.end <= f.start]
    if not inside:
        return Assertion.PRESENT
    return _INSIDE_KINDS[max(inside, key=lambda t: t.end).assertion]


# --- choosing the reportable value ---------------------------------------------------------

# Fields whose value says "this test was done and gave ...": a pending/not performed call
# is only reported when no real result exists.
_NON_RESULTS = (Status.PENDING, Status.NOT_PERFORMED)


def choose(
    field: str, mentions: list[Mention], *, own_result: bool = False,
    facts: dict[str, PartFacts] | None = None,
) -> tuple[Mention | None, list[str]]:
    """Pick the reportable mention of one field by the DESIGN.md rules; explain abstentions.

    `own_result`: the report states a result of its own for this marker (in any field), or a
    statement of its own that could not be read, so a quote from a prior report does not fill
    the gaps of this one. Only an explicit quote ("prior biopsy showed ER positive") stands in;
    a history that only mentions a receptor status ("a history of ER-positive cancer") does not.
    """
    warnings: list[str] = []
    current = [m for m in mentions if m.assertion is Assertion.PRESENT]
    if not current and own_result:
        return None, warnings
    if not current:
        history = [m for m in mentions if m.assertion is Assertion.HISTORICAL and m.quoted]
        if history:
            picked, more = _settle(field, history, facts or {})
            if picked is not None:
                warnings.append(f"history-only: {field_words(field)} quoted from a prior report")
            return picked, warnings + more
        return None, warnings
    picked, more = _settle(field, current, facts or {})
    return picked, warnings + more


def _settle(
    field: str, mentions: list[Mention], facts: dict[str, PartFacts]
) -> tuple[Mention | None, list[str]]:
    results = [m for m in mentions if m.value not in _NON_RESULTS]
    if results:
        mentions = results
    invasive = [m for m in mentions if not m.in_situ]
    if invasive:
        mentions = invasive
    if any(m.addendum for m in mentions):  # an addendum beats the original
        mentions = [m for m in mentions if m.addendum]
        latest = max(m.addendum for m in mentions)
        if any(m.amended for m in mentions if m.addendum == latest):  # an amendment beats earlier addenda
            mentions = [m for m in mentions if m.addendum == latest]
    top = max(m.rank for m in mentions)
    mentions = [m for m in mentions if m.rank == top]
    values = {_key(m.value) for m in mentions}
    if len(values) == 1:
        return mentions[0], []
    if {m.value for m in mentions} == {Status.POSITIVE, Status.LOW_POSITIVE}:
        # "ER positive, 5 %" and "ER low positive": the same call, the second more precise
        return next(m for m in mentions if m.value is Status.LOW_POSITIVE), []
    exact = _exact_within_ranges(mentions)
    if exact is not None:
        return exact, []
    largest = _largest_tumour(mentions, facts)
    if largest:
        if len({_key(m.value) for m in largest}) == 1:
            return largest[0], []
        mentions = largest
    shown = ", ".join(sorted(values))
    return None, [f"conflict: {field_words(field)} has different values ({shown}), left empty"]


def _largest_tumour(mentions: list[Mention], facts: dict[str, PartFacts]) -> list[Mention]:
    """The mentions of the part with the largest tumour, when all parts lie in one breast.

    DESIGN.md: within one breast the largest tumour's result beats a smaller focus's;
    separate primaries (left and right) stay a conflict. Every mention must come from a
    labelled part whose tumour size the report states.
    """
    parts = {m.evidence.specimen for m in mentions}
    if len(parts) < 2 or "" in parts or not parts <= facts.keys():
        return []
    if len({facts[p].side for p in parts if facts[p].side}) > 1:
        return []
    sizes = {p: facts[p].size_mm for p in parts}
    if any(size is None for size in sizes.values()):
        return []
    winner = _unique_largest(sizes)
    return [m for m in mentions if m.evidence.specimen == winner] if winner else []


def _unique_largest(sizes: dict[str, float]) -> str | None:
    """The part with the largest tumour, or None when two share the largest size."""
    top = max(sizes.values())
    winners = [p for p, size in sizes.items() if size == top]
    return winners[0] if len(winners) == 1 else None


def _exact_within_ranges(mentions: list[Mention]) -> Mention | None:
    """The one most precise percent that every other statement allows: "5 %" beside
    "(1-10 %)", "91-100 %" beside "(greater than 10 %)"."""
    if not all(isinstance(m.value, Percent) for m in mentions):
        return None
    inner = {str(m.value) for m in mentions if all(m.value.within(o.value) for o in mentions)}
    if len(inner) != 1:
        return None
    return next(m for m in mentions if str(m.value) in inner)


def _key(value: object) -> str:
    return plain_number(value) if isinstance(value, float) else str(value)


# --- the record ---------------------------------------------------------------------------

# Facts about the whole report, not results of a test: chosen on their own terms.
_REPORT_FACTS = frozenset({"site", "procedure", "malignancy"})

STATED_FIELDS = (
    "site", "her2_ihc_score", "her2_ihc_percent", "her2_ihc_clone", "her2_ihc_staining",
    "her2_ish_method", "her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_cep17_copies",
    "her2_ish_cells", "her2_ish_result", "her2_reported", "er_reported", "er_percent",
    "er_intensity", "er_allred", "pr_reported", "pr_percent", "pr_intensity", "pr_allred",
    "ki67_percent",
)


# A statement of the report's own about a marker: its name as a label, something after the colon.
_OWN_STATEMENT = re.compile(
    r"(?im)(?:^|(?<=[.;:]\s))[ \t]*(?P<label>(?:o?estrogen|progesterone)\s{1,3}receptors?|ER|PR|PgR|"
    r"HER-?\s?2(?:\s?/\s?neu)?|c-?erb-?\s?B-?2)\b[^:\n]{0,30}:[ \t]*(?P<value>[^\s_<\[][^\n]{0,40})")


def stated_markers(ctx: Context) -> set[str]:
    """Markers the report gives a statement of its own for ("ER: ..."), outside its history:
    such a report has its own result for them even where it could not be read, so a quote from
    a prior report must not stand in for it."""
    from .statements import markers_in

    out: set[str] = set()
    for m in _OWN_STATEMENT.finditer(ctx.clean.text):
        if ctx.section_at(m.start()) not in HISTORY_SECTIONS:
            out.update(markers_in(m.group("label")))
    return out


def build_record(
    record: Her2Record, mentions: list[Mention], warnings: list[str],
    facts: dict[str, PartFacts] | None = None, addenda: int = 0, stated: set[str] = frozenset(),
) -> Her2Record:
    """Fill a record with the reportable value of every field, and the receptor statuses.

    `stated`: markers with a statement of the report's own (stated_markers), read or not."""
    by_field: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        by_field[m.field].append(m)
    values: dict[str, object] = {}
    evidence: list[Evidence] = []
    notes = list(warnings)
    if any(m.value is not IshMethod.ISH for m in by_field["her2_ish_method"]):
        # a named method (FISH, SISH, ...) says more than "in situ hybridization"
        by_field["her2_ish_method"] = [m for m in by_field["her2_ish_method"] if m.value is not IshMethod.ISH]
    if any(m.value in (IshResult.AMPLIFIED, IshResult.NOT_AMPLIFIED) for m in by_field["her2_ish_result"]):
        # "equivocal" is the state before ISH (IHC 2+); an ISH result settles it.
        by_field["her2_reported"] = [m for m in by_field["her2_reported"] if m.value is not Status.EQUIVOCAL]
    own = {_marker(m.field) for m in mentions
           if m.assertion is Assertion.PRESENT and m.value not in _NON_RESULTS} | set(stated)
    conflicted: set[str] = set()
    doubts: list[Doubt] = []
    chosen: dict[str, Mention] = {}
    for field in STATED_FIELDS:
        if field in _REPORT_FACTS:
            continue
        picked, more = choose(field, by_field.get(field, []), own_result=_marker(field) in own, facts=facts)
        notes.extend(more)
        if picked is not None:
            values[field] = picked.value
            evidence.append(picked.evidence)
            chosen[field] = picked
        elif any(n.startswith("conflict:") for n in more):
            doubts.append(_conflict_doubt(field, by_field.get(field, [])))
            if field in _RESULT_KEYS and _two_specimens(by_field.get(field, [])):
                conflicted.add(_marker(field))
    invasive = any(m.value == "invasive" and m.assertion is Assertion.PRESENT and not m.in_situ
                   for m in by_field.get("malignancy", []))
    if invasive:  # a value stated only for the in-situ component is not the invasive tumour's
        in_situ = [e.field for e in evidence if e.field in values and any(
            m.in_situ_label and m.evidence is e for m in by_field.get(e.field, []))]
        _drop(values, evidence, in_situ)
        notes += [f"in-situ-only: {field_words(f)} is stated only for the in-situ component (DCIS), left empty"
                  for f in in_situ]
    for field in _only_from_smaller_tumours(by_field, values, facts or {}):
        _drop(values, evidence, [field])
        notes.append(f"smaller-tumour: {field_words(field)} is stated only for a smaller tumour, left empty")
    for marker in sorted(conflicted):
        # two tumours disagree on this test: a detail of one of them must not stand alone (what
        # every one of them states alike, "ER positive" beside 70 % and 100 %, stays)
        dropped = [f for f in values if _marker(f) == marker and f not in _TEST_FACTS
                   and not _said_alike_by_all(by_field, f)]
        _drop(values, evidence, dropped)
        if dropped:
            notes.append(f"conflict: {marker.upper()} results disagree, its other values left empty too")
    for test in sorted(_corrected_tests(by_field)):
        # an addendum corrects this test: what only the original gives of it is no longer known
        stale = [f for f in values if _test(f) == test and f not in _TEST_FACTS
                 and f in chosen and not chosen[f].addendum]
        _drop(values, evidence, stale)
        notes += [f"superseded: {field_words(f)} is given only in the original report, whose "
                  f"{_TEST_WORDS[test]} result an addendum corrects, left empty" for f in stale]
    notes += _ratio_against_copies(values, evidence)
    _drop_superseded_pending(values, evidence, mentions)
    in_addenda = {_marker(m.field) for m in mentions if m.addendum and m.assertion is Assertion.PRESENT}
    notes += _drop_pending_answered_by_addendum(values, evidence, addenda, in_addenda)
    site, site_note = choose_site(by_field.get("site", []))
    if site is not None:
        values["site"] = site.value
        evidence.append(site.evidence)
    if site_note:
        notes.append(site_note)
    procedures = {m.value for m in by_field.get("procedure", []) if m.assertion is Assertion.PRESENT}
    if procedures:  # a resection report names biopsies too (of nodes, of the earlier core)
        values["procedure"] = "resection" if "resection" in procedures else "biopsy"
    cancer = {"present" if m.value == "invasive" else m.value
              for m in by_field.get("malignancy", []) if m.assertion is Assertion.PRESENT}
    if cancer:  # "negative for malignancy" in one part, carcinoma in another: cancer
        values["malignancy"] = "present" if "present" in cancer else "absent"
    values["parts"] = tuple((label, _part_words(f)) for label, f in sorted((facts or {}).items()))
    statuses = {}
    for name, low in (("er", True), ("pr", False)):
        stated, percent = values.get(f"{name}_reported"), values.get(f"{name}_percent")
        status, note = receptor_status(name.upper(), stated, percent, low=low)
        if note:
            notes.append(note)
        if note.startswith("discordant:") and status is Status.UNKNOWN:
            # the call and the percent cannot both be this tumour's: neither is reported
            both = tuple(e for e in evidence if e.field in (f"{name}_reported", f"{name}_percent"))
            _drop(values, evidence, [f"{name}_reported", f"{name}_percent"])
            doubts.append(Doubt(name, "discordant", f"{name.upper()} is given as {stated} and as {percent} % of cells",
                                both))
        statuses[f"{name}_status"] = status
    return dataclasses.replace(
        record, **values, **statuses,
        warnings=tuple(dict.fromkeys(notes)), evidence=tuple(evidence), mentions=tuple(mentions),
        doubts=record.doubts + tuple(doubts),
    )


def field_words(field: str) -> str:
    """A field as warnings and pages name it ("ER percent", not "er_percent")."""
    return _FIELD_WORDS.get(field, field.replace("_", " "))


def _part_words(facts: PartFacts) -> str:
    """A part in words: "left breast, 15 mm"."""
    words = [f"{facts.side} breast"] if facts.side else []
    if facts.size_mm is not None:
        words.append(f"tumour {plain_number(facts.size_mm)} mm")
    return ", ".join(words)


def _conflict_doubt(field: str, mentions: list[Mention]) -> Doubt:
    """The values a field was stated with that could not be settled, one piece of evidence each."""
    seen: dict[str, Evidence] = {}
    for m in mentions:
        if m.assertion is Assertion.PRESENT and m.value not in _NON_RESULTS:
            seen.setdefault(_key(m.value), m.evidence)
    if not seen:  # only quoted values disagreed
        for m in mentions:
            seen.setdefault(_key(m.value), m.evidence)
    shown = " and ".join(f"{value}" + (f" ({ev.specimen})" if ev.specimen else "") for value, ev in seen.items())
    return Doubt(_marker(field), "conflict", f"{field_words(field)} is given as {shown}",
                 tuple(seen.values()))


# How a field is named in a doubt's plain words.
_FIELD_WORDS = {
    "her2_ihc_score": "HER2 IHC score", "her2_ihc_percent": "HER2 IHC percent", "her2_ish_ratio": "HER2/CEP17 ratio",
    "her2_ish_her2_copies": "HER2 copies per cell", "her2_ish_cep17_copies": "CEP17 copies per cell",
    "her2_ish_result": "HER2 ISH result", "her2_reported": "HER2 call", "er_reported": "ER call",
    "er_percent": "ER percent", "pr_reported": "PR call", "pr_percent": "PR percent", "ki67_percent": "Ki-67",
    "her2_ish_method": "HER2 ISH method", "her2_ihc_clone": "HER2 antibody", "her2_ish_cells": "cells counted",
    "er_intensity": "ER intensity", "pr_intensity": "PR intensity", "er_allred": "ER Allred score",
    "pr_allred": "PR Allred score", "her2_ihc_staining": "HER2 IHC 0 detail (null or ultralow)",
}


# A "pending" or "not performed" call gives way to any result of the same test in the report
# (the synoptic says "HER2: pending", the addendum gives the score).
_RESULT_FIELDS = {
    "her2_reported": ("her2_ihc_score", "her2_ihc_percent", "her2_ish_result", "her2_ish_ratio"),
    "er_reported": ("er_percent", "er_allred"),
    "pr_reported": ("pr_percent", "pr_allred"),
}


def _drop(values: dict[str, object], evidence: list[Evidence], fields: list[str]) -> None:
    """Take reportable values out of the record again, with their evidence."""
    for field in fields:
        values.pop(field, None)
    evidence[:] = [e for e in evidence if e.field not in fields]


def _drop_superseded_pending(values: dict[str, object], evidence: list[Evidence], mentions: list[Mention]) -> None:
    """A pending or not-performed call gives way to a result of the same test; and a statement
    that put several tests on hold together ("ER/PR assay will be performed") is answered for
    all of them once the report gives a result for one (the others' results could not be read:
    left empty, never "pending")."""
    for field, results in _RESULT_FIELDS.items():
        if field == "her2_reported" and values.get("her2_ihc_score") is IhcScore.TWO and not (
            "her2_ish_result" in values or "her2_ish_ratio" in values
        ):
            continue  # IHC 2+ awaiting ISH: "pending" is the report's current call
        if values.get(field) in _NON_RESULTS and any(r in values for r in results):
            _drop(values, evidence, [field])
    held = [m for m in mentions if m.field in _RESULT_FIELDS and m.value is Status.PENDING
            and m.assertion is Assertion.PRESENT]
    answered = {f for f in _RESULT_FIELDS if values.get(f) not in (None, Status.PENDING)
                or any(r in values for r in _RESULT_FIELDS[f])}
    for field in [f for f in _RESULT_FIELDS if values.get(f) is Status.PENDING]:
        starts = {m.evidence.start for m in held if m.field == field}
        together = {m.field for m in held if m.evidence.start in starts} - {field}
        if together & answered:
            _drop(values, evidence, [field])


# The fields that carry a test's result: a conflict in one of them is a conflict of the test.
_RESULT_KEYS = frozenset({
    "her2_ihc_score", "her2_ish_result", "her2_ish_ratio", "her2_reported",
    "er_reported", "er_percent", "pr_reported", "pr_percent", "ki67_percent",
})
# Facts about how a test was done, true of every specimen it was done on.
_TEST_FACTS = frozenset({"her2_ihc_clone", "her2_ish_method"})


def _only_from_smaller_tumours(
    by_field: dict[str, list[Mention]], values: dict[str, object], facts: dict[str, PartFacts]
) -> list[str]:
    """Fields whose every current mention comes from a part smaller than the largest tumour.

    DESIGN.md: within one breast the largest tumour's result is reportable; a test done only
    on a smaller focus (its FISH, say) must not be reported as if it were the largest's.
    """
    sized = {p: f.size_mm for p, f in facts.items() if f.size_mm is not None}
    if len(sized) < 2 or len({f.side for f in facts.values() if f.side}) > 1:
        return []
    largest = _unique_largest(sized)
    if largest is None:
        return []
    tested = {m.evidence.specimen for ms in by_field.values() for m in ms
              if m.assertion is Assertion.PRESENT and m.field not in _REPORT_FACTS}
    if largest not in tested:  # the largest part has no result at all: not a tumour we can prefer
        return []
    out = []
    for field in values:
        parts = {m.evidence.specimen for m in by_field.get(field, []) if m.assertion is Assertion.PRESENT}
        if parts and "" not in parts and parts <= sized.keys() and largest not in parts:
            out.append(field)
    return out


def _ratio_against_copies(values: dict[str, object], evidence: list[Evidence]) -> list[str]:
    """A ratio that its own copy numbers contradict ("ratio 4.3" beside 2.9 HER2 and 2.2 CEP17
    copies a cell: 1.3) holds a misread digit, most often from OCR; which of the three is wrong
    cannot be told, so none is reported. Labs' ratios of means and means of ratios differ by a
    little, never by this much."""
    ratio, her2, cep17 = (values.get(f) for f in ("her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_cep17_copies"))
    if not all(isinstance(v, (int, float)) and v > 0 for v in (ratio, her2, cep17)):
        return []
    computed = her2 / cep17
    if abs(ratio - computed) <= max(0.3, 0.25 * computed):
        return []
    _drop(values, evidence, ["her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_cep17_copies"])
    return [f"implausible: the HER2/CEP17 ratio {ratio:g} does not match its copy numbers ({her2:g} / {cep17:g} "
            f"= {computed:.2f}), so one of them was misread; all three left empty"]


_TEST_WORDS = {"her2_ihc": "HER2 IHC", "her2_ish": "HER2 ISH", "her2": "HER2", "er": "ER", "pr": "PR",
               "ki67": "Ki-67"}


def _test(field: str) -> str:
    """The test a field belongs to, HER2's IHC and ISH apart: her2_ihc, her2_ish, her2 (the
    call), er, pr or ki67."""
    return field[:8] if field.startswith(("her2_ihc", "her2_ish")) else _marker(field)


def _corrected_tests(by_field: dict[str, list[Mention]]) -> set[str]:
    """Tests whose result an addendum (or amendment) changes: a result stated both in it and
    in the original report, with different values. An "equivocal" HER2 call that the
    addendum's ISH settles is the usual course of a reflex test, not a correction."""
    out = set()
    for field in _RESULT_KEYS:
        said = [m for m in by_field.get(field, []) if m.assertion is Assertion.PRESENT
                and m.value not in _NON_RESULTS and m.value is not Status.EQUIVOCAL]
        if (any(m.addendum for m in said) and any(not m.addendum for m in said)
                and len({_key(m.value) for m in said}) > 1):
            out.add(_test(field))
    return out


def _said_alike_by_all(by_field: dict[str, list[Mention]], field: str) -> bool:
    """Whether every specimen with a result for this field's marker states one same value for it."""
    marker = _marker(field)
    parts = {m.evidence.specimen for f, ms in by_field.items() if _marker(f) == marker and f not in _TEST_FACTS
             for m in ms if m.assertion is Assertion.PRESENT and m.value not in _NON_RESULTS}
    said = [m for m in by_field.get(field, []) if m.assertion is Assertion.PRESENT]
    return ("" not in parts and {m.evidence.specimen for m in said} >= parts
            and len({_key(m.value) for m in said}) == 1)


def _two_specimens(mentions: list[Mention]) -> bool:
    """Whether a field's current mentions come from two or more labelled specimens."""
    parts = {m.evidence.specimen for m in mentions if m.assertion is Assertion.PRESENT}
    return len(parts - {""}) >= 2


def _marker(field: str) -> str:
    """The test a field belongs to: her2, er, pr or ki67."""
    return field.split("_", 1)[0]


def _drop_pending_answered_by_addendum(
    values: dict[str, object], evidence: list[Evidence], addenda: int, in_addenda: set[str]
) -> list[str]:
    """A call pending in the original report, and the report has an addendum: the result
    most likely came with it, even when it could not be read (a damaged scan), so the field is
    left empty rather than called pending. `in_addenda` names the markers it speaks of."""
    notes = []
    for ev in list(evidence):
        if (ev.field.endswith("_reported") and values.get(ev.field) is Status.PENDING and addenda
                and ev.section != "addendum"):
            _drop(values, evidence, [ev.field])
            read = "its result could not be read" if _marker(ev.field) not in in_addenda else "see its values"
            notes.append(f"pending-answered: {field_words(ev.field)} was pending, the report has an addendum ({read})")
    return notes


# The vote a site word gives, by the role of its statement (site_role); a word naming the tumour
# itself (its histology, a stated primary: rank 1 in site.toml) gives one more. Another organ
# votes only from a specimen or diagnosis line, or by its histology: reports name many organs in
# passing (a "soft tissue" margin, a bone scan).
SITE_VOTES = {"specimen": 3.0, "diagnosis": 2.0, "text": 1.0, "history": 0.25, "reagent": 0.0}
# The runner-up holding this share of the winner's votes (and at least this many) is a close vote.
SITE_CLOSE_SHARE = 0.67
SITE_CLOSE_MIN = 2.0


def site_votes(mentions: list[Mention]) -> dict[Site, float]:
    votes: dict[Site, float] = defaultdict(float)
    for m in mentions:
        if m.assertion is Assertion.HYPOTHETICAL:
            continue
        weight = SITE_VOTES.get(m.role, 1.0)
        if m.value is Site.OTHER and m.role not in ("specimen", "diagnosis") and not m.rank:
            continue
        if m.rank and weight:
            weight += 1.0
        votes[m.value] += weight
    return votes


def choose_site(mentions: list[Mention]) -> tuple[Mention | None, str]:
    """The report's site by vote (site_votes), with the mention that weighed most as evidence,
    and a warning when the vote is close."""
    votes = {site: v for site, v in site_votes(mentions).items() if v > 0}
    if not votes:
        return None, ""
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], list(Site).index(kv[0])))
    winner, top = ranked[0]
    note = ""
    if len(ranked) > 1 and ranked[1][1] >= max(SITE_CLOSE_MIN, SITE_CLOSE_SHARE * top):
        note = (f"site-uncertain: the report points to {winner} ({top:g} votes) and to {ranked[1][0]} "
                f"({ranked[1][1]:g}), {winner} used")
    best = max((m for m in mentions if m.value is winner and m.assertion is not Assertion.HYPOTHETICAL),
               key=lambda m: (SITE_VOTES.get(m.role, 1.0) + m.rank, -m.evidence.start))
    return best, note


# ASCO/CAP 2020 ER/PgR: >= 1 % of tumour nuclei is positive; ER 1-10 % is "low positive".
POSITIVE_CUTOFF = 1.0
LOW_POSITIVE_MAX = 10.0
# The highest cut-off older reports called negative below (DOMAIN.md 0.8: "<5 %" or "<10 %"):
# "negative" beside a larger share of cells is no old cut-off; one of the two is another line's.
OLD_CUTOFF_MAX = 10.0


def receptor_status(name: str, stated: object, percent: object, *, low: bool) -> tuple[Status, str]:
    """ER/PR status from the stated call and percent (ASCO/CAP 2020); note any old cut-off."""
    pct = percent if isinstance(percent, Percent) else None
    if isinstance(stated, Status):
        if stated is Status.LOW_POSITIVE and not low:
            return Status.POSITIVE, ""
        if stated is Status.POSITIVE and low and pct is not None and _within_low(pct):
            return Status.LOW_POSITIVE, ""
        if stated is Status.NEGATIVE and pct is not None and pct.lower > OLD_CUTOFF_MAX:
            return Status.UNKNOWN, (f"discordant: {name} stated negative beside {pct} % of cells, above any "
                                    f"cut-off ever used, so {name} status is left unknown")
        if stated is Status.NEGATIVE and pct is not None and pct.lower >= POSITIVE_CUTOFF:
            return stated, f"cut-off: {name} stated negative at {pct} % (ASCO/CAP 2020: >= 1 % is positive)"
        if stated in (Status.POSITIVE, Status.LOW_POSITIVE) and pct is not None and _all_below(pct, POSITIVE_CUTOFF):
            return Status.UNKNOWN, f"discordant: {name} stated positive beside {pct} % of cells, so {name} status is left unknown"
        return stated, ""
    if pct is None:
        return Status.UNKNOWN, ""
    if _all_below(pct, POSITIVE_CUTOFF):
        return Status.NEGATIVE, ""
    if pct.lower >= POSITIVE_CUTOFF:
        return (Status.LOW_POSITIVE if low and _within_low(pct) else Status.POSITIVE), ""
    return Status.UNKNOWN, ""


def _all_below(pct: Percent, limit: float) -> bool:
    """Whether every value the statement allows lies below `limit` ("<1" lies below 1)."""
    if pct.bound == "<":
        return pct.low <= limit
    return pct.upper < limit


def _within_low(pct: Percent) -> bool:
    return pct.lower >= POSITIVE_CUTOFF and pct.upper <= LOW_POSITIVE_MAX and not pct.bound.startswith(">")
