"""Lambda entry point: consolidate one batch of abstract-section annotations.

For each data object the label attribute gets::

    {"entities": [{"label", "startOffset", "endOffset", "confidence"}],
     "isGoodAbstract": {"label": "Yes" | "No" | None, "confidence": 0..1},
     "notes": [{"workerId", "text"}],
     "workers": n}

``entities`` come from ``span_clustering`` (Jaccard clusters, mode/median boundaries, majority
label). ``isGoodAbstract`` is the majority answer with its share as confidence; a tie is "No"
(a quality flag should not pass on a split vote) at confidence 0.5. ``workers`` counts the workers
with at least one usable part in their answer. Every object of the payload is answered, even when
none of its annotations is usable; unusable parts are logged, never fatal to the batch.
"""
from __future__ import annotations

import logging
from collections import Counter
from functools import lru_cache
from typing import Any, Optional, Sequence

import boto3

from gt_common.consolidation import DataObjectAnswers, consolidate_event

from .answers import WorkerAnnotation, read_annotation
from .span_clustering import consolidate_spans

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


@lru_cache(maxsize=1)
def s3_client():
    """Created on first use (not at import) so the endpoint is read when the handler runs."""
    return boto3.client("s3")


def consolidate_good_abstract(answers: Sequence[Optional[str]]) -> dict[str, Any]:
    votes = Counter(answer for answer in answers if answer is not None)
    total = sum(votes.values())
    if not total:
        return {"label": None, "confidence": 0.0}
    yes, no = votes.get("Yes", 0), votes.get("No", 0)
    label = "Yes" if yes > no else "No"
    return {"label": label, "confidence": round(max(yes, no) / total, 4)}


def consolidate_object(item: DataObjectAnswers) -> dict[str, Any]:
    annotations: list[WorkerAnnotation] = []
    for answer in item.answers:
        annotation = read_annotation(answer)
        for problem in annotation.problems:
            reason = f"object {item.dataset_object_id}, worker {answer.worker_id}: {problem}"
            LOG.warning("skipping part of an answer: %s", reason)
            item.skipped.append(reason)
        annotations.append(annotation)
    span_workers = [a.worker_id for a in annotations if a.spans_usable]
    spans = [span for a in annotations if a.spans_usable for span in a.spans]
    entities = consolidate_spans(spans, span_workers)
    return {
        "entities": [entity.as_json() for entity in entities],
        "isGoodAbstract": consolidate_good_abstract([a.good_abstract for a in annotations]),
        "notes": [{"workerId": a.worker_id, "text": a.note} for a in annotations if a.note],
        "workers": sum(1 for a in annotations if a.spans_usable or a.good_abstract is not None),
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    response = consolidate_event(event, s3_client(), consolidate_object)
    LOG.info("consolidated %d objects for %s", len(response), event.get("labelAttributeName"))
    return response
