"""The NER stack: the same constructs as welding, its own snapshot, and its own security checks."""
from __future__ import annotations

import json

import pytest

from tests.cdk_helpers import execution_role, invoked_handlers, masked, object_prefixes, resources_of_type
from tests.conftest import STACK_TEST_ENVIRONMENTS


def ner(assemblies, env_name):
    return assemblies[env_name].get_stack_by_name(f"NerLabeling-{env_name}").template


@pytest.mark.parametrize("env_name", STACK_TEST_ENVIRONMENTS)
def test_snapshot(assemblies, env_name, snapshot):
    assert masked(ner(assemblies, env_name)) == snapshot


def test_execution_role_invokes_exactly_the_ner_functions(assemblies):
    assert invoked_handlers(ner(assemblies, "prod")) == {
        "ner_pre_labeling.handler.lambda_handler", "ner_consolidation.handler.lambda_handler"}


def test_execution_role_reaches_only_the_ner_prefixes(assemblies):
    template = ner(assemblies, "prod")
    role_id, role = execution_role(template)
    reads, writes = object_prefixes(template, role_id)
    assert reads == {"/manifests/input.manifest", "/ner/*", "/derived/*", "/templates/*", "/output/*"}
    assert writes == {"/output/*"}
    assert "Condition" not in role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]


def test_both_functions_know_where_the_task_records_are(assemblies):
    template = ner(assemblies, "prod")
    for handler in ("ner_pre_labeling.handler.lambda_handler", "ner_consolidation.handler.lambda_handler"):
        [function] = [f for f in resources_of_type(template, "AWS::Lambda::Function").values()
                      if f["Properties"]["Handler"] == handler]
        uri = function["Properties"]["Environment"]["Variables"]["TASK_RECORDS_URI"]
        assert uri["Fn::Join"][1][0] == "s3://" and uri["Fn::Join"][1][-1] == "/derived/task-records/", handler


def test_the_two_workflows_of_an_environment_never_share_a_job_scope(assemblies):
    """Both stacks deploy into one account: each job resource reaches only its own jobs."""
    keys = set()
    for name in ("NerLabeling-prod", "WeldingLabeling-prod"):
        [job] = resources_of_type(assemblies["prod"].get_stack_by_name(name).template,
                                  "Custom::GroundTruthLabelingJob").values()
        keys.add(job["Properties"]["JobNameKey"])
    assert len(keys) == 2


def test_input_bucket_is_private_encrypted_with_cors(assemblies):
    [bucket] = [b for b in resources_of_type(ner(assemblies, "prod"), "AWS::S3::Bucket").values()
                if "CorsConfiguration" in b["Properties"]]
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert "BucketEncryption" in bucket["Properties"] and bucket["DeletionPolicy"] == "Retain"


def test_job_settings(assemblies):
    [job] = resources_of_type(ner(assemblies, "prod"), "Custom::GroundTruthLabelingJob").values()
    props = job["Properties"]
    assert props["LabelAttributeName"] == "abstract-sections"
    assert props["TaskTimeLimitInSeconds"] == "1800"
    assert "ner.liquid.html" in json.dumps(props["UiTemplateS3Uri"])
    assert not resources_of_type(ner(assemblies, "dev"), "Custom::GroundTruthLabelingJob")


def test_no_ner_specific_code_inside_the_constructs():
    """The constructs are reusable: nothing in them names a workflow."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "labeling_constructs"
    for path in package.glob("*.py"):
        found = re.findall(r"\bner_\w*|\babstracts?\b|welding", path.read_text(), flags=re.IGNORECASE)
        assert not found, f"{path.name} mentions {found}"
