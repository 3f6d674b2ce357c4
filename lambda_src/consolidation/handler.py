"""Lambda entry point: consolidate one batch of any workflow, configured only by its environment.

``WORKFLOW_QUESTIONS`` (the definition's questions), ``CONSOLIDATION_METHOD`` (the deployment's
default method) and ``TASK_RECORDS_URI`` (what pre-labeling showed each worker) are read at each
invocation (``gt_common.configuration``); a wrong one fails the invocation, naming it. Each object
of the payload gets ``{<question>: <value>, ..., "workers": n}``
(``gt_common.workflow_consolidation``); a bad answer, or a bad part of one, is logged with its
object and worker and loses only itself, never the batch.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from gt_common.configuration import configured_method, configured_questions
from gt_common.consolidation import checked_event, consolidate_answers_event, workers_per_object
from gt_common.job_state import state_for_event
from gt_common.labeling_job import job_name_of_event
from gt_common import response_size, time_budget
from gt_common.task_record import READ_THREADS
from gt_common.workflow_consolidation import consolidate_answers

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


@lru_cache(maxsize=1)
def s3_client():
    """Created on first use (not at import) so the endpoint is read when the handler runs; with a
    connection for each thread reading task records."""
    return boto3.client("s3", config=Config(max_pool_connections=READ_THREADS))


def lambda_handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    with time_budget.limit(context):  # the worker model stops iterating in time for the batch to answer
        return _consolidated(event)


def _consolidated(event: dict[str, Any]) -> list[dict[str, Any]]:
    event = checked_event(event)
    questions = configured_questions()
    method = configured_method()
    state = state_for_event(event)
    bound = workers_per_object(event)
    job = job_name_of_event(event)  # whose task records are read (gt_common.task_record)
    response = consolidate_answers_event(event, s3_client(), lambda batch: consolidate_answers(
        batch, questions, method=method, s3=s3_client(), state=state, workers_per_object=bound, job=job))
    LOG.info("consolidated %d objects for %s (%s; questions: %s)", len(response), event.get("labelAttributeName"),
             method, ", ".join(question.name for question in questions))
    return response_size.fitted(response)  # within Lambda's 6 MB, or a failure that says why
