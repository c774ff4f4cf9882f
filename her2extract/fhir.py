"""FHIR R4 mCODE from a record: one Bundle per report, built with fhir.resources (validated).

The Bundle holds a placeholder Patient (no identifiers: the report's patient is not read), a
DocumentReference for the source file, one mCODE TumorMarkerTest Observation per value found,
and a DiagnosticReport listing them. LOINC codes and answers are DOMAIN.md section 7's; a breast
report gets the breast-specific codes, another site the tissue codes. Every Observation carries
its evidence: `derivedFrom` the source document, and a note with the page and the sentence.

fhir.resources 8 ships R4 resources as its R4B package (R4B changes nothing used here).
"""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.documentreference import DocumentReference, DocumentReferenceContent
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference

from .model import Evidence, Her2Record, IhcScore, IshResult, Percent, Site, Status

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
TUMOR_MARKER_TEST = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SOURCE_SYSTEM = "urn:her2extract:source"

# Per value: (breast code, tissue code), and each code's display as in DOMAIN.md 7.2.
CODES: dict[str, tuple[str, str]] = {
    "her2_ihc_score": ("85319-2", "18474-7"), "her2_ish_result": ("85318-4", "31150-6"),
    "her2_ish_ratio": ("49683-6", "49683-6"), "her2_ish_her2_copies": ("74860-8", "74860-8"),
    "her2_status": ("48676-1", "48676-1"), "er_status": ("85337-4", "40556-3"),
    "er_percent": ("85329-1", "14228-1"), "er_intensity": ("85310-1", "85310-1"),
    "pr_status": ("85339-0", "40557-1"), "pr_percent": ("85325-9", "14230-7"),
    "pr_intensity": ("85331-7", "85331-7"), "ki67_percent": ("85330-9", "29593-1"),
}
DISPLAYS = {
    "85319-2": "HER2 [Presence] in Breast cancer specimen by Immune stain",
    "18474-7": "HER2 Ag [Presence] in Tissue by Immune stain",
    "85318-4": "ERBB2 gene duplication [Presence] in Breast cancer specimen by FISH",
    "31150-6": "ERBB2 gene duplication [Presence] in Tissue by FISH",
    "49683-6": "ERBB2 gene copy number/Chromosome 17 copy number in Tissue by FISH",
    "74860-8": "ERBB2 gene copy number/nucleus in Tissue by FISH",
    "48676-1": "HER2 [Interpretation] in Tissue",
    "85337-4": "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain",
    "40556-3": "Estrogen receptor Ag [Presence] in Tissue by Immune stain",
    "85329-1": "Cells.estrogen receptor/100 cells in Breast cancer specimen by Immune stain",
    "14228-1": "Cells.estrogen receptor/100 cells in Tissue by Immune stain",
    "85310-1": "Estrogen receptor fluorescence intensity [Type] in Breast cancer specimen by Immune stain",
    "85339-0": "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain",
    "40557-1": "Progesterone receptor Ag [Presence] in Tissue by Immune stain",
    "85325-9": "Cells.progesterone receptor/100 cells in Breast cancer specimen by Immune stain",
    "14230-7": "Cells.progesterone receptor/100 cells in Tissue by Immune stain",
    "85331-7": "Progesterone receptor fluorescence intensity [Type] in Breast cancer specimen by Immune stain",
    "85330-9": "Cells.Ki-67 nuclear Ag/100 cells in Breast cancer specimen by Immune stain",
    "29593-1": "Cells.Ki-67 nuclear Ag/100 cells in Tissue by Immune stain",
}
POSITIVE = ("LA6576-8", "Positive")
NEGATIVE = ("LA6577-6", "Negative")
INDETERMINATE = ("LA11884-6", "Indeterminate")
IHC_ANSWERS = {IhcScore.ZERO: ("LA6111-4", "0"), IhcScore.ONE: ("LA11841-6", "1+"),
               IhcScore.TWO: ("LA11842-4", "2+"), IhcScore.THREE: ("LA11843-2", "3+")}
# Which record field's evidence stands behind each Observation (statuses are derived from these).
EVIDENCE_OF = {"her2_status": ("her2_reported", "her2_ihc_score", "her2_ish_result"),
               "er_status": ("er_reported", "er_percent"), "pr_status": ("pr_reported", "pr_percent")}


def _answer(code: tuple[str, str], text: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=LOINC, code=code[0], display=code[1])], text=text or code[1])


def _status_answer(status: Status) -> CodeableConcept | None:
    if status is Status.POSITIVE:
        return _answer(POSITIVE)
    if status is Status.LOW_POSITIVE:
        return _answer(POSITIVE, "Low positive (1-10 %)")
    if status is Status.NEGATIVE:
        return _answer(NEGATIVE)
    if status is Status.EQUIVOCAL:
        return _answer(INDETERMINATE, "Equivocal")
    return None


def _percent(percent: Percent) -> dict[str, Any]:
    """A percent as Quantity (with a comparator for "<1", ">95"), or a string for a range."""
    if percent.high is not None:
        return {"valueString": f"{percent} %"}
    comparator = percent.bound or None
    return {"valueQuantity": Quantity(value=percent.low, comparator=comparator, unit="%", system=UCUM, code="%")}


def _values(record: Her2Record) -> dict[str, dict[str, Any]]:
    """value[x] per field that has a value, as the TumorMarkerTest profile allows."""
    out: dict[str, dict[str, Any]] = {}
    if record.her2_ihc_score is not None:
        out["her2_ihc_score"] = {"valueCodeableConcept": _answer(IHC_ANSWERS[record.her2_ihc_score])}
    if record.her2_ish_result is not None:
        answer = {IshResult.AMPLIFIED: _answer(POSITIVE, "Amplified"),
                  IshResult.NOT_AMPLIFIED: _answer(NEGATIVE, "Not amplified"),
                  IshResult.EQUIVOCAL: _answer(INDETERMINATE, "Equivocal")}[record.her2_ish_result]
        out["her2_ish_result"] = {"valueCodeableConcept": answer}
    if record.her2_ish_ratio is not None:
        out["her2_ish_ratio"] = {"valueQuantity": Quantity(value=record.her2_ish_ratio, unit="{ratio}",
                                                           system=UCUM, code="{ratio}")}
    if record.her2_ish_her2_copies is not None:
        out["her2_ish_her2_copies"] = {"valueQuantity": Quantity(
            value=record.her2_ish_her2_copies, unit="copies per nucleus", system=UCUM, code="{copies}/{nucleus}")}
    for name in ("her2_status", "er_status", "pr_status"):
        answer = _status_answer(getattr(record, name))
        if answer is not None:
            out[name] = {"valueCodeableConcept": answer}
    for name in ("er_percent", "pr_percent", "ki67_percent"):
        if getattr(record, name) is not None:
            out[name] = _percent(getattr(record, name))
    for name in ("er_intensity", "pr_intensity"):
        if getattr(record, name) is not None:
            out[name] = {"valueCodeableConcept": CodeableConcept(text=str(getattr(record, name).value))}
    return out


def _evidence(by_field: dict[str, Evidence], name: str) -> Evidence | None:
    for field in (name, *EVIDENCE_OF.get(name, ())):
        if field in by_field:
            return by_field[field]
    return None


def _urns(source: str):
    """Entry URNs that are the same for the same report every run (uuid5 of source and number)."""
    number = 0
    while True:
        number += 1
        yield f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'her2extract:{source}#{number}')}"


def to_bundle(record: Her2Record) -> Bundle:
    """One report as an mCODE-shaped FHIR Bundle (type collection); validated on construction."""
    breast = record.site is Site.BREAST
    urns = _urns(record.source)
    patient_id, document_id, report_id = next(urns), next(urns), next(urns)
    patient = Patient(meta=Meta(tag=[Coding(system=SOURCE_SYSTEM, code="placeholder",
                                            display="patient not identified by her2extract")]))
    document = DocumentReference(
        status="current",
        subject=Reference(reference=patient_id),
        content=[DocumentReferenceContent(attachment=Attachment(title=record.source.rsplit("/", 1)[-1]))],
    )
    observations: list[tuple[str, Observation]] = []
    by_field = {ev.field: ev for ev in record.evidence}
    for name, value in _values(record).items():
        code = CODES[name][0 if breast else 1]
        evidence = _evidence(by_field, name)
        notes = []
        if evidence is not None:
            notes.append(Annotation(text=f'Evidence, page {evidence.page}: "{evidence.context or evidence.text}"'))
        observation = Observation(
            meta=Meta(profile=[TUMOR_MARKER_TEST]),
            status="final",
            category=[CodeableConcept(coding=[Coding(system=OBSERVATION_CATEGORY, code="laboratory")])],
            code=CodeableConcept(coding=[Coding(system=LOINC, code=code, display=DISPLAYS[code])]),
            subject=Reference(reference=patient_id),
            derivedFrom=[Reference(reference=document_id)],
            note=notes or None,
            **value,
        )
        observations.append((next(urns), observation))
    # a file that could not be read is no final report of anything: "cancelled" (the reading was
    # not completed), with the reason; values the record left empty on purpose get no Observation
    # and are named in the conclusion
    if record.status != "ok":
        conclusion = f"Not read: {record.error}"
    else:
        conclusion = f"HER2 {record.her2_status.value}; ER {record.er_status.value}; PR {record.pr_status.value}"
        unclear = [f"{d.marker.upper()}: {d.text}" for d in record.doubts]
        if unclear:
            conclusion += ". Left empty, as the report is unclear: " + "; ".join(dict.fromkeys(unclear))
    report = DiagnosticReport(
        status="final" if record.status == "ok" else "cancelled",
        category=[CodeableConcept(coding=[Coding(system="http://terminology.hl7.org/CodeSystem/v2-0074", code="SP",
                                                 display="Surgical Pathology")])],
        code=CodeableConcept(text="Pathology report: biomarkers read by her2extract"),
        subject=Reference(reference=patient_id),
        result=[Reference(reference=urn) for urn, _ in observations] or None,
        conclusion=conclusion,
    )
    entries = [(patient_id, patient), (document_id, document), (report_id, report), *observations]
    return Bundle(
        type="collection",
        identifier=Identifier(system=SOURCE_SYSTEM, value=record.source),
        entry=[BundleEntry(fullUrl=urn, resource=resource) for urn, resource in entries],
    )


def bundle_json(record: Her2Record) -> str:
    """The Bundle as one line of FHIR JSON (NDJSON-ready)."""
    return to_bundle(record).model_dump_json(exclude_none=True)
