"""cdk.json environments: every setting read once, every bad value named with its environment and key."""
from __future__ import annotations

import json

import pytest
from aws_cdk import RemovalPolicy

from gt_common.questions import DAWID_SKENE, MAJORITY_VOTE
from stacks import load_environment
from tests.cdk_helpers import REPO_ROOT


def test_the_shipped_environments_load():
    environments = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]
    for name in environments:
        config = load_environment(environments, name)
        assert config.name == name and 1 <= config.workers_per_object <= 9


def test_defaults_are_the_safe_ones():
    config = load_environment({"x": {}}, "x")
    assert config.removal_policy == RemovalPolicy.RETAIN
    assert config.create_labeling_job is True and config.workers_per_object == 3
    assert config.consolidation_method == DAWID_SKENE
    assert config.cdk_environment is None  # environment-agnostic: synth needs no credentials


def test_every_setting_is_read():
    config = load_environment({"p": {
        "account": "111122223333", "region": "eu-west-1", "workerEmails": ["a@example.com"],
        "workersPerObject": 5, "removalPolicy": "destroy", "createLabelingJob": False,
        "consolidationMethod": "majority-vote"}}, "p")
    assert (config.cdk_environment.account, config.cdk_environment.region) == ("111122223333", "eu-west-1")
    assert config.worker_emails == ("a@example.com",) and config.workers_per_object == 5
    assert config.removal_policy == RemovalPolicy.DESTROY and config.create_labeling_job is False
    assert config.consolidation_method == MAJORITY_VOTE


@pytest.mark.parametrize("raw, problem", [
    ({"workersPerObject": 0}, "workersPerObject 0 must be between 1 and 9"),
    ({"workersPerObject": 10}, "workersPerObject 10 must be between 1 and 9"),
    ({"workersPerObject": "3"}, "workersPerObject '3' must be an integer"),
    ({"workersPerObject": True}, "workersPerObject True"),
    ({"removalPolicy": "snapshot"}, "removalPolicy 'snapshot'"),
    ({"workerEmails": ["not-an-email"]}, "'not-an-email' is not an email address"),
    ({"createLabelingJob": "yes"}, "createLabelingJob must be true or false"),
    ({"consolidationMethod": "coin-flip"}, "consolidationMethod 'coin-flip'"),
    ({"workersPerObjekt": 3}, "unknown keys ['workersPerObjekt']"),
    ({"existingWorkteamArn": "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/x",
      "workerEmails": ["a@example.com"]}, "cannot be invited into existingWorkteamArn"),
])
def test_a_bad_setting_names_the_environment_and_the_key(raw, problem):
    with pytest.raises(ValueError, match="environment 'qa'") as error:
        load_environment({"qa": raw}, "qa")
    assert problem in str(error.value)


def test_an_unknown_environment_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown environment 'nope'.*\['dev'\]"):
        load_environment({"dev": {}}, "nope")
