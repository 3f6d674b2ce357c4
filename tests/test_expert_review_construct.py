"""ExpertReview on its own, as a fork would use it: CDK's own props, existing resources, a KMS-keyed
bucket, bad settings refused at synth naming the prop; cdk-nag clean alone."""
from __future__ import annotations

import json
import re

import pytest
from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from gt_common.output_layout import FINAL_QUALITY_REPORTS, WORKER_RESPONSES
from gt_common.review import FINAL_MANIFEST
from labeling_constructs import ExpertReview, ManifestBucket, PrivateWorkteam
from labeling_constructs import expert_review as construct
from tests.cdk_helpers import as_list
from tests.test_constructs import (  # noqa: F401 - sample_folder is a fixture
    WORKTEAM_ARN, actions_on, environment_of, inline_props, new_stack, role_statements, sample_folder, workflow,
)

EXPERTS = WORKTEAM_ARN.replace("reviewers", "experts")


def review(stack, flow, **overrides) -> ExpertReview:
    props = dict(workflow=flow, workteam_arn=EXPERTS, threshold=0.85,
                 start_function_props=inline_props("start", environment={"WORKFLOW_QUESTIONS": "[]"}),
                 task_function_props=inline_props("task"), decision_function_props=inline_props("decision"),
                 merge_function_props=inline_props("merge"), ui_template="<crowd-form></crowd-form>")
    props.update(overrides)
    return ExpertReview(stack, "Review", **props)


def test_expert_review_alone_with_an_existing_queue_and_a_kms_bucket(sample_folder):
    stack = new_stack()  # cdk-nag on: Template.from_stack fails on any open finding
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder, encryption_key=key),
                    create_labeling_job=False)
    queue = sqs.Queue(stack, "MyDeadLetters", enforce_ssl=True, encryption=sqs.QueueEncryption.KMS_MANAGED)
    expert = review(stack, flow, dead_letter_queue=queue, review_prefix="checks/", reviewers_per_object=2,
                    task_time_limit=Duration.minutes(20), route_any_abstention=True)
    template = Template.from_stack(stack).to_json()
    assert expert.dead_letter_queue is queue and len([r for r in template["Resources"].values()
                                                      if r["Type"] == "AWS::SQS::Queue"]) == 1
    env = environment_of(template, expert.start_function)
    assert env["WORKFLOW_QUESTIONS"] == "[]"  # the caller's, kept
    sizes = {name: resource["Properties"]["MemorySize"] for name, resource in template["Resources"].items()
             if resource["Type"] == "AWS::Lambda::Function"}
    for function, memory in ((expert.start_function, 3072), (expert.merge_function, 3072),
                             (expert.task_function, 512), (expert.decision_function, 512)):
        # the two that hold a job's whole output manifest (100,000 NER lines peaked at 1.6 GB) get more
        assert sizes[stack.get_logical_id(function.node.default_child)] == memory
    assert env[construct.CROWD_JOB_KEY_ENV] == flow.job_name_key
    assert env[construct.REVIEW_JOB_KEY_ENV] == expert.review_job_key != flow.job_name_key
    assert json.loads(env[construct.RULE_SETTINGS_ENV]) == {"enabled": True, "threshold": 0.85,
                                                            "routeAnyAbstention": True}
    # The final manifests beside each job's output manifest, and the merge's reports against the final labels in
    # their own folder: the only keys of the output the two write. The merge lists only the decided objects' answers.
    assert expert.final_manifests_pattern == f"{flow.output_prefix}*/{FINAL_MANIFEST}"
    assert expert.final_reports_pattern == f"{flow.output_prefix}*/{FINAL_QUALITY_REPORTS}"
    for function, writes, lists in (
            # The review manifests only: a grant on checks/* let the start function overwrite the review jobs' own
            # output (checks/jobs/...), which the merge takes as the experts' answers.
            (expert.start_function, {"/checks/*/review.manifest", f"/output/*/{FINAL_MANIFEST}"},
             [f"output/*/{FINAL_MANIFEST}"]),
            (expert.merge_function, {f"/output/*/{FINAL_MANIFEST}", f"/output/*/{FINAL_QUALITY_REPORTS}*"},
             [f"output/*/{WORKER_RESPONSES}*"])):
        statements = role_statements(template, function.role)
        assert {r["Fn::Join"][1][-1] for s in statements if "s3:PutObject" in as_list(s["Action"])
                for r in as_list(s["Resource"])} == writes
        listed = [s["Condition"]["StringLike"]["s3:prefix"] for s in statements if "s3:ListBucket" in as_list(s["Action"])]
        assert sorted(p for ps in listed for p in as_list(ps)) == sorted(["checks/*"] + lists)
    # The review page's pre-labeling reads the files its line names (its line comes in the event), no manifest.
    task_reads = actions_on(role_statements(template, expert.task_function.role))["s3:GetObject"]
    assert {r["Fn::Join"][1][-1] for r in task_reads} == {"/data/*"}
    human = expert.review_job_request["HumanTaskConfig"]
    assert (human["NumberOfHumanWorkersPerDataObject"], human["TaskTimeLimitInSeconds"]) == (2, 1200)
    assert "KmsKeyId" in expert.review_job_request["OutputConfig"]
    granted = actions_on(role_statements(template, expert.execution_role))
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"):
        assert granted[action], action
    writes = [r for s in role_statements(template, expert.execution_role) if "s3:PutObject" in as_list(s["Action"])
              for r in as_list(s["Resource"])]
    assert [w["Fn::Join"][1][-1] for w in writes] == ["/checks/jobs/*"]
    # It reads what the experts see, the page and the review folder: not the crowd job's input manifest, and its own
    # output once (it lies in the review folder).
    reads = actions_on(role_statements(template, expert.execution_role))["s3:GetObject"]
    assert sorted(r["Fn::Join"][1][-1] for r in reads) == sorted(
        [f"/{flow.input_bucket.data_prefix}*", f"/{flow.template_prefix}*", "/checks/*"])


def test_the_dead_letter_queue_is_watched_by_an_alarm(sample_folder):
    """Failed review events sat in the queue without a word until they expired 14 days later."""
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    expert = review(stack, flow)
    template = Template.from_stack(stack).to_json()
    [alarm] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarm is template["Resources"][stack.get_logical_id(expert.dead_letter_alarm.node.default_child)][
        "Properties"]
    assert (alarm["MetricName"], alarm["Namespace"], alarm["Statistic"]) == (
        "ApproximateNumberOfMessagesVisible", "AWS/SQS", "Maximum")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {
        "Fn::GetAtt": [stack.get_logical_id(expert.dead_letter_queue.node.default_child), "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "GreaterThanThreshold", 0, 1)
    assert alarm["TreatMissingData"] == "notBreaching" and "AlarmActions" not in alarm  # the caller adds theirs


def test_a_caller_cannot_replace_what_the_construct_wires(sample_folder):
    stack = new_stack(nag=False)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    expert = review(stack, flow, start_function_props=inline_props("start", environment={
        construct.CROWD_JOB_KEY_ENV: "someoneelse"}))
    assert environment_of(Template.from_stack(stack).to_json(), expert.start_function)[
        construct.CROWD_JOB_KEY_ENV] == flow.job_name_key


@pytest.mark.parametrize("overrides, message", [
    ({"threshold": 0}, "threshold"),
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": True}, "threshold"),
    ({"route_any_abstention": "yes"}, "route_any_abstention"),
    ({"review_prefix": "output/review/"}, "overlap: give each part of the bucket a prefix of its own"),
    ({"review_prefix": "/review/"}, "review_prefix"),
    ({"reviewers_per_object": 10}, "workers_per_object"),
    ({"task_title": "x" * 200}, "task_title"),
    ({"task_description": "Decide.\nThen submit."}, "task_description .* line break"),
    ({"ui_template": None}, "ui_template"),
])
def test_bad_settings_fail_at_synth_naming_the_prop(sample_folder, overrides, message):
    stack = new_stack(nag=False)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    with pytest.raises(ValueError, match=message):
        review(stack, flow, **overrides)


def test_a_reused_workteam_cannot_add_a_team():
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match="existing_workteam_arn"):
        PrivateWorkteam(stack, "Team", existing_workteam_arn=WORKTEAM_ARN).add_workteam("Experts", description="x")


def test_a_reader_of_the_final_outputs_gets_those_keys_only(sample_folder):
    """grant_read_final_manifests and grant_read_final_quality_reports: s3:GetObject on the final manifests' keys and
    the final reports' folders of the workflow's jobs, nothing else of the output (answers, Ground Truth's files)."""
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    expert = review(stack, flow)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    expert.grant_read_final_manifests(reader)
    expert.grant_read_final_quality_reports(reader)
    template = Template.from_stack(stack).to_json()  # cdk-nag runs here: the grants' wildcards are acknowledged
    statements = role_statements(template, reader)
    assert {a for s in statements for a in as_list(s["Action"])} == {"s3:GetObject"}
    assert {r["Fn::Join"][1][-1] for s in statements for r in as_list(s["Resource"])} == {
        f"/output/*/{FINAL_MANIFEST}", f"/output/*/{FINAL_QUALITY_REPORTS}*"}


def test_a_review_prefix_inside_another_part_of_the_bucket_is_refused(sample_folder):
    for prefix, other in (("output/review/", "workflow Fork/Workflow's output_prefix 'output/'"),
                          ("derived/", "workflow Fork/Workflow's derived_data_prefix 'derived/'")):
        stack = new_stack(nag=False)
        flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
        with pytest.raises(ValueError, match=re.escape(f"review Fork/Review: {other} and review Fork/Review's "
                                                       f"review_prefix {prefix!r} overlap")):
            review(stack, flow, review_prefix=prefix)


def test_a_review_in_a_stack_of_its_own_leaves_no_finding_open(sample_folder, tmp_path):
    """The review's grants on the workflow's bucket, made from another stack, are named in cdk-nag's findings by the
    bucket's cross-stack export: acknowledged as such, for the review's own prefixes only (a grant the review did not
    make stays open)."""
    import aws_cdk as cdk
    from aws_cdk import Validations
    from aws_cdk import aws_iam as iam
    from cdk_nag import AwsSolutionsChecks

    from tests.cdk_helpers import open_findings

    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    env = cdk.Environment(account="111122223333", region="us-east-1")
    labeling, reviews = cdk.Stack(app, "Labeling", env=env), cdk.Stack(app, "Reviews", env=env)
    flow = workflow(labeling, ManifestBucket(labeling, "Data", sample_data_dir=sample_folder))
    review(reviews, flow)
    reader = iam.Role(reviews, "Reader", assumed_by=iam.AccountRootPrincipal())
    flow.input_bucket.grant_read_prefix(reader, "elsewhere/")
    [(rule, paths)] = open_findings(app).items()
    assert re.fullmatch(r"AwsSolutions-IAM5\[Resource::Labeling:ExportsOutputFnGetAttDataBucket\w+Arn\w+/elsewhere/\*]",
                        rule), rule
    assert paths == ["Reviews/Reader/DefaultPolicy/Resource"]


def test_review_jobs_carry_the_workflows_tags_or_their_own(sample_folder):
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False,
                    tags={"cost-center": "42"})
    expert = review(stack, flow)
    template = Template.from_stack(stack).to_json()
    assert expert.review_job_request["Tags"] == [{"Key": "cost-center", "Value": "42"}]
    # The start function sends the request it is given: with the tags.
    assert '\\"Tags\\":[{\\"Key\\":\\"cost-center\\"' in json.dumps(
        environment_of(template, expert.start_function)[construct.REVIEW_REQUEST_ENV])
    granted = actions_on(role_statements(template, expert.start_function.role))
    assert granted["sagemaker:AddTags"] == granted["sagemaker:CreateLabelingJob"]  # the review jobs, only
    assert "sagemaker:AddTags" not in actions_on(role_statements(template, expert.merge_function.role))

    untagged = new_stack(nag=False)
    flow = workflow(untagged, ManifestBucket(untagged, "Data", sample_data_dir=sample_folder), create_labeling_job=False,
                    tags={"cost-center": "42"})
    expert = review(untagged, flow, tags={})
    assert "Tags" not in expert.review_job_request
    assert "sagemaker:AddTags" not in actions_on(role_statements(Template.from_stack(untagged).to_json(),
                                                                 expert.start_function.role))


def test_every_grant_returns_the_grant_and_reading_the_output_may_list_it(sample_folder):
    """CDK's convention: each grant_* returns an iam.Grant (with the key's statement where the bucket has a key).
    Reading a workflow's output needs listing: raw answers are under keys named by iteration, object and time."""
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder, encryption_key=key),
                    create_labeling_job=False)
    expert = review(stack, flow)
    bucket = flow.input_bucket
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    grants = {
        "grant_read_output": flow.grant_read_output(reader),
        "grant_invoke_workflow_functions": flow.grant_invoke_workflow_functions(reader),
        "grant_start_labeling_job": flow.grant_start_labeling_job(reader),
        "grant_invoke_review_functions": expert.grant_invoke_review_functions(reader),
        "grant_read_final_manifests": expert.grant_read_final_manifests(reader),
        "grant_read_data": bucket.grant_read_data(reader),
        "grant_read_prefix": bucket.grant_read_prefix(reader, "reports/"),
        "grant_write_prefix": bucket.grant_write_prefix(reader, "reports/"),
        "grant_list_prefixes": bucket.grant_list_prefixes(reader, ["reports/"]),
        "grant_bucket_listing": bucket.grant_bucket_listing(reader),
    }
    for name, grant in grants.items():
        assert isinstance(grant, iam.Grant) and grant.success, name
    # The key's statement is part of the grant that needed it.
    assert len(grants["grant_read_prefix"].principal_statements) == 2
    assert len(grants["grant_read_data"].principal_statements) == 4
    # The construct's own grants acknowledge their prefix's wildcard; a grant on a prefix of the caller's choosing
    # is the caller's to acknowledge.
    bucket.acknowledge_prefix_wildcard(reader, "reports/", "The reader's own grants, each on one prefix.")
    template = Template.from_stack(stack).to_json()
    statements = role_statements(template, reader)
    listed = [s for s in statements if s["Action"] == "s3:ListBucket" and "Condition" in s]
    assert sorted(p for s in listed for p in as_list(s["Condition"]["StringLike"]["s3:prefix"])) == [
        "output/*", "reports/*"]
    # The review's own functions read the workflow's output without listing it (no wider than before).
    start = role_statements(template, expert.start_function.role)
    prefixes = [p for s in start if "s3:ListBucket" in as_list(s["Action"]) and "Condition" in s
                for p in as_list(s["Condition"]["StringLike"]["s3:prefix"])]
    assert "output/*" not in prefixes and prefixes


def test_the_review_jobs_may_run_with_an_existing_role_even_the_workflows_own(sample_folder):
    """One role for the workflow's jobs and the review's (a company's labeling role): nothing more is made, both jobs
    name it, it gets both constructs' access, and cdk-nag stays clean."""
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    own = iam.Role(stack, "CompanyLabelingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), existing_execution_role=own)
    expert = review(stack, flow, existing_execution_role=own)
    assert expert.execution_role is own is flow.execution_role
    template = Template.from_stack(stack).to_json()
    own_arn = {"Fn::GetAtt": [stack.get_logical_id(own.node.default_child), "Arn"]}
    assert stack.resolve(expert.review_job_request)["RoleArn"] == own_arn
    invoked = actions_on(role_statements(template, own))["lambda:InvokeFunction"]
    for function in (flow.pre_labeling_function, flow.consolidation_function, expert.task_function,
                     expert.decision_function):
        assert {"Fn::GetAtt": [stack.get_logical_id(function.node.default_child), "Arn"]} in invoked
    passing = [s for s in role_statements(template, expert.start_function.role) if "iam:PassRole" in as_list(s["Action"])]
    assert [s["Resource"] for s in passing] == [own_arn]


def test_the_readmes_bundler_props_keep_the_start_and_merge_functions_memory_and_timeout(sample_folder):
    """The README makes function props with package_function_props, which set 512 MB and a minute on every function:
    laid over the construct's defaults, the start and merge functions, which hold a job's whole output manifest (the
    merge's budget assumes five minutes), got 512 MB and 60 s. The construct's defaults hold now; a caller's explicit
    memory_size or timeout still wins."""
    from labeling_constructs import package_function_props

    def bundled(entry_point, **sizes):
        return package_function_props("expert_review", handler=f"handler.{entry_point}",
                                      environment={"WORKFLOW_QUESTIONS": "[]"}, **sizes)

    def sizes(stack, expert):
        resources = Template.from_stack(stack).to_json()["Resources"]
        functions = {"start": expert.start_function, "merge": expert.merge_function, "task": expert.task_function,
                     "decision": expert.decision_function}
        properties = {name: resources[stack.get_logical_id(function.node.default_child)]["Properties"]
                      for name, function in functions.items()}
        return {name: (props["MemorySize"], props["Timeout"]) for name, props in properties.items()}

    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    expert = review(stack, flow, start_function_props=bundled("on_workflow_job_completed"),
                    merge_function_props=bundled("on_review_job_completed"), task_function_props=bundled("review_task"),
                    decision_function_props=bundled("review_decision"))
    assert sizes(stack, expert) == {"start": (construct.ASYNCHRONOUS_MEMORY_MB, 300),
                                    "merge": (construct.ASYNCHRONOUS_MEMORY_MB, 300),
                                    "task": (512, 60), "decision": (512, 60)}
    assert construct.ASYNCHRONOUS_MEMORY_MB == 3072

    stack = new_stack(nag=False)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    expert = review(stack, flow, start_function_props=bundled("on_workflow_job_completed", memory_size=4096),
                    merge_function_props=bundled("on_review_job_completed", timeout=Duration.minutes(10)),
                    task_function_props=bundled("review_task", memory_size=256, timeout=Duration.seconds(30)),
                    decision_function_props=bundled("review_decision"))
    assert sizes(stack, expert) == {"start": (4096, 300), "merge": (construct.ASYNCHRONOUS_MEMORY_MB, 600),
                                    "task": (256, 30), "decision": (512, 60)}


@pytest.mark.parametrize("acknowledged", [True, False])
def test_reading_the_final_outputs_and_the_data_leaves_the_callers_role_clean_under_cdk_nag(
        sample_folder, tmp_path, acknowledged):
    """grant_read_final_manifests, grant_read_final_quality_reports and grant_read_data made the grantee's policy
    fail cdk-nag (IAM5 on each wildcard), unlike grant_read_output: a fork had to acknowledge them by hand. Each is
    acknowledged on the grantee's policy, scoped to its own pattern, unless the caller asks to do it itself."""
    import aws_cdk as cdk
    from aws_cdk import Validations
    from aws_cdk import aws_iam as iam
    from cdk_nag import AwsSolutionsChecks

    from tests.cdk_helpers import open_findings

    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Fork")
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    expert = review(stack, flow)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    expert.grant_read_final_manifests(reader, acknowledge_prefix_wildcard=acknowledged)
    expert.grant_read_final_quality_reports(reader, acknowledge_prefix_wildcard=acknowledged)
    flow.input_bucket.grant_read_data(reader, acknowledge_prefix_wildcard=acknowledged)
    findings = open_findings(app)
    if acknowledged:
        assert findings == {}
    else:
        wildcards = sorted(re.fullmatch(r"AwsSolutions-IAM5\[Resource::<DataBucket\w+\.Arn>/(.+)]", rule).group(1)
                           for rule in findings)
        assert wildcards == sorted([flow.input_bucket.data_prefix + "*", expert.final_manifests_pattern,
                                    expert.final_reports_pattern + "*"])
        assert all(paths == ["Fork/Reader/DefaultPolicy/Resource"] for paths in findings.values())
