"""Noisy simulated workers answering a workflow's questions from the sample data's truth (headless runs).

Every question of the definition is answered from the object's truth (``truth.py``), by its type:

- Classification, YesNo: the true label with probability ``accuracy``, otherwise another of its labels;
- Checkbox: the true state, flipped with probability ``1 - accuracy``;
- MultiSelect: each choice's true state, flipped with probability ``1 - accuracy``;
- Spans: each true span is missed with probability ``(1 - accuracy) / 2``, relabelled with the same
  probability, and its boundaries jittered by a word now and then. As a tagging page refuses a span
  that overlaps one already made, a jittered span that would overlap the previous one starts where
  that one ends;
- FreeText: a short note, or nothing (it has no truth); always a note where the page requires one.

``answer_values`` gives each question's value in one form per type (a label, a bool, a list of labels,
entities, a text); ``shaped_answer`` writes them as the page's elements submit them (``form_rules``):
a ``crowd-classifier`` ``{"label": ...}``, a ``crowd-checkbox`` ``{"<value>": true}`` (a question's buttons each
under its own name), a hidden input a
page's script fills the JSON text of the documented shape, and so on. The labels come from the
questions, never from here.
"""
from __future__ import annotations

import json
import random
import re
from typing import Any, Collection, Mapping, Optional, Sequence

from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, Question, Spans, YesNo
from local_ground_truth.form_rules import (
    CHECKBOX, CLASSIFIER, ENTITY_ANNOTATION, INPUT, MULTI_SELECT, RADIO_BUTTON, TEXT_AREA, Field, FormRules,
    question_field,
)

NOTES = ("", "", "Looks fine to me.", "Hard to tell from this one.")  # a worker's free text, or none
REQUIRED_NOTE = NOTES[2]  # where the page requires free text, a worker who would write none writes this


def answer_values(questions: Sequence[Question], truth: Mapping[str, Any], accuracy: float, rng: random.Random,
                  text: Optional[str] = None, required: Collection[str] = ()) -> dict[str, Any]:
    """One simulated worker's value for every question, in question order (``text``: what Spans tag). A question
    in ``required`` (the page will not submit without it) is never left empty: a note is written, a choice made."""
    values: dict[str, Any] = {}
    for question in questions:
        if isinstance(question, (Classification, YesNo)):
            values[question.name] = _choice(question.labels, truth[question.name], accuracy, rng)
        elif isinstance(question, Checkbox):
            values[question.name] = truth[question.name] if rng.random() < accuracy else not truth[question.name]
        elif isinstance(question, MultiSelect):
            chosen = set(truth[question.name])
            picked = [choice for choice in question.choices if (choice in chosen) == (rng.random() < accuracy)]
            if not picked and question.name in required:
                picked = [choice for choice in question.choices if choice in chosen][:1] or list(question.choices[:1])
            values[question.name] = picked
        elif isinstance(question, Spans):
            values[question.name] = _spans(truth[question.name], text or "", question.span_labels, accuracy, rng)
        elif isinstance(question, FreeText):
            note = rng.choice(NOTES)
            values[question.name] = note or (REQUIRED_NOTE if question.name in required else note)
        else:
            raise TypeError(f"question {question.name}: no simulation for {type(question).__name__}")
    return values


def _choice(labels: Sequence[str], truth: str, accuracy: float, rng: random.Random) -> str:
    if rng.random() < accuracy:
        return truth
    others = [label for label in labels if label != truth]
    return others[0] if len(others) == 1 else rng.choice(others)


def _word_starts(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", text)]


def _jitter(offset: int, starts: list[int], text_length: int, rng: random.Random) -> int:
    """Move a boundary one word left or right, as a careless mouse selection does."""
    if rng.random() > 0.3:
        return offset
    candidates = [s for s in starts if 0 < abs(s - offset) <= 15]
    return min(max(rng.choice(candidates), 0), text_length) if candidates else offset


def _spans(truth: Sequence[Mapping[str, Any]], text: str, labels: Sequence[str], accuracy: float,
           rng: random.Random) -> list[dict[str, Any]]:
    starts = _word_starts(text)
    entities = []
    error = (1 - accuracy) / 2
    previous_end = 0
    for entity in sorted(truth, key=lambda e: (e["startOffset"], e["endOffset"])):
        if rng.random() < error:
            continue  # missed
        label = entity["label"] if rng.random() >= error else rng.choice(
            [other for other in labels if other != entity["label"]])
        start = max(_jitter(entity["startOffset"], starts, len(text), rng), previous_end)
        end = _jitter(entity["endOffset"], starts, len(text), rng)
        if end > start:
            entities.append({"label": label, "startOffset": start, "endOffset": end})
            previous_end = end
    return entities


# -- as the page's elements submit them ----------------------------------------------------------------------

def _documented(question: Question, value: Any) -> Any:
    """The value in the shape the question type's own element submits (gt_common.questions)."""
    if isinstance(question, (Classification, YesNo)):
        return {"label": value}
    if isinstance(question, MultiSelect):
        return {"labels": list(value)}
    if isinstance(question, Checkbox):
        return {question.value: bool(value)}
    if isinstance(question, Spans):
        return {"entities": list(value)}
    return value


def _chosen(question: Question, value: Any) -> set[str]:
    """The values a page's buttons or boxes that are checked stand for."""
    if isinstance(question, Checkbox):
        return {question.value} if value else set()
    if isinstance(question, MultiSelect):
        return set(value)
    return {str(value)}


def shaped_value(question: Question, value: Any, field: Optional[Field]) -> tuple[bool, Any]:
    """``(present, value)`` of one question as ``field``'s element submits it (``present`` False: the element
    leaves it out, as an empty text box does). Without a field, the question type's documented shape."""
    if isinstance(question, FreeText) or (field is not None and field.element in (INPUT, TEXT_AREA)):
        return (value not in ("", None), value if isinstance(value, str) else json.dumps(value))
    element = field.element if field is not None else None
    if element in (None, CLASSIFIER, MULTI_SELECT, ENTITY_ANNOTATION):
        return True, _documented(question, value)
    if element in (CHECKBOX, RADIO_BUTTON):
        chosen = _chosen(question, value)
        return True, {box: box in chosen for box in field.values}
    if element == "input:radio":
        return True, str(value)
    if element == "input:checkbox":
        chosen = _chosen(question, value)
        return bool(chosen), sorted(chosen)[-1] if chosen else None
    # A hidden (or text) input a page's script fills: the documented shape as JSON text.
    return True, json.dumps(_documented(question, value))


def shaped_answer(questions: Sequence[Question], values: Mapping[str, Any],
                  rules: Optional[FormRules] = None) -> dict[str, Any]:
    """The whole answer as the page submits it: each question under its name, in its element's shape."""
    answer = {}
    for question in questions:
        field = question_field(rules.fields, question.name) if rules is not None else None
        present, value = shaped_value(question, values[question.name], field)
        if present and field is not None and field.buttons:  # each button under its own name, as Ground Truth sends it
            for label, (button, submitted) in field.buttons.items():
                answer[button] = {submitted: value[label]}
        elif present:
            answer[question.name] = value
    return answer


def simulated_answer(questions: Sequence[Question], truth: Mapping[str, Any], text: Optional[str], accuracy: float,
                     rng: random.Random) -> dict[str, Any]:
    """One simulated worker's answer in the question types' documented shapes (no page needed)."""
    return shaped_answer(questions, answer_values(questions, truth, accuracy, rng, text))
