"""How far each worker's spans can be trusted, learned over the job's batches.

A worker's reliability is the share of their span decisions that agree with the consolidated
result: ``(matched + 2) / (spans + missed + 3)``, where ``matched`` counts their spans that hit
a consolidated span (same label, Jaccard at least 0.5), ``spans`` all their spans and ``missed``
the consolidated spans they did not draw. The Beta(2, 1) pseudo-counts start a new worker at 2/3
and keep one batch from swinging a weight to 0 or 1. The counts of every earlier batch of the job
are added, so a worker shown careless in one batch weighs less in the next. Weights feed
``span_clustering.consolidate_spans``: cluster support and label votes.

The counts are kept in the job's worker memory (``gt_common.worker_model``) as a confusion over the
pseudo-classes ``span`` and ``none``: matched = span->span, missed = span->none, a span matching
nothing = none->span (so ``spans`` = span->span + none->span). ``SpanRecord.counts`` and
``SpanRecord.from_counts`` convert.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .limits import MAX_OBJECTS_PER_JOB, MAX_TEXT_BYTES
from .span_clustering import DEFAULT_THRESHOLD, Entity, Span, jaccard

PRIOR_AGREE, PRIOR_DISAGREE = 2.0, 1.0
SPAN, NONE = "span", "none"  # the pseudo-classes of the worker memory
# One worker's spans never overlap, so an object holds at most as many of them as its text has
# code points: the most spans (or consolidated spans) a job can give one worker.
MAX_SPANS_PER_JOB = MAX_OBJECTS_PER_JOB * MAX_TEXT_BYTES
# A hit shares more than half its union with the entity, so each covers the other's midpoint
# (``_entities_hit`` relies on it).
assert DEFAULT_THRESHOLD >= 0.5


@dataclass
class SpanRecord:
    spans: float = 0.0
    matched: float = 0.0
    missed: float = 0.0

    def add(self, other: "SpanRecord") -> "SpanRecord":
        return SpanRecord(self.spans + other.spans, self.matched + other.matched, self.missed + other.missed)

    def reliability(self) -> float:
        return (self.matched + PRIOR_AGREE) / (self.spans + self.missed + PRIOR_AGREE + PRIOR_DISAGREE)

    def counts(self) -> dict[str, dict[str, float]]:
        """The record as worker-memory counts (true class -> answered class -> count)."""
        return {SPAN: {SPAN: self.matched, NONE: self.missed}, NONE: {SPAN: self.spans - self.matched}}

    @classmethod
    def from_counts(cls, counts: Mapping[str, Mapping[str, float]]) -> "SpanRecord":
        """The record of checked worker-memory counts (``worker_model.check_file``); other classes are ignored."""
        span, none = counts.get(SPAN, {}), counts.get(NONE, {})
        matched = float(span.get(SPAN, 0.0))
        return cls(spans=matched + float(none.get(SPAN, 0.0)), matched=matched, missed=float(span.get(NONE, 0.0)))


def _entities_hit(span: Span, ordered: Sequence[Entity], doubled_starts: Sequence[int]) -> list[int]:
    """Indices of the entities ``span`` hits, among non-overlapping ``ordered`` (by start).

    A hit covers the span's midpoint (closed), and among disjoint entities only the last two
    starting at or before it can: two bisections instead of a scan.
    """
    index = bisect_right(doubled_starts, span.start + span.end)
    return [i for i in (index - 2, index - 1) if i >= 0 and _hits(span, ordered[i])]


def _hits(span: Span, entity: Entity) -> bool:
    return span.label == entity.label and jaccard(span.start, span.end, entity.start, entity.end) >= DEFAULT_THRESHOLD


def score_workers(objects: Iterable[tuple[Sequence[str], Sequence[Span], Sequence[Entity]]]) -> dict[str, SpanRecord]:
    """Per worker, their spans against the consolidated entities of each object they answered.

    ``O(n log n)`` per object when its entities do not overlap (``consolidate_spans`` keeps one
    of any two overlapping); otherwise every pair is compared, with the same result.
    """
    records: dict[str, SpanRecord] = {}
    for workers, spans, entities in objects:
        ordered = sorted(entities, key=lambda e: (e.start, e.end))
        disjoint = all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))
        doubled_starts = [2 * e.start for e in ordered]
        own_spans: dict[str, list[Span]] = defaultdict(list)
        for span in spans:
            own_spans[span.worker_id].append(span)
        for worker in dict.fromkeys(workers):
            own = own_spans.get(worker, [])
            hit: set[int] = set()
            matched = 0
            for span in own:
                found = (_entities_hit(span, ordered, doubled_starts) if disjoint
                         else [i for i, e in enumerate(ordered) if _hits(span, e)])
                matched += bool(found)
                hit.update(found)
            record = records.setdefault(worker, SpanRecord())
            record.spans += len(own)
            record.matched += matched
            record.missed += len(ordered) - len(hit)
    return records


def weights_of(records: Mapping[str, SpanRecord]) -> dict[str, float]:
    return {worker: record.reliability() for worker, record in records.items()}


def records_of(workers: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, SpanRecord]:
    """Each worker's record from an entry's counts in the worker memory."""
    return {worker: SpanRecord.from_counts(counts) for worker, counts in workers.items()}
