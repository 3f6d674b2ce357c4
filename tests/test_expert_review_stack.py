"""Expert review's infrastructure as the app synthesizes it: on where an environment turns it on (prod
here), absent in dev, and least privilege throughout. The whole stacks' snapshots, cfn-lint and cdk-nag
are in test_workflow_stacks.py and test_workforce_stack.py (prod has review on, so they cover it)."""
from __future__ import annotations

import json

import pytest

import workflows
from expert_review import settings as review_settings
from expert_review.layout import REVIEW_MANIFEST
from gt_common.output_layout import FINAL_QUALITY_REPORTS
from gt_common.review import FINAL_MANIFEST, REVIEW_SETTINGS_OUTPUT
from labeling_constructs import expert_review as construct
from stacks import load_environment
from tests.cdk_helpers import (
    CDK_CONTEXT, IMPORTED_WORKTEAM_ARN, as_list, execution_role, object_prefixes, resolve, resources_of_type,
    sagemaker_roles, statements_of_role,
)
from tests.sagemaker_checks import check_create_labeling_job

DEFINITIONS = sorted(workflows.definitions())
HANDLERS = {f"expert_review.handler.{name}" for name in
            ("on_workflow_job_completed", "review_task", "review_decision", "on_review_job_completed")}


def template_of(assemblies, workflow, env_name):
    name = f"{workflows.definition(workflow).stack_name}-{env_name}"
    return assemblies[env_name].get_stack_by_name(name).template


def review_functions(template):
    return {f["Properties"]["Handler"].rsplit(".", 1)[-1]: (k, f) for k, f in
            resources_of_type(template, "AWS::Lambda::Function").items() if f["Properties"]["Handler"] in HANDLERS}


def review_role(template):
    [(role_id, role)] = [(k, v) for k, v in sagemaker_roles(template).items() if k.startswith("ExpertReview")]
    return role_id, role


def environment(template, entry_point):
    _, function = review_functions(template)[entry_point]
    return function["Properties"]["Environment"]["Variables"]


# -- on in prod, nothing in dev ------------------------------------------------------------------------
def test_review_is_on_in_prod_and_off_in_dev_by_cdk_json():
    environments = CDK_CONTEXT["environments"]
    assert load_environment(environments, "dev").review.enabled is False
    assert load_environment(environments, "prod").review.enabled is True


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_dev_has_no_review_resources(assemblies, workflow):
    template = template_of(assemblies, workflow, "dev")
    assert not review_functions(template)
    assert not resources_of_type(template, "AWS::Events::Rule") and not resources_of_type(template, "AWS::SQS::Queue")
    assert len(sagemaker_roles(template)) == 1
    assert not any(key.startswith("ExpertReview") for key in template["Resources"])
    assert json.loads(template["Outputs"][REVIEW_SETTINGS_OUTPUT]["Value"]) == {
        "enabled": False, "threshold": 0.9, "routeAnyAbstention": False}
    workforce = assemblies["dev"].get_stack_by_name("LabelingWorkforce-dev").template
    assert len(resources_of_type(workforce, "AWS::SageMaker::Workteam")) == 1


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_prod_has_the_review_chain(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    assert set(review_functions(template)) == {h.rsplit(".", 1)[-1] for h in HANDLERS}
    assert len(resources_of_type(template, "AWS::Events::Rule")) == 2
    config = load_environment(CDK_CONTEXT["environments"], "prod")
    assert json.loads(template["Outputs"][REVIEW_SETTINGS_OUTPUT]["Value"]) == config.review.as_json()
    for entry_point in ("on_workflow_job_completed", "on_review_job_completed"):
        # The environment's settings (cdk.json's review block, read once), as the functions read them.
        env = environment(template, entry_point)
        assert review_settings.rule_settings(env) == config.review


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_the_review_functions_are_sized_by_the_construct_but_the_review_pages(assemblies, workflow):
    """The stack leaves start and merge (a whole output manifest each) to the construct's defaults, one source for
    their size, and asks less for the review page's pre-labeling, which handles one object."""
    functions = review_functions(template_of(assemblies, workflow, "prod"))
    sizes = {name: (f["Properties"]["MemorySize"], f["Properties"]["Timeout"]) for name, (_, f) in functions.items()}
    assert sizes == {"on_workflow_job_completed": (construct.ASYNCHRONOUS_MEMORY_MB, 300),
                     "on_review_job_completed": (construct.ASYNCHRONOUS_MEMORY_MB, 300),
                     "review_task": (256, 30), "review_decision": (512, 60)}


# -- the events ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_rules_match_only_this_workflows_completed_jobs_and_its_review_jobs(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    crowd_key = job["Properties"]["JobNameKey"]
    start_env = environment(template, "on_workflow_job_completed")
    assert start_env[construct.CROWD_JOB_KEY_ENV] == crowd_key
    review_key = start_env[construct.REVIEW_JOB_KEY_ENV]
    assert review_key != crowd_key and environment(template, "on_review_job_completed")[
        construct.REVIEW_JOB_KEY_ENV] == review_key
    functions = review_functions(template)
    patterns = {}
    for rule in resources_of_type(template, "AWS::Events::Rule").values():
        props = rule["Properties"]
        [target] = props["Targets"]
        patterns[target["Arn"]["Fn::GetAtt"][0]] = props["EventPattern"]
        assert props["State"] == "ENABLED"
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8
    for entry_point, key in (("on_workflow_job_completed", crowd_key), ("on_review_job_completed", review_key)):
        pattern = patterns[functions[entry_point][0]]
        assert pattern["source"] == ["aws.sagemaker"]
        assert pattern["detail-type"] == ["SageMaker Ground Truth Labeling Job State Change"]
        # A review job that failed or was stopped still ends in the final manifest; a workflow job only on completing.
        ended = ["Completed", "Stopped", "Failed"] if entry_point == "on_review_job_completed" else ["Completed"]
        assert pattern["detail"] == {"LabelingJobStatus": ended}
        [prefix] = pattern["resources"]
        assert resolve(prefix["prefix"], template) == f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{key}-"


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_the_review_job_request_is_one_sagemaker_accepts(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    env = resolve(environment(template, "on_workflow_job_completed"), template)
    request = json.loads(env[construct.REVIEW_REQUEST_ENV])
    role_id, _ = review_role(template)
    functions = review_functions(template)
    human = request["HumanTaskConfig"]
    assert request["RoleArn"].endswith(f"role/{role_id.lower()}")
    assert human["PreHumanTaskLambdaArn"].endswith(functions["review_task"][0].lower())
    assert human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"].endswith(
        functions["review_decision"][0].lower())
    assert human["NumberOfHumanWorkersPerDataObject"] == 1 and request["LabelAttributeName"] == "expert-review"
    bucket = env[construct.REVIEW_URI_ENV].removeprefix("s3://").split("/")[0]
    assert env[construct.REVIEW_URI_ENV] == f"s3://{bucket}/review/"
    assert request["OutputConfig"]["S3OutputPath"] == f"s3://{bucket}/review/jobs/"
    # The experts' team of the workforce stack, not the crowd's.
    [raw] = [json.loads(json.dumps(v)) for v in [environment(template, "on_workflow_job_completed")[
        construct.REVIEW_REQUEST_ENV]]]
    assert "ExpertWorkteam" in json.dumps(raw) and human["WorkteamArn"] == IMPORTED_WORKTEAM_ARN
    check_create_labeling_job({**request, "LabelingJobName": f"{env[construct.REVIEW_JOB_KEY_ENV]}-x-0",
                               "InputConfig": {"DataSource": {"S3DataSource": {
                                   "ManifestS3Uri": f"s3://{bucket}/review/job/review.manifest"}}}})


# -- security --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_review_execution_role_trusts_sagemaker_and_only_the_start_function_passes_it(assemblies, workflow):
    from tests.cdk_helpers import statements_passing_role

    template = template_of(assemblies, workflow, "prod")
    role_id, role = review_role(template)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    passing = statements_passing_role(template, role_id)
    assert [s["Condition"] for s in passing] == [{"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}]
    start_role = review_functions(template)["on_workflow_job_completed"][1]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert passing[0] in statements_of_role(template, start_role)
    # Not the workflow's own role: the review job cannot run the crowd's functions, nor the crowd job the review's.
    assert role_id != execution_role(template)[0]


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_review_execution_role_invokes_exactly_the_review_functions_and_reaches_its_prefixes(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    definition = workflows.definition(workflow)
    role_id, _ = review_role(template)
    functions = resources_of_type(template, "AWS::Lambda::Function")
    invoked = [r for s in statements_of_role(template, role_id) if "lambda:InvokeFunction" in as_list(s["Action"])
               for r in as_list(s["Resource"])]
    assert {functions[r["Fn::GetAtt"][0]]["Properties"]["Handler"] for r in invoked} == {
        "expert_review.handler.review_task", "expert_review.handler.review_decision"} and len(invoked) == 2
    reads, writes = object_prefixes(template, role_id)
    # The data its task function reads, the template, and review/ (its input manifests and its own output under
    # review/jobs/): not the crowd's input manifest, which the review job never opens.
    assert reads == {f"/{definition.data_prefix}*", "/templates/*", "/review/*"}
    assert writes == {"/review/jobs/*"}


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_review_functions_reach_only_their_jobs_and_prefixes(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    data = workflows.definition(workflow).data_prefix
    env = environment(template, "on_workflow_job_completed")
    keys = {env[construct.CROWD_JOB_KEY_ENV], env[construct.REVIEW_JOB_KEY_ENV]}
    for entry_point, (_, function) in review_functions(template).items():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = statements_of_role(template, role_id)
        actions = {a for s in statements for a in as_list(s["Action"])}
        assert not any(a.endswith("*") and a.startswith(("s3:", "sagemaker:", "iam:")) for a in actions), actions
        sagemaker = [s for s in statements if any(a.startswith("sagemaker:") for a in as_list(s["Action"]))]
        scopes = {resolve(r, template).rsplit("/", 1)[1] for s in sagemaker for r in as_list(s["Resource"])}
        assert scopes <= {f"{key}-*" for key in keys}
        creates = [s for s in sagemaker if "sagemaker:CreateLabelingJob" in as_list(s["Action"])]
        if entry_point == "on_workflow_job_completed":
            assert [resolve(s["Resource"], template).rsplit("/", 1)[1] for s in creates] == [
                f"{env[construct.REVIEW_JOB_KEY_ENV]}-*"]
        else:
            assert not creates and "iam:PassRole" not in actions
        reads, writes = object_prefixes(template, role_id)
        final_manifests = f"/output/*/{FINAL_MANIFEST}"  # one key in each job's output folder
        if entry_point == "on_workflow_job_completed":  # the review manifest, or the final one at once
            assert (reads, writes) == ({"/output/*", "/review/*"}, {f"/review/*/{REVIEW_MANIFEST}", final_manifests})
        elif entry_point == "on_review_job_completed":  # and the reports against the final labels, in their folder
            assert (reads, writes) == ({"/output/*", "/review/*"}, {final_manifests, f"/output/*/{FINAL_QUALITY_REPORTS}*"})
        elif entry_point == "review_decision":
            assert (reads, writes) == ({"/review/jobs/*"}, set())
        else:  # the data object, for the files its JSON names
            assert (reads, writes) == ({f"/{data}*"}, set())  # its line comes in the event: no manifest
        assert function["Properties"]["Runtime"] == "python3.14"
        assert "ManagedPolicyArns" not in resources_of_type(template, "AWS::IAM::Role")[role_id]["Properties"]


@pytest.mark.parametrize("workflow", DEFINITIONS)
def test_failed_events_are_kept_in_an_encrypted_tls_only_queue(assemblies, workflow):
    template = template_of(assemblies, workflow, "prod")
    [(queue_id, queue)] = resources_of_type(template, "AWS::SQS::Queue").items()
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    [policy] = resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
    for entry_point in ("on_workflow_job_completed", "on_review_job_completed"):
        _, function = review_functions(template)[entry_point]
        assert function["Properties"]["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_the_experts_are_a_team_of_the_same_workforce(assemblies):
    template = assemblies["prod"].get_stack_by_name("LabelingWorkforce-prod").template
    teams = resources_of_type(template, "AWS::SageMaker::Workteam")
    [crowd] = [t for k, t in teams.items() if not k.startswith("WorkteamExpertWorkteam")]
    [experts] = [t for k, t in teams.items() if k.startswith("WorkteamExpertWorkteam")]
    crowd_member = crowd["Properties"]["MemberDefinitions"][0]["CognitoMemberDefinition"]
    expert_member = experts["Properties"]["MemberDefinitions"][0]["CognitoMemberDefinition"]
    assert expert_member["CognitoUserPool"] == crowd_member["CognitoUserPool"]
    assert expert_member["CognitoClientId"] == crowd_member["CognitoClientId"]
    assert expert_member["CognitoUserGroup"] != crowd_member["CognitoUserGroup"]
    assert {"ExpertWorkteamArn", "ExpertGroupName"} <= set(template["Outputs"])
    [(group_id, _)] = [(k, g) for k, g in resources_of_type(template, "AWS::Cognito::UserPoolGroup").items()
                       if k.startswith("WorkteamExpertWorkteamGroup")]
    assert expert_member["CognitoUserGroup"] == {"Ref": group_id}
    assert template["Outputs"]["ExpertGroupName"]["Value"] == {"Ref": group_id}


# -- configuration errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, message", [
    ({"review": {"enabled": True}, "existingWorkteamArn": IMPORTED_WORKTEAM_ARN}, "set expertWorkteamArn"),
    ({"review": {"enabled": "yes"}}, "enabled"),
    ({"review": {"threshold": 1.5}}, "threshold"),
    ({"review": {"enabled": True, "limit": 1}}, "unknown keys"),
    ({"review": {"enabled": True, "routeAnyAbstention": "yes"}}, "routeAnyAbstention"),
    ({"expertWorkteamArn": "experts"}, "not a workteam ARN"),
])
def test_a_bad_review_setting_is_named_with_its_environment(raw, message):
    with pytest.raises(ValueError, match=message) as error:
        load_environment({"stage": raw}, "stage")
    assert "stage" in str(error.value)


def test_review_with_a_reused_workteam_takes_the_experts_arn():
    experts = IMPORTED_WORKTEAM_ARN.replace("imported", "experts")
    config = load_environment({"p": {"review": {"enabled": True, "threshold": 0.8},
                                     "existingWorkteamArn": IMPORTED_WORKTEAM_ARN, "expertWorkteamArn": experts}}, "p")
    assert (config.review.threshold, config.expert_workteam_arn) == (0.8, experts)
    assert config.review.route_any_abstention is False  # off unless the environment says so


def test_an_environment_that_routes_any_abstention_hands_it_to_the_functions(tmp_path):
    """cdk.json's review block, read once by the app, reaches the start and merge functions as it was written."""
    import aws_cdk as cdk

    from stacks import WorkflowStack

    config = load_environment({"qa": {"review": {"enabled": True, "threshold": 0.8, "routeAnyAbstention": True},
                                      "existingWorkteamArn": IMPORTED_WORKTEAM_ARN,
                                      "expertWorkteamArn": IMPORTED_WORKTEAM_ARN.replace("imported", "experts")}},
                              "qa")
    app = cdk.App(outdir=str(tmp_path), context={**CDK_CONTEXT, "aws:cdk:bundling-stacks": []})
    definition = workflows.definition(DEFINITIONS[0])
    stack = WorkflowStack(app, "Qa", definition=definition, config=config, workteam_arn=IMPORTED_WORKTEAM_ARN,
                          expert_workteam_arn=config.expert_workteam_arn)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    assert json.loads(template["Outputs"][REVIEW_SETTINGS_OUTPUT]["Value"]) == {
        "enabled": True, "threshold": 0.8, "routeAnyAbstention": True}
    for entry_point in ("on_workflow_job_completed", "on_review_job_completed"):
        assert review_settings.rule_settings(environment(template, entry_point)) == config.review
