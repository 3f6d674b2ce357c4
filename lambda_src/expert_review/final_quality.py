"""The workflow job's quality reports against the final labels, written with its final manifest.

For each question an expert decided on some object (read from the final lines' provenance,
``gt_common.review.decided_by_experts``), the report the consolidation function wrote
(``<job folder>quality-report/<question>.json``) is read, the answers on each decided object are read from
Ground Truth's worker responses (``annotations/worker-response/iteration-1/<line>/``: one listing and one
read per answer, only for decided objects, ``READERS`` objects at a time within ``READING_BUDGET_SECONDS``), and ``gt_common.worker_agreement.with_expert_decisions``
compares every worker with the final labels. The result goes to
``<job folder>final-quality-report/<question>.json``; the crowd's report stays as the consolidation function
wrote it. The local runner shows the same figures on its requester's page.

Nothing here fails the merge (the final manifest is written first): a report or a response file that cannot be
read is logged by name and left out, and a question without a readable crowd report gets no final report.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any, Iterable, Optional, Sequence, Union

from gt_common import strict_json
from gt_common.answers import answer_to
from gt_common.limits import MAX_ANSWER_FILE_BYTES
from gt_common.output_layout import (final_quality_report_key, quality_report_key, worker_response_answers,
                                     worker_responses_prefix)
from gt_common.questions import Question
from gt_common.review import decided_by_experts
from gt_common.s3uri import InputError, S3Location, read_object
from gt_common.worker_agreement import ExpertDecision, with_expert_decisions

LOG = logging.getLogger(__name__)
#: A report larger than this is not the consolidation function's (it holds a few numbers per worker and class).
MAX_REPORT_BYTES = 16 * 1024 * 1024
#: The decided objects' answers are read this many objects at a time (S3 requests wait on the network, not the CPU).
READERS = 16
#: ... within this long: the merge function has 5 minutes, and its final manifest is written before.
READING_BUDGET_SECONDS = 180


def worker_answers(s3, bucket: str, job_folder: str, number: int) -> list[tuple[str, dict[str, Any]]]:
    """``(worker id, answerContent)`` of every answer Ground Truth kept for the data object on line ``number``; a file
    that cannot be read or is not a worker response is logged and left out."""
    found = []
    prefix = worker_responses_prefix(job_folder, number)
    try:
        listed = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                  for item in page.get("Contents", [])]
    except Exception as error:  # noqa: BLE001 - the object's answers are left out, the others go on
        LOG.error("the worker responses under %s could not be listed: %s", S3Location(bucket, prefix).shown, error)
        return found
    for key in listed:
        location = S3Location(bucket, key)
        try:
            answers = worker_response_answers(read_object(s3, location, what="worker response",
                                                          max_bytes=MAX_ANSWER_FILE_BYTES))
        except (InputError, ValueError) as error:
            LOG.error("worker response %s is left out of the final quality report: %s", location.shown, error)
            continue
        found.extend((answer["workerId"], answer["answerContent"]) for answer in answers)
    return found


def _read_answers(s3, bucket: str, job_folder: str,
                  numbers: Sequence[int]) -> Optional[dict[int, list[tuple[str, dict[str, Any]]]]]:
    """The answers on each of these objects, read ``READERS`` at a time; None (logged) when they take longer than
    ``READING_BUDGET_SECONDS``: no report is written rather than one that counts only some decided objects."""
    pool = ThreadPoolExecutor(max_workers=READERS)
    try:
        read = list(pool.map(lambda number: worker_answers(s3, bucket, job_folder, number), numbers,
                             timeout=READING_BUDGET_SECONDS))
    except FuturesTimeout:
        LOG.error("no final quality report: the answers on the %d decided objects took over %d s to read", len(numbers),
                  READING_BUDGET_SECONDS)
        return None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return dict(zip(numbers, read))


def write_final_reports(s3, bucket: str, job_folder: str, lines: Iterable[Union[str, dict[str, Any]]],
                        label_attribute: str, questions: Sequence[Question]) -> dict[str, str]:
    """Write each decided question's report against the final labels; ``{question: its URI}`` of those written.
    ``lines``: the final manifest's lines in order (a line's position is its data object's number)."""
    decided: dict[str, list[tuple[int, Any, Any]]] = {}
    for number, line in enumerate(lines):
        if isinstance(line, dict):
            for question, (crowd, expert) in decided_by_experts(line, label_attribute).items():
                decided.setdefault(question, []).append((number, crowd, expert))
    asked = {question.name: question for question in questions}
    # The crowd's reports first: the workers' answers are read only for questions that have one (read before, 10,000
    # decided objects of a job without reports cost 50 s of reading for nothing).
    reports = {}
    for name in sorted(decided):
        if name not in asked:
            continue
        source = S3Location(bucket, quality_report_key(job_folder, name))
        try:
            report = strict_json.loads(read_object(s3, source, what="quality report", max_bytes=MAX_REPORT_BYTES))
            if not isinstance(report, dict) or not isinstance(report.get("workers"), dict):
                raise ValueError("it is not a choice question's quality report")
        except (InputError, ValueError) as error:
            LOG.error("no final quality report of %s: the crowd's report %s cannot be used (%s)", name, source.shown,
                      error)
            continue
        reports[name] = report
    numbers = sorted({number for name in reports for number, _c, _e in decided[name]})
    answers_of = _read_answers(s3, bucket, job_folder, numbers) if numbers else {}
    if answers_of is None:
        return {}
    written = {}
    for name, report in reports.items():
        objects = decided[name]
        decisions = [ExpertDecision(crowd, expert, {worker: answer_to(asked[name], worker, form)
                                                    for worker, form in answers_of[number]})
                     for number, crowd, expert in objects]
        try:
            final = with_expert_decisions(report, decisions)
            target = S3Location(bucket, final_quality_report_key(job_folder, name))
            s3.put_object(Bucket=bucket, Key=target.key, ContentType="application/json",
                          Body=json.dumps(final, allow_nan=False).encode("utf-8"))
        except Exception as error:  # noqa: BLE001 - the final manifest is written; a report never fails the merge
            LOG.error("the final quality report of %s could not be written: %s", name, error)
            continue
        written[name] = target.uri
        LOG.info("final quality report of %s: %s (%d objects decided by experts)", name, target.uri, len(decisions))
    return written
