"""The three L3 constructs on their own, as someone forking one for a new workflow would use them."""
from __future__ import annotations

import hashlib
import json
import re
import shutil

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from labeling_constructs import ConsolidationMethod, CustomLabelingWorkflow, LabelingFunction, ManifestBucket, PrivateWorkteam
from labeling_constructs.lambda_code import LAMBDA_SRC, LocalPythonBundler, source_hash
from tests.cdk_helpers import REPO_ROOT, as_list, resources_of_type

WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/reviewers"


def new_stack(nag: bool = True) -> cdk.Stack:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    if nag:  # each construct alone must pass cdk-nag: a fork starts from a clean slate
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return cdk.Stack(app, "Fork")


@pytest.fixture
def sample_folder(tmp_path):
    folder = tmp_path / "sample"
    (folder / "items").mkdir(parents=True)
    (folder / "items" / "a.json").write_text('{"text": {"s3Path": "${DATA_PREFIX_URI}/items/a.txt"}}')
    (folder / "items" / "a.txt").write_text("hello")
    (folder / "answers.json").write_text("{}")
    (folder / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/items/a.json"}\n')
    return folder


def workflow(stack, data, **overrides):
    props = dict(
        input_bucket=data, workteam_arn=WORKTEAM_ARN, label_attribute_name="my-labels",
        ui_template_path=REPO_ROOT / "ui_templates" / "welding.liquid.html",
        pre_labeling=LabelingFunction(package="welding_pre_labeling"),
        consolidation=LabelingFunction(package="welding_consolidation"),
        task_title="Label it", task_description="Label each item",
    )
    props.update(overrides)
    return CustomLabelingWorkflow(stack, "Workflow", **props)


# -- ManifestBucket --------------------------------------------------------------------------
def test_manifest_bucket_deploys_data_and_manifest_with_the_bucket_filled_in(sample_folder):
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder, data_prefix="items-v1/", exclude=["answers.json"])
    template = Template.from_stack(stack)
    deployments = resources_of_type(template.to_json(), "Custom::CDKBucketDeployment")
    assert len(deployments) == 2
    by_prefix = {d["Properties"].get("DestinationBucketKeyPrefix"): d for d in deployments.values()}
    # The templated data file and the manifest are deploy-time documents naming the bucket.
    for deployment in (by_prefix["items-v1/"], by_prefix[None]):
        assert "Ref" in json.dumps(deployment["Properties"]["SourceMarkers"])
    assert data.manifest_key == "manifests/input.manifest"
    assert data.manifest_revision != "external"


def test_manifest_bucket_takes_a_kms_key(sample_folder):
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    ManifestBucket(stack, "Data", encryption_key=key)
    Template.from_stack(stack).has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()}}]},
        "CorsConfiguration": Match.any_value(),
    })


@pytest.mark.parametrize("line, problem", [
    ("not json", "line 2 is not JSON"),
    ('["a list"]', "line 2 is not a JSON object"),
])
def test_manifest_bucket_rejects_a_bad_manifest_naming_the_line(sample_folder, line, problem):
    (sample_folder / "manifest.jsonl").write_text('{"source": "x"}\n' + line + "\n")
    with pytest.raises(ValueError, match=problem):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


def test_manifest_bucket_grants_are_narrow(sample_folder):
    stack = new_stack(nag=False)
    data = ManifestBucket(stack, "Data")
    role = cdk.aws_iam.Role(stack, "Reader", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    data.grant_read_prefix(role, "reports/")
    [policy] = resources_of_type(Template.from_stack(stack).to_json(), "AWS::IAM::Policy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"]["Fn::Join"][1][-1] == "/reports/*"


# -- PrivateWorkteam -------------------------------------------------------------------------
def test_workteam_can_reuse_an_existing_workteam():
    stack = new_stack()
    team = PrivateWorkteam(stack, "Team", existing_workteam_arn=WORKTEAM_ARN)
    template = Template.from_stack(stack).to_json()
    assert team.workteam_arn == WORKTEAM_ARN and team.portal_url is None and team.user_pool is None
    assert not resources_of_type(template, "AWS::Cognito::UserPool")
    with pytest.raises(ValueError, match="existing workteam"):
        PrivateWorkteam(new_stack(nag=False), "Team", existing_workteam_arn=WORKTEAM_ARN, worker_emails=["a@b.org"])


def test_workteam_can_require_mfa_and_exposes_its_resources():
    stack = new_stack()
    team = PrivateWorkteam(stack, "Team", mfa=cognito.Mfa.REQUIRED, worker_emails=["a@example.org"],
                           removal_policy=cdk.RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Cognito::UserPool", {"MfaConfiguration": "ON"})
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "a@example.org"})
    for attribute in ("user_pool", "user_pool_domain", "user_pool_client", "worker_group", "notification_topic",
                      "notification_key", "workteam", "portal", "portal_function"):
        assert getattr(team, attribute) is not None, attribute


# -- CustomLabelingWorkflow ------------------------------------------------------------------
def test_workflow_without_job_provisions_everything_else(sample_folder):
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    template = Template.from_stack(stack).to_json()
    assert flow.job is None and flow.labeling_job_name is None
    assert not resources_of_type(template, "Custom::GroundTruthLabelingJob")
    assert len(resources_of_type(template, "AWS::Lambda::Function")) >= 2


@pytest.mark.parametrize("method", [None, ConsolidationMethod.MAJORITY_VOTE])
def test_workflow_consolidation_method_reaches_the_function(sample_folder, method):
    stack = new_stack()
    overrides = {"consolidation_method": method} if method else {}
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False,
                    **overrides)
    template = Template.from_stack(stack)
    consolidation_id = stack.get_logical_id(flow.consolidation_function.node.default_child)
    variables = template.to_json()["Resources"][consolidation_id]["Properties"]["Environment"]["Variables"]
    assert variables["CONSOLIDATION_METHOD"] == (method or ConsolidationMethod.DAWID_SKENE).value
    assert flow.consolidation_method == (method or ConsolidationMethod.DAWID_SKENE)
    # The worker model is kept per batch under the output prefix: listing is allowed there only.
    role_id = stack.get_logical_id(flow.consolidation_function.role.node.default_child)
    statements = [statement for policy in resources_of_type(template.to_json(), "AWS::IAM::Policy").values()
                  if {"Ref": role_id} in policy["Properties"]["Roles"]
                  for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])]
    listing = [st for st in statements if "s3:ListBucket" in as_list(st["Action"])]
    assert len(listing) == 1
    assert json.dumps(listing[0]["Condition"]).count("output/") >= 1
    assert "data/" not in json.dumps(listing[0]["Condition"])


def role_statements(template: dict, role) -> list[dict]:
    """Every statement of the identity policies attached to ``role`` (a construct)."""
    role_id = cdk.Stack.of(role).get_logical_id(role.node.default_child)
    return [statement for policy in resources_of_type(template, "AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])]


def actions_on(statements: list[dict]) -> dict[str, list]:
    """action -> the resources (or conditions, for "*") the statements grant it on."""
    granted: dict[str, list] = {}
    for statement in statements:
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    return granted


def test_workflow_job_uses_a_kms_keyed_bucket(sample_folder):
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder, encryption_key=key),
                    workers_per_object=5, job_name_prefix="my-fork")
    template = Template.from_stack(stack)
    template.has_resource_properties("Custom::GroundTruthLabelingJob", {
        "JobNameKey": flow.job_name_key, "JobNameLabel": "my-fork", "NumberOfHumanWorkersPerDataObject": "5",
        "OutputKmsKeyId": Match.any_value()})
    # The guide's output-key actions, on this key only.
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    granted = actions_on(role_statements(template.to_json(), flow.execution_role))
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"):
        assert granted[action] and all(resource == key_arn for resource in granted[action]), action
    job_statements = role_statements(template.to_json(), flow.job_function.role)
    job_statement = next(s for s in job_statements if "sagemaker:CreateLabelingJob" in as_list(s["Action"]))
    assert json.dumps(job_statement["Resource"]).endswith(f':labeling-job/{flow.job_name_key}-*"]]}}')
    assert flow.execution_role is not None and flow.template_deployment is not None


def test_workflow_execution_role_follows_the_published_policy(sample_folder):
    """AWS's execution-role policy for labeling jobs, statement by statement, scoped to the workflow."""
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    flow = workflow(stack, data)
    template = Template.from_stack(stack).to_json()
    bucket_id = stack.get_logical_id(data.bucket.node.default_child)
    statements = role_statements(template, flow.execution_role)
    granted = actions_on(statements)
    # S3ViewBuckets: on the bucket, with no prefix condition.
    for action in ("s3:ListBucket", "s3:GetBucketLocation"):
        [statement] = [s for s in statements if action in as_list(s["Action"])]
        assert statement["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]} and "Condition" not in statement
    # S3GetPutObjects: reads on the workflow's prefixes, writes and multipart aborts on the output only.
    def keys(action):
        return {resource["Fn::Join"][1][-1] for resource in granted[action]}
    assert keys("s3:GetObject") == {"/manifests/input.manifest", "/data/*", "/derived/*", "/templates/*", "/output/*"}
    assert keys("s3:PutObject") == keys("s3:AbortMultipartUpload") == {"/output/*"}
    # CloudWatch: the labeling-job log group and its streams; metrics in Ground Truth's namespaces.
    logs = sorted(json.dumps(resource) for resource in granted["logs:PutLogEvents"])
    assert [text.split("log-group:")[1][:40] for text in logs] == [
        '/aws/sagemaker/LabelingJobs"]]}', '/aws/sagemaker/LabelingJobs:*"]]}']
    for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams"):
        assert sorted(json.dumps(resource) for resource in granted[action]) == logs, action
    [metrics] = [s for s in statements if "cloudwatch:PutMetricData" in as_list(s["Action"])]
    assert metrics["Resource"] == "*" and metrics["Condition"] == {"StringEqualsIgnoreCase": {
        "cloudwatch:namespace": ["AWS/Sagemaker/LabelingJobs", "AWS/SageMaker/Workteam"]}}
    # LambdaFunctions: exactly the two functions.
    assert granted["lambda:InvokeFunction"] == [
        {"Fn::GetAtt": [stack.get_logical_id(f.node.default_child), "Arn"]}
        for f in (flow.pre_labeling_function, flow.consolidation_function)]
    # No KMS without a key, nothing else.
    assert set(granted) == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject",
                            "s3:AbortMultipartUpload", "logs:CreateLogGroup", "logs:CreateLogStream",
                            "logs:PutLogEvents", "logs:DescribeLogStreams", "cloudwatch:PutMetricData",
                            "lambda:InvokeFunction"}
    # Trust: SageMaker, with no condition Ground Truth is not documented to satisfy.
    role = template["Resources"][stack.get_logical_id(flow.execution_role.node.default_child)]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]


def test_workflow_job_functions_reach_only_this_resources_jobs(sample_folder):
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    template = Template.from_stack(stack).to_json()
    pattern = f':labeling-job/{flow.job_name_key}-*"]]}}'
    on_event = actions_on(role_statements(template, flow.job_function.role))
    for action in ("sagemaker:CreateLabelingJob", "sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob",
                   "sagemaker:AddTags"):
        assert [json.dumps(r).endswith(pattern) for r in on_event[action]] == [True], action
    is_complete = actions_on(role_statements(template, flow.job_is_complete_function.role))
    assert {a for a in is_complete if a.startswith("sagemaker:")} == {"sagemaker:DescribeLabelingJob"}
    [pass_role] = [s for s in role_statements(template, flow.job_function.role) if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert pass_role["Resource"] == {"Fn::GetAtt": [stack.get_logical_id(flow.execution_role.node.default_child), "Arn"]}


def test_job_name_key_is_stable_per_resource_and_differs_per_stack(sample_folder):
    def key(stack_name, construct_id="Workflow", **overrides):
        app = cdk.App(context={"aws:cdk:bundling-stacks": []})
        stack = cdk.Stack(app, stack_name)
        data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
        props = dict(input_bucket=data, workteam_arn=WORKTEAM_ARN, label_attribute_name="my-labels",
                     ui_template_path=REPO_ROOT / "ui_templates" / "welding.liquid.html",
                     pre_labeling=LabelingFunction(package="welding_pre_labeling"),
                     consolidation=LabelingFunction(package="welding_consolidation"),
                     task_title="Label it", task_description="Label each item", create_labeling_job=False)
        props.update(overrides)
        return CustomLabelingWorkflow(stack, construct_id, **props).job_name_key

    base = key("Labeling-dev")
    assert re.fullmatch(r"[0-9a-f]{10}", base)
    assert key("Labeling-dev", label_attribute_name="renamed", job_name_prefix="other", workers_per_object=5) == base
    assert len({base, key("Labeling-prod"), key("Labeling-dev", "Workflow2")}) == 3


def test_workflow_wires_task_records_for_both_functions(sample_folder):
    from gt_common.task_record import RECORDS_ENV

    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    flow = workflow(stack, data, derived_data_prefix="plots/", create_labeling_job=False)
    template = Template.from_stack(stack).to_json()
    bucket_id = stack.get_logical_id(data.bucket.node.default_child)
    expected = {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/plots/task-records/"]]}
    assert stack.resolve(flow.task_records_s3_uri) == expected
    for function in (flow.pre_labeling_function, flow.consolidation_function):
        variables = template["Resources"][stack.get_logical_id(function.node.default_child)]["Properties"][
            "Environment"]["Variables"]
        assert variables[RECORDS_ENV] == expected
    reads = actions_on(role_statements(template, flow.consolidation_function.role))["s3:GetObject"]
    assert "/plots/task-records/*" in {resource["Fn::Join"][1][-1] for resource in reads}
    writes = actions_on(role_statements(template, flow.pre_labeling_function.role))["s3:PutObject"]
    assert {resource["Fn::Join"][1][-1] for resource in writes} == {"/plots/*"}  # covers task-records/


@pytest.mark.parametrize("overrides, message", [
    ({"label_attribute_name": "labels-metadata"}, "must not end in -metadata"),
    ({"label_attribute_name": "labels-ref"}, "must not end in -metadata or -ref"),
    ({"workers_per_object": 10}, "between 1 and 9"),
    ({"task_time_limit": cdk.Duration.seconds(10)}, "task_time_limit"),
    ({"job_name_prefix": "bad_prefix!"}, "job name prefix"),
    ({"job_name_prefix": "x" * 31}, "job name prefix"),
    ({"output_prefix": "/abs/"}, "output_prefix"),
    ({"pre_labeling": LabelingFunction(package="no_such_package")}, "no_such_package"),
])
def test_workflow_rejects_what_create_labeling_job_would(sample_folder, overrides, message):
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match=message):
        workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), **overrides)


# -- Lambda code bundling --------------------------------------------------------------------
def test_asset_hash_follows_the_package_and_the_shared_code(tmp_path):
    src = tmp_path / "lambda_src"
    shutil.copytree(LAMBDA_SRC / "gt_common", src / "gt_common")
    (src / "fn").mkdir()
    (src / "fn" / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    first = source_hash("fn", src)
    (src / "fn" / "__pycache__").mkdir()
    (src / "fn" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    assert source_hash("fn", src) == first  # caches never redeploy a function
    (src / "gt_common" / "s3uri.py").write_text("# changed\n", encoding="utf-8")
    assert source_hash("fn", src) != first


def test_local_bundler_builds_package_plus_shared_code(tmp_path):
    out = tmp_path / "asset"
    out.mkdir()
    assert LocalPythonBundler("welding_consolidation").try_bundle(str(out)) is True
    assert (out / "welding_consolidation" / "handler.py").is_file()
    assert (out / "gt_common" / "consolidation.py").is_file()
    assert not list(out.rglob("__pycache__"))


def portal_settings(stack: cdk.Stack) -> dict:
    [portal] = resources_of_type(Template.from_stack(stack).to_json(), "Custom::GroundTruthWorkteamPortal").values()
    return {key: portal["Properties"][key] for key in ("UserPoolSettings", "ClientSettings")}


def digest_of(properties: dict) -> str:
    return hashlib.sha256(json.dumps(properties, sort_keys=True).encode()).hexdigest()[:16]


def test_portal_step_fingerprints_every_property_of_the_pool_and_the_client():
    """The portal resource carries a digest of exactly what CloudFormation gets for the pool and client."""
    stack = new_stack(nag=False)
    PrivateWorkteam(stack, "Team")
    cdk.Tags.of(stack).add("project", "x")
    template = Template.from_stack(stack).to_json()
    settings = portal_settings(stack)
    [pool_id] = resources_of_type(template, "AWS::Cognito::UserPool")
    [client] = resources_of_type(template, "AWS::Cognito::UserPoolClient").values()
    assert settings["UserPoolSettings"] == {
        "Digest": digest_of(template["Resources"][pool_id]["Properties"]), "References": []}
    assert settings["ClientSettings"] == {"Digest": digest_of(client["Properties"]), "References": [{"Ref": pool_id}]}


def _team_stack(change=None, **props) -> cdk.Stack:
    stack = new_stack(nag=False)
    team = PrivateWorkteam(stack, "Team", **props)
    if change:
        change(stack, team)
    return stack


@pytest.mark.parametrize("change", [
    pytest.param(dict(props={"mfa": cognito.Mfa.REQUIRED}), id="mfa"),
    pytest.param(dict(props={"password_policy": cognito.PasswordPolicy(min_length=16)}), id="password policy"),
    pytest.param(dict(props={"removal_policy": cdk.RemovalPolicy.DESTROY}), id="deletion protection"),
    pytest.param(dict(after=lambda stack, team: setattr(
        team.user_pool.node.default_child, "user_pool_add_ons", {"advancedSecurityMode": "AUDIT"})),
        id="an L1 property set after construction"),
    pytest.param(dict(after=lambda stack, team: cdk.Tags.of(stack).add("cost-centre", "labeling")), id="tags"),
    pytest.param(dict(after=lambda stack, team: team.user_pool.add_trigger(
        cognito.UserPoolOperation.PRE_SIGN_UP, cdk.aws_lambda.Function(
            stack, "Trigger", runtime=cdk.aws_lambda.Runtime.PYTHON_3_12, handler="index.handler",
            code=cdk.aws_lambda.Code.from_inline("def handler(event, context):\n    return event\n")))),
        id="a trigger added later"),
])
def test_portal_step_reruns_when_the_user_pool_changes(change):
    """CloudFormation's update of the pool resets the invitation message the portal step wrote."""
    base = portal_settings(_team_stack())
    changed = portal_settings(_team_stack(change.get("after"), **change.get("props", {})))
    assert changed["UserPoolSettings"] != base["UserPoolSettings"]


def test_a_value_the_pool_references_reaches_the_portal_step_as_a_reference():
    """A trigger function replaced at deploy time changes the pool without changing its template:
    its ARN is among the portal's properties, so CloudFormation updates the portal step too."""
    trigger = {}

    def with_trigger(stack, team):
        trigger["function"] = cdk.aws_lambda.Function(
            stack, "Trigger", runtime=cdk.aws_lambda.Runtime.PYTHON_3_12, handler="index.handler",
            code=cdk.aws_lambda.Code.from_inline("def handler(event, context):\n    return event\n"))
        team.user_pool.add_trigger(cognito.UserPoolOperation.PRE_SIGN_UP, trigger["function"])
    stack = _team_stack(with_trigger)
    function_id = stack.get_logical_id(trigger["function"].node.default_child)
    assert portal_settings(stack)["UserPoolSettings"]["References"] == [{"Fn::GetAtt": [function_id, "Arn"]}]


@pytest.mark.parametrize("props", [
    {"worker_emails": ["a@example.org"]},
    {"invitation_subject": "Welcome"},
    {"subscribe_workers_to_notifications": False, "worker_emails": ["a@example.org"]},
    {"description": "Another team"},
])
def test_portal_fingerprints_ignore_what_does_not_touch_the_pool_or_client(props):
    assert portal_settings(_team_stack(**props)) == portal_settings(_team_stack())


def test_portal_step_reruns_when_the_app_client_changes():
    """CloudFormation resets the callback URLs when it updates the client; the portal must follow."""
    def wider_scopes(stack, team):
        team.user_pool_client.node.default_child.allowed_o_auth_scopes = ["email", "openid"]
    base, changed = portal_settings(_team_stack()), portal_settings(_team_stack(wider_scopes))
    assert changed["ClientSettings"] != base["ClientSettings"]
    assert changed["UserPoolSettings"] == base["UserPoolSettings"]
