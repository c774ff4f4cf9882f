"""The typed vocabulary every stage shares: enums, pages, evidence and the record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum


class IhcScore(StrEnum):
    """HER2 immunohistochemistry score (ASCO/CAP; "0" has no plus)."""

    ZERO = "0"
    ONE = "1+"
    TWO = "2+"
    THREE = "3+"


class IshMethod(StrEnum):
    FISH = "FISH"
    CISH = "CISH"
    SISH = "SISH"
    DISH = "DISH"
    ISH = "ISH"


class IshResult(StrEnum):
    AMPLIFIED = "amplified"
    NOT_AMPLIFIED = "not amplified"
    EQUIVOCAL = "equivocal"


class Status(StrEnum):
    """A receptor or overall HER2 call, as stated or derived."""

    POSITIVE = "positive"
    LOW_POSITIVE = "low positive"  # ER 1-10 % of nuclei: "ER Low Positive", ASCO/CAP 2020
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"
    PENDING = "pending"
    NOT_PERFORMED = "not performed"
    UNKNOWN = "unknown"


class Intensity(StrEnum):
    WEAK = "weak"
    WEAK_MODERATE = "weak-moderate"
    MODERATE = "moderate"
    MODERATE_STRONG = "moderate-strong"
    STRONG = "strong"
    WEAK_STRONG = "weak-strong"


class Her2Category(StrEnum):
    """HER2 expression label used for therapy eligibility (not an ASCO/CAP category)."""

    POSITIVE = "positive"
    LOW = "low"
    ULTRALOW = "ultralow"
    NULL = "null"
    ZERO = "0"  # IHC 0 without the detail that splits null from ultralow
    EQUIVOCAL = "equivocal"
    UNKNOWN = "unknown"


class Subtype(StrEnum):
    HR_POS_HER2_NEG = "HR+/HER2-"
    HR_POS_HER2_POS = "HR+/HER2+"
    HR_NEG_HER2_POS = "HR-/HER2+"
    TRIPLE_NEGATIVE = "triple negative"
    UNKNOWN = "unknown"


class Site(StrEnum):
    BREAST = "breast"
    GASTRIC = "gastric"
    OTHER = "other"


class Assertion(StrEnum):
    """How a mention is asserted; only PRESENT (and HISTORICAL as a fallback) fills a value."""

    PRESENT = "present"
    NEGATED = "negated"
    PENDING = "pending"
    HISTORICAL = "historical"
    HYPOTHETICAL = "hypothetical"


class TextSource(StrEnum):
    TEXT = "text"
    PDF = "pdf"
    OCR = "ocr"
    MIXED = "mixed"
    NONE = "none"  # a PDF page without a text layer, not yet OCR'd


def plain_number(value: float) -> str:
    """Write a number plainly: 2.3, 95, 0.5 - never 95.0 or 1e-05."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True, slots=True)
class Percent:
    """A percent of cells as stated: exact (90), a range (1-10), or a bound (<1, >95)."""

    low: float
    high: float | None = None  # set for ranges only
    bound: str = ""  # "<", ">", "<=", ">=" or ""

    def __str__(self) -> str:
        if self.high is not None:
            return f"{plain_number(self.low)}-{plain_number(self.high)}"
        return f"{self.bound}{plain_number(self.low)}"

    @property
    def upper(self) -> float:
        """The largest value the statement allows."""
        if self.high is not None:
            return self.high
        return 100.0 if self.bound.startswith(">") else self.low

    def within(self, other: "Percent") -> bool:
        """Whether every value this statement allows is allowed by `other` ("91-100" within ">10")."""
        if self.high is not None:
            return other.allows(self.low) and other.allows(self.high)
        if not self.bound:
            return other.allows(self.low)
        return self == other

    def allows(self, value: float) -> bool:
        """Whether the statement admits `value` (">95" does not admit 95)."""
        if self.high is not None:
            return self.low <= value <= self.high
        return {
            "<": value < self.low, "<=": value <= self.low, ">": value > self.low,
            ">=": value >= self.low, "": value == self.low,
        }[self.bound]

    @property
    def lower(self) -> float:
        """The smallest value the statement allows."""
        return 0.0 if self.bound.startswith("<") else self.low


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a document; `text` is what the page yields before cleaning.

    `scan`: the page is a picture (an image covers it), so a text layer on it is some OCR
    engine's reading, whose word boxes cannot be trusted to pair labels with values.
    `boxes`: for a page read by OCR here, each word's (start, end) in `text` and its box
    (x0, top, x1, bottom) in points from the page's top left, so a value can be shown as the
    picture it was read from.
    """

    number: int
    text: str
    source: TextSource
    scan: bool = False
    boxes: tuple[tuple[int, int, float, float, float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    source: str
    pages: tuple[Page, ...]
    warnings: tuple[str, ...] = ()

    @property
    def text_source(self) -> TextSource:
        kinds = {p.source for p in self.pages if p.source is not TextSource.NONE}
        if not kinds:  # a PDF without a text layer (and OCR not run): still a PDF, with a warning
            return TextSource.PDF
        return kinds.pop() if len(kinds) == 1 else TextSource.MIXED


@dataclass(frozen=True, slots=True)
class Evidence:
    """Which rule produced a value, and the exact characters it came from.

    `start`/`end` index the cleaned text; `page` and `page_start`/`page_end` point
    into that page's original text.
    """

    field: str
    rule_id: str
    text: str
    start: int
    end: int
    page: int
    page_start: int
    page_end: int
    section: str = ""
    specimen: str = ""
    assertion: Assertion = Assertion.PRESENT
    context: str = ""  # the statement the value sits in (the rule's whole match, shortened)


@dataclass(frozen=True, slots=True)
class Doubt:
    """Why a value was left empty: what is unclear, in plain words, and the evidence on each side.

    `marker` is "her2", "er", "pr", "ki67" or "site"; `code` is the warning's code (conflict,
    discordant, form-unticked, layout-shift, ...); `text` is a sentence a patient can read.
    """

    marker: str
    code: str
    text: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class PartFacts:
    """What a report says about one specimen part: which breast, how large its tumour."""

    side: str = ""  # "left", "right" or ""
    size_mm: float | None = None  # the largest tumour dimension stated in the part


@dataclass(frozen=True, slots=True)
class Mention:
    """One value found in the text, typed, with its evidence and context."""

    field: str
    value: object
    evidence: Evidence
    in_situ: bool = False  # the sentence speaks of in-situ disease only
    rank: int = 0  # the rule's rank: a "Final HER2 status:" line outranks the parts
    addendum: int = 0  # 1, 2, ... for the n-th addendum the mention sits in; 0 for the original
    amended: bool = False  # that addendum says it amends or corrects the report
    role: str = ""  # site mentions: the role of their statement (specimen, diagnosis, history, ...)
    quoted: bool = False  # historical by an explicit cue ("prior biopsy showed"), not only by its section
    in_situ_label: bool = False  # the in-situ word labels the value itself ("DCIS ER: positive 95 %")

    @property
    def assertion(self) -> Assertion:
        return self.evidence.assertion


def _not_csv() -> dict:
    return {"csv": False}


@dataclass(frozen=True, slots=True)
class Her2Record:
    """Everything extracted from one report. None means "not stated in the report".

    The fields up to `warnings` are the CSV columns of DESIGN.md, in order.
    """

    source: str
    status: str = "ok"
    error: str = ""
    pages: int = 0
    text_source: TextSource | None = None
    site: Site | None = None
    her2_ihc_score: IhcScore | None = None
    her2_ihc_percent: Percent | None = None
    her2_ihc_clone: str | None = None
    her2_ish_method: IshMethod | None = None
    her2_ish_ratio: float | None = None
    her2_ish_her2_copies: float | None = None
    her2_ish_cep17_copies: float | None = None
    her2_ish_cells: int | None = None
    her2_ish_result: IshResult | None = None
    her2_ish_group: int | None = None
    her2_reported: Status | None = None
    her2_status: Status = Status.UNKNOWN
    her2_category: Her2Category = Her2Category.UNKNOWN
    er_status: Status = Status.UNKNOWN
    er_percent: Percent | None = None
    er_intensity: Intensity | None = None
    er_allred: int | None = None
    pr_status: Status = Status.UNKNOWN
    pr_percent: Percent | None = None
    pr_intensity: Intensity | None = None
    pr_allred: int | None = None
    ki67_percent: Percent | None = None
    subtype: Subtype = Subtype.UNKNOWN
    warnings: tuple[str, ...] = ()
    # Not CSV columns: what backs the values above.
    evidence: tuple[Evidence, ...] = field(default=(), metadata=_not_csv())
    mentions: tuple[Mention, ...] = field(default=(), metadata=_not_csv())
    # What was left empty on purpose, and why (each with the evidence on both sides).
    doubts: tuple[Doubt, ...] = field(default=(), metadata=_not_csv())
    # Internal facts for interpretation, kept out of the CSV.
    her2_ihc_staining: str | None = field(default=None, metadata=_not_csv())
    er_reported: Status | None = field(default=None, metadata=_not_csv())
    pr_reported: Status | None = field(default=None, metadata=_not_csv())
    procedure: str | None = field(default=None, metadata=_not_csv())  # "biopsy" or "resection"
    malignancy: str | None = field(default=None, metadata=_not_csv())  # "present", or "absent" (no cancer stated)
    parts: tuple[tuple[str, str], ...] = field(default=(), metadata=_not_csv())  # (label, "left breast, 15 mm")
    # The interpretation in words (interpret.py), for people rather than the CSV.
    explanation: tuple[tuple[str, str], ...] = field(default=(), metadata=_not_csv())
    questions: tuple[str, ...] = field(default=(), metadata=_not_csv())
    guideline: str = field(default="", metadata=_not_csv())
    disclaimer: str = field(default="", metadata=_not_csv())


CSV_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Her2Record) if f.metadata.get("csv", True)
)

