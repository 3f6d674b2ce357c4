"""The six section types of an abstract, and the yes/no answers of the quality question.

They match the worker template (``ui_templates/ner.liquid.html``); a span tagged with
anything else is a malformed answer and is skipped.
"""
from __future__ import annotations

SECTION_LABELS: tuple[str, ...] = ("Background", "Objectives", "Methods", "Results", "Limitations", "Conclusions")
GOOD_ABSTRACT_ANSWERS: tuple[str, ...] = ("Yes", "No")
