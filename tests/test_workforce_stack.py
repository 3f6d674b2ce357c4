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
