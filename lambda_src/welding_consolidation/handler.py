"""Lambda entry point: consolidate one batch of welding classifications.

For each data object the label attribute gets
``{"WeldingClassification": label | None, "confidence": 0..1, "votes": {label: n}, "workers": n}``.
The label and confidence come from the configured method (``gt_common.classification``:
Dawid-Skene with each worker's model carried across the job's batches, or majority vote). An
object whose answers are all unusable is still answered (label None, confidence 0, workers 0),
so Ground Truth records it instead of failing it silently.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import boto3

from gt_common.classification import consolidate_with_state, configured_method
from gt_common.consolidation import DataObjectAnswers, consolidate_batch_event
from gt_common.job_state import state_for_event

from .categories import NOT_SURE, label_categories
from .votes import FORM_FIELD, extract_answers

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


@lru_cache(maxsize=1)
def s3_client():
    """Created on first use (not at import) so the endpoint is read when the handler runs."""
    return boto3.client("s3")


def lambda_handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    # Read per invocation: a bad LABEL_CATEGORIES or CONSOLIDATION_METHOD fails loudly here.
    categories = label_categories()
    method = configured_method()
    state = state_for_event(event)

    def consolidate(items: list[DataObjectAnswers]) -> dict[str, dict[str, Any]]:
        answers = {item.dataset_object_id: extract_answers(item, categories) for item in items}
        result = consolidate_with_state(
            list(answers), [a for per_object in answers.values() for a in per_object], categories,
            question=FORM_FIELD, s3_client=s3_client(), state=state, method=method,
            abstain=NOT_SURE if NOT_SURE in categories else None)
        labels = {}
        for object_id, per_object in answers.items():
            decision = result.decisions[object_id]
            counts = {label: sum(a.label == label for a in per_object) for label in categories}
            labels[object_id] = {
                FORM_FIELD: decision.label,
                "confidence": decision.confidence,
                # Only categories that got a vote, in the configured category order.
                "votes": {label: count for label, count in counts.items() if count},
                "workers": len(per_object),
            }
        return labels

    response = consolidate_batch_event(event, s3_client(), consolidate)
    LOG.info("consolidated %d objects for %s (%s)", len(response), event.get("labelAttributeName"), method)
    return response
