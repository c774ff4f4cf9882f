"""The public Python API on short sentences, and the one-way import order of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import her2extract
from her2extract import extract, extract_text
from her2extract.model import Her2Record, IhcScore, IshMethod, IshResult, Percent, Status, TextSource

PACKAGE = Path(her2extract.__file__).resolve().parent


def test_public_api_exports():
    for name in ("extract", "extract_file", "extract_text", "Her2Record", "Evidence",
                 "UnreadableDocument", "PatternFileError", "NormalizationError"):
        assert name in her2extract.__all__
        assert hasattr(her2extract, name)


def test_extract_reads_a_file(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("HER2 (IHC): 2+ (equivocal)\n", encoding="utf-8")
    record = extract(path)
    assert isinstance(record, Her2Record)
    assert record.source == str(path)
    assert record.her2_ihc_score is IhcScore.TWO
    assert record.pages == 1 and record.text_source is TextSource.TEXT


def test_extract_text_typed_values():
    record = extract_text("ER: positive (90%), PR negative (<1%), HER2 (IHC): 3+")
    assert record.status == "ok"
    assert record.er_status is Status.POSITIVE
    assert record.er_percent == Percent(90.0)
    assert record.pr_status is Status.NEGATIVE
    assert record.pr_percent == Percent(1.0, None, "<")
    assert record.her2_ihc_score is IhcScore.THREE
    assert record.her2_status is Status.POSITIVE
    assert str(record.subtype) == "HR+/HER2+"


RECEPTOR_PHRASES = [
    ("ER positive (90%)", "er", Status.POSITIVE, "90"),
    ("ER negative (0%)", "er", Status.NEGATIVE, "0"),
    ("ER negative (<1%)", "er", Status.NEGATIVE, "<1"),
    ("PR negative (<1%)", "pr", Status.NEGATIVE, "<1"),
    ("ER: low positive (5%)", "er", Status.LOW_POSITIVE, "5"),
    ("PR: positive (5%)", "pr", Status.POSITIVE, "5"),
    ("Estrogen receptor: 8%", "er", Status.LOW_POSITIVE, "8"),
    ("Progesterone receptor: <1%", "pr", Status.NEGATIVE, "<1"),
]


@pytest.mark.parametrize(("text", "marker", "status", "percent"), RECEPTOR_PHRASES,
                         ids=[t for t, *_ in RECEPTOR_PHRASES])
def test_extract_text_receptor_status_and_percent(text, marker, status, percent):
    record = extract_text(text)
    assert getattr(record, f"{marker}_status") is status
    value = getattr(record, f"{marker}_percent")
    assert value is not None and str(value) == percent


def test_extract_text_pending_fills_no_result():
    record = extract_text("HER2 FISH to follow.")
    assert record.her2_ish_method is None
    assert record.her2_ish_result is None
    assert record.her2_ish_ratio is None
    assert record.her2_ihc_score is None
    assert record.her2_reported is Status.PENDING
    assert record.her2_status is Status.PENDING


def test_extract_text_hypothetical_fills_nothing():
    record = extract_text("If HER2 is amplified, trastuzumab may be considered.")
    assert record.her2_ish_result is None
    assert record.her2_reported is None
    assert record.her2_status is Status.UNKNOWN
    assert record.evidence == () or all(ev.field == "site" for ev in record.evidence)


def test_extract_text_hypothetical_score_fills_nothing():
    record = extract_text("Should HER2 be scored 3+, trastuzumab would be indicated.")
    assert record.her2_ihc_score is None
    assert record.her2_status is Status.UNKNOWN


def test_extract_text_not_performed_fills_no_ish():
    record = extract_text("HER2 in situ hybridization was not performed.")
    assert record.her2_ish_method is None
    assert record.her2_ish_result is None
    assert record.her2_status in (Status.NOT_PERFORMED, Status.UNKNOWN)


def test_extract_text_history_only_is_used_with_warning():
    record = extract_text("Prior core biopsy showed ER positive (80%).")
    assert record.er_status is Status.POSITIVE
    assert any(w.startswith("history-only") for w in record.warnings)
    assert all(ev.assertion == "historical" for ev in record.evidence if ev.field.startswith("er_"))


@pytest.mark.parametrize("gap", ["\n\n", "\n"], ids=["blank-line", "new-line"])
def test_extract_text_own_result_beats_history(gap):
    record = extract_text(f"Prior core biopsy showed ER positive (80%).{gap}ER: negative (0%).")
    assert record.er_status is Status.NEGATIVE
    assert record.er_percent == Percent(0.0)
    assert not any(w.startswith("history-only") for w in record.warnings)
    assert not any(w.startswith("conflict") for w in record.warnings)


def test_extract_text_split_plus_sign():
    assert extract_text("HER2/neu 3 +").her2_ihc_score is IhcScore.THREE


def test_extract_text_decimal_comma_ratio():
    assert extract_text("Ratio HER2/CEP17: 1,3").her2_ish_ratio == pytest.approx(1.3)


def test_extract_text_fish_result():
    record = extract_text("HER2 FISH: not amplified, HER2/CEP17 ratio 1.2.")
    assert record.her2_ish_method is IshMethod.FISH
    assert record.her2_ish_result is IshResult.NOT_AMPLIFIED
    assert record.her2_ish_ratio == pytest.approx(1.2)
    assert record.her2_status is Status.NEGATIVE


def test_extract_text_evidence_indexes_the_text():
    text = "Estrogen receptor: 95%, strong. HER2 (IHC): 1+."
    record = extract_text(text)
    by_field = {ev.field: ev for ev in record.evidence}
    assert record.her2_ihc_score is IhcScore.ONE
    ev = by_field["her2_ihc_score"]
    assert text[ev.start:ev.end] == ev.text == "1+"
    assert (ev.page, ev.page_start, ev.page_end) == (1, ev.start, ev.end)


# --- import order ------------------------------------------------------------------------------

ORDER = ["errors", "model", "literals", "gaps", "layout", "ingest", "text", "rules", "recognize", "link", "statements", "match", "normalize", "interpret", "readings",
         "pipeline", "export", "naaccr", "fhir", "batch", "uploads", "crops", "webreader", "web", "cli"]
SIBLINGS = {"ingest", "text", "rules"}  # one stage; none may import another
LATER: dict[str, str] = {}  # DESIGN.md stages not written yet rank with the CLI
ENTRY = {"__init__", "__main__"}
THIRD_PARTY_HOMES = {"spacy": {"match", "recognize"}, "pypdfium2": {"ingest"}, "pdfplumber": {"ingest"}, "pandas": {"export"},
                     "fastapi": {"web"}, "uvicorn": {"cli"}, "pebble": {"batch", "web"}, "python_multipart": {"uploads"}, "ahocorasick": {"literals"}, "distributed": {"batch"}, "fhir": {"fhir"}}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(package modules imported, top-level third-party packages imported) anywhere in a file."""
    own, other = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 1:
                if node.module:
                    own.add(node.module.split(".")[0])
                else:
                    own.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "her2extract":
                parts = node.module.split(".")
                own.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
            elif node.module:
                other.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "her2extract":
                    own.add(parts[1] if len(parts) > 1 else "__init__")
                else:
                    other.add(parts[0])
    return own, other


def _modules() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}


def test_every_stage_module_exists():
    assert set(ORDER) <= set(_modules())


@pytest.mark.parametrize("name", [n for n in ORDER])
def test_module_imports_only_leftwards(name):
    rank = {m: i for i, m in enumerate(ORDER)}
    own, _ = _imports(_modules()[name])
    for target in own:
        assert target != "__init__", f"{name} imports the package root"
        assert target in rank, f"{name} imports {target}, which has no place in the stage order"
        assert rank[target] < rank[name], f"{name} imports {target}, a later stage"
        if name in SIBLINGS:
            assert target not in SIBLINGS, f"{name} imports its sibling stage {target}"


def test_no_unplaced_modules():
    unplaced = set(_modules()) - set(ORDER) - ENTRY - set(LATER)
    assert not unplaced, f"modules outside the stage order: {sorted(unplaced)}"


def test_later_modules_import_only_earlier_stages():
    rank = {m: i for i, m in enumerate(ORDER)}
    for name, peer in LATER.items():
        path = _modules().get(name)
        if path is None:
            continue
        own, _ = _imports(path)
        assert all(rank.get(t, len(ORDER)) <= rank[peer] and t != "__init__" for t in own), (name, own)


@pytest.mark.parametrize("library", sorted(THIRD_PARTY_HOMES))
def test_heavy_library_stays_in_its_module(library):
    users = {name for name, path in _modules().items() if library in _imports(path)[1]}
    assert users <= THIRD_PARTY_HOMES[library], f"{library} imported by {sorted(users)}"


def test_marker_table_row_numbers_are_percents_only_under_a_percent_header():
    row = "ER (SP1) Positive 85 Strong\nPR (1E2) Negative 0 -\n"
    in_table = extract_text("Marker Result % positive Intensity\n" + row)
    assert (str(in_table.er_percent), str(in_table.pr_percent)) == ("85", "0")
    assert in_table.er_intensity == "strong"
    loose = extract_text("Summary of stains\n" + row)
    assert loose.er_percent is None and loose.pr_percent is None
    assert loose.er_status == "positive"  # the status words still count outside a table


def test_final_her2_status_line_outranks_the_single_tests():
    record = extract_text(
        "HER2 IHC (4B5): 2+ (equivocal)\n"
        "HER2 FISH: ratio 1.6, not amplified\n"
        "Final HER2 status: Negative\n"
    )
    assert record.her2_reported == "negative"
    assert record.her2_status == "negative"


def test_exact_percent_beats_a_range_that_contains_it_but_not_a_bound_that_excludes_it():
    inside = extract_text("ER low positive (5%, weak).\n\nComment: low-level ER expression (1-10% of cells).")
    assert str(inside.er_percent) == "5"
    outside = extract_text("ER: positive, >95%.\n\nER: positive, 95%.")
    assert outside.er_percent is None  # ">95" does not admit 95: a conflict, left empty
    assert any(w.startswith("conflict: ER percent") for w in outside.warnings)


def test_a_quote_does_not_fill_the_gaps_of_a_marker_the_report_tested_itself():
    record = extract_text(
        "CLINICAL HISTORY: Prior core biopsy showed HER2 2+ with FISH not amplified (ratio 1.2).\n\n"
        "DIAGNOSIS: Invasive carcinoma. HER2 (4B5): 1+ (negative).\n"
    )
    assert record.her2_ihc_score == "1+"
    assert record.her2_ish_result is None and record.her2_ish_ratio is None and record.her2_ish_method is None
    assert not any(w.startswith("history-only") for w in record.warnings)


def _two_parts(side_a: str, side_b: str) -> str:
    return (
        f"DIAGNOSIS:\nPart 1: {side_a} breast, core biopsy: invasive ductal carcinoma, 0.6 cm.\n"
        "  ER positive (80%), strong. HER2 (4B5): 1+ (negative).\n"
        f"Part 2: {side_b} breast, lumpectomy: invasive ductal carcinoma, 2.1 cm.\n"
        "  ER positive (95%), strong. HER2 (4B5): 2+ (equivocal).\n"
    )


def test_largest_tumour_in_one_breast_gives_the_reportable_values():
    record = extract_text(_two_parts("Left", "Left"))
    assert str(record.er_percent) == "95"
    assert record.her2_ihc_score == "2+"


def test_left_and_right_primaries_that_disagree_stay_empty_with_a_warning():
    record = extract_text(_two_parts("Left", "Right"))
    assert record.er_percent is None and record.her2_ihc_score is None
    assert any(w.startswith("conflict: HER2") for w in record.warnings)
    assert record.er_intensity == "strong"  # what both tumours state alike stays
    # a detail of one tumour must not stand alone
    one = extract_text(_two_parts("Left", "Right").replace("ER positive (95%), strong.", "ER positive (95%)."))
    assert one.er_percent is None and one.er_intensity is None


def test_a_definition_after_a_semicolon_is_still_a_definition():
    record = extract_text(
        "HER2 IHC (4B5): score 1+ (negative).\n\n"
        "COMMENT: For gastric resection specimens, HER2 IHC is scored using a 10% tumour cell "
        "cut-off; IHC 3+ or IHC 2+ with ISH amplification is considered positive.\n"
    )
    assert record.her2_ihc_score == "1+"


def test_a_wrapped_line_between_her2_and_its_call_is_read():
    record = extract_text("Nottingham grade 3. ER positive (90%), PR negative (0%), HER2\nnegative (score 1+).\n")
    assert record.her2_ihc_score == "1+" and record.her2_reported == "negative"


def test_a_positive_margin_is_not_a_her2_call():
    record = extract_text("HER2 1+.\nThe prior excision had a focally positive anterior margin.\n")
    assert record.her2_reported is None


def test_a_cap_category_in_brackets_gives_way_to_the_stated_percent():
    record = extract_text(
        "Estrogen Receptor (ER) Status: Positive (greater than 10% of cells\n"
        "  demonstrate nuclear positivity)\n"
        "Percentage of Cells With Nuclear Positivity: 91-100%\n"
    )
    assert str(record.er_percent) == "91-100"


def test_a_guideline_condition_is_no_ish_result():
    record = extract_text("HER2 IHC: 1+ (negative).\n\nNote: HER2 ISH: amplified if HER2/CEP17 ratio >=2.0.\n")
    assert record.her2_ish_result is None
    assert record.her2_status == "negative"


def test_history_ends_with_its_paragraph():
    record = extract_text("CLINICAL HISTORY: core biopsy ER 90%.\n\nCurrent: ER positive (70%).\n")
    assert str(record.er_percent) == "70"
    assert not any(w.startswith("history-only") for w in record.warnings)


def test_an_amending_addendum_replaces_the_first_and_keeps_its_subheadings():
    record = extract_text(
        "DIAGNOSIS: Invasive ductal carcinoma. HER2 IHC 2+ (equivocal); FISH to follow.\n\n"
        "ADDENDUM 1:\nHER2 FISH: HER2/CEP17 ratio 1.9. RESULT: NOT AMPLIFIED. Final HER2: NEGATIVE.\n\n"
        "ADDENDUM 2 (amended):\nRecount: HER2/CEP17 ratio 2.9.\n"
        "Interpretation: HER2 AMPLIFIED. Corrected final HER2 status: POSITIVE.\n"
    )
    assert record.her2_ish_ratio == 2.9
    assert record.her2_ish_result == "amplified"
    assert record.her2_status == "positive"


def test_a_test_done_only_on_a_smaller_focus_is_not_reported():
    record = extract_text(
        "Tumour A (upper inner quadrant, 9 mm): invasive lobular carcinoma.\n"
        "  ER positive 80%, HER2 IHC 2+; FISH HER2/CEP17 ratio 1.4, not amplified.\n"
        "Tumour B (lower outer quadrant, 28 mm): invasive carcinoma NST.\n"
        "  ER positive 95%, HER2 IHC 1+ (negative).\n"
    )
    assert str(record.er_percent) == "95" and record.her2_ihc_score == "1+"
    assert record.her2_ish_ratio is None and record.her2_ish_result is None
    assert any(w.startswith("smaller-tumour: HER2/CEP17 ratio") for w in record.warnings)


def test_a_biopsy_named_with_its_accession_number_is_another_case():
    record = extract_text(
        "Core biopsy (LS24-2201, this laboratory): ER negative (<1%), HER2 IHC 2+ with FISH ratio 1.8.\n"
        "HER2 IHC repeated on the excision: 3+ (complete, intense circumferential staining).\n"
    )
    assert record.her2_ihc_score == "3+"
    assert record.her2_ish_ratio is None


def test_dictated_lowercase_report_is_read():
    record = extract_text(
        "gross: three cores up to 1.4 cm.\n"
        "micro: invasive ductal carcinoma, grade 2.\n"
        "receptors: er is positive at about 60 percent with moderate staining. pr is also positive, "
        "roughly 20 percent, weak. her2 by ihc is 2 plus, equivocal, and the block has been sent for fish.\n"
    )
    assert (record.er_status, str(record.er_percent), record.er_intensity) == ("positive", "60", "moderate")
    assert (record.pr_status, str(record.pr_percent)) == ("positive", "20")
    assert record.her2_ihc_score == "2+"


def test_h_score_between_the_name_and_its_call():
    record = extract_text("Oestrogen receptor: H-score 240 (Positive)\nProgesterone receptor: H-score 0 (Negative)\n")
    assert (record.er_status, record.pr_status) == ("positive", "negative")
    assert record.er_percent is None  # an H-score is not a percent


def test_pipe_table_with_intensity_before_percent():
    record = extract_text(
        "| Marker | Clone | Result      | Intensity | % cells |\n"
        "| ER     | SP1   | Positive    | Strong    | 95      |\n"
        "| PR     | 1E2   | Positive    | Moderate  | 60      |\n"
    )
    assert (str(record.er_percent), record.er_intensity) == ("95", "strong")
    assert (str(record.pr_percent), record.pr_intensity) == ("60", "moderate")


def test_a_results_heading_ends_a_clinical_history():
    record = extract_text(
        "Clinical diagnosis: Cancer of the left breast.\n"
        "Results of immunohistochemical examination:\n"
        "Estrogen receptors found in over 75% of neoplastic cell nuclei. "
        "HER2 protein stained with HercepTest by DAKO. Score = 2+, FISH verification recommended.\n"
    )
    assert record.her2_ihc_score == "2+" and str(record.er_percent) == ">75"
    assert not any(w.startswith("history-only") for w in record.warnings)


def test_a_call_beyond_tnm_codes_belongs_to_another_column():
    record = extract_text("ESTROGEN RECEPTORS: PROGESTERONE RECEPTORS: HER2/NEU: Other: N/A pT1b pNX pMX positive positive zero or 1+\n")
    assert record.her2_reported is None


def test_pending_stays_when_the_only_addendum_word_ends_a_wrapped_sentence():
    record = extract_text("DIAGNOSIS: ER, PR and HER2 have been ordered and will be reported in an\naddendum.\nB. Lymph nodes: negative.\n")
    assert record.her2_reported == "pending" and record.er_status == "pending"


def test_pending_gives_way_to_an_addendum_even_unreadable():
    record = extract_text(
        "DIAGNOSIS: Invasive carcinoma. Results of special stains (ER, PR, HER2) will be reported in an addendum.\n\n"
        "ADDENDUM:\nH3R?/N3U (HERC#PT3ST): N3G@TIV3 (ST@INING 0F 1~)\n"
    )
    assert record.her2_reported is None and record.her2_status == "unknown"
    assert any(w.startswith("pending-answered") for w in record.warnings)


def test_both_receptors_called_after_each_is_named():
    record = extract_text(
        "DISTINCT INTRANUCLEAR STAINING IS IDENTIFIED FOR ESTROGEN RECEPTOR (90%) AND FOR PROGESTERONE RECEPTOR\n"
        "(60%). THEREFORE, BOTH ARE INTERPRETED AS POSITIVE.\n"
    )
    assert (record.er_status, record.pr_status) == ("positive", "positive")
    assert (str(record.er_percent), str(record.pr_percent)) == ("90", "60")
