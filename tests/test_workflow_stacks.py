"""Every workflow's stack as the app synthesizes it: a snapshot, cfn-lint, cdk-nag, and assertions on
what keeps it secure and what it must carry from its definition.

Parametrized over ``workflows.definitions()``: a new workflow gets all of these by existing.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import workflows
from workflows.model import GENERIC_CONSOLIDATION
from gt_common.questions import METHOD_ENV
from gt_common.questions import QUESTIONS_ENV, questions_to_json
from labeling_constructs.labeling_job_resource.request import create_request
from stacks import load_environment
from tests.cdk_helpers import (
    CDK_CONTEXT, REPO_ROOT, as_list, execution_role, invoked_handlers, masked, object_prefixes, policy_statements,
    resolve, resources_of_type, statements_of_role, statements_passing_role,
)
from tests.conftest import STACK_TEST_ENVIRONMENTS, once_per_run
from tests.sagemaker_checks import check_create_labeling_job

DEFINITIONS = sorted(workflows.definitions())
WORKFORCE = "LabelingWorkforce"


def config(env_name):
    return load_environment(CDK_CONTEXT["environments"], env_name)


def stack_name(workflow: str, env_name: str) -> str:
    return f"{workflows.definition(workflow).stack_name}-{env_name}"


def artifact(assemblies, workflow, env_name):
    return assemblies[env_name].get_stack_by_name(stack_name(workflow, env_name))


def template_of(assemblies, workflow, env_name):
    return artifact(assemblies, workflow, env_name).template


def function_of(template, handler):
    [function] = [f for f in resources_of_type(template, "AWS::Lambda::Function").values()
                  if f["Properties"]["Handler"] == handler]
    return function["Properties"]


def handlers(definition):
    return {f"{package.package}.{package.handler}" for package in (definition.pre_labeling, definition.consolidation)}


def input_bucket(template):
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    [(logical_id, bucket)] = [(k, v) for k, v in buckets.items() if "CorsConfiguration" in v["Properties"]]
    return logical_id, bucket


# -- the app has one stack per definition, and each passes the checks ------------------------------
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_the_app_makes_one_stack_per_workflow_definition(assemblies, env_name):
    names = {stack.stack_name for stack in assemblies[env_name].stacks}
    assert names == {f"{WORKFORCE}-{env_name}", *(stack_name(w, env_name) for w in DEFINITIONS)}
    for workflow in DEFINITIONS:
        outputs = template_of(assemblies, workflow, env_name)["Outputs"]
        assert outputs["WorkflowName"]["Value"] == workflow


@pytest.mark.parametrize("workflow", DEFINITIONS)
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_snapshot(assemblies, workflow, env_name, snapshot):
    assert masked(template_of(assemblies, workflow, env_name)) == snapshot


@pytest.fixture(scope="session")
def cfn_lint_runs(assemblies, tmp_path_factory):
    """cfn-lint run once per test run on every stack template of every test environment (its rules and schemas
    load once, not once per stack): its JSON findings and what it wrote on stderr."""
    templates = [stack.template_full_path for env_name in STACK_TEST_ENVIRONMENTS for stack in assemblies[env_name].stacks]

    def lint(folder: Path) -> None:
        result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), "--format", "json",
                                 "--ignore-checks", "W3005", "--", *templates], capture_output=True, text=True)
        (folder / "findings.json").write_text(result.stdout)
        (folder / "stderr.txt").write_text(result.stderr)

    folder = once_per_run(tmp_path_factory, "cfn-lint", lint)
    return json.loads((folder / "findings.json").read_text() or "[]"), (folder / "stderr.txt").read_text()


@pytest.mark.parametrize("workflow", [*DEFINITIONS, WORKFORCE])
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_cfn_lint_reports_nothing_but_what_is_meant(assemblies, cfn_lint_runs, workflow, env_name):
    """Clean apart from W3005 (the redundant DependsOn CDK writes, aws/aws-cdk#24578) and W6001 on the
    LabelingJobRequest output only: that request names the workteam, which the workforce stack
    exports, so the output holds an imported value by design (a request to send, not a re-export).
    The stack's findings are those of its template (and any that names no template, e.g. cfn-lint's own error)."""
    name = f"{WORKFORCE}-{env_name}" if workflow == WORKFORCE else stack_name(workflow, env_name)
    path = Path(assemblies[env_name].get_stack_by_name(name).template_full_path)
    all_findings, stderr = cfn_lint_runs
    findings = [f for f in all_findings if f["Filename"] is None or Path(f["Filename"]) == path]
    unexpected = [f"{f['Rule']['Id']} {'/'.join(map(str, f['Location']['Path'] or []))}: {f['Message']}"
                  for f in findings
                  if not (f["Rule"]["Id"] == "W6001" and (f["Location"]["Path"] or [])[:2] == ["Outputs", "LabelingJobRequest"])]
    assert unexpected == [], stderr


@pytest.mark.parametrize("workflow", [*DEFINITIONS, WORKFORCE])
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_cdk_nag_finds_nothing_unacknowledged(assemblies, workflow, env_name):
    """The app synthesizes with AwsSolutionsChecks on (an open finding fails synthesis); its report
    shows each stack's findings all acknowledged, each with a reason."""
    name = f"{WORKFORCE}-{env_name}" if workflow == WORKFORCE else stack_name(workflow, env_name)
    report = json.loads((Path(assemblies[env_name].directory) / "validation-report.json").read_text())
    [plugin] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert plugin["conclusion"] == "success"

    def in_stack(violation):
        return [c for c in violation["violatingConstructs"] if c["constructPath"].startswith(f"{name}/")]
    assert [v["ruleName"] for v in plugin["violations"] if in_stack(v)] == []
    suppressed = [v for v in plugin.get("suppressedViolations", []) if in_stack(v)]
    assert suppressed, "expected the stack's reviewed findings to be listed as acknowledged"


@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1"])
def test_an_environment_pinned_to_an_account_and_region_synthesizes_with_its_findings_acknowledged(tmp_path, region):
    """As the README pins prod: the acknowledged findings' ARNs then carry the account, region and partition written
    in (they were acknowledged as <AWS::AccountId>, <AWS::Region> only, and synthesis failed)."""
    import aws_cdk as cdk

    from app import build_app

    environments = {**CDK_CONTEXT["environments"],
                    "pinned": {**CDK_CONTEXT["environments"]["prod"], "account": "123456789012", "region": region}}
    app = cdk.App(outdir=str(tmp_path), context={**CDK_CONTEXT, "environments": environments, "env": "pinned",
                                                 "aws:cdk:bundling-stacks": []})
    build_app(app)
    assembly = app.synth()  # an open finding raises here
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    [plugin] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert plugin["conclusion"] == "success" and plugin["violations"] == []
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    template = json.dumps(assembly.get_stack_by_name(stack_name(DEFINITIONS[0], "pinned")).template)
    assert f"arn:{partition}:logs:{region}:123456789012:log-group:/aws/sagemaker/LabelingJobs:*" in template


# -- security --------------------------------------------------------------------------------------
@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_input_bucket_is_encrypted_private_versioned_logged_with_ground_truth_cors(assemblies, workflow):
    _, bucket = input_bucket(template_of(assemblies, workflow, "prod"))
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "SSEAlgorithm"] == "AES256"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    assert props["CorsConfiguration"]["CorsRules"] == [{
        "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposedHeaders": ["Access-Control-Allow-Origin"]}]


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_every_bucket_denies_plain_http(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    buckets = set(resources_of_type(template, "AWS::S3::Bucket"))
    denied = set()
    for policy in resources_of_type(template, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                denied.add(policy["Properties"]["Bucket"]["Ref"])
    assert denied == buckets and len(buckets) == 2


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_every_bucket_has_acls_disabled(assemblies, workflow):
    """The access-log bucket too: S3 delivers its logs under a bucket policy (cdk.json sets
    @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy), so it needs no ACL."""
    template = template_of(assemblies, workflow, "prod")
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # ... and the log delivery is granted by that policy, to the data bucket's logs only.
    _, data = input_bucket(template)
    logs = data["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    [policy] = [p for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": logs}]
    [delivery] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert delivery["Action"] == "s3:PutObject" and delivery["Condition"]["StringEquals"]["aws:SourceAccount"]


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_retention_follows_the_environment(assemblies, workflow):
    prod, dev = template_of(assemblies, workflow, "prod"), template_of(assemblies, workflow, "dev")
    assert {b["DeletionPolicy"] for b in resources_of_type(prod, "AWS::S3::Bucket").values()} == {"Retain"}
    assert {b["DeletionPolicy"] for b in resources_of_type(dev, "AWS::S3::Bucket").values()} == {"Delete"}
    assert resources_of_type(dev, "Custom::S3AutoDeleteObjects")
    assert not resources_of_type(prod, "Custom::S3AutoDeleteObjects")


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_log_groups_and_the_dead_letter_queue_follow_the_environments_removal_policy(assemblies, workflow):
    """removalPolicy decides what becomes of everything the stack keeps data in, not of the buckets only: dev's
    `cdk destroy` leaves no log group behind, prod keeps every log group and the review's dead-letter queue (the
    events whose review could not start) as it keeps the buckets."""
    prod, dev = template_of(assemblies, workflow, "prod"), template_of(assemblies, workflow, "dev")
    for template, policy in ((prod, "Retain"), (dev, "Delete")):
        groups = resources_of_type(template, "AWS::Logs::LogGroup")
        assert groups and {group.get("DeletionPolicy", "Delete") for group in groups.values()} == {policy}
    queues = resources_of_type(prod, "AWS::SQS::Queue")
    assert queues and {queue.get("DeletionPolicy", "Delete") for queue in queues.values()} == {"Retain"}


@pytest.mark.parametrize("workflow", [*DEFINITIONS, WORKFORCE])
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_every_function_logs_to_a_log_group_of_its_stack(assemblies, workflow, env_name):
    """CDK's own functions too: its BucketDeployment handler (data, manifest, templates) and, with removalPolicy
    destroy, its auto-delete-objects provider logged to /aws/lambda/<name>, a group Lambda made, kept forever and left
    behind by `cdk destroy`. Each now logs to a group of the stack, which the test above holds to the environment."""
    name = f"{WORKFORCE}-{env_name}" if workflow == WORKFORCE else stack_name(workflow, env_name)
    template = assemblies[env_name].get_stack_by_name(name).template
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert functions and all(f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups for f in functions.values())
    deployment_handlers = [f for key, f in functions.items() if key.startswith("CustomCDKBucketDeployment")]
    assert len(deployment_handlers) == (0 if workflow == WORKFORCE else 1)
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 365


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_execution_role_trusts_sagemaker_with_no_condition_ground_truth_is_not_documented_to_meet(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    role_id, role = execution_role(template)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    # Only the job function may pass it, and only to SageMaker.
    passing = statements_passing_role(template, role_id)
    assert [s["Condition"] for s in passing] == [{"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}]


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_execution_role_invokes_exactly_the_definitions_two_functions(assemblies, workflow):
    assert invoked_handlers(template_of(assemblies, workflow, "prod")) == handlers(workflows.definition(workflow))


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_execution_role_s3_access_is_scoped_to_the_workflows_prefixes(assemblies, workflow):
    definition = workflows.definition(workflow)
    template = template_of(assemblies, workflow, "prod")
    role_id, _ = execution_role(template)
    reads, writes = object_prefixes(template, role_id)
    assert reads == {"/manifests/input.manifest", f"/{definition.data_prefix}*", f"/{definition.derived_data_prefix}*",
                     "/templates/*", "/output/*"}
    assert writes == {"/output/*"}
    bucket_id, _ = input_bucket(template)
    for statement in statements_of_role(template, role_id):
        actions = as_list(statement["Action"])
        if "s3:ListBucket" in actions:  # as AWS's policy grants it: key names, no content, no condition
            assert set(actions) == {"s3:ListBucket", "s3:GetBucketLocation"} and "Condition" not in statement
            assert statement["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
        if "s3:AbortMultipartUpload" in actions:
            assert [r["Fn::Join"][1][-1] for r in as_list(statement["Resource"])] == ["/output/*"]


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_execution_role_logs_and_metrics_are_ground_truths_own(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    role_id, _ = execution_role(template)
    statements = statements_of_role(template, role_id)
    [metrics] = [s for s in statements if "cloudwatch:PutMetricData" in as_list(s["Action"])]
    assert metrics["Condition"] == {"StringEqualsIgnoreCase": {
        "cloudwatch:namespace": ["AWS/Sagemaker/LabelingJobs", "AWS/SageMaker/Workteam"]}}
    [logs] = [s for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
    assert all("log-group:/aws/sagemaker/LabelingJobs" in json.dumps(r) for r in logs["Resource"])


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_job_functions_reach_only_jobs_named_with_the_resources_key(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    key = job["Properties"]["JobNameKey"]
    assert re.fullmatch(r"[0-9a-f]{10}", key)
    assert job["Properties"]["JobNameLabel"] == workflows.definition(workflow).label_attribute_name
    job_roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in resources_of_type(template, "AWS::Lambda::Function").values()
                 if f["Properties"].get("Handler", "").startswith("labeling_job_resource.")}
    scopes = {json.dumps(r) for role_id in job_roles for s in statements_of_role(template, role_id)
              if any(a.startswith("sagemaker:") and "LabelingJob" in a for a in as_list(s["Action"]))
              for r in as_list(s["Resource"])}
    assert len(job_roles) == 2 and len(scopes) == 1 and scopes.pop().endswith(f':labeling-job/{key}-*"]]}}')


def test_the_workflows_of_an_environment_never_share_a_job_scope(assemblies):
    """Every workflow stack deploys into one account: each job resource reaches only its own jobs."""
    keys = set()
    for workflow in DEFINITIONS:
        [job] = resources_of_type(template_of(assemblies, workflow, "prod"), "Custom::GroundTruthLabelingJob").values()
        keys.add(job["Properties"]["JobNameKey"])
    assert len(keys) == len(DEFINITIONS)


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_no_policy_allows_every_action_or_deletes_objects(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    for statement in policy_statements(template):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement
    project_roles = {k for k in resources_of_type(template, "AWS::IAM::Role") if "BucketDeployment" not in k}
    for role_id in project_roles:
        for statement in statements_of_role(template, role_id):
            assert "s3:DeleteObject" not in json.dumps(statement["Action"]), (role_id, statement)


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_project_functions_run_the_newest_python_and_carry_no_managed_policy(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    functions = resources_of_type(template, "AWS::Lambda::Function")
    packages = {h.split(".")[0] for h in handlers(workflows.definition(workflow))} | {"labeling_job_resource"}
    ours = {k: v for k, v in functions.items() if v["Properties"].get("Handler", "").split(".")[0] in packages}
    assert len(ours) == 4
    roles = resources_of_type(template, "AWS::IAM::Role")
    for function in ours.values():
        assert function["Properties"]["Runtime"] == "python3.14"
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert "ManagedPolicyArns" not in role["Properties"]


# -- what the stack takes from the definition and the environment -----------------------------------
@pytest.mark.parametrize("workflow", DEFINITIONS)
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_functions_are_configured_from_the_definition(assemblies, workflow, env_name):
    definition = workflows.definition(workflow)
    template = template_of(assemblies, workflow, env_name)
    bucket_id, _ = input_bucket(template)
    records = {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, f"/{definition.derived_data_prefix}task-records/"]]}
    pre = function_of(template, f"{definition.pre_labeling.package}.{definition.pre_labeling.handler}")
    assert (pre["MemorySize"], pre["Timeout"]) == (definition.pre_labeling.memory_mb, definition.pre_labeling.timeout_seconds)
    assert pre["Environment"]["Variables"] == {
        **definition.pre_labeling.environment, "DERIVED_DATA_PREFIX": definition.derived_data_prefix,
        "TASK_RECORDS_URI": records}
    post = function_of(template, f"{definition.consolidation.package}.{definition.consolidation.handler}")
    assert (post["MemorySize"], post["Timeout"]) == (definition.consolidation.memory_mb,
                                                     definition.consolidation.timeout_seconds)
    assert post["Environment"]["Variables"] == {
        **definition.consolidation.environment, QUESTIONS_ENV: questions_to_json(definition.questions),
        METHOD_ENV: config(env_name).consolidation_method, "TASK_RECORDS_URI": records}


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_labeling_job_is_created_only_where_configured_with_the_definitions_settings(assemblies, workflow):
    definition = workflows.definition(workflow)
    prod, dev = template_of(assemblies, workflow, "prod"), template_of(assemblies, workflow, "dev")
    assert not resources_of_type(dev, "Custom::GroundTruthLabelingJob")
    assert "LabelingJobName" not in dev["Outputs"] and "JobNameKey" in dev["Outputs"]  # for a job sent by hand
    [job] = resources_of_type(prod, "Custom::GroundTruthLabelingJob").values()
    props = job["Properties"]
    assert props["LabelAttributeName"] == definition.label_attribute_name
    assert (props["TaskTitle"], props["TaskDescription"]) == (definition.title, definition.description)
    assert props["TaskKeywords"] == list(definition.keywords)
    assert props["TaskTimeLimitInSeconds"] == str(definition.task_time_limit_seconds)
    assert props["NumberOfHumanWorkersPerDataObject"] == str(config("prod").workers_per_object)
    assert "/manifests/input.manifest" in json.dumps(props["ManifestS3Uri"])
    assert "/templates/" in json.dumps(props["UiTemplateS3Uri"])
    assert "Fn::ImportValue" in json.dumps(props["WorkteamArn"])  # the shared workforce stack's workteam
    assert set(prod["Outputs"]) == {"WorkflowName", "BucketName", "ManifestUri", "OutputUri", "LabelingJobRequest",
                                    "LabelingJobName", "ReviewSettings", "ReviewUri", "JobNameKey"}  # review is on in prod
    # A job sent by hand from LabelingJobRequest is reviewed when its name starts with this key (the review's rule).
    assert prod["Outputs"]["JobNameKey"]["Value"] == props["JobNameKey"]


def ui_template_deployed(assemblies, workflow, env_name) -> str:
    template = template_of(assemblies, workflow, env_name)
    [deployment] = [d for k, d in resources_of_type(template, "Custom::CDKBucketDeployment").items()
                    if d["Properties"].get("SystemMetadata", {}).get("content-type") == "text/html"
                    and not k.startswith("ExpertReview")]  # the review page has tests of its own
    [key] = deployment["Properties"]["SourceObjectKeys"]
    folder = Path(assemblies[env_name].directory) / f"asset.{key.removesuffix('.zip')}"
    [page] = [path for path in folder.rglob("*") if path.is_file()]
    return page.read_text(encoding="utf-8")


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_the_deployed_template_is_the_definitions_with_its_labels(assemblies, workflow):
    definition = workflows.definition(workflow)
    page = ui_template_deployed(assemblies, workflow, "prod")
    assert page == definition.worker_template()
    assert "[[labels:" not in page


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_the_truth_file_is_never_uploaded(assemblies, workflow):
    definition = workflows.definition(workflow)
    template = template_of(assemblies, workflow, "prod")
    uploaded = set()
    for deployment in resources_of_type(template, "Custom::CDKBucketDeployment").values():
        for key in deployment["Properties"]["SourceObjectKeys"]:
            folder = Path(assemblies["prod"].directory) / f"asset.{key.removesuffix('.zip')}"
            uploaded |= {path.name for path in folder.rglob("*") if path.is_file()}
    assert definition.truth_path.name not in uploaded
    assert "input.manifest" in uploaded


# -- what the stack tells the world (contract 5) -------------------------------------------------------
@pytest.mark.parametrize("workflow", DEFINITIONS)
@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_labeling_job_request_output_is_a_create_labeling_job_request(assemblies, workflow, env_name):
    """Resolved as CloudFormation would, plus a name, the output is a request SageMaker's model accepts,
    and where the job is created it is exactly what the job resource sends."""
    definition = workflows.definition(workflow)
    template = template_of(assemblies, workflow, env_name)
    request = json.loads(resolve(template["Outputs"]["LabelingJobRequest"]["Value"], template))
    assert "LabelingJobName" not in request
    assert request["LabelAttributeName"] == definition.label_attribute_name
    human = request["HumanTaskConfig"]
    assert (human["TaskTitle"], human["TaskTimeLimitInSeconds"]) == (definition.title,
                                                                      definition.task_time_limit_seconds)
    assert human["NumberOfHumanWorkersPerDataObject"] == config(env_name).workers_per_object
    bucket_id, _ = input_bucket(template)
    assert request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == \
        f"s3://{bucket_id.lower()}/manifests/input.manifest"
    check_create_labeling_job({"LabelingJobName": "a-job-name", **request})
    jobs = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    for job in jobs:  # prod only
        properties = {**resolve(job["Properties"], template), "ServiceToken": "token"}
        assert create_request(properties, "a-job-name") == {"LabelingJobName": "a-job-name", **request}


def test_stacks_name_no_account_or_region(assemblies):
    for env_name in STACK_TEST_ENVIRONMENTS:
        for stack in assemblies[env_name].stacks:
            assert stack.environment.account == "unknown-account" and stack.environment.region == "unknown-region"


def test_nothing_workflow_specific_in_the_constructs_the_stacks_or_the_app():
    """A workflow is its definition: no construct, stack or app line names one, its parts or its labels."""
    words = {"MPLCONFIGDIR", "matplotlib"}
    for definition in workflows.definitions().values():
        own_consolidation = {definition.consolidation.package} - {GENERIC_CONSOLIDATION.package}  # the generic one is no workflow's
        words |= {definition.name, definition.stack_name, definition.label_attribute_name,
                  definition.pre_labeling.package, *own_consolidation, definition.title,
                  # a question type's own labels (Yes/No, checked/unchecked) belong to no workflow
                  *(label for question in definition.questions if question.kind not in ("yes-no", "checkbox")
                    for label in question.labels),
                  *(question.name for question in definition.questions)}
    files = [*sorted((REPO_ROOT / "labeling_constructs").rglob("*.py")), *sorted((REPO_ROOT / "stacks").glob("*.py")),
             REPO_ROOT / "app.py"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        found = sorted(word for word in words if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text))
        assert not found, f"{path.relative_to(REPO_ROOT)} names {found}"


def test_an_environments_data_replaces_a_workflows_sample_data_and_names_only_its_workflows(tmp_path):
    """cdk.json's "data" (or the runner's data context) deploys a requester's folder instead of the sample data;
    a workflow the app does not have, or a folder without a manifest, is refused naming it."""
    import aws_cdk as cdk

    from app import build_app

    def app(data, context_data=None, out="out"):
        context = {"env": "qa", "environments": {"qa": {"data": data}}, "aws:cdk:bundling-stacks": []}
        if context_data is not None:
            context["data"] = context_data
        return build_app(cdk.App(outdir=str(tmp_path / out), context=context))

    def revisions(built):
        return {stack.node.id.split("-")[0]: stack.data.manifest_revision for stack in built.node.children
                if hasattr(stack, "data")}

    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(ValueError, match=r"data names no workflow of the app: weldingg \(the workflows: "):
        app({"weldingg": str(data)})
    with pytest.raises(ValueError, match=rf"the data of welding, {re.escape(str(data))}, is not a folder with a "
                                         "manifest.jsonl"):
        app({}, {"welding": str(data)})
    (data / "manifest.jsonl").write_text('{"source": "${DATA_PREFIX_URI}/datasets/mine.json"}\n')
    (data / "datasets").mkdir()
    (data / "datasets" / "mine.json").write_text("{}")
    mine, sample = revisions(app({"welding": str(data)})), revisions(app({}, out="sample"))
    assert mine["WeldingLabeling"] != sample["WeldingLabeling"]  # what is deployed, exactly
    assert {name: revision for name, revision in mine.items() if name != "WeldingLabeling"} == \
        {name: revision for name, revision in sample.items() if name != "WeldingLabeling"}
