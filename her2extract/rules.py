"""Load and validate the pattern files (patterns/*.toml) into Rule objects."""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import regex

from .errors import PatternFileError
from .literals import top_level_alternatives

# The fields a value rule may fill, by regex group name or by a constant `value`.
VALUE_FIELDS = frozenset({
    "site", "her2_ihc_score", "her2_ihc_percent", "her2_ihc_clone", "her2_ihc_staining",
    "her2_ish_method", "her2_ish_ratio", "her2_ish_her2_copies", "her2_ish_cep17_copies",
    "her2_ish_cells", "her2_ish_result", "her2_reported", "er_reported", "er_percent",
    "er_intensity", "er_allred", "pr_reported", "pr_percent", "pr_intensity", "pr_allred",
    "ki67_percent", "procedure", "malignancy",
})
# Group names that fill two fields at once ("ER/PR: positive").
FIELD_ALIASES = {
    "hr_reported": ("er_reported", "pr_reported"),
    "hr_percent": ("er_percent", "pr_percent"),
    "hr_intensity": ("er_intensity", "pr_intensity"),
}
# Group names of structure rules: a part's label, a tumour size and its unit, a side, the marker
# a marker name names (markers.toml).
STRUCTURE_GROUPS = frozenset({"label", "size", "unit", "side", "marker"})
ASSERTIONS = frozenset({"negated", "pending", "historical", "hypothetical", "boilerplate", "terminate", "in_situ"})
DIRECTIONS = frozenset({"forward", "backward", "both"})
# Closed keys (medspaCy style): a typo such as `exampels` is an error, not a silent no-op.
_RULE_KEYS = frozenset({
    "id", "kind", "pattern", "examples", "counter_examples", "value", "section",
    "assertion", "direction", "window", "value_pattern", "note", "region", "within", "rank", "stops", "paragraph",
    "line",
})
_FILE_KEYS = frozenset({"field", "description", "rules", "macros", "near"})
_MACRO = regex.compile(r"\{\{(\w+)\}\}")
DEFAULT_TIMEOUT = 1.0  # seconds per regex search: a guard against catastrophic backtracking


def default_patterns_dir() -> Path:
    """The bundled patterns: her2extract/patterns in a wheel, ../patterns in a checkout."""
    bundled = importlib.resources.files("her2extract") / "patterns"
    if bundled.is_dir():
        return Path(str(bundled))
    return Path(__file__).resolve().parent.parent / "patterns"


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern with its purpose and its own test sentences."""

    id: str
    file: str  # the pattern file's stem: her2_ihc, er, sections, assertions, ...
    kind: Literal["regex", "tokens"]
    pattern: Any  # a compiled regex, or a tuple of spaCy token-pattern dicts
    source: str | tuple = ""  # the pattern as written (macros expanded)
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    value: tuple[tuple[str, str], ...] = ()  # constant field values the rule sets
    section: str = ""  # sections.toml: the section kind a heading opens
    region: str = ""  # a region (e.g. a marker table) this rule's match opens, for `window` characters
    within: str = ""  # a value rule that counts only inside a region of this kind
    stops: tuple[str, ...] = ()  # a terminator: the cue kinds it ends (all when empty)
    paragraph: bool = False  # sections: the section also ends at a blank line
    line: bool = False  # sections: a one-line field ("Clinical diagnosis: ..."): ends with its first line of text
    rank: int = 0  # among competing values, those of the highest-ranked rules are kept ("Final HER2 status:")
    assertion: str = ""  # assertions.toml: what a trigger asserts
    direction: str = "both"
    window: int = 80  # assertion cues: reach in characters; sections: longest section (0 = no limit)
    value_pattern: Any = None  # token rules: regex run on the matched span for its values
    near: tuple[str, ...] = ()  # the file's `near`: run only in windows around these markers (markers.toml)
    lead: Any = None  # a pattern "(?i){{NAME}}..." can only match where NAME does: NAME's regex
    # Time limit of one try of the rule at one place (the matcher tries most rules only at a few
    # places). Setting up a regex time limit costs four times such a try, so the bundled rules,
    # which tests/test_rules.py shows to run in linear time on hostile text, go without; a
    # user's rules (--patterns) keep it. Whole-text scans always have DEFAULT_TIMEOUT.
    timeout: float | None = DEFAULT_TIMEOUT

    @property
    def fields(self) -> frozenset[str]:
        """Every field this rule can fill."""
        names = set(dict(self.value))
        if self.kind == "regex":
            names |= set(self.pattern.groupindex)
        elif self.value_pattern is not None:
            names |= set(self.value_pattern.groupindex)
        out: set[str] = set()
        for name in names:
            out.update(FIELD_ALIASES.get(name, (name,)))
        return frozenset(out & VALUE_FIELDS)


def load_rules(directory: str | Path | None = None, extra: str | Path | None = None) -> tuple[Rule, ...]:
    """Read every *.toml in `directory` (and then `extra`); raise PatternFileError on the first bad rule."""
    directory = Path(directory) if directory else default_patterns_dir()
    if not directory.is_dir():
        raise PatternFileError(directory, "pattern directory not found")
    macros: dict[str, str] = {}
    files = sorted(directory.glob("*.toml"))
    if extra:
        extra = Path(extra)
        if not extra.is_dir():
            raise PatternFileError(extra, "pattern directory not found")
        files += sorted(extra.glob("*.toml"))
    raw = [(path, _read_toml(path)) for path in files]
    # Bundled rules go without the per-try time limit (see Rule.timeout), unless a user's file
    # defines macros: those may change what a bundled rule expands to.
    bundled = directory.resolve() == default_patterns_dir().resolve() and not any(
        "macros" in data for path, data in raw if path.parent != directory)
    for path, data in raw:
        for name, text in data.get("macros", {}).items():
            if not isinstance(text, str):
                raise PatternFileError(path, f"macro {name} must be a string")
            macros[name] = text
    rules: list[Rule] = []
    seen: set[str] = set()
    for path, data in raw:
        for rule in _load_file(path, data, macros, bundled and path.parent == directory):
            if rule.id in seen:
                raise PatternFileError(path, "duplicate rule id", rule.id)
            seen.add(rule.id)
            rules.append(rule)
    return tuple(rules)


def _read_toml(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PatternFileError(path, f"not valid TOML: {exc}") from None
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise PatternFileError(path, f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    return data


def expand_macros(pattern: str, macros: dict[str, str], path: Path, rule_id: str) -> str:
    """Replace {{NAME}} by the lexicon's non-capturing group, recursively."""
    for _ in range(5):
        if "{{" not in pattern:
            return pattern

        def replace(m: regex.Match) -> str:
            name = m.group(1)
            if name not in macros:
                raise PatternFileError(path, f"unknown macro {{{{{name}}}}}", rule_id)
            return f"(?:{macros[name]})"

        pattern = _MACRO.sub(replace, pattern)
    raise PatternFileError(path, "macros nest too deeply", rule_id)


_LEAD = regex.compile(r"(?:\(\?[a-z]+\))?\{\{(\w+)\}\}")


def _lead(written: str, source: str, macros: dict[str, str], path: Path, rule_id: str) -> Any:
    """The regex of the macro a pattern starts with, when every match must start with it.

    "(?i){{HER2}}..." (or "{{HEAD}}...") with no top-level "|" can only match where the macro
    matches: the matcher then tries the rule only at those places instead of scanning for it.
    """
    m = _LEAD.match(written)
    if not m or _top_level_alternation(source):
        return None
    return _compiled_lead(expand_macros(f"(?i){{{{{m.group(1)}}}}}", macros, path, rule_id))


@functools.lru_cache(maxsize=64)
def _compiled_lead(source: str) -> regex.Pattern:
    return regex.compile(source, regex.VERSION0)


def _top_level_alternation(source: str) -> bool:
    """Whether a regex has a "|" outside every group (so a match may start another way)."""
    return len(top_level_alternatives(source)) > 1


def compile_regex(source: str, path: Path, rule_id: str) -> regex.Pattern:
    try:
        return regex.compile(source, regex.VERSION0)
    except regex.error as exc:
        raise PatternFileError(path, f"bad regex: {exc}", rule_id) from None


def _load_file(path: Path, data: dict, macros: dict[str, str], bundled: bool = False) -> list[Rule]:
    near = data.get("near", [])
    if not isinstance(near, list) or not all(isinstance(m, str) and m for m in near):
        raise PatternFileError(path, "`near` must be a list of marker names (see markers.toml)")
    near = tuple(near)
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise PatternFileError(path, "`rules` must be an array of tables ([[rules]])")
    out = []
    for number, item in enumerate(rules, 1):
        rule_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(rule_id, str) or not rule_id:
            raise PatternFileError(path, f"rule #{number} has no id")
        out.append(dataclasses.replace(_load_rule(path, item, macros, rule_id), near=near,
                                       timeout=None if bundled else DEFAULT_TIMEOUT))
    return out


def _load_rule(path: Path, item: dict, macros: dict[str, str], rule_id: str) -> Rule:
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise PatternFileError(path, f"unknown key(s): {', '.join(sorted(unknown))}", rule_id)
    kind = item.get("kind", "regex")
    if "pattern" not in item:
        raise PatternFileError(path, "missing key: pattern", rule_id)
    examples = _strings(item.get("examples", []), "examples", path, rule_id)
    counters = _strings(item.get("counter_examples", []), "counter_examples", path, rule_id)
    value = item.get("value", {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise PatternFileError(path, "`value` must be a table of strings", rule_id)
    value_pattern = None
    lead = None
    if kind == "regex":
        if not isinstance(item["pattern"], str):
            raise PatternFileError(path, "a regex pattern must be a string", rule_id)
        source: Any = expand_macros(item["pattern"], macros, path, rule_id)
        pattern: Any = compile_regex(source, path, rule_id)
        groups = set(pattern.groupindex)
        lead = _lead(item["pattern"], source, macros, path, rule_id)
    elif kind == "tokens":
        if not isinstance(item["pattern"], list) or not all(isinstance(t, dict) for t in item["pattern"]):
            raise PatternFileError(path, "a token pattern must be an array of tables", rule_id)
        source = pattern = tuple(item["pattern"])
        if "value_pattern" in item:
            value_pattern = compile_regex(
                expand_macros(item["value_pattern"], macros, path, rule_id), path, rule_id
            )
        groups = set(value_pattern.groupindex) if value_pattern is not None else set()
    else:
        raise PatternFileError(path, f"unknown kind {kind!r} (regex or tokens)", rule_id)
    fields = {g for g in groups if not g.startswith("_")} | set(value)
    bad = {f for f in fields if f not in VALUE_FIELDS and f not in FIELD_ALIASES and f not in STRUCTURE_GROUPS}
    if bad:
        raise PatternFileError(path, f"unknown field(s): {', '.join(sorted(bad))}", rule_id)
    assertion = item.get("assertion", "")
    if assertion and assertion not in ASSERTIONS:
        raise PatternFileError(path, f"unknown assertion {assertion!r}", rule_id)
    direction = item.get("direction", "both")
    if direction not in DIRECTIONS:
        raise PatternFileError(path, f"unknown direction {direction!r}", rule_id)
    # assertion cues: how far a cue reaches; sections: the longest a section may run
    window = item.get("window", 80 if path.stem == "assertions" else 0)
    limit = 10_000 if (path.stem == "sections" or "region" in item) else 400
    if not isinstance(window, int) or not 0 <= window <= limit:
        raise PatternFileError(path, f"window must be a whole number from 0 to {limit}", rule_id)
    return Rule(
        id=rule_id, file=path.stem, kind=kind, pattern=pattern, source=source,
        examples=examples, counter_examples=counters, value=tuple(sorted(value.items())),
        section=item.get("section", ""), region=_name(item, "region", path, rule_id),
        within=_name(item, "within", path, rule_id), rank=_rank(item, path, rule_id),
        stops=_stops(item, path, rule_id), paragraph=_flag(item, "paragraph", path, rule_id),
        line=_flag(item, "line", path, rule_id),
        assertion=assertion, direction=direction,
        window=window, value_pattern=value_pattern, lead=lead,
    )


def _flag(item: dict, key: str, path: Path, rule_id: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise PatternFileError(path, f"`{key}` must be true or false", rule_id)
    return value


def _stops(item: dict, path: Path, rule_id: str) -> tuple[str, ...]:
    value = item.get("stops", [])
    if not isinstance(value, list) or not all(v in ASSERTIONS for v in value):
        raise PatternFileError(path, f"`stops` must list cue kinds among {sorted(ASSERTIONS)}", rule_id)
    return tuple(value)


def _rank(item: dict, path: Path, rule_id: str) -> int:
    value = item.get("rank", 0)
    if not isinstance(value, int) or not 0 <= value <= 9:
        raise PatternFileError(path, "rank must be a whole number from 0 to 9", rule_id)
    return value


def _name(item: dict, key: str, path: Path, rule_id: str) -> str:
    value = item.get(key, "")
    if not isinstance(value, str) or (value and not value.isidentifier()):
        raise PatternFileError(path, f"`{key}` must be a name such as marker_table", rule_id)
    return value


def _strings(value: Any, key: str, path: Path, rule_id: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PatternFileError(path, f"`{key}` must be an array of strings", rule_id)
    return tuple(value)
