"""Normalizers (matched text -> typed value), receptor status, and choosing the reportable value."""

from __future__ import annotations

import pytest

from her2extract.errors import NormalizationError
from her2extract.model import (
    Assertion, Evidence, IhcScore, Intensity, IshMethod, IshResult, Mention, Percent, Status,
)
from her2extract.normalize import (
    choose, normalize_allred, normalize_cells, normalize_clone, normalize_copies,
    normalize_ihc, normalize_intensity, normalize_ish_result, normalize_method,
    normalize_percent, normalize_ratio, normalize_status, receptor_status,
)


def _ids(table):
    return [repr(row[0]) for row in table]


# --- IHC score -----------------------------------------------------------------------------

IHC_OK = [
    ("0", IhcScore.ZERO), ("zero", IhcScore.ZERO), ("1+", IhcScore.ONE), ("2+", IhcScore.TWO),
    ("2 +", IhcScore.TWO), ("3+", IhcScore.THREE), ("3 plus", IhcScore.THREE),
    ("(2+)", IhcScore.TWO), ("score 1+", IhcScore.ONE), ("l+", IhcScore.ONE), (" 3+ ", IhcScore.THREE),
]
IHC_BAD = ["0 / 1+", "1+ to 2+", "zero or 1+", "4+", "negative", "", "2+/3+", "10"]


@pytest.mark.parametrize(("raw", "expected"), IHC_OK, ids=_ids(IHC_OK))
def test_normalize_ihc_accepts(raw, expected):
    assert normalize_ihc(raw) is expected


@pytest.mark.parametrize("raw", IHC_BAD)
def test_normalize_ihc_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_ihc(raw)


# --- percent -------------------------------------------------------------------------------

PERCENT_OK = [
    ("90%", "90"), ("90 %", "90"), ("0%", "0"), ("100%", "100"), ("<1%", "<1"),
    ("less than 1%", "<1"), ("1-10 %", "1-10"), ("1 - 10%", "1-10"), ("10 to 20%", "10-20"),
    ("over 75%", ">75"), (">95%", ">95"), ("approximately 50%", "50"), ("80,5 %", "80.5"),
    ("<=10%", "<=10"), ("at least 1%", ">=1"),
]
PERCENT_BAD = ["101%", "150 %", "50-40%", "-5%", "ten", "", "90-120%", ">100%"]


@pytest.mark.parametrize(("raw", "expected"), PERCENT_OK, ids=_ids(PERCENT_OK))
def test_normalize_percent_accepts(raw, expected):
    value = normalize_percent(raw)
    assert isinstance(value, Percent)
    assert str(value) == expected


@pytest.mark.parametrize("raw", PERCENT_BAD)
def test_normalize_percent_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_percent(raw)


@pytest.mark.parametrize(("raw", "lower", "upper"), [
    ("<1%", 0.0, 1.0), (">95%", 95.0, 100.0), ("1-10%", 1.0, 10.0), ("40%", 40.0, 40.0),
])
def test_percent_bounds(raw, lower, upper):
    value = normalize_percent(raw)
    assert (value.lower, value.upper) == (lower, upper)


# --- numbers: ratio, copies, cells, Allred --------------------------------------------------

RATIO_OK = [("2,3", 2.3), ("2.3", 2.3), ("1. 1", 1.1), ("0.5", 0.5), ("2.0", 2.0), ("12.5", 12.5)]
RATIO_BAD = ["0", "60", "abc", "", "-1.2", "0.0"]


@pytest.mark.parametrize(("raw", "expected"), RATIO_OK, ids=_ids(RATIO_OK))
def test_normalize_ratio_accepts(raw, expected):
    assert normalize_ratio(raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", RATIO_BAD)
def test_normalize_ratio_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_ratio(raw)


COPIES_OK = [("4.5", 4.5), ("6,1", 6.1), ("2", 2.0), ("25.3", 25.3)]
COPIES_BAD = ["0", "100", "250", "x", ""]


@pytest.mark.parametrize(("raw", "expected"), COPIES_OK, ids=_ids(COPIES_OK))
def test_normalize_copies_accepts(raw, expected):
    assert normalize_copies(raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", COPIES_BAD)
def test_normalize_copies_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_copies(raw)


CELLS_OK = [("60", 60), ("Sixty", 60), ("twenty", 20), ("200", 200), ("one hundred", 100)]
CELLS_BAD = ["0", "abc", "", "2.5", "100001"]


@pytest.mark.parametrize(("raw", "expected"), CELLS_OK, ids=_ids(CELLS_OK))
def test_normalize_cells_accepts(raw, expected):
    value = normalize_cells(raw)
    assert value == expected and isinstance(value, int)


@pytest.mark.parametrize("raw", CELLS_BAD)
def test_normalize_cells_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_cells(raw)


ALLRED_OK = [("0", 0), ("2", 2), ("3/8", 3), ("7/8", 7), ("7 / 8", 7), ("8", 8)]
ALLRED_BAD = ["1", "9", "10", "x", "", "1/8"]


@pytest.mark.parametrize(("raw", "expected"), ALLRED_OK, ids=_ids(ALLRED_OK))
def test_normalize_allred_accepts(raw, expected):
    assert normalize_allred(raw) == expected


@pytest.mark.parametrize("raw", ALLRED_BAD)
def test_normalize_allred_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_allred(raw)


# --- words: intensity, status, ISH result, method, clone -----------------------------------

INTENSITY_OK = [
    ("strong", Intensity.STRONG), ("Strongly", Intensity.STRONG), ("weak", Intensity.WEAK),
    ("faint", Intensity.WEAK), ("moderate", Intensity.MODERATE), ("intermediate", Intensity.MODERATE),
    ("weak to moderate", Intensity.WEAK_MODERATE), ("moderate-strong", Intensity.MODERATE_STRONG),
    ("moderate to strong", Intensity.MODERATE_STRONG), ("2+", Intensity.MODERATE),
]
INTENSITY_BAD = ["none", "", "positive"]


@pytest.mark.parametrize(("raw", "expected"), INTENSITY_OK, ids=_ids(INTENSITY_OK))
def test_normalize_intensity_accepts(raw, expected):
    assert normalize_intensity(raw) is expected


@pytest.mark.parametrize("raw", INTENSITY_BAD)
def test_normalize_intensity_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_intensity(raw)


STATUS_OK = [
    ("Positive", "", Status.POSITIVE), ("NEGATIVE", "", Status.NEGATIVE), ("(-)", "", Status.NEGATIVE),
    ("+", "", Status.POSITIVE), ("neg", "", Status.NEGATIVE), ("low positive", "", Status.LOW_POSITIVE),
    ("Low Positive", "er_reported", Status.LOW_POSITIVE), ("positive, low", "", Status.LOW_POSITIVE),
    ("equivocal", "", Status.EQUIVOCAL), ("borderline", "", Status.EQUIVOCAL),
    ("pending", "", Status.PENDING), ("to follow", "", Status.PENDING), ("sent out", "", Status.PENDING),
    ("not performed", "", Status.NOT_PERFORMED), ("not done", "", Status.NOT_PERFORMED),
    ("not amplified", "her2", Status.NEGATIVE), ("strongly positive", "", Status.POSITIVE),
    ("weakly positive", "er_reported", Status.POSITIVE),
    # 2007-era HER2 wording: "weakly positive (2+)" is today's equivocal
    ("weakly positive", "her2", Status.EQUIVOCAL), ("Weakly Positive (2+)", "her2", Status.EQUIVOCAL),
    ("positive", "her2", Status.POSITIVE), ("negative", "her2", Status.NEGATIVE),
]
STATUS_BAD = ["unknown", "", "see comment", "n/a"]


@pytest.mark.parametrize(("raw", "field", "expected"), STATUS_OK,
                         ids=[f"{r!r}-{f or 'any'}" for r, f, _ in STATUS_OK])
def test_normalize_status_accepts(raw, field, expected):
    assert normalize_status(raw, field) is expected


@pytest.mark.parametrize("raw", STATUS_BAD)
def test_normalize_status_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_status(raw)


ISH_OK = [
    ("amplified", IshResult.AMPLIFIED), ("AMPLIFIED", IshResult.AMPLIFIED),
    ("not amplified", IshResult.NOT_AMPLIFIED), ("Not Amplified", IshResult.NOT_AMPLIFIED),
    ("non-amplified", IshResult.NOT_AMPLIFIED), ("no amplification", IshResult.NOT_AMPLIFIED),
    ("no evidence of gene amplification", IshResult.NOT_AMPLIFIED),
    ("amplification: negative", IshResult.NOT_AMPLIFIED), ("amplification not detected", IshResult.NOT_AMPLIFIED),
    ("amplification present", IshResult.AMPLIFIED), ("negative", IshResult.NOT_AMPLIFIED),
    ("positive", IshResult.AMPLIFIED), ("equivocal", IshResult.EQUIVOCAL),
]
ISH_BAD = ["x", "", "see comment"]


@pytest.mark.parametrize(("raw", "expected"), ISH_OK, ids=_ids(ISH_OK))
def test_normalize_ish_result_accepts(raw, expected):
    assert normalize_ish_result(raw) is expected


@pytest.mark.parametrize("raw", ISH_BAD)
def test_normalize_ish_result_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_ish_result(raw)


METHOD_OK = [
    ("FISH", IshMethod.FISH), ("fish", IshMethod.FISH), ("CISH", IshMethod.CISH),
    ("SISH", IshMethod.SISH), ("DISH", IshMethod.DISH), ("DDISH", IshMethod.DISH), ("ISH", IshMethod.ISH),
    ("fluorescence in situ hybridization", IshMethod.FISH),
    ("chromogenic in situ hybridization", IshMethod.CISH),
    ("silver in situ hybridization", IshMethod.SISH),
    ("in situ hybridization", IshMethod.ISH),
    # the lexicon's ISH macro accepts "in[- ]?situ hybridi[sz]ation": the normalizer must too
    ("in-situ hybridisation", IshMethod.ISH),
]
METHOD_BAD = ["IHC", "", "immunohistochemistry"]


@pytest.mark.parametrize(("raw", "expected"), METHOD_OK, ids=_ids(METHOD_OK))
def test_normalize_method_accepts(raw, expected):
    assert normalize_method(raw) is expected


@pytest.mark.parametrize("raw", METHOD_BAD)
def test_normalize_method_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_method(raw)


CLONE_OK = [
    ("4B5", "4B5"), ("4b5", "4B5"), ("clone 4B5", "4B5"), ("HercepTest", "HercepTest"),
    ("HERCEPTEST", "HercepTest"), ("Hercep Test", "HercepTest"), ("CB11", "CB11"), ("cb-11", "CB11"),
    ("SP3", "SP3"), ("A0485", "A0485"), ("A485", "A0485"),
]
CLONE_BAD = ["SP1", "6F11", "1E2", "", "30-9"]


@pytest.mark.parametrize(("raw", "expected"), CLONE_OK, ids=_ids(CLONE_OK))
def test_normalize_clone_accepts(raw, expected):
    assert normalize_clone(raw) == expected


@pytest.mark.parametrize("raw", CLONE_BAD)
def test_normalize_clone_rejects(raw):
    with pytest.raises(NormalizationError):
        normalize_clone(raw)


# --- receptor status (ASCO/CAP 2020) --------------------------------------------------------

RECEPTOR = [
    # name, stated, percent, low, expected status, warning code expected ("" = none)
    ("ER", Status.POSITIVE, "5%", True, Status.LOW_POSITIVE, ""),
    ("ER", Status.POSITIVE, "1-10%", True, Status.LOW_POSITIVE, ""),
    ("ER", Status.POSITIVE, "90%", True, Status.POSITIVE, ""),
    ("ER", Status.POSITIVE, None, True, Status.POSITIVE, ""),
    ("PR", Status.LOW_POSITIVE, None, False, Status.POSITIVE, ""),
    ("PR", Status.POSITIVE, "5%", False, Status.POSITIVE, ""),
    ("ER", None, "<1%", True, Status.NEGATIVE, ""),
    ("ER", None, "0%", True, Status.NEGATIVE, ""),
    ("PR", None, "<1%", False, Status.NEGATIVE, ""),
    ("ER", None, "5%", True, Status.LOW_POSITIVE, ""),
    ("ER", None, "10%", True, Status.LOW_POSITIVE, ""),
    ("ER", None, "11%", True, Status.POSITIVE, ""),
    ("PR", None, "5%", False, Status.POSITIVE, ""),
    ("ER", None, ">95%", True, Status.POSITIVE, ""),
    ("ER", None, "<10%", True, Status.UNKNOWN, ""),
    ("ER", None, None, True, Status.UNKNOWN, ""),
    ("ER", Status.NEGATIVE, "3%", True, Status.NEGATIVE, "cut-off"),
    ("PR", Status.NEGATIVE, "<10%", False, Status.NEGATIVE, ""),
    ("ER", Status.PENDING, None, True, Status.PENDING, ""),
    ("ER", Status.NOT_PERFORMED, None, True, Status.NOT_PERFORMED, ""),
]


@pytest.mark.parametrize(("name", "stated", "pct", "low", "expected", "note"), RECEPTOR,
                         ids=[f"{n}-{s}-{p}" for n, s, p, *_ in RECEPTOR])
def test_receptor_status(name, stated, pct, low, expected, note):
    percent = normalize_percent(pct) if pct else None
    status, warning = receptor_status(name, stated, percent, low=low)
    assert status is expected
    if note:
        assert warning.startswith(f"{note}:"), warning
        assert name in warning
    else:
        assert warning == ""


# --- choosing the reportable value ---------------------------------------------------------

def _mention(value, *, field="er_reported", assertion=Assertion.PRESENT, section="diagnosis",
             in_situ=False, start=0, addendum=None, amended=False):
    ev = Evidence(field=field, rule_id="test.rule", text=str(value), start=start, end=start + 5,
                  page=1, page_start=start, page_end=start + 5, section=section, assertion=assertion)
    number = addendum if addendum is not None else int(section == "addendum")
    return Mention(field, value, ev, in_situ, addendum=number, amended=amended,
                   quoted=assertion is Assertion.HISTORICAL)


def test_choose_addendum_beats_original():
    original = _mention(Status.NEGATIVE, section="diagnosis", start=0)
    addendum = _mention(Status.POSITIVE, section="addendum", start=100)
    for order in ([original, addendum], [addendum, original]):
        picked, warnings = choose("er_reported", order)
        assert picked is addendum
        assert not any(w.startswith("conflict") for w in warnings)


def test_choose_amending_addendum_beats_earlier_one_but_a_plain_one_does_not():
    first = _mention(Status.NEGATIVE, section="addendum", start=100, addendum=1)
    amended = _mention(Status.POSITIVE, section="comment", start=300, addendum=2, amended=True)
    for order in ([first, amended], [amended, first]):
        picked, warnings = choose("er_reported", order)
        assert picked is amended
        assert not any(w.startswith("conflict") for w in warnings)
    plain = _mention(Status.POSITIVE, section="addendum", start=300, addendum=2)  # e.g. another block
    picked, warnings = choose("er_reported", [first, plain])
    assert picked is None and any(w.startswith("conflict") for w in warnings)


def test_choose_invasive_beats_in_situ():
    dcis = _mention(Percent(100.0), field="er_percent", in_situ=True, start=0)
    invasive = _mention(Percent(40.0), field="er_percent", start=50)
    for order in ([dcis, invasive], [invasive, dcis]):
        picked, warnings = choose("er_percent", order)
        assert picked is invasive
        assert warnings == []


def test_choose_present_beats_history():
    old = _mention(Status.POSITIVE, assertion=Assertion.HISTORICAL, start=0)
    own = _mention(Status.NEGATIVE, start=80)
    picked, warnings = choose("er_reported", [old, own])
    assert picked is own
    assert not any("history-only" in w for w in warnings)


def test_choose_history_only_is_used_with_warning():
    old = _mention(Status.POSITIVE, assertion=Assertion.HISTORICAL)
    picked, warnings = choose("er_reported", [old])
    assert picked is old
    assert any(w.startswith("history-only") and "ER call" in w for w in warnings)


def test_choose_conflict_leaves_value_empty():
    a = _mention(Status.POSITIVE, start=0)
    b = _mention(Status.NEGATIVE, start=60)
    picked, warnings = choose("er_reported", [a, b])
    assert picked is None
    assert any(w.startswith("conflict") and "ER call" in w for w in warnings)


def test_choose_same_value_twice_is_not_a_conflict():
    a = _mention(Status.POSITIVE, start=0)
    b = _mention(Status.POSITIVE, start=60)
    picked, warnings = choose("er_reported", [a, b])
    assert picked is not None and picked.value is Status.POSITIVE
    assert warnings == []


def test_choose_float_values_compare_plainly():
    a = _mention(2.3, field="her2_ish_ratio", start=0)
    b = _mention(2.30, field="her2_ish_ratio", start=40)
    picked, warnings = choose("her2_ish_ratio", [a, b])
    assert picked is not None and picked.value == pytest.approx(2.3)
    assert warnings == []


@pytest.mark.parametrize("pending", [Status.PENDING, Status.NOT_PERFORMED])
def test_choose_pending_never_beats_a_result(pending):
    waiting = _mention(pending, start=0)
    result = _mention(Status.NEGATIVE, start=100)
    for order in ([waiting, result], [result, waiting]):
        picked, warnings = choose("er_reported", order)
        assert picked is result
        assert warnings == []


def test_choose_pending_alone_is_reported():
    waiting = _mention(Status.PENDING)
    picked, _ = choose("er_reported", [waiting])
    assert picked is waiting


@pytest.mark.parametrize("assertion", [Assertion.NEGATED, Assertion.PENDING, Assertion.HYPOTHETICAL])
def test_choose_never_uses_non_present_statements(assertion):
    picked, warnings = choose("er_reported", [_mention(Status.POSITIVE, assertion=assertion)])
    assert picked is None
    assert not any("history-only" in w for w in warnings)


def test_choose_nothing_gives_nothing():
    assert choose("er_reported", []) == (None, [])


def test_choose_low_positive_is_a_more_precise_positive_not_a_conflict():
    plain = _mention(Status.POSITIVE, start=0)
    low = _mention(Status.LOW_POSITIVE, start=50)
    picked, warnings = choose("er_reported", [plain, low])
    assert picked is low and not warnings


def test_a_statements_start_found_from_the_right_matches_the_statement_end_pattern():
    """normalize._statement finds the last statement end before a word with rfind (_ENDS_BACK);
    it must agree with _STATEMENT_END, the pattern the rest of the module uses."""
    import random

    from her2extract import normalize

    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice("ab .;\n\t\rx") for _ in range(rng.randint(1, 500)))
        start = rng.randint(0, len(text))
        ends = [m.end() for m in normalize._STATEMENT_END.finditer(text, max(0, start - 300), start)]
        assert normalize._statement(text, start, start)[0] == (ends[-1] if ends else max(0, start - 300))
