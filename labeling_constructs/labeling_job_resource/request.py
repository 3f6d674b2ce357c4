"""CreateLabelingJob's request from the resource's properties, each checked the way the API would.

The same function builds the request the job resource sends at deploy time and, at synth, the
request the workflow construct publishes (``CustomLabelingWorkflow.labeling_job_request``), so the
two cannot drift apart.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from . import job_settings
from .job_settings import JobSettingError
from .naming import KEY_PROPERTY, NamingError, key_of

_REQUIRED = (KEY_PROPERTY, "LabelAttributeName", "ManifestS3Uri", "OutputS3Uri", "RoleArn", "WorkteamArn",
             "UiTemplateS3Uri", "PreHumanTaskLambdaArn", "AnnotationConsolidationLambdaArn", "TaskTitle",
             "TaskDescription", "NumberOfHumanWorkersPerDataObject", "TaskTimeLimitInSeconds",
             "TaskAvailabilityLifetimeInSeconds")


class PropertyError(JobSettingError):
    """A resource property CreateLabelingJob would reject; the message names it."""


def request_without_name(properties: Mapping[str, Any],
                         deploy_time: Callable[[Any], bool] = job_settings.never) -> dict[str, Any]:
    """CreateLabelingJob's request for the properties' configuration, all but ``LabelingJobName``.

    ``deploy_time`` tells a value known only at deploy time (at synth, a CDK token: a workteam made in
    the same deployment); it passes unchecked here and is checked when the job resource sends it."""
    missing = [key for key in _REQUIRED if not properties.get(key)]
    if missing:
        raise PropertyError(f"missing required properties: {', '.join(missing)}")
    try:
        key_of(properties)
        return _request(properties, deploy_time)
    except (NamingError, JobSettingError) as error:
        raise PropertyError(str(error)) from None


def create_request(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """CreateLabelingJob's request for the job ``name``, after checking each property."""
    return {"LabelingJobName": name, **request_without_name(properties)}


def _request(properties: Mapping[str, Any], deploy_time: Callable[[Any], bool]) -> dict[str, Any]:
    def checked(check: Callable[[Any], Any], key: str) -> Any:
        value = properties[key]
        return value if deploy_time(value) else check(value)

    keywords = properties.get("TaskKeywords") or []
    if not isinstance(keywords, list):
        raise PropertyError("TaskKeywords must be a list")
    keywords = job_settings.task_keywords(keywords, deploy_time=deploy_time)
    human = {
        "WorkteamArn": checked(job_settings.workteam_arn, "WorkteamArn"),
        "UiConfig": {"UiTemplateS3Uri": properties["UiTemplateS3Uri"]},
        "PreHumanTaskLambdaArn": properties["PreHumanTaskLambdaArn"],
        "TaskTitle": checked(job_settings.task_title, "TaskTitle"),
        "TaskDescription": checked(job_settings.task_description, "TaskDescription"),
        "NumberOfHumanWorkersPerDataObject": job_settings.workers_per_object(
            properties["NumberOfHumanWorkersPerDataObject"]),
        "TaskTimeLimitInSeconds": job_settings.task_time_limit_seconds(properties["TaskTimeLimitInSeconds"]),
        "TaskAvailabilityLifetimeInSeconds": job_settings.task_availability_seconds(
            properties["TaskAvailabilityLifetimeInSeconds"]),
        "AnnotationConsolidationConfig": {
            "AnnotationConsolidationLambdaArn": properties["AnnotationConsolidationLambdaArn"]},
    }
    if keywords:
        human["TaskKeywords"] = keywords
    if properties.get("MaxConcurrentTaskCount"):
        human["MaxConcurrentTaskCount"] = job_settings.max_concurrent_tasks(properties["MaxConcurrentTaskCount"])
    output = {"S3OutputPath": properties["OutputS3Uri"]}
    if properties.get("OutputKmsKeyId"):
        output["KmsKeyId"] = properties["OutputKmsKeyId"]
    request = {
        "LabelAttributeName": checked(job_settings.label_attribute_name, "LabelAttributeName"),
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": properties["ManifestS3Uri"]}}},
        "OutputConfig": output,
        "RoleArn": properties["RoleArn"],
        "HumanTaskConfig": human,
    }
    if properties.get("Tags"):
        request["Tags"] = job_settings.tags(properties["Tags"], deploy_time=deploy_time)
    return request
