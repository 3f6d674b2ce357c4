"""What the workforce stack tells its user: the outputs the deployment guide's commands name (the user pool's id, the experts'
notification topic), and teams whose descriptions say which is which."""
from __future__ import annotations

import re

import pytest

from tests.cdk_helpers import REPO_ROOT, resources_of_type
from tests.conftest import STACK_TEST_ENVIRONMENTS

DEPLOYING = (REPO_ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")


def workforce(assemblies, env_name):
    return assemblies[env_name].get_stack_by_name(f"LabelingWorkforce-{env_name}").template


@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_the_user_pool_id_is_an_output(assemblies, env_name):
    """The deployment guide has experts added to their group with `--user-pool-id`, which no output gave."""
    template = workforce(assemblies, env_name)
    [pool_id] = resources_of_type(template, "AWS::Cognito::UserPool")
    assert template["Outputs"]["UserPoolId"]["Value"] == {"Ref": pool_id}


def test_the_experts_notification_topic_is_an_output_and_nobody_is_subscribed_by_the_stack(assemblies):
    """The shipped environments name no experts' addresses (expertEmails): the deployment guide says how to subscribe an expert
    to the topic this output names."""
    template = workforce(assemblies, "prod")
    [topic_id] = [key for key in resources_of_type(template, "AWS::SNS::Topic")
                  if key.startswith("WorkteamExpertWorkteamTaskNotifications")]
    assert template["Outputs"]["ExpertNotificationTopicArn"]["Value"] == {"Ref": topic_id}
    subscribed = {subscription["Properties"]["TopicArn"]["Ref"]
                  for subscription in resources_of_type(template, "AWS::SNS::Subscription").values()}
    assert topic_id not in subscribed and subscribed  # the crowd's topic has workerEmails
    assert "ExpertNotificationTopicArn" not in workforce(assemblies, "dev")["Outputs"]  # review off: no experts' team


def test_the_deployment_guides_commands_name_outputs_the_workforce_stack_has(assemblies):
    outputs = set(workforce(assemblies, "prod")["Outputs"])
    commands = [line for line in DEPLOYING.splitlines() if line.startswith(("`aws cognito-idp admin-add-user-to-group",
                                                                         "`aws sns subscribe"))]
    assert len(commands) == 2
    placeholders = {name for line in commands for name in re.findall(r"<([A-Za-z]+)>", line)} - {"email"}
    assert placeholders == {"UserPoolId", "ExpertGroupName", "ExpertNotificationTopicArn"} and placeholders <= outputs


def test_an_existing_workforces_pool_is_the_output(tmp_path):
    import aws_cdk as cdk

    from stacks import LabelingWorkforceStack, load_environment

    config = load_environment({"qa": {"existingWorkforce": {"userPoolId": "us-east-1_AbCdEf123", "clientId": "abc123"},
                                      "review": {"enabled": True}}}, "qa")
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    stack = LabelingWorkforceStack(app, "LabelingWorkforce-qa", config=config)
    outputs = app.synth().get_stack_by_name(stack.stack_name).template["Outputs"]
    assert outputs["UserPoolId"]["Value"] == "us-east-1_AbCdEf123"
    assert "ExpertNotificationTopicArn" in outputs


def test_expert_emails_are_subscribed_to_the_experts_task_notifications(tmp_path):
    """With no setting for them, experts heard of review jobs only by signing in to the portal."""
    import aws_cdk as cdk

    from stacks import LabelingWorkforceStack, load_environment

    config = load_environment({"qa": {"review": {"enabled": True}, "expertEmails": ["eve@example.com"],
                                      "workerEmails": ["ann@example.com"]}}, "qa")
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    stack = LabelingWorkforceStack(app, "LabelingWorkforce-qa", config=config)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    topics = resources_of_type(template, "AWS::SNS::Topic")
    [experts_topic] = [key for key in topics if key.startswith("WorkteamExpertWorkteamTaskNotifications")]
    subscribed = {(sub["Properties"]["Endpoint"], sub["Properties"]["TopicArn"]["Ref"])
                  for sub in resources_of_type(template, "AWS::SNS::Subscription").values()}
    assert ("eve@example.com", experts_topic) in subscribed
    assert all(topic != experts_topic for email, topic in subscribed if email == "ann@example.com")


def test_the_crowds_team_is_described_as_the_workers_who_label(assemblies):
    """It was described as "Reviewers", next to the experts' team, which reviews."""
    template = workforce(assemblies, "prod")
    teams = resources_of_type(template, "AWS::SageMaker::Workteam")
    [crowd] = [t for k, t in teams.items() if not k.startswith("WorkteamExpertWorkteam")]
    [experts] = [t for k, t in teams.items() if k.startswith("WorkteamExpertWorkteam")]
    assert crowd["Properties"]["Description"].startswith("Crowd workers who label")
    assert "review" not in crowd["Properties"]["Description"].lower()
    assert experts["Properties"]["Description"].startswith("Experts who review")
