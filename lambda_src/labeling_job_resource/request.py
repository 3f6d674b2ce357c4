"""CreateLabelingJob's request from the resource's properties, each checked the way the API would."""
from __future__ import annotations

from typing import Any, Mapping

from .naming import KEY_PROPERTY, NamingError, key_of

_REQUIRED = (KEY_PROPERTY, "LabelAttributeName", "ManifestS3Uri", "OutputS3Uri", "RoleArn", "WorkteamArn",
             "UiTemplateS3Uri", "PreHumanTaskLambdaArn", "AnnotationConsolidationLambdaArn", "TaskTitle",
             "TaskDescription", "NumberOfHumanWorkersPerDataObject", "TaskTimeLimitInSeconds",
             "TaskAvailabilityLifetimeInSeconds")


class PropertyError(ValueError):
    """A resource property CreateLabelingJob would reject; the message names it."""


def _int(properties: Mapping[str, Any], key: str, low: int, high: int) -> int:
    try:
        value = int(str(properties[key]))
    except ValueError:
        raise PropertyError(f"{key} {properties[key]!r} is not an integer") from None
    if not low <= value <= high:
        raise PropertyError(f"{key} {value} must be between {low} and {high}")
    return value


def create_request(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """CreateLabelingJob's request for the job ``name``, after checking each property."""
    missing = [key for key in _REQUIRED if not properties.get(key)]
    if missing:
        raise PropertyError(f"missing required properties: {', '.join(missing)}")
    try:
        key_of(properties)
    except NamingError as error:
        raise PropertyError(str(error)) from None
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
