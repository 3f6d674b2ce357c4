"""From decoded worker forms to votes, and the types every voting strategy shares.

A strategy is any ``VotingStrategy``: it gets one object's votes (with worker ids, so a worker
model such as Dawid-Skene can weigh them) and returns a ``Decision``. Reading answers and
shaping the response stay outside the strategy, so swapping it changes nothing else.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Collection, Optional, Sequence

from gt_common.consolidation import DataObjectAnswers
from gt_common.s3uri import InputError

LOG = logging.getLogger(__name__)

# The crowd-classifier's name in the worker template; its answer is {FORM_FIELD: {"label": ...}}.
FORM_FIELD = "WeldingClassification"


@dataclass(frozen=True)
class Vote:
    worker_id: str
    label: str


@dataclass(frozen=True)
class Decision:
    label: Optional[str]  # None when the object had no usable vote
    confidence: float  # 0..1


VotingStrategy = Callable[[Sequence[Vote]], Decision]


def answer_label(form: dict[str, Any], categories: Collection[str]) -> str:
    """The category a worker chose; InputError if the form has none or an unknown one."""
    answer = form.get(FORM_FIELD)
    if not isinstance(answer, dict):
        raise InputError(f"form has no {FORM_FIELD} object")
    label = answer.get("label")
    if not isinstance(label, str):
        raise InputError(f"{FORM_FIELD}.label is missing or not a string")
    if label not in categories:
        # Truncated: the value is worker-supplied and ends up in the logs.
        raise InputError(f"{FORM_FIELD}.label {label[:100]!r} is not one of the label categories")
    return label


def extract_votes(item: DataObjectAnswers, categories: Collection[str]) -> list[Vote]:
    """One vote per usable answer; unusable ones are logged and recorded in ``item.skipped``."""
    votes = []
    for answer in item.answers:
        try:
            votes.append(Vote(answer.worker_id, answer_label(answer.form, categories)))
        except InputError as error:
            reason = f"object {item.dataset_object_id}, worker {answer.worker_id}: {error}"
            LOG.warning("skipping answer: %s", reason)
            item.skipped.append(reason)
    return votes
