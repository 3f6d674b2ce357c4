"""The labeling-job custom resource against the real SageMaker API model (botocore Stubber)."""
from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from labeling_job_resource import handler

ACCOUNT = "111122223333"
PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:provider",
    "JobNamePrefix": "welding-quality",
    "LabelAttributeName": "welding-quality",
    "ManifestS3Uri": "s3://data-bucket/manifests/input.manifest",
    "InputRevision": "abc123",
    "OutputS3Uri": "s3://data-bucket/output/",
    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/gt-execution",
    "WorkteamArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/welders",
    "UiTemplateS3Uri": "s3://data-bucket/templates/0123/welding.liquid.html",
    "PreHumanTaskLambdaArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pre",
    "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:post",
    "TaskTitle": "Classify the quality of a weld",
    "TaskDescription": "Pick the defect",
    "TaskKeywords": ["welding", "quality"],
    "NumberOfHumanWorkersPerDataObject": "3",
    "TaskTimeLimitInSeconds": "600",
    "TaskAvailabilityLifetimeInSeconds": "864000",
}


@pytest.fixture
def stub(monkeypatch):
    client = boto3.client("sagemaker", region_name="us-east-1")
    monkeypatch.setattr(handler, "sagemaker", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def job_arn(name):
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/{name.lower()}"


def describe(name, status, **extra):
    return {
        "LabelingJobStatus": status, "LabelCounters": {}, "CreationTime": datetime.datetime(2026, 11, 1),
        "LastModifiedTime": datetime.datetime(2026, 11, 1), "JobReferenceCode": "ref", "LabelingJobName": name,
        "LabelingJobArn": job_arn(name), "LabelAttributeName": "welding-quality",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": PROPERTIES["ManifestS3Uri"]}}},
        "OutputConfig": {"S3OutputPath": PROPERTIES["OutputS3Uri"]}, "RoleArn": PROPERTIES["RoleArn"],
        "HumanTaskConfig": {
            "WorkteamArn": PROPERTIES["WorkteamArn"], "UiConfig": {"UiTemplateS3Uri": PROPERTIES["UiTemplateS3Uri"]},
            "PreHumanTaskLambdaArn": PROPERTIES["PreHumanTaskLambdaArn"], "TaskTitle": "t", "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 3, "TaskTimeLimitInSeconds": 600,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": PROPERTIES["AnnotationConsolidationLambdaArn"]}},
        **extra,
    }


def test_create_sends_typed_request_with_a_valid_fresh_name(stub):
    stub.add_response("create_labeling_job", {"LabelingJobArn": job_arn("n")}, {
        "LabelingJobName": ANY,
        "LabelAttributeName": "welding-quality",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": PROPERTIES["ManifestS3Uri"]}}},
        "OutputConfig": {"S3OutputPath": "s3://data-bucket/output/"},
        "RoleArn": PROPERTIES["RoleArn"],
        "HumanTaskConfig": {
            "WorkteamArn": PROPERTIES["WorkteamArn"],
            "UiConfig": {"UiTemplateS3Uri": PROPERTIES["UiTemplateS3Uri"]},
            "PreHumanTaskLambdaArn": PROPERTIES["PreHumanTaskLambdaArn"],
            "TaskTitle": PROPERTIES["TaskTitle"], "TaskDescription": "Pick the defect",
            "TaskKeywords": ["welding", "quality"],
            "NumberOfHumanWorkersPerDataObject": 3, "TaskTimeLimitInSeconds": 600,
            "TaskAvailabilityLifetimeInSeconds": 864000,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": PROPERTIES["AnnotationConsolidationLambdaArn"]},
        },
    })
    result = handler.on_event({"RequestType": "Create", "ResourceProperties": PROPERTIES})
    name = result["PhysicalResourceId"]
    assert handler.JOB_NAME.match(name) and len(name) <= 63 and name.startswith("welding-quality-")
    assert result["Data"] == {"LabelingJobName": name, "LabelingJobArn": job_arn("n")}


def test_names_differ_per_configuration_and_per_deployment():
    first = handler.job_name(PROPERTIES, now=1_800_000_000)
    assert handler.job_name(PROPERTIES, now=1_800_000_000) == first
    assert handler.job_name({**PROPERTIES, "NumberOfHumanWorkersPerDataObject": "5"}, now=1_800_000_000) != first
    assert handler.job_name({**PROPERTIES, "InputRevision": "new-data"}, now=1_800_000_000) != first
    # The same configuration deployed again later (after a destroy) must not collide.
    assert handler.job_name(PROPERTIES, now=1_800_000_001) != first
    assert handler.job_name({**PROPERTIES, "ServiceToken": "other"}, now=1_800_000_000) == first


def test_long_or_odd_prefixes_still_give_valid_names():
    name = handler.job_name({**PROPERTIES, "JobNamePrefix": "A_very--long prefix!" * 5}, now=0)
    assert handler.JOB_NAME.match(name) and len(name) <= 63


def test_update_creates_a_new_job_with_a_new_physical_id(stub):
    stub.add_response("create_labeling_job", {"LabelingJobArn": job_arn("new")})
    changed = {**PROPERTIES, "TaskTitle": "A new title"}
    result = handler.on_event({"RequestType": "Update", "PhysicalResourceId": "welding-quality-old-1",
                               "ResourceProperties": changed, "OldResourceProperties": PROPERTIES})
    assert result["PhysicalResourceId"] != "welding-quality-old-1"


@pytest.mark.parametrize("status", ["Initializing", "InProgress"])
def test_delete_stops_a_running_job(stub, status):
    stub.add_response("describe_labeling_job", describe("job-1", status), {"LabelingJobName": "job-1"})
    stub.add_response("stop_labeling_job", {}, {"LabelingJobName": "job-1"})
    assert handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "job-1",
                             "ResourceProperties": PROPERTIES}) == {"PhysicalResourceId": "job-1"}


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped", "Stopping"])
def test_delete_leaves_a_finished_job_alone(stub, status):
    stub.add_response("describe_labeling_job", describe("job-1", status), {"LabelingJobName": "job-1"})
    handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "job-1", "ResourceProperties": PROPERTIES})


def test_delete_of_a_job_that_never_existed(stub):
    stub.add_client_error("describe_labeling_job", service_error_code="ResourceNotFound", http_status_code=400)
    handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "job-1", "ResourceProperties": PROPERTIES})


def test_delete_after_a_failed_create_does_not_call_the_api(stub):
    # The framework passes a log stream name as physical id when Create failed.
    handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "2026/11/25/[$LATEST]abc",
                      "ResourceProperties": PROPERTIES})


def test_is_complete_waits_while_initializing(stub):
    stub.add_response("describe_labeling_job", describe("job-1", "Initializing"))
    assert handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "job-1"}) == {"IsComplete": False}


@pytest.mark.parametrize("status", ["InProgress", "Completed"])
def test_is_complete_once_started(stub, status):
    stub.add_response("describe_labeling_job", describe("job-1", status))
    result = handler.is_complete({"RequestType": "Update", "PhysicalResourceId": "job-1"})
    assert result["IsComplete"] is True and result["Data"]["LabelingJobStatus"] == status


def test_failed_job_surfaces_its_failure_reason(stub):
    stub.add_response("describe_labeling_job", describe(
        "job-1", "Failed", FailureReason="ClientError: Cannot access the manifest file s3://data-bucket/m"))
    with pytest.raises(RuntimeError, match="job-1 failed: ClientError: Cannot access the manifest file"):
        handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "job-1"})


def test_stopped_before_start_fails_clearly(stub):
    stub.add_response("describe_labeling_job", describe("job-1", "Stopped"))
    with pytest.raises(RuntimeError, match="job-1 is Stopped"):
        handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "job-1"})


def test_is_complete_on_delete_does_not_wait(stub):
    assert handler.is_complete({"RequestType": "Delete", "PhysicalResourceId": "job-1"}) == {"IsComplete": True}


@pytest.mark.parametrize("change, message", [
    ({"LabelAttributeName": "labels-metadata"}, "LabelAttributeName"),
    ({"LabelAttributeName": "labels-ref"}, "LabelAttributeName"),
    ({"NumberOfHumanWorkersPerDataObject": "10"}, "NumberOfHumanWorkersPerDataObject 10 must be between 1 and 9"),
    ({"NumberOfHumanWorkersPerDataObject": "three"}, "NumberOfHumanWorkersPerDataObject 'three' is not an integer"),
    ({"TaskTimeLimitInSeconds": "10"}, "TaskTimeLimitInSeconds"),
    ({"TaskTitle": "x" * 129}, "TaskTitle"),
    ({"WorkteamArn": ""}, "missing required properties: WorkteamArn"),
])
def test_invalid_properties_are_named_before_any_api_call(stub, change, message):
    with pytest.raises(handler.PropertyError, match=message):
        handler.on_event({"RequestType": "Create", "ResourceProperties": {**PROPERTIES, **change}})


def test_optional_settings_reach_the_request():
    request = handler.create_request(
        {**PROPERTIES, "MaxConcurrentTaskCount": "100", "OutputKmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
         "Tags": [{"Key": "project", "Value": "gt"}]}, "job-1")
    assert request["HumanTaskConfig"]["MaxConcurrentTaskCount"] == 100
    assert request["OutputConfig"]["KmsKeyId"] == "arn:aws:kms:us-east-1:1:key/k"
    assert request["Tags"] == [{"Key": "project", "Value": "gt"}]
