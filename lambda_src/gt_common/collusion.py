"""Workers who answer alike far more than their skill explains (collusion), and workers whose answers
carry no information (spam).

Why not agreement with the consolidated label: two workers who always answer alike decide every object
they share with one honest worker, so they agree with "the consensus" perfectly and the honest worker
looks bad. Both tests here read the answers themselves, independently of what was consolidated.

**Collusion.** For each pair of workers who answered at least ``MIN_SHARED`` objects in common: their
observed agreement ``a`` on those objects, the agreement expected by chance from each one's share of
answers per label ``e = sum_l f_i(l) f_j(l)``, and Cohen's kappa ``k = (a - e) / (1 - e)``. Workers who
err independently given the true class (the one-coin model) have ``k ~= s_i * s_j``, where ``s`` is a
worker's skill above chance (0: answers carry nothing, 1: always right, negative: reliably wrong): the kappas of a
crowd are a rank-one table. The skills are fitted to the kappa of every pair that shares ``MIN_SKILL_SHARED``
objects or more (least squares weighted by shared objects; only pairs of ``MIN_SHARED`` are judged, but a worker
who shares that many with one skilled worker only, and with the others a few objects each, is told by those few:
judged on the large pairs alone, two honest workers were flagged in 9 of 1,600 simulated jobs of two crowd shapes,
against 2 now, ``test_collusion_and_gold``), leaving out pairs whose kappa lies far above the fit and fitting again
(``ROUNDS`` times), so a pair
that copies each other does not make itself look skilled. The fit is made from three starts (each worker's
median kappa with the others, their kappa with the second-best partner, and the table's leading direction), with skills at least 0 and with skills
allowed below 0 (a worker reliably wrong, e.g. one who always contradicts on a yes/no), and the one misfitting
the fewest shared objects of judged pairs (by ``EXCESS``, above or below; then by half of it) is kept: the explanation by independent skill
wherever one exists. A pair is flagged when its kappa exceeds the
skills' product by at least ``EXCESS`` and by ``Z`` standard errors (the binomial error of ``a`` under
the pair's expected agreement), and agreeing that often is, by the exact binomial tail, at most as likely as a
normal tail beyond ``Z`` (``CHANCE_AT_Z``: on a dozen shared objects the normal approximation called 9 alike
of 12 by two unrelated workers 1 in 200,000 when it is 1 in 20,000): e.g. two workers picking the same random label on every object they share
(``k = 1`` against ``0 x 0``), or two copying one honest worker's answers (``1`` against ``s^2``). The
evidence numbers go with the flag (``Pair``).

The worker model judges pairs on the job's batches together (``colluding_groups``: each batch's pair counts
and every worker's answers per label are kept in the worker memory), so a pair that shares ten objects in
each of many small batches is judged on all of them. Flagged pairs join into groups (a worker flagged with two others joins both). The worker model counts
a group's answers on one object as one voter (``answer_weights``: each member's evidence times
``1 / members who answered``), so a colluding pair cannot outvote honest workers.

**Spam** (``gt_common.worker_agreement``): a worker with at least ``MIN_SPAM_ANSWERS`` answers compared with
the consolidated label whose kappa against it is at most ``SPAM_KAPPA`` (a constant answer, or one drawn at
random, has kappa ~0): ``spam_kappa`` from the worker's confusion table (rows: consolidated class, columns:
their answer).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

# The spam rule is numpy-free, for functions that ship without numpy; here for the callers that find it here.
from .worker_agreement import MIN_SPAM_ANSWERS, SPAM_KAPPA, is_spam, spam_kappa  # noqa: F401

#: Objects two workers must share before their agreement is judged.
MIN_SHARED = 10
#: ... and before it counts towards their skills (fewer: their kappa says too little).
MIN_SKILL_SHARED = 3
#: How far (in kappa) a pair's agreement must exceed what their skills explain to be flagged.
EXCESS = 0.3
#: ... and by how many standard errors of its agreement.
Z = 4.0
#: ... and the exact chance of agreeing that often must be at most the normal tail beyond Z (3.2e-5).
CHANCE_AT_Z = 0.5 * math.erfc(Z / math.sqrt(2.0))
#: Pairs sharing more objects than this are tested with the normal approximation (close there, and O(n) exactly).
EXACT_TAIL_UP_TO = 5000
#: Fits of the skills, each leaving out the pairs the previous one found far above it.
ROUNDS = 3


@dataclass(frozen=True)
class Pair:
    """Two workers flagged for answering alike, with the evidence."""

    first: str
    second: str
    shared: int  # objects both answered
    agreed: int  # of those, answered alike
    chance: float  # agreement expected by chance from each one's labels
    kappa: float  # Cohen's kappa of the two
    explained: float  # the kappa their skills explain (skill x skill)
    z: float  # (kappa - explained) in standard errors

    def as_json(self) -> dict:
        return {"workers": [self.first, self.second], "shared_objects": self.shared, "agreed": self.agreed,
                "agreement": round(self.agreed / self.shared, 4), "chance_agreement": round(self.chance, 4),
                "kappa": round(self.kappa, 4), "kappa_explained_by_skill": round(self.explained, 4),
                "z": round(min(self.z, 1e6), 2)}


def pair_table(objects, workers, answers) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(first, second, shared, agreed)``: for every pair of workers (``first < second`` indices) who
    answered an object in common, how many objects they share and on how many they answered alike.
    One answer per worker and object; O(answers x most answers on one object)."""
    o = np.asarray(objects, dtype=np.int64)
    w = np.asarray(workers, dtype=np.int64)
    a = np.asarray(answers, dtype=np.int64)
    if o.size < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    order = np.argsort(o, kind="stable")
    o, w, a = o[order], w[order], a[order]
    most = int(np.bincount(o).max())
    n_workers = int(w.max()) + 1
    keys, alike = [], []
    for d in range(1, most):
        same = o[:-d] == o[d:]
        if not same.any():
            break
        left, right = w[:-d][same], w[d:][same]
        keys.append(np.minimum(left, right) * n_workers + np.maximum(left, right))
        alike.append(a[:-d][same] == a[d:][same])
    if not keys:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    keys, alike = np.concatenate(keys), np.concatenate(alike)
    if n_workers * n_workers <= max(4 * keys.size, 1 << 20):  # counted in a table of every pair: no sort
        shared = np.bincount(keys, minlength=n_workers * n_workers)
        key = np.flatnonzero(shared)
        shared = shared[key]
        agreed = np.bincount(keys, weights=alike, minlength=n_workers * n_workers)[key].astype(np.int64)
    else:
        key, inverse = np.unique(keys, return_inverse=True)
        shared = np.bincount(inverse)
        agreed = np.bincount(inverse, weights=alike).astype(np.int64)
    return key // n_workers, key % n_workers, shared, agreed


def chance_agreement(first, second, label_counts: np.ndarray) -> np.ndarray:
    """Per pair, ``sum_l f_i(l) f_j(l)`` from each worker's answers per label (rows of ``label_counts``)."""
    totals = np.maximum(label_counts.sum(axis=1, keepdims=True), 1)
    shares = label_counts / totals
    return (shares[first] * shares[second]).sum(axis=1)


def _starts(first, second, kappa, weight, n_workers: int) -> list[np.ndarray]:
    """Starting skills for the fit: each worker's median kappa with the others (a worker judged by the crowd at
    large, not by a best-agreeing partner), their kappa with their second-best partner, and the kappa table's
    leading direction (power iteration; signed,
    so workers who always contradict the others are explained as skilled in reverse)."""
    ends = np.concatenate([first, second])
    values = np.concatenate([kappa, kappa])
    order = np.argsort(ends, kind="stable")
    ends, values = ends[order], values[order]
    bounds = np.searchsorted(ends, np.arange(n_workers + 1))
    median = np.array([np.median(values[bounds[i]:bounds[i + 1]]) if bounds[i + 1] > bounds[i] else 0.0
                       for i in range(n_workers)])
    # The kappa with the second-best partner: a worker's one close partner left aside, however few the others.
    runner_up = np.array([np.sort(values[bounds[i]:bounds[i + 1]])[-min(2, bounds[i + 1] - bounds[i])]
                          if bounds[i + 1] > bounds[i] else 0.0 for i in range(n_workers)])
    vector = np.ones(n_workers)
    for _ in range(50):
        new = (np.bincount(first, weights=weight * kappa * vector[second], minlength=n_workers)
               + np.bincount(second, weights=weight * kappa * vector[first], minlength=n_workers))
        norm = np.linalg.norm(new)
        if norm < 1e-12:
            break
        vector = new / norm
    vector *= np.sign(vector.sum()) or 1.0
    signed_root = lambda x: np.sign(x) * np.sqrt(np.abs(np.clip(x, -1, 1)))  # noqa: E731
    return [signed_root(median), signed_root(runner_up), np.clip(vector * np.sqrt(n_workers), -1, 1)]


def _fit_skills(first, second, kappa, weight, n_workers: int, skill: np.ndarray, lowest: float) -> np.ndarray:
    """Skills ``s`` in [lowest, 1] (NaN for a worker in no pair) minimising ``sum weight (kappa - s_i s_j)^2``
    (alternating least squares from ``skill``)."""
    skill = np.clip(skill, lowest, 1.0)
    involved = np.bincount(np.concatenate([first, second]), minlength=n_workers) > 0
    for _ in range(100):
        top = (np.bincount(first, weights=weight * kappa * skill[second], minlength=n_workers)
               + np.bincount(second, weights=weight * kappa * skill[first], minlength=n_workers))
        bottom = (np.bincount(first, weights=weight * skill[second] ** 2, minlength=n_workers)
                  + np.bincount(second, weights=weight * skill[first] ** 2, minlength=n_workers))
        new = np.clip(np.divide(top, bottom, out=np.zeros(n_workers), where=bottom > 1e-12), lowest, 1.0)
        done = np.abs(new - skill).max() < 1e-6
        skill = new
        if done:
            break
    skill[~involved] = np.nan
    return skill


def _robust_skills(first, second, kappa, weight, n_workers: int, start: np.ndarray, lowest: float) -> np.ndarray:
    """Per pair, the kappa the skills explain (NaN: a worker known only through this pair), the skills fitted
    from ``start`` leaving out pairs far above the fit (``ROUNDS`` fits)."""
    kept = ~(kappa - start[first] * start[second] >= EXCESS)  # pairs far above the start sit out the first fit
    skill = start
    explained = np.full(first.size, np.nan)
    for _ in range(ROUNDS):
        skill = _fit_skills(first[kept], second[kept], kappa[kept], weight[kept], n_workers,
                            np.nan_to_num(skill, nan=0.0), lowest)
        explained = skill[first] * skill[second]
        new = ~(kappa - np.nan_to_num(explained, nan=np.inf) >= EXCESS)
        if (new == kept).all():
            break
        kept = new
    return explained


def find_pairs(first, second, shared, agreed, label_counts: np.ndarray,
               names: Optional[Sequence[str]] = None) -> list[Pair]:
    """The pairs of ``pair_table``'s rows that answer alike beyond their skills (see the module docstring).
    ``label_counts``: ``(workers, labels)`` each worker's answers per label; ``names``: worker names (default
    their indices as text)."""
    first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
    shared, agreed = np.asarray(shared, np.float64), np.asarray(agreed, np.float64)
    n_workers = label_counts.shape[0]
    if not (shared >= MIN_SHARED).any():
        return []
    # Every pair that shares objects tells of its two workers' skills (weighted by how many), though only one that
    # shares MIN_SHARED is judged: a worker who shares that many with one other skilled worker only (the rest with
    # spammers, whose agreement says nothing of anyone's skill) was otherwise judged unskilled, and the pair flagged.
    informs = shared >= MIN_SKILL_SHARED
    first, second, shared, agreed = first[informs], second[informs], shared[informs], agreed[informs]
    judged = shared >= MIN_SHARED
    chance = np.minimum(chance_agreement(first, second, label_counts), 1 - 1e-9)
    kappa = (agreed / shared - chance) / (1.0 - chance)
    # The explanation by skill that misfits the fewest shared objects of judged pairs by EXCESS either way, then by
    # half of it (a few pairs far off rather than many a little), then the closest.
    best = None
    for start, lowest in itertools.product(_starts(first, second, kappa, shared, n_workers), (0.0, -1.0)):
        explained_here = _robust_skills(first, second, kappa, shared, n_workers, start, lowest)
        gap = np.abs(kappa - np.nan_to_num(explained_here, nan=kappa))  # a pair nothing else explains: no misfit
        score = (float(shared[judged & (gap >= EXCESS)].sum()), float(shared[judged & (gap >= EXCESS / 2)].sum()),
                 float((shared * gap ** 2).sum()))
        if best is None or score < best[0]:
            best = (score, explained_here)
    explained = best[1]
    expected = chance + (1 - chance) * np.nan_to_num(explained, nan=1.0)
    expected = np.clip(expected, 1e-9, 1 - 1e-9)
    error = np.sqrt(expected * (1 - expected) / shared) / (1 - chance)
    z = (kappa - explained) / error
    candidates = np.flatnonzero(judged & (kappa - explained >= EXCESS) & (z >= Z))
    # Z standard errors is a normal approximation; on a pair's few shared objects the binomial tail is far heavier
    # (9 alike of 10 at an expected 0.28: z 4.4, yet 7e-5 by chance), so a candidate must also be that unlikely exactly.
    flagged = [i for i in candidates.tolist()
               if binomial_upper_tail(int(shared[i]), int(agreed[i]), float(expected[i])) <= CHANCE_AT_Z]
    name = (lambda i: str(i)) if names is None else (lambda i: names[i])
    pairs = [Pair(name(int(first[i])), name(int(second[i])), int(shared[i]), int(agreed[i]), float(chance[i]),
                  float(kappa[i]), float(explained[i]), float(z[i])) for i in flagged]
    return sorted(pairs, key=lambda p: (-p.z, p.first, p.second))


def binomial_upper_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): exact up to ``EXACT_TAIL_UP_TO`` trials, else the normal approximation."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if n > EXACT_TAIL_UP_TO:
        return 0.5 * math.erfc((k - 0.5 - n * p) / math.sqrt(2.0 * n * p * (1.0 - p)))
    ways = math.lgamma(n + 1)
    logs = [ways - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
            for i in range(k, n + 1)]
    top = max(logs)
    return math.exp(top) * sum(math.exp(x - top) for x in logs)


def groups_of(pairs: Sequence[Pair]) -> list[set[str]]:
    """Flagged pairs joined into groups of workers (connected pairs)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        parent[root(pair.first)] = root(pair.second)
    groups: dict[str, set[str]] = {}
    for worker in parent:
        groups.setdefault(root(worker), set()).add(worker)
    return list(groups.values())


def answer_weights(objects, workers, group_of_worker: np.ndarray) -> np.ndarray:
    """Each answer's weight: ``1 / members of its group who answered the object`` for a group member
    (``group_of_worker[w]`` >= 0), 1 for everyone else."""
    o = np.asarray(objects, dtype=np.int64)
    g = np.asarray(group_of_worker, dtype=np.int64)[np.asarray(workers, dtype=np.int64)]
    weights = np.ones(o.size)
    member = g >= 0
    if member.any():
        key = o[member] * (int(g.max()) + 1) + g[member]
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        weights[member] = 1.0 / counts[inverse]
    return weights


def colluding_groups(objects, workers, answers, worker_ids: Sequence[str], n_labels: int,
                     earlier_pairs: Optional[Mapping[tuple[str, str], Sequence[float]]] = None,
                     earlier_labels: Optional[Mapping[str, np.ndarray]] = None,
                     ) -> tuple[list[Pair], np.ndarray, dict[tuple[str, str], list[int]]]:
    """The flagged pairs among this batch's workers, each worker's group (-1: none) and this batch's pair counts.

    ``objects``, ``workers`` (indices into ``worker_ids``), ``answers`` (label indices): the batch's answers;
    ``earlier_pairs``: ``{(worker, worker): (shared, agreed)}`` of the job's earlier batches, names in order;
    ``earlier_labels``: each worker's earlier answers per label. A pair is judged on every batch together."""
    w = np.asarray(workers, dtype=np.int64)
    n_workers = len(worker_ids)
    counts = np.bincount(w * n_labels + np.asarray(answers, np.int64),
                         minlength=n_workers * n_labels).reshape(n_workers, n_labels).astype(np.float64)
    first, second, shared, agreed = pair_table(objects, workers, answers)
    this = {tuple(sorted((worker_ids[int(i)], worker_ids[int(j)]))): [int(n), int(a)]
            for i, j, n, a in zip(first, second, shared, agreed)}
    combined = {key: [float(x) for x in value] for key, value in (earlier_pairs or {}).items()}
    for key, (n, a) in this.items():
        total = combined.setdefault(key, [0.0, 0.0])
        total[0] += n
        total[1] += a
    names = sorted({name for key in combined for name in key} | set(worker_ids))
    index = {name: i for i, name in enumerate(names)}
    labels = np.zeros((len(names), n_labels))
    for name, row in (earlier_labels or {}).items():
        if name in index:
            labels[index[name]] += row
    for i, name in enumerate(worker_ids):
        labels[index[name]] += counts[i]
    keys = list(combined)
    found = find_pairs([index[a] for a, _ in keys], [index[b] for _, b in keys], [combined[k][0] for k in keys],
                       [combined[k][1] for k in keys], labels, names) if keys else []
    here = set(worker_ids)
    pairs = [pair for pair in found if pair.first in here and pair.second in here]
    group = np.full(n_workers, -1, dtype=np.int64)
    position = {name: i for i, name in enumerate(worker_ids)}
    for number, members in enumerate(groups_of(pairs)):
        group[[position[m] for m in members]] = number
    return pairs, group, this
