"""The shared workforce stack: an invite-only Cognito pool behind one private workteam."""
from __future__ import annotations

import hashlib
import json

import pytest

from tests.cdk_helpers import masked, resources_of_type
from tests.conftest import STACK_TEST_ENVIRONMENTS


def workforce(assemblies, env_name):
    return assemblies[env_name].get_stack_by_name(f"LabelingWorkforce-{env_name}").template


@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_snapshot(assemblies, env_name, snapshot):
    assert masked(workforce(assemblies, env_name)) == snapshot


def test_user_pool_is_invite_only_with_strong_passwords_and_mfa(assemblies):
    [pool] = resources_of_type(workforce(assemblies, "prod"), "AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert props["MfaConfiguration"] in ("OPTIONAL", "ON")
    assert pool["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_log_groups_follow_the_environments_removal_policy(assemblies, env_name):
    """As the user pool and key do: dev's `cdk destroy` leaves no log group of the portal resource behind."""
    expected = {"dev": "Delete", "prod": "Retain"}[env_name]
    groups = resources_of_type(workforce(assemblies, env_name), "AWS::Logs::LogGroup")
    assert groups and {group.get("DeletionPolicy", "Delete") for group in groups.values()} == {expected}


def test_workteam_uses_the_pool_and_an_encrypted_topic(assemblies):
    template = workforce(assemblies, "prod")
    [workteam] = [w for k, w in resources_of_type(template, "AWS::SageMaker::Workteam").items()
                  if not k.startswith("WorkteamExpertWorkteam")]  # the experts' team: tests/test_expert_review_stack.py
    member = workteam["Properties"]["MemberDefinitions"][0]["CognitoMemberDefinition"]
    assert set(member) == {"CognitoUserPool", "CognitoClientId", "CognitoUserGroup"}
    topics = resources_of_type(template, "AWS::SNS::Topic")
    assert all("KmsMasterKeyId" in topic["Properties"] for topic in topics.values())
    # Each team has its own topic (with review on, prod's experts too): no team goes without task e-mails.
    notified = [w["Properties"]["NotificationConfiguration"]["NotificationTopicArn"]["Ref"]
                for w in resources_of_type(template, "AWS::SageMaker::Workteam").values()]
    assert sorted(notified) == sorted(topics) and len(set(notified)) == len(notified)
    assert workteam["Properties"]["NotificationConfiguration"]["NotificationTopicArn"]["Ref"] in topics
    [key] = resources_of_type(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True


def test_only_this_accounts_workteams_publish_to_a_teams_topic(assemblies):
    """The confused-deputy conditions SageMaker's guide gives a work team topic: the publishing service acts for a
    workteam (aws:SourceArn) of this account (aws:SourceAccount)."""
    template = workforce(assemblies, "prod")
    policies = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
    publishes = [statement for policy in policies for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                 if statement.get("Sid") == "SageMakerPublishesTaskNotifications"]
    assert len(publishes) == len(resources_of_type(template, "AWS::SNS::Topic"))
    for statement in publishes:
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"} and statement["Action"] == "sns:Publish"
        assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        source = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
        assert ":sagemaker:" in source and ":workteam/*" in source and "AWS::AccountId" in source


def test_worker_invitations_come_from_configuration(assemblies):
    [portal] = resources_of_type(workforce(assemblies, "prod"), "Custom::GroundTruthWorkteamPortal").values()
    assert portal["Properties"]["WorkerEmails"] == ["labeler@example.com"]
    [dev_portal] = resources_of_type(workforce(assemblies, "dev"), "Custom::GroundTruthWorkteamPortal").values()
    assert dev_portal["Properties"]["WorkerEmails"] == []


def test_outputs_name_the_workteam_and_portal(assemblies):
    outputs = workforce(assemblies, "prod")["Outputs"]
    assert {"WorkteamArn", "LabelingPortalUrl"} <= set(outputs)
    assert any(o.get("Export") for o in outputs.values())  # the workflow stacks import the workteam


def test_portal_step_carries_the_pool_and_client_templates(assemblies):
    """Any CloudFormation update of the pool (which resets the invitation) or the client (which
    resets the callback URLs) changes the portal resource's properties, so the portal step reruns."""
    template = workforce(assemblies, "prod")
    [portal] = resources_of_type(template, "Custom::GroundTruthWorkteamPortal").values()
    for resource_type, key in (("AWS::Cognito::UserPool", "UserPoolSettings"),
                               ("AWS::Cognito::UserPoolClient", "ClientSettings")):
        [resource] = resources_of_type(template, resource_type).values()
        digest = hashlib.sha256(json.dumps(resource["Properties"], sort_keys=True).encode()).hexdigest()[:16]
        assert portal["Properties"][key]["Digest"] == digest, key


def test_an_environment_with_an_existing_workforce_makes_its_teams_in_that_pool(tmp_path):
    """existingWorkforce: the workforce stack makes the crowd's team (and, with review on, the experts') as groups of
    that workforce's user pool, signing in through its app client; no pool, domain or client of its own, nothing that
    changes them, and cdk-nag finds nothing open."""
    import aws_cdk as cdk
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    from stacks import LabelingWorkforceStack, load_environment
    from tests.cdk_helpers import open_findings, policy_statements

    config = load_environment({"qa": {"existingWorkforce": {"userPoolId": "us-east-1_AbCdEf123", "clientId": "abc123"},
                                      "workerEmails": ["labeler@example.com"], "review": {"enabled": True}}}, "qa")
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = LabelingWorkforceStack(app, "LabelingWorkforce-qa", config=config)
    assert open_findings(app) == {}
    template = app.synth().get_stack_by_name(stack.stack_name).template
    for created in ("UserPool", "UserPoolClient", "UserPoolDomain"):
        assert not resources_of_type(template, f"AWS::Cognito::{created}"), created
    groups = resources_of_type(template, "AWS::Cognito::UserPoolGroup")
    assert len(groups) == 2 and all(g["Properties"]["UserPoolId"] == "us-east-1_AbCdEf123" for g in groups.values())
    teams = resources_of_type(template, "AWS::SageMaker::Workteam")
    members = sorted((w["Properties"]["MemberDefinitions"][0]["CognitoMemberDefinition"] for w in teams.values()),
                     key=lambda member: member["CognitoUserGroup"]["Ref"])
    assert members == [{"CognitoUserPool": "us-east-1_AbCdEf123", "CognitoClientId": "abc123",
                        "CognitoUserGroup": {"Ref": group}} for group in sorted(groups)]
    [portal] = resources_of_type(template, "Custom::GroundTruthWorkteamPortal").values()
    assert portal["Properties"]["WorkerEmails"] == ["labeler@example.com"]
    assert portal["Properties"]["ExistingWorkforce"] == "true" and "UserPoolClientId" not in portal["Properties"]
    actions = {action for s in policy_statements(template) for action in
               (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert not {a for a in actions if a.startswith("cognito-idp:") and not a.startswith("cognito-idp:Admin")}
    assert {"WorkteamArn", "LabelingPortalUrl", "ExpertWorkteamArn", "ExpertGroupName"} <= set(template["Outputs"])
