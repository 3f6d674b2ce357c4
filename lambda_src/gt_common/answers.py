"""One worker's answer to each question of the workflow, read from the submitted form.

The shapes are those of ``gt_common.questions`` (the form field is the question's ``name``):

============== =========================================================================================
type            accepted under ``name`` (also as a JSON string of it, or wrapped in a one-item list)
============== =========================================================================================
Classification  ``{"label": <one of its choices>}``; the bare label (a native radio input); or one
                ``crowd-radio-button`` per choice (see below), exactly one of them on
YesNo           as Classification, with the labels ``"Yes"`` and ``"No"``
Checkbox        ``{<value>: true | false}``; no answer at all counts as unchecked
MultiSelect     ``{"labels": [<choice>, ...]}``, or one ``crowd-checkbox`` per choice (see below): the
                choices that are on
FreeText        ``"text"`` (or ``["text"]``); never parsed as JSON, stripped, cut at ``max_chars``
Spans           ``{"entities": [{"label", "startOffset", "endOffset"}, ...]}``
============== =========================================================================================

A question's crowd-radio-buttons or crowd-checkboxes are each submitted under a name of their own
(``questions.button_name``), as Ground Truth submits them: ``{"<name>:<choice>": {"<choice>": true | false}}``,
or ``{"<name>:<choice>": {"on": ...}}`` for a button without a value (the element pages' older examples).
They are read together as ``{<choice>: true | false, ...}`` under ``name``, the shape that is also accepted
there as it is (answers kept from before the buttons were named apart).

Each question is read on its own, so one bad part loses only that part: a malformed span answer
does not lose the worker's yes/no answer. Inside a MultiSelect answer an unknown choice is skipped
and the worker's other choices kept; inside a Spans answer a malformed span is skipped and the
worker's other spans kept. Every part not used is listed in ``FormAnswers.problems`` (the caller
logs it with the object and the worker). A field no question names is ignored. A required question
with no answer is a problem; an optional one (FreeText by default) is not.

Spans must lie inside the text the worker was shown: ``0 <= start < end <= text_length`` (code
points; the caller passes the length pre-labeling recorded, or ``MAX_TEXT_BYTES`` without a
record). One worker's spans never overlap (a template refuses an overlapping tag): when an answer
has overlapping spans anyway, the first in text order (by start, then end, then the order tagged) is
kept and each span overlapping a kept one is skipped with the reason. An exact repeat of a span (a
double click) is dropped silently.
"""
from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from . import strict_json
from .consolidation import WorkerAnswer
from .limits import MAX_TEXT_BYTES
from .questions import (
    Checkbox, Classification, FreeText, MultiSelect, Question, Spans, YesNo, button_label, is_button_of,
)
from .s3uri import InputError
from .span_clustering import Span

# A worker's value in a log line: abbreviated, however large or nested it is.
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = _SHOWN.maxfrozenset = 3


@dataclass(slots=True)
class FormAnswers:
    """The usable part of one worker's form: question name -> the answer read (see ``read_form``)."""

    worker_id: str
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Questions the form does not answer at all (absent, or a radio group with nothing on), as against answers
    #: that are there but unusable: a page says "answer X" of the first and the problem of the second.
    unanswered: list[str] = field(default_factory=list)


MISSING = object()  # what ``form_value`` gives for a question the form does not answer


class Unanswered(InputError):
    """The question is in the form but nothing is chosen (a radio group with no button on)."""


def _shown(value: Any) -> str:
    return _SHOWN.repr(value)


def unwrap(value: Any) -> Any:
    """A value as its shape: a JSON string of an object or list parsed (strictly), a one-item list
    replaced by its item. InputError when the string is not JSON."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            value = strict_json.loads(value)
        except strict_json.JSONError as error:
            raise InputError(str(error)) from None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


class _Buttons(dict):
    """A question's buttons gathered from their own names (``_buttons``): a group whatever its choices are called
    (a choice named "label" or "labels" is a choice here, not the classifier shape's key)."""


def switched_on(value: dict) -> Optional[list[str]]:
    """The keys set to true of a ``{<value>: true | false}`` group of crowd-radio-buttons or
    crowd-checkboxes; None when ``value`` is not such a group."""
    if isinstance(value, _Buttons):
        return [key for key, on in value.items() if on]
    if not value or "label" in value or "labels" in value or not all(isinstance(v, bool) for v in value.values()):
        return None
    return [key for key, on in value.items() if on]


def _buttons(question: Question, form: dict, problems: list[str]) -> Optional[dict[str, Any]]:
    """The question's buttons, each under its own name (see the module docstring), as one
    ``{<choice>: true | false, ...}``; None when the form has none. A button that is not one
    ``{<value>: true | false}`` is listed in ``problems`` and left out."""
    merged = _Buttons()
    for key, value in form.items():
        if not is_button_of(question.name, key):
            continue
        try:
            value = unwrap(value)
        except InputError as error:
            problems.append(f"{_shown(key)} {error}")
            continue
        if not (isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), bool)):
            problems.append(f"{_shown(key)} is {_shown(value)}, not one button's {{value: true | false}}")
            continue
        ((submitted, on),) = value.items()
        merged[button_label(question.name, key, submitted)] = on
    return merged or None


def form_value(question: Question, form: dict, problems: list[str]) -> Any:
    """What ``form`` holds for ``question`` as it came (its field, or its buttons gathered), ``MISSING`` when
    nothing; a button that cannot be read is listed in ``problems``."""
    value = form.get(question.name, MISSING)
    if value is MISSING and isinstance(question, (Classification, YesNo, MultiSelect)):
        value = _buttons(question, form, problems) or MISSING
    return value


def read_label(question: Question, value: Any) -> str:
    """The label of a Classification or YesNo answer."""
    value = unwrap(value)
    if isinstance(value, dict):
        chosen = switched_on(value)
        if chosen is None:
            value = value.get("label")
        elif len(chosen) == 1:
            value = chosen[0]
        elif not chosen:
            raise Unanswered("has 0 radio buttons on, not one")
        else:
            raise InputError(f"has {len(chosen)} radio buttons on, not one")
    elif not isinstance(value, str):
        raise InputError("is not a label or an object with a label")
    if not isinstance(value, str):
        raise InputError("has no label (a string)")
    if value not in question.labels:
        raise InputError(f"label {_shown(value)} is not one of {', '.join(question.labels)}")
    return value


def read_checkbox(question: Checkbox, value: Any) -> str:
    """``checked`` or ``unchecked`` (the checkbox's labels)."""
    checked, unchecked = question.labels
    value = unwrap(value)
    if not isinstance(value, dict) or question.value not in value:
        raise InputError(f"is not an object with the checkbox's value {question.value!r}")
    state = value[question.value]
    if not isinstance(state, bool):
        raise InputError(f"{question.value!r} is {_shown(state)}, not true or false")
    return checked if state else unchecked


def read_choices(question: MultiSelect, value: Any, problems: list[str]) -> frozenset[str]:
    """The choices a worker selected; an unknown one is listed in ``problems`` and the rest kept."""
    value = unwrap(value)
    labels = value.get("labels") if isinstance(value, dict) and not isinstance(value, _Buttons) else None
    if labels is None and isinstance(value, dict):
        labels = switched_on(value)
    if not isinstance(labels, list):
        raise InputError("is not an object with a labels list (or one checkbox per choice)")
    chosen = set()
    for index, label in enumerate(labels):
        if isinstance(label, str) and label in question.choices:
            chosen.add(label)
        else:
            problems.append(f"{question.name}.labels[{index}]: {_shown(label)} is not one of "
                            f"{', '.join(question.choices)}")
    return frozenset(chosen)


def read_text(question: FreeText, value: Any, problems: Optional[list[str]] = None) -> Optional[str]:
    """The text, stripped and cut to ``max_chars`` (a cut listed in ``problems``: the rest is not used); None when
    empty."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise InputError("is not text")
    text = value.strip()
    if len(text) > question.max_chars:
        if problems is not None:
            problems.append(f"{question.name}: {len(text):,} characters, cut at {question.max_chars:,}")
        text = text[:question.max_chars]
    return text or None


def _offset(entity: dict[str, Any], key: str) -> int:
    value = entity.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{key} {_shown(value)} is not an integer")
    return value


def _shown_offset(offset: int) -> str:
    text = str(offset)
    return text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"


def read_span(entity: Any, worker_id: str, labels: Sequence[str], text_length: int = MAX_TEXT_BYTES) -> Span:
    if not isinstance(entity, dict):
        raise InputError("entity is not an object")
    label = entity.get("label")
    if not isinstance(label, str) or label not in labels:
        raise InputError(f"label {_shown(label)} is not one of {', '.join(labels)}")
    start, end = _offset(entity, "startOffset"), _offset(entity, "endOffset")
    if start < 0 or end <= start:
        raise InputError(f"offsets [{_shown_offset(start)}, {_shown_offset(end)}) are not a non-empty span")
    if end > text_length:
        raise InputError(f"offsets [{_shown_offset(start)}, {_shown_offset(end)}) reach past the end of the text "
                         f"({text_length} code points)")
    return Span(worker_id, label, start, end)


def read_spans(question: Spans, value: Any, worker_id: str, problems: list[str],
               text_length: int = MAX_TEXT_BYTES) -> list[Span]:
    """The worker's usable spans, without overlaps (see the module docstring); the rest in ``problems``."""
    value = unwrap(value)
    if not isinstance(value, dict) or not isinstance(value.get("entities"), list):
        raise InputError("has no entities list")
    read: list[tuple[int, Span]] = []
    seen = set()
    for index, entity in enumerate(value["entities"]):
        try:
            span = read_span(entity, worker_id, question.span_labels, text_length)
        except InputError as error:
            problems.append(f"{question.name}.entities[{index}]: {error}")
            continue
        if (span.label, span.start, span.end) not in seen:  # a double click tags a span twice
            seen.add((span.label, span.start, span.end))
            read.append((index, span))
    spans: list[Span] = []
    kept: Optional[Span] = None  # the last kept span in text order
    for index, span in sorted(read, key=lambda item: (item[1].start, item[1].end, item[0])):
        if kept is not None and span.start < kept.end:
            problems.append(
                f"{question.name}.entities[{index}]: {span.label} [{span.start}, {span.end}) overlaps the same "
                f"worker's {kept.label} [{kept.start}, {kept.end}), kept as the first in text order")
            continue
        kept = span
        spans.append(span)
    return spans


def _read_label(question, value, worker_id, problems, text_length):
    return read_label(question, value)


def _read_checkbox(question, value, worker_id, problems, text_length):
    return read_checkbox(question, value)


def _read_choices(question, value, worker_id, problems, text_length):
    return read_choices(question, value, problems)


def _read_text(question, value, worker_id, problems, text_length):
    return read_text(question, value, problems)


_READERS = {Classification: _read_label, YesNo: _read_label, Checkbox: _read_checkbox, MultiSelect: _read_choices,
            Spans: read_spans, FreeText: _read_text}


def read_answer(question: Question, value: Any, worker_id: str, problems: list[str],
                text_length: int = MAX_TEXT_BYTES) -> Any:
    """One question's answer, by its type: a label (Classification, YesNo, Checkbox), a frozenset of
    choices (MultiSelect), a list of Spans, or a text (FreeText, None when empty)."""
    reader = _READERS.get(type(question))
    if reader is None:  # a subclass of a question type reads as its type
        reader = next((read for kind, read in _READERS.items() if isinstance(question, kind)), None)
    if reader is None:  # questions.py and this module disagree
        raise InputError(f"question type {question.kind!r} cannot be read")
    return reader(question, value, worker_id, problems, text_length)


def read_form(questions: Sequence[Question], answer: WorkerAnswer, text_length: int = MAX_TEXT_BYTES) -> FormAnswers:
    """Every usable answer of one worker's form; the unusable parts listed in ``problems``.

    ``text_length``: code points of the text the worker was shown (spans must end within it).
    """
    read = FormAnswers(answer.worker_id)
    form = answer.form
    for question in questions:
        value = form_value(question, form, read.problems)
        if value is MISSING:
            if isinstance(question, Checkbox):
                read.values[question.name] = question.labels[1]  # unchecked: an unticked box may send nothing
            elif question.required:
                read.problems.append(f"{question.name} is missing")
                read.unanswered.append(question.name)
            continue
        try:
            value = read_answer(question, value, answer.worker_id, read.problems, text_length)
        except InputError as error:
            read.problems.append(f"{question.name} {error}")
            if isinstance(error, Unanswered):
                read.unanswered.append(question.name)
            continue
        if value is not None:
            read.values[question.name] = value
    return read


def answer_to(question: Question, worker_id: str, form: Any) -> Any:
    """One worker's usable answer to one question of their form, as consolidation reads it; None when it has none
    or it cannot be read (consolidation leaves such an answer out too)."""
    try:
        return read_form([question], WorkerAnswer(worker_id, form)).values.get(question.name)
    except Exception:  # noqa: BLE001 - a form that breaks the reader is an unusable answer, not a failure
        return None

