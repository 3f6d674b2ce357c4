"""The questions a labeling workflow asks, defined once and read by everything else.

A workflow's definition (``workflows/<name>.py``) lists its questions with these types. The stack
passes them to the consolidation function as JSON (``QUESTIONS_ENV``), injects their labels into
the worker template, and the local runner simulates, checks and scores answers by them. Each
type fixes the form field it reads and the answer shape of the crowd HTML element that asks it
(ground-truth-contracts.md):

============== ======================================= ===============================================
type            asked with                              a worker's answer under ``name``
============== ======================================= ===============================================
Classification  ``crowd-classifier``                    ``{"label": "<one of labels>"}``
                ``crowd-radio-group`` of buttons        ``{"<label>": true | false, ...}`` (one true)
                native radio inputs                     ``"<label>"``
MultiSelect     ``crowd-classifier-multi-select``       ``{"labels": ["<label>", ...]}``
                ``crowd-checkbox`` per label            ``{"<label>": true | false, ...}``
YesNo           as Classification                       as Classification, labels "Yes" and "No"
Checkbox        ``crowd-checkbox name=N value=V``        ``{"V": true | false}``
FreeText        ``crowd-input`` / ``crowd-text-area``    ``"text"`` (omitted when empty)
Spans           ``crowd-entity-annotation`` (or custom)  ``{"entities": [{"label", "startOffset",
                                                        "endOffset"}]}``, offsets in code points
============== ======================================= ===============================================

A value may also arrive as a JSON string of that shape (a template's hidden input) or wrapped in a
one-item list (the element pages' examples): readers accept both.

``method`` is how a question is consolidated: ``dawid-skene`` (a worker model learned across the
job's batches) or ``majority-vote`` for the choice types; ``None`` takes the deployment's default.
``tie`` names the label a tie goes to (for a yes/no flag, "No" keeps a split vote from passing);
without it a stable hash of the object id decides. ``abstain`` is the label that means "cannot tell"
(a Classification's, named once in the workflow's definition): it is not a class, it is the
consolidated label only when a strict majority of an object's answers abstain (``gt_common.choices``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Iterable, Mapping, Optional, Sequence

QUESTIONS_ENV = "WORKFLOW_QUESTIONS"
#: The deployment's default consolidation method, for the questions that name none.
METHOD_ENV = "CONSOLIDATION_METHOD"
DAWID_SKENE = "dawid-skene"
MAJORITY_VOTE = "majority-vote"
METHODS = (DAWID_SKENE, MAJORITY_VOTE)


#: Each crowd-radio-button and crowd-checkbox of a question with labels is named ``<question>:<label>``: Ground Truth
#: submits one object per button, keyed by the button's name (``{"<question>:<label>": {"<label>": true | false}}``),
#: so buttons sharing a name would replace each other's answer. A question name never holds the separator.
BUTTON_SEPARATOR = ":"


#: What a crowd-radio-button or crowd-checkbox without a ``value`` submits (the element pages' older examples).
BUTTON_DEFAULT_VALUE = "on"


def button_name(question: str, label: str) -> str:
    """The name of ``question``'s crowd-radio-button or crowd-checkbox for ``label``."""
    return f"{question}{BUTTON_SEPARATOR}{label}"


def is_button_of(question: str, name: Any) -> bool:
    """Whether a field named ``name`` is one of ``question``'s buttons (``button_name``)."""
    return isinstance(name, str) and name.startswith(question + BUTTON_SEPARATOR)


def button_label(question: str, name: str, value: str) -> str:
    """The label ``question``'s button named ``name`` stands for when it submits ``value``: its value, or for a
    button without one (``BUTTON_DEFAULT_VALUE``) the label in its name."""
    return name[len(question) + len(BUTTON_SEPARATOR):] if value == BUTTON_DEFAULT_VALUE else value


#: Keys of a consolidated label that are not a question's (``{<question>: ..., "workers": n}``).
WORKERS_KEY = "workers"
RESERVED_NAMES = (WORKERS_KEY,)


#: Keys the worker page's JavaScript cannot set: crowd-form collects a page's answers into plain objects
#: (``answer[<question name>] = ...``, and a button's ``{<its value>: true | false}``), where ``__proto__`` sets the
#: object's prototype instead of a key, so the answer under it would be lost without a word.
JAVASCRIPT_SPECIAL_KEYS = ("__proto__",)


class QuestionError(ValueError):
    """A question (or a list of them) that cannot be asked; the message names it and says why."""


@dataclass(frozen=True, kw_only=True)
class Question:
    """What every question has: the form field ``name`` (also its key in the consolidated label)."""

    name: str
    required: bool = True
    kind: ClassVar[str] = ""
    #: Consolidated through the worker model (a choice among labels) rather than kept or clustered.
    is_choice: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise QuestionError(f"question name {self.name!r} must be letters, digits, '-' or '_'")
        if self.name in RESERVED_NAMES:
            raise QuestionError(f"question name {self.name!r} is the consolidated label's own key (how many workers "
                                "answered): name the question otherwise")
        if self.name in JAVASCRIPT_SPECIAL_KEYS:
            raise QuestionError(f"question name {self.name!r} is special to the worker page's JavaScript, which would "
                                "lose every answer under it: name the question otherwise")

    @property
    def labels(self) -> tuple[str, ...]:
        return ()

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, kw_only=True)
class _Choice(Question):
    method: Optional[str] = None
    tie: Optional[str] = None
    is_choice: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method is not None and self.method not in METHODS:
            raise QuestionError(f"question {self.name}: method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.tie is not None and self.tie not in self.labels:
            raise QuestionError(f"question {self.name}: tie label {self.tie!r} is not one of its labels")


def _checked_labels(name: str, labels: Sequence[str], minimum: int = 1) -> tuple[str, ...]:
    labels = tuple(labels)
    if len(labels) < minimum or not all(isinstance(label, str) and label.strip() == label and label for label in labels):
        raise QuestionError(f"question {name}: needs at least {minimum} labels, each a non-empty string "
                            "without surrounding spaces")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise QuestionError(f"question {name}: {', '.join(map(repr, twice))} listed twice")
    return labels


def _not_special(name: str, what: str, value: str) -> str:
    """``value``, a button's (a choice's label, a checkbox's value), unless the page's JavaScript cannot key by it."""
    if value in JAVASCRIPT_SPECIAL_KEYS:
        raise QuestionError(f"question {name}: {what} {value!r} is special to the worker page's JavaScript, which "
                            "would lose the answer of its button: write it otherwise")
    return value


def _button_labels(name: str, labels: Sequence[str], minimum: int = 1) -> tuple[str, ...]:
    """``_checked_labels`` of a question whose labels are buttons' values."""
    return tuple(_not_special(name, "label", label) for label in _checked_labels(name, labels, minimum))


@dataclass(frozen=True, kw_only=True)
class Classification(_Choice):
    """One label out of ``choices``; ``abstain`` (one of them) means the worker cannot tell."""

    choices: tuple[str, ...] = ()
    abstain: Optional[str] = None
    kind: ClassVar[str] = "classification"

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", _button_labels(self.name, self.choices, minimum=2))
        super().__post_init__()
        if self.abstain is not None and self.abstain not in self.choices:
            raise QuestionError(f"question {self.name}: abstain label {self.abstain!r} is not one of its choices")
        if self.abstain is not None and len(self.choices) < 3:  # "cannot tell" is not a class: two must remain
            raise QuestionError(f"question {self.name}: with the abstain label {self.abstain!r} it has one other "
                                "label to choose; give two or more besides it")
        if self.abstain is not None and self.tie == self.abstain:  # abstaining is no class, so no tie is between it
            raise QuestionError(f"question {self.name}: the tie label {self.tie!r} is its abstain label, which no tie "
                                "goes to (abstaining is not a class); name one of the classes, or no tie label")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.choices


@dataclass(frozen=True, kw_only=True)
class YesNo(_Choice):
    """A yes/no judgement."""

    kind: ClassVar[str] = "yes-no"

    @property
    def labels(self) -> tuple[str, ...]:
        return ("Yes", "No")


CHECKBOX_LABELS = ("checked", "unchecked")  # what a checkbox consolidates to: ticked, or not


@dataclass(frozen=True, kw_only=True)
class Checkbox(_Choice):
    """A single checkbox: ``value`` is the ``value`` attribute of the ``crowd-checkbox``."""

    value: str = "checked"
    kind: ClassVar[str] = "checkbox"

    def __post_init__(self) -> None:
        super().__post_init__()
        _not_special(self.name, "value", self.value)

    @property
    def labels(self) -> tuple[str, ...]:
        return CHECKBOX_LABELS


@dataclass(frozen=True, kw_only=True)
class MultiSelect(Question):
    """Any number of ``choices``; each is consolidated as its own yes/no decision."""

    choices: tuple[str, ...] = ()
    method: Optional[str] = None
    kind: ClassVar[str] = "multi-select"

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", _button_labels(self.name, self.choices))
        super().__post_init__()
        if self.method is not None and self.method not in METHODS:
            raise QuestionError(f"question {self.name}: method {self.method!r} is not one of {', '.join(METHODS)}")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.choices


#: Each choice of a MultiSelect is decided as this yes/no of its own: "Yes" (listed first) when the choice applies.
CHOICE_AS_YES_NO = YesNo(name="choice")


def choice_probability(p: float, chosen: bool) -> float:
    """A MultiSelect choice's probability that it applies, from the confidence ``p`` of the yes/no it was decided as
    (``chosen``: decided yes); and back, by the same arithmetic: ``p`` for a chosen choice, ``1 - p`` otherwise."""
    return p if chosen else 1.0 - p


@dataclass(frozen=True, kw_only=True)
class FreeText(Question):
    """Free text (notes, a summary): kept per worker, never merged."""

    required: bool = False
    max_chars: int = 10_000
    kind: ClassVar[str] = "free-text"


@dataclass(frozen=True, kw_only=True)
class Spans(Question):
    """Spans of a text tagged with ``span_labels``; consolidated by Jaccard clustering."""

    span_labels: tuple[str, ...] = ()
    kind: ClassVar[str] = "spans"

    def __post_init__(self) -> None:
        object.__setattr__(self, "span_labels", _checked_labels(self.name, self.span_labels))
        super().__post_init__()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.span_labels


QUESTION_TYPES: Mapping[str, type[Question]] = {
    kind.kind: kind for kind in (Classification, YesNo, Checkbox, MultiSelect, FreeText, Spans)
}


def check_questions(questions: Iterable[Question]) -> tuple[Question, ...]:
    """The questions as a tuple, after checking they can be asked together (names unique, one at least)."""
    questions = tuple(questions)
    if not questions:
        raise QuestionError("a workflow asks at least one question")
    for question in questions:
        if not isinstance(question, Question) or not question.kind:
            raise QuestionError(f"{question!r} is not a question (use Classification, YesNo, Checkbox, "
                                "MultiSelect, FreeText or Spans)")
    names = [question.name for question in questions]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise QuestionError(f"question names must be unique; repeated: {', '.join(repeated)}")
    return questions


def questions_to_json(questions: Iterable[Question]) -> str:
    return json.dumps([question.as_json() for question in check_questions(questions)], separators=(",", ":"))


def questions_from_json(text: str) -> tuple[Question, ...]:
    """The questions of ``questions_to_json``; QuestionError naming what is wrong otherwise."""
    try:
        raw = json.loads(text)
    except (TypeError, ValueError) as error:
        raise QuestionError(f"{QUESTIONS_ENV} is not JSON: {error}") from None
    if not isinstance(raw, list):
        raise QuestionError(f"{QUESTIONS_ENV} must be a JSON list of questions")
    questions = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("kind") not in QUESTION_TYPES:
            raise QuestionError(f"{QUESTIONS_ENV}[{index}] has no known kind (one of {', '.join(QUESTION_TYPES)})")
        kind = QUESTION_TYPES[item["kind"]]
        known = {f.name for f in fields(kind)}
        unknown = set(item) - known - {"kind"}
        if unknown:
            raise QuestionError(f"{QUESTIONS_ENV}[{index}] ({item['kind']}) has unknown fields {sorted(unknown)}")
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in item.items() if key != "kind"}
        try:
            questions.append(kind(**values))
        except TypeError as error:
            raise QuestionError(f"{QUESTIONS_ENV}[{index}]: {error}") from None
    return check_questions(questions)


__all__ = [
    "Checkbox", "Classification", "DAWID_SKENE", "FreeText", "MAJORITY_VOTE", "METHODS", "METHOD_ENV", "MultiSelect", "QUESTIONS_ENV",
    "QUESTION_TYPES", "Question", "QuestionError", "Spans", "YesNo", "check_questions",
    "questions_from_json", "questions_to_json",
]
