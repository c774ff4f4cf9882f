"""End to end: every sample report against its hand-checked expected row, and its evidence.

sample_reports/README.md: each NAME.expected.json holds every CSV column except `source`;
`warnings` is "" there because warnings are reviewed separately, so an empty expected
`warnings` is not compared (a non-empty one is).
"""

from __future__ import annotations

import json
from collections import Counter

from her2extract.export import to_row
from her2extract.model import CSV_COLUMNS
from her2extract.pipeline import extract_file, read_and_extract
from her2extract.text import clean_string, clean_text



def _expected(report):
    return json.loads(report.with_name(f"{report.stem}.expected.json").read_text(encoding="utf-8"))


def test_sample_report_matches_golden(report):
    expected = _expected(report)
    assert set(expected) == set(CSV_COLUMNS) - {"source"}, "golden file keys differ from the CSV contract"
    row = to_row(extract_file(report))
    assert list(row) == list(CSV_COLUMNS)
    assert row.pop("source") == str(report)
    if expected.get("warnings", "") == "":
        row.pop("warnings")
        expected.pop("warnings", None)
    diff = {k: {"got": row.get(k), "expected": v} for k, v in expected.items() if row.get(k) != v}
    assert not diff, f"{report.name}: {diff}"


def test_sample_report_evidence_points_at_its_text(report):
    document, record = read_and_extract(report)
    clean = clean_text(document)
    for ev in record.evidence:
        assert clean.text[ev.start:ev.end] == ev.text, (ev.field, ev.rule_id)
        assert 1 <= ev.page <= len(document.pages), (ev.field, ev.page)
        original = document.pages[ev.page - 1].text
        assert 0 <= ev.page_start < ev.page_end <= len(original), (ev.field, ev.page_start, ev.page_end)
        assert clean_string(original[ev.page_start:ev.page_end]).text == ev.text, (
            ev.field, original[ev.page_start:ev.page_end], ev.text)


def test_sample_report_every_value_has_evidence(report):
    record = extract_file(report)
    fields = {ev.field for ev in record.evidence}
    for name in ("her2_ihc_score", "her2_ihc_percent", "her2_ihc_clone", "her2_ish_method",
                 "her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_cep17_copies", "her2_ish_cells",
                 "her2_ish_result", "her2_reported", "er_percent", "er_intensity", "er_allred",
                 "pr_percent", "pr_intensity", "pr_allred", "ki67_percent", "site"):
        if getattr(record, name) is not None:
            assert name in fields, f"{name} is filled without evidence"


def test_sample_stems_unique_and_paired(samples, sample_reports):
    assert sample_reports, "no sample reports found"
    stems = Counter(p.stem for p in sample_reports)
    assert [s for s, n in stems.items() if n > 1] == []
    goldens = {p.name[: -len(".expected.json")] for p in samples.glob("*.expected.json")}
    assert goldens == set(stems), {"no report": goldens - set(stems), "no golden": set(stems) - goldens}
