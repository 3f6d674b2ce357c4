"""A choice among labels, decided over a whole batch: Classification, YesNo, Checkbox, and each
choice of a MultiSelect (a yes/no of its own).

How, by the question's own ``method``, else the deployment's default (``questions.METHODS``):

- ``dawid-skene``: ``gt_common.dawid_skene`` over every answer of the batch, starting from each
  worker's confusion counts of the job's earlier batches (``prior``, from ``gt_common.worker_model``);
  this batch's counts come back in ``ChoiceResult.learned``, to be saved for the next batch.
  Confidence = the chosen label's posterior.
- ``majority-vote``: per object the most common answer; confidence = its share of the votes;
  nothing is remembered.

Ties, in both methods (``tie_order``): the question's ``tie`` label when it is among the tied,
else a real label beats the ``abstain`` label, then the label listed first wins. The abstain label
is otherwise an ordinary answer: an object where most workers cannot tell is labelled with it.
An object without a usable answer gets no label (None) and confidence 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import numpy as np

from . import dawid_skene
from .questions import MAJORITY_VOTE
from .worker_model import Entry


class Answer(NamedTuple):  # a batch of 100,000 objects holds 300,000: a tuple is made fastest
    object_id: str
    worker_id: str
    label: str


@dataclass(frozen=True)
class Decision:
    label: Optional[str]  # None when the object had no usable answer
    confidence: float


@dataclass
class ChoiceResult:
    decisions: dict[str, Decision]
    learned: Optional[Entry]  # this batch's counts (Dawid-Skene only)


def tie_order(labels: Sequence[str], tie: Optional[str] = None, abstain: Optional[str] = None) -> list[str]:
    """The labels in the order they win a tie (see the module docstring)."""
    order = [label for label in labels if label != abstain] + [label for label in labels if label == abstain]
    return order if tie is None else [tie] + [label for label in order if label != tie]


def _nested(matrix: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    return {true: {answered: round(float(matrix[t, a]), 6) for a, answered in enumerate(classes) if matrix[t, a]}
            for t, true in enumerate(classes) if matrix[t].any()}


def _matrix(nested: Optional[dict], index: dict[str, int]) -> np.ndarray:
    """A stored worker's counts as a matrix of ``index``'s classes; counts of other classes are left out."""
    matrix = np.zeros((len(index), len(index)))
    for true, row in (nested or {}).items():
        if true in index:
            for answered, number in row.items():
                if answered in index:
                    matrix[index[true], index[answered]] += float(number)
    return matrix


def consolidate_choice(object_ids: Sequence[str], answers: Sequence[Answer], labels: Sequence[str], *,
                       method: str, tie: Optional[str] = None, abstain: Optional[str] = None,
                       prior: Optional[Entry] = None) -> ChoiceResult:
    """Decide every object of ``object_ids`` from ``answers`` (each label one of ``labels``).

    ``answers`` hold at most one answer per worker and object (``gt_common.consolidation``
    guarantees it for answers read from a payload); a second one is a caller's bug and raises.
    ``prior``: the counts of the job's earlier batches (Dawid-Skene only; checked by
    ``worker_model.check_file``).
    """
    if len({(a.object_id, a.worker_id) for a in answers}) != len(answers):
        raise ValueError("answers hold two answers of one worker for one object")
    object_index = {object_id: i for i, object_id in enumerate(object_ids)}
    worker_ids = sorted({answer.worker_id for answer in answers})
    worker_index = {worker: i for i, worker in enumerate(worker_ids)}
    class_index = {name: i for i, name in enumerate(labels)}
    objects = np.array([object_index[a.object_id] for a in answers], dtype=np.intp)
    workers = np.array([worker_index[a.worker_id] for a in answers], dtype=np.intp)
    chosen_labels = np.array([class_index[a.label] for a in answers], dtype=np.intp)
    answered = np.zeros(len(object_ids), dtype=bool)
    answered[objects] = True

    learned: Optional[Entry] = None
    if method == MAJORITY_VOTE:
        posteriors = dawid_skene.majority_vote(objects, chosen_labels, len(object_ids), len(labels))
    else:
        prior = prior or Entry()
        prior_matrices = {w: _matrix(prior.workers.get(w), class_index) for w in worker_ids}
        worker_prior = dawid_skene.WorkerPrior.from_mapping(
            worker_ids, prior_matrices, len(labels),
            class_counts=[float(prior.classes.get(name, 0.0)) for name in labels])
        result = dawid_skene.fit(objects, workers, chosen_labels, len(object_ids), len(worker_ids), len(labels),
                                 prior=worker_prior)
        posteriors = result.posteriors
        learned = Entry({w: _nested(result.worker_counts[i], labels) for i, w in enumerate(worker_ids)},
                        {name: round(float(result.class_counts[i]), 6) for i, name in enumerate(labels)
                         if result.class_counts[i]})
    chosen, confidence = dawid_skene.decide(posteriors, list(labels), abstain, tie_order(labels, tie, abstain))
    decisions = {
        object_id: Decision(chosen[i], float(confidence[i])) if answered[i] else Decision(None, 0.0)
        for i, object_id in enumerate(object_ids)
    }
    return ChoiceResult(decisions, learned)
