"""Imported once by the page server's fork server (web.py): the rules, their prefilter and spaCy
are loaded there, so each reader process forked from it starts ready in some milliseconds."""

from __future__ import annotations

from .pipeline import default_matcher

default_matcher().prepare()
