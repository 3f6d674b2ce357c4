"""Calibrated worker model for a choice among labels: the probability that a label is right.

Why not plain Dawid-Skene: its posterior treats every answer as independent evidence and plugs in
point estimates of each worker's confusion. On a small batch a confusion cell seen once counts
hundreds to one, and on real crowds workers err together on hard objects, so its published
posterior said 0.999 for labels that were right 90% (or 64%) of the time. This model keeps
Dawid-Skene's structure and fixes the three causes, each measured in ``bench/bench_calibration.py``:

1. **Fewer, shrunk parameters** (a hierarchical prior learned across the job). Worker ``w`` answers right with
   probability ``p[w, z]`` when the true class is ``z``; a wrong answer is drawn from an error distribution
   ``E[z, :]`` shared by all workers. ``p[w, z]`` has a Beta prior centred on the pooled accuracy of class
   ``z`` over every worker the job has seen, the pooled accuracy of a class is shrunk towards the crowd's
   accuracy over every class (``CLASS_ACCURACY_PRIOR`` answers' worth: a class seen on two objects must not
   get an accuracy of its own, or a yes/no job's split votes drift to its rarer class), and that one has a
   prior of ``PRIOR_ACCURACY`` (``POOLED_PRIOR`` answers' worth); ``E`` is pooled over workers with
   ``ERROR_PRIOR`` pseudo-errors per cell towards uniform. The Beta prior weighs as many answers as the
   workers' accuracies on that class show it should (``worker_prior_weight``: their spread beyond what their
   numbers of answers explain, learned in EM's first ``WORKER_PRIOR_LEARNED_IN`` iterations from the workers
   with ``WORKER_PRIOR_MIN_ANSWERS`` answers on the class), between ``WORKER_PRIOR_MIN`` and ``WORKER_PRIOR``;
   ``WORKER_PRIOR`` with fewer than ``WORKER_PRIOR_MIN_WORKERS`` such workers (so small jobs and early batches
   keep it). A worker seen on five objects is therefore judged mostly by the crowd, one seen on five hundred
   by their own record, and in a crowd of very different workers (duck's: a weight of about 2 on both classes)
   the own record counts sooner. Simulated crowds of that kind (39 workers whose accuracy on each of two
   classes is drawn from a Beta of concentration 2.3, 7 per object, a quarter of the objects hard; 40 jobs of
   108 objects): 0.767 of the objects right in one batch against 0.745 with the weight fixed at
   ``WORKER_PRIOR`` (batches of 10: 0.729 and 0.730; ``bench/results/calibration.md``, "Crowds of very
   different workers"); on duck itself one object of 108 the other way (0.889 against 0.898), within
   crowd-kit's. Only answers given beside another voter's on their object (or on a gold object) count in these
   records and in the class frequencies: a lone answer's object is whatever that answer says, so counting it
   would only confirm its worker (with one worker per object every worker looked perfect and every skew of the
   answers grew).
2. **Posterior predictive, leave one out**. An object's posterior uses each worker's counts from
   *every other* object (its own expected counts subtracted), with the prior's pseudo-counts: the
   predictive probability of its answer, not a point estimate fitted to that very answer. (Class
   frequencies are not left out: on a batch of 18 objects over 6 classes that alone cost 0.07 of
   calibration with one worker per object.)
3. **Tempered by held-out answers**. Workers who err together carry less evidence than their count:
   the log-likelihood of the answers is divided by a temperature ``T >= 1`` chosen where the model
   best predicts each held-out answer from the other answers on its object (``TEMPERATURES``). That
   evidence is summed over the job's batches (``Fit.temper_loss``, kept in the worker memory), so a
   batch of ten objects uses the job's temperature, not a guess of its own. Tempering is one parameter
   more than independent answers, so a ``T > 1`` must beat ``T = 1`` by BIC's price, half the log of the
   answers the job has counted (12 objects x 3 answers cannot show workers erring together: a noisy
   ``T`` had made unanimous objects 0.90 when they are right 98% of the time). Independent workers get
   ``T = 1``. The label is the untempered posterior's best class (tempering never changes who wins);
   its confidence is the tempered posterior of that class. (Averaging the tempered posteriors over every
   ``T``, weighted by its evidence with that price, instead of taking the best ``T`` was tried and not kept:
   duck's batches of ten 0.090 of calibration error instead of 0.095, but the small yes/no jobs' unanimous
   objects 0.93 when they are right 98% of the time, against 0.98 now.)

With one worker per object and no history nothing identifies a worker's accuracy or the classes'
frequencies, so a single vote is the label with the prior's confidence: ``PRIOR_ACCURACY``.

**What it cannot see**: workers who agree on a class the gold does not hold. On face (``bench/results/
calibration.md``, "What answers alone cannot show") 10.8% of the objects' gold class was named by none of
their ~9 workers, and the gold class is a majority class less often (65.6%) than a held-out answer is one of
the others' (74.6%); the gold classes are balanced (146 each) but the crowd calls 278 objects class 0,
right 48% of the time. Answers alone are consistent with the crowd's class being the truth. Tried while
choosing this model, on the answers only, and not kept: a temperature alone (1 to 32; face's ECE at best
0.18, at 16, mean confidence 0.54); a mixture with "ambiguous" objects whose answers say nothing of the
class (face 0.23, and simulated independent workers' small jobs went from 0.04 to 0.10); a
Dirichlet-multinomial over objects (face 0.27 at its most likely concentration); an effective number of
independent votes from pairs' agreement beyond what the model's skills explain (it found less correlation
than the held-out temperature: duck 1.9, face 1.7 against 4.0 and 3.4). Gold objects measure the gap
(``_gold_corrected``).

**Colluding workers** (``gt_common.collusion``): a flagged group's answers on one object are weighted so
that together they weigh one voter (``weights``, multiplying each answer's log-likelihood).

**Gold objects** (``known``: an object's known class): they count in every worker's record with their
known class, whatever the answers say (EM never estimates them), and each one's own answers are left
out of its workers' counts as for any object, so its posterior is an honest prediction. The temperature
cannot see workers who err together on the same objects (the held-out answers agree with each other
there); gold objects can. So the gold objects measure, per bin of the published confidence
(``GOLD_BIN_EDGES``), how often the label is right, and every object's confidence in that bin is
lowered (or raised) by the gap between the bin's gold confidence and gold accuracy, shrunk towards no
correction by ``GOLD_BIN_PRIOR`` gold objects' worth (the other classes share the rest as before). The
bins' counts are summed over the job's batches (``Fit.gold_bins``, kept in the worker memory), so a batch
without gold of its own is corrected by the job's. On duck and face with 10% of the objects gold this
was the one change that moved calibration on the real crowds (``bench/results/calibration.md``); fitting
the temperature to the gold objects instead was noisier (20 gold objects chose 13 on duck).

**The job's confidence** (``gt_common.job_confidence``): a batch's confidence uses the temperature and gold
bins of the batches before it and itself only, so ``Fit`` also gives what it was made of (each object's
``log_likelihood``, the classes' ``log_prior``, ``answers_seen``), from which the review reads every label again
with the job's latest temperature and all its gold objects.

Answers that are no class (an ``abstain`` label, "Not sure"): answer columns beyond the ``K`` true
classes. They are no evidence for or against any class (their likelihood is the same for every
class, so it is left out, and they do not count in a worker's accuracy): an object with
abstentions has less evidence, and a lower confidence, than if those workers had answered. (Learning
which classes workers abstain on overfitted small batches: two abstentions on one object made an
abstention a vote for that object's class.)

The fit is EM on the leave-one-out posteriors; it stops when no posterior moved by more than ``tol``
and reports ``iterations`` and ``converged`` (False when ``max_iter`` was reached first, or the invocation's
time for fitting ran out: ``gt_common.time_budget``). Cost per
iteration O(answers x K) (the leave-one-out correction only for workers seen fewer than ``EXACT_BELOW``
times); the temperature is chosen on at most ``TEMPER_SAMPLE`` answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import gold_correction, time_budget
from .gold_correction import GOLD_BIN_EDGES, GOLD_BIN_PRIOR  # noqa: F401  (the model's, read here too)

#: The accuracy a worker is assumed to have before the job shows anything (one vote's confidence).
PRIOR_ACCURACY = 0.8
#: How many answers' worth the pooled accuracy's prior weighs. With one worker per object only gold answers show
#: the crowd's accuracy, so this decides how far one gold answer moves it: with 2, one wrong gold answer took it
#: from 0.8 to 0.53 and turned a yes/no job's lone votes on that class into the other class (duck, first answer
#: per object, 10% gold: accuracy 0.43 against its votes' 0.55, ECE 0.116). 5 is the smallest tried (2, 5, 10,
#: 20, 40) with which the labels stay the votes there (ECE 0.006; the welding simulation's 0.138 to 0.093), and
#: every other row of ``bench/results/calibration.md`` moved by at most 0.005.
POOLED_PRIOR = 5.0
#: How many answers' worth the crowd's accuracy weighs in each worker's own (per true class), at most: workers
#: as alike as their counts allow, and any crowd of fewer than WORKER_PRIOR_MIN_WORKERS workers.
WORKER_PRIOR = 10.0
#: The least it weighs, however much the workers differ.
WORKER_PRIOR_MIN = 2.0
#: EM's iterations in which that weight is learned; it is then kept, so that EM converges as with a fixed prior.
WORKER_PRIOR_LEARNED_IN = 10
#: The fewest workers whose spread can set that weight, and the fewest answers (on the class) that count a
#: worker in.
WORKER_PRIOR_MIN_WORKERS = 8
WORKER_PRIOR_MIN_ANSWERS = 10.0
#: How many answers' worth the crowd's accuracy over every class weighs in the crowd's accuracy on one class.
#: Chosen on simulated yes/no jobs (3 workers, a class 5 times rarer than the other, 12 to 100 objects, the NER
#: staging shape; classes' accuracies 0.8 and 0.8, 0.9 and 0.65, 0.65 and 0.9): the smallest weight tried (10,
#: 15, 30, 60) with which the model is within 0.005 of majority vote's accuracy at 40 objects. With 10 the rare
#: class's accuracy sank and split votes went to it (0.85 against majority vote's 0.90 at 0.8 and 0.8); with
#: 30 unanimous objects' confidence is within 0.01 of their accuracy there.
CLASS_ACCURACY_PRIOR = 30.0
#: Pseudo-errors per cell of the shared error distribution, towards errors spread evenly.
ERROR_PRIOR = 10.0
#: Pseudo-count of each class's frequency (on a small batch an answered class must not look frequent
#: just because it was answered; one vote each on 18 objects of six classes: mean confidence 0.85 with 1,
#: 0.82 with 3).
CLASS_PRIOR = 3.0
#: The temperatures tried (fixed, so their held-out evidence adds up across batches).
TEMPERATURES = tuple(float(2 ** (k / 4)) for k in range(17))  # 1 .. 16
#: Leaving one answer out of a worker's record changes it by less than 1/this (confidences by ~0.002 at
#: 1,500 answers a worker): workers seen at least this often (on classes, job and batch) are read from one
#: table per class, nothing left out (100,000 objects x 3 answers fit as fast as the plug-in model); the
#: others exactly.
EXACT_BELOW = 1000
#: EM's cap. A batch with several answers per object converges in tens of iterations; with one worker per
#: object (nothing identifies accuracies) the class frequencies drift slowly: 410 on duck's first answers.
MAX_ITERATIONS = 500
#: The most answers the temperature is chosen on (a deterministic spread of objects beyond it).
TEMPER_SAMPLE = 20_000


@dataclass(frozen=True)
class Fit:
    posteriors: np.ndarray  # (n_objects, K) untempered: the label is its best class
    confidences: np.ndarray  # (n_objects, K) tempered: the probability each class is the true one
    counts: np.ndarray  # (n_workers, K, L) this batch's expected counts [w, true, answered]
    class_counts: np.ndarray  # (K,) this batch's expected true-class counts
    temper_loss: np.ndarray  # (len(TEMPERATURES),) this batch's held-out negative log-likelihood per T
    temperature: float
    iterations: int
    converged: bool
    gold_bins: np.ndarray  # (len(GOLD_BIN_EDGES) + 1, 3) this batch's answered gold objects per confidence bin:
    #                        how many, how many labeled right, their confidences summed (before the correction)
    log_likelihood: np.ndarray  # (n_objects, K) the answers' untempered log-likelihood of each class (left one out)
    log_prior: np.ndarray  # (K,) the log of each class's frequency (unnormalized): the confidence is the softmax of
    #                        log_prior + log_likelihood / temperature, before the gold correction
    answers_seen: float  # the answers the job has counted, this batch's included (the temperature's BIC price)


def _index(name: str, values, size: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.intp).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise ValueError(f"{name} has values outside [0, {size})")
    return array


def fit(objects, workers, answers, n_objects: int, n_workers: int, n_classes: int, n_columns: Optional[int] = None, *,
        prior_counts: Optional[np.ndarray] = None, prior_classes: Optional[np.ndarray] = None,
        crowd_counts: Optional[np.ndarray] = None, prior_temper_loss: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, known: Optional[np.ndarray] = None,
        prior_gold_bins: Optional[np.ndarray] = None,
        tol: float = 1e-6, max_iter: Optional[int] = None) -> Fit:
    """Fit on answers ``(objects[i], workers[i], answers[i])``, one per worker and object.

    ``n_classes`` true classes; ``n_columns`` answer columns (default ``n_classes``; columns from
    ``n_classes`` on are answers that are no class, e.g. abstentions). ``prior_counts``
    ``(n_workers, K, L)``: each worker's counts from the job's earlier batches; ``prior_classes``
    ``(K,)`` theirs of the classes; ``crowd_counts`` ``(K, L)``: the counts of *every* worker the
    job has seen before (the pooled prior; default: the sum of ``prior_counts``);
    ``prior_temper_loss``: the earlier batches' held-out evidence per temperature.
    ``weights``: per answer, how much of a voter it is (``collusion.answer_weights``: a colluding group
    counts once per object; default 1 each). ``known``: per object its known class (a gold item) or -1:
    gold objects count in the workers' records with their known class, not an estimate, and measure the
    confidence against the truth (``Fit.gold_bins``; ``prior_gold_bins`` the earlier batches'), which
    corrects every object's confidence (see the module docstring).
    """
    max_iter = MAX_ITERATIONS if max_iter is None else max_iter
    K = n_classes
    L = K if n_columns is None else n_columns
    if K < 1 or L < K or n_objects < 0 or n_workers < 0:
        raise ValueError("need n_classes >= 1, n_columns >= n_classes and non-negative sizes")
    o = _index("objects", objects, n_objects)
    w = _index("workers", workers, n_workers)
    a = _index("answers", answers, L)
    if not (o.size == w.size == a.size):
        raise ValueError("objects, workers and answers must have the same length")
    N, W = n_objects, n_workers
    prior = np.zeros((W, K, L)) if prior_counts is None else np.asarray(prior_counts, dtype=np.float64)
    if prior.shape != (W, K, L):
        raise ValueError(f"prior_counts has shape {prior.shape}, want {(W, K, L)}")
    prior_cls = np.zeros(K) if prior_classes is None else np.asarray(prior_classes, dtype=np.float64)
    crowd = prior.sum(axis=0) if crowd_counts is None else np.asarray(crowd_counts, dtype=np.float64)
    temper_prior = np.zeros(len(TEMPERATURES)) if prior_temper_loss is None else np.asarray(prior_temper_loss, float)
    diagonal = np.zeros((K, L), dtype=bool)
    diagonal[np.arange(K), np.arange(K)] = True
    answered = np.bincount(o, minlength=N) > 0
    pair = w * L + a
    weight = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if weight is not None and (weight.size != o.size or not np.all((weight > 0) & (weight <= 1))):
        raise ValueError("weights must hold one number in (0, 1] per answer")
    gold = np.full(N, -1, np.intp) if known is None else np.asarray(known, dtype=np.intp).reshape(-1)
    if gold.size != N or gold.min(initial=0) < -1 or gold.max(initial=-1) >= K:
        raise ValueError(f"known must hold one class in [0, {K}) or -1 per object")
    gold_objects = np.flatnonzero(gold >= 0)
    # An answer tells of its worker's skill only beside another voter's answer on its object (or a known class):
    # alone, the object's posterior is that very answer, and counting it would only confirm the worker.
    names_class = a < K
    voters = np.bincount(o, weights=names_class * (1.0 if weight is None else weight), minlength=N)
    informs = (voters.take(o) > 1.0 + 1e-9) | (gold.take(o) >= 0)
    # (None when every answer informs: the common case, where multiplying by ones would cost ~10% of a large fit)
    skill_weight = None if informs.all() else informs.astype(np.float64)
    object_informs = ((voters > 1.0 + 1e-9) | (gold >= 0)).astype(np.float64)  # ... and of the class frequencies

    def clamp(q):
        """Gold objects count with their known class, whatever the answers say."""
        if gold_objects.size:
            q[:, gold_objects] = 0.0
            q[gold[gold_objects], gold_objects] = 1.0
        return q

    # Start: the share of each object's votes per class (abstentions left out); uniform without any.
    votes = np.bincount(o * L + a, weights=weight, minlength=N * L).reshape(N, L)[:, :K].astype(np.float64)
    totals = votes.sum(axis=1, keepdims=True)
    votes[totals[:, 0] == 0] = 1.0
    q = clamp(np.ascontiguousarray((votes / votes.sum(axis=1, keepdims=True)).T))  # (K, N), class-major

    worker_prior = np.full(K, WORKER_PRIOR)  # the worker prior's weight per class, learned in EM's first iterations

    def model(q, learn_worker_prior=True):
        """This batch's expected counts and the likelihood terms of every answer, left one out."""
        flat = np.empty((W * L, K))
        for z in range(K):
            mass = q[z].take(o)
            flat[:, z] = np.bincount(pair, weights=mass if skill_weight is None else mass * skill_weight,
                                     minlength=W * L)
        counts = flat.reshape(W, L, K).transpose(0, 2, 1)  # [w, true, answered], this batch
        classes = q @ object_informs  # objects whose class the answers can tell apart from a worker's slip
        total = counts + prior
        right = total[:, diagonal]  # (W, K)
        seen = total[:, :, :K].sum(axis=2)  # (W, K) answers naming a class; abstentions are no evidence
        pooled = crowd + counts.sum(axis=0)  # every worker the job has seen
        pooled_seen = pooled[:, :K].sum(axis=1)
        overall = (pooled[diagonal].sum() + POOLED_PRIOR * PRIOR_ACCURACY) / (pooled_seen.sum() + POOLED_PRIOR)
        accuracy = (pooled[diagonal] + CLASS_ACCURACY_PRIOR * overall) / (pooled_seen + CLASS_ACCURACY_PRIOR)
        if learn_worker_prior:
            worker_prior[:] = [worker_prior_weight(right[:, z], seen[:, z]) for z in range(K)]
        errors = np.where(diagonal[:, :K], 0.0, pooled[:, :K] + ERROR_PRIOR)
        errors = errors / np.maximum(errors.sum(axis=1, keepdims=True), 1e-300)
        column_errors = np.concatenate([errors, np.ones((K, L - K))], axis=1)  # (K, L)
        class_total = classes + prior_cls
        terms = np.empty((K, o.size))  # log P(answer | class z), this object's own counts left out
        p_all = (right + worker_prior * accuracy) / (seen + worker_prior)  # (W, K), no answer left out
        little = seen.sum(axis=1) < EXACT_BELOW  # workers seen little: their answers are left out exactly
        exact = np.flatnonzero(little.take(w)) if little.any() else np.zeros(0, np.intp)
        for z in range(K):
            # A worker's table of log P(answer | z) with nothing left out; exact below for workers seen little.
            table = np.log(np.clip(np.where(np.arange(L) == z, p_all[:, z:z + 1],
                                            (1.0 - p_all[:, z:z + 1]) * column_errors[z]), 1e-300, None))
            table[:, K:] = 0.0  # abstentions: no evidence for or against any class
            terms[z] = table.ravel().take(pair)
            if exact.size:
                ow, oa = w.take(exact), a.take(exact)
                own = q[z].take(o.take(exact))
                if skill_weight is not None:
                    own = own * skill_weight.take(exact)
                is_z, names = oa == z, oa < K
                p = (right[:, z].take(ow) - own * is_z + worker_prior[z] * accuracy[z]) / (
                    seen[:, z].take(ow) - own * names + worker_prior[z])
                np.clip(p, 1e-12, 1 - 1e-12, out=p)
                value = np.where(is_z, p, np.maximum((1.0 - p) * column_errors[z].take(oa), 1e-300))
                terms[z, exact] = np.where(names, np.log(value), 0.0)
        if weight is not None:
            terms *= weight  # a colluding group's answers on one object weigh one voter
        return counts, classes, terms, np.log(class_total + CLASS_PRIOR)  # (K,): the same for every object

    def likelihoods(terms):
        """(K, N): each object's answers' log-likelihood of each class."""
        return np.stack([np.bincount(o, weights=terms[z], minlength=N) for z in range(K)])

    def posterior(terms, class_terms, temperature=1.0, summed=None):
        log_post = likelihoods(terms) if summed is None else summed
        log_post = (log_post / temperature if temperature != 1.0 else log_post) + class_terms[:, None]
        log_post -= log_post.max(axis=0)
        post = np.exp(log_post)
        post /= post.sum(axis=0)
        return post

    iterations, converged = 0, o.size == 0
    counts, classes, terms, class_terms = model(q)
    for iterations in range(1, max_iter + 1):
        if o.size == 0:
            break
        new = clamp(posterior(terms, class_terms))
        delta = float(np.abs(new - q).max()) if N else 0.0
        q = new
        counts, classes, terms, class_terms = model(q, iterations < WORKER_PRIOR_LEARNED_IN)
        if delta <= tol:
            converged = True
            break
        if time_budget.expired():  # the labels of this iteration, not converged, rather than none in time
            break
    if o.size == 0:
        iterations = 0
    # What the answers say of every object, gold ones too (their own answers left out of their workers' counts).
    log_likelihood = likelihoods(terms)
    q = posterior(terms, class_terms, summed=log_likelihood)

    loss = _held_out_loss(o, terms, class_terms, N, log_likelihood)
    answers_seen = float(prior.sum()) + float(o.size if skill_weight is None else skill_weight.sum())
    temperature = choose_temperature(loss + temper_prior, answers_seen)
    tempered = posterior(terms, class_terms, temperature, summed=log_likelihood) if temperature != 1.0 else q
    without = ~answered  # an object nobody answered: the class frequencies, nothing else
    if without.any():
        frequencies = np.exp(class_terms - class_terms.max())
        q[:, without] = tempered[:, without] = (frequencies / frequencies.sum())[:, None]
    confidences, gold_bins = _gold_corrected(q, np.ascontiguousarray(tempered.T), gold, answered, prior_gold_bins)
    return Fit(np.ascontiguousarray(q.T), confidences, counts.copy(), classes, loss, temperature, iterations, converged,
               gold_bins, log_likelihood.T, np.asarray(class_terms, dtype=np.float64).copy(),
               answers_seen)


def choose_temperature(evidence: np.ndarray, answers_seen: float) -> float:
    """The temperature of ``TEMPERATURES`` the held-out ``evidence`` (negative log-likelihood per temperature, summed
    over the job's batches) favours once a ``T > 1`` pays BIC's price for its one parameter more: half the log of
    the answers the job has counted. 1 without any evidence."""
    evidence = np.asarray(evidence, dtype=np.float64)
    if evidence.shape != (len(TEMPERATURES),) or not evidence.any():
        return 1.0
    price = np.where(np.asarray(TEMPERATURES) == 1.0, 0.0, 0.5 * np.log(max(answers_seen, 1.0)))
    return TEMPERATURES[int(np.argmin(evidence + price))]


def worker_prior_weight(right: np.ndarray, seen: np.ndarray) -> float:
    """How many answers' worth the crowd's accuracy weighs in each worker's own (per worker: answers right,
    answers naming a class): the Beta prior's concentration ``m (1 - m) / tau^2 - 1``, where ``m`` is the
    crowd's accuracy and ``tau^2`` how much the workers' accuracies differ beyond what their numbers of
    answers explain (a moment estimate over the workers with two answers or more), kept within
    ``[WORKER_PRIOR_MIN, WORKER_PRIOR]``. Workers as alike as their counts allow are judged mostly by the
    crowd; in a crowd of very different workers each one's record speaks sooner."""
    counted = seen >= WORKER_PRIOR_MIN_ANSWERS
    n, hits = seen[counted], right[counted]
    total = float(n.sum())
    if n.size < WORKER_PRIOR_MIN_WORKERS:  # the spread of a handful of workers is mostly noise
        return WORKER_PRIOR
    m = min(max(float(hits.sum()) / total, 1e-6), 1 - 1e-6)
    spread = float((n * (hits / n - m) ** 2).sum())
    between = (spread - (n.size - 1) * m * (1 - m)) / (total - float((n * n).sum()) / total)
    if between <= 0:
        return WORKER_PRIOR
    return float(np.clip(m * (1 - m) / between - 1.0, WORKER_PRIOR_MIN, WORKER_PRIOR))


def _gold_corrected(q: np.ndarray, confidences: np.ndarray, gold: np.ndarray, answered: np.ndarray,
                    prior_bins: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The confidences corrected by what gold objects showed, and this batch's gold bins (``Fit.gold_bins``).

    ``q`` (K, N) untempered posteriors (the label's class is their best); ``confidences`` (N, K) tempered."""
    n, k = confidences.shape
    top = q.argmax(axis=0) if n else np.zeros(0, np.intp)
    top_conf = confidences[np.arange(n), top]
    bins = np.searchsorted(np.asarray(GOLD_BIN_EDGES), top_conf, side="right")  # gold_correction.bin_of
    counted = np.flatnonzero((gold >= 0) & answered)
    this = np.array(gold_correction.bins_of(zip(top_conf[counted].tolist(), (top[counted] == gold[counted]).tolist())))
    total = this if prior_bins is None else this + np.asarray(prior_bins, dtype=np.float64)
    gap = np.array(gold_correction.gaps(total.tolist()))  # confidence above the gold accuracy
    if not n or not gap.any():
        return confidences, this
    new_top = np.clip(top_conf - gap[bins], 1.0 / k, 1.0)
    scale = (1.0 - new_top) / np.maximum(1.0 - top_conf, 1e-300)  # the other classes share the rest as before
    corrected = confidences * scale[:, None]
    corrected[np.arange(n), top] = new_top
    return np.where(answered[:, None], corrected, confidences), this


def _held_out_loss(o: np.ndarray, terms: np.ndarray, class_terms: np.ndarray, n_objects: int,
                   log_likelihood: np.ndarray) -> np.ndarray:
    """Per temperature, minus the log-probability of each answer predicted from the *other* answers on
    its object (objects with two answers or more; at most ``TEMPER_SAMPLE`` answers). ``log_likelihood`` (K, N):
    each object's answers summed per class."""
    loss = np.zeros(len(TEMPERATURES))
    per_object = np.bincount(o, minlength=n_objects)
    usable = per_object[o] >= 2
    if usable.sum() > TEMPER_SAMPLE:  # a spread of whole objects, the same on every run
        step = int(np.ceil(usable.sum() / TEMPER_SAMPLE))
        usable &= (o % step) == 0
    if not usable.any():
        return loss
    K = terms.shape[0]
    mine = terms[:, usable]
    objects = o[usable]
    sums = log_likelihood[:, objects]
    others = sums - mine
    base = class_terms[:, None]
    likelihood = np.exp(mine)
    for i, temperature in enumerate(TEMPERATURES):
        log_post = base + others / temperature
        log_post -= log_post.max(axis=0)
        post = np.exp(log_post)
        predicted = (post * likelihood).sum(axis=0) / post.sum(axis=0)
        loss[i] = -float(np.log(np.maximum(predicted, 1e-300)).sum())
    return loss
