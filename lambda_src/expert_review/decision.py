"""The review job's consolidation: a pass-through of the experts' answers, not a crowd model.

An expert's answer is taken as the decision: there is nothing to weigh it against (a review job
asks one expert per object by default). With several experts per object, each question gets the
answer most of them gave; a tie decides nothing and that question keeps the crowd's label. A
question an expert left unanswered, answered "Not sure" (the abstain label), or answered with
something that is not one of its labels, keeps the crowd's label too (logged with the object and
the expert). The label written for each object: ``{"decision": {<question>: <label, or a
multi-select's list of choices>}, "reviewer": "<expert id>[,<expert id>...]"}``.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Optional

from gt_common.answers import MISSING, form_value, read_choices, read_label
from gt_common.configuration import configured_questions
from gt_common.consolidation import DataObjectAnswers, consolidate_batch_event, describe
from gt_common.questions import MultiSelect, Question
from gt_common.s3uri import InputError

from .jobs import s3_client
from .task import decision_labels, reviewed_questions

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


def lambda_handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    questions = reviewed_questions(configured_questions())
    return consolidate_batch_event(event, s3_client(), lambda items: {
        item.dataset_object_id: decide(item, questions) for item in items})


def decide(item: DataObjectAnswers, questions) -> dict[str, Any]:
    decision: dict[str, Any] = {}
    reviewers: list[str] = []
    for question in questions:
        chosen: Counter[tuple[str, ...]] = Counter()
        who: dict[tuple[str, ...], list[str]] = {}
        for answer in item.answers:
            problems: list[str] = []
            value = form_value(question, answer.form, problems)
            if value is MISSING:
                continue
            if problems:  # a button that cannot be read: this answer decides nothing
                item.skip(answer.worker_id, f"{question.name}: {'; '.join(problems)}")
                continue
            try:
                label = read_decision(question, value)
            except Exception as error:  # noqa: BLE001 - this answer decides nothing; the others stand
                item.skip(answer.worker_id, f"{question.name}: {describe(error)}")
                continue
            chosen[label] += 1
            who.setdefault(label, []).append(answer.worker_id)
        top = chosen.most_common(2)
        if top and (len(top) == 1 or top[0][1] > top[1][1]):
            choice = top[0][0]
            decision[question.name] = list(choice) if isinstance(question, MultiSelect) else choice[0]
            reviewers += [worker for worker in who[choice] if worker not in reviewers]
        elif top:
            LOG.warning("object %s, %s: the experts are tied; the crowd's label stays", item.dataset_object_id,
                        question.name)
    reviewer: Optional[str] = ",".join(reviewers) or None
    return {"decision": decision, "reviewer": reviewer}


def read_decision(question: Question, value: Any) -> tuple[str, ...]:
    """An expert's answer to one question as a tuple of labels (one, or a multi-select's choices in
    the question's order); InputError when it is no decision."""
    if isinstance(question, MultiSelect):
        problems: list[str] = []
        chosen = read_choices(question, value, problems)
        if problems:
            raise InputError("; ".join(problems))
        return tuple(choice for choice in question.choices if choice in chosen)
    label = read_label(question, value)
    if label not in decision_labels(question):
        raise InputError(f"{label!r} (the abstain label) is no decision")
    return (label,)
