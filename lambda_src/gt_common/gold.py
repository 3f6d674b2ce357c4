"""Gold objects: data objects whose answers are known (honeypots, test questions), marked in the manifest.

A line of the input manifest may carry the known answer of any of the workflow's choice questions
(Classification, YesNo, Checkbox) under ``GOLD_KEY``::

    {"source": "s3://.../object-7.json", "gold": {"<question name>": "<one of its labels>"}}

The worker never sees it: Ground Truth hands the whole line to the pre-labeling function, which leaves
``gold`` out of the task input and writes it into the object's task record (``gt_common.task_record``,
field ``GOLD_KEY``), the one way to reach the consolidation function (whose payload names only each
object's source). Consolidation reads every object's record (``read_gold``), and for each question:

- the worker model counts a gold object with its known class, not an estimate (``crowd_model.fit``'s
  ``known``), and the gold objects measure the published confidence against the truth per confidence
  bin, which corrects every object's confidence (``crowd_model._gold_corrected``, summed over the job's
  batches);
- the object's label is still what its answers say; its consolidated value holds ``"gold": <known
  answer>`` and, when the label is not it, ``GOLD_MISS: true`` (read by ``gt_common.review``);
- the quality report gives each worker's answers on gold objects and how many were right.

A gold answer must be one of the question's labels (not its abstain label). A line whose ``gold`` is not
an object of question names to label strings is refused by pre-labeling (``gold_of_line`` names the
problem); a record's answer for a question the workflow does not have, a MultiSelect or Spans question
(no gold for those), or a label the question does not have is logged by object and question and left out.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Sequence

from .questions import Question
from .review import GOLD_MISS_KEY
from .s3uri import InputError

LOG = logging.getLogger(__name__)
#: The manifest line's key (and the task record's field) holding the object's known answers.
GOLD_KEY = "gold"
#: The key set (true) in a question's consolidated value when the label misses the known answer: the review
#: rule's own (``gt_common.review``), which routes such objects to an expert.
GOLD_MISS = GOLD_MISS_KEY
#: The most known answers one line may carry, and the longest question name or label accepted.
MAX_GOLD_ANSWERS = 100
MAX_TEXT = 1000


def gold_of_line(manifest_line: Mapping[str, Any]) -> Optional[dict[str, str]]:
    """The line's known answers (``{question: label}``), None without any; InputError naming the problem."""
    if GOLD_KEY not in manifest_line:
        return None
    value = manifest_line[GOLD_KEY]
    if not isinstance(value, dict) or not value:
        raise InputError(f"dataObject.{GOLD_KEY} must be a non-empty object of question names to known labels")
    if len(value) > MAX_GOLD_ANSWERS:
        raise InputError(f"dataObject.{GOLD_KEY} holds {len(value)} answers, more than {MAX_GOLD_ANSWERS}")
    for question, label in value.items():
        if not question or len(question) > MAX_TEXT:
            raise InputError(f"dataObject.{GOLD_KEY} has an empty or over-long question name")
        if not isinstance(label, str) or not label or len(label) > MAX_TEXT:
            raise InputError(f"dataObject.{GOLD_KEY}[{question[:60]!r}] is not a label (a non-empty string)")
    return dict(value)


def record_fields(manifest_line: Mapping[str, Any]) -> dict[str, Any]:
    """What pre-labeling adds to the object's task record: ``{GOLD_KEY: answers}``, or nothing."""
    gold = gold_of_line(manifest_line)
    return {GOLD_KEY: gold} if gold else {}


def _labels(question: Question) -> Optional[list[str]]:
    """The labels a gold answer may name, None for a question without gold."""
    if not question.is_choice:
        return None
    abstain = getattr(question, "abstain", None)
    return [label for label in question.labels if label != abstain]


def gold_by_question(records: Mapping[str, Optional[Mapping[str, Any]]],
                     questions: Sequence[Question]) -> dict[str, dict[str, str]]:
    """``{question: {object id: known label}}`` from each object's task record (None: no record)."""
    usable = {question.name: _labels(question) for question in questions}
    found: dict[str, dict[str, str]] = {question.name: {} for question in questions if usable[question.name]}
    for object_id, record in records.items():
        value = record.get(GOLD_KEY) if isinstance(record, Mapping) else None
        if value is None:
            continue
        if not isinstance(value, Mapping):
            LOG.warning("object %s: the task record's %s is not an object; no gold for it", object_id, GOLD_KEY)
            continue
        for question, label in value.items():
            labels = usable.get(question)
            if not labels:
                LOG.warning("object %s: gold answer for %.100r, which is not a choice question of this workflow; "
                            "left out", object_id, question)
            elif label not in labels:
                LOG.warning("object %s: gold answer %.100r of %s is not one of its labels; left out",
                            object_id, label, question)
            else:
                found[question][object_id] = label
    return found

