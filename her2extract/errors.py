"""The exception hierarchy: every error the library raises on purpose."""

from __future__ import annotations

from pathlib import Path


class Her2ExtractError(Exception):
    """Base class. The CLI and the batch runner catch this and nothing broader."""


class UnreadableDocument(Her2ExtractError):
    """An input that cannot be read as a report: corrupt, encrypted, empty, binary, too large."""

    def __init__(self, source: str | Path, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(reason)


class PatternFileError(Her2ExtractError):
    """A pattern file that cannot be loaded; names the file and the rule."""

    def __init__(self, path: str | Path, reason: str, rule_id: str | None = None) -> None:
        self.path = Path(path)
        self.rule_id = rule_id
        self.reason = reason
        where = f"{self.path.name}:{rule_id}" if rule_id else self.path.name
        super().__init__(f"{where}: {reason}")


class ResumeError(Her2ExtractError):
    """--resume asked of an output that this run cannot continue (another format, no record
    of what was done): stopping keeps the earlier run's rows."""


class OutputError(Her2ExtractError):
    """The outputs asked for cannot be written as asked (an earlier run's output is there, two
    outputs share one path, the folder cannot be made): stopping before any row is written."""


class WriteError(Her2ExtractError):
    """An output could not be written part-way through a run (a full disk): the rows written
    before are complete, and --resume finishes the run."""


class NormalizationError(Her2ExtractError, ValueError):
    """Matched text that is not a plausible value of its field."""
