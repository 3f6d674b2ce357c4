"""The labeling-job custom resource, replayed through CloudFormation's event sequences.

SageMaker is a fake that keeps labeling jobs in memory (names unique case-insensitively,
statuses, stop) behind real boto3 clients: every request passes botocore's own validation
against the SageMaker service model, plus the model's length, pattern and enum constraints, and
every answer is validated against the operation's output shape. Each client carries the IAM
scope the construct grants its functions (``labeling-job/<key>-*``); a request outside it is
denied and recorded. CloudFormation and the CDK Provider framework (aws-cdk-lib 2.275:
``custom-resources/lib/provider-framework/runtime``) are replayed as they behave: a Create whose
``on_event`` raises is answered with a marker physical id and the Delete that follows is
swallowed; ``is_complete`` sees ``on_event``'s result; a changed physical id makes CloudFormation
delete the old one after success (or the new one in a rollback).
"""
from __future__ import annotations

import datetime
import fnmatch
import itertools
from dataclasses import dataclass
from typing import Any, Optional

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.validate import validate_parameters

from expert_review.settings import JOB_KEY
from labeling_constructs.labeling_job_resource import handler, naming
from labeling_constructs.labeling_job_resource.request import PropertyError, create_request
from tests.sagemaker_checks import check_constraints

REGION, ACCOUNT = "us-east-1", "111122223333"
MARKER = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
KEY = "0a1b2c3d4e"
PROPERTIES = {
    "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:provider",
    "JobNameKey": KEY,
    "JobNameLabel": "welding-quality",
    "LabelAttributeName": "welding-quality",
    "ManifestS3Uri": "s3://data-bucket/manifests/input.manifest",
    "InputRevision": "abc123",
    "OutputS3Uri": "s3://data-bucket/output/",
    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/gt-execution",
    "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/welders",
    "UiTemplateS3Uri": "s3://data-bucket/templates/0123/welding.liquid.html",
    "PreHumanTaskLambdaArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pre",
    "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:post",
    "TaskTitle": "Classify the quality of a weld",
    "TaskDescription": "Pick the defect",
    "TaskKeywords": ["welding", "quality"],
    "NumberOfHumanWorkersPerDataObject": "3",
    "TaskTimeLimitInSeconds": "600",
    "TaskAvailabilityLifetimeInSeconds": "864000",
}
RUNNING = {"Initializing", "InProgress"}


def job_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{name.lower()}"


def scope_of(key: str) -> str:
    """The IAM resource pattern the construct grants a resource's functions (see test_constructs)."""
    return job_arn(f"{key}-*")


# -- a fake SageMaker ------------------------------------------------------------------------
class FakeSageMaker:
    """Labeling jobs in memory, reached through real boto3 clients (see the module docstring)."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}  # lower-case name -> job
        self.denied: list[tuple[str, str]] = []
        self.calls: list[tuple[str, str]] = []
        # None | "timeout" | "retried": the job is made, the answer lost | "late": the call times
        # out and its job appears right after a lookup has found nothing (the request landed late)
        self.lose_next_create = None
        self._late: Optional[dict[str, Any]] = None  # the late request's params
        self._late_lands = False
        self.refuse_next_create: Optional[tuple[str, str]] = None  # (code, message): nothing is made
        self.refuse_creates: list[tuple[str, str]] = []  # the next creates' refusals, in order: nothing is made
        self.start_failures: list[str] = []  # FailureReason of the next jobs to be created
        self._references = itertools.count(1)
        self._clock = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)

    # what the tests look at
    def statuses(self) -> dict[str, str]:
        return {job["LabelingJobName"]: job["LabelingJobStatus"] for job in self.jobs.values()}

    def running(self) -> set[str]:
        return {name for name, status in self.statuses().items() if status in RUNNING}

    def advance(self) -> None:
        """Time passes: jobs leave Initializing, stopping jobs stop."""
        self._clock += datetime.timedelta(minutes=1)
        for job in self.jobs.values():
            if job["LabelingJobStatus"] == "Initializing":
                reason = job.pop("_fails_with", None)
                job["LabelingJobStatus"] = "Failed" if reason else "InProgress"
                if reason:
                    job["FailureReason"] = reason
            elif job["LabelingJobStatus"] == "Stopping":
                job["LabelingJobStatus"] = "Stopped"
            job["LastModifiedTime"] = self._clock

    def add_job(self, name: str, status: str, properties: dict[str, Any] = PROPERTIES) -> None:
        """A job made outside the resource under test (another version, another environment)."""
        self._create(create_request(properties, name))
        self.jobs[name.lower()]["LabelingJobStatus"] = status

    def client(self, key: str):
        client = boto3.client("sagemaker", region_name=REGION)
        client.meta.events.register("before-parameter-build.sagemaker.*", self._remember_params)
        client.meta.events.register("before-call.sagemaker.*",
                                    lambda model, context, **_: self._answer(model, context["fake_params"], scope_of(key)))
        return client

    # the service
    @staticmethod
    def _remember_params(params, context, **_):
        context["fake_params"] = dict(params)  # botocore validates them against the model right after

    def _answer(self, operation, params, scope):
        check_constraints(params, operation.input_shape, operation.name)
        if self._late_lands:
            self._create(self._late)
            self._late, self._late_lands = None, False
        name = params.get("LabelingJobName", "")
        self.calls.append((operation.name, name))
        if not fnmatch.fnmatchcase(job_arn(name), scope):
            self.denied.append((operation.name, name))
            return _error("AccessDeniedException", f"not authorized to perform sagemaker:{operation.name} on {job_arn(name)}")
        try:
            body = getattr(self, f"_{operation.name}")(params)
        except _Refusal as refusal:
            return _error(*refusal.args)
        if operation.output_shape is None:
            assert body == {}, body
        else:
            validate_parameters(body, operation.output_shape)
        return AWSResponse(None, 200, {}, None), body

    def _CreateLabelingJob(self, params):  # noqa: N802 - named after the operation
        if self.refuse_creates:
            raise _Refusal(*self.refuse_creates.pop(0))
        if self.refuse_next_create:
            code, message = self.refuse_next_create
            self.refuse_next_create = None
            raise _Refusal(code, message)
        lost, self.lose_next_create = self.lose_next_create, None
        if lost == "late":
            self._late = params
            raise ReadTimeoutError(endpoint_url=f"https://api.sagemaker.{REGION}.amazonaws.com")
        arn = self._create(params)
        if lost == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://api.sagemaker.{REGION}.amazonaws.com")
        if lost == "retried":  # botocore retried the lost call; the retry finds the name taken
            raise _Refusal("ResourceInUse", f"Labeling job {params['LabelingJobName']} already exists")
        return {"LabelingJobArn": arn}

    def _create(self, params) -> str:
        name = params["LabelingJobName"]
        if name.lower() in self.jobs:
            raise _Refusal("ResourceInUse", f"Labeling job {name} already exists")
        job = {
            "LabelingJobStatus": "Initializing", "LabelCounters": {}, "CreationTime": self._clock,
            "LastModifiedTime": self._clock, "JobReferenceCode": f"ref-{next(self._references)}",
            "LabelingJobArn": job_arn(name),
            **{k: params[k] for k in ("LabelingJobName", "LabelAttributeName", "InputConfig", "OutputConfig",
                                      "RoleArn", "HumanTaskConfig")},
        }
        if self.start_failures:
            job["_fails_with"] = self.start_failures.pop(0)
        self.jobs[name.lower()] = job
        return job["LabelingJobArn"]

    def _DescribeLabelingJob(self, params):  # noqa: N802
        job = self.jobs.get(params["LabelingJobName"].lower())
        if job is None:
            self._late_lands = bool(self._late) and self._late["LabelingJobName"] == params["LabelingJobName"]
            raise _Refusal("ResourceNotFound", f"Could not find labeling job {params['LabelingJobName']}")
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _StopLabelingJob(self, params):  # noqa: N802
        job = self.jobs.get(params["LabelingJobName"].lower())
        if job is None:
            raise _Refusal("ResourceNotFound", f"Could not find labeling job {params['LabelingJobName']}")
        if job["LabelingJobStatus"] not in RUNNING:
            raise _Refusal("ValidationException", f"job is {job['LabelingJobStatus']}; it cannot be stopped")
        job["LabelingJobStatus"] = "Stopping"
        return {}


class _Refusal(Exception):
    """An API error: (code, message)."""


def _error(code: str, message: str):
    return AWSResponse(None, 400, {}, None), {"Error": {"Code": code, "Message": message},
                                               "ResponseMetadata": {"HTTPStatusCode": 400}}


# -- CloudFormation and the CDK Provider framework -----------------------------------------
@dataclass
class Response:
    status: str
    physical_id: str
    data: dict[str, Any]
    reason: str = ""


class Provider:
    """The CDK Provider framework around the resource's two handlers, for one environment."""

    def __init__(self, fake: FakeSageMaker, key: str = KEY) -> None:
        self.fake = fake
        self.client = fake.client(key)
        self.requests = itertools.count(1)

    def send(self, event: dict[str, Any]) -> Response:
        event = {"RequestId": f"request-{next(self.requests)}", "LogicalResourceId": "LabelingJob", **event}
        if event["RequestType"] == "Delete" and event["PhysicalResourceId"] == MARKER:
            return Response("SUCCESS", MARKER, {})  # safeHandler: the Delete after a failed Create
        original = handler.sagemaker
        handler.sagemaker = lambda: self.client
        try:
            try:
                result = handler.on_event(dict(event)) or {}
            except Exception as error:  # noqa: BLE001 - the framework answers FAILED
                physical = event.get("PhysicalResourceId") or (MARKER if event["RequestType"] == "Create" else "")
                return Response("FAILED", physical, {}, str(error))
            physical = result.get("PhysicalResourceId") or (
                event["RequestId"] if event["RequestType"] == "Create" else event["PhysicalResourceId"])
            waited = {**event, **result, "PhysicalResourceId": physical}
            for _ in range(20):  # the waiter state machine polls is_complete
                try:
                    outcome = handler.is_complete(dict(waited))
                except Exception as error:  # noqa: BLE001
                    return Response("FAILED", physical, {}, str(error))
                if outcome["IsComplete"]:
                    return Response("SUCCESS", physical, {**result.get("Data", {}), **outcome.get("Data", {})})
                self.fake.advance()
            return Response("FAILED", physical, {}, "Operation timed out")
        finally:
            handler.sagemaker = original


class DeploymentFailed(Exception):
    pass


class Stack:
    """CloudFormation's view of the one labeling-job resource of a stack."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.physical_id: Optional[str] = None
        self.properties: Optional[dict[str, Any]] = None
        self.log: list[tuple[str, str, str]] = []  # (request type, physical id, status)

    def _send(self, request_type: str, properties, physical_id=None, old=None) -> Response:
        event = {"RequestType": request_type, "ResourceProperties": properties}
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old is not None:
            event["OldResourceProperties"] = old
        response = self.provider.send(event)
        self.log.append((request_type, response.physical_id, response.status))
        return response

    def deploy(self, properties, *, later_resource_fails=False, failed_update_rollback="replacement") -> Response:
        """``failed_update_rollback``: how CloudFormation undoes an Update that answered FAILED with
        a new physical id: "replacement" (it deletes that id, as aws-cdk#22670 observed) or
        "in-place" (it ignores the id and sends an Update back to the old properties)."""
        if self.physical_id is None:
            response = self._send("Create", properties)
            if response.status == "FAILED" or later_resource_fails:
                self._send("Delete", properties, response.physical_id)  # rollback of the create
                raise DeploymentFailed(response.reason or "a later resource failed")
            self.physical_id, self.properties = response.physical_id, properties
            return response
        old_id, old_properties = self.physical_id, self.properties
        response = self._send("Update", properties, old_id, old_properties)
        if response.status == "FAILED":
            if response.physical_id != old_id and failed_update_rollback == "replacement":
                self._send("Delete", properties, response.physical_id)
            else:
                back = self._send("Update", old_properties, old_id, properties)
                assert back.status == "SUCCESS" and back.physical_id == old_id, back
            raise DeploymentFailed(response.reason)
        if later_resource_fails:
            back = self._send("Update", old_properties, response.physical_id, properties)
            assert back.status == "SUCCESS", back
            if back.physical_id != response.physical_id:
                self._send("Delete", properties, response.physical_id)  # UPDATE_ROLLBACK_COMPLETE_CLEANUP
            self.physical_id = back.physical_id
            raise DeploymentFailed("a later resource failed")
        if response.physical_id != old_id:
            self._send("Delete", old_properties, old_id)  # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS
        self.physical_id, self.properties = response.physical_id, properties
        return response

    def destroy(self) -> None:
        self._send("Delete", self.properties, self.physical_id)
        self.physical_id = self.properties = None


@pytest.fixture
def fake():
    fake = FakeSageMaker()
    yield fake
    assert fake.denied == [], f"requests outside the resource's IAM scope: {fake.denied}"


@pytest.fixture
def stack(fake):
    return Stack(Provider(fake))


def changed(**settings) -> dict[str, Any]:
    return {**PROPERTIES, **settings}


# -- lifecycle sequences ---------------------------------------------------------------------
def test_create_starts_one_job_named_for_its_configuration(fake, stack):
    response = stack.deploy(PROPERTIES)
    name = naming.job_name(PROPERTIES, 0)
    assert response.physical_id == name and name.startswith(f"{KEY}-welding-quality-")
    assert response.data == {"LabelingJobName": name, "LabelingJobArn": job_arn(name), "LabelingJobStatus": "InProgress"}
    assert fake.statuses() == {name: "InProgress"}


def test_update_starts_the_new_configuration_and_stops_the_old_job_after_success(fake, stack):
    first = stack.deploy(PROPERTIES).physical_id
    second = stack.deploy(changed(TaskTitle="A new title")).physical_id
    assert second != first
    assert stack.log[-1] == ("Delete", first, "SUCCESS")  # CloudFormation's cleanup
    fake.advance()
    assert fake.statuses() == {first: "Stopped", second: "InProgress"}


def test_failed_update_rollback_readopts_the_original_job(fake, stack):
    original = stack.deploy(PROPERTIES).physical_id
    with pytest.raises(DeploymentFailed):
        stack.deploy(changed(TaskTitle="A new title"), later_resource_fails=True)
    new = naming.job_name(changed(TaskTitle="A new title"), 0)
    assert stack.physical_id == original  # the rollback Update answered with the original job
    fake.advance()
    assert fake.statuses() == {original: "InProgress", new: "Stopped"}  # no third job, nothing untracked
    stack.destroy()
    fake.advance()
    assert fake.running() == set()


@pytest.mark.parametrize("rollback", ["replacement", "in-place"])
def test_update_whose_job_fails_to_start_rolls_back_to_the_original_job(fake, stack, rollback):
    original = stack.deploy(PROPERTIES).physical_id
    fake.start_failures.append("ClientError: the execution role cannot read s3://data-bucket/templates/new.html")
    with pytest.raises(DeploymentFailed, match="failed: ClientError: the execution role cannot read"):
        stack.deploy(changed(UiTemplateS3Uri="s3://data-bucket/templates/new.html"), failed_update_rollback=rollback)
    assert stack.physical_id == original
    fake.advance()
    assert fake.running() == {original} and len(fake.jobs) == 2


@pytest.mark.parametrize("rollback", ["replacement", "in-place"])
def test_an_update_whose_job_lands_after_create_gave_up_leaves_nothing_running(fake, stack, rollback):
    """CreateLabelingJob times out and is_complete finds no job, but the request lands after all:
    the rollback stops that job, whichever way CloudFormation performs it."""
    original = stack.deploy(PROPERTIES).physical_id
    fake.lose_next_create = "late"
    with pytest.raises(DeploymentFailed, match="could not be created: ReadTimeoutError"):
        stack.deploy(changed(TaskTitle="A new title"), failed_update_rollback=rollback)
    late = naming.job_name(changed(TaskTitle="A new title"), 0)
    assert stack.physical_id == original
    fake.advance()
    assert fake.statuses() == {original: "InProgress", late: "Stopped"}


def test_a_create_whose_job_lands_after_create_gave_up_is_stopped_by_the_rollback(fake, stack):
    fake.lose_next_create = "late"
    with pytest.raises(DeploymentFailed, match="could not be created: ReadTimeoutError"):
        stack.deploy(PROPERTIES)
    name = naming.job_name(PROPERTIES, 0)
    assert stack.log[-1] == ("Delete", name, "SUCCESS")  # not the framework's marker: the Delete reaches us
    fake.advance()
    assert fake.statuses() == {name: "Stopped"}


def test_delete_stops_the_job(fake, stack):
    name = stack.deploy(PROPERTIES).physical_id
    stack.destroy()
    fake.advance()
    assert fake.statuses() == {name: "Stopped"}


def test_delete_leaves_a_completed_job_as_it_is(fake, stack):
    name = stack.deploy(PROPERTIES).physical_id
    fake.jobs[name.lower()]["LabelingJobStatus"] = "Completed"
    stack.destroy()
    assert fake.statuses() == {name: "Completed"}


def test_a_retried_create_adopts_the_job_of_the_first_attempt(fake):
    provider = Provider(fake)
    first = provider.send({"RequestType": "Create", "ResourceProperties": PROPERTIES})
    again = provider.send({"RequestType": "Create", "ResourceProperties": PROPERTIES})
    assert first.status == again.status == "SUCCESS"
    assert first.physical_id == again.physical_id and len(fake.jobs) == 1


@pytest.mark.parametrize("loss", ["timeout", "retried"])
def test_a_job_created_by_a_lost_response_is_adopted(fake, stack, loss):
    fake.lose_next_create = loss
    name = stack.deploy(PROPERTIES).physical_id
    assert fake.statuses() == {name: "InProgress"} and [c for c, _ in fake.calls].count("CreateLabelingJob") == 1
    stack.destroy()
    fake.advance()
    assert fake.running() == set()


def test_a_refused_create_fails_the_deployment_with_the_reason_and_leaves_nothing(fake, stack):
    fake.refuse_next_create = ("ResourceLimitExceeded", "You have reached the limit of labeling jobs")
    with pytest.raises(DeploymentFailed, match="could not be created: .*limit of labeling jobs"):
        stack.deploy(PROPERTIES)
    assert fake.jobs == {} and stack.log[-1] == ("Delete", naming.job_name(PROPERTIES, 0), "SUCCESS")


#: How SageMaker and IAM word refusals that a role or permission made moments before can explain.
PASS_ROLE_DENIED = ("AccessDeniedException", f"User: arn:aws:sts::{ACCOUNT}:assumed-role/JobOnEventRole/x is not "
                    f"authorized to perform: iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/gt-execution")
ROLE_NOT_ASSUMABLE = ("ValidationException", "SageMaker was unable to assume the role "
                      f"arn:aws:iam::{ACCOUNT}:role/gt-execution")


@pytest.fixture
def waits(monkeypatch):
    """The handler's waits between tries, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(handler, "_sleep", slept.append)
    return slept


@pytest.mark.parametrize("refusal", [PASS_ROLE_DENIED, ROLE_NOT_ASSUMABLE], ids=["pass-role", "assume-role"])
def test_a_create_refused_for_a_role_made_moments_ago_is_tried_again_and_makes_one_job(fake, stack, waits, refusal):
    fake.refuse_creates = [refusal] * 3  # IAM took three tries to reach SageMaker
    name = stack.deploy(PROPERTIES).physical_id
    assert fake.running() == {name} and len(fake.jobs) == 1
    assert waits == list(handler.ROLE_RETRY_DELAYS[:3])
    assert [call for call in fake.calls if call[0] == "CreateLabelingJob"] == [("CreateLabelingJob", name)] * 4


def test_a_role_refusal_that_outlasts_the_tries_fails_the_deployment_with_it(fake, stack, waits):
    fake.refuse_creates = [ROLE_NOT_ASSUMABLE] * (len(handler.ROLE_RETRY_DELAYS) + 1)
    with pytest.raises(DeploymentFailed, match="could not be created: .*unable to assume the role"):
        stack.deploy(PROPERTIES)
    assert fake.jobs == {} and waits == list(handler.ROLE_RETRY_DELAYS)


@pytest.mark.parametrize("refusal", [
    ("ResourceLimitExceeded", "You have reached the limit of labeling jobs"),
    ("ValidationException", "The manifest file s3://data-bucket/manifests/input.manifest is empty"),
], ids=["limit", "validation-without-a-role"])
def test_a_refusal_no_role_explains_fails_at_once(fake, stack, waits, refusal):
    fake.refuse_next_create = refusal
    with pytest.raises(DeploymentFailed, match="could not be created"):
        stack.deploy(PROPERTIES)
    assert waits == [] and fake.jobs == {}


def test_a_job_that_fails_to_start_fails_the_deployment_with_ground_truths_reason(fake, stack):
    fake.start_failures.append("ClientError: Cannot access the manifest file s3://data-bucket/manifests/input.manifest")
    with pytest.raises(DeploymentFailed, match="failed: ClientError: Cannot access the manifest file"):
        stack.deploy(PROPERTIES)
    assert fake.running() == set()
    # Fixed outside the properties (e.g. the bucket policy): the same configuration starts again.
    name = stack.deploy(PROPERTIES).physical_id
    assert name == naming.job_name(PROPERTIES, 1) and fake.running() == {name}


def test_renaming_the_label_attribute_stops_the_old_job_within_the_same_scope(fake, stack):
    old = stack.deploy(PROPERTIES).physical_id
    new = stack.deploy(changed(LabelAttributeName="weld-defect", JobNameLabel="weld-defect")).physical_id
    assert new.startswith(f"{KEY}-weld-defect-") and old.startswith(f"{KEY}-welding-quality-")
    fake.advance()
    assert fake.statuses() == {old: "Stopped", new: "InProgress"}  # the fixture asserts nothing was denied


def test_two_environments_in_one_account_never_touch_each_others_jobs(fake):
    dev, prod = Stack(Provider(fake, "d0d0d0d0d0")), Stack(Provider(fake, "b1b1b1b1b1"))
    dev_job = dev.deploy(changed(JobNameKey="d0d0d0d0d0")).physical_id
    prod_job = prod.deploy(changed(JobNameKey="b1b1b1b1b1")).physical_id
    assert dev_job != prod_job  # same settings, different stacks
    dev.deploy(changed(JobNameKey="d0d0d0d0d0", TaskTitle="New"))
    dev.destroy()
    fake.advance()
    assert fake.running() == {prod_job}
    # Even asked to, one environment's functions cannot reach the other's job:
    denied = Provider(fake, "d0d0d0d0d0").send(
        {"RequestType": "Delete", "PhysicalResourceId": prod_job, "ResourceProperties": changed(JobNameKey="b1b1b1b1b1")})
    assert denied.status == "FAILED" and fake.denied == [("DescribeLabelingJob", prod_job)]
    fake.denied.clear()
    assert fake.running() == {prod_job}


def test_the_same_configuration_redeployed_after_a_destroy_gets_the_next_generation(fake, stack):
    first = stack.deploy(PROPERTIES).physical_id
    stack.destroy()
    fake.advance()
    second = stack.deploy(PROPERTIES).physical_id
    assert (first, second) == (naming.job_name(PROPERTIES, 0), naming.job_name(PROPERTIES, 1))
    assert fake.statuses() == {first: "Stopped", second: "InProgress"}


def test_a_new_provider_function_is_not_a_new_job(fake, stack):
    name = stack.deploy(PROPERTIES).physical_id
    assert stack.deploy(changed(ServiceToken="arn:aws:lambda:us-east-1:111122223333:function:new")).physical_id == name
    assert fake.statuses() == {name: "InProgress"} and stack.log[-1][0] == "Update"


def test_a_create_rejected_before_any_call_leaves_nothing(fake, stack):
    with pytest.raises(DeploymentFailed, match="NumberOfHumanWorkersPerDataObject 10"):
        stack.deploy(changed(NumberOfHumanWorkersPerDataObject="10"))
    assert fake.calls == [] and stack.log == [("Create", MARKER, "FAILED"), ("Delete", MARKER, "SUCCESS")]


def test_delete_after_a_failed_create_stops_a_job_of_that_configuration(fake):
    """A Delete whose physical id is not a job name (e.g. the framework's MISSING_PHYSICAL_ID
    marker when a create timed out) stops whatever job that configuration started."""
    name = naming.job_name(PROPERTIES, 0)
    fake.add_job(name, "InProgress")
    response = Provider(fake).send({"RequestType": "Delete", "ResourceProperties": PROPERTIES,
                                    "PhysicalResourceId": "AWSCDK::CustomResourceProviderFramework::MISSING_PHYSICAL_ID"})
    assert response.status == "SUCCESS"
    fake.advance()
    assert fake.statuses() == {name: "Stopped"}


def test_delete_of_a_job_named_by_an_earlier_version_calls_nothing(fake, caplog):
    legacy = "welding-quality-1a2b3c4d-sxyz12"
    fake.add_job(legacy, "InProgress")
    old_properties = {k: v for k, v in PROPERTIES.items() if k not in ("JobNameKey", "JobNameLabel")}
    response = Provider(fake).send({"RequestType": "Delete", "PhysicalResourceId": legacy,
                                    "ResourceProperties": {**old_properties, "JobNamePrefix": "welding-quality"}})
    assert response.status == "SUCCESS" and fake.calls == []
    assert "earlier version" in caplog.text and legacy in caplog.text


def test_an_update_from_an_earlier_version_starts_the_new_job_without_touching_the_old_one(fake):
    legacy = "welding-quality-1a2b3c4d-sxyz12"
    fake.add_job(legacy, "InProgress")
    old_properties = {k: v for k, v in PROPERTIES.items() if k not in ("JobNameKey", "JobNameLabel")}
    stack = Stack(Provider(fake))
    stack.physical_id, stack.properties = legacy, {**old_properties, "JobNamePrefix": "welding-quality"}
    new = stack.deploy(PROPERTIES).physical_id
    assert fake.running() == {legacy, new}  # the README says to stop such a job by hand


def test_a_configuration_out_of_generations_is_named_as_such(fake, stack):
    for name in naming.generations(PROPERTIES):
        fake.add_job(name, "Stopped")
    with pytest.raises(DeploymentFailed, match="already has 50 stopped or failed labeling jobs"):
        stack.deploy(PROPERTIES)


def test_is_complete_waits_while_the_job_initializes(fake):
    provider = Provider(fake)
    handler.sagemaker, original = (lambda: provider.client), handler.sagemaker
    try:
        result = handler.on_event({"RequestType": "Create", "ResourceProperties": PROPERTIES})
        event = {"RequestType": "Create", **result}
        assert handler.is_complete(event) == {"IsComplete": False}
        fake.advance()
        assert handler.is_complete(event)["IsComplete"] is True
        fake.jobs[result["PhysicalResourceId"].lower()]["LabelingJobStatus"] = "Stopped"
        with pytest.raises(RuntimeError, match="is Stopped before it started"):
            handler.is_complete(event)
        assert handler.is_complete({**event, "RequestType": "Delete"}) == {"IsComplete": True}
    finally:
        handler.sagemaker = original


# -- names -----------------------------------------------------------------------------------
def test_names_are_deterministic_per_configuration():
    first = naming.job_name(PROPERTIES, 0)
    assert naming.job_name(dict(reversed(list(PROPERTIES.items()))), 0) == first
    assert naming.job_name(changed(ServiceToken="other"), 0) == first
    for setting in ({"NumberOfHumanWorkersPerDataObject": "5"}, {"InputRevision": "new-data"},
                    {"TaskKeywords": ["welding"]}):
        assert naming.job_name(changed(**setting), 0) != first, setting
    assert naming.job_name(PROPERTIES, 1) != first


@pytest.mark.parametrize("label", ["A_very--long prefix!" * 5, "", "---", "Ünïcode label", "x" * 127])
def test_any_label_gives_valid_lower_case_names_within_the_key_scope(label):
    for generation in (0, naming.MAX_GENERATIONS - 1):
        name = naming.job_name(changed(JobNameLabel=label), generation)
        assert naming.JOB_NAME.match(name) and len(name) <= 63 and name == name.lower()
        assert naming.is_resource_job(name, KEY) and fnmatch.fnmatchcase(job_arn(name), scope_of(KEY))


def test_no_name_of_one_key_falls_in_another_keys_scope():
    names = [naming.job_name(changed(JobNameKey=key), 0) for key in ("0a1b2c3d4e", "0a1b2c3d4f")]
    assert not fnmatch.fnmatchcase(job_arn(names[0]), scope_of("0a1b2c3d4f"))
    assert not fnmatch.fnmatchcase(job_arn(names[1]), scope_of("0a1b2c3d4e"))


@pytest.mark.parametrize("key", ["", "ABCDEF1234", "abc", "a" * 17, "ab-cd-ef"])
def test_a_bad_key_is_named(fake, stack, key):
    with pytest.raises(DeploymentFailed, match="JobNameKey"):
        stack.deploy(changed(JobNameKey=key))
    assert fake.calls == []


# -- properties ------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    ({"LabelAttributeName": "labels-metadata"}, "LabelAttributeName"),
    ({"LabelAttributeName": "labels-ref"}, "LabelAttributeName"),
    ({"NumberOfHumanWorkersPerDataObject": "10"}, "NumberOfHumanWorkersPerDataObject 10 must be between 1 and 9"),
    ({"NumberOfHumanWorkersPerDataObject": "three"}, "NumberOfHumanWorkersPerDataObject 'three' is not an integer"),
    ({"TaskTimeLimitInSeconds": "10"}, "TaskTimeLimitInSeconds"),
    ({"TaskTitle": "x" * 129}, "TaskTitle"),
    ({"TaskKeywords": "welding"}, "TaskKeywords must be a list"),
    ({"TaskKeywords": ["weld_quality"]}, "TaskKeywords entry 'weld_quality' must be words of ASCII letters"),
    ({"TaskKeywords": ["a", "b", "c", "d", "e", "f"]}, "TaskKeywords has 6 keywords; at most 5"),
    ({"LabelAttributeName": "welding_quality"}, "LabelAttributeName 'welding_quality' must be ASCII letters"),
    ({"WorkteamArn": ""}, "missing required properties: WorkteamArn"),
    ({"WorkteamArn": "welders"}, "WorkteamArn 'welders' is not a workteam ARN"),
])
def test_invalid_properties_are_named_before_any_api_call(fake, change, message):
    with pytest.raises(PropertyError, match=message):
        handler.on_event({"RequestType": "Create", "ResourceProperties": {**PROPERTIES, **change}})
    assert fake.calls == []


def test_the_request_carries_every_setting(fake, stack):
    name = stack.deploy(changed(MaxConcurrentTaskCount="100", OutputKmsKeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
                                Tags=[{"Key": "project", "Value": "gt"}])).physical_id
    job = fake.jobs[name.lower()]
    assert job["HumanTaskConfig"] == {
        "WorkteamArn": PROPERTIES["WorkteamArn"], "UiConfig": {"UiTemplateS3Uri": PROPERTIES["UiTemplateS3Uri"]},
        "PreHumanTaskLambdaArn": PROPERTIES["PreHumanTaskLambdaArn"], "TaskTitle": PROPERTIES["TaskTitle"],
        "TaskDescription": "Pick the defect", "TaskKeywords": ["welding", "quality"],
        "NumberOfHumanWorkersPerDataObject": 3, "TaskTimeLimitInSeconds": 600,
        "TaskAvailabilityLifetimeInSeconds": 864000, "MaxConcurrentTaskCount": 100,
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": PROPERTIES["AnnotationConsolidationLambdaArn"]}}
    assert job["OutputConfig"] == {"S3OutputPath": "s3://data-bucket/output/", "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"}
    assert job["LabelAttributeName"] == "welding-quality" and job["RoleArn"] == PROPERTIES["RoleArn"]
    assert create_request(changed(Tags=[{"Key": "project", "Value": "gt"}]), name)["Tags"] == [
        {"Key": "project", "Value": "gt"}]


def test_the_fake_refuses_what_sagemaker_would(fake):
    """The fake is only as good as its checks: a name against the model's pattern, a duplicate."""
    client = fake.client(KEY)
    request = create_request(PROPERTIES, f"{KEY}-bad_name")
    with pytest.raises(AssertionError, match="does not match"):
        client.create_labeling_job(**request)
    client.create_labeling_job(**create_request(PROPERTIES, f"{KEY}-Job"))
    with pytest.raises(client.exceptions.ResourceInUse):
        client.create_labeling_job(**create_request(PROPERTIES, f"{KEY}-job"))  # case-insensitively unique
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.describe_labeling_job(LabelingJobName="ffffffffff-other")
    fake.denied.clear()


def test_the_expert_review_functions_check_a_job_key_as_the_resource_does():
    """The resource's code is a folder of its own (no ``gt_common``), so the review functions keep a copy."""
    assert JOB_KEY.pattern == naming.KEY.pattern
