"""Create, adopt, watch and stop a labeling job on behalf of CloudFormation (CDK Provider framework).

Labeling jobs can be neither updated nor deleted, and their names are unique forever. Each
configuration (the resource's properties) has deterministic job names (see ``naming``), so:

- Create and Update look for the configuration's job by name first and adopt it when it is
  running or completed: a retried Create, or a rollback (an Update back to the old properties),
  finds the job it started before instead of starting another. Otherwise the next free name is
  created and returned as the physical id; a changed physical id makes CloudFormation send
  Delete for the old one once the deployment has succeeded, which stops the old job.
- If CreateLabelingJob raises (a lost response, a timeout, a refusal), the outcome is left to
  ``is_complete``, which finds the job by name and adopts it, or fails the deployment with the
  error. The physical id is the job's name either way: a Delete that follows can stop it. (When
  ``on_event`` itself raises on Create, the framework answers with a marker and swallows the
  Delete that follows, so ``on_event`` raises only before it calls CreateLabelingJob.)
- An Update stops any job of the old properties' configuration that is neither the one it keeps
  nor the one CloudFormation still tracks: a rollback that CloudFormation performs in place after
  a failed update would otherwise leave that update's job running untracked.
- Delete stops the physical id's job when it still runs; a physical id that is not one of this
  resource's job names (a failed create) stops any running job of the properties' configuration.

``is_complete`` waits for the job to leave Initializing and fails the deployment with Ground
Truth's FailureReason.

The execution role and this function's ``iam:PassRole`` are made in the same deployment, just before
the job, and IAM changes take seconds to reach other services: a CreateLabelingJob refused for a role
or a permission (``_refused_for_a_role``) is tried again after ``ROLE_RETRY_DELAYS`` before the
refusal fails the deployment. Nothing is created by a refused call, so trying again makes no second job.
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any, Iterable, Mapping, Optional

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .naming import MAX_GENERATIONS, generations, has_key, is_resource_job, key_of
from .request import PropertyError, create_request

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

RUNNING = frozenset({"Initializing", "InProgress"})
ADOPTABLE = RUNNING | {"Completed"}
#: Carried from on_event to is_complete by the framework (not sent to CloudFormation).
CREATE_ERROR = "CreateLabelingJobError"
#: Seconds to wait before each new try of a create refused for a role or permission, inside the on_event
#: function's timeout (the construct gives it 3 minutes; tests/test_constructs.py checks the sum fits).
ROLE_RETRY_DELAYS = (5, 10, 20, 30, 30)
#: Error codes with which AWS APIs refuse a request for its permissions or roles.
_PERMISSION_CODES = frozenset({"AccessDeniedException", "AccessDenied", "ValidationException"})
_sleep = time.sleep  # tests wait on a clock of their own

__all__ = ["PropertyError", "is_complete", "on_event"]


@lru_cache(maxsize=1)
def sagemaker():
    return boto3.client("sagemaker")


def describe(name: str) -> Optional[dict[str, Any]]:
    """The job, or None when no job has that name."""
    try:
        return sagemaker().describe_labeling_job(LabelingJobName=name)
    except sagemaker().exceptions.ResourceNotFound:
        return None


# -- Provider framework entry points ---------------------------------------------------------
def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request_type = event["RequestType"]
    if request_type in ("Create", "Update"):
        return _create_or_adopt(event)
    if request_type == "Delete":
        _delete(event["PhysicalResourceId"], event.get("ResourceProperties") or {})
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    raise ValueError(f"unknown RequestType {request_type!r}")


def is_complete(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}  # stopping is asynchronous and cannot be undone: no need to wait
    name = event["PhysicalResourceId"]
    job = describe(name)
    if job is None:
        if event.get(CREATE_ERROR):
            raise RuntimeError(f"labeling job {name} could not be created: {event[CREATE_ERROR]}")
        return {"IsComplete": False}  # created, not visible yet
    status = job["LabelingJobStatus"]
    if status == "Initializing":
        return {"IsComplete": False}
    if status in ("InProgress", "Completed"):
        return {"IsComplete": True, "Data": {
            "LabelingJobName": name, "LabelingJobArn": job["LabelingJobArn"], "LabelingJobStatus": status}}
    if status == "Failed":
        raise RuntimeError(f"labeling job {name} failed: {job.get('FailureReason', 'no FailureReason given')}")
    raise RuntimeError(f"labeling job {name} is {status} before it started; it was stopped outside CloudFormation")


# -- Create and Update -----------------------------------------------------------------------
def _create_or_adopt(event: dict[str, Any]) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    create_request(properties, "")  # every property checked before any call
    name, job = _find_job(properties)
    if event["RequestType"] == "Update":
        # Before creating anything: a failure here leaves no new job behind.
        old = event.get("OldResourceProperties") or {}
        if has_key(old) and key_of(old) == key_of(properties):
            _stop_running(generations(old), keep={name.lower(), str(event.get("PhysicalResourceId", "")).lower()})
    if job is not None:
        LOG.info("%s: adopting labeling job %s (%s)", event["RequestType"], name, job["LabelingJobStatus"])
        return _result(name, job["LabelingJobArn"])
    try:
        arn = _create(create_request(properties, name))
    except (ClientError, BotoCoreError) as error:
        # The job may exist even so (the response was lost): is_complete looks it up by name.
        LOG.warning("CreateLabelingJob %s raised %s; is_complete will look the job up", name, error)
        return {"PhysicalResourceId": name, "Data": {"LabelingJobName": name},
                CREATE_ERROR: f"{type(error).__name__}: {error}"}
    LOG.info("%s: created labeling job %s", event["RequestType"], name)
    return _result(name, arn)


def _create(request: dict[str, Any]) -> str:
    """CreateLabelingJob, tried again while it is refused for a role or permission (IAM propagation)."""
    for delay in ROLE_RETRY_DELAYS:
        try:
            return sagemaker().create_labeling_job(**request)["LabelingJobArn"]
        except ClientError as error:
            if not _refused_for_a_role(error):
                raise
            LOG.warning("CreateLabelingJob %s was refused for a role or permission (%s); IAM changes made in this "
                        "deployment may not have reached SageMaker yet: trying again in %d s",
                        request["LabelingJobName"], error, delay)
            _sleep(delay)
    return sagemaker().create_labeling_job(**request)["LabelingJobArn"]  # the last try: its refusal counts


def _refused_for_a_role(error: ClientError) -> bool:
    """A refusal that a role or permission made moments ago can explain (the execution role SageMaker assumes,
    this function's iam:PassRole): an access or validation error that names a role."""
    details = error.response.get("Error", {})
    message = str(details.get("Message", "")).lower()
    return details.get("Code") in _PERMISSION_CODES and any(word in message for word in ("role", "assume"))


def _result(name: str, arn: str) -> dict[str, Any]:
    return {"PhysicalResourceId": name, "Data": {"LabelingJobName": name, "LabelingJobArn": arn}}


def _find_job(properties: Mapping[str, Any]) -> tuple[str, Optional[dict[str, Any]]]:
    """The configuration's running or completed job, else the first name no job has yet."""
    stopped = []
    for name in generations(properties):
        job = describe(name)
        if job is None:
            return name, None
        if job["LabelingJobStatus"] in ADOPTABLE:
            return name, job
        stopped.append(f"{name} ({job['LabelingJobStatus']})")
    raise PropertyError(f"this configuration already has {MAX_GENERATIONS} stopped or failed labeling jobs "
                        f"({stopped[0]} ... {stopped[-1]}); change a setting to start a new configuration")


# -- Delete and clean-up ---------------------------------------------------------------------
def _delete(physical_id: str, properties: Mapping[str, Any]) -> None:
    key = key_of(properties) if has_key(properties) else None
    if key and is_resource_job(physical_id, key):
        _stop_running([physical_id], keep=set())
        return
    if key is None:
        # Properties of an earlier version of this resource: its job names lie outside this
        # resource's permissions (labeling-job/<key>-*), so any call on them would be denied.
        LOG.warning("physical id %r belongs to an earlier version of this resource; if it is a labeling job that "
                    "still runs, stop it with StopLabelingJob", physical_id)
        return
    LOG.info("physical id %r is not one of this resource's job names (a failed create); stopping any running job "
             "of its configuration", physical_id)
    _stop_running(generations(properties), keep=set())


def _stop_running(names: Iterable[str], keep: set[str]) -> None:
    """Stop each named job that still runs, except ``keep``; a configuration's names end at the first unused one."""
    for name in names:
        job = describe(name)
        if job is None:
            return
        status = job["LabelingJobStatus"]
        if name.lower() in keep:
            continue
        if status in RUNNING:
            sagemaker().stop_labeling_job(LabelingJobName=name)
            LOG.info("stopping labeling job %s (was %s)", name, status)
        else:
            LOG.info("labeling job %s is %s; nothing to stop", name, status)

