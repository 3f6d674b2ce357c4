"""Span-level precision, recall and F1: a span counts only with its exact label and offsets."""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple


class SpanCounts(NamedTuple):
    matched: int
    expected: int
    predicted: int

    def __add__(self, other: "SpanCounts") -> "SpanCounts":  # type: ignore[override]
        return SpanCounts(*(a + b for a, b in zip(self, other)))


def span_set(entities: Iterable[dict[str, Any]]) -> set[tuple[str, int, int]]:
    return {(e["label"], e["startOffset"], e["endOffset"]) for e in entities}


def count_spans(expected: Iterable[dict[str, Any]], predicted: Iterable[dict[str, Any]]) -> SpanCounts:
    want, have = span_set(expected), span_set(predicted)
    return SpanCounts(len(want & have), len(want), len(have))


def scores(counts: Iterable[SpanCounts]) -> dict[str, float]:
    total = sum(counts, SpanCounts(0, 0, 0))
    precision = total.matched / total.predicted if total.predicted else 0.0
    recall = total.matched / total.expected if total.expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"span_precision": precision, "span_recall": recall, "span_f1": f1}
