"""Interpret a record by ASCO/CAP: ISH group, final HER2 call, HER2 category, subtype.

Pure: record in, Interpretation out; never sees text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Her2Category, Her2Record, IhcScore, IshResult, Site, Status, Subtype

# ASCO/CAP 2018 HER2 testing guideline (affirmed 2023), dual-probe ISH groups.
RATIO_CUTOFF = 2.0
COPIES_LOW, COPIES_HIGH = 4.0, 6.0
GUIDELINE = "ASCO/CAP HER2 2018 (affirmed 2023); ER/PR 2020"


@dataclass(frozen=True, slots=True)
class Interpretation:
    her2_ish_group: int | None
    her2_status: Status
    her2_category: Her2Category
    subtype: Subtype
    warnings: tuple[str, ...] = ()
    guideline: str = GUIDELINE


def ish_group(ratio: float, copies: float) -> int:
    """Dual-probe ISH group 1-5 from HER2/CEP17 ratio and mean HER2 copies per cell."""
    if ratio >= RATIO_CUTOFF:
        return 1 if copies >= COPIES_LOW else 2
    if copies >= COPIES_HIGH:
        return 3
    return 4 if copies >= COPIES_LOW else 5


def her2_from_components(ihc: IhcScore | None, group: int | None, ish: IshResult | None) -> Status:
    """Final HER2 call from IHC and ISH when the report states none (ASCO/CAP 2018, DOMAIN.md 9.1).

    Groups 2-4 depend on concurrent IHC: 3+ is positive, 0/1+ negative; with 2+ the
    blinded recount keeps the group, so group 3 is positive and groups 2 and 4 negative.
    """
    if group is not None:
        if group == 1:
            return Status.POSITIVE
        if ihc is IhcScore.THREE:  # with group 5 this is discordant (DOMAIN.md 9.1): positive by IHC
            return Status.POSITIVE
        if group == 5:
            return Status.NEGATIVE
        if ihc in (IhcScore.ZERO, IhcScore.ONE):
            return Status.NEGATIVE
        if ihc is IhcScore.TWO:
            return Status.POSITIVE if group == 3 else Status.NEGATIVE
        return Status.UNKNOWN
    if ish is IshResult.AMPLIFIED:
        return Status.POSITIVE
    if ish is IshResult.NOT_AMPLIFIED:
        return Status.POSITIVE if ihc is IhcScore.THREE else Status.NEGATIVE
    return {
        IhcScore.THREE: Status.POSITIVE, IhcScore.TWO: Status.EQUIVOCAL,
        IhcScore.ONE: Status.NEGATIVE, IhcScore.ZERO: Status.NEGATIVE,
    }.get(ihc, Status.UNKNOWN)


def her2_category(ihc: IhcScore | None, status: Status, staining: str | None) -> Her2Category:
    """HER2 expression label (not an ASCO/CAP category; DOMAIN.md 2)."""
    if status is Status.POSITIVE:
        return Her2Category.POSITIVE
    if ihc is IhcScore.ONE:
        return Her2Category.LOW
    if ihc is IhcScore.TWO:
        if status is Status.NEGATIVE:
            return Her2Category.LOW
        if status is Status.EQUIVOCAL:
            return Her2Category.EQUIVOCAL
    if ihc is IhcScore.ZERO:
        return {"null": Her2Category.NULL, "ultralow": Her2Category.ULTRALOW}.get(staining or "", Her2Category.ZERO)
    return Her2Category.UNKNOWN


def subtype(er: Status, pr: Status, her2: Status) -> Subtype:
    """SEER subtype from receptor statuses; ER low positive counts as HR+."""
    positive = (Status.POSITIVE, Status.LOW_POSITIVE)
    if er in positive or pr in positive:
        hr = "+"
    elif er is Status.NEGATIVE and pr is Status.NEGATIVE:
        hr = "-"
    else:
        return Subtype.UNKNOWN
    if her2 not in (Status.POSITIVE, Status.NEGATIVE):
        return Subtype.UNKNOWN
    if hr == "-" and her2 is Status.NEGATIVE:
        return Subtype.TRIPLE_NEGATIVE
    return Subtype(f"HR{hr}/HER2{'+' if her2 is Status.POSITIVE else '-'}")


def interpret(record: Her2Record) -> Interpretation:
    """Interpret one record's HER2/ER/PR values."""
    group = None
    if record.her2_ish_ratio is not None and record.her2_ish_her2_copies is not None:
        group = ish_group(record.her2_ish_ratio, record.her2_ish_her2_copies)
    derived = her2_from_components(record.her2_ihc_score, group, record.her2_ish_result)
    status = record.her2_reported or derived
    warnings = []
    if (record.her2_reported in (Status.POSITIVE, Status.NEGATIVE)
            and derived in (Status.POSITIVE, Status.NEGATIVE) and derived is not record.her2_reported):
        warnings.append(f"discordant: reported {record.her2_reported} but the results give {derived}")
    category = her2_category(record.her2_ihc_score, status, record.her2_ihc_staining)
    kind = Subtype.UNKNOWN if record.site not in (None, Site.BREAST) else subtype(record.er_status, record.pr_status, status)
    return Interpretation(group, status, category, kind, tuple(warnings))
