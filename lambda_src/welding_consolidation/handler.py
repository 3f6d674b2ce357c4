"""Lambda entry point: consolidate one batch of welding classifications.

For each data object the label attribute gets
``{"WeldingClassification": label | None, "confidence": 0..1, "votes": {label: n}, "workers": n}``.
An object whose answers are all unusable is still answered (label None, confidence 0,
workers 0), so Ground Truth records it instead of failing it silently.
"""
from __future__ import annotations

import logging
from functools import lru_cache, partial
from typing import Any, Sequence

import boto3

from gt_common.consolidation import DataObjectAnswers, consolidate_event

from .categories import label_categories
from .majority_vote import majority_vote
from .votes import FORM_FIELD, VotingStrategy, extract_votes

LOG = logging.getLogger(__name__)

# The strategy in use; a worker-model strategy replaces this one name.
STRATEGY: VotingStrategy = majority_vote


@lru_cache(maxsize=1)
def s3_client():
    """Created on first use (not at import) so the endpoint is read when the handler runs."""
    return boto3.client("s3")


def consolidate_object(
    item: DataObjectAnswers, *, categories: Sequence[str], strategy: VotingStrategy
) -> dict[str, Any]:
    """The label attribute's value for one data object."""
    votes = extract_votes(item, categories)
    decision = strategy(votes)
    counts = {label: sum(vote.label == label for vote in votes) for label in categories}
    return {
        FORM_FIELD: decision.label,
        "confidence": decision.confidence,
        # Only categories that got a vote, in the configured category order.
        "votes": {label: count for label, count in counts.items() if count},
        "workers": len(votes),
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    # Read per invocation: a bad LABEL_CATEGORIES fails loudly here, not at import time.
    categories = label_categories()
    response = consolidate_event(
        event, s3_client(), partial(consolidate_object, categories=categories, strategy=STRATEGY))
    LOG.info("consolidated %d objects for %s", len(response), event.get("labelAttributeName"))
    return response
