"""A labeling job's name, as the Lambda functions read it from their events.

Ground Truth's pre-labeling and consolidation events carry the job's ARN (``labelingJobArn``); the name in it
places what a function keeps per job (``task_record``). A module of its own that imports only ``re`` and
``s3uri`` (which every function loads anyway): the pre-labeling function imports it at every cold start.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from .s3uri import InputError

#: What precedes a labeling job's name in its ARN (``arn:aws:sagemaker:<region>:<account>:labeling-job/<name>``).
ARN_MARKER = ":labeling-job/"
#: A job's name as it may appear in S3 keys: CreateLabelingJob's names (letters, digits, hyphens, at most 63) and the
#: local runner's (which may hold "_", from a workflow's name).
JOB_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}")


def name_in_arn(arn: Any) -> Optional[str]:
    """What follows ``ARN_MARKER`` in a labeling job's ARN, as written; None when ``arn`` is no such ARN."""
    return arn.rsplit(ARN_MARKER, 1)[1] if isinstance(arn, str) and ARN_MARKER in arn else None


def data_object_of_event(event: Any) -> dict[str, Any]:
    """A pre-labeling event's ``dataObject`` (the manifest line); InputError when the event or it is not an object."""
    if not isinstance(event, dict):
        raise InputError("event is not an object")
    data_object = event.get("dataObject")
    if not isinstance(data_object, dict):
        raise InputError("dataObject is missing or not an object")
    return data_object


def job_name_of_event(event: Any) -> str:
    """The labeling job's name from a Lambda event's ``labelingJobArn`` (pre-labeling and consolidation events
    carry it); "" when the event has none. An ARN that is there but names no job (``JOB_NAME``) is refused: it
    could not come from Ground Truth or the local runner, and the name becomes part of S3 keys."""
    arn = event.get("labelingJobArn") if isinstance(event, dict) else None
    if arn is None:
        return ""
    name = name_in_arn(arn)
    if name is None or not JOB_NAME.fullmatch(name):
        raise InputError(f"labelingJobArn {str(arn)[:200]!r} is not a labeling job's ARN")
    return name
