"""Interpretation rules beyond the HER2 table: single-probe bands, ER/PR bands, gastric and
other sites, and every warning code (each with a record that triggers it and one that must not)."""

from __future__ import annotations

import dataclasses

import pytest

from her2extract import extract_text
from her2extract.interpret import gastric_her2, interpret, single_probe_band
from her2extract.model import (
    Her2Category, Her2Record, IhcScore, IshResult, Percent, Site, Status, Subtype,
)
from her2extract.normalize import receptor_status

BASE = Her2Record(source="t", site=Site.BREAST)


def record(**values) -> Her2Record:
    return dataclasses.replace(BASE, **values)


# --- single-probe ISH (DOMAIN.md 1.5 and 9.1) -------------------------------------------------

@pytest.mark.parametrize(("copies", "band"), [
    (3.99, Status.NEGATIVE), (4.0, Status.EQUIVOCAL), (5.99, Status.EQUIVOCAL), (6.0, Status.POSITIVE),
])
def test_single_probe_band_cutoffs_domain_1_5(copies, band):
    assert single_probe_band(copies) is band


@pytest.mark.parametrize(("ihc", "copies", "status"), [
    (IhcScore.THREE, 5.0, Status.POSITIVE),   # 4-<6 with IHC 3+: positive (DOMAIN.md 9.1)
    (IhcScore.ONE, 5.0, Status.NEGATIVE),     # 4-<6 with IHC 0/1+: negative
    (IhcScore.ZERO, 5.0, Status.NEGATIVE),
    (IhcScore.TWO, 5.0, Status.EQUIVOCAL),    # 4-<6 with IHC 2+: needs dual-probe ISH
    (None, 6.5, Status.POSITIVE),
    (None, 3.0, Status.NEGATIVE),
])
def test_single_probe_with_concurrent_ihc_domain_9_1(ihc, copies, status):
    meaning = interpret(record(her2_ihc_score=ihc, her2_ish_her2_copies=copies))
    assert meaning.her2_status is status
    assert meaning.her2_ish_group is None  # no ratio: no dual-probe group


# --- ER/PR bands (DOMAIN.md 4.1 and 9.2) --------------------------------------------------------

@pytest.mark.parametrize(("percent", "er", "pr"), [
    (Percent(0), Status.NEGATIVE, Status.NEGATIVE),
    (Percent(1, None, "<"), Status.NEGATIVE, Status.NEGATIVE),
    (Percent(1), Status.LOW_POSITIVE, Status.POSITIVE),
    (Percent(10), Status.LOW_POSITIVE, Status.POSITIVE),   # 10 % is still low positive
    (Percent(11), Status.POSITIVE, Status.POSITIVE),
])
def test_receptor_bands_from_percent_domain_9_2(percent, er, pr):
    assert receptor_status("ER", None, percent, low=True)[0] is er
    assert receptor_status("PR", None, percent, low=False)[0] is pr


# --- gastric / GEJ (DOMAIN.md 3.1) ---------------------------------------------------------------

@pytest.mark.parametrize(("ihc", "ratio", "ish", "status"), [
    (IhcScore.THREE, None, None, Status.POSITIVE),
    (IhcScore.TWO, None, None, Status.EQUIVOCAL),
    (IhcScore.TWO, 2.0, None, Status.POSITIVE),     # ratio >= 2.0 positive whatever the copies
    (IhcScore.TWO, 1.99, None, Status.NEGATIVE),
    (IhcScore.ONE, None, None, Status.NEGATIVE),
    (IhcScore.ZERO, None, None, Status.NEGATIVE),
    (None, None, IshResult.AMPLIFIED, Status.POSITIVE),
])
def test_gastric_her2_domain_3_1(ihc, ratio, ish, status):
    assert gastric_her2(ihc, ratio, ish) is status


def test_gastric_never_gets_breast_groups_labels_or_subtype():
    meaning = interpret(record(site=Site.GASTRIC, her2_ihc_score=IhcScore.ONE, her2_ish_ratio=1.2,
                               her2_ish_her2_copies=2.4, er_status=Status.POSITIVE))
    assert meaning.her2_ish_group is None
    assert meaning.her2_category is Her2Category.UNKNOWN  # HER2-low is a breast label
    assert meaning.subtype is Subtype.UNKNOWN
    assert meaning.her2_status is Status.NEGATIVE


def test_gastric_biopsy_and_resection_scoring_domain_3_1():
    few_cells = Percent(5)
    resection = interpret(record(site=Site.GASTRIC, procedure="resection",
                                 her2_ihc_score=IhcScore.THREE, her2_ihc_percent=few_cells))
    assert any(w.startswith("gastric-scoring") for w in resection.warnings)
    biopsy = interpret(record(site=Site.GASTRIC, procedure="biopsy",
                              her2_ihc_score=IhcScore.THREE, her2_ihc_percent=few_cells))
    assert not any(w.startswith("gastric-scoring") for w in biopsy.warnings)  # a cluster of >= 5 cells counts
    assert biopsy.her2_status is Status.POSITIVE


def test_other_site_reports_values_without_breast_interpretation():
    meaning = interpret(record(site=Site.OTHER, her2_ihc_score=IhcScore.THREE, er_status=Status.POSITIVE))
    assert meaning.her2_status is Status.UNKNOWN  # no derived call
    assert meaning.subtype is Subtype.UNKNOWN
    assert any(w.startswith("other-site") for w in meaning.warnings)


# --- every warning code: one record that triggers it, one that must not --------------------------

WARNINGS = [
    ("discordant", record(her2_reported=Status.POSITIVE, her2_ihc_score=IhcScore.ONE),
     record(her2_reported=Status.NEGATIVE, her2_ihc_score=IhcScore.ONE)),
    ("discordant", record(her2_ihc_score=IhcScore.THREE, her2_ish_ratio=1.2, her2_ish_her2_copies=2.0),
     record(her2_ihc_score=IhcScore.THREE, her2_ish_ratio=4.2, her2_ish_her2_copies=9.0)),
    ("needs-ish", record(her2_ihc_score=IhcScore.TWO),
     record(her2_ihc_score=IhcScore.TWO, her2_ish_result=IshResult.NOT_AMPLIFIED)),
    ("ish-group-3", record(her2_ihc_score=IhcScore.TWO, her2_ish_ratio=1.5, her2_ish_her2_copies=6.5),
     record(her2_ihc_score=IhcScore.TWO, her2_ish_ratio=1.5, her2_ish_her2_copies=3.0)),
    ("low-uncertain", record(her2_ihc_score=IhcScore.TWO, her2_ish_ratio=1.5, her2_ish_her2_copies=4.5),
     record(her2_ihc_score=IhcScore.TWO, her2_ish_ratio=1.1, her2_ish_her2_copies=2.3)),
    ("needs-dual-probe", record(her2_ihc_score=IhcScore.TWO, her2_ish_her2_copies=5.0),
     record(her2_ihc_score=IhcScore.TWO, her2_ish_her2_copies=7.0)),
    ("cut-off: an 'equivocal' ISH", record(her2_ish_result=IshResult.EQUIVOCAL),
     record(her2_ish_result=IshResult.NOT_AMPLIFIED)),
    ("cut-off: PR stated negative", record(pr_reported=Status.NEGATIVE, pr_percent=Percent(5, None, "<")),
     record(pr_reported=Status.NEGATIVE, pr_percent=Percent(1, None, "<"))),
    ("ultralow-undetermined", record(her2_ihc_score=IhcScore.ZERO),
     record(her2_ihc_score=IhcScore.ZERO, her2_ihc_staining="null")),
    ("er-low", record(er_status=Status.LOW_POSITIVE), record(er_status=Status.POSITIVE)),
    ("gastric-copies", record(site=Site.GASTRIC, her2_ish_ratio=1.6, her2_ish_her2_copies=6.4),
     record(site=Site.GASTRIC, her2_ish_ratio=1.6, her2_ish_her2_copies=3.0)),
    ("gastric-scoring", record(site=Site.GASTRIC, procedure="resection", her2_ihc_score=IhcScore.TWO,
                               her2_ihc_percent=Percent(5), her2_ish_result=IshResult.NOT_AMPLIFIED),
     record(site=Site.GASTRIC, procedure="resection", her2_ihc_score=IhcScore.TWO,
            her2_ihc_percent=Percent(30), her2_ish_result=IshResult.NOT_AMPLIFIED)),
    ("other-site", record(site=Site.OTHER), record(site=Site.BREAST)),
    ("cut-off: 3+ given", record(her2_ihc_score=IhcScore.THREE, her2_ihc_percent=Percent(30, None, ">")),
     record(her2_ihc_score=IhcScore.THREE, her2_ihc_percent=Percent(90))),
]


@pytest.mark.parametrize(("code", "fires", "quiet"), WARNINGS, ids=[w[0] for w in WARNINGS])
def test_warning_code_fires_only_when_it_should(code, fires, quiet):
    assert any(w.startswith(code) for w in interpret(fires).warnings), code
    assert not any(w.startswith(code) for w in interpret(quiet).warnings), code


TEXT_WARNINGS = [
    ("conflict", "Part 1: Left breast: ER positive (80%).\nPart 2: Right breast: ER negative (0%).\n",
     "Part 1: Left breast: ER positive (80%).\n"),
    ("history-only", "CLINICAL HISTORY: prior core biopsy showed ER positive (80%).\n",
     "CLINICAL HISTORY: prior core biopsy showed ER positive (80%).\n\nER: positive (70%).\n"),
    ("cut-off: ER stated negative", "ER: negative (3%).\n", "ER: negative (0%).\n"),
    ("smaller-tumour",
     "Tumour A (9 mm): ER positive 80%, HER2 IHC 2+; FISH HER2/CEP17 ratio 1.4, not amplified.\n"
     "Tumour B (28 mm): ER positive 95%, HER2 IHC 1+ (negative).\n",
     "Tumour A (9 mm): ER positive 80%, HER2 IHC 2+.\n"
     "Tumour B (28 mm): ER positive 95%, HER2 IHC 1+ (negative); FISH HER2/CEP17 ratio 1.4, not amplified.\n"),
    ("implausible", "HER2/CEP17 ratio: 75.5\n", "HER2/CEP17 ratio: 7.5\n"),
]


@pytest.mark.parametrize(("code", "fires", "quiet"), TEXT_WARNINGS, ids=[w[0] for w in TEXT_WARNINGS])
def test_extraction_warning_fires_only_when_it_should(code, fires, quiet):
    assert any(w.startswith(code) for w in extract_text(fires).warnings), code
    assert not any(w.startswith(code) for w in extract_text(quiet).warnings), code


# --- plain words ---------------------------------------------------------------------------------

def test_explanation_for_her2_low_and_er_low_names_both_and_asks():
    meaning = interpret(record(her2_ihc_score=IhcScore.TWO, her2_ish_result=IshResult.NOT_AMPLIFIED,
                               her2_ish_ratio=1.3, her2_ish_her2_copies=2.6, er_status=Status.LOW_POSITIVE,
                               er_percent=Percent(5), pr_status=Status.NEGATIVE))
    topics = {e.topic: e.text for e in meaning.explanation}
    assert "HER2-low" in topics["HER2"] and "ER low positive (5 %" in topics["ER"]
    assert meaning.questions and "not medical advice" in meaning.disclaimer
    assert meaning.guideline.startswith("ASCO/CAP HER2 2018")


def test_every_status_has_a_text():
    for status in (Status.POSITIVE, Status.NEGATIVE, Status.EQUIVOCAL, Status.PENDING, Status.NOT_PERFORMED):
        meaning = interpret(record(her2_reported=status, er_status=status if status is not Status.EQUIVOCAL
                                   else Status.UNKNOWN))
        assert any(e.topic == "HER2" and e.text for e in meaning.explanation), status
