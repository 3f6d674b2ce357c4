"""Plug-in Dawid-Skene, vectorised with numpy only: the baseline the benchmarks compare against.

Consolidation uses ``gt_common.crowd_model`` (calibrated confidence); this module's ``fit`` is the
classic point-estimate model it replaced, kept for ``bench/`` and its tests.

Model
-----
Every data object has one hidden true class ``z`` out of ``K``; every worker ``w`` has a
confusion matrix ``C[w, z, l]`` = P(worker w answers ``l`` | true class ``z``) (rows = true
class, each row sums to 1), and the classes have priors ``pi[z]``. ``fit`` runs EM:

* **Initialisation**: soft majority vote (each object's answer histogram, normalised; a tie
  keeps equal mass on the tied classes).
* **M-step**: expected counts ``N[w, z, l] = sum over w's answers l of P(z | object)``, built
  with one ``np.bincount`` scatter over all answers per class (no Python loop over answers). The
  confusion is ``(N + prior counts + smoothing + diagonal_bonus * I)`` normalised per row, so a
  worker seen once, a true class no object has, or a class nobody chose still gives a finite,
  diagonal-favouring row: never a 0/0 or a log(0). Class priors are the posteriors summed over
  the objects that have answers, plus the prior's class counts, plus ``smoothing``, normalised.
* **E-step**: in log space, ``log P(z | object) = log pi[z] + sum over its answers of
  log C[w, z, l]`` (per class, one gather from a ``K x (W*K)`` log table plus one
  ``np.bincount`` scatter), normalised with a max-shifted log-sum-exp. Cost per iteration is
  O(answers x K) time and O((answers + objects) x K) memory.
* **Stop** when no posterior moved by more than ``tol`` (or after ``max_iter`` iterations).
  The returned confusion/counts are the ones from the final M-step on the final posteriors.

API
---
* ``fit(object_idx, worker_idx, label_idx, n_objects, n_workers, n_classes, *, prior=None,
  max_iter=100, tol=1e-6, smoothing=0.01, diagonal_bonus=1.0) -> DawidSkeneResult``; the
  three index arrays are one entry per answer (integers in ``[0, n)``), duplicates count twice.
* ``decide(posteriors, class_names, abstain=None, tie_order=None) -> (labels, confidences)`` and
  ``decide_indices`` (same, class indices instead of names).
* ``majority_vote(object_idx, label_idx, n_objects, n_classes)``: the soft majority vote used
  to initialise EM (a baseline; ``decide`` on it gives a deterministic majority vote).
* ``WorkerPrior(worker_counts, class_counts=None, weight=1.0)``,
  ``WorkerPrior.from_mapping(worker_ids, stored, n_classes, class_counts=None, weight=1.0)``,
  ``counts_by_worker(worker_ids, counts)``.

Persisting workers across batches
---------------------------------
``DawidSkeneResult.worker_counts`` are this batch's raw expected counts (``W x K x K``, before
smoothing and normalisation), ``class_counts`` the class counts. ``total_worker_counts`` /
``total_class_counts`` add the prior's counts: store those (e.g. per worker id with
``counts_by_worker``) and pass them to the next batch as a ``WorkerPrior`` (aligned with that
batch's worker indices with ``WorkerPrior.from_mapping``). The prior counts are added to the
M-step counts of those workers in every iteration, so a worker known from earlier batches to
be unreliable is discounted even in a small batch where the data alone could not tell.
``WorkerPrior.weight`` (default 1) scales the stored counts, e.g. < 1 to let old evidence decay.

Edge cases
----------
* Zero answers (empty arrays): no EM iteration runs (``iterations == 0``); every posterior is
  the class prior (uniform unless the prior has class counts); confusions are the smoothed prior.
* An object without answers gets the class priors as posterior and does not feed the priors.
* One worker / one object: the smoothing keeps everything finite; one worker's answers win.
* A class nobody chose: finite, small posteriors (never NaN), its confusion row is the prior.

Decision and ties (``decide``)
------------------------------
The label is the class with the largest posterior; confidence is the posterior of the chosen
class. Classes whose posterior is within ``1e-9`` of the maximum are tied; a tie is broken
deterministically: a non-abstain class beats the abstain class, then the alphabetically first
class name wins (case-insensitive, then case-sensitive, then original order, so it is total).
``tie_order`` replaces that rule: the tied class listed first in it wins (a question's tie rule,
``gt_common.choices``); classes it does not list come after, by the rule above.

The abstain class (e.g. ``"Not sure"``) is modelled as an ordinary class: a worker's
"Not sure" is an answer like any other. An object where every answer is the abstain class
therefore ends up with the abstain class as its largest posterior: its label is the abstain
class and its confidence that class's posterior (callers that prefer to send it to a human or
drop it can test ``label == abstain``). Only when the abstain class is tied with another class
does the other class win.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .choices import TIE_EPSILON  # ties are judged as consolidation judges them

__all__ = [
    "DawidSkeneResult",
    "WorkerPrior",
    "counts_by_worker",
    "decide",
    "decide_indices",
    "fit",
    "majority_vote",
]


@dataclass(frozen=True)
class WorkerPrior:
    """Counts from earlier batches, added to this batch's M-step counts.

    ``worker_counts``: ``(n_workers, K, K)``, row ``i`` for the worker with index ``i`` in this
    call's ``worker_idx`` (zeros for a worker never seen before), ``[w, true, answered]``.
    ``class_counts``: ``(K,)`` expected true-class counts from earlier batches, or None.
    ``weight``: multiplies both (1 = full memory, < 1 = decay, 0 = ignore).
    """

    worker_counts: np.ndarray
    class_counts: np.ndarray | None = None
    weight: float = 1.0

    @classmethod
    def from_mapping(
        cls,
        worker_ids: Sequence[str],
        stored: Mapping[str, object],
        n_classes: int,
        class_counts: object | None = None,
        weight: float = 1.0,
    ) -> "WorkerPrior":
        """Align stored per-worker ``K x K`` counts (e.g. loaded from JSON) with ``worker_ids``,
        the worker of each index in this batch. Unknown workers get zeros; a stored matrix of
        the wrong shape, or any count that is negative or not finite, raises ValueError."""
        counts = np.zeros((len(worker_ids), n_classes, n_classes), dtype=np.float64)
        for i, worker in enumerate(worker_ids):
            if worker in stored:
                matrix = np.asarray(stored[worker], dtype=np.float64)
                if matrix.shape != (n_classes, n_classes):
                    raise ValueError(
                        f"stored counts of worker {worker!r} have shape {matrix.shape}, "
                        f"want {(n_classes, n_classes)}"
                    )
                counts[i] = matrix
        classes = None if class_counts is None else np.asarray(class_counts, dtype=np.float64)
        for name, array in (("worker counts", counts), ("class counts", classes)):
            if array is not None and not (np.all(np.isfinite(array)) and np.all(array >= 0)):
                raise ValueError(f"stored {name} must be finite and non-negative")
        return cls(worker_counts=counts, class_counts=classes, weight=weight)


@dataclass(frozen=True)
class DawidSkeneResult:
    posteriors: np.ndarray  # (n_objects, K), rows sum to 1
    confusion: np.ndarray  # (n_workers, K, K), [w, true, answered], rows sum to 1
    class_priors: np.ndarray  # (K,)
    worker_counts: np.ndarray  # (n_workers, K, K) this batch's expected counts, raw
    class_counts: np.ndarray  # (K,) this batch's expected class counts (objects with answers)
    total_worker_counts: np.ndarray  # worker_counts + prior counts (what to persist)
    total_class_counts: np.ndarray  # class_counts + prior class counts
    iterations: int
    converged: bool
    log_likelihood: float  # log P(answers) under the parameters of the last E-step (0 without answers)


def counts_by_worker(worker_ids: Sequence[str], counts: np.ndarray) -> dict[str, list[list[float]]]:
    """``{worker_id: K x K nested list}`` of ``counts`` (e.g. ``result.total_worker_counts``),
    JSON-ready, to persist and feed back through ``WorkerPrior.from_mapping``."""
    return {worker: counts[i].tolist() for i, worker in enumerate(worker_ids)}


def _as_index(name: str, values: np.ndarray, size: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.size == 0:
        return np.zeros(0, dtype=np.intp)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"{name} must hold integers")
    array = array.astype(np.intp, copy=False)
    if array.min() < 0 or array.max() >= size:
        raise ValueError(f"{name} has values outside [0, {size})")
    return array


def majority_vote(object_idx, label_idx, n_objects: int, n_classes: int) -> np.ndarray:
    """Soft majority vote: each object's answer histogram normalised (uniform without answers)."""
    objects = _as_index("object_idx", object_idx, n_objects)
    labels = _as_index("label_idx", label_idx, n_classes)
    votes = np.bincount(objects * n_classes + labels, minlength=n_objects * n_classes)
    votes = votes.reshape(n_objects, n_classes).astype(np.float64)
    totals = votes.sum(axis=1, keepdims=True)
    empty = totals[:, 0] == 0
    votes[empty] = 1.0
    totals[empty] = n_classes
    return votes / totals


def fit(
    object_idx: np.ndarray,
    worker_idx: np.ndarray,
    label_idx: np.ndarray,
    n_objects: int,
    n_workers: int,
    n_classes: int,
    *,
    prior: WorkerPrior | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    diagonal_bonus: float = 1.0,
) -> DawidSkeneResult:
    """Fit Dawid-Skene by EM on answers ``(object_idx[i], worker_idx[i], label_idx[i])``.

    ``smoothing`` is a pseudo-count added to every confusion cell and every class count;
    ``diagonal_bonus`` an extra pseudo-count on each confusion diagonal (a worker is assumed a
    little better than chance until the data says otherwise). ``smoothing`` must be > 0 (so no
    cell is 0 and no log is -inf) and ``diagonal_bonus`` >= 0.
    """
    if n_objects < 0 or n_workers < 0 or n_classes < 1:
        raise ValueError("need n_objects >= 0, n_workers >= 0 and n_classes >= 1")
    if not (np.isfinite(smoothing) and smoothing > 0) or not (np.isfinite(diagonal_bonus) and diagonal_bonus >= 0):
        raise ValueError("need smoothing > 0 and diagonal_bonus >= 0 (finite)")
    class_alpha = smoothing
    objects = _as_index("object_idx", object_idx, n_objects)
    workers = _as_index("worker_idx", worker_idx, n_workers)
    labels = _as_index("label_idx", label_idx, n_classes)
    if not (objects.size == workers.size == labels.size):
        raise ValueError("object_idx, worker_idx and label_idx must have the same length")
    K = n_classes
    N = n_objects
    W = n_workers

    prior_workers = np.zeros((W, K, K), dtype=np.float64)
    prior_classes = np.zeros(K, dtype=np.float64)
    if prior is not None:
        counts = np.asarray(prior.worker_counts, dtype=np.float64)
        if counts.shape != (W, K, K):
            raise ValueError(f"prior.worker_counts has shape {counts.shape}, want {(W, K, K)}")
        if prior.weight < 0 or not np.isfinite(prior.weight):
            raise ValueError("prior.weight must be a finite number >= 0")
        if not np.all(np.isfinite(counts)) or (counts < 0).any():
            raise ValueError("prior.worker_counts must be finite and >= 0")
        prior_workers = counts * prior.weight
        if prior.class_counts is not None:
            classes = np.asarray(prior.class_counts, dtype=np.float64)
            if classes.shape != (K,) or not np.all(np.isfinite(classes)) or (classes < 0).any():
                raise ValueError(f"prior.class_counts must be {K} finite counts >= 0")
            prior_classes = classes * prior.weight
    pseudo = prior_workers + smoothing + diagonal_bonus * np.eye(K)  # (W, K, K)
    class_pseudo = prior_classes + class_alpha

    answered = np.zeros(N, dtype=bool)
    answered[objects] = True
    all_answered = bool(answered.all())
    pair = workers * K + labels  # (worker, answered label) of each answer
    # Posteriors are kept class-major, (K, N): each class's row is contiguous, so the per-class
    # gathers and scatters below (K numpy calls each, never a loop over answers) stay cheap.

    def m_step(post_t: np.ndarray):
        if objects.size:
            flat = np.empty((W * K, K))  # [w*K + l, z] = sum of P(z | object) over w's answers l
            for z in range(K):
                flat[:, z] = np.bincount(pair, weights=post_t[z].take(objects), minlength=W * K)
            counts = flat.reshape(W, K, K).transpose(0, 2, 1).copy()  # [w, z, l]
            classes = (post_t if all_answered else post_t[:, answered]).sum(axis=1)
        else:
            counts = np.zeros((W, K, K))
            classes = np.zeros(K)
        smoothed = counts + pseudo
        confusion = smoothed / smoothed.sum(axis=2, keepdims=True)
        class_total = classes + class_pseudo
        priors = class_total / class_total.sum()
        return counts, classes, confusion, priors

    def e_step(confusion: np.ndarray, priors: np.ndarray):
        # [z, w*K + l] = log C[w, z, l]; finite: every cell has a positive pseudo-count
        table = np.log(confusion).transpose(1, 0, 2).reshape(K, W * K)
        log_prior = np.log(priors)
        log_post = np.empty((K, N))
        for z in range(K):
            log_post[z] = np.bincount(objects, weights=table[z].take(pair), minlength=N)
            log_post[z] += log_prior[z]
        shift = log_post.max(axis=0)
        log_post -= shift
        post_t = np.exp(log_post, out=log_post)
        total = post_t.sum(axis=0)
        post_t /= total
        log_lik = np.log(total) + shift
        log_lik = float(log_lik.sum() if all_answered else log_lik[answered].sum())
        return post_t, log_lik

    posteriors_t = np.ascontiguousarray(majority_vote(objects, labels, N, K).T)
    iterations = 0
    converged = objects.size == 0
    log_lik = 0.0
    counts, classes, confusion, priors = m_step(posteriors_t)
    if objects.size == 0:
        posteriors = np.tile(priors, (N, 1))
    else:
        for iterations in range(1, max_iter + 1):
            new_posteriors_t, log_lik = e_step(confusion, priors)
            delta = float(np.abs(new_posteriors_t - posteriors_t).max()) if N else 0.0
            posteriors_t = new_posteriors_t
            counts, classes, confusion, priors = m_step(posteriors_t)
            if delta <= tol:
                converged = True
                break
        posteriors = np.ascontiguousarray(posteriors_t.T)
    return DawidSkeneResult(
        posteriors=posteriors,
        confusion=confusion,
        class_priors=priors,
        worker_counts=counts,
        class_counts=classes,
        total_worker_counts=counts + prior_workers,
        total_class_counts=classes + prior_classes,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_lik,
    )


def _tie_rank(class_names: Sequence[str], abstain: str | None, tie_order: Sequence[str] | None = None) -> np.ndarray:
    listed = {name: i for i, name in reversed(list(enumerate(tie_order or ())))}
    order = sorted(
        range(len(class_names)),
        key=lambda k: (listed.get(class_names[k], len(listed)),
                       class_names[k] == abstain if abstain is not None else False,
                       class_names[k].casefold(), class_names[k], k),
    )
    rank = np.empty(len(class_names), dtype=np.intp)
    rank[np.asarray(order, dtype=np.intp)] = np.arange(len(class_names))
    return rank


def decide_indices(posteriors: np.ndarray, class_names: Sequence[str], abstain: str | None = None,
                   tie_order: Sequence[str] | None = None):
    """``(chosen class index per object, its posterior)`` with the tie-breaking of ``decide``."""
    post = np.asarray(posteriors, dtype=np.float64)
    if post.ndim != 2 or post.shape[1] != len(class_names):
        raise ValueError(f"posteriors must be (n_objects, {len(class_names)})")
    if abstain is not None and abstain not in class_names:
        raise ValueError(f"abstain class {abstain!r} is not one of the class names")
    if post.shape[0] == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    rank = _tie_rank(class_names, abstain, tie_order)
    best = post.max(axis=1, keepdims=True)
    tied = post >= best - TIE_EPSILON
    chosen = np.where(tied, rank, len(class_names)).argmin(axis=1)
    return chosen, post[np.arange(post.shape[0]), chosen]


def decide(posteriors: np.ndarray, class_names: Sequence[str], abstain: str | None = None,
           tie_order: Sequence[str] | None = None):
    """``(labels, confidences)``: per object the chosen class name and its posterior.

    Ties (within ``1e-9`` of the best) go to the first class of ``tie_order``, else to a
    non-abstain class first, then to the alphabetically first name (case-insensitive). See the
    module docstring.
    """
    chosen, confidence = decide_indices(posteriors, class_names, abstain, tie_order)
    return [class_names[k] for k in chosen], confidence
