"""Recognize the words of a result: marker names, status predicates, intensity words, typed numbers.

The lexicon is data (patterns/reader/vocabulary.toml), matched as phrases on the tokens of
spaCy's blank English tokenizer, case-insensitive, except short names listed as `exact`
("ER" in capitals). A word of six letters or more that is one edit from a one-word name or name
word of the lexicon ("0estrogen", "estrogcn") is read as that word: OCR damage is handled once,
not spelling by spelling. Numbers are read by typed readers (percent, range, Allred score).
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .rules import default_patterns_dir

NEAR_MISS_MIN = 6  # letters a word needs before a near miss of a lexicon word is read as it
NEAR_MISS_RATIO = 0.85  # difflib similarity from which a word is a near miss


@dataclass(frozen=True, slots=True)
class Term:
    """One recognized word or phrase: what it is (`kind`), what it means (`value`), where it is.

    kind: "marker" (value: er, pr, hr for both receptors, other), "predicate" (positive, low
    positive, negative, pending, not performed), "intensity" (weak, moderate, strong), "percent"
    (value: "90", "<1", "1-10"), "allred" (value: "7"), "unit" (a label that makes a bare
    number a percent or an Allred score: value "percent" / "allred"), "number" (a bare number),
    "break" (a word after which a value is not this statement's: "control", "if"), "absence"
    ("no", as in "no estrogen receptors found"), "legend" ("is defined as": the statement defines a
    category).
    """

    kind: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Vocabulary:
    markers: dict[str, tuple[str, ...]]
    exact: dict[str, tuple[str, ...]]
    lower: dict[str, tuple[str, ...]]
    predicates: dict[str, tuple[str, ...]]
    intensities: dict[str, tuple[str, ...]]
    units: dict[str, tuple[str, ...]]
    breaks: tuple[str, ...]
    absence: tuple[str, ...]
    legend: tuple[str, ...]


def load_vocabulary(path: Path | None = None) -> Vocabulary:
    path = path or default_patterns_dir() / "reader" / "vocabulary.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Vocabulary(
        markers={m: tuple(v.get("names", ())) for m, v in data["markers"].items()},
        exact={m: tuple(v.get("exact", ())) for m, v in data["markers"].items()},
        lower={m: tuple(v.get("lower", ())) for m, v in data["markers"].items()},
        predicates={k: tuple(v) for k, v in data["predicates"].items()},
        intensities={k: tuple(v) for k, v in data["intensities"].items()},
        units={"percent": tuple(data["units"]["percent_labels"]), "allred": tuple(data["units"]["allred_labels"])},
        breaks=tuple(data["breaks"]["words"]),
        absence=tuple(data["absence"]["words"]),
        legend=tuple(data["legend"]["words"]),
    )


# Typed number readers, over the text of one statement. A percent needs its sign (or "per
# cent"); OCR's "7o" / "o/o" for "%" is read as one. Bounds and ranges are kept as stated.
_NUM = r"\d{1,3}(?:[.,]\d{1,2})?"
_BOUND = r"(?:<=|>=|≤|≥|<|>|less than|fewer than|greater than|more than|at least|over|under|up to)"
_PERCENT = re.compile(
    rf"(?<![\w.,])(?:(?P<bound>{_BOUND})\s?)?(?:(?:approximately|approx\.?|about|ca\.?|~|estimated)\s?)?"
    rf"(?P<low>{_NUM})\s?(?:%|per ?cent|7o|o/o)?\s?(?:-|–|to)\s?(?P<high>{_NUM})\s?(?:%|per ?cent|7o|o/o)"
    rf"|(?<![\w.,])(?:(?P<bound2>{_BOUND})\s?)?(?:(?:approximately|approx\.?|about|ca\.?|~|estimated)\s?)?"
    rf"(?P<single>{_NUM})\s?(?:%|per ?cent\b|7o\b|o/o)", re.IGNORECASE)
_ALLRED = re.compile(r"(?<![\w.])(?P<score>[0-8])\s?/\s?8\b")
_BARE = re.compile(r"(?<![\w.,%<>+-])(?P<n>\d{1,3}(?:[.,]\d{1,2})?(?:\s?-\s?\d{1,3}(?:[.,]\d{1,2})?)?)"
                   r"(?![\w.,]?\d|\s?[%+]|\s?/\s?\d|\s?-\s?\d)")
_BOUND_SIGN = {"<=": "<=", ">=": ">=", "≤": "<=", "≥": ">=", "<": "<", ">": ">", "less than": "<", "fewer than": "<",
               "under": "<", "greater than": ">", "more than": ">", "over": ">", "at least": ">=", "up to": "<="}


def _plain(number: str) -> str:
    return number.replace(",", ".")


class Recognizer:
    """Finds the lexicon's terms in a text (one statement, or a whole report)."""

    def __init__(self, vocabulary: Vocabulary | None = None) -> None:
        import spacy
        from spacy.matcher import PhraseMatcher
        from spacy.util import compile_infix_regex

        self.vocabulary = vocabulary or load_vocabulary()
        nlp = spacy.blank("en")
        # brackets, slashes and colons split words ("ER(%)", "ER/PR:"), as a reader sees them
        nlp.tokenizer.infix_finditer = compile_infix_regex(
            list(nlp.Defaults.infixes) + [r"[()\[\]/:;=|]"]).finditer
        self.nlp = nlp
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        v = self.vocabulary
        groups = [("marker", v.markers), ("predicate", v.predicates), ("intensity", v.intensities),
                  ("unit", v.units), ("break", {"break": v.breaks}), ("absence", {"absence": v.absence}),
                  ("legend", {"legend": v.legend})]
        self._labels: dict[int, tuple[str, str]] = {}
        words: set[str] = set()
        for kind, table in groups:
            for value, phrases in table.items():
                key = f"{kind}:{value}"
                self._labels[nlp.vocab.strings.add(key)] = (kind, value)
                self.lower.add(key, [nlp.make_doc(p) for p in phrases])
                if kind == "marker":
                    words.update(w.lower() for p in phrases for w in re.findall(r"[A-Za-z]+", p)
                                 if len(w) >= NEAR_MISS_MIN)
        for value, phrases in v.exact.items():
            if phrases:
                key = f"marker:{value}"
                self._labels[nlp.vocab.strings.add(key)] = ("marker", value)
                self.exact.add(key, [nlp.make_doc(p) for p in phrases])
        self._words = tuple(sorted(words))
        self._lower = {name: marker for marker, names in v.lower.items() for name in names}

    @functools.lru_cache(maxsize=4096)
    def _repair(self, word: str) -> str:
        """The lexicon word `word` (of NEAR_MISS_MIN letters or more) is a near miss of, or `word` itself."""
        low = word.lower()
        if low in self._words:
            return word
        close = difflib.get_close_matches(low.replace("0", "o").replace("1", "l"), self._words, n=1,
                                          cutoff=NEAR_MISS_RATIO)
        return close[0] if close else word

    def terms(self, text: str) -> list[Term]:
        """Every term of `text`, in order; where phrases overlap, the longest is kept."""
        from spacy.tokens import Doc

        doc = self.nlp.make_doc(text)
        words = [t.text for t in doc]
        idx = [t.idx for t in doc]
        # only words long enough to be a near miss are looked up (each once, then cached)
        repaired = [self._repair(w) if len(w) >= NEAR_MISS_MIN else w for w in words]
        fixed = doc
        if repaired != words:
            fixed = Doc(self.nlp.vocab, words=repaired, spaces=[bool(t.whitespace_) for t in doc])
        spans = []
        for matcher, source in ((self.lower, fixed), (self.exact, doc)):
            for key, begin, end in matcher(source):
                kind, value = self._labels[key]
                spans.append((idx[begin], idx[end - 1] + len(words[end - 1]), kind, value))
        spans += self._lower_names(words, idx)
        spans += self._numbers(text)
        struck = [m.span() for m in _STRUCK.finditer(text)]  # "~~Negative~~": struck out, not said
        if struck:
            spans = [sp for sp in spans if not any(a <= sp[0] < b for a, b in struck)]
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        out: list[Term] = []
        reach = -1
        for start, end, kind, value in spans:
            if start < reach:  # inside a longer term already kept
                continue
            out.append(Term(kind, value, start, end))
            reach = end
        return _ranges(text, out)

    def _lower_names(self, words: list[str], idx: list[int]) -> list[tuple[int, int, str, str]]:
        """Short names in lower case ("er is positive"): only where a verb or colon follows."""
        out = []
        for i in range(len(words) - 1):
            marker = self._lower.get(words[i])
            if marker and words[i + 1].lower() in _LOWER_FOLLOWERS:
                out.append((idx[i], idx[i] + len(words[i]), "marker", marker))
        return out

    @staticmethod
    def _numbers(text: str) -> list[tuple[int, int, str, str]]:
        text = _OCR_ZERO.sub("0", text)  # "7O%": OCR's letter O after a digit is a zero (same length)
        found: list[tuple[int, int, str, str]] = []
        taken: list[tuple[int, int]] = []
        for m in _PERCENT.finditer(text):
            if m["single"] is not None:
                bound = _BOUND_SIGN.get((m["bound2"] or "").lower(), "")
                value = bound + _plain(m["single"])
            else:
                bound = _BOUND_SIGN.get((m["bound"] or "").lower(), "")
                value = bound + f"{_plain(m['low'])}-{_plain(m['high'])}"
            taken.append(m.span())
            if value != "0-100":  # "(0-100%)": the scale, not a value
                found.append((m.start(), m.end(), "percent", value))
        for m in _ALLRED.finditer(text):
            found.append((m.start(), m.end(), "allred", m["score"]))
            taken.append(m.span())
        for m in _BARE.finditer(text):
            if not any(a <= m.start() < b for a, b in taken):
                found.append((m.start(), m.end(), "number", _plain(re.sub(r"\s", "", m["n"]))))
        return found


_OCR_ZERO = re.compile(r"(?<=\d)[Oo](?=\s?%|\d|\s?per ?cent)")
_LOWER_FOLLOWERS = frozenset({"is", "was", "are", "were", ":", "status", "shows", "showed"})
_STRUCK = re.compile(r"~~[^~\n]{1,200}~~")
_RANGE_JOINER = re.compile(r"\s*(?:-|–|to|and|/)\s*", re.IGNORECASE)
_ORDER = ("weak", "moderate", "strong")


def _ranges(text: str, terms: list[Term]) -> list[Term]:
    """Two intensity words joined by "to", "-" or "and" are one range ("weak to moderate")."""
    out: list[Term] = []
    for term in terms:
        last = out[-1] if out else None
        if last is not None and term.kind == last.kind == "intensity" and "-" not in last.value and \
                last.value != term.value and _RANGE_JOINER.fullmatch(text, last.end, term.start):
            low, high = sorted((last.value, term.value), key=_ORDER.index)
            out[-1] = Term("intensity", f"{low}-{high}", last.start, term.end)
            continue
        out.append(term)
    return out


@functools.lru_cache(maxsize=1)
def default_recognizer() -> Recognizer:
    return Recognizer()
