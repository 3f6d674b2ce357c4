"""A choice among labels, decided over a whole batch: Classification, YesNo, Checkbox, and each
choice of a MultiSelect (a yes/no of its own).

How, by the question's own ``method``, else the deployment's default (``questions.METHODS``):

- ``dawid-skene``: the calibrated worker model (``gt_common.crowd_model``) over every answer of the
  batch, starting from each worker's counts of the job's earlier batches and the crowd's (``prior``,
  from ``gt_common.worker_model``); this batch's counts come back in ``ChoiceResult.learned``, to be
  saved for the next batch. Confidence = the probability that the label is the true class.
  Workers flagged for answering alike beyond their skill (``gt_common.collusion``, judged on the job's
  batches together) count as one voter per object (``ChoiceResult.colluding``); gold objects (``gold``:
  known answers, ``gt_common.gold``) count with their known class and correct the confidence
  (``crowd_model``); a gold object's ``Decision.gold_miss`` says its label is not the known answer.
- ``majority-vote``: per object the most common answer; confidence = its share of the votes
  (abstentions included in the count); nothing is remembered.

Abstaining (the question's ``abstain`` label, a "cannot tell") is not a class: no object is modelled
as truly that. An abstention lowers the evidence (the answer says little about any class), and
the object's label is the abstain label only when a **strict majority** of its answers abstain; its
confidence is then 0, since the label names no class (route it to review). Otherwise the label is
the best real class.

Ties (classes within ``1e-9`` of the best): the question's ``tie`` label when it is among the tied,
else the tied class ranked first by a stable hash of the object id and the label, so a tie is
decided the same way on every run but no class wins ties by its name. A tied label's confidence is
at most ``1 / number tied`` (majority vote) or its share of the posterior (the model).
An object without a usable answer gets no label (None) and confidence 0.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Optional, Sequence

import numpy as np

from . import collusion, crowd_model
from .questions import MAJORITY_VOTE
from .worker_model import Entry

LOG = logging.getLogger(__name__)
#: Scores within this of an object's best are a tie (decided by ``tie_break``).
TIE_EPSILON = 1e-9


class Answer(NamedTuple):  # a batch of 100,000 objects holds 300,000: a tuple is made fastest
    object_id: str
    worker_id: str
    label: str


def gold_missed(label: Optional[str], known: Optional[str]) -> bool:
    """Whether an object's label misses its known answer (``known`` None: not a gold object; an object without any
    usable answer, ``label`` None, has no label to miss with)."""
    return known is not None and label is not None and label != known


@dataclass(frozen=True)
class Decision:
    label: Optional[str]  # None when the object had no usable answer
    confidence: float
    gold: Optional[str] = None  # the known answer of a gold object

    @property
    def gold_miss(self) -> bool:
        """A gold object whose consolidated label is not its known answer (``gold_missed``)."""
        return gold_missed(self.label, self.gold)


@dataclass
class ChoiceResult:
    """Every object's decision, as arrays aligned with ``object_ids`` (``decisions`` gives them per object)."""

    object_ids: Sequence[str]
    labels: list  # per object its label (None: no usable answer)
    confidences: list  # per object its label's confidence (a float)
    gold: Mapping[str, str]  # the known answer of each gold object of the batch
    learned: Optional[Entry]  # this batch's counts (the worker model only)
    iterations: int = 0  # the model's EM iterations (0 for majority vote)
    converged: bool = True  # False: the model stopped at its iteration cap
    temperature: Optional[float] = None  # the model's evidence temperature (None for majority vote)
    colluding: list = field(default_factory=list)  # collusion.Pair flagged in this batch (the worker model only)
    # The worker model's evidence (None for majority vote): per object (n, K) the answers' log-likelihood of each
    # class, the classes' log frequencies (K,), and the answers the job had counted (``gt_common.job_confidence``).
    log_likelihood: Optional[np.ndarray] = None
    log_prior: Optional[np.ndarray] = None
    answers_seen: float = 0.0

    @property
    def decisions(self) -> dict[str, Decision]:
        return {object_id: Decision(label, confidence, self.gold.get(object_id))
                for object_id, label, confidence in zip(self.object_ids, self.labels, self.confidences)}


def tie_break(object_id: str, tied: Sequence[str], tie: Optional[str] = None) -> str:
    """The winner among ``tied`` labels of one object (see the module docstring)."""
    if tie is not None and tie in tied:
        return tie
    return min(tied, key=lambda label: hashlib.blake2b(f"{object_id}\0{label}".encode(), digest_size=8).digest())


def _nested(matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str]) -> dict[str, dict[str, float]]:
    return {true: {answered: round(float(matrix[t, a]), 6) for a, answered in enumerate(columns) if matrix[t, a]}
            for t, true in enumerate(rows) if matrix[t].any()}


def _matrix(nested: Optional[dict], rows: dict[str, int], columns: dict[str, int]) -> np.ndarray:
    """Stored counts as a ``rows x columns`` matrix; counts of other labels are left out."""
    matrix = np.zeros((len(rows), len(columns)))
    for true, row in (nested or {}).items():
        if true in rows:
            for answered, number in row.items():
                if answered in columns:
                    matrix[rows[true], columns[answered]] += float(number)
    return matrix


def _decide(object_ids: Sequence[str], scores: np.ndarray, confidences: np.ndarray, votes: np.ndarray,
            classes: Sequence[str], abstain: Optional[str], tie: Optional[str]) -> tuple[list, list]:
    """Each object's label from ``scores`` (n, K) and its confidence from ``confidences`` (n, K), as two
    lists; ``votes`` (n, L) the answer counts, the last column the abstentions when there is an abstain label."""
    n, n_classes = len(object_ids), len(classes)
    total = votes.sum(axis=1)
    abstained = votes[:, n_classes:].sum(axis=1) * 2 > total if abstain is not None else np.zeros(n, bool)
    if n_classes:
        best = scores.argmax(axis=1)
        tied = scores >= scores.max(axis=1, keepdims=True) - TIE_EPSILON
        for i in np.flatnonzero((tied.sum(axis=1) > 1) & (total > 0) & ~abstained).tolist():
            best[i] = classes.index(tie_break(object_ids[i], [classes[j] for j in np.flatnonzero(tied[i])], tie))
        chosen = confidences[np.arange(n), best]
    else:
        best, chosen = np.zeros(n, np.intp), np.zeros(n)
    names = np.array([*classes, abstain, None], dtype=object)  # a class, the abstain label, no label
    label = np.where(total == 0, n_classes + 1, np.where(abstained, n_classes, best))
    confidence = np.where((total == 0) | abstained, 0.0, chosen)
    return names[label].tolist(), confidence.tolist()


def consolidate_choice(object_ids: Sequence[str], answers: Sequence[Answer], labels: Sequence[str], *,
                       method: str, tie: Optional[str] = None, abstain: Optional[str] = None,
                       prior: Optional[Entry] = None, gold: Optional[Mapping[str, str]] = None) -> ChoiceResult:
    """Decide every object of ``object_ids`` from ``answers`` (each label one of ``labels``).

    ``answers`` hold at most one answer per worker and object (``gt_common.consolidation``
    guarantees it for answers read from a payload); a second one is a caller's bug and raises.
    ``prior``: the counts of the job's earlier batches (the worker model only; checked by
    ``worker_model.check_file``). ``gold``: the known answers of gold objects (``gt_common.gold``;
    each a class of ``labels``, not the abstain label): the worker model counts them as the truth; every
    decision of a gold object carries its known answer (``Decision.gold_miss``).

    The worker model first looks for colluding workers in the batch (``gt_common.collusion``) and counts
    each flagged group as one voter per object (``ChoiceResult.colluding``). ``consolidate_indexed`` is
    the same with the answers as index arrays.
    """
    object_index = {object_id: i for i, object_id in enumerate(object_ids)}
    worker_index: dict[str, int] = {}
    label_index = {name: i for i, name in enumerate(labels)}
    objects = np.array([object_index[a.object_id] for a in answers], dtype=np.intp)
    workers = np.array([worker_index.setdefault(a.worker_id, len(worker_index)) for a in answers], dtype=np.intp)
    chosen = np.array([label_index[a.label] for a in answers], dtype=np.intp)
    return consolidate_indexed(object_ids, objects, workers, list(worker_index), chosen, labels, method=method,
                               tie=tie, abstain=abstain, prior=prior, gold=gold)


def consolidate_indexed(object_ids: Sequence[str], objects: np.ndarray, workers: np.ndarray,
                        worker_ids: Sequence[str], answers: np.ndarray, labels: Sequence[str], *, method: str,
                        tie: Optional[str] = None, abstain: Optional[str] = None, prior: Optional[Entry] = None,
                        gold: Optional[Mapping[str, str]] = None) -> ChoiceResult:
    """``consolidate_choice`` with answer ``i`` given as ``(object_ids[objects[i]], worker_ids[workers[i]],
    labels[answers[i]])``: three index arrays, however many answers (a batch of 100,000 objects)."""
    objects = np.asarray(objects, dtype=np.intp).reshape(-1)
    workers = np.asarray(workers, dtype=np.intp).reshape(-1)
    answers = np.asarray(answers, dtype=np.intp).reshape(-1)
    # The model numbers the workers who answered by name, so a worker's index never depends on the batch's order.
    present = np.flatnonzero(np.bincount(workers, minlength=len(worker_ids)))
    names = [worker_ids[i] for i in present.tolist()]
    rank = np.argsort(np.array(names, dtype=object), kind="stable") if names else np.zeros(0, np.intp)
    renumber = np.zeros(len(worker_ids), np.intp)
    renumber[present[rank]] = np.arange(present.size)
    workers = renumber[workers]
    worker_ids = [names[i] for i in rank.tolist()]
    W = len(worker_ids)
    answered = np.sort(objects * max(W, 1) + workers)
    if (answered[1:] == answered[:-1]).any():
        raise ValueError("answers hold two answers of one worker for one object")
    classes = [label for label in labels if label != abstain]
    columns = classes + ([abstain] if abstain is not None and abstain in labels else [])
    column_index = {name: i for i, name in enumerate(columns)}
    class_index = {name: i for i, name in enumerate(classes)}
    chosen = np.array([column_index[label] for label in labels], dtype=np.intp)[answers]
    n, K, L = len(object_ids), len(classes), len(columns)
    votes = np.bincount(objects * L + chosen, minlength=n * L).reshape(n, L).astype(np.float64)
    object_index = None

    gold = dict(gold or {})
    if gold:
        object_index = {object_id: i for i, object_id in enumerate(object_ids)}
        gold = {o: label for o, label in gold.items() if o in object_index}
    unknown = sorted(label for label in set(gold.values()) if label not in class_index)
    if unknown:
        raise ValueError(f"gold answers {unknown[:5]!r} are not classes of this question")
    if method == MAJORITY_VOTE:
        share = votes[:, :K] / np.maximum(votes.sum(axis=1, keepdims=True), 1.0)
        return ChoiceResult(object_ids, *_decide(object_ids, share, share, votes, classes, abstain, tie), gold, None)

    prior = prior or Entry()
    pairs, group, batch_pairs = collusion.colluding_groups(
        objects, workers, chosen, worker_ids, L, {(a, b): value for a, b, *value in prior.pairs},
        {w: _matrix(nested, class_index, column_index).sum(axis=0) for w, nested in prior.workers.items()})
    for p in pairs:
        LOG.warning("workers %s and %s answer alike beyond their skill (%d of %d shared objects, kappa %.2f, "
                    "%.2f explained): counted as one voter", p.first, p.second, p.agreed, p.shared, p.kappa,
                    p.explained)
    known = np.full(n, -1, np.intp)
    for object_id, label in gold.items():
        known[object_index[object_id]] = class_index[label]
    fit = crowd_model.fit(
        objects, workers, chosen, n, len(worker_ids), K, L,
        prior_counts=np.stack([_matrix(prior.workers.get(w), class_index, column_index) for w in worker_ids])
        if worker_ids else np.zeros((0, K, L)),
        prior_classes=np.array([float(prior.classes.get(name, 0.0)) for name in classes]),
        crowd_counts=sum((_matrix(nested, class_index, column_index) for nested in prior.workers.values()),
                         np.zeros((K, L))),
        prior_temper_loss=np.array(prior.temper) if prior.temper else None,
        weights=collusion.answer_weights(objects, workers, group) if pairs else None, known=known,
        prior_gold_bins=np.array(prior.gold_bins) if prior.gold_bins else None)
    if fit.converged:
        LOG.info("worker model converged in %d iterations, temperature %.2f", fit.iterations, fit.temperature)
    else:
        LOG.warning("worker model stopped at its cap of %d iterations before converging (temperature %.2f)",
                    fit.iterations, fit.temperature)
    learned = Entry({w: _nested(fit.counts[i], classes, columns) for i, w in enumerate(worker_ids)},
                    {name: round(float(fit.class_counts[i]), 6) for i, name in enumerate(classes)
                     if fit.class_counts[i]},
                    [round(float(x), 6) for x in fit.temper_loss] if fit.temper_loss.any() else [],
                    fit.gold_bins.round(6).tolist() if fit.gold_bins.any() else [],
                    [[a, b, n, agreed] for (a, b), (n, agreed) in sorted(batch_pairs.items())])
    decided = _decide(object_ids, fit.posteriors, fit.confidences, votes, classes, abstain, tie)
    return ChoiceResult(object_ids, *decided, gold, learned, fit.iterations, fit.converged, fit.temperature, pairs,
                        fit.log_likelihood, fit.log_prior, fit.answers_seen)
