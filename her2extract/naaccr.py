"""NAACCR breast-schema site-specific data items (SSDIs) from a record: codes, CSV row, XML.

The code tables, with their source, are data (naaccr.toml); this module only decides which
code a record's values take. It never re-reads report text. Rules (DOMAIN.md section 6):

- ratios and copy numbers are truncated to one decimal, never rounded (1.99 -> 1.9), and a
  value the report did not state is never calculated;
- an exact percent beats a range code; a range takes the R code containing its low end (ER),
  and a PR range wider than 10 points is XX9 (the newer PR rule);
- "positive, percent not stated" is XX7 (the newer notes; older ones said XX9);
- HER2 overall summary: negative and equivocal are both 0.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import tomllib
from typing import Iterable

from .interpret import is_single_probe
from .model import Her2Record, IhcScore, IshResult, Percent, Site, Status

ITEMS = (3827, 3826, 3828, 3915, 3914, 3916, 3850, 3851, 3852, 3853, 3854, 3855, 3863)
_RANGE_TOPS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


@functools.lru_cache(maxsize=1)
def code_tables() -> dict[int, dict]:
    """naaccr.toml: per item number, its name, XML id, length and {code: meaning}."""
    text = importlib.resources.files("her2extract").joinpath("naaccr.toml").read_text(encoding="utf-8")
    return {int(number): item for number, item in tomllib.loads(text)["items"].items()}


def header(number: int) -> str:
    return f"{number} {code_tables()[number]['name']}"


# --- ER / PR -----------------------------------------------------------------------------------

def receptor_summary(status: Status) -> str:
    """3827 / 3915."""
    if status in (Status.POSITIVE, Status.LOW_POSITIVE):
        return "1"
    if status is Status.NEGATIVE:
        return "0"
    if status is Status.PENDING:
        return "7"
    return "9"


def _range_code(value: float) -> str:
    """The R code whose 10-point band holds `value` (1-10 -> R10, ..., 91-100 -> R99)."""
    for top in _RANGE_TOPS:
        if value <= top:
            return "R99" if top == 100 else f"R{top}"
    return "XX9"


def receptor_percent(percent: Percent | None, status: Status, receptor: str) -> str:
    """3826 (ER) / 3914 (PR): exact percent, range code, or XX7 / XX9."""
    if percent is None:
        if status is Status.NEGATIVE:
            return "000"
        if status in (Status.POSITIVE, Status.LOW_POSITIVE, Status.PENDING):
            return "XX7"
        return "XX9"
    low, high, bound = percent.low, percent.high, percent.bound
    if high is None and not bound:
        if low < 1:
            return "000"
        return f"{math.floor(low):03d}" if low <= 100 else "XX9"
    if bound in ("<", "<=") and high is None:
        return "000" if low <= 1 else "XX9"  # "<1%" is negative; "<5%" cannot be placed
    if bound in (">", ">=") and high is None:
        start = low + 1 if bound == ">" else low
        high = 100.0
    else:
        start = low
    if receptor == "pr" and high - start > 10:
        return "XX9"
    if start < 1:
        return "XX9"  # "0-5%": negative or low positive, the report does not say which
    return _range_code(start)


def allred(score: int | None) -> str:
    """3828 / 3916."""
    return f"{score:02d}" if score is not None and 0 <= score <= 8 else "X9"


# --- HER2 ----------------------------------------------------------------------------------

def her2_ihc_summary(record: Her2Record) -> str:
    """3850: the IHC score, or a call stated with no score (when no ISH could have made it)."""
    score = record.her2_ihc_score
    if score is not None:
        return {IhcScore.ZERO: "0", IhcScore.ONE: "1", IhcScore.TWO: "2", IhcScore.THREE: "3"}[score]
    no_ish = record.her2_ish_result is None and record.her2_ish_ratio is None
    stated = record.her2_reported
    if stated is Status.PENDING and no_ish:
        return "7"
    if no_ish and stated is Status.NEGATIVE:
        return "4"
    if no_ish and stated is Status.POSITIVE:
        return "3"
    if no_ish and stated is Status.EQUIVOCAL:
        return "2"
    return "9"


def truncated(value: float | None) -> str:
    """A copy number or ratio cut to one decimal, never rounded: 1.99 -> "1.9"; 100+ -> "XX.1"."""
    if value is None:
        return "XX.9"
    if value >= 100:
        return "XX.1"
    return f"{math.floor(value * 10 + 1e-9) / 10:.1f}"


def _ish_pending(record: Her2Record) -> bool:
    return record.her2_reported is Status.PENDING and record.her2_ish_result is None and record.her2_ish_ratio is None


def dual_probe_copies(record: Her2Record) -> str:
    """3851: average HER2 copies per cell of a dual-probe test."""
    if is_single_probe(record):
        return "XX.9"
    if record.her2_ish_her2_copies is None:
        return "XX.7" if _ish_pending(record) else "XX.9"
    return truncated(record.her2_ish_her2_copies)


def dual_probe_ratio(ratio: float | None, stated: str = "", pending: bool = False) -> str:
    """3852: the ratio truncated; a report that says only "<2.0" or ">=2.0" gets XX.2 / XX.3."""
    if ratio is not None:
        return truncated(ratio)
    if stated in ("<2.0", "<2"):
        return "XX.2"
    if stated in (">=2.0", ">=2", "≥2.0", "≥2"):
        return "XX.3"
    return "XX.7" if pending else "XX.9"


def single_probe_copies(record: Her2Record) -> str:
    """3853: HER2 copies of a single-probe test (XX.9 also when only a dual probe was done)."""
    if is_single_probe(record):
        return truncated(record.her2_ish_her2_copies)
    return "XX.7" if _ish_pending(record) and record.her2_ish_her2_copies is None else "XX.9"


def her2_ish_summary(record: Her2Record) -> str:
    """3854 (there is no code 1)."""
    result = record.her2_ish_result
    if result is IshResult.NOT_AMPLIFIED:
        return "0"
    if result is IshResult.EQUIVOCAL:
        return "2"
    if result is IshResult.AMPLIFIED:
        return "3"
    return "7" if _ish_pending(record) else "9"


def her2_overall(status: Status) -> str:
    """3855: negative and equivocal are both 0."""
    if status is Status.POSITIVE:
        return "1"
    if status in (Status.NEGATIVE, Status.EQUIVOCAL):
        return "0"
    if status is Status.PENDING:
        return "7"
    return "9"


def ki67(percent: Percent | None, done: bool = False) -> str:
    """3863, exact percents only ([U]: the breast code table is unverified, DOMAIN.md 10).

    `done`: the report says Ki-67 was done but gives no percent (XXX.7). A record cannot say
    that yet, so records give XXX.9 then.
    """
    if percent is None or percent.high is not None or percent.bound or not 0 <= percent.low <= 100:
        return "XXX.7" if done else "XXX.9"
    return f"{math.floor(percent.low * 10 + 1e-9) / 10:.1f}"


# --- the row -------------------------------------------------------------------------------

NOT_APPLICABLE = {3827: "9", 3826: "XX8", 3828: "X8", 3915: "9", 3914: "XX8", 3916: "X8", 3850: "8",
                  3851: "XX.8", 3852: "XX.8", 3853: "XX.8", 3854: "8", 3855: "9", 3863: "XXX.8"}


def naaccr_items(record: Her2Record) -> dict[int, str]:
    """Every breast SSDI's code for one record; "not applicable" codes for other sites.

    A file that could not be read has no codes at all (blank): coding it "not documented" or
    "not applicable" would say the report was read and held nothing. A value the record left
    empty on purpose (a conflict, a discordant call, an unmarked form) gets the same code as one
    the report does not state: "not documented" (9, XX9, ...), never a result code.
    """
    if record.status != "ok":
        return {number: "" for number in ITEMS}
    if record.site not in (Site.BREAST, None):
        return dict(NOT_APPLICABLE)
    pending_ish = _ish_pending(record)
    return {
        3827: receptor_summary(record.er_status),
        3826: receptor_percent(record.er_percent, record.er_status, "er"),
        3828: allred(record.er_allred),
        3915: receptor_summary(record.pr_status),
        3914: receptor_percent(record.pr_percent, record.pr_status, "pr"),
        3916: allred(record.pr_allred),
        3850: her2_ihc_summary(record),
        3851: dual_probe_copies(record),
        3852: "XX.9" if is_single_probe(record) else dual_probe_ratio(record.her2_ish_ratio, pending=pending_ish),
        3853: single_probe_copies(record),
        3854: her2_ish_summary(record),
        3855: her2_overall(record.her2_status),
        3863: ki67(record.ki67_percent),
    }


def naaccr_row(record: Her2Record) -> dict[str, str]:
    """One CSV row: the source file, its status (ok / error) and the reason of an error, then
    "NUMBER Name" headers in item order."""
    codes = naaccr_items(record)
    return {"source": record.source, "status": record.status, "error": record.error,
            **{header(n): codes[n] for n in ITEMS}}


def naaccr_columns() -> list[str]:
    return ["source", "status", "error", *(header(n) for n in ITEMS)]


def naaccr_xml(rows: Iterable[dict[str, str]]) -> str:
    """A flat NAACCR-XML-style document: one <Tumor> of <Item naaccrId=...> per report."""
    from xml.sax.saxutils import escape, quoteattr

    tables = code_tables()
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<NaaccrData baseDictionaryUri="http://naaccr.org/naaccrxml/naaccr-dictionary-250.xml"'
             ' recordType="I" specificationVersion="1.7" xmlns="http://naaccr.org/naaccrxml">']
    rows = list(rows)
    for row in rows:  # files that could not be read are listed, never coded as empty tumours
        if row.get("status", "ok") != "ok":
            reason = f"{row['source']}: {row.get('error', '')}"
            lines.append(f"  <!-- not read, no codes: {_comment(reason)} -->")
    for row in rows:
        if row.get("status", "ok") != "ok":
            continue
        lines.append("  <Patient>")
        lines.append(f"    <Tumor><!-- {_comment(row['source'])} -->")
        for number in ITEMS:
            code = row[header(number)]
            lines.append(f"      <Item naaccrId={quoteattr(tables[number]['xml_id'])} naaccrNum=\"{number}\">"
                         f"{escape(code)}</Item>")
        lines.append("    </Tumor>")
        lines.append("  </Patient>")
    lines.append("</NaaccrData>")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    """Text safe inside an XML comment: escaped, no "--", no control characters."""
    from xml.sax.saxutils import escape

    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    out = escape(clean)
    while "--" in out:
        out = out.replace("--", "- -")
    return out.rstrip("-")

