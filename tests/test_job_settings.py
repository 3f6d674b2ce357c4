"""Ground Truth's job-setting rules, written once (``labeling_job_resource.job_settings``) and read by
the job resource at deploy time, by ``CustomLabelingWorkflow`` at synth and by the environment config."""
from __future__ import annotations

import re

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
from workflows import FreeText, WorkflowDefinition
from workflows.model import DefinitionError

WORKTEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t"

@pytest.mark.parametrize("check, good, bad, message", [
    (job_settings.workers_per_object, [1, 9, "3", " 7 "], [0, 10, "three", True, 2.5, None], "NumberOfHumanWorkersPerDataObject"),
    (job_settings.task_time_limit_seconds, [30, 28_800], [29, 28_801], "TaskTimeLimitInSeconds"),
    (job_settings.task_availability_seconds, [60, 2_592_000], [59, 2_592_001], "TaskAvailabilityLifetimeInSeconds"),
    (job_settings.max_concurrent_tasks, [1, 5_000], [0, 5_001], "MaxConcurrentTaskCount"),
    (job_settings.task_title, ["t", "t" * 128, "two\nlines\tand\r", "ünïcödé ✓", "\ue000\ufffd"],
     ["", "t" * 129, None, 5, "bell\x07", "nul\x00", "esc\x1b", "unit\x1f", "emoji \U0001F600"], "TaskTitle"),
    (job_settings.task_description, ["d", "d" * 255, "tab\tand ünï", "\x7f"],
     ["", "d" * 256, "line1\nline2", "cr\r", "nel\u0085", "ls\u2028", "ps\u2029"], "TaskDescription"),
    (job_settings.tags, [{}, {"cost-center": "42"}, {"a": ""}, {"k" * 128: "v" * 256}, {"Ünï cöde_.:/=+-@": "x y"},
                         [{"Key": "team", "Value": "labeling"}], {f"k{i}": "v" for i in range(50)}],
     [{"": "v"}, {"k" * 129: "v"}, {"k": "v" * 257}, {"bad#key": "v"}, {"k": "bad*value"}, {"aws:cost": "1"},
      {"AWS:cost": "1"}, {f"k{i}": "v" for i in range(51)}, {"k": 5}, {5: "v"}, [{"Key": "k"}], "k=v", None,
      [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]], "Tags"),
    (job_settings.label_attribute_name, ["labels", "l" * 127, "my-references", "A1", "a--b"],
     ["", "l" * 128, "labels-metadata", "labels-ref", "my_label", "has space", "ünï", "-a", "a-", 5],
     "LabelAttributeName"),
    (job_settings.task_keywords, [[], ["a"], ("text", "named entity recognition"), ["k" * 30], ["Q4 2024"] * 5],
     [["a"] * 6, ["k" * 31], [""], ["two  spaces"], [" lead"], ["trail "], ["under_score"], ["héllo"], ["a,b"], [5],
      "welding", None], "TaskKeywords"),
    (job_settings.workteam_arn, [WORKTEAM, "arn:aws-cn:sagemaker:cn-north-1:111122223333:workteam/private-crowd/t",
                                 "arn:aws-us-gov:sagemaker:us-gov-west-1:111122223333:workteam/vendor-crowd/t"],
     ["not-an-arn", "foo:workteam/", 5, [WORKTEAM], None, WORKTEAM.replace("111122223333", "12345"),
      WORKTEAM.replace("workteam/", "labeling-job/"), WORKTEAM + "x" * 200, f" {WORKTEAM}"], "WorkteamArn"),
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


def workflow(workers: int = 3, stack: cdk.Stack | None = None, **props) -> CustomLabelingWorkflow:
    stack = stack or cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    code = lambda_.FunctionProps(code=lambda_.Code.from_inline("def handler(e, c):\n    return e\n"),
                                 handler="index.handler", runtime=RUNTIME)
    return CustomLabelingWorkflow(
        stack, "Workflow", input_bucket=ManifestBucket(stack, "Data"), ui_template="<p>page</p>",
        pre_labeling_function_props=code, consolidation_function_props=code, workers_per_object=workers,
        **{"workteam_arn": WORKTEAM, "label_attribute_name": "labels", "task_title": "t", "task_description": "d",
           **props})


def definition(**fields) -> WorkflowDefinition:
    return WorkflowDefinition(**{"name": "x", "title": "t", "description": "d", "label_attribute_name": "labels",
                                 "questions": (FreeText(name="n"),), **fields})


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


@pytest.mark.parametrize("props, message", [
    ({"label_attribute_name": "my_label"}, "label_attribute_name 'my_label' must be ASCII letters and digits"),
    ({"task_keywords": ["named_entity"]}, "task_keywords entry 'named_entity' must be words of ASCII letters"),
    ({"task_keywords": ["a", "b", "c", "d", "e", "f"]}, "task_keywords has 6 keywords; at most 5"),
    ({"task_keywords": "welding"}, "task_keywords must be a list of keywords, not 'welding'"),
    ({"workteam_arn": "not-an-arn"}, "workteam_arn 'not-an-arn' is not a workteam ARN"),
])
def test_the_construct_refuses_at_synth_what_the_job_would_refuse_at_deploy(props, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        workflow(**props)


def test_a_value_known_only_at_deploy_time_is_checked_then():
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    team = cdk.CfnParameter(stack, "Team").value_as_string
    label = cdk.CfnParameter(stack, "Label").value_as_string
    keyword = cdk.CfnParameter(stack, "Keyword").value_as_string
    request = workflow(stack=stack, workteam_arn=team, label_attribute_name=label,
                       task_keywords=["welding", keyword]).labeling_job_request
    assert request["LabelAttributeName"] == label and request["HumanTaskConfig"]["WorkteamArn"] == team
    assert request["HumanTaskConfig"]["TaskKeywords"] == ["welding", keyword]


def test_the_text_rules_are_read_by_synth_deploy_and_definitions_alike(monkeypatch):
    """Tighten a pattern in its one place and every reader follows it."""
    monkeypatch.setattr(job_settings, "TASK_KEYWORD", re.compile("[a-z]+"))
    monkeypatch.setattr(job_settings, "LABEL_ATTRIBUTE_NAME", re.compile("[a-z]+"))
    with pytest.raises(ValueError, match="task_keywords entry 'Welding'"):
        workflow(task_keywords=["Welding"])
    with pytest.raises(PropertyError, match="TaskKeywords entry 'Welding'"):
        create_request({**PROPERTIES, "TaskKeywords": ["Welding"]}, "job")
    with pytest.raises(DefinitionError, match="workflow x: keywords entry 'Welding'"):
        definition(keywords=("Welding",))
    with pytest.raises(ValueError, match="label_attribute_name 'labels1'"):
        workflow(label_attribute_name="labels1")
    with pytest.raises(PropertyError, match="LabelAttributeName 'labels1'"):
        create_request({**PROPERTIES, "LabelAttributeName": "labels1"}, "job")
    with pytest.raises(DefinitionError, match="workflow x: label_attribute_name 'labels1'"):
        definition(label_attribute_name="labels1")
