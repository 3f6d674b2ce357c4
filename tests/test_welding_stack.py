"""The welding stack as synthesized: a snapshot, and assertions on what keeps it secure."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cdk_helpers import as_list, masked, policy_statements, resources_of_type, synth_app

ENVIRONMENTS = ("dev", "prod")


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory):
    # Synthesis runs every cdk-nag AwsSolutions rule: an unacknowledged finding raises here.
    return {name: synth_app(name, tmp_path_factory.mktemp(f"cdk-{name}"))[1] for name in ENVIRONMENTS}


def welding(assemblies, env_name):
    return assemblies[env_name].get_stack_by_name(f"WeldingLabeling-{env_name}")


@pytest.fixture(scope="module")
def prod(assemblies):
    return welding(assemblies, "prod").template


@pytest.fixture(scope="module")
def dev(assemblies):
    return welding(assemblies, "dev").template


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_snapshot(assemblies, env_name, snapshot):
    assert masked(welding(assemblies, env_name).template) == snapshot


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_cfn_lint_reports_no_errors(assemblies, env_name):
    path = welding(assemblies, env_name).template_full_path
    result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), "--ignore-checks", "W3005", "--", path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _input_bucket(template):
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    [(logical_id, bucket)] = [(k, v) for k, v in buckets.items() if "CorsConfiguration" in v["Properties"]]
    return logical_id, bucket


def test_input_bucket_is_encrypted_private_versioned_logged_with_ground_truth_cors(prod):
    _, bucket = _input_bucket(prod)
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    assert props["CorsConfiguration"]["CorsRules"] == [{
        "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposedHeaders": ["Access-Control-Allow-Origin"]}]


def test_every_bucket_denies_plain_http(prod):
    buckets = set(resources_of_type(prod, "AWS::S3::Bucket"))
    denied = set()
    for policy in resources_of_type(prod, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                denied.add(policy["Properties"]["Bucket"]["Ref"])
    assert denied == buckets


def test_retention_follows_the_environment(prod, dev):
    assert {b["DeletionPolicy"] for b in resources_of_type(prod, "AWS::S3::Bucket").values()} == {"Retain"}
    assert {b["DeletionPolicy"] for b in resources_of_type(dev, "AWS::S3::Bucket").values()} == {"Delete"}
    assert resources_of_type(dev, "Custom::S3AutoDeleteObjects")
    assert not resources_of_type(prod, "Custom::S3AutoDeleteObjects")


def _execution_role(template):
    roles = resources_of_type(template, "AWS::IAM::Role")
    [(logical_id, role)] = [
        (k, v) for k, v in roles.items()
        if v["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") == "sagemaker.amazonaws.com"
    ]
    return logical_id, role


def test_execution_role_trusts_only_sagemaker_for_this_accounts_labeling_jobs(prod):
    _, role = _execution_role(prod)
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "labeling-job/*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])


def _statements_of_role(template, role_id):
    statements = []
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_execution_role_invokes_exactly_the_two_workflow_functions(prod):
    role_id, _ = _execution_role(prod)
    invoke = [s for s in _statements_of_role(prod, role_id) if "lambda:InvokeFunction" in as_list(s["Action"])]
    resources = [r for s in invoke for r in as_list(s["Resource"])]
    functions = resources_of_type(prod, "AWS::Lambda::Function")
    targets = {r["Fn::GetAtt"][0] for r in resources}
    assert len(resources) == 2 and all(target in functions for target in targets)
    assert {functions[t]["Properties"]["Handler"] for t in targets} == {
        "welding_pre_labeling.handler.lambda_handler", "welding_consolidation.handler.lambda_handler"}


def test_execution_role_s3_access_is_scoped_to_workflow_prefixes(prod):
    role_id, _ = _execution_role(prod)
    s3_statements = [s for s in _statements_of_role(prod, role_id) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    object_prefixes = set()
    for statement in s3_statements:
        for resource in as_list(statement["Resource"]):
            text = json.dumps(resource)
            if "s3:ListBucket" in as_list(statement["Action"]):
                assert "s3:prefix" in json.dumps(statement["Condition"])
            else:
                object_prefixes.add(resource["Fn::Join"][1][-1])
    assert object_prefixes == {"/manifests/input.manifest", "/welding/*", "/plots/*", "/templates/*", "/output/*"}
    writes = {json.dumps(s["Resource"]) for s in s3_statements if "s3:PutObject" in as_list(s["Action"])}
    assert len(writes) == 1 and "/output/*" in writes.pop()


def test_no_policy_allows_every_action_or_deletes_objects(prod):
    for statement in policy_statements(prod):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement
    project_roles = {k for k, v in resources_of_type(prod, "AWS::IAM::Role").items() if "BucketDeployment" not in k}
    for role_id in project_roles:
        for statement in _statements_of_role(prod, role_id):
            assert "s3:DeleteObject" not in json.dumps(statement["Action"]), (role_id, statement)


def test_project_functions_run_the_newest_python_and_carry_no_managed_policy(prod):
    functions = resources_of_type(prod, "AWS::Lambda::Function")
    ours = {k: v for k, v in functions.items() if "." in v["Properties"].get("Handler", "") and
            v["Properties"]["Handler"].split(".")[0] in {
                "welding_pre_labeling", "welding_consolidation", "labeling_job_resource", "workteam_portal_resource"}}
    assert len(ours) == 5
    roles = resources_of_type(prod, "AWS::IAM::Role")
    for function in ours.values():
        assert function["Properties"]["Runtime"] == "python3.14"
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert "ManagedPolicyArns" not in role["Properties"]


def test_user_pool_is_invite_only_with_strong_passwords_and_mfa(prod):
    [pool] = resources_of_type(prod, "AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert props["MfaConfiguration"] in ("OPTIONAL", "ON")
    assert pool["DeletionPolicy"] == "Retain"


def test_workteam_uses_the_pool_and_an_encrypted_topic(prod):
    [workteam] = resources_of_type(prod, "AWS::SageMaker::Workteam").values()
    member = workteam["Properties"]["MemberDefinitions"][0]["CognitoMemberDefinition"]
    assert set(member) == {"CognitoUserPool", "CognitoClientId", "CognitoUserGroup"}
    [(topic_id, topic)] = resources_of_type(prod, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    assert workteam["Properties"]["NotificationConfiguration"]["NotificationTopicArn"] == {"Ref": topic_id}
    [key] = resources_of_type(prod, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True


def test_worker_invitations_come_from_configuration(prod):
    [portal] = resources_of_type(prod, "Custom::GroundTruthWorkteamPortal").values()
    assert portal["Properties"]["WorkerEmails"] == ["labeler@example.com"]


def test_labeling_job_is_created_only_where_configured(prod, dev):
    assert not resources_of_type(dev, "Custom::GroundTruthLabelingJob")
    [job] = resources_of_type(prod, "Custom::GroundTruthLabelingJob").values()
    props = job["Properties"]
    assert props["LabelAttributeName"] == "welding-quality"
    assert props["NumberOfHumanWorkersPerDataObject"] == "3"
    assert "/manifests/input.manifest" in json.dumps(props["ManifestS3Uri"])
    assert "/templates/" in json.dumps(props["UiTemplateS3Uri"])
    assert set(prod["Outputs"]) >= {"BucketName", "ManifestUri", "OutputUri", "LabelingJobName", "LabelingPortalUrl"}
    assert "LabelingJobName" not in dev["Outputs"]


def test_stacks_name_no_account_or_region(assemblies):
    for env_name in ENVIRONMENTS:
        stack = welding(assemblies, env_name)
        assert stack.environment.account == "unknown-account" and stack.environment.region == "unknown-region"
