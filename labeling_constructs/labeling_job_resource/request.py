"""CreateLabelingJob's request from the resource's properties, each checked the way the API would.

The same function builds the request the job resource sends at deploy time and, at synth, the
request the workflow construct publishes (``CustomLabelingWorkflow.labeling_job_request``), so the
two cannot drift apart.
"""
from __future__ import annotations

from typing import Any, Mapping

from . import job_settings
from .job_settings import JobSettingError
from .naming import KEY_PROPERTY, NamingError, key_of

_REQUIRED = (KEY_PROPERTY, "LabelAttributeName", "ManifestS3Uri", "OutputS3Uri", "RoleArn", "WorkteamArn",
             "UiTemplateS3Uri", "PreHumanTaskLambdaArn", "AnnotationConsolidationLambdaArn", "TaskTitle",
             "TaskDescription", "NumberOfHumanWorkersPerDataObject", "TaskTimeLimitInSeconds",
             "TaskAvailabilityLifetimeInSeconds")


class PropertyError(JobSettingError):
    """A resource property CreateLabelingJob would reject; the message names it."""


def request_without_name(properties: Mapping[str, Any]) -> dict[str, Any]:
    """CreateLabelingJob's request for the properties' configuration, all but ``LabelingJobName``."""
    missing = [key for key in _REQUIRED if not properties.get(key)]
    if missing:
        raise PropertyError(f"missing required properties: {', '.join(missing)}")
    try:
        key_of(properties)
        return _request(properties)
    except (NamingError, JobSettingError) as error:
        raise PropertyError(str(error)) from None


def create_request(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """CreateLabelingJob's request for the job ``name``, after checking each property."""
    return {"LabelingJobName": name, **request_without_name(properties)}


def _request(properties: Mapping[str, Any]) -> dict[str, Any]:
    keywords = properties.get("TaskKeywords") or []
    if not isinstance(keywords, list):
        raise PropertyError("TaskKeywords must be a list")
    human = {
        "WorkteamArn": properties["WorkteamArn"],
        "UiConfig": {"UiTemplateS3Uri": properties["UiTemplateS3Uri"]},
        "PreHumanTaskLambdaArn": properties["PreHumanTaskLambdaArn"],
        "TaskTitle": job_settings.task_title(properties["TaskTitle"]),
        "TaskDescription": job_settings.task_description(properties["TaskDescription"]),
        "NumberOfHumanWorkersPerDataObject": job_settings.workers_per_object(
            properties["NumberOfHumanWorkersPerDataObject"]),
        "TaskTimeLimitInSeconds": job_settings.task_time_limit_seconds(properties["TaskTimeLimitInSeconds"]),
        "TaskAvailabilityLifetimeInSeconds": job_settings.task_availability_seconds(
            properties["TaskAvailabilityLifetimeInSeconds"]),
        "AnnotationConsolidationConfig": {
            "AnnotationConsolidationLambdaArn": properties["AnnotationConsolidationLambdaArn"]},
    }
    if keywords:
        human["TaskKeywords"] = [str(k) for k in keywords]
    if properties.get("MaxConcurrentTaskCount"):
        human["MaxConcurrentTaskCount"] = job_settings.max_concurrent_tasks(properties["MaxConcurrentTaskCount"])
    output = {"S3OutputPath": properties["OutputS3Uri"]}
    if properties.get("OutputKmsKeyId"):
        output["KmsKeyId"] = properties["OutputKmsKeyId"]
    request = {
        "LabelAttributeName": job_settings.label_attribute_name(properties["LabelAttributeName"]),
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": properties["ManifestS3Uri"]}}},
        "OutputConfig": output,
        "RoleArn": properties["RoleArn"],
        "HumanTaskConfig": human,
    }
    if properties.get("Tags"):
        request["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties["Tags"]]
    return request
