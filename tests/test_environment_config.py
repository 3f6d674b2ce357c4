"""cdk.json environments: every setting read once, every bad value named with its environment and key."""
from __future__ import annotations

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy

from gt_common.questions import DAWID_SKENE, MAJORITY_VOTE
from stacks import load_environment
from stacks.environment_config import MAX_ENVIRONMENT_NAME_LENGTH
from tests.cdk_helpers import REPO_ROOT
from workflows import FreeText, WorkflowDefinition

WORKTEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/x"


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
    assert load_environment({"p": {"data": {"welding": "/data/welds"}}}, "p").data == {"welding": "/data/welds"}
    assert load_environment({"p": {}}, "p").data == {}
    assert load_environment({"p": {}}, "p").expert_emails == ()
    reviewed = load_environment({"p": {"review": {"enabled": True}, "expertEmails": ["Eve@Example.com"]}}, "p")
    assert reviewed.expert_emails == ("Eve@Example.com",)


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
    ({"existingWorkteamArn": WORKTEAM, "workerEmails": ["a@example.com"]}, "cannot be invited into existingWorkteamArn"),
    # workteams: a string of WorkteamArn's pattern (botocore model)
    ({"existingWorkteamArn": "not-an-arn"}, "existingWorkteamArn 'not-an-arn' is not a workteam ARN"),
    ({"existingWorkteamArn": 5}, "existingWorkteamArn must be a workteam ARN (a string), not 5"),
    ({"existingWorkteamArn": [WORKTEAM]}, "existingWorkteamArn must be a workteam ARN (a string), not ['arn:"),
    ({"existingWorkteamArn": "foo:workteam/"}, "existingWorkteamArn 'foo:workteam/' is not a workteam ARN"),
    ({"existingWorkteamArn": ""}, "existingWorkteamArn '' is not a workteam ARN"),
    ({"expertWorkteamArn": "foo:workteam/", "review": {"enabled": True}}, "expertWorkteamArn 'foo:workteam/' is not"),
    ({"expertWorkteamArn": 5, "review": {"enabled": True}}, "expertWorkteamArn must be a workteam ARN (a string)"),
    ({"expertWorkteamArn": WORKTEAM}, "expertWorkteamArn is set but review is off"),
    ({"expertEmails": ["eve@example.com"]}, "expertEmails is set but review is off"),
    ({"expertEmails": ["eve@example.com"], "review": {"enabled": True}, "expertWorkteamArn": WORKTEAM},
     "expertWorkteamArn's team has its own notification settings"),
    ({"expertEmails": "eve@example.com", "review": {"enabled": True}}, "expertEmails"),
    ({"expertEmails": ["eve"], "review": {"enabled": True}}, "'eve' is not an email address"),
    ({"expertWorkteamArn": WORKTEAM, "review": {"enabled": False}}, "expertWorkteamArn is set but review is off"),
    # a workteam of the environment's region, and a private one of its account (WORKTEAM: us-east-1, 111122223333)
    ({"existingWorkteamArn": WORKTEAM, "region": "eu-west-1"},
     f"existingWorkteamArn {WORKTEAM!r} is a workteam of us-east-1, not of the environment's region eu-west-1"),
    ({"existingWorkteamArn": WORKTEAM, "account": "999988887777"},
     f"existingWorkteamArn {WORKTEAM!r} is a private workteam of account 111122223333, not of the environment's "
     "account 999988887777"),
    ({"existingWorkteamArn": WORKTEAM, "review": {"enabled": True}, "region": "us-east-1",
      "expertWorkteamArn": WORKTEAM.replace("us-east-1", "eu-west-1")}, "expertWorkteamArn 'arn:aws:sagemaker:eu-west-1:"),
    # account and region
    ({"account": "12345"}, "account '12345' must be a 12-digit AWS account id, written as a string"),
    ({"account": 123456789012}, "account 123456789012 must be a 12-digit AWS account id, written as a string"),
    ({"account": "1234567890123"}, "account '1234567890123'"),
    ({"account": "12345678901a"}, "account '12345678901a'"),
    ({"region": "mars-1"}, "region 'mars-1' must be an AWS region name such as 'us-east-1'"),
    ({"region": "US-EAST-1"}, "region 'US-EAST-1'"),
    ({"region": "us-east-1 "}, "region 'us-east-1 '"),
    ({"region": ["us-east-1"]}, "region ['us-east-1']"),
    # types: each setting by name and the type it takes
    ({"workerEmails": 5}, "workerEmails must be a list of email addresses, not 5"),
    ({"workerEmails": "ana@example.com"}, "workerEmails must be a list of email addresses, not 'ana@example.com'"),
    ({"workerEmails": False}, "workerEmails must be a list of email addresses, not False"),
    ({"workerEmails": {"ana@example.com": True}}, "workerEmails must be a list of email addresses, not {"),
    ({"removalPolicy": ["retain"]}, "removalPolicy ['retain'] must be one of ['destroy', 'retain']"),
    ({"consolidationMethod": ["majority-vote"]}, "consolidationMethod ['majority-vote'] must be one of"),
    # data: folders by workflow
    ({"data": "/data/my-welds"}, 'data must be an object of folders by workflow, like {"<workflow>": "/data/my-data"}'),
    ({"data": {"welding": ""}}, "data must be an object of folders by workflow"),
    ({"data": {"welding": ["/a"]}}, "data must be an object of folders by workflow"),
    # addresses: each well-formed, each once
    ({"workerEmails": ["<a@b.com>"]}, "workerEmails entry '<a@b.com>' is not an email address"),
    ({"workerEmails": ["a,b@c.com"]}, "workerEmails entry 'a,b@c.com' is not an email address"),
    ({"workerEmails": ["a@b.com."]}, "workerEmails entry 'a@b.com.' is not an email address"),
    ({"workerEmails": ["a@b.com", "a@b.com"]}, "workerEmails lists 'a@b.com' twice"),
    ({"workerEmails": ["a@b.com", "A@B.com"]}, "workerEmails lists one address twice: 'a@b.com' and 'A@B.com'"),
])
def test_a_bad_setting_names_the_environment_and_the_key(raw, problem):
    with pytest.raises(ValueError, match="environment 'qa'") as error:
        load_environment({"qa": raw}, "qa")
    assert problem in str(error.value)


@pytest.mark.parametrize("raw", [[], None, 5, "dev", ["workersPerObject"]])
def test_an_environment_that_is_not_an_object_is_named(raw):
    with pytest.raises(ValueError, match=re.escape(f"environment 'qa' must be an object of settings like "
                                                   f'{{"workersPerObject": 3}}, not {raw!r}')):
        load_environment({"qa": raw}, "qa")


def test_environments_that_are_not_an_object_are_named():
    with pytest.raises(ValueError, match="cdk.json context 'environments' must be an object of environments by name"):
        load_environment(["dev"], "dev")


@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1", "us-gov-west-1", "eu-central-2", "ap-southeast-5",
                                    "il-central-1", "mx-central-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1"])
def test_every_region_shape_is_taken(region):
    config = load_environment({"p": {"account": "000011112222", "region": region}}, "p")
    assert (config.cdk_environment.account, config.cdk_environment.region) == ("000011112222", region)


def test_a_workteam_of_the_environments_region_and_account_is_taken_and_a_vendors_of_any_account():
    config = load_environment({"p": {"existingWorkteamArn": WORKTEAM, "account": "111122223333",
                                     "region": "us-east-1"}}, "p")
    assert config.existing_workteam_arn == WORKTEAM
    vendor = "arn:aws:sagemaker:us-east-1:394669845002:workteam/vendor-crowd/default"
    config = load_environment({"p": {"existingWorkteamArn": vendor, "account": "111122223333",
                                     "region": "us-east-1"}}, "p")
    assert config.existing_workteam_arn == vendor


def test_the_public_crowd_is_refused_naming_what_its_jobs_need():
    """Mechanical Turk's jobs need a price per task and tasks available at most 12 hours (the default is 10 days):
    CreateLabelingJob would have refused the job at deploy."""
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    with pytest.raises(ValueError, match="environment 'p': existingWorkteamArn '.*' is Amazon Mechanical Turk's "
                                         "public crowd.*price per task.*12 hours"):
        load_environment({"p": {"existingWorkteamArn": public}}, "p")


def test_workteam_arns_of_every_partition_are_taken_and_null_is_no_arn():
    arn = "arn:aws-cn:sagemaker:cn-north-1:111122223333:workteam/private-crowd/x"
    config = load_environment({"p": {"existingWorkteamArn": arn, "review": {"enabled": True},
                                     "expertWorkteamArn": arn.replace("/x", "/experts")}}, "p")
    assert config.existing_workteam_arn == arn and config.expert_workteam_arn.endswith("/experts")
    config = load_environment({"p": {"existingWorkteamArn": None, "expertWorkteamArn": None}}, "p")
    assert config.existing_workteam_arn is None and config.expert_workteam_arn is None


@pytest.mark.parametrize("name", ["my_env", "prod.eu", "prodé", "1prod", "-prod", "prod eu", "", "a" * 33, "a" * 120])
def test_an_environment_name_that_would_not_make_its_stack_names_is_refused(name):
    with pytest.raises(ValueError, match=re.escape(f"environment name {name!r} must be 1-32 letters, digits and "
                                                   "hyphens, starting with a letter")):
        load_environment({name: {}}, name)


def test_the_longest_environment_name_leaves_every_stack_name_whole():
    """CloudFormation takes stack names of up to 128 characters; CDK shortens and hashes a longer one, which
    `cdk deploy <Workflow>Labeling-<env>` would then not find. The longest workflow name makes the longest stack."""
    name = "P" + "r-" * 15 + "d"
    assert len(name) == MAX_ENVIRONMENT_NAME_LENGTH and load_environment({name: {}}, name).name == name
    longest = WorkflowDefinition(name="w" * 30, title="t", description="d", label_attribute_name="l",
                                 questions=(FreeText(name="n"),))
    for stack_name in (f"{longest.stack_name}-{name}", f"LabelingWorkforce-{name}"):
        assert len(stack_name) <= 128
        stack = cdk.Stack(cdk.App(), stack_name)
        assert stack.stack_name == stack_name  # not shortened, and a name CloudFormation takes


def test_an_environment_name_that_is_not_a_string_is_named():
    with pytest.raises(ValueError, match="the environment's name must be a string"):
        load_environment({"5": {}}, 5)


def test_an_unknown_environment_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown environment 'nope'.*\['dev'\]"):
        load_environment({"dev": {}}, "nope")


WORKFORCE = {"userPoolId": "us-east-1_AbCdEf123", "clientId": "1example23456789"}


def test_an_existing_workforce_is_read_and_null_is_none():
    config = load_environment({"p": {"existingWorkforce": WORKFORCE, "region": "us-east-1",
                                     "workerEmails": ["a@example.com"], "review": {"enabled": True}}}, "p")
    assert (config.existing_workforce.user_pool_id, config.existing_workforce.client_id) == (
        "us-east-1_AbCdEf123", "1example23456789")
    assert config.existing_workteam_arn is None and config.worker_emails == ("a@example.com",)
    assert load_environment({"p": {"existingWorkforce": None}}, "p").existing_workforce is None
    assert load_environment({"p": {}}, "p").existing_workforce is None


@pytest.mark.parametrize("raw, problem", [
    ({"existingWorkforce": "us-east-1_AbCdEf123"},
     'existingWorkforce must be an object like {"userPoolId": "us-east-1_AbCdEf123", "clientId": "<the app client id>"}'),
    ({"existingWorkforce": [WORKFORCE]}, "existingWorkforce must be an object like"),
    ({"existingWorkforce": {**WORKFORCE, "domain": "gt-workers"}},
     "existingWorkforce has unknown keys ['domain']; known: ['clientId', 'userPoolId']"),
    ({"existingWorkforce": {"userPoolId": "us-east-1_AbCdEf123"}}, "existingWorkforce lacks ['clientId']"),
    ({"existingWorkforce": {}}, "existingWorkforce lacks ['clientId', 'userPoolId']"),
    ({"existingWorkforce": {**WORKFORCE, "userPoolId": "AbCdEf123"}},
     "existingWorkforce: userPoolId 'AbCdEf123' is not a Cognito user pool id (like 'us-east-1_AbCdEf123')"),
    ({"existingWorkforce": {**WORKFORCE, "userPoolId": 5}}, "userPoolId 5 is not a Cognito user pool id"),
    ({"existingWorkforce": {**WORKFORCE, "clientId": "a b"}},
     "existingWorkforce: clientId 'a b' is not a Cognito app client id"),
    ({"existingWorkforce": {**WORKFORCE, "clientId": ""}}, "clientId '' is not a Cognito app client id"),
    ({"existingWorkforce": WORKFORCE, "region": "eu-west-1"},
     "existingWorkforce: userPoolId 'us-east-1_AbCdEf123' is a pool of us-east-1, not of the environment's region "
     "eu-west-1"),
    ({"existingWorkforce": WORKFORCE, "existingWorkteamArn": WORKTEAM},
     "existingWorkforce makes new teams of an existing workforce, existingWorkteamArn reuses a whole workteam: set one "
     "or the other"),
])
def test_a_bad_existing_workforce_names_the_environment_and_the_key(raw, problem):
    with pytest.raises(ValueError, match="environment 'qa'") as error:
        load_environment({"qa": raw}, "qa")
    assert problem in str(error.value)


def test_an_empty_env_context_is_refused_not_replaced_by_the_default():
    """`-c env=$ENV` with ENV unset gives an empty name: synthesizing the default environment instead would deploy
    another environment than the one meant."""
    from app import build_app

    app = cdk.App(context={"env": "", "defaultEnvironment": "dev", "environments": {"dev": {}},
                           "aws:cdk:bundling-stacks": []})
    with pytest.raises(ValueError, match=r"unknown environment '': cdk.json context 'environments' has \['dev'\]"):
        build_app(app)


def test_a_cdk_json_without_environments_is_named_not_a_key_error(tmp_path, monkeypatch):
    import app as app_module

    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"app": "python3 app.py", "context": {"enviroments": {"dev": {}}}}))
    monkeypatch.setattr(app_module, "CDK_JSON", cdk_json)
    with pytest.raises(ValueError, match="cdk.json context 'environments' must be an object of environments by name, "
                                         "not None"):
        app_module.build_app(cdk.App(context={"env": "dev", "aws:cdk:bundling-stacks": []}))


def test_a_null_setting_in_cdk_json_is_refused_under_the_cli_not_taken_as_the_default(monkeypatch):
    """jsii drops a null inside an object on its way to Python: `"createLabelingJob": null` synthesized dev with a
    real labeling job (the default) under `cdk synth`, where `load_environment` refuses it. The app reads the
    environments as the CLI passes them."""
    from app import CLI_CONTEXT_ENV, build_app

    environments = {"dev": {"createLabelingJob": None, "workersPerObject": 1}}
    monkeypatch.setenv(CLI_CONTEXT_ENV, json.dumps({"environments": environments, "env": "dev"}))
    app = cdk.App(context={"env": "dev", "environments": environments, "aws:cdk:bundling-stacks": []})
    assert app.node.try_get_context("environments") == {"dev": {"workersPerObject": 1}}  # what jsii leaves of it
    with pytest.raises(ValueError, match="environment 'dev': createLabelingJob must be true or false"):
        build_app(app)


def test_environments_the_cli_spilled_to_a_file_are_read_from_it(tmp_path, monkeypatch):
    """A large context goes partly to a file the CLI names (cx-api's CONTEXT_OVERFLOW_LOCATION_ENV)."""
    from app import CLI_CONTEXT_ENV, CLI_CONTEXT_OVERFLOW_ENV, context_as_given

    spilled = tmp_path / "context-overflow.json"
    spilled.write_text(json.dumps({"environments": {"dev": {"review": None}}}))
    monkeypatch.setenv(CLI_CONTEXT_ENV, json.dumps({"env": "dev"}))
    monkeypatch.setenv(CLI_CONTEXT_OVERFLOW_ENV, str(spilled))
    app = cdk.App(context={"env": "dev"})
    assert context_as_given(app, "environments") == {"dev": {"review": None}}
    assert context_as_given(app, "env") == "dev"
    monkeypatch.delenv(CLI_CONTEXT_ENV)
    monkeypatch.delenv(CLI_CONTEXT_OVERFLOW_ENV)
    assert context_as_given(app, "env") == "dev"  # no CLI: the app's own context


def test_synth_script_refuses_an_empty_environment_name_rather_than_synthesizing_dev(tmp_path):
    """`./scripts/synth.sh "$ENV"` with ENV unset synthesized dev (the shell's `${1:-dev}` replaced the empty name)."""
    import subprocess

    from tests.conftest import REPO_ROOT

    result = subprocess.run(["./scripts/synth.sh", ""], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "app.py: error: unknown environment ''" in result.stderr + result.stdout
    assert "Synthesized environment" not in result.stdout
    assert "Traceback" not in result.stderr + result.stdout  # a setting's mistake is said in a line


@pytest.mark.parametrize("arguments, status, said", [
    (["--help"], 0, "usage: ./scripts/synth.sh [ENV]"), (["-h"], 0, "usage: ./scripts/synth.sh [ENV]"),
    (["--all"], 2, "synth.sh: --all is not an option"), (["dev", "prod"], 2, "synth.sh: one environment at a time"),
])
def test_synth_script_answers_help_and_refuses_what_is_not_an_environment(arguments, status, said):
    """`./scripts/synth.sh --help` synthesized an environment named --help: a traceback, "unknown environment"."""
    import subprocess

    from tests.conftest import REPO_ROOT

    result = subprocess.run(["./scripts/synth.sh", *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == status and said in result.stdout + result.stderr
