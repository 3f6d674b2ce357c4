"""The welding stack as synthesized: a snapshot, and assertions on what keeps it secure."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cdk_helpers import (
    as_list, execution_role, invoked_handlers, masked, object_prefixes, policy_statements, resources_of_type,
    statements_of_role,
)
from tests.conftest import STACK_TEST_ENVIRONMENTS

STACK_PREFIXES = ("LabelingWorkforce", "WeldingLabeling", "NerLabeling")


def stack(assemblies, prefix, env_name):
    return assemblies[env_name].get_stack_by_name(f"{prefix}-{env_name}")


@pytest.fixture(scope="module")
def prod(assemblies):
    return stack(assemblies, "WeldingLabeling", "prod").template


@pytest.fixture(scope="module")
def dev(assemblies):
    return stack(assemblies, "WeldingLabeling", "dev").template


@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_snapshot(assemblies, env_name, snapshot):
    assert masked(stack(assemblies, "WeldingLabeling", env_name).template) == snapshot


@pytest.mark.parametrize("prefix", STACK_PREFIXES)
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_cfn_lint_reports_no_errors(assemblies, prefix, env_name):
    path = stack(assemblies, prefix, env_name).template_full_path
    result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), "--ignore-checks", "W3005", "--", path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def input_bucket(template):
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    [(logical_id, bucket)] = [(k, v) for k, v in buckets.items() if "CorsConfiguration" in v["Properties"]]
    return logical_id, bucket


def test_input_bucket_is_encrypted_private_versioned_logged_with_ground_truth_cors(prod):
    _, bucket = input_bucket(prod)
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


def test_execution_role_trusts_sagemaker_with_no_condition_ground_truth_is_not_documented_to_meet(prod):
    role_id, role = execution_role(prod)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    # Only the job function may pass it, and only to SageMaker.
    passing = [s for s in policy_statements(prod) if "iam:PassRole" in as_list(s["Action"])
               and {"Fn::GetAtt": [role_id, "Arn"]} in as_list(s["Resource"])]
    assert [s["Condition"] for s in passing] == [{"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}]


def test_execution_role_invokes_exactly_the_two_workflow_functions(prod):
    assert invoked_handlers(prod) == {
        "welding_pre_labeling.handler.lambda_handler", "welding_consolidation.handler.lambda_handler"}


def test_execution_role_s3_access_is_scoped_to_workflow_prefixes(prod):
    role_id, _ = execution_role(prod)
    reads, writes = object_prefixes(prod, role_id)
    assert reads == {"/manifests/input.manifest", "/welding/*", "/plots/*", "/templates/*", "/output/*"}
    assert writes == {"/output/*"}
    bucket_id, _ = input_bucket(prod)
    for statement in statements_of_role(prod, role_id):
        actions = as_list(statement["Action"])
        if "s3:ListBucket" in actions:  # as AWS's policy grants it: key names, no content, no condition
            assert set(actions) == {"s3:ListBucket", "s3:GetBucketLocation"} and "Condition" not in statement
            assert statement["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
        if "s3:AbortMultipartUpload" in actions:
            assert [r["Fn::Join"][1][-1] for r in as_list(statement["Resource"])] == ["/output/*"]


def test_execution_role_logs_and_metrics_are_ground_truths_own(prod):
    role_id, _ = execution_role(prod)
    statements = statements_of_role(prod, role_id)
    [metrics] = [s for s in statements if "cloudwatch:PutMetricData" in as_list(s["Action"])]
    assert metrics["Condition"] == {"StringEqualsIgnoreCase": {
        "cloudwatch:namespace": ["AWS/Sagemaker/LabelingJobs", "AWS/SageMaker/Workteam"]}}
    [logs] = [s for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
    assert all("log-group:/aws/sagemaker/LabelingJobs" in json.dumps(r) for r in logs["Resource"])


def test_both_functions_know_where_the_task_records_are(prod):
    functions = resources_of_type(prod, "AWS::Lambda::Function")
    bucket_id, _ = input_bucket(prod)
    expected = {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/plots/task-records/"]]}
    for handler in ("welding_pre_labeling.handler.lambda_handler", "welding_consolidation.handler.lambda_handler"):
        [function] = [f for f in functions.values() if f["Properties"]["Handler"] == handler]
        assert function["Properties"]["Environment"]["Variables"]["TASK_RECORDS_URI"] == expected, handler


def test_job_functions_reach_only_jobs_named_with_the_resources_key(prod):
    [job] = resources_of_type(prod, "Custom::GroundTruthLabelingJob").values()
    key = job["Properties"]["JobNameKey"]
    assert re.fullmatch(r"[0-9a-f]{10}", key) and job["Properties"]["JobNameLabel"] == "welding-quality"
    scopes = {json.dumps(r) for s in policy_statements(prod) if any(a.startswith("sagemaker:") and "LabelingJob" in a
                                                                    for a in as_list(s["Action"]))
              for r in as_list(s["Resource"])}
    assert len(scopes) == 1 and scopes.pop().endswith(f':labeling-job/{key}-*"]]}}')


def test_no_policy_allows_every_action_or_deletes_objects(prod):
    for statement in policy_statements(prod):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement
    project_roles = {k for k in resources_of_type(prod, "AWS::IAM::Role") if "BucketDeployment" not in k}
    for role_id in project_roles:
        for statement in statements_of_role(prod, role_id):
            assert "s3:DeleteObject" not in json.dumps(statement["Action"]), (role_id, statement)


def test_project_functions_run_the_newest_python_and_carry_no_managed_policy(prod):
    functions = resources_of_type(prod, "AWS::Lambda::Function")
    ours = {k: v for k, v in functions.items()
            if v["Properties"].get("Handler", "").split(".")[0] in {
                "welding_pre_labeling", "welding_consolidation", "labeling_job_resource"}}
    assert len(ours) == 4
    roles = resources_of_type(prod, "AWS::IAM::Role")
    for function in ours.values():
        assert function["Properties"]["Runtime"] == "python3.14"
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert "ManagedPolicyArns" not in role["Properties"]


def test_labeling_job_is_created_only_where_configured(prod, dev):
    assert not resources_of_type(dev, "Custom::GroundTruthLabelingJob")
    [job] = resources_of_type(prod, "Custom::GroundTruthLabelingJob").values()
    props = job["Properties"]
    assert props["LabelAttributeName"] == "welding-quality"
    assert props["NumberOfHumanWorkersPerDataObject"] == "3"
    assert "/manifests/input.manifest" in json.dumps(props["ManifestS3Uri"])
    assert "/templates/" in json.dumps(props["UiTemplateS3Uri"])
    assert "Fn::ImportValue" in json.dumps(props["WorkteamArn"])  # the shared workforce stack's workteam
    assert set(prod["Outputs"]) >= {"BucketName", "ManifestUri", "OutputUri", "LabelingJobName"}
    assert "LabelingJobName" not in dev["Outputs"]


def test_stacks_name_no_account_or_region(assemblies):
    for env_name in STACK_TEST_ENVIRONMENTS:
        for prefix in STACK_PREFIXES:
            environment = stack(assemblies, prefix, env_name).environment
            assert environment.account == "unknown-account" and environment.region == "unknown-region"
