"""The job's confidence: each label's confidence as the whole job's evidence makes it, not only its batch's.

A batch publishes its labels with what the job had learned by then (``crowd_model``). The first batches of
a job publish before the job's temperature is known (workers who err together: its evidence is summed over
the batches, and an early batch's is too weak to pay its price) and before the gold objects of later
batches show how far the confidence lies above the truth. Measured on duck and face in batches of 10
(``bench/results/calibration.md``, "revised at the job's end"): the first batches' labels at >= 0.99 were
wrong far more often than one batch's.

So every Classification, YesNo and Checkbox value the worker model decides keeps its evidence
(``EVIDENCE_KEY``), and every choice of a MultiSelect its own (below)::

    "evidence": {"temperature": T, "answers": n, "classes": {<each class but the label>: [x, y]}}

``T`` the temperature its batch chose, ``n`` the answers the job had counted by then, ``x`` the log of the
class's frequency and ``y`` the answers' untempered log-likelihood of the class, both less the label's (so the
label's own would be ``[0, 0]``; it is left out, as every line of a large batch carries this). The batch's
confidence is the softmax of ``x + y / T`` over the label (0) and the other classes, corrected by the gold objects
seen so far.

Each choice of a MultiSelect is decided by the worker model as a yes/no of its own (``CHOICE_AS_YES_NO``), and its
value keeps, per decided choice, that yes/no's evidence in the same shape, same rounding::

    "evidence": {<choice>: {"temperature": T, "answers": n, "classes": {"No" | "Yes": [x, y]}}, ...}

``classes`` names the yes/no the choice was not decided as ("No" for a chosen choice, "Yes" for one left out); a
choice no answer decided has no number and no evidence. ``revise_choices`` revises each choice as ``revise`` does a
YesNo (its own temperature, its own gold objects: a gold object's MultiSelect value carries ``gold``, the list of
its choices known to apply, and a choice's known yes/no is whether the list holds it, ``gold.known_yes_no``, as
consolidation counted it) and publishes again the probability that the choice applies (``p`` of the decided yes/no
for a chosen choice, ``1 - p`` otherwise); the value keeps the batch's numbers, the whole ``{choice: p}``, as
``BATCH_CONFIDENCE_KEY``. A choice's evidence takes 75 to 90 bytes of a response (``response_size``).

``revise`` recomputes every such confidence with the job's temperature (that of the value whose batch had
counted the most answers: its evidence holds every batch's before it) and the gold objects of the whole job
(each one's confidence against its known class, per bin, as ``crowd_model`` corrects a batch). The label
never changes: tempering keeps the best class best, and the gold correction moves only confidences. The
revised value keeps the batch's number as ``BATCH_CONFIDENCE_KEY``. Where it is used: the review of a job
(which objects an expert must see, and the final manifest's confidences), on AWS when the job completes
and in the local runner after every batch. Ground Truth's ``output.manifest`` keeps each batch's numbers.

Without numpy (the review's functions ship without it).

A batch of more than ``MAX_EVIDENCE_OBJECTS`` objects keeps no evidence, and its confidence stays its own: its
answers alone give its temperature as much evidence as one batch can give (the temperature is chosen on at most
``crowd_model.TEMPER_SAMPLE`` answers) and its own gold objects correct it, while the evidence would cost about
1 KB of memory and 0.01 ms a line (100,000 objects x 3 answers through the consolidation Lambda, twice each: 362
and 363 MB, 2.63 and 2.46 s with it on every line; 250 MB, 1.73 and 1.69 s without). It is the first, small batches that publish before the job
knows enough.

A value whose evidence is not as above (missing, a class it does not name, a number that is not finite) keeps its
confidence; the first such value is logged with its object and the problem. A MultiSelect's choice whose evidence
cannot be read keeps its number and the value's other choices are revised; a MultiSelect value whose evidence as a
whole cannot be read (not an object, a choice the question does not have, labels or confidence not as consolidated)
keeps every number.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Hashable, Mapping, Optional, Sequence

from . import gold_correction
from .gold import GOLD_KEY, known_yes_no
from .questions import CHOICE_AS_YES_NO, Checkbox, Classification, MultiSelect, YesNo, choice_probability

LOG = logging.getLogger(__name__)

EVIDENCE_KEY = "evidence"
BATCH_CONFIDENCE_KEY = "batch-confidence"
#: The largest batch whose values keep their evidence (see the module docstring).
MAX_EVIDENCE_OBJECTS = 10_000
#: Decimals of the evidence's numbers (log-probabilities: 1e-3 moves a confidence by less than 3e-4).
EVIDENCE_DIGITS = 3
#: ... and of a confidence (as every consolidated confidence).
CONFIDENCE_DIGITS = 4


def evidence_of(log_prior: Sequence[float], log_likelihood: Sequence[float], label: int, classes: Sequence[str],
                temperature: float, answers_seen: float) -> dict[str, Any]:
    """The ``evidence`` of one object whose label is ``classes[label]`` (``log_likelihood``: its row)."""
    prior, likelihood = float(log_prior[label]), float(log_likelihood[label])
    return {"temperature": round(float(temperature), 4), "answers": round(float(answers_seen), 1),
            "classes": {name: [round(float(x) - prior, EVIDENCE_DIGITS), round(float(y) - likelihood, EVIDENCE_DIGITS)]
                        for i, (name, x, y) in enumerate(zip(classes, log_prior, log_likelihood)) if i != label}}


def evidence_of_result(result: Any, index: int, label: Any,
                       classes: Optional[Sequence[str]]) -> Optional[dict[str, Any]]:
    """The ``evidence`` of object ``index`` of a ``choices.ChoiceResult`` whose label is ``label``: None unless the
    worker model decided it with a label among ``classes`` (None: the question keeps none, e.g. a batch over
    ``MAX_EVIDENCE_OBJECTS``)."""
    if result.log_likelihood is None or classes is None or label not in classes:
        return None
    return evidence_of(result.log_prior, result.log_likelihood[index], list(classes).index(label), classes,
                       result.temperature, result.answers_seen)


def keep_evidence(value: dict[str, Any], result: Any, index: int, classes: Optional[Sequence[str]]) -> dict[str, Any]:
    """``value`` (object ``index`` of a ``choices.ChoiceResult``) with its ``evidence`` when the worker model decided
    it with a label among ``classes`` (``evidence_of_result``)."""
    evidence = evidence_of_result(result, index, value.get("label"), classes)
    if evidence is not None:
        value[EVIDENCE_KEY] = evidence
    return value


class _Evidence:
    """One value's evidence, checked: the label's index, the classes' log-prior and log-likelihood."""

    def __init__(self, value: Any, classes: Sequence[str]) -> None:
        if not isinstance(value, Mapping):
            raise ValueError("the value is not an object")
        label = value.get("label")
        if label not in classes:
            raise ValueError(f"its label {label!r} is not one of the question's classes")
        evidence = value.get(EVIDENCE_KEY)
        if not isinstance(evidence, Mapping):
            raise ValueError(f"it has no {EVIDENCE_KEY!r} object")
        self.label = list(classes).index(label)
        self.temperature = _number(evidence.get("temperature"), "temperature")
        self.answers = _number(evidence.get("answers"), "answers")
        if self.temperature < 1.0 or self.answers < 0:
            raise ValueError("its temperature is below 1 or its answers below 0")
        others = evidence.get("classes")
        if not isinstance(others, Mapping) or set(others) != set(classes) - {label}:
            raise ValueError("its classes are not exactly the question's classes but the label")
        pairs = [[0.0, 0.0] if c == label else others[c] for c in classes]
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
            raise ValueError("a class's evidence is not a pair [log-prior, log-likelihood]")
        self.log_prior = [_number(x, f"log-prior of {c!r}") for c, (x, _y) in zip(classes, pairs)]
        self.log_likelihood = [_number(y, f"log-likelihood of {c!r}") for c, (_x, y) in zip(classes, pairs)]


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"its {name} is not a finite number")
    return float(value)


def revise(values: Mapping[Hashable, Any], classes: Sequence[str], what: str = "object") -> dict[Hashable, Any]:
    """Per object, its value with the job's confidence (``values``: per object its consolidated value of one
    choice question; ``classes``: the question's labels that are classes, its abstain label left out). Values
    without usable evidence are returned as they are."""
    usable: dict[Hashable, _Evidence] = {}
    refused = 0
    for key, value in values.items():
        if isinstance(value, Mapping) and EVIDENCE_KEY not in value:
            continue  # majority vote, an abstain label, no label: nothing to revise
        try:
            usable[key] = _Evidence(value, classes)
        except ValueError as error:
            if not refused:
                LOG.error("%s %s: its confidence stays its batch's, since its evidence cannot be read (%s)",
                          what, key, error)
            refused += 1
    if refused > 1:
        LOG.error("%d values in all keep their batch's confidence for unreadable evidence", refused)
    revised = dict(values)
    if not usable:
        return revised
    temperature = max(usable.values(), key=lambda evidence: evidence.answers).temperature
    top = {key: _label_probability(evidence, temperature) for key, evidence in usable.items()}
    bin_gaps = gold_correction.gaps(gold_correction.bins_of(
        (top[key], usable[key].label == known) for key in usable
        if (known := _gold_index(values[key], classes)) >= 0))
    for key, probability in top.items():
        value = dict(values[key])  # (its evidence and votes are shared, never changed)
        value.setdefault(BATCH_CONFIDENCE_KEY, value.get("confidence"))  # kept when revised again
        value["confidence"] = round(gold_correction.corrected(probability, bin_gaps, len(classes)), CONFIDENCE_DIGITS)
        revised[key] = value
    return revised


def _label_probability(evidence: _Evidence, temperature: float) -> float:
    """The softmax of ``log-prior + log-likelihood / temperature`` at the label."""
    scores = [x + y / temperature for x, y in zip(evidence.log_prior, evidence.log_likelihood)]
    best = max(scores)
    return math.exp(scores[evidence.label] - best) / sum(math.exp(score - best) for score in scores)


def _gold_index(value: Mapping[str, Any], classes: Sequence[str]) -> int:
    known = value.get(GOLD_KEY)
    return list(classes).index(known) if isinstance(known, str) and known in classes else -1


def revise_choices(values: Mapping[Hashable, Any], choices: Sequence[str], what: str = "object",
                   question: str = "") -> dict[Hashable, Any]:
    """Per object, its value of a MultiSelect (``choices``: the question's) with each choice's confidence the job's:
    each decided choice's evidence is revised as a yes/no of its own (``revise`` over every object's evidence for
    that choice: its temperature, its gold objects), and the published number is again the probability that the
    choice applies. A value without evidence is returned as it is; a choice whose evidence cannot be read keeps its
    number, a value whose evidence as a whole cannot be read keeps them all (each logged, as ``revise`` does)."""
    yes, no = CHOICE_AS_YES_NO.labels
    per_choice: dict[str, dict[Hashable, dict[str, Any]]] = {choice: {} for choice in choices}
    refused = 0
    for key, value in values.items():
        if isinstance(value, Mapping) and EVIDENCE_KEY not in value:
            continue  # majority vote, a large batch, nothing decided: nothing to revise
        try:
            evidence, chosen, known = _choices_evidence(value, choices)
        except ValueError as error:
            if not refused:
                LOG.error("%s%s %s: its confidences stay its batch's, since its evidence cannot be read (%s)",
                          f"{question}: " if question else "", what, key, error)
            refused += 1
            continue
        for choice, its in evidence.items():
            as_yes_no = {"label": yes if choice in chosen else no, EVIDENCE_KEY: its}
            if known is not None:
                as_yes_no[GOLD_KEY] = known_yes_no(known, choice)
            per_choice[choice][key] = as_yes_no
    if refused > 1:
        LOG.error("%d values in all keep their batch's confidences for unreadable evidence", refused)
    applies: dict[Hashable, dict[str, float]] = {}
    for choice, decided in per_choice.items():
        named = f"{question}: choice {choice!r}: {what}" if question else f"choice {choice!r}: {what}"
        for key, revised in revise(decided, CHOICE_AS_YES_NO.labels, what=named).items():
            if revised is not decided[key]:
                p = revised["confidence"]  # (of the decided yes/no)
                applies.setdefault(key, {})[choice] = round(choice_probability(p, revised["label"] == yes),
                                                            CONFIDENCE_DIGITS)
    out = dict(values)
    for key, confidences in applies.items():
        value = dict(values[key])  # (its evidence and votes are shared, never changed)
        value.setdefault(BATCH_CONFIDENCE_KEY, value.get("confidence"))  # kept when revised again
        value["confidence"] = {**value["confidence"], **confidences}
        out[key] = value
    return out


def _choices_evidence(value: Any, choices: Sequence[str]) -> tuple[Mapping[str, Any], list, Optional[list]]:
    """A MultiSelect value's evidence per choice, its chosen choices and its gold's (None: not a gold object), its
    shape checked (each choice's own evidence is checked by ``revise``)."""
    if not isinstance(value, Mapping):
        raise ValueError("the value is not an object")
    chosen = value.get("labels")
    if not isinstance(chosen, list) or not all(isinstance(c, str) and c in choices for c in chosen):
        raise ValueError("its labels are not a list of the question's choices")
    if not isinstance(value.get("confidence"), Mapping):
        raise ValueError("its confidence is not an object of choices")
    evidence = value.get(EVIDENCE_KEY)
    if not isinstance(evidence, Mapping):
        raise ValueError(f"it has no {EVIDENCE_KEY!r} object")
    unknown = [choice for choice in evidence if choice not in choices]
    if unknown:
        raise ValueError(f"its evidence names {str(unknown[0])[:100]!r}, not one of the question's choices")
    known = value.get(GOLD_KEY)
    if not (isinstance(known, list) and all(isinstance(c, str) and c in choices for c in known)):
        known = None  # (as a gold label that is not one of a question's classes: no gold)
    return evidence, chosen, known


def classes_of(question: Any, batch_objects: int = 0) -> Optional[list[str]]:
    """The classes of a question the worker model decides with evidence (None for any other question, and in a batch
    of more than ``MAX_EVIDENCE_OBJECTS`` objects, which keeps none). A MultiSelect's choices are each decided as
    ``CHOICE_AS_YES_NO``, whose classes are its labels."""
    if not isinstance(question, (Classification, YesNo, Checkbox)) or batch_objects > MAX_EVIDENCE_OBJECTS:
        return None
    abstain = getattr(question, "abstain", None)
    return [label for label in question.labels if label != abstain]


def revise_labels(labels: Mapping[Hashable, Any], questions: Sequence[Any],
                  what: str = "object") -> dict[Hashable, Any]:
    """Per object, its label (the value under the label attribute: ``{<question>: <value>, ...}``) with every choice
    question's confidence the job's (``revise``) and every MultiSelect's, choice by choice (``revise_choices``); a
    label that is not an object, or has no value for a question, is kept."""
    out = dict(labels)
    for question in questions:
        classes = classes_of(question)
        if classes is None and not isinstance(question, MultiSelect):
            continue
        values = {key: label[question.name] for key, label in out.items()
                  if isinstance(label, Mapping) and isinstance(label.get(question.name), Mapping)}
        revised = (revise_choices(values, question.choices, what=what, question=question.name) if classes is None
                   else revise(values, classes, what=f"{question.name}: {what}"))
        for key, value in revised.items():
            if value is not values[key]:
                out[key] = {**out[key], question.name: value}
    return out


def revise_lines(lines: Sequence[Optional[Mapping[str, Any]]], label_attribute: str,
                 questions: Sequence[Any]) -> list[Optional[Mapping[str, Any]]]:
    """Output manifest lines (None: a line that could not be read; logs name a line by its index) with every
    choice question's confidence the job's (``revise_labels``); a line without the label attribute is kept."""
    labels = {number: line[label_attribute] for number, line in enumerate(lines)
              if isinstance(line, Mapping) and label_attribute in line}
    revised = revise_labels(labels, questions, what="output manifest line")
    return [{**line, label_attribute: revised[number]} if number in labels and revised[number] is not labels[number]
            else line for number, line in enumerate(lines)]
