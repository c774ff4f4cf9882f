"""NAACCR breast SSDIs: one test row (value -> code) for every code of DOMAIN.md section 6."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from her2extract import naaccr
from her2extract.model import Her2Record, IhcScore, IshResult, Percent, Site, Status

BASE = Her2Record(source="r.txt", site=Site.BREAST)


def rec(**fields) -> Her2Record:
    import dataclasses

    return dataclasses.replace(BASE, **fields)


# (item, record fields or a direct call, expected code) - every code in naaccr.toml appears here.
RECEPTOR_SUMMARY = [
    (Status.NEGATIVE, "0"), (Status.POSITIVE, "1"), (Status.LOW_POSITIVE, "1"), (Status.PENDING, "7"),
    (Status.UNKNOWN, "9"), (Status.NOT_PERFORMED, "9"),
]


@pytest.mark.parametrize(("status", "code"), RECEPTOR_SUMMARY)
def test_3827_3915_receptor_summary(status, code):
    assert naaccr.receptor_summary(status) == code
    assert naaccr.naaccr_items(rec(er_status=status))[3827] == code
    assert naaccr.naaccr_items(rec(pr_status=status))[3915] == code


PERCENTS = [
    # (percent, status, receptor, code)
    (Percent(0.0), Status.NEGATIVE, "er", "000"),
    (Percent(1.0, bound="<"), Status.NEGATIVE, "er", "000"),
    (Percent(0.5), Status.NEGATIVE, "pr", "000"),
    (None, Status.NEGATIVE, "er", "000"),  # stated negative, no percent
    (Percent(1.0), Status.LOW_POSITIVE, "er", "001"),
    (Percent(5.0), Status.LOW_POSITIVE, "er", "005"),
    (Percent(95.0), Status.POSITIVE, "pr", "095"),
    (Percent(100.0), Status.POSITIVE, "er", "100"),
    (Percent(1.0, 10.0), Status.POSITIVE, "er", "R10"),
    (Percent(1.0, 5.0), Status.POSITIVE, "er", "R10"),  # ER: a range takes the R code of its low end
    (Percent(11.0, 20.0), Status.POSITIVE, "er", "R20"),
    (Percent(21.0, 30.0), Status.POSITIVE, "pr", "R30"),
    (Percent(31.0, 40.0), Status.POSITIVE, "er", "R40"),
    (Percent(41.0, 50.0), Status.POSITIVE, "er", "R50"),
    (Percent(51.0, 60.0), Status.POSITIVE, "er", "R60"),
    (Percent(61.0, 70.0), Status.POSITIVE, "er", "R70"),
    (Percent(71.0, 80.0), Status.POSITIVE, "er", "R80"),
    (Percent(81.0, 90.0), Status.POSITIVE, "er", "R90"),
    (Percent(91.0, 100.0), Status.POSITIVE, "er", "R99"),
    (Percent(95.0, bound=">"), Status.POSITIVE, "er", "R99"),
    (Percent(10.0, 25.0), Status.POSITIVE, "er", "R10"),  # ER: low end 10
    (Percent(10.0, 25.0), Status.POSITIVE, "pr", "XX9"),  # PR: a range wider than 10 points
    (Percent(90.0, bound=">"), Status.POSITIVE, "pr", "R99"),  # 91-100: 9 points wide
    (None, Status.POSITIVE, "er", "XX7"),  # positive, percent not stated (newer notes)
    (None, Status.PENDING, "pr", "XX7"),
    (None, Status.UNKNOWN, "er", "XX9"),
    (Percent(5.0, bound="<"), Status.POSITIVE, "er", "XX9"),  # cannot be placed in a band
]


@pytest.mark.parametrize(("percent", "status", "receptor", "code"), PERCENTS)
def test_3826_3914_percent_or_range(percent, status, receptor, code):
    assert naaccr.receptor_percent(percent, status, receptor) == code


ALLRED = [(0, "00"), (3, "03"), (8, "08"), (None, "X9"), (9, "X9")]


@pytest.mark.parametrize(("score", "code"), ALLRED)
def test_3828_3916_allred(score, code):
    assert naaccr.allred(score) == code
    assert naaccr.naaccr_items(rec(er_allred=score))[3828] == code
    assert naaccr.naaccr_items(rec(pr_allred=score))[3916] == code


IHC = [
    ({"her2_ihc_score": IhcScore.ZERO}, "0"),
    ({"her2_ihc_score": IhcScore.ONE}, "1"),
    ({"her2_ihc_score": IhcScore.TWO}, "2"),
    ({"her2_reported": Status.EQUIVOCAL}, "2"),
    ({"her2_ihc_score": IhcScore.THREE}, "3"),
    ({"her2_reported": Status.POSITIVE}, "3"),
    ({"her2_reported": Status.NEGATIVE}, "4"),
    ({"her2_reported": Status.NEGATIVE, "her2_ish_result": IshResult.NOT_AMPLIFIED}, "9"),  # the call may be ISH's
    ({"her2_reported": Status.PENDING}, "7"),
    ({}, "9"),
]


TRUNCATION = [
    (1.99, "1.9"), (4.26, "4.2"), (2.0, "2.0"), (0.95, "0.9"), (99.99, "99.9"), (100.0, "XX.1"), (None, "XX.9"),
]


@pytest.mark.parametrize(("value", "code"), TRUNCATION)
def test_truncation_never_rounds(value, code):
    assert naaccr.truncated(value) == code


DUAL_COPIES = [
    ({"her2_ish_her2_copies": 4.26, "her2_ish_ratio": 1.99}, "4.2"),
    ({"her2_ish_her2_copies": 120.0, "her2_ish_ratio": 9.0}, "XX.1"),
    ({"her2_reported": Status.PENDING}, "XX.7"),
    ({"her2_ish_her2_copies": 6.5}, "XX.9"),  # only a single probe was done
    ({}, "XX.9"),
]


RATIOS = [
    (1.99, "", False, "1.9"), (2.0, "", False, "2.0"), (None, "<2.0", False, "XX.2"),
    (None, ">=2.0", False, "XX.3"), (None, "", True, "XX.7"), (None, "", False, "XX.9"),
]


@pytest.mark.parametrize(("ratio", "stated", "pending", "code"), RATIOS)
def test_3852_dual_probe_ratio(ratio, stated, pending, code):
    assert naaccr.dual_probe_ratio(ratio, stated, pending) == code


SINGLE_COPIES = [
    ({"her2_ish_her2_copies": 6.57}, "6.5"),
    ({"her2_ish_her2_copies": 150.0}, "XX.1"),
    ({"her2_reported": Status.PENDING}, "XX.7"),
    ({"her2_ish_her2_copies": 4.0, "her2_ish_ratio": 1.2}, "XX.9"),  # only dual probe done
]


ISH = [
    ({"her2_ish_result": IshResult.NOT_AMPLIFIED}, "0"),
    ({"her2_ish_result": IshResult.EQUIVOCAL}, "2"),
    ({"her2_ish_result": IshResult.AMPLIFIED}, "3"),
    ({"her2_reported": Status.PENDING}, "7"),
    ({}, "9"),
]


# HER2 items read from record fields: item number -> (fields, code) rows
FROM_FIELDS = {3850: IHC, 3851: DUAL_COPIES, 3853: SINGLE_COPIES, 3854: ISH}


@pytest.mark.parametrize(("item", "fields", "code"), [
    (item, fields, code) for item, rows in FROM_FIELDS.items() for fields, code in rows])
def test_her2_items_from_record_fields(item, fields, code):
    assert naaccr.naaccr_items(rec(**fields))[item] == code


OVERALL = [
    (Status.NEGATIVE, "0"), (Status.EQUIVOCAL, "0"), (Status.POSITIVE, "1"), (Status.PENDING, "7"),
    (Status.UNKNOWN, "9"),
]


@pytest.mark.parametrize(("status", "code"), OVERALL)
def test_3855_her2_overall_summary(status, code):
    assert naaccr.naaccr_items(rec(her2_status=status))[3855] == code


KI67 = [
    (Percent(25.0), False, "25.0"), (Percent(7.5), False, "7.5"), (Percent(0.0), False, "0.0"),
    (Percent(100.0), False, "100.0"), (Percent(20.0, 30.0), False, "XXX.9"), (None, False, "XXX.9"),
    (None, True, "XXX.7"),
]


@pytest.mark.parametrize(("percent", "done", "code"), KI67)
def test_3863_ki67_exact_percents_only_unverified_breast_table(percent, done, code):
    """[U] DOMAIN.md 10: the breast-schema Ki-67 table was not seen; only exact percents are coded."""
    assert naaccr.code_tables()[3863]["unverified"] is True
    assert naaccr.ki67(percent, done) == code


def test_other_sites_get_not_applicable_codes():
    assert naaccr.naaccr_items(rec(site=Site.GASTRIC, her2_status=Status.POSITIVE)) == naaccr.NOT_APPLICABLE
    assert naaccr.NOT_APPLICABLE[3826] == "XX8" and naaccr.NOT_APPLICABLE[3850] == "8"


def test_an_error_row_is_marked_as_an_error_and_coded_nothing():
    record = Her2Record(source="bad.pdf", status="error", error="encrypted PDF: a password is required")
    row = naaccr.naaccr_row(record)
    assert row["status"] == "error" and row["error"].startswith("encrypted PDF")
    assert all(row[naaccr.header(n)] == "" for n in naaccr.ITEMS), "an unread file must not look like an empty report"
    ok = naaccr.naaccr_row(rec(her2_status=Status.NEGATIVE))
    document = naaccr.naaccr_xml([row, ok])
    root = ET.fromstring(document)  # well-formed
    tumors = root.findall(".//{http://naaccr.org/naaccrxml}Tumor")
    assert len(tumors) == 1, "the unread file gets no Tumor of codes"
    assert "not read, no codes: bad.pdf: encrypted PDF" in document


@pytest.mark.parametrize("source", ["a--b.pdf", "x\x01\x7fy.pdf", "-->.pdf", "a & b <c>.pdf"])
def test_the_xml_is_well_formed_for_any_file_name(source):
    rows = [naaccr.naaccr_row(rec(source=source)), naaccr.naaccr_row(Her2Record(source=source, status="error",
                                                                            error="empty file -- (0 bytes)"))]
    ET.fromstring(naaccr.naaccr_xml(rows))


@pytest.mark.parametrize("record", [
    # a HER2 call its own IHC score contradicts: status unknown, the stated IHC stays coded as stated
    rec(her2_ihc_score=IhcScore.ONE, her2_status=Status.UNKNOWN),
    # an unmarked form or a conflict: nothing stated survives
    rec(her2_status=Status.UNKNOWN, er_status=Status.UNKNOWN, pr_status=Status.UNKNOWN),
])
def test_abstained_values_get_not_documented_codes(record):
    items = naaccr.naaccr_items(record)
    assert items[3855] == "9" and items[3827] == "9" and items[3915] == "9"
    assert items[3826] == "XX9" and items[3914] == "XX9"
    assert items[3850] in ("1", "9")


def test_every_code_in_the_tables_has_a_test_row():
    """Each code of naaccr.toml is the expected code of some test row above (a numeric range
    such as 001-100 or 0.0-99.9 by a value inside it); "not applicable" codes by the other-site test."""
    rows = {
        3827: RECEPTOR_SUMMARY, 3915: RECEPTOR_SUMMARY, 3826: PERCENTS, 3914: PERCENTS, 3828: ALLRED, 3916: ALLRED,
        3850: IHC, 3851: DUAL_COPIES + TRUNCATION, 3852: RATIOS, 3853: SINGLE_COPIES + TRUNCATION, 3854: ISH,
        3855: OVERALL, 3863: KI67,
    }
    for number, item in naaccr.code_tables().items():
        expected = {row[-1] for row in rows[number]} | {naaccr.NOT_APPLICABLE[number]}
        for code in item["codes"]:
            if "-" in code:
                low, high = code.split("-")
                inside = [c for c in expected if c.replace(".", "").isdigit() and len(c) <= len(high)
                          and float(low) <= float(c) <= float(high)]
                assert inside, f"{number}: no test row inside {code}"
            else:
                assert code in expected, f"{number}: code {code} has no test row"


def test_codes_fit_their_item_length_and_exist_in_the_tables():
    tables = naaccr.code_tables()
    samples = [rec(er_status=Status.POSITIVE, er_percent=Percent(85.0), er_allred=7, pr_status=Status.NEGATIVE,
                   pr_percent=Percent(0.0), her2_ihc_score=IhcScore.TWO, her2_ish_ratio=1.34,
                   her2_ish_her2_copies=3.06, her2_ish_result=IshResult.NOT_AMPLIFIED, her2_status=Status.NEGATIVE,
                   ki67_percent=Percent(30.0))]
    for record in samples:
        for number, code in naaccr.naaccr_items(record).items():
            assert len(code) <= tables[number]["length"], (number, code)


def test_row_headers_and_xml():
    record = rec(er_status=Status.POSITIVE, er_percent=Percent(90.0), her2_ish_ratio=1.99,
                 her2_ish_her2_copies=4.26, her2_status=Status.NEGATIVE)
    row = naaccr.naaccr_row(record)
    assert list(row) == naaccr.naaccr_columns()
    assert row["3826 Estrogen Receptor Percent Positive or Range"] == "090"
    assert row["3852 HER2 ISH Dual Probe Ratio"] == "1.9"
    root = ET.fromstring(naaccr.naaccr_xml([row]))
    ns = {"n": "http://naaccr.org/naaccrxml"}
    items = {i.get("naaccrId"): i.text for i in root.findall(".//n:Item", ns)}
    assert items["estrogenReceptorPercntPosOrRange"] == "090"
    assert items["her2IshDualProbeCopyNumber"] == "4.2"
    assert items["her2OverallSummary"] == "0"
    assert len(items) == 13
