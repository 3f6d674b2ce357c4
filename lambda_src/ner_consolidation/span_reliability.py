"""How far each worker's spans can be trusted, learned over the job's batches.

A worker's reliability is the share of their span decisions that agree with the consolidated
result: ``(matched + 2) / (spans + missed + 3)``, where ``matched`` counts their spans that hit
a consolidated span (same label, Jaccard at least 0.5), ``spans`` all their spans and ``missed``
the consolidated spans they did not draw. The Beta(2, 1) pseudo-counts start a new worker at 2/3
and keep one batch from swinging a weight to 0 or 1. The counts of every earlier batch of the job
are added (``gt_common.job_state``), so a worker shown careless in one batch weighs less in the
next. Weights feed ``span_clustering.consolidate_spans``: cluster support and label votes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .answers import Span
from .span_clustering import DEFAULT_THRESHOLD, Entity, jaccard

PRIOR_AGREE, PRIOR_DISAGREE = 2.0, 1.0


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
    def from_json(cls, value: Any) -> "SpanRecord":
        if not isinstance(value, dict):
            return cls()
        numbers = {key: value.get(key) for key in ("spans", "matched", "missed")}
        if not all(isinstance(v, (int, float)) and v >= 0 for v in numbers.values()):
            return cls()
        return cls(**{key: float(v) for key, v in numbers.items()})


def _hits(span: Span, entity: Entity) -> bool:
    return span.label == entity.label and jaccard(span.start, span.end, entity.start, entity.end) >= DEFAULT_THRESHOLD


def score_workers(objects: Iterable[tuple[Sequence[str], Sequence[Span], Sequence[Entity]]]) -> dict[str, SpanRecord]:
    """Per worker, their spans against the consolidated entities of each object they answered."""
    records: dict[str, SpanRecord] = {}
    for workers, spans, entities in objects:
        for worker in workers:
            own = [s for s in spans if s.worker_id == worker]
            record = records.setdefault(worker, SpanRecord())
            record.spans += len(own)
            record.matched += sum(1 for s in own if any(_hits(s, e) for e in entities))
            record.missed += sum(1 for e in entities if not any(_hits(s, e) for s in own))
    return records


def weights_of(records: Mapping[str, SpanRecord]) -> dict[str, float]:
    return {worker: record.reliability() for worker, record in records.items()}


def merge_records(batches: Iterable[Mapping[str, Any]]) -> dict[str, SpanRecord]:
    merged: dict[str, SpanRecord] = {}
    for batch in batches:
        for worker, value in (batch.get("workers") or {}).items():
            merged[worker] = merged.get(worker, SpanRecord()).add(SpanRecord.from_json(value))
    return merged
