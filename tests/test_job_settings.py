"""Ground Truth's job-setting rules, written once (``labeling_job_resource.job_settings``) and read by
the job resource at deploy time, by ``CustomLabelingWorkflow`` at synth and by the environment config."""
from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from labeling_constructs import CustomLabelingWorkflow, ManifestBucket
from labeling_constructs.labeling_job_resource import job_settings
from labeling_constructs.labeling_job_resource.job_settings import JobSettingError
from labeling_constructs.labeling_job_resource.request import PropertyError, create_request
from labeling_constructs.lambda_code import RUNTIME
from stacks import load_environment
from tests.test_labeling_job_resource import PROPERTIES


@pytest.mark.parametrize("check, good, bad, message", [
    (job_settings.workers_per_object, [1, 9, "3", " 7 "], [0, 10, "three", True, 2.5, None], "NumberOfHumanWorkersPerDataObject"),
    (job_settings.task_time_limit_seconds, [30, 28_800], [29, 28_801], "TaskTimeLimitInSeconds"),
    (job_settings.task_availability_seconds, [60, 2_592_000], [59, 2_592_001], "TaskAvailabilityLifetimeInSeconds"),
    (job_settings.max_concurrent_tasks, [1, 5_000], [0, 5_001], "MaxConcurrentTaskCount"),
    (job_settings.task_title, ["t", "t" * 128], ["", "t" * 129, None, 5], "TaskTitle"),
    (job_settings.task_description, ["d", "d" * 255], ["", "d" * 256], "TaskDescription"),
    (job_settings.label_attribute_name, ["labels", "l" * 127, "my-references"],
     ["", "l" * 128, "labels-metadata", "labels-ref"], "LabelAttributeName"),
])
def test_each_rule_at_its_bounds(check, good, bad, message):
    for value in good:
        check(value)
    for value in bad:
        with pytest.raises(JobSettingError, match=message):
            check(value)


def test_an_error_names_the_setting_as_its_caller_calls_it():
    with pytest.raises(JobSettingError, match=r"^workersPerObject 12 must be between 1 and 9$"):
        job_settings.workers_per_object(12, "workersPerObject")
    with pytest.raises(JobSettingError, match=r"^label_attribute_name 'a-ref' must not end in -metadata or -ref$"):
        job_settings.label_attribute_name("a-ref", "label_attribute_name")


def workflow(workers: int) -> CustomLabelingWorkflow:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    code = lambda_.FunctionProps(code=lambda_.Code.from_inline("def handler(e, c):\n    return e\n"),
                                 handler="index.handler", runtime=RUNTIME)
    return CustomLabelingWorkflow(
        stack, "Workflow", input_bucket=ManifestBucket(stack, "Data"), workteam_arn="arn:aws:sagemaker:us-east-1:"
        "111122223333:workteam/private-crowd/t", label_attribute_name="labels", task_title="t", task_description="d",
        ui_template="<p>page</p>", pre_labeling_function_props=code, consolidation_function_props=code,
        workers_per_object=workers)


def test_synth_deploy_and_configuration_all_read_the_one_rule(monkeypatch):
    """Tighten the rule in its one place and every reader follows it."""
    assert workflow(7).labeling_job_request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 7
    create_request({**PROPERTIES, "NumberOfHumanWorkersPerDataObject": "7"}, "job")
    load_environment({"qa": {"workersPerObject": 7}}, "qa")

    monkeypatch.setattr(job_settings, "MAX_WORKERS_PER_OBJECT", 5)
    with pytest.raises(ValueError, match="workers_per_object 7 must be between 1 and 5"):
        workflow(7)
    with pytest.raises(PropertyError, match="NumberOfHumanWorkersPerDataObject 7 must be between 1 and 5"):
        create_request({**PROPERTIES, "NumberOfHumanWorkersPerDataObject": "7"}, "job")
    with pytest.raises(ValueError, match="environment 'qa': workersPerObject 7 must be between 1 and 5"):
        load_environment({"qa": {"workersPerObject": 7}}, "qa")
