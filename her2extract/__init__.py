"""her2extract: HER2, ER, PR and Ki-67 results from pathology reports, with evidence.

Names are imported on first use (PEP 562), so `her2extract --help` does not load the
pipeline, regex patterns or spaCy.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "extract": "pipeline", "extract_file": "pipeline", "extract_text": "pipeline",
    "Her2Record": "model", "Evidence": "model", "IhcScore": "model", "IshResult": "model",
    "Percent": "model", "Status": "model",
    "Her2ExtractError": "errors", "UnreadableDocument": "errors", "PatternFileError": "errors",
    "NormalizationError": "errors",
}
__all__ = list(_WHERE)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'her2extract' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__ + ["__version__"])
