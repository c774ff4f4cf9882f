"""her2extract: HER2, ER, PR and Ki-67 results from pathology reports, with evidence."""

from .errors import Her2ExtractError, NormalizationError, PatternFileError, UnreadableDocument
from .model import Evidence, Her2Record, IhcScore, IshResult, Percent, Status
from .pipeline import extract as extract
from .pipeline import extract_file as extract_file
from .pipeline import extract_text as extract_text

__all__ = [
    "extract", "extract_file", "extract_text", "Her2Record", "Evidence", "IhcScore", "IshResult",
    "Percent", "Status", "Her2ExtractError", "UnreadableDocument", "PatternFileError",
    "NormalizationError",
]
__version__ = "0.1.0"
