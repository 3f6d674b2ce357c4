"""The review job's pre-labeling: a review manifest line -> what the review page shows.

``taskInput``: the data object (``files``: every S3 URI of its manifest line and, when its source
is a JSON file, of that file (a welding run's dataset names its image and sensor CSV), each shown
through ``grant_read_access``, images inline; ``source`` its inline text otherwise), why it is
under review, and for each question an expert decides (the choice
questions, ``reviewed_questions``) its labels (from ``WORKFLOW_QUESTIONS``, the workflow's own
definition), the crowd's label, confidence and votes; the crowd's answers to the other questions
(spans, free text) are shown as they are. A line that is not a review line fails alone, named.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterator, Sequence

from gt_common import strict_json
from gt_common.configuration import configured_questions
from gt_common.images import SHOWN_SUFFIXES  # the file endings the review page shows as an image (else a link)
from gt_common.questions import MultiSelect, Question, button_name
from gt_common.review import reviewable
from gt_common.s3uri import InputError, is_s3_uri, parse_s3_uri, read_object
from gt_common.task_record import source_of

from .jobs import s3_client
from .layout import REVIEW_FIELD

LOG = logging.getLogger(__name__)
#: A JSON source larger than this is linked, not read for the files it names.
MAX_SOURCE_BYTES = 1_000_000
#: At most this many files are shown for one object.
MAX_FILES = 20



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
    return {"taskInput": task_input(line, configured_questions(), s3_client()), "isHumanAnnotationRequired": "true"}


def _s3_uris(value: Any) -> Iterator[str]:
    if is_s3_uri(value):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _s3_uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from _s3_uris(item)


def files_of(line: dict[str, Any], s3) -> list[dict[str, Any]]:
    """The files an expert can open for this object: the S3 URIs of its manifest line, then those a
    JSON source names. A JSON source that cannot be read is still linked (the reason logged)."""
    own = {key: value for key, value in line.items() if key != REVIEW_FIELD}
    uris = list(_s3_uris(own))
    source = source_of(line)
    if s3 is not None and is_s3_uri(source) and source.lower().endswith(".json"):
        try:
            location = parse_s3_uri(source, what="data object")
            uris += list(_s3_uris(strict_json.loads(read_object(s3, location, what="data object",
                                                               max_bytes=MAX_SOURCE_BYTES))))
        except (InputError, strict_json.JSONError) as error:
            LOG.warning("object %s: the files its source names are not shown (%s)", line[REVIEW_FIELD].get("object"),
                        error)
    unique = list(dict.fromkeys(uris))[:MAX_FILES]
    return [{"name": uri.rsplit("/", 1)[-1], "uri": uri, "isImage": uri.lower().endswith(SHOWN_SUFFIXES)}
            for uri in unique]


def task_input(line: dict[str, Any], questions: Sequence[Question], s3=None) -> dict[str, Any]:
    review = line[REVIEW_FIELD]
    crowd = review.get("label") if isinstance(review.get("label"), dict) else {}
    source = source_of(line)
    is_s3 = is_s3_uri(source)
    reviewed = reviewed_questions(questions)
    by_question = review.get("questions") if isinstance(review.get("questions"), dict) else {}
    shown = []
    for question in reviewed:
        answer = crowd.get(question.name) if isinstance(crowd.get(question.name), dict) else {}
        votes = answer.get("votes") if isinstance(answer.get("votes"), dict) else {}
        multi = isinstance(question, MultiSelect)
        sent = by_question.get(question.name)  # why this question sent the object here (none: it did not)
        # a multi-select's choices the crowd made, checked on the page to start with
        crowd_labels = answer.get("labels") if multi and isinstance(answer.get("labels"), list) else []
        shown.append({
            "name": question.name,
            "reasons": [str(reason) for reason in sent] if isinstance(sent, list) else [],
            "multi": multi,  # several labels may apply: one checkbox per label instead of radio buttons
            "labels": decision_labels(question),
            # each label's radio button (checkbox), named apart: Ground Truth submits one object per button name
            "buttons": [{"name": button_name(question.name, label), "label": label, "checked": label in crowd_labels}
                        for label in decision_labels(question)],
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
        "files": files_of(line, s3),
        "reasons": [str(reason) for reason in review.get("reasons") or []],
        "workers": crowd.get("workers"),
        "questions": shown,
        "otherAnswers": others,
    }
