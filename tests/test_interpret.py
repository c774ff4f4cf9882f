"""ASCO/CAP interpretation tables: ISH groups, final HER2 call, HER2 category, subtype."""

from __future__ import annotations

import pytest

from her2extract.interpret import her2_category, her2_from_components, interpret, ish_group, subtype
from her2extract.model import Her2Category, Her2Record, IhcScore, IshResult, Site, Status, Subtype

POS, NEG, EQ, UNK = Status.POSITIVE, Status.NEGATIVE, Status.EQUIVOCAL, Status.UNKNOWN

# --- dual-probe ISH groups (DOMAIN.md 1.3): boundaries are inclusive at 2.0, 4.0 and 6.0 -----

ISH_GROUPS = [
    (2.0, 4.0, 1), (2.2, 10.0, 1), (5.0, 4.0, 1),
    (2.0, 3.99, 2), (3.0, 2.0, 2),
    (1.99, 6.0, 3), (1.0, 8.0, 3),
    (1.99, 5.99, 4), (1.99, 4.0, 4), (1.5, 5.0, 4),
    (1.99, 3.99, 5), (1.0, 2.0, 5), (0.5, 1.5, 5),
]


@pytest.mark.parametrize(("ratio", "copies", "group"), ISH_GROUPS,
                         ids=[f"ratio{r}-copies{c}" for r, c, _ in ISH_GROUPS])
def test_ish_group_boundaries(ratio, copies, group):
    assert ish_group(ratio, copies) == group


# --- final HER2 call (DOMAIN.md 9.1): one row per table cell --------------------------------

Z, O, T, H = IhcScore.ZERO, IhcScore.ONE, IhcScore.TWO, IhcScore.THREE
# IHC score -> calls for [no ISH, G1, G2, G3, G4, G5]
TABLE_9_1 = {
    Z: [NEG, POS, NEG, NEG, NEG, NEG],
    O: [NEG, POS, NEG, NEG, NEG, NEG],
    T: [EQ, POS, NEG, POS, NEG, NEG],  # groups 2-4 with 2+: the blinded recount keeps the group
    H: [POS, POS, POS, POS, POS, POS],  # 3+ with G5: "positive by IHC; discordant -> flag"
    None: [UNK, POS, UNK, UNK, UNK, NEG],  # IHC not done: G2-G4 need IHC (indeterminate)
}
CELLS = [(ihc, group, calls[i]) for ihc, calls in TABLE_9_1.items() for i, group in enumerate([None, 1, 2, 3, 4, 5])]


@pytest.mark.parametrize(("ihc", "group", "expected"), CELLS,
                         ids=[f"IHC{ihc or 'none'}-G{group or 'none'}" for ihc, group, _ in CELLS])
def test_her2_from_components_table_9_1(ihc, group, expected):
    assert her2_from_components(ihc, group, None) is expected


# ISH stated in words, without the numbers that give a group.
WORDS = [
    (None, IshResult.AMPLIFIED, POS), (Z, IshResult.AMPLIFIED, POS), (O, IshResult.AMPLIFIED, POS),
    (T, IshResult.AMPLIFIED, POS), (H, IshResult.AMPLIFIED, POS),
    (None, IshResult.NOT_AMPLIFIED, NEG), (Z, IshResult.NOT_AMPLIFIED, NEG),
    (O, IshResult.NOT_AMPLIFIED, NEG), (T, IshResult.NOT_AMPLIFIED, NEG),
    (H, IshResult.NOT_AMPLIFIED, POS),
    (T, IshResult.EQUIVOCAL, EQ), (H, IshResult.EQUIVOCAL, POS), (O, IshResult.EQUIVOCAL, NEG),
]


@pytest.mark.parametrize(("ihc", "ish", "expected"), WORDS,
                         ids=[f"IHC{ihc or 'none'}-{ish.value}" for ihc, ish, _ in WORDS])
def test_her2_from_components_ish_words_only(ihc, ish, expected):
    assert her2_from_components(ihc, None, ish) is expected


# --- HER2 expression label (DOMAIN.md 2 and 9.1; DESIGN.md her2_category) -----------------

CATEGORY = [
    (H, POS, None, Her2Category.POSITIVE),
    (T, POS, None, Her2Category.POSITIVE),  # 2+ with amplified ISH
    (None, POS, None, Her2Category.POSITIVE),
    (O, NEG, None, Her2Category.LOW),
    (T, NEG, None, Her2Category.LOW),  # 2+ ISH-negative
    (T, EQ, None, Her2Category.EQUIVOCAL),
    (T, Status.PENDING, None, Her2Category.EQUIVOCAL),  # 2+ awaiting ISH (issue 3: equivocal)
    (Z, NEG, "null", Her2Category.NULL),
    (Z, NEG, "ultralow", Her2Category.ULTRALOW),
    (Z, NEG, None, Her2Category.ZERO),  # IHC 0 without the detail to split null/ultralow
    (None, NEG, None, Her2Category.UNKNOWN),
    (None, UNK, None, Her2Category.UNKNOWN),
]


@pytest.mark.parametrize(("ihc", "status", "staining", "expected"), CATEGORY,
                         ids=[f"IHC{i or 'none'}-{s.value}-{st or 'plain'}" for i, s, st, _ in CATEGORY])
def test_her2_category(ihc, status, staining, expected):
    assert her2_category(ihc, status, staining) is expected


# --- subtype (DOMAIN.md 5 and 9.2): ER low positive is HR+ -----------------------------------

LOWP = Status.LOW_POSITIVE
SUBTYPES = [
    (POS, POS, NEG, Subtype.HR_POS_HER2_NEG),
    (LOWP, NEG, NEG, Subtype.HR_POS_HER2_NEG),
    (LOWP, NEG, POS, Subtype.HR_POS_HER2_POS),
    (NEG, POS, NEG, Subtype.HR_POS_HER2_NEG),
    (POS, UNK, NEG, Subtype.HR_POS_HER2_NEG),
    (NEG, POS, POS, Subtype.HR_POS_HER2_POS),
    (NEG, NEG, POS, Subtype.HR_NEG_HER2_POS),
    (NEG, NEG, NEG, Subtype.TRIPLE_NEGATIVE),
    (POS, POS, EQ, Subtype.UNKNOWN),
    (NEG, NEG, UNK, Subtype.UNKNOWN),
    (UNK, NEG, NEG, Subtype.UNKNOWN),
    (Status.PENDING, Status.PENDING, NEG, Subtype.UNKNOWN),
    (NEG, NEG, Status.PENDING, Subtype.UNKNOWN),
]


@pytest.mark.parametrize(("er", "pr", "her2", "expected"), SUBTYPES,
                         ids=[f"ER{e.value}-PR{p.value}-HER2{h.value}" for e, p, h, _ in SUBTYPES])
def test_subtype(er, pr, her2, expected):
    assert subtype(er, pr, her2) is expected


# --- interpret(record) ---------------------------------------------------------------------

def test_interpret_computes_group_and_status_from_numbers():
    record = Her2Record(source="x", her2_ihc_score=T, her2_ish_ratio=2.1, her2_ish_her2_copies=3.8)
    meaning = interpret(record)
    assert meaning.her2_ish_group == 2
    assert meaning.her2_status is NEG
    assert meaning.her2_category is Her2Category.LOW


def test_interpret_needs_both_numbers_for_a_group():
    meaning = interpret(Her2Record(source="x", her2_ihc_score=T, her2_ish_ratio=2.5))
    assert meaning.her2_ish_group is None
    assert meaning.her2_status is EQ


def test_interpret_a_call_its_components_contradict_is_no_call():
    record = Her2Record(source="x", her2_ihc_score=O, her2_reported=POS)
    meaning = interpret(record)
    assert meaning.her2_status is Status.UNKNOWN
    assert meaning.her2_category is Her2Category.UNKNOWN
    assert meaning.drop == ("her2_reported",)
    assert any(w.startswith("discordant: HER2 reported positive but IHC 1+") for w in meaning.warnings)
    assert [d.code for d in meaning.doubts] == ["discordant"]


def test_interpret_ihc3_with_group5_keeps_the_stated_call():
    record = Her2Record(source="x", her2_ihc_score=H, her2_ish_ratio=1.2, her2_ish_her2_copies=2.5,
                        her2_reported=NEG)
    meaning = interpret(record)
    assert meaning.her2_status is NEG
    assert meaning.drop == ()
    assert any("IHC 3+ with ISH group 5" in w for w in meaning.warnings)


def test_interpret_negative_beside_2plus_without_ish_is_kept():
    meaning = interpret(Her2Record(source="x", her2_ihc_score=T, her2_reported=NEG))
    assert meaning.her2_status is NEG
    assert not any(w.startswith("discordant") for w in meaning.warnings)


def test_interpret_agreeing_call_has_no_warning():
    meaning = interpret(Her2Record(source="x", her2_ihc_score=H, her2_reported=POS))
    assert meaning.her2_status is POS
    assert meaning.warnings == ()


def test_interpret_subtype_only_for_breast():
    fields = dict(er_status=NEG, pr_status=NEG, her2_ihc_score=H)
    assert interpret(Her2Record(source="x", site=Site.BREAST, **fields)).subtype is Subtype.HR_NEG_HER2_POS
    assert interpret(Her2Record(source="x", **fields)).subtype is Subtype.HR_NEG_HER2_POS
    assert interpret(Her2Record(source="x", site=Site.GASTRIC, **fields)).subtype is Subtype.UNKNOWN


def test_interpret_er_low_positive_is_not_triple_negative():
    record = Her2Record(source="x", er_status=LOWP, pr_status=NEG, her2_ihc_score=O)
    assert interpret(record).subtype is Subtype.HR_POS_HER2_NEG
