"""The one final manifest: the workflow job's output manifest, line by line, with the experts'
decisions merged in by ``gt_common.review.merge_review`` (provenance in each line's metadata:
decided by the crowd or by a reviewer, the reviewer's id, the crowd's label and confidence, and
why the object was routed)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence, Union

from gt_common.questions import Question
from gt_common.review import check_decision, merge_review

from .manifests import ManifestLine

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Review:
    """What became of one routed object: why it was routed, and the experts' decision if any."""

    reasons: tuple[str, ...] | dict[str, tuple[str, ...]] = ()  # per question when the review line had them
    decision: Optional[dict[str, Any]] = None
    reviewer: Optional[str] = None


#: line number of the workflow job's output manifest -> its review
Reviews = dict[int, Review]


def usable_decision(decision: Any, questions: Sequence[Question], line_number: int) -> Optional[dict[str, Any]]:
    """What of the experts' decision fits the questions, each question on its own: one that does not (a label
    the question no longer has) is logged and keeps the crowd's label, and the others' decisions are used (one bad
    question threw the whole decision away). None when nothing fits."""
    try:
        return check_decision(decision, questions, str(line_number))
    except ValueError as whole:
        if not isinstance(decision, dict):
            LOG.error("output manifest line %d: the experts' decision is not used (%s); the crowd's label stays",
                      line_number, whole)
            return None
    usable = {}
    for question, value in decision.items():
        try:
            usable.update(check_decision({question: value}, questions, str(line_number)))
        except ValueError as error:
            LOG.error("output manifest line %d: the experts' decision on %s is not used (%s); the crowd's label "
                      "stays", line_number, str(question)[:80], error)
    return usable or None


def final_lines(lines: Sequence[ManifestLine], label_attribute: str, questions: Sequence[Question],
                reviews: Optional[Reviews] = None) -> Iterator[Union[str, dict[str, Any]]]:
    """Every line of the workflow job's output manifest, in order, merged with its review; a line
    that is not JSON stays as it was, and a decision that does not fit the questions is logged and
    the crowd's label kept: no line is lost."""
    reviews = reviews or {}
    for line in lines:
        if line.value is None:
            yield line.raw
            continue
        review = reviews.get(line.number, Review())
        decision = review.decision
        if decision:
            decision = usable_decision(decision, questions, line.number)
        try:
            yield merge_review(line.value, decision, label_attribute, review.reviewer if decision else None,
                               review.reasons)
        except Exception as error:  # noqa: BLE001 - the line is kept as the crowd left it
            LOG.error("output manifest line %d: cannot be merged (%s); kept as it is", line.number, error)
            yield line.raw
