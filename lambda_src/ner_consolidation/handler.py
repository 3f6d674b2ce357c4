"""Lambda entry point: consolidate one batch of abstract-section annotations.

For each data object the label attribute gets::

    {"entities": [{"label", "startOffset", "endOffset", "confidence"}],
     "isGoodAbstract": {"label": "Yes" | "No" | None, "confidence": 0..1},
     "notes": [{"workerId", "text"}],
     "workers": n}

``entities`` come from ``span_clustering`` (Jaccard clusters, mode/median boundaries, majority
label), each worker weighted by ``span_reliability``: learned on this batch and the job's earlier
batches, then the batch is consolidated again with those weights (with ``CONSOLIDATION_METHOD``
``majority-vote`` every worker weighs the same and nothing is kept between batches). ``isGoodAbstract`` goes
through ``gt_common.classification`` (Dawid-Skene over the job's batches by default, or majority
vote; a tie is "No", so a quality flag does not pass on a split vote). ``workers`` counts the
workers with at least one usable part in their answer. Every object of the payload is answered,
even when none of its annotations is usable; unusable parts are logged, never fatal to the batch.
Spans are checked against the length of the text the worker was shown (``shown_text``), and one
worker's overlapping spans are cut down to the first in text order (``answers``).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from gt_common.classification import MAJORITY_VOTE, Answer, configured_method, consolidate_with_state
from gt_common.consolidation import DataObjectAnswers, consolidate_batch_event, read_each
from gt_common.job_state import JobState, state_for_event
from gt_common.limits import MAX_TEXT_BYTES

from .answers import GOOD_FIELD, WorkerAnnotation, read_annotation
from .sections import GOOD_ABSTRACT_ANSWERS
from .shown_text import READ_THREADS, text_lengths
from .span_clustering import consolidate_spans
from .span_reliability import SPAN_MODEL_VERSION, SpanRecord, check_span_model, merge_records, score_workers, weights_of

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
SPAN_MODEL = "worker-model-spans"


@lru_cache(maxsize=1)
def s3_client():
    """Created on first use (not at import) so the endpoint is read when the handler runs; with a
    connection for each thread reading task records."""
    return boto3.client("s3", config=Config(max_pool_connections=READ_THREADS))


def read_annotations(item: DataObjectAnswers, text_length: int = MAX_TEXT_BYTES) -> list[WorkerAnnotation]:
    """Each worker's usable parts (one annotation per worker, as ``item`` holds one answer each)."""
    annotations = []
    for answer, annotation in read_each(item, lambda answer: read_annotation(answer, text_length)):
        for problem in annotation.problems:
            item.skip(answer.worker_id, problem)
        annotations.append(annotation)
    return annotations


def _span_inputs(annotations: list[WorkerAnnotation]):
    workers = [a.worker_id for a in annotations if a.spans_usable]
    spans = [span for a in annotations if a.spans_usable for span in a.spans]
    return workers, spans


def consolidate_spans_of_batch(by_object: dict[str, list[WorkerAnnotation]], s3, state: JobState | None,
                               *, weighted: bool = True):
    """Entities per object, workers weighted by their reliability; saves this batch's record.

    ``weighted=False`` (the majority-vote method): every worker weighs the same, no state is kept.
    """
    inputs = {object_id: _span_inputs(annotations) for object_id, annotations in by_object.items()}
    if not weighted:
        return {object_id: consolidate_spans(spans, workers) for object_id, (workers, spans) in inputs.items()}
    prior = merge_records(state.earlier_batches(s3, SPAN_MODEL, check=check_span_model)) if state else {}

    def run(weights):
        return {object_id: consolidate_spans(spans, workers, weights=weights)
                for object_id, (workers, spans) in inputs.items()}

    def records(entities):
        return score_workers((inputs[o][0], inputs[o][1], entities[o]) for o in inputs)

    first = run(weights_of(prior))
    this_batch = records(first)
    combined = {w: prior.get(w, SpanRecord()).add(r) for w, r in this_batch.items()}
    final = run(weights_of({**prior, **combined}))
    if state is not None:
        state.write(s3, SPAN_MODEL, {"version": SPAN_MODEL_VERSION,
                                     "workers": {w: r.as_json() for w, r in records(final).items()}})
    return final


def consolidate_items(items: list[DataObjectAnswers], *, s3, state: JobState | None,
                      method: str) -> dict[str, dict[str, Any]]:
    """The label attribute's value for every object of a batch (``state`` None: no job memory)."""
    lengths = text_lengths(items, s3)  # each object's task record, read once for the batch
    by_object = {item.dataset_object_id: read_annotations(item, lengths.get(item.dataset_object_id, MAX_TEXT_BYTES))
                 for item in items}
    entities = consolidate_spans_of_batch(by_object, s3, state, weighted=method != MAJORITY_VOTE)
    answers = [Answer(object_id, a.worker_id, a.good_abstract)
               for object_id, annotations in by_object.items() for a in annotations if a.good_abstract is not None]
    good = consolidate_with_state(list(by_object), answers, GOOD_ABSTRACT_ANSWERS, question=GOOD_FIELD,
                                  s3_client=s3, state=state, method=method)
    return {
        object_id: {
            "entities": [entity.as_json() for entity in entities[object_id]],
            "isGoodAbstract": {"label": good.decisions[object_id].label,
                               "confidence": round(good.decisions[object_id].confidence, 4)},
            "notes": [{"workerId": a.worker_id, "text": a.note} for a in annotations if a.note],
            "workers": sum(1 for a in annotations if a.spans_usable or a.good_abstract is not None),
        }
        for object_id, annotations in by_object.items()
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    method = configured_method()
    state = state_for_event(event)
    response = consolidate_batch_event(
        event, s3_client(), lambda items: consolidate_items(items, s3=s3_client(), state=state, method=method))
    LOG.info("consolidated %d objects for %s (%s)", len(response), event.get("labelAttributeName"), method)
    return response
