"""The review job's pre-labeling: a review manifest line -> what the review page shows.

``taskInput``: the data object (``source``: its S3 URI, shown through ``grant_read_access``, or
its inline text), why it is under review, and for each question an expert decides (the choice
questions, ``reviewed_questions``) its labels (from ``WORKFLOW_QUESTIONS``, the workflow's own
definition), the crowd's label, confidence and votes; the crowd's answers to the other questions
(spans, free text) are shown as they are. A line that is not a review line fails alone, named.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from gt_common.configuration import configured_questions
from gt_common.questions import MultiSelect, Question
from gt_common.review import reviewable
from gt_common.s3uri import InputError, is_s3_uri

from .layout import REVIEW_FIELD

#: File endings the review page shows as an image (anything else is a link).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def reviewed_questions(questions: Sequence[Question]) -> tuple[Question, ...]:
    """The questions an expert decides (``gt_common.review.reviewable``: the ones the rule routes).
    Spans and free text stay the crowd's and are shown as they are."""
    return reviewable(questions)


def decision_labels(question: Question) -> list[str]:
    """What an expert may answer: the question's labels but its abstain label ("Not sure" is no
    decision: an expert who cannot tell leaves the question to the crowd)."""
    return [label for label in question.labels if label != getattr(question, "abstain", None)]


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    line = event.get("dataObject")
    if not isinstance(line, dict) or not isinstance(line.get(REVIEW_FIELD), dict):
        raise InputError(f"data object {str(line)[:120]!r} is not a review manifest line (no {REVIEW_FIELD!r})")
    return {"taskInput": task_input(line, configured_questions()), "isHumanAnnotationRequired": "true"}


def task_input(line: dict[str, Any], questions: Sequence[Question]) -> dict[str, Any]:
    review = line[REVIEW_FIELD]
    crowd = review.get("label") if isinstance(review.get("label"), dict) else {}
    source = line.get("source-ref", line.get("source"))
    is_s3 = is_s3_uri(source)
    reviewed = reviewed_questions(questions)
    shown = []
    for question in reviewed:
        answer = crowd.get(question.name) if isinstance(crowd.get(question.name), dict) else {}
        votes = answer.get("votes") if isinstance(answer.get("votes"), dict) else {}
        multi = isinstance(question, MultiSelect)
        shown.append({
            "name": question.name,
            "multi": multi,  # several labels may apply: one checkbox per label instead of radio buttons
            "labels": decision_labels(question),
            "crowdLabel": ", ".join(map(str, answer.get("labels") or [])) if multi else answer.get("label"),
            "confidence": (json.dumps(answer.get("confidence"), ensure_ascii=False) if multi
                           else answer.get("confidence")),
            "votes": [{"label": label, "count": votes[label]} for label in question.labels if label in votes],
        })
    others = [{"name": question.name, "value": json.dumps(crowd.get(question.name), ensure_ascii=False)}
              for question in questions if question not in reviewed and question.name in crowd]
    return {
        "object": review.get("object"),
        "source": source if isinstance(source, str) else json.dumps(source, ensure_ascii=False),
        "sourceIsS3": is_s3,
        "isImage": is_s3 and source.lower().endswith(IMAGE_SUFFIXES),
        "reasons": [str(reason) for reason in review.get("reasons") or []],
        "workers": crowd.get("workers"),
        "questions": shown,
        "otherAnswers": others,
    }
