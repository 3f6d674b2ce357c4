"""How far each worker's spans can be trusted, learned over the job's batches.

A worker's reliability is the share of their span decisions that agree with the consolidated
result: ``(matched + 2) / (spans + missed + 3)``, where ``matched`` counts their spans that hit
a consolidated span (same label, Jaccard at least 0.5), ``spans`` all their spans and ``missed``
the consolidated spans they did not draw. The Beta(2, 1) pseudo-counts start a new worker at 2/3
and keep one batch from swinging a weight to 0 or 1. The counts of every earlier batch of the job
are added (``gt_common.job_state``), so a worker shown careless in one batch weighs less in the
next. Weights feed ``span_clustering.consolidate_spans``: cluster support and label votes.

An earlier batch's file counts only whole and only when every record in it is sound
(``check_span_model``: finite, non-negative counts no job can exceed, ``matched <= spans``);
otherwise it is logged and left out, and the other batches still count.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from gt_common.job_state import MAX_OBJECTS_PER_JOB, count, mapping
from gt_common.limits import MAX_TEXT_BYTES

from .answers import Span
from .span_clustering import DEFAULT_THRESHOLD, Entity, jaccard

PRIOR_AGREE, PRIOR_DISAGREE = 2.0, 1.0
SPAN_MODEL_VERSION = 1
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

    def as_json(self) -> dict[str, float]:
        return {"spans": self.spans, "matched": self.matched, "missed": self.missed}

    @classmethod
    def from_json(cls, value: Any, where: str = "record") -> "SpanRecord":
        """A stored record; ValueError naming ``where`` when it is not a sound one."""
        value = mapping(value, where)
        record = cls(**{key: count(value.get(key), f"{where}.{key}", MAX_SPANS_PER_JOB)
                        for key in ("spans", "matched", "missed")})
        if record.matched > record.spans:
            raise ValueError(f"{where} matched more spans than it has")
        return record


def check_span_model(value: dict[str, Any]) -> None:
    """Raise ValueError naming the first unsound part of a stored span-model file."""
    if value.get("version") != SPAN_MODEL_VERSION:
        raise ValueError(f"version is {str(value.get('version'))[:20]}, not {SPAN_MODEL_VERSION}")
    for worker, record in mapping(value.get("workers"), "workers").items():
        SpanRecord.from_json(record, f"worker {worker[:60]!r}")


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


def merge_records(batches: Iterable[Mapping[str, Any]]) -> dict[str, SpanRecord]:
    """Every worker's records summed over ``batches`` (files that passed ``check_span_model``)."""
    merged: dict[str, SpanRecord] = {}
    for batch in batches:
        for worker, value in batch["workers"].items():
            record = SpanRecord.from_json(value, f"worker {worker[:60]!r}")
            merged[worker] = merged.get(worker, SpanRecord()).add(record)
    return merged
