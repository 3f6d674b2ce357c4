"""A STAND-IN, for the runner's tests, for the generic consolidation function built in parallel
(``lambda_src/consolidation``): a plain majority vote per question, answering in the design's
contract 2 label shape, configured as contract 1 says (``WORKFLOW_QUESTIONS``).

It exists so the runner's scoring, skipped objects and browser round trips are tested against the
label shape they are built for before that function lands; ``tests/runner_helpers.py``'s
``with_contract2_consolidation`` swaps it in only while a stack's consolidation is another package.
Delete both once the generic consolidation is in the stacks.
"""
from __future__ import annotations

import json
import os
from collections import Counter

import boto3

from gt_common.questions import QUESTIONS_ENV, Checkbox, FreeText, MultiSelect, Spans, questions_from_json
from gt_common.s3uri import parse_s3_uri


def _plain(raw):
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _read(question, raw):
    """A worker's value for ``question`` from any documented answer shape; None when there is none."""
    if isinstance(question, FreeText):
        return raw if isinstance(raw, str) and raw else None
    value = _plain(raw)
    if isinstance(question, Spans):
        return value.get("entities") if isinstance(value, dict) else None
    if isinstance(question, MultiSelect):
        if isinstance(value, dict) and isinstance(value.get("labels"), list):
            return value["labels"]
        return [k for k, v in value.items() if v is True] if isinstance(value, dict) else None
    if isinstance(question, Checkbox):
        return "checked" if isinstance(value, dict) and value.get(question.value) is True else "unchecked"
    if isinstance(value, dict) and "label" in value:
        return value["label"]
    if isinstance(value, dict):  # radio buttons: {"<label>": true, ...}
        chosen = [k for k, v in value.items() if v is True]
        return chosen[0] if len(chosen) == 1 else None
    return value if isinstance(value, str) else None


def _choice(question, votes: Counter, workers: int) -> dict:
    order = list(question.labels)
    if not votes:
        return {"label": None, "confidence": 0.0, "votes": {}}
    top = max(votes.values())
    tied = [label for label in order if votes.get(label) == top] or sorted(votes)
    label = question.tie if getattr(question, "tie", None) in tied else tied[0]
    return {"label": label, "confidence": top / workers, "votes": dict(votes)}


def consolidate(questions, answers: list[tuple[str, dict]]) -> dict:
    label = {}
    usable = set()
    for question in questions:
        values = []
        for worker, answer in answers:
            value = _read(question, answer.get(question.name)) if isinstance(answer, dict) else None
            if value is not None:
                values.append((worker, value))
                usable.add(worker)
        workers = max(len(answers), 1)
        if isinstance(question, FreeText):
            label[question.name] = [{"workerId": w, "text": v} for w, v in values]
        elif isinstance(question, Spans):
            counts = Counter((e["label"], e["startOffset"], e["endOffset"]) for _, v in values for e in v)
            label[question.name] = {"entities": [
                {"label": l, "startOffset": s, "endOffset": e, "confidence": n / workers}
                for (l, s, e), n in sorted(counts.items(), key=lambda item: item[0][1]) if n * 2 >= workers]}
        elif isinstance(question, MultiSelect):
            votes = Counter(choice for _, v in values for choice in v)
            label[question.name] = {"labels": [c for c in question.choices if votes[c] * 2 > workers],
                                    "confidence": {c: votes[c] / workers for c in question.choices},
                                    "votes": dict(votes)}
        else:
            label[question.name] = _choice(question, Counter(v for _, v in values), workers)
    label["workers"] = len(usable)
    return label


def lambda_handler(event, context=None):
    questions = questions_from_json(os.environ[QUESTIONS_ENV])
    location = parse_s3_uri(event["payload"]["s3Uri"], what="payload")
    entries = json.loads(boto3.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read())
    return [{"datasetObjectId": entry["datasetObjectId"],
             "consolidatedAnnotation": {"content": {event["labelAttributeName"]: consolidate(questions, [
                 (a["workerId"], json.loads(a["annotationData"]["content"])) for a in entry["annotations"]])}}}
            for entry in entries]
