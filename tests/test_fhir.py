"""FHIR R4 mCODE Bundles: every sample report's Bundle validates; codes and value types per marker."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from her2extract.fhir import CODES, DISPLAYS, TUMOR_MARKER_TEST, bundle_json, to_bundle
from her2extract.model import Her2Record, IhcScore, IshResult, Percent, Site, Status
from her2extract.pipeline import safe_extract

# LOINC codes from DOMAIN.md 7.2, breast and tissue versions.
EXPECTED_CODES = {
    "her2_ihc_score": ("85319-2", "18474-7"), "her2_ish_result": ("85318-4", "31150-6"),
    "her2_ish_ratio": ("49683-6",), "her2_ish_her2_copies": ("74860-8",), "her2_status": ("48676-1",),
    "er_status": ("85337-4", "40556-3"), "er_percent": ("85329-1", "14228-1"), "er_intensity": ("85310-1",),
    "pr_status": ("85339-0", "40557-1"), "pr_percent": ("85325-9", "14230-7"), "pr_intensity": ("85331-7",),
    "ki67_percent": ("85330-9", "29593-1"),
}
VALUE_TYPE = {
    "her2_ihc_score": "valueCodeableConcept", "her2_ish_result": "valueCodeableConcept",
    "her2_ish_ratio": "valueQuantity", "her2_ish_her2_copies": "valueQuantity", "her2_status": "valueCodeableConcept",
    "er_status": "valueCodeableConcept", "pr_status": "valueCodeableConcept", "er_percent": "valueQuantity",
    "pr_percent": "valueQuantity", "ki67_percent": "valueQuantity", "er_intensity": "valueCodeableConcept",
    "pr_intensity": "valueCodeableConcept",
}
FIELD_OF_CODE = {code: field for field, codes in EXPECTED_CODES.items() for code in codes}


def _observations(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def test_codes_table_matches_domain():
    assert {f: tuple(dict.fromkeys(c)) for f, c in CODES.items()} == EXPECTED_CODES
    assert set(DISPLAYS) == {c for codes in CODES.values() for c in codes}


def test_every_sample_bundle_validates_and_is_coded_right(samples):
    checked = 0
    for path in sorted(p for p in samples.iterdir() if p.suffix in {".txt", ".pdf"}):
        record = safe_extract(path)
        data = json.loads(bundle_json(record))
        Bundle.model_validate(data)  # raises on an invalid Bundle
        assert data["identifier"]["value"] == str(path)
        report = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
        urls = {e["fullUrl"] for e in data["entry"]}
        assert {r["reference"] for r in report.get("result", [])} <= urls
        for obs in _observations(data):
            assert obs["meta"]["profile"] == [TUMOR_MARKER_TEST]
            assert obs["category"][0]["coding"][0]["code"] == "laboratory"
            coding = obs["code"]["coding"][0]
            assert coding["system"] == "http://loinc.org"
            field = FIELD_OF_CODE[coding["code"]]
            breast = record.site is Site.BREAST
            if len(EXPECTED_CODES[field]) == 2:
                assert coding["code"] == EXPECTED_CODES[field][0 if breast else 1]
            value_keys = [k for k in obs if k.startswith("value")]
            expected = VALUE_TYPE[field]
            if field.endswith("_percent") and getattr(record, field).high is not None:
                expected = "valueString"  # a range ("1-10 %") has no Quantity form
            assert value_keys == [expected], (path.name, field, value_keys)
            assert obs["subject"]["reference"] in urls and obs["derivedFrom"][0]["reference"] in urls
            checked += 1
    assert checked > 200


def test_values_and_evidence_of_one_record():
    from her2extract.model import Evidence

    evidence = (Evidence("her2_ihc_score", "r", "2+", 10, 12, 1, 10, 12, context="HER2 (IHC): 2+"),)
    record = Her2Record(source="r.pdf", site=Site.BREAST, her2_ihc_score=IhcScore.TWO,
                        her2_ish_result=IshResult.NOT_AMPLIFIED, her2_ish_ratio=1.3, her2_status=Status.NEGATIVE,
                        er_status=Status.LOW_POSITIVE, er_percent=Percent(5.0), pr_status=Status.NEGATIVE,
                        pr_percent=Percent(1.0, bound="<"), evidence=evidence)
    data = json.loads(bundle_json(record))
    by_code = {o["code"]["coding"][0]["code"]: o for o in _observations(data)}
    assert by_code["85319-2"]["valueCodeableConcept"]["coding"][0]["code"] == "LA11842-4"  # 2+
    assert by_code["85319-2"]["note"][0]["text"] == 'Evidence, page 1: "HER2 (IHC): 2+"'
    assert by_code["85318-4"]["valueCodeableConcept"]["coding"][0]["code"] == "LA6577-6"  # not amplified: negative
    assert by_code["49683-6"]["valueQuantity"]["value"] == 1.3
    assert by_code["48676-1"]["valueCodeableConcept"]["coding"][0]["code"] == "LA6577-6"
    assert by_code["85337-4"]["valueCodeableConcept"]["text"] == "Low positive (1-10 %)"
    assert by_code["85325-9"]["valueQuantity"] == {"value": 1.0, "comparator": "<", "unit": "%",
                                                   "system": "http://unitsofmeasure.org", "code": "%"}
    assert to_bundle(record).model_dump_json() == to_bundle(record).model_dump_json()  # same ids every run


@pytest.mark.parametrize(("score", "answer"), [(IhcScore.ZERO, "LA6111-4"), (IhcScore.ONE, "LA11841-6"),
                                              (IhcScore.TWO, "LA11842-4"), (IhcScore.THREE, "LA11843-2")])
def test_her2_ihc_answers(score, answer):
    data = json.loads(bundle_json(Her2Record(source="r", site=Site.GASTRIC, her2_ihc_score=score)))
    obs = _observations(data)[0]
    assert obs["code"]["coding"][0]["code"] == "18474-7"  # not breast: the tissue code
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == answer


def _report(bundle: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")


def test_an_error_row_is_no_final_report_and_has_no_observation():
    record = Her2Record(source="bad.pdf", status="error", error="corrupt PDF: no page could be read")
    bundle = json.loads(bundle_json(record))
    Bundle.model_validate(bundle)
    report = _report(bundle)
    assert report["status"] == "cancelled"
    assert report["conclusion"] == "Not read: corrupt PDF: no page could be read"
    assert not _observations(bundle) and "result" not in report


def test_abstained_values_get_no_observation_and_are_named_in_the_conclusion():
    from her2extract.pipeline import extract_text

    record = extract_text("Breast, left, core biopsy: invasive ductal carcinoma.\n"
                          "HER2: Positive (IHC score 1+). No ISH was done.\n"
                          "ER  [ ] Positive  [ ] Negative\n")
    assert record.her2_status is Status.UNKNOWN and record.er_status is Status.UNKNOWN
    bundle = json.loads(bundle_json(record))
    codes = {o["code"]["coding"][0]["code"] for o in _observations(bundle)}
    assert "48676-1" not in codes, "no HER2 status Observation for a discordant call"
    assert "85337-4" not in codes, "no ER status Observation for an unmarked form"
    assert "85319-2" in codes, "the IHC score the report states stays an Observation"
    report = _report(bundle)
    assert report["status"] == "final"
    assert "Left empty, as the report is unclear" in report["conclusion"]
    assert "HER2" in report["conclusion"] and "ER" in report["conclusion"]
