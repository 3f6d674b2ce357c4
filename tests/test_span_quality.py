"""Span agreement per label (``gt_common.span_quality``): exact merging across batches, spans that
cannot be counted, and stored statistics a later batch must refuse (``job_quality.check_span_statistics``)."""
from __future__ import annotations

import copy
import random

import pytest

from gt_common.job_quality import check_span_statistics
from gt_common.span_clustering import Entity, Span
from gt_common.span_quality import (merge_span_statistics, span_batch_statistics, span_quality_report,
                                    span_report_from_statistics)

LABELS = ["Background", "Methods", "Results"]


def random_objects(seed: int, count: int = 40):
    rng = random.Random(seed)
    objects = []
    for o in range(count):
        result = [Entity(rng.choice(LABELS), 50 * i, 50 * i + 40, 1.0) for i in range(rng.randint(0, 5))]
        workers = [f"w{n}" for n in rng.sample(range(6), 3)]
        spans = []
        for worker in workers:
            for entity in result:
                if rng.random() < 0.8:  # drawn, sometimes shifted or relabelled
                    shift = rng.choice([0, 0, 5, 30])
                    label = entity.label if rng.random() < 0.8 else rng.choice(LABELS)
                    spans.append(Span(worker, label, entity.start + shift, entity.end + shift))
        objects.append((o, workers, spans, result))
    return objects


def test_merging_batches_gives_exactly_the_report_of_all_objects():
    objects = random_objects(5)
    whole = span_quality_report(objects, LABELS)
    batches = [span_batch_statistics(objects[i:i + 7], LABELS) for i in range(0, len(objects), 7)]
    assert span_report_from_statistics(merge_span_statistics(batches)) == whole
    assert whole["objects"] == 40 and whole["answers"] == 120


def test_spans_of_unknown_labels_or_workers_are_counted_as_ignored_not_compared():
    result = [Entity("Methods", 0, 10, 1.0)]
    spans = [Span("a", "Methods", 0, 10), Span("a", "Weather", 20, 30), Span("stranger", "Methods", 0, 10)]
    report = span_quality_report([(1, ["a", "b"], spans, result)], LABELS)
    assert report["ignored_spans"] == 2 and set(report["workers"]) == {"a", "b"}
    assert report["workers"]["a"]["f1"] == 1.0 and report["workers"]["b"]["recall"] == 0.0
    assert report["workers"]["b"]["precision"] is None  # drew nothing: no precision, never NaN
    assert report["per_label"]["Methods"]["inter_worker_f1"] == 0.0


def test_no_pairs_and_no_spans_are_undefined_with_a_note():
    single = span_quality_report([(1, ["a"], [Span("a", "Methods", 0, 5)], [Entity("Methods", 0, 5, 1.0)])], LABELS)
    assert single["agreement"]["inter_worker_f1"] is None and "no object has two" in single["agreement"]["inter_worker_f1_note"]
    empty = span_quality_report([(1, ["a", "b"], [], [])], LABELS)
    assert empty["agreement"]["f1"] is None and "drew no spans" in empty["agreement"]["inter_worker_f1_note"]
    with pytest.raises(ValueError, match="repeat"):
        span_batch_statistics([], ["Methods", "Methods"])


@pytest.mark.parametrize("spoil, message", [
    (lambda s: s.update(version=99), "version"),
    (lambda s: s.update(labels=["Other"]), "labels"),
    (lambda s: s.update(objects=-1), "objects"),
    (lambda s: s.update(pair_shared=[1, 2]), "pair_shared"),
    (lambda s: s["workers"]["w0"].update(confusion=[[0]]), "confusion of worker"),
    (lambda s: s["workers"]["w0"].update(answers="many"), "answers of worker"),
    (lambda s: s["consolidated_span_counts"].update(Weather=1), "consolidated_span_counts"),
    (lambda s: s.update(answers=10 ** 12), "answers"),
])
def test_stored_statistics_that_no_batch_could_produce_are_refused_by_name(spoil, message):
    stats = span_batch_statistics(random_objects(9, 5), LABELS)
    stats["workers"].setdefault("w0", {"answers": 1, "confusion": [[0] * 4 for _ in range(4)]})
    check_span_statistics(copy.deepcopy(stats), LABELS, workers_per_object=3)  # sound as produced
    spoil(stats)
    with pytest.raises(ValueError, match=message):
        check_span_statistics(stats, LABELS, workers_per_object=3)
