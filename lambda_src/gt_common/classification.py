"""Consolidating one classification question over a whole batch, with a worker model.

Methods (``CONSOLIDATION_METHOD``, set by the ``CustomLabelingWorkflow`` construct):

- ``dawid-skene`` (default): ``gt_common.dawid_skene`` over every answer of the batch, starting
  from each worker's confusion counts of the job's earlier batches (``gt_common.job_state``);
  this batch's counts are written back for the next batch. Confidence = the chosen label's
  posterior.
- ``majority-vote``: per object, the most common answer; confidence = its share of the votes;
  no state. Ties in both: a real class beats the abstain class, then the alphabetically first.

Counts are stored by class *name*, so a change to the label list between batches keeps what is
known about the classes both lists share. An earlier batch's file is used only whole and only when
every count in it is a finite number in ``[0, MAX_ANSWERS_PER_JOB]`` (``check_worker_model``);
otherwise it is logged and left out, and the other batches still count.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from . import dawid_skene
from .job_quality import record_quality
from .job_state import MAX_ANSWERS_PER_JOB, MAX_OBJECTS_PER_JOB, JobState, count, mapping

LOG = logging.getLogger(__name__)
METHOD_ENV = "CONSOLIDATION_METHOD"
DAWID_SKENE = "dawid-skene"
MAJORITY_VOTE = "majority-vote"
METHODS = (DAWID_SKENE, MAJORITY_VOTE)


class ConfigurationError(ValueError):
    """The function's configuration (not a worker's answer) is wrong; the invocation must fail."""


def configured_method(environ: Mapping[str, str] = os.environ) -> str:
    method = environ.get(METHOD_ENV, "").strip() or DAWID_SKENE
    if method not in METHODS:
        raise ConfigurationError(f"{METHOD_ENV} {method!r} is not one of {', '.join(METHODS)}")
    return method


@dataclass(frozen=True)
class Answer:
    object_id: str
    worker_id: str
    label: str


@dataclass(frozen=True)
class Decision:
    label: Optional[str]  # None when the object had no usable answer
    confidence: float


@dataclass
class BatchResult:
    decisions: dict[str, Decision]
    # This batch's expected confusion counts per worker, {worker: {true class: {answer: count}}}.
    worker_counts: dict[str, dict[str, dict[str, float]]]
    class_counts: dict[str, float]


def _nested(matrix: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    return {true: {answered: round(float(matrix[t, a]), 6) for a, answered in enumerate(classes) if matrix[t, a]}
            for t, true in enumerate(classes) if matrix[t].any()}


WORKER_MODEL_VERSION = 1


def check_worker_model(value: dict[str, Any], question: str) -> None:
    """Raise ValueError naming the first thing wrong with a stored worker-model file.

    ``{"version": 1, "question": q, "workers": {worker: {true: {answered: count}}},
    "classes": {name: count}}``. A worker's count can be at most every answer of a job, a class
    count at most every object of a job.
    """
    if value.get("version") != WORKER_MODEL_VERSION:
        raise ValueError(f"version is {str(value.get('version'))[:20]}, not {WORKER_MODEL_VERSION}")
    if value.get("question") != question:
        raise ValueError(f"question is {str(value.get('question'))[:60]!r}, not {question!r}")
    for worker, nested in mapping(value.get("workers"), "workers").items():
        for true, row in mapping(nested, f"workers[{worker[:60]!r}]").items():
            for answered, number in mapping(row, f"workers[{worker[:60]!r}][{true[:60]!r}]").items():
                count(number, f"count of worker {worker[:60]!r}", MAX_ANSWERS_PER_JOB)
    for name, number in mapping(value.get("classes"), "classes").items():
        count(number, f"class count {name[:60]!r}", MAX_OBJECTS_PER_JOB)


def _matrix(nested: Any, classes: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)))
    if isinstance(nested, dict):
        for true, row in nested.items():
            if true in index and isinstance(row, dict):
                for answered, number in row.items():
                    if answered in index and isinstance(number, (int, float)) and number >= 0:
                        matrix[index[true], index[answered]] += float(number)
    return matrix


def consolidate_batch(object_ids: Sequence[str], answers: Sequence[Answer], classes: Sequence[str], *,
                      method: str = DAWID_SKENE, abstain: Optional[str] = None,
                      prior_workers: Optional[Mapping[str, Any]] = None,
                      prior_classes: Optional[Mapping[str, float]] = None) -> BatchResult:
    """Decide every object of ``object_ids`` from ``answers`` (labels must be in ``classes``).

    ``answers`` hold at most one answer per worker and object (``gt_common.consolidation``
    guarantees it for answers read from a payload); a second one is a caller's bug and raises.
    """
    if len({(a.object_id, a.worker_id) for a in answers}) != len(answers):
        raise ValueError("answers hold two answers of one worker for one object")
    object_index = {object_id: i for i, object_id in enumerate(object_ids)}
    worker_ids = sorted({answer.worker_id for answer in answers})
    worker_index = {worker: i for i, worker in enumerate(worker_ids)}
    class_index = {name: i for i, name in enumerate(classes)}
    objects = np.array([object_index[a.object_id] for a in answers], dtype=np.intp)
    workers = np.array([worker_index[a.worker_id] for a in answers], dtype=np.intp)
    labels = np.array([class_index[a.label] for a in answers], dtype=np.intp)
    answered = np.zeros(len(object_ids), dtype=bool)
    answered[objects] = True

    if method == MAJORITY_VOTE:
        posteriors = dawid_skene.majority_vote(objects, labels, len(object_ids), len(classes))
        worker_counts: dict[str, dict[str, dict[str, float]]] = {}
        class_counts: dict[str, float] = {}
    else:
        prior_matrices = {w: _matrix((prior_workers or {}).get(w), classes) for w in worker_ids}
        prior = dawid_skene.WorkerPrior.from_mapping(
            worker_ids, prior_matrices, len(classes),
            class_counts=[float((prior_classes or {}).get(name, 0.0)) for name in classes])
        result = dawid_skene.fit(objects, workers, labels, len(object_ids), len(worker_ids), len(classes), prior=prior)
        posteriors = result.posteriors
        worker_counts = {w: _nested(result.worker_counts[i], classes) for i, w in enumerate(worker_ids)}
        class_counts = {name: round(float(result.class_counts[i]), 6) for i, name in enumerate(classes)
                        if result.class_counts[i]}
    chosen, confidence = dawid_skene.decide(posteriors, list(classes), abstain)
    decisions = {
        object_id: Decision(chosen[i], float(confidence[i])) if answered[i] else Decision(None, 0.0)
        for i, object_id in enumerate(object_ids)
    }
    return BatchResult(decisions, worker_counts, class_counts)


def _add_nested(a: dict, b: dict) -> dict:
    merged = {true: dict(row) for true, row in a.items() if isinstance(row, dict)}
    for true, row in (b or {}).items():
        if not isinstance(row, dict):
            continue
        target = merged.setdefault(true, {})
        for answered, number in row.items():
            if isinstance(number, (int, float)):
                target[answered] = target.get(answered, 0.0) + number
    return merged


def consolidate_with_state(object_ids: Sequence[str], answers: Sequence[Answer], classes: Sequence[str], *,
                           question: str, s3_client, state: Optional[JobState], method: str,
                           abstain: Optional[str] = None) -> BatchResult:
    """``consolidate_batch`` primed with the job's earlier batches, this batch's counts saved after."""
    kind = f"worker-model-{question}"
    prior_workers: dict[str, Any] = {}
    prior_classes: dict[str, float] = {}
    if method == DAWID_SKENE and state is not None:
        for batch in state.earlier_batches(s3_client, kind, check=lambda value: check_worker_model(value, question)):
            for worker, nested in batch["workers"].items():
                prior_workers[worker] = _add_nested(prior_workers.get(worker, {}), nested)
            for name, number in batch["classes"].items():
                prior_classes[name] = prior_classes.get(name, 0.0) + number
    result = consolidate_batch(object_ids, answers, classes, method=method, abstain=abstain,
                               prior_workers=prior_workers, prior_classes=prior_classes)
    if method == DAWID_SKENE and state is not None:
        if state.write(s3_client, kind, {"version": WORKER_MODEL_VERSION, "question": question,
                                         "workers": result.worker_counts, "classes": result.class_counts}):
            LOG.info("worker model of %d workers (%d known from earlier batches) saved to %s",
                     len(result.worker_counts), len(set(prior_workers) & set(result.worker_counts)), state.uri(kind))
    try:
        record_quality(s3_client, state, question, [(a.object_id, a.worker_id, a.label) for a in answers],
                       {object_id: decision.label for object_id, decision in result.decisions.items()}, classes)
    except Exception:  # noqa: BLE001 - the labels matter more than the report: never fail the batch for it
        LOG.exception("quality report of %s could not be written", question)
    return result
