"""Create, watch and stop a labeling job on behalf of CloudFormation.

Labeling jobs can be neither updated nor deleted and their names are unique forever (per account
and region, case-insensitively, stopped jobs included). So every Create or Update starts a new job
under a fresh name and returns it as the new physical id; CloudFormation then sends Delete for
the old id, which stops that job if it still runs. ``is_complete`` waits for the job to leave
Initializing and fails the deployment with Ground Truth's FailureReason.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from functools import lru_cache
from typing import Any

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_RUNNING = {"Initializing", "InProgress"}
_REQUIRED = ("JobNamePrefix", "LabelAttributeName", "ManifestS3Uri", "OutputS3Uri", "RoleArn", "WorkteamArn",
             "UiTemplateS3Uri", "PreHumanTaskLambdaArn", "AnnotationConsolidationLambdaArn", "TaskTitle",
             "TaskDescription", "NumberOfHumanWorkersPerDataObject", "TaskTimeLimitInSeconds",
             "TaskAvailabilityLifetimeInSeconds")


class PropertyError(ValueError):
    """A resource property CreateLabelingJob would reject; the message names it."""


@lru_cache(maxsize=1)
def sagemaker():
    return boto3.client("sagemaker")


# -- naming and validation -------------------------------------------------------------------
def job_name(properties: dict[str, Any], now: float | None = None) -> str:
    """``<prefix>-<8 hex of the configuration>-<base36 seconds>``: fresh per deployment, at most 63 chars."""
    config = {k: v for k, v in properties.items() if k != "ServiceToken"}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    stamp = _base36(int(now if now is not None else time.time()))
    prefix = re.sub(r"[^a-zA-Z0-9-]+", "-", str(properties["JobNamePrefix"])).strip("-")
    prefix = re.sub(r"-+", "-", prefix)[: 63 - len(digest) - len(stamp) - 2].rstrip("-") or "job"
    name = f"{prefix}-{digest}-{stamp}"
    assert JOB_NAME.match(name), name
    return name


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _int(properties: dict[str, Any], key: str, low: int, high: int) -> int:
    try:
        value = int(str(properties[key]))
    except ValueError:
        raise PropertyError(f"{key} {properties[key]!r} is not an integer") from None
    if not low <= value <= high:
        raise PropertyError(f"{key} {value} must be between {low} and {high}")
    return value


def create_request(properties: dict[str, Any], name: str) -> dict[str, Any]:
    """CreateLabelingJob's request, after checking each property the API would reject."""
    missing = [key for key in _REQUIRED if not properties.get(key)]
    if missing:
        raise PropertyError(f"missing required properties: {', '.join(missing)}")
    label = properties["LabelAttributeName"]
    if len(label) > 127 or label.endswith(("-metadata", "-ref")):
        raise PropertyError(f"LabelAttributeName {label!r} must be 1-127 characters and not end in -metadata or -ref")
    title, description = properties["TaskTitle"], properties["TaskDescription"]
    if len(title) > 128:
        raise PropertyError(f"TaskTitle is {len(title)} characters; at most 128")
    if len(description) > 255:
        raise PropertyError(f"TaskDescription is {len(description)} characters; at most 255")
    keywords = properties.get("TaskKeywords") or []
    if not isinstance(keywords, list):
        raise PropertyError("TaskKeywords must be a list")
    human = {
        "WorkteamArn": properties["WorkteamArn"],
        "UiConfig": {"UiTemplateS3Uri": properties["UiTemplateS3Uri"]},
        "PreHumanTaskLambdaArn": properties["PreHumanTaskLambdaArn"],
        "TaskTitle": title,
        "TaskDescription": description,
        "NumberOfHumanWorkersPerDataObject": _int(properties, "NumberOfHumanWorkersPerDataObject", 1, 9),
        "TaskTimeLimitInSeconds": _int(properties, "TaskTimeLimitInSeconds", 30, 28800),
        "TaskAvailabilityLifetimeInSeconds": _int(properties, "TaskAvailabilityLifetimeInSeconds", 60, 2_592_000),
        "AnnotationConsolidationConfig": {
            "AnnotationConsolidationLambdaArn": properties["AnnotationConsolidationLambdaArn"]},
    }
    if keywords:
        human["TaskKeywords"] = [str(k) for k in keywords]
    if properties.get("MaxConcurrentTaskCount"):
        human["MaxConcurrentTaskCount"] = _int(properties, "MaxConcurrentTaskCount", 1, 5000)
    output = {"S3OutputPath": properties["OutputS3Uri"]}
    if properties.get("OutputKmsKeyId"):
        output["KmsKeyId"] = properties["OutputKmsKeyId"]
    request = {
        "LabelingJobName": name,
        "LabelAttributeName": label,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": properties["ManifestS3Uri"]}}},
        "OutputConfig": output,
        "RoleArn": properties["RoleArn"],
        "HumanTaskConfig": human,
    }
    if properties.get("Tags"):
        request["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties["Tags"]]
    return request


# -- Provider framework entry points ---------------------------------------------------------
def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request_type = event["RequestType"]
    if request_type in ("Create", "Update"):
        name = job_name(event["ResourceProperties"])
        response = sagemaker().create_labeling_job(**create_request(event["ResourceProperties"], name))
        LOG.info("%s: created labeling job %s", request_type, name)
        return {"PhysicalResourceId": name,
                "Data": {"LabelingJobName": name, "LabelingJobArn": response["LabelingJobArn"]}}
    if request_type == "Delete":
        stop_if_running(event["PhysicalResourceId"])
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    raise ValueError(f"unknown RequestType {request_type!r}")


def stop_if_running(name: str) -> None:
    """Stop a job that still runs; finished, failed, stopped or never-created jobs need nothing."""
    if not JOB_NAME.match(name or ""):
        LOG.info("physical id %r is not a job name (the create failed); nothing to stop", name)
        return
    try:
        status = sagemaker().describe_labeling_job(LabelingJobName=name)["LabelingJobStatus"]
    except sagemaker().exceptions.ResourceNotFound:
        LOG.info("labeling job %s does not exist; nothing to stop", name)
        return
    if status in _RUNNING:
        sagemaker().stop_labeling_job(LabelingJobName=name)
        LOG.info("stopping labeling job %s (was %s)", name, status)
    else:
        LOG.info("labeling job %s is %s; nothing to stop", name, status)


def is_complete(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}  # stopping is asynchronous and cannot be undone: no need to wait
    name = event["PhysicalResourceId"]
    job = sagemaker().describe_labeling_job(LabelingJobName=name)
    status = job["LabelingJobStatus"]
    if status == "Initializing":
        return {"IsComplete": False}
    if status in ("InProgress", "Completed"):
        return {"IsComplete": True, "Data": {
            "LabelingJobName": name, "LabelingJobArn": job["LabelingJobArn"], "LabelingJobStatus": status}}
    if status == "Failed":
        raise RuntimeError(f"labeling job {name} failed: {job.get('FailureReason', 'no FailureReason given')}")
    raise RuntimeError(f"labeling job {name} is {status} before it started; it was stopped outside CloudFormation")
