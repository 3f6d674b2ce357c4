"""The O(n log n) span clustering and worker scoring (``gt_common``) give exactly what comparing every pair gives.

The reference below is the clustering as first written (every span against every cluster, every
kept span against every other, every worker span against every entity): the specification the
sweep must reproduce on any input, template-valid or not. Speeds are measured in
bench/bench_ner_clustering.py, not here.
"""
from __future__ import annotations

import random

import pytest

import workflows
from gt_common.questions import Spans
from gt_common.span_clustering import (
    DEFAULT_MIN_SUPPORT,
    DEFAULT_THRESHOLD,
    Entity,
    Span,
    _label_of,
    cluster_spans,
    consensus_boundary,
    consolidate_spans,
    jaccard,
)
from gt_common.span_reliability import SpanRecord, score_workers

# The NER workflow's sections: the spans below are tagged with them, ties broken in their order.
SECTION_LABELS = next(q for q in workflows.definition("ner").questions if isinstance(q, Spans)).span_labels


class ReferenceCluster:
    def __init__(self):
        self.spans, self.start, self.end = [], 0, 0

    def add(self, span, weights):
        self.spans.append(span)
        w = [weights.get(s.worker_id, 1.0) for s in self.spans]
        start = consensus_boundary([s.start for s in self.spans], w)
        end = consensus_boundary([s.end for s in self.spans], w)
        if end <= start:
            start, end = min(s.start for s in self.spans), max(s.end for s in self.spans)
        self.start, self.end = start, end

    def workers(self):
        return {s.worker_id for s in self.spans}


def reference_clusters(spans, weights, threshold=DEFAULT_THRESHOLD):
    clusters = []
    for span in sorted(spans, key=lambda s: (s.start, s.end, s.label, s.worker_id)):
        best, best_score = None, threshold
        for cluster in clusters:
            if span.worker_id in cluster.workers():
                continue
            score = jaccard(span.start, span.end, cluster.start, cluster.end)
            if score >= best_score and (best is None or score > best_score):
                best, best_score = cluster, score
        if best is None:
            best = ReferenceCluster()
            clusters.append(best)
        best.add(span, weights)
    return clusters


def reference_consolidate(spans, workers, weights=None, threshold=DEFAULT_THRESHOLD, min_support=DEFAULT_MIN_SUPPORT,
                          label_order=SECTION_LABELS):
    order = {label: index for index, label in enumerate(label_order)}
    weights = dict(weights or {})
    total = sum(weights.get(worker, 1.0) for worker in sorted(set(workers)))
    if total <= 0:
        return []
    candidates = []
    for cluster in reference_clusters(spans, weights, threshold):
        support = sum(weights.get(worker, 1.0) for worker in sorted(cluster.workers()))
        if support < min_support * total - 1e-9:
            continue
        label, agreeing = _label_of(cluster, weights, order)
        agreeing_weight = sum(weights.get(s.worker_id, 1.0) for s in agreeing)
        fit = sum(jaccard(s.start, s.end, cluster.start, cluster.end) for s in agreeing) / len(agreeing)
        candidates.append(Entity(label, cluster.start, cluster.end, round(min(1.0, agreeing_weight / total) * fit, 4)))
    kept = []
    for entity in sorted(candidates, key=lambda e: (-e.confidence, e.start, e.end, e.label)):
        if all(entity.end <= other.start or other.end <= entity.start for other in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.start, e.end))


def reference_scores(objects):
    records = {}
    for workers, spans, entities in objects:
        for worker in workers:
            own = [s for s in spans if s.worker_id == worker]
            hits = lambda s, e: s.label == e.label and jaccard(s.start, s.end, e.start, e.end) >= 0.5  # noqa: E731
            record = records.setdefault(worker, SpanRecord())
            record.spans += len(own)
            record.matched += sum(1 for s in own if any(hits(s, e) for e in entities))
            record.missed += sum(1 for e in entities if not any(hits(s, e) for s in own))
    return records


def template_answers(rng, workers, sections=40, text=2_000):
    """Workers tagging shared sections with jitter, never overlapping their own spans."""
    cuts = sorted(rng.sample(range(1, text), sections * 2))
    truth = [(rng.choice(SECTION_LABELS), a, b) for a, b in zip(cuts[::2], cuts[1::2])]
    spans = []
    for worker in workers:
        previous_end = 0
        for label, start, end in truth:
            if rng.random() < 0.15:
                continue
            if rng.random() < 0.2:
                label = rng.choice(SECTION_LABELS)
            start = max(previous_end, start + rng.randint(-6, 6))
            end = end + rng.randint(-6, 6)
            if end > start:
                spans.append(Span(worker, label, start, end))
                previous_end = end
    return spans


def free_answers(rng, workers, count=60, text=400):
    """Anything goes: overlapping, nested and repeated spans of one worker (direct callers may pass them)."""
    spans = []
    for _ in range(count):
        start = rng.randrange(text)
        spans.append(Span(rng.choice(workers), rng.choice(SECTION_LABELS), start, start + rng.randint(1, 80)))
    return spans


@pytest.mark.parametrize("seed", range(60))
def test_consolidation_is_the_reference_on_template_answers(seed):
    rng = random.Random(seed)
    workers = [f"w{i}" for i in range(rng.randint(1, 6))]
    weights = {w: rng.choice([1.0, rng.uniform(0.05, 1.0)]) for w in workers} if seed % 2 else None
    spans = template_answers(rng, workers)
    assert consolidate_spans(spans, workers, weights=weights, label_order=SECTION_LABELS) == reference_consolidate(
        spans, workers, weights)


@pytest.mark.parametrize("seed", range(60))
def test_consolidation_is_the_reference_on_any_spans(seed):
    rng = random.Random(1000 + seed)
    workers = [f"w{i}" for i in range(rng.randint(1, 5))]
    weights = {w: rng.uniform(0.1, 1.0) for w in workers}
    threshold = rng.choice([0.3, 0.5, 0.8, 1.0])
    spans = free_answers(rng, workers)
    new = consolidate_spans(spans, workers, weights=weights, threshold=threshold, label_order=SECTION_LABELS)
    assert new == reference_consolidate(spans, workers, weights, threshold)
    assert [(c.start, c.end, c.spans) for c in cluster_spans(spans, weights, threshold)] == [
        (c.start, c.end, c.spans) for c in reference_clusters(spans, weights, threshold)]


@pytest.mark.parametrize("seed", range(40))
def test_worker_scores_are_the_reference(seed):
    rng = random.Random(5000 + seed)
    workers = [f"w{i}" for i in range(rng.randint(1, 5))]
    objects = []
    for _ in range(3):
        spans = template_answers(rng, workers, sections=15, text=600) if seed % 2 else free_answers(rng, workers)
        entities = consolidate_spans(spans, workers)
        if seed % 5 == 0:  # entities that overlap: scored the slow way, same result
            entities = entities + [Entity(rng.choice(SECTION_LABELS), e.start + 1, e.end + 3, 0.5) for e in entities]
        objects.append((workers, spans, entities))
    assert score_workers(objects) == reference_scores(objects)


def test_a_threshold_outside_0_to_1_is_refused():
    for threshold in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            consolidate_spans([Span("a", "Methods", 0, 5)], ["a"], threshold=threshold)



# Three workers agree on a span, one of them 3 code points short: the confidence is exactly
# 0.96875 * (agreeing weight / total weight), so it rounds to 0.9688 or 0.9687 depending on
# whether the two weight sums, each added in some order, come out equal to the last bit.
HASH_SEED_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from gt_common.span_clustering import Span, consolidate_spans
confidences = []
for k in range(40):
    a, b, c = f"x{k}-a", f"x{k}-b", f"x{k}-c"
    spans = [Span(a, "A", 0, 32), Span(b, "A", 0, 29), Span(c, "A", 0, 32)]
    (entity,) = consolidate_spans(spans, [a, b, c], weights={a: 0.3, b: 0.2, c: 0.1})
    confidences.append(entity.confidence)
print(json.dumps(confidences))
"""


def test_the_result_does_not_depend_on_the_process_hash_seed():
    """Each Lambda process has its own hash seed: the same spans must give the same entities, to the
    last digit of every confidence, in any process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    lambda_src = str(Path(__file__).resolve().parent.parent / "lambda_src")
    outputs = {subprocess.run([sys.executable, "-c", HASH_SEED_SCRIPT, lambda_src], check=True, capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
               for seed in range(4)}
    assert len(outputs) == 1, outputs
