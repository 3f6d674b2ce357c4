"""Consolidating workers' spans (a ``Spans`` question) the way Ground Truth does for its own NER jobs.

1. **Cluster** every worker's spans by Jaccard similarity of their character ranges: in reading
   order, each span joins the cluster whose current boundaries it overlaps best (Jaccard at least
   ``threshold``), never a cluster that already holds a span of the same worker; otherwise it
   starts a new cluster.
2. **Keep** a cluster when the workers behind it carry at least ``min_support`` of the object's
   total worker weight (with 3 equal workers: 2 of them). A span only one of three workers saw is
   noise more often than not.
3. **Boundaries**: for the start and for the end, the mode of the workers' boundaries when it is
   clear (one value held by the most weight, and by more than one worker), otherwise the weighted
   median (the lower one, so a boundary always is one a worker chose).
4. **Label**: the label with the most weight in the cluster; a tie goes to the label whose spans
   overlap the chosen boundaries best, then to the first in the question's label order
   (``label_order``). Deterministic, so a re-run gives the same manifest (Ground Truth itself
   breaks label ties at random).
5. **Confidence**: the weight share of the object's workers that gave this label to this span,
   times the mean Jaccard similarity of their spans with the consolidated one (1.0 = every worker
   drew exactly this span with this label).
6. **Overlaps**: the consolidated spans of a question do not overlap (as no worker's may), so where
   two kept spans overlap only the more confident one stays.

``weights`` maps worker ids to reliabilities (default 1.0 each): a worker model plugs in there.

Cost: ``O(n log n)`` for ``n`` spans when no worker's spans overlap (``answers.read_spans``
guarantees it).
Clustering sweeps the spans in reading order and compares each only with the *live* clusters,
those ending after it starts: a cluster ending at or before a span's start has Jaccard 0 with it
and with every later span, and its boundaries only move when a span joins it, so it can never be
chosen again. Every live cluster holds a span that covers the sweep position (its end is one of its
spans' ends, and all its spans start at or before it), so there are at most as many live clusters
as workers. Keeping the more confident of overlapping results uses a prefix-maximum tree instead
of comparing every pair. The result is the same as comparing with every cluster and every kept span.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_SUPPORT = 0.5


@dataclass(frozen=True)
class Span:
    """One span a worker tagged."""

    worker_id: str
    label: str
    start: int  # Unicode code-point offset into the task's text
    end: int  # exclusive


@dataclass(frozen=True)
class Entity:
    label: str
    start: int
    end: int
    confidence: float

    def as_json(self) -> dict:
        return {"label": self.label, "startOffset": self.start, "endOffset": self.end,
                "confidence": self.confidence}


def jaccard(a_start: int, a_end: int, b_start: int, b_end: int) -> float:
    overlap = min(a_end, b_end) - max(a_start, b_start)
    if overlap <= 0:
        return 0.0
    return overlap / (max(a_end, b_end) - min(a_start, b_start))


def consensus_boundary(values: Sequence[int], weights: Sequence[float]) -> int:
    """The clear weighted mode of ``values``, else their lower weighted median."""
    totals: dict[int, float] = defaultdict(float)
    holders: dict[int, int] = defaultdict(int)
    for value, weight in zip(values, weights):
        totals[value] += weight
        holders[value] += 1
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    best_value, best_weight = ranked[0]
    clear = holders[best_value] > 1 and (len(ranked) == 1 or ranked[1][1] < best_weight)
    if clear:
        return best_value
    ordered = sorted(zip(values, weights))
    half, running = sum(weights) / 2, 0.0
    for value, weight in ordered:
        running += weight
        if running >= half:
            return value
    return ordered[-1][0]


@dataclass
class _Cluster:
    spans: list[Span] = field(default_factory=list)
    start: int = 0
    end: int = 0
    worker_ids: set[str] = field(default_factory=set)

    def add(self, span: Span, weights: Mapping[str, float]) -> None:
        self.spans.append(span)
        self.worker_ids.add(span.worker_id)
        self.start, self.end = self.boundaries(weights)

    def boundaries(self, weights: Mapping[str, float]) -> tuple[int, int]:
        w = [weights.get(s.worker_id, 1.0) for s in self.spans]
        start = consensus_boundary([s.start for s in self.spans], w)
        end = consensus_boundary([s.end for s in self.spans], w)
        if end <= start:  # mode of starts past median of ends, only with wildly different spans
            start = min(s.start for s in self.spans)
            end = max(s.end for s in self.spans)
        return start, end

    def workers(self) -> set[str]:
        return self.worker_ids


def cluster_spans(spans: Sequence[Span], weights: Mapping[str, float],
                  threshold: float = DEFAULT_THRESHOLD) -> list[_Cluster]:
    """Clusters in creation order. Each span joins the live cluster (created first among equals)
    it overlaps best, with Jaccard at least ``threshold`` (in (0, 1]), or starts a new one."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold!r} must be in (0, 1]")
    clusters: list[_Cluster] = []
    live: list[_Cluster] = []  # clusters that end after the sweep position, in creation order
    for span in sorted(spans, key=lambda s: (s.start, s.end, s.label, s.worker_id)):
        if any(cluster.end <= span.start for cluster in live):
            live = [cluster for cluster in live if cluster.end > span.start]
        best: Optional[_Cluster] = None
        best_score = threshold
        for cluster in live:
            if span.worker_id in cluster.worker_ids:
                continue
            score = jaccard(span.start, span.end, cluster.start, cluster.end)
            if score >= best_score and (best is None or score > best_score):
                best, best_score = cluster, score
        if best is None:
            best = _Cluster()
            clusters.append(best)
            live.append(best)
        best.add(span, weights)
    return clusters


class _PrefixMax:
    """Maximum over the positions ``< i`` of values set at positions (a Fenwick tree); values only grow."""

    def __init__(self, size: int) -> None:
        self.tree = [float("-inf")] * (size + 1)

    def raise_to(self, position: int, value: float) -> None:
        i = position + 1
        while i < len(self.tree):
            if self.tree[i] < value:
                self.tree[i] = value
            i += i & -i

    def before(self, position: int) -> float:
        best, i = float("-inf"), position
        while i > 0:
            best = max(best, self.tree[i])
            i -= i & -i
        return best


def _without_overlaps(candidates: Sequence["Entity"]) -> list["Entity"]:
    """The most confident candidates first, each kept unless it overlaps one already kept."""
    starts = sorted({entity.start for entity in candidates})
    index = {start: i for i, start in enumerate(starts)}
    kept_ends = _PrefixMax(len(starts))  # at each kept start, the kept end
    kept: list[Entity] = []
    for entity in sorted(candidates, key=lambda e: (-e.confidence, e.start, e.end, e.label)):
        # A kept span overlaps [start, end) when it starts before ``end`` and ends after ``start``.
        if kept_ends.before(bisect_left(starts, entity.end)) > entity.start:
            continue
        kept.append(entity)
        kept_ends.raise_to(index[entity.start], entity.end)
    return kept


def _label_of(cluster: _Cluster, weights: Mapping[str, float],
              order: Mapping[str, int] = {}) -> tuple[str, list[Span]]:  # noqa: B006 - read only
    """The cluster's label and the spans that gave it; ``order``: label -> its place in the question's list."""
    by_label: dict[str, list[Span]] = defaultdict(list)
    for span in cluster.spans:
        by_label[span.label].append(span)

    def rank(label: str):
        members = by_label[label]
        weight = sum(weights.get(s.worker_id, 1.0) for s in members)
        fit = sum(jaccard(s.start, s.end, cluster.start, cluster.end) for s in members)
        return (-weight, -fit, order.get(label, len(order)), label)

    label = min(by_label, key=rank)
    return label, by_label[label]


def consolidate_spans(spans: Sequence[Span], workers: Sequence[str], *,
                      weights: Optional[Mapping[str, float]] = None,
                      threshold: float = DEFAULT_THRESHOLD,
                      min_support: float = DEFAULT_MIN_SUPPORT,
                      label_order: Sequence[str] = ()) -> list[Entity]:
    """The consolidated entities of one object, in text order.

    ``workers`` are the ids of every worker whose span answer was usable, including those who
    tagged nothing: a span three workers ignored is less certain than one nobody else saw.
    ``label_order``: the question's labels, in the order that breaks a label tie.
    """
    order = {label: index for index, label in enumerate(label_order)}
    weights = dict(weights or {})
    # Weights are summed in a fixed order (sorted ids, not a set's, which changes with each process's
    # hash seed), so the last digit of a confidence, and the spans kept, never depend on the process.
    total = sum(weights.get(worker, 1.0) for worker in sorted(set(workers)))
    if total <= 0:
        return []
    candidates = []
    for cluster in cluster_spans(spans, weights, threshold):
        support = sum(weights.get(worker, 1.0) for worker in sorted(cluster.workers()))
        if support < min_support * total - 1e-9:
            continue
        label, agreeing = _label_of(cluster, weights, order)
        agreeing_weight = sum(weights.get(s.worker_id, 1.0) for s in agreeing)
        fit = sum(jaccard(s.start, s.end, cluster.start, cluster.end) for s in agreeing) / len(agreeing)
        confidence = round(min(1.0, agreeing_weight / total) * fit, 4)
        candidates.append(Entity(label, cluster.start, cluster.end, confidence))
    return sorted(_without_overlaps(candidates), key=lambda e: (e.start, e.end))
