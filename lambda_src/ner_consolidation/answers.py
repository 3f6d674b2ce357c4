"""From one worker's submitted form to typed spans, a yes/no judgement and notes.

The template submits hidden inputs, so ``abstract`` and ``isGoodAbstract`` usually arrive as JSON
strings; they are also accepted as objects (the documented shape) and ``isGoodAbstract`` as a bare
``"Yes"``/``"No"``. The form's ``isGoodAbstractChoice`` (the radio buttons feeding the hidden
input) is ignored. Each part is read on its own: a malformed span is skipped without losing the
worker's other spans, and a malformed ``abstract`` does not lose the worker's yes/no answer.

A span must lie inside the text the worker was shown: ``0 <= start < end <= text_length`` (code
points; the caller passes the length pre-labeling recorded, or ``MAX_TEXT_BYTES`` without a
record). One worker's spans never overlap (the template refuses an overlapping tag): when an
answer has overlapping spans anyway, the first in text order (by start, then end, then the order
tagged) is kept and each span overlapping a kept one is skipped with the reason. An exact repeat
of a span (a double click) is dropped silently.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from gt_common import strict_json
from gt_common.consolidation import WorkerAnswer
from gt_common.limits import MAX_TEXT_BYTES
from gt_common.s3uri import InputError

from .sections import GOOD_ABSTRACT_ANSWERS, SECTION_LABELS

LOG = logging.getLogger(__name__)
SPANS_FIELD = "abstract"
GOOD_FIELD = "isGoodAbstract"
NOTES_FIELD = "notes"
MAX_NOTE_CHARS = 10_000  # a note is free text from a worker; bound what goes into the manifest


@dataclass(frozen=True)
class Span:
    worker_id: str
    label: str
    start: int  # Unicode code-point offset into the task's text
    end: int  # exclusive


@dataclass
class WorkerAnnotation:
    worker_id: str
    spans: list[Span] = field(default_factory=list)
    spans_usable: bool = False  # False when the worker's ``abstract`` could not be read at all
    good_abstract: Optional[str] = None
    note: Optional[str] = None
    problems: list[str] = field(default_factory=list)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return strict_json.loads(value)
        except strict_json.JSONError as error:
            raise InputError(str(error)) from None
    return value


def _offset(entity: dict[str, Any], key: str) -> int:
    value = entity.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{key} {value!r:.40} is not an integer")
    return value


def _shown(offset: int) -> str:
    text = str(offset)
    return text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"


def read_span(entity: Any, worker_id: str, text_length: int = MAX_TEXT_BYTES) -> Span:
    if not isinstance(entity, dict):
        raise InputError("entity is not an object")
    label = entity.get("label")
    if not isinstance(label, str) or label not in SECTION_LABELS:
        raise InputError(f"label {str(label)[:60]!r} is not one of {', '.join(SECTION_LABELS)}")
    start, end = _offset(entity, "startOffset"), _offset(entity, "endOffset")
    if start < 0 or end <= start:
        raise InputError(f"offsets [{_shown(start)}, {_shown(end)}) are not a non-empty span")
    if end > text_length:
        raise InputError(f"offsets [{_shown(start)}, {_shown(end)}) reach past the end of the text "
                         f"({text_length} code points)")
    return Span(worker_id, label, start, end)


def read_spans(value: Any, annotation: WorkerAnnotation, text_length: int = MAX_TEXT_BYTES) -> None:
    value = _maybe_json(value)
    if not isinstance(value, dict) or not isinstance(value.get("entities"), list):
        raise InputError("has no entities list")
    annotation.spans_usable = True
    read: list[tuple[int, Span]] = []
    seen = set()
    for index, entity in enumerate(value["entities"]):
        try:
            span = read_span(entity, annotation.worker_id, text_length)
        except InputError as error:
            annotation.problems.append(f"{SPANS_FIELD}.entities[{index}]: {error}")
            continue
        if (span.label, span.start, span.end) not in seen:  # a double click tags a span twice
            seen.add((span.label, span.start, span.end))
            read.append((index, span))
    kept: Optional[Span] = None  # the last kept span in text order
    for index, span in sorted(read, key=lambda item: (item[1].start, item[1].end, item[0])):
        if kept is not None and span.start < kept.end:
            annotation.problems.append(
                f"{SPANS_FIELD}.entities[{index}]: {span.label} [{span.start}, {span.end}) overlaps the same "
                f"worker's {kept.label} [{kept.start}, {kept.end}), kept as the first in text order")
            continue
        kept = span
        annotation.spans.append(span)


def read_good_abstract(value: Any) -> str:
    value = _maybe_json(value)
    if isinstance(value, dict):
        value = value.get("label")
    if value not in GOOD_ABSTRACT_ANSWERS:
        raise InputError(f"{str(value)[:40]!r} is not Yes or No")
    return value


def read_annotation(answer: WorkerAnswer, text_length: int = MAX_TEXT_BYTES) -> WorkerAnnotation:
    """Every usable part of one worker's form; the unusable parts are listed in ``problems``.

    ``text_length``: code points of the text the worker was shown (spans must end within it).
    """
    annotation = WorkerAnnotation(answer.worker_id)
    form = answer.form
    if SPANS_FIELD not in form:
        annotation.problems.append(f"{SPANS_FIELD} is missing")
    else:
        try:
            read_spans(form[SPANS_FIELD], annotation, text_length)
        except InputError as error:
            annotation.problems.append(f"{SPANS_FIELD} {error}")
    if GOOD_FIELD not in form:
        annotation.problems.append(f"{GOOD_FIELD} is missing")
    else:
        try:
            annotation.good_abstract = read_good_abstract(form[GOOD_FIELD])
        except InputError as error:
            annotation.problems.append(f"{GOOD_FIELD} {error}")
    note = form.get(NOTES_FIELD)
    if isinstance(note, str) and note.strip():
        annotation.note = note.strip()[:MAX_NOTE_CHARS]
    elif note not in (None, "") and not isinstance(note, str):
        annotation.problems.append(f"{NOTES_FIELD} is not text")
    return annotation
