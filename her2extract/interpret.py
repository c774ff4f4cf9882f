"""Interpret a record by the guidelines and explain it in plain words.

ASCO/CAP HER2 2018 (affirmed 2023) for breast, ASCO/CAP ER/PgR 2020, CAP/ASCP/ASCO 2016
for gastro-oesophageal cancer. Pure: record in, Interpretation out; never sees text.
The sentences a patient reads live in explanations.toml, not here.
"""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from dataclasses import dataclass

from .model import Doubt, Her2Category, Her2Record, IhcScore, IshMethod, IshResult, Site, Status, Subtype

GUIDELINE = "ASCO/CAP HER2 2018 (affirmed 2023); ASCO/CAP ER/PgR 2020; CAP/ASCP/ASCO gastroesophageal HER2 2016"

# ASCO/CAP 2018 HER2, dual-probe ISH groups (DOMAIN.md 1.3).
RATIO_CUTOFF = 2.0
COPIES_LOW, COPIES_HIGH = 4.0, 6.0
# ASCO/CAP 2018 single-probe ISH bands (DOMAIN.md 1.5): <4 negative, >=6 positive, between: work-up.
SINGLE_LOW, SINGLE_HIGH = 4.0, 6.0
# Gastric/GEJ: ratio >= 2.0 is positive (ToGA; DOMAIN.md 3.1).
GASTRIC_RATIO_CUTOFF = 2.0
# Gastric resection specimens are scored on >= 10 % of tumour cells (DOMAIN.md 3.1).
GASTRIC_RESECTION_PERCENT = 10.0
_DEFINITE = (Status.POSITIVE, Status.NEGATIVE)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One plain-language paragraph about one result."""

    topic: str
    text: str


@dataclass(frozen=True, slots=True)
class Interpretation:
    her2_ish_group: int | None
    her2_status: Status
    her2_category: Her2Category
    subtype: Subtype
    warnings: tuple[str, ...] = ()
    explanation: tuple[Explanation, ...] = ()
    questions: tuple[str, ...] = ()
    guideline: str = GUIDELINE
    disclaimer: str = ""
    doubts: tuple[Doubt, ...] = ()  # what the interpretation left unknown, and why
    drop: tuple[str, ...] = ()  # stated fields to empty: a call its own components contradict


# --- HER2 ------------------------------------------------------------------------------------

def ish_group(ratio: float, copies: float) -> int:
    """Dual-probe ISH group 1-5 from HER2/CEP17 ratio and mean HER2 copies per cell (DOMAIN.md 1.3)."""
    if ratio >= RATIO_CUTOFF:
        return 1 if copies >= COPIES_LOW else 2
    if copies >= COPIES_HIGH:
        return 3
    return 4 if copies >= COPIES_LOW else 5


def single_probe_band(copies: float) -> Status:
    """Single-probe ISH on its own (DOMAIN.md 1.5): >=6 positive, <4 negative, between equivocal."""
    if copies >= SINGLE_HIGH:
        return Status.POSITIVE
    if copies < SINGLE_LOW:
        return Status.NEGATIVE
    return Status.EQUIVOCAL


def her2_from_components(
    ihc: IhcScore | None, group: int | None, ish: IshResult | None, single: Status | None = None
) -> Status:
    """Final HER2 call from IHC and ISH when the report states none (ASCO/CAP 2018, DOMAIN.md 9.1).

    Groups 2-4 depend on concurrent IHC: 3+ is positive, 0/1+ negative; with 2+ the
    blinded recount keeps the group, so group 3 is positive and groups 2 and 4 negative.
    IHC 3+ with group 5 is positive by IHC and discordant (flagged by `her2_warnings`).
    A single-probe count of 4-<6 follows concurrent IHC; with 2+ it needs dual-probe ISH.
    """
    if group is not None:
        if group == 1 or ihc is IhcScore.THREE:
            return Status.POSITIVE
        if group == 5 or ihc in (IhcScore.ZERO, IhcScore.ONE):
            return Status.NEGATIVE
        if ihc is IhcScore.TWO:
            return Status.POSITIVE if group == 3 else Status.NEGATIVE
        return Status.UNKNOWN
    if single is not None:
        if single is Status.EQUIVOCAL:
            return {IhcScore.THREE: Status.POSITIVE, IhcScore.ZERO: Status.NEGATIVE,
                    IhcScore.ONE: Status.NEGATIVE}.get(ihc, Status.EQUIVOCAL)
        return Status.POSITIVE if ihc is IhcScore.THREE else single
    if ish is IshResult.AMPLIFIED:
        return Status.POSITIVE
    if ish is IshResult.NOT_AMPLIFIED:
        return Status.POSITIVE if ihc is IhcScore.THREE else Status.NEGATIVE
    return {
        IhcScore.THREE: Status.POSITIVE, IhcScore.TWO: Status.EQUIVOCAL,
        IhcScore.ONE: Status.NEGATIVE, IhcScore.ZERO: Status.NEGATIVE,
    }.get(ihc, Status.UNKNOWN)


def her2_category(ihc: IhcScore | None, status: Status, staining: str | None) -> Her2Category:
    """HER2 expression label of breast cancer (not an ASCO/CAP category; DOMAIN.md 2, 9.1)."""
    if status is Status.POSITIVE:
        return Her2Category.POSITIVE
    if ihc is IhcScore.ONE:
        return Her2Category.LOW
    if ihc is IhcScore.TWO:
        if status is Status.NEGATIVE:
            return Her2Category.LOW
        if status in (Status.EQUIVOCAL, Status.PENDING):
            return Her2Category.EQUIVOCAL
    if ihc is IhcScore.ZERO:
        return {"null": Her2Category.NULL, "ultralow": Her2Category.ULTRALOW}.get(staining or "", Her2Category.ZERO)
    return Her2Category.UNKNOWN


def gastric_her2(ihc: IhcScore | None, ratio: float | None, ish: IshResult | None) -> Status:
    """Gastric/GEJ HER2 (CAP/ASCP/ASCO 2016; DOMAIN.md 3.1): 3+ positive, 0/1+ negative, 2+ by ISH.

    ISH alone decides by the ratio (>= 2.0 positive); copy-number groups are breast rules.
    """
    if ihc is IhcScore.THREE:
        return Status.POSITIVE
    if ratio is not None:
        return Status.POSITIVE if ratio >= GASTRIC_RATIO_CUTOFF else Status.NEGATIVE
    if ish in (IshResult.AMPLIFIED, IshResult.NOT_AMPLIFIED):
        return Status.POSITIVE if ish is IshResult.AMPLIFIED else Status.NEGATIVE
    return {IhcScore.TWO: Status.EQUIVOCAL, IhcScore.ONE: Status.NEGATIVE,
            IhcScore.ZERO: Status.NEGATIVE}.get(ihc, Status.UNKNOWN)


def is_single_probe(record: Her2Record) -> bool:
    """ISH reported as HER2 copies alone, with no CEP17 and no ratio."""
    return (record.her2_ish_her2_copies is not None and record.her2_ish_ratio is None
            and record.her2_ish_cep17_copies is None)


def her2_warnings(record: Her2Record, group: int | None, single: Status | None, derived: Status) -> list[str]:
    """Breast HER2 warnings: discordance, missing work-up, groups 2-4, old cut-offs, 0 detail."""
    out = []
    ihc, stated = record.her2_ihc_score, record.her2_reported
    if group == 1 and ihc in (IhcScore.ZERO, IhcScore.ONE):
        out.append(f"discordant: IHC {ihc} with ISH group 1 (amplified), pathologist review")
    if group == 5 and ihc is IhcScore.THREE:
        out.append("discordant: IHC 3+ with ISH group 5 (not amplified), pathologist review")
    if ihc is IhcScore.TWO and group is None and single is None and record.her2_ish_result is None:
        out.append("needs-ish: IHC 2+ without an ISH result" +
                   (", and ISH is pending" if stated is Status.PENDING else ""))
    if group in (2, 3, 4):
        out.append(f"ish-group-{group}: settled by concurrent IHC (ASCO/CAP 2018 work-up)")
        if ihc is IhcScore.TWO and group in (2, 4):
            out.append(f"low-uncertain: whether IHC 2+ with ISH group {group} counts as HER2-low is not settled")
    if single is Status.EQUIVOCAL and ihc is IhcScore.TWO:
        out.append("needs-dual-probe: single-probe 4-<6 copies with IHC 2+ needs dual-probe ISH")
    pct = record.her2_ihc_percent
    if ihc is IhcScore.THREE and pct is not None and pct.bound.startswith(">") and pct.low >= 30:
        out.append("cut-off: 3+ given for staining in >30 % of cells, the 2007 definition (2018: >10 %)")
    if record.her2_ish_result is IshResult.EQUIVOCAL:
        out.append("cut-off: an 'equivocal' ISH result is a pre-2018 category (2007: ratio 1.8-2.2)")
    if ihc is IhcScore.ZERO and not record.her2_ihc_staining:
        out.append("ultralow-undetermined: IHC 0 without staining detail (null or ultralow)")
    return out


def her2_discordant(stated: Status | None, derived: Status, ihc: IhcScore | None, group: int | None) -> bool:
    """Whether a stated HER2 call is contradicted by the report's own IHC and ISH results.

    Such a call is nearly always a word that belongs to another line (another marker, a
    reference range, a heading), so it is not reported. Not discordant: a call with no
    components to check; "negative" beside IHC 2+ without ISH (the ISH may be in another
    report: needs-ish warns); and the guideline's own discordant case, IHC 3+ with ISH group 5,
    which keeps the report's call (DOMAIN.md 9.1, flagged by her2_warnings).
    """
    if stated not in (Status.POSITIVE, Status.NEGATIVE, Status.EQUIVOCAL) or derived is Status.UNKNOWN:
        return False
    if stated is derived:
        return False
    if ihc is IhcScore.THREE and group == 5:
        return False
    if stated is Status.NEGATIVE and derived is Status.EQUIVOCAL:
        return False
    return True


# A call and a score this close together (characters between them) are one statement.
SAME_STATEMENT = 40


def _old_positive_2plus(record: Her2Record, derived: Status) -> bool:
    """"Positive (score 2+)" in one statement, no ISH: the pre-2007 reading of 2+ (HercepTest 2+
    and 3+ were called positive), not a word from another line; 2018 calls it equivocal."""
    if record.her2_reported is not Status.POSITIVE or derived is not Status.EQUIVOCAL:
        return False
    by_field = {e.field: e for e in record.evidence}
    call, score = by_field.get("her2_reported"), by_field.get("her2_ihc_score")
    if call is None or score is None:
        return False
    return 0 <= score.start - call.end <= SAME_STATEMENT or 0 <= call.start - score.end <= SAME_STATEMENT


def _components(record: Her2Record, group: int | None) -> str:
    """The IHC and ISH results a HER2 call is checked against, in words."""
    parts = [f"IHC {record.her2_ihc_score}"] if record.her2_ihc_score is not None else []
    if group is not None:
        parts.append(f"ISH group {group} (ratio {record.her2_ish_ratio:g}, {record.her2_ish_her2_copies:g} HER2 copies)")
    elif record.her2_ish_result is not None:
        parts.append(f"ISH {record.her2_ish_result}")
    elif record.her2_ish_ratio is not None:
        parts.append(f"ISH ratio {record.her2_ish_ratio:g}")
    elif record.her2_ish_her2_copies is not None:
        parts.append(f"ISH {record.her2_ish_her2_copies:g} HER2 copies")
    else:
        parts.append("no ISH")
    return " and ".join(parts)


_COMPONENT_FIELDS = ("her2_ihc_score", "her2_ish_result", "her2_ish_ratio", "her2_ish_her2_copies")


def _discordance(record: Her2Record, group: int | None, derived: Status) -> tuple[str, Doubt]:
    components = _components(record, group)
    warning = (f"discordant: HER2 reported {record.her2_reported} but {components} give {derived}, "
               "so HER2 status is left unknown")
    by_field = {e.field: e for e in record.evidence}
    evidence = tuple(by_field[f] for f in ("her2_reported", *_COMPONENT_FIELDS) if f in by_field)
    doubt = Doubt("her2", "discordant", f"HER2 is given as {record.her2_reported}, but {components} "
                  f"point to {derived}", evidence)
    return warning, doubt


def ish_result_disagrees(stated: IshResult | None, group: int | None) -> bool:
    """Whether the report's own word for its ISH result disagrees with the group its numbers
    fall in: "amplified" beside group 5, "not amplified" beside group 1, or "equivocal" (a
    category before 2018) beside either. The HER2 status is then not derived from either."""
    if stated is None or group is None:
        return False
    if stated is IshResult.AMPLIFIED:
        return group == 5
    if stated is IshResult.NOT_AMPLIFIED:
        return group == 1
    return stated is IshResult.EQUIVOCAL and group in (1, 5)


def _ish_discordance(record: Her2Record, group: int, derived: Status) -> tuple[str, Doubt]:
    numbers = f"ratio {record.her2_ish_ratio:g}, {record.her2_ish_her2_copies:g} HER2 copies"
    warning = (f"discordant: the ISH result is stated as {record.her2_ish_result} but its numbers ({numbers}) "
               f"are ISH group {group}, {derived} by ASCO/CAP 2018, so HER2 status is left unknown")
    by_field = {e.field: e for e in record.evidence}
    evidence = tuple(by_field[f] for f in ("her2_ish_result", "her2_ish_ratio", "her2_ish_her2_copies")
                     if f in by_field)
    doubt = Doubt("her2", "discordant", f"The report calls its ISH result {record.her2_ish_result}, but its "
                  f"numbers ({numbers}) count as {derived} by today's guideline (ASCO/CAP 2018)", evidence)
    return warning, doubt


# --- receptors and subtype -------------------------------------------------------------------

def subtype(er: Status, pr: Status, her2: Status) -> Subtype:
    """SEER subtype from receptor statuses; ER low positive counts as HR+ (DOMAIN.md 5)."""
    positive = (Status.POSITIVE, Status.LOW_POSITIVE)
    if er in positive or pr in positive:
        hr = "+"
    elif er is Status.NEGATIVE and pr is Status.NEGATIVE:
        hr = "-"
    else:
        return Subtype.UNKNOWN
    if her2 not in _DEFINITE:
        return Subtype.UNKNOWN
    if hr == "-" and her2 is Status.NEGATIVE:
        return Subtype.TRIPLE_NEGATIVE
    return Subtype(f"HR{hr}/HER2{'+' if her2 is Status.POSITIVE else '-'}")


def receptor_warnings(record: Her2Record) -> list[str]:
    out = []
    if record.er_status is Status.LOW_POSITIVE:
        out.append("er-low: ER 1-10 % is positive, but such tumours behave much like ER-negative ones in studies")
    for name, stated, percent in (("ER", record.er_reported, record.er_percent),
                                  ("PR", record.pr_reported, record.pr_percent)):
        if stated is Status.NEGATIVE and percent is not None and percent.bound == "<" and percent.low > 1:
            out.append(f"cut-off: {name} stated negative at <{percent.low:g} %, an old cut-off "
                       "(ASCO/CAP 2020: >= 1 % is positive)")
    return out


# --- the interpretation ------------------------------------------------------------------------

def interpret(record: Her2Record) -> Interpretation:
    """Interpret one record's HER2/ER/PR values and explain them."""
    if record.site is Site.OTHER:
        return _finish(record, None, record.her2_reported or Status.UNKNOWN, Her2Category.UNKNOWN,
                       Subtype.UNKNOWN, ["other-site: breast and gastric HER2/ER/PR rules not applied"])
    if record.site is Site.GASTRIC:
        derived = gastric_her2(record.her2_ihc_score, record.her2_ish_ratio, record.her2_ish_result)
        status = record.her2_reported or derived
        warnings, doubts = [], ()
        if her2_discordant(record.her2_reported, derived, record.her2_ihc_score, None):
            warning, doubt = _discordance(record, None, derived)
            warnings.append(warning)
            status, doubts = Status.UNKNOWN, (doubt,)
        warnings += gastric_warnings(record)
        category = {Status.POSITIVE: Her2Category.POSITIVE, Status.EQUIVOCAL: Her2Category.EQUIVOCAL}.get(
            status, Her2Category.UNKNOWN)
        return _finish(record, None, status, category, Subtype.UNKNOWN, warnings, doubts)
    group = None
    if record.her2_ish_ratio is not None and record.her2_ish_her2_copies is not None:
        group = ish_group(record.her2_ish_ratio, record.her2_ish_her2_copies)
    single = single_probe_band(record.her2_ish_her2_copies) if is_single_probe(record) else None
    derived = her2_from_components(record.her2_ihc_score, group, record.her2_ish_result, single)
    status = record.her2_reported or derived
    warnings, doubts = [], ()
    old_reading = _old_positive_2plus(record, derived)
    if old_reading:
        status = Status.EQUIVOCAL
        warnings.append("cut-off: HER2 2+ called positive in the same statement, an older reading "
                        "(ASCO/CAP 2018: 2+ is equivocal until ISH), reported as equivocal")
    elif her2_discordant(record.her2_reported, derived, record.her2_ihc_score, group):
        warning, doubt = _discordance(record, group, derived)
        warnings.append(warning)
        status, doubts = Status.UNKNOWN, (doubt,)
    elif record.her2_reported is None and ish_result_disagrees(record.her2_ish_result, group):
        warning, doubt = _ish_discordance(record, group, derived)
        warnings.append(warning)
        status, doubts = Status.UNKNOWN, (doubt,)
    category = (her2_category(record.her2_ihc_score, status, record.her2_ihc_staining)
                if status is not Status.UNKNOWN or not doubts else Her2Category.UNKNOWN)
    warnings += her2_warnings(record, group, single, derived) + receptor_warnings(record)
    kind = subtype(record.er_status, record.pr_status, status)
    return _finish(record, group, status, category, kind, warnings, doubts, ("her2_reported",) if old_reading else ())


def gastric_warnings(record: Her2Record) -> list[str]:
    out = []
    ihc, pct = record.her2_ihc_score, record.her2_ihc_percent
    if (record.procedure == "resection" and ihc in (IhcScore.TWO, IhcScore.THREE)
            and pct is not None and pct.upper < GASTRIC_RESECTION_PERCENT):
        out.append(f"gastric-scoring: a resection scores {ihc} only in >= 10 % of tumour cells, {pct} % stated")
    if ihc is IhcScore.TWO and record.her2_ish_ratio is None and record.her2_ish_result is None:
        out.append("needs-ish: IHC 2+ without an ISH result")
    if (record.her2_ish_ratio is not None and record.her2_ish_ratio < GASTRIC_RATIO_CUTOFF
            and record.her2_ish_her2_copies is not None and record.her2_ish_her2_copies >= COPIES_HIGH):
        out.append("gastric-copies: ratio < 2.0 with >= 6 HER2 copies, its meaning in gastric cancer is not settled")
    return out


def _finish(record: Her2Record, group: int | None, status: Status, category: Her2Category,
            kind: Subtype, warnings: list[str], doubts: tuple[Doubt, ...] = (),
            drop: tuple[str, ...] = ()) -> Interpretation:
    texts = explanation_texts()
    explanation, questions = explain(record, status, category, kind, texts, record.doubts + doubts)
    if any(d.code == "discordant" for d in doubts):
        drop = ("her2_reported",)
    return Interpretation(group, status, category, kind, tuple(dict.fromkeys(warnings)),
                          explanation, questions, GUIDELINE, texts["disclaimer"], doubts, drop)


# --- plain words -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def explanation_texts() -> dict:
    """The plain-language templates (her2extract/explanations.toml)."""
    data = importlib.resources.files("her2extract").joinpath("explanations.toml").read_text(encoding="utf-8")
    return tomllib.loads(data)


def explain(record: Her2Record, status: Status, category: Her2Category, kind: Subtype,
            texts: dict, doubts: tuple[Doubt, ...] = ()) -> tuple[tuple[Explanation, ...], tuple[str, ...]]:
    """Choose the templates that fit the record and fill in its values.

    A status the record leaves unknown because of a doubt is said plainly (what is unclear,
    and to ask the care team), never explained as a result; a report of no cancer says so.
    """
    values = {
        "ihc": str(record.her2_ihc_score or ""), "ratio": f"{record.her2_ish_ratio:g}" if record.her2_ish_ratio else "",
        "er_percent": str(record.er_percent or ""), "pr_percent": str(record.pr_percent or ""),
        "ki67": str(record.ki67_percent or ""),
        "method": str(record.her2_ish_method or IshMethod.ISH),
        "er_percent_text": f" ({record.er_percent} % of cells)" if record.er_percent is not None else "",
        "pr_percent_text": f" ({record.pr_percent} % of cells)" if record.pr_percent is not None else "",
    }
    unclear = {}
    for d in doubts:
        unclear.setdefault(d.marker, d)
    statuses = {"her2": status, "er": record.er_status, "pr": record.pr_status}
    keys: list[tuple[str, str, dict]] = []
    site = "gastric" if record.site is Site.GASTRIC else ("other" if record.site is Site.OTHER else "breast")
    nothing = all(s is Status.UNKNOWN for s in statuses.values()) and not unclear
    if site == "other":
        keys.append(("Site", "other_site", {}))
    elif "her2" in unclear and status is Status.UNKNOWN:
        keys.append(("HER2", f"unclear.{unclear['her2'].code.replace('-', '_')}", _doubt_words("her2", unclear["her2"])))
    elif nothing and record.malignancy == "absent":
        keys.append(("Report", "no_cancer", {}))
    elif site == "gastric":
        keys.append(("HER2", f"her2_gastric.{status.value.replace(' ', '_')}", {}))
    else:
        keys.append(("HER2", f"her2.{_her2_key(record, status, category)}", {}))
    if site != "other":
        for name, topic in (("er", "ER"), ("pr", "PR")):
            if name in unclear and statuses[name] is Status.UNKNOWN:
                keys.append((topic, f"unclear.{unclear[name].code.replace('-', '_')}", _doubt_words(name, unclear[name])))
            elif statuses[name] is not Status.UNKNOWN:
                keys.append((topic, f"{name}.{statuses[name].value.replace(' ', '_')}", {}))
    if record.ki67_percent is not None:
        keys.append(("Ki-67", "ki67.stated", {}))
    if site == "breast" and kind is not Subtype.UNKNOWN:
        name = {"HR+/HER2-": "hr_pos_her2_neg", "HR+/HER2+": "hr_pos_her2_pos", "HR-/HER2+": "hr_neg_her2_pos",
                "triple negative": "triple_negative"}[kind.value]
        if kind is Subtype.TRIPLE_NEGATIVE and category in (Her2Category.LOW, Her2Category.ULTRALOW):
            name += "_her2_low"  # the HER2-low paragraph above says which HER2 medicine may still matter
        keys.append(("Subtype", f"subtype.{name}", {}))
    explanation, questions = [], []
    for topic, key, more in keys:
        entry = _lookup(texts, key)
        if entry is None:
            continue
        explanation.append(Explanation(topic, " ".join(entry["text"].format(**values, **more).split())))
        questions.extend(q.format(**values, **more) for q in entry.get("questions", []))
        if record.procedure == "biopsy":
            questions.extend(entry.get("biopsy_questions", []))
    for topic, text in _specimens(record, texts):
        explanation.append(Explanation(topic, text))
    return tuple(explanation), tuple(dict.fromkeys(questions))


_MARKER_WORDS = {"her2": "HER2", "er": "ER (estrogen receptor)", "pr": "PR (progesterone receptor)", "ki67": "Ki-67"}


def _doubt_words(marker: str, doubt: Doubt) -> dict:
    return {"marker": _MARKER_WORDS.get(marker, marker.upper()), "detail": doubt.text}


# The fields whose values name a marker's result, in the order a patient reads them.
_RESULT_WORDS = {
    "her2": (("her2_ihc_score", "IHC {}"), ("her2_ish_result", "ISH {}"), ("her2_reported", "{}")),
    "er": (("er_reported", "{}"), ("er_percent", "{} % of cells")),
    "pr": (("pr_reported", "{}"), ("pr_percent", "{} % of cells")),
}


def _specimens(record: Her2Record, texts: dict) -> list[tuple[str, str]]:
    """Per marker whose results differ between labelled specimens: each specimen's results by
    name, and which one the record reports and why (or that none is, for separate tumours)."""
    out = []
    described = dict(record.parts)
    chosen = {e.field: e.specimen for e in record.evidence}
    for marker, fields in _RESULT_WORDS.items():
        by_part: dict[str, dict[str, str]] = {}
        for m in record.mentions:
            if m.evidence.specimen and m.field in dict(fields) and m.assertion.value == "present":
                by_part.setdefault(m.evidence.specimen, {}).setdefault(m.field, str(m.value))
        if len(by_part) < 2 or len({tuple(sorted(v.items())) for v in by_part.values()}) < 2:
            continue
        listed = "; ".join(
            f"{label}" + (f" ({described[label]})" if described.get(label) else "") + ": "
            + ", ".join(words.format(v[f]) for f, words in fields if f in v)
            for label, v in sorted(by_part.items()))
        picked = {chosen[f] for f, _ in fields if f in chosen and chosen[f]}
        if len(picked) == 1:
            label = picked.pop()
            reason = texts["specimens"]["picked"].format(label=label)
        else:
            reason = texts["specimens"]["none"]
        text = texts["specimens"]["text"].format(marker=_MARKER_WORDS[marker], listed=listed, reason=reason)
        out.append((f"{_MARKER_WORDS[marker].split()[0]} by specimen", " ".join(text.split())))
    return out


def _her2_key(record: Her2Record, status: Status, category: Her2Category) -> str:
    if status is Status.POSITIVE:
        return "positive"
    if status in (Status.PENDING, Status.NOT_PERFORMED):
        return "pending" if status is Status.PENDING else "not_performed"
    if category is Her2Category.EQUIVOCAL or status is Status.EQUIVOCAL:
        return "equivocal"
    if category is Her2Category.LOW:
        return "low_1plus" if record.her2_ihc_score is IhcScore.ONE else "low_2plus"
    if category in (Her2Category.ULTRALOW, Her2Category.NULL, Her2Category.ZERO):
        return {Her2Category.ULTRALOW: "ultralow", Her2Category.NULL: "null", Her2Category.ZERO: "zero"}[category]
    if status is Status.NEGATIVE:
        return "negative"
    return "unknown"


def _lookup(texts: dict, key: str) -> dict | None:
    node: object = texts
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None
