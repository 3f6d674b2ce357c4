"""Workflow functions reach only what their roles grant: the policy decision (as IAM makes it), what each S3 request
asks for, the statements read from a synthesized stack, and the runner's endpoint refusing a function's request
outside its grants while serving the ones inside and every request of the runner itself."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_ground_truth import function_grants, local_s3
from local_ground_truth.function_grants import Request, decide, read_grants, requested
from local_ground_truth.stack_reader import read_workflow

BUCKET = "data-bucket"
ARN = f"arn:aws:s3:::{BUCKET}"
SECURE = {"aws:securetransport": "true"}
# The pre-labeling function's grants, as the workflow construct writes them.
PRE_LABELING = [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"{ARN}/derived/*", f"{ARN}/manifests/input.manifest"]},
    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{ARN}/derived/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ARN,
     "Condition": {"StringLike": {"s3:prefix": ["derived/*"]}}},
]


def get(key: str) -> Request:
    return Request("s3:GetObject", f"{ARN}/{key}", SECURE)


def listing(**context: str) -> Request:
    return Request("s3:ListBucket", ARN, {**SECURE, **context})


@pytest.mark.parametrize("request_, allowed", [
    (get("derived/a.json"), True),
    (get("derived/deeper/b.png"), True),  # * crosses "/"
    (get("manifests/input.manifest"), True),
    (get("manifests/input.manifestX"), False),  # a whole-ARN match, not a prefix
    (get("output/job/annotations/worker-response/iteration-1/0/answer.json"), False),
    (Request("s3:PutObject", f"{ARN}/manifests/input.manifest", SECURE), False),
    (Request("s3:DeleteObject", f"{ARN}/derived/a.json", SECURE), False),
    (listing(**{"s3:prefix": "derived/x"}), True),
    (listing(**{"s3:prefix": "output/"}), False),
    (listing(), False),  # no prefix: the condition's key is missing, so a StringLike is false
    (Request("s3:GetObject", f"arn:aws:s3:::other-bucket/derived/a.json", SECURE), False),
])
def test_an_identity_policy_allows_only_what_it_grants(request_, allowed):
    assert decide(PRE_LABELING, request_) is allowed


def test_actions_match_without_case_and_with_wildcards_but_resources_with_case():
    statements = [{"Effect": "Allow", "Action": ["S3:get*", "s3:List?ucket"], "Resource": [f"{ARN}/Derived/*", ARN]}]
    assert decide(statements, get("Derived/a"))
    assert decide(statements, Request("s3:GetObjectVersion", f"{ARN}/Derived/a", SECURE))
    assert decide(statements, listing())
    assert not decide(statements, get("derived/a"))  # resources are case-sensitive
    # A "." in an ARN is itself, not any character (a regular expression would read it so).
    dotted = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{ARN}/a.json"}]
    assert decide(dotted, get("a.json")) and not decide(dotted, get("aXjson"))


def test_an_explicit_deny_wins_and_not_action_and_not_resource_invert():
    statements = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                  {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{ARN}/output/*"}]
    assert decide(statements, get("derived/a")) and not decide(statements, get("output/a"))
    inverted = [{"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": f"{ARN}/output/*"}]
    assert decide(inverted, get("derived/a"))
    assert not decide(inverted, get("output/a"))
    assert not decide(inverted, Request("s3:DeleteObject", f"{ARN}/derived/a", SECURE))


def test_a_failed_condition_leaves_another_allow_standing():
    statements = [*PRE_LABELING, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ARN}]
    assert decide(statements, listing(**{"s3:prefix": "output/"}))


@pytest.mark.parametrize("condition, context, allowed", [
    ({"StringEquals": {"s3:prefix": "a/"}}, {"s3:prefix": "a/"}, True),
    ({"StringEquals": {"s3:prefix": "a/"}}, {"s3:prefix": "A/"}, False),
    ({"StringEqualsIgnoreCase": {"s3:prefix": "a/"}}, {"s3:prefix": "A/"}, True),
    ({"StringNotLike": {"s3:prefix": "secret/*"}}, {"s3:prefix": "a/"}, True),
    ({"StringNotLike": {"s3:prefix": "secret/*"}}, {"s3:prefix": "secret/x"}, False),
    ({"StringNotLike": {"s3:prefix": "secret/*"}}, {}, True),  # a negated condition holds when its key is missing
    ({"StringEqualsIfExists": {"s3:delimiter": "/"}}, {}, True),
    ({"StringEqualsIfExists": {"s3:delimiter": "/"}}, {"s3:delimiter": "|"}, False),
    ({"Null": {"s3:prefix": "true"}}, {}, True),
    ({"Null": {"s3:prefix": "false"}}, {}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, {}, True),  # functions reach S3 over HTTPS in AWS
    ({"ForAnyValue:StringLike": {"s3:prefix": ["x/*", "a/*"]}}, {"s3:prefix": "a/b"}, True),
    ({"StringLike": {"s3:prefix": "a/*"}, "StringEquals": {"s3:delimiter": "/"}}, {"s3:prefix": "a/b"}, False),
    ({"StringEquals": {"aws:PrincipalTag/team": "x"}}, {}, True),  # a key not evaluated here: an Allow stands
])
def test_conditions_on_the_keys_an_s3_request_carries(condition, context, allowed):
    statements = [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ARN, "Condition": condition}]
    assert decide(statements, listing(**context)) is allowed


def test_a_deny_whose_condition_cannot_be_evaluated_here_does_not_refuse():
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                  {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                   "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]
    assert decide(statements, get("a"))


@pytest.mark.parametrize("method, path, query, headers, expected", [
    ("GET", "/b/k/ü y.json", "", {}, [("s3:GetObject", "arn:aws:s3:::b/k/ü y.json")]),
    ("HEAD", "/b/k", "", {}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
    ("GET", "/b/k", "versionId=3", {}, [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
    ("GET", "/b/k", "tagging", {}, [("s3:GetObjectTagging", "arn:aws:s3:::b/k")]),
    ("PUT", "/b/k", "", {}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("PUT", "/b/k", "", {"x-amz-copy-source": "/other/s%C3%BC.json"},
     [("s3:PutObject", "arn:aws:s3:::b/k"), ("s3:GetObject", "arn:aws:s3:::other/sü.json")]),
    ("POST", "/b/k", "uploads", {}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("DELETE", "/b/k", "uploadId=u", {}, [("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")]),
    ("DELETE", "/b/k", "", {}, [("s3:DeleteObject", "arn:aws:s3:::b/k")]),
    ("GET", "/b", "list-type=2&prefix=derived%2F", {}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("HEAD", "/b", "", {}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("GET", "/b", "location", {}, [("s3:GetBucketLocation", "arn:aws:s3:::b")]),
    ("GET", "/", "", {}, [("s3:ListAllMyBuckets", "*")]),
])
def test_what_each_s3_request_asks_for(method, path, query, headers, expected):
    asked = requested(method, path, query, headers)
    assert [(request.action, request.resource) for request in asked] == expected


def test_a_listing_carries_its_prefix_and_a_batch_delete_each_key():
    [listed] = requested("GET", "/b", "list-type=2&prefix=derived%2Fa&delimiter=%2F", {})
    assert listed.context["s3:prefix"] == "derived/a" and listed.context["s3:delimiter"] == "/"
    body = b"<Delete><Object><Key>derived/a&amp;b</Key></Object><Object><Key>output/x</Key></Object></Delete>"
    deleted = requested("POST", "/b", "delete", {}, body)
    assert [request.resource for request in deleted] == ["arn:aws:s3:::b/derived/a&b", "arn:aws:s3:::b/output/x"]
    with pytest.raises(function_grants.UnknownRequest, match="bucket 'b'"):
        requested("PUT", "/b", "replication", {})


def test_the_statements_are_read_from_the_synthesized_stack(runner_assembly):
    for workflow in ("welding", "ner"):
        spec = read_workflow(runner_assembly, workflow)
        for function in (spec.pre_labeling, spec.consolidation):
            assert function.grants.unchecked is None, function.grants.unchecked
            assert function.grants.statements  # resolved: ARNs of the local buckets
            assert all("Fn::" not in str(statement) for statement in function.grants.statements)
        job_output = f"arn:aws:s3:::{spec.task.output_bucket}/{spec.task.output_prefix}job/annotations/x.json"
        assert decide(spec.consolidation.grants.statements, Request("s3:GetObject", job_output, SECURE))
        assert not decide(spec.pre_labeling.grants.statements, Request("s3:GetObject", job_output, SECURE))


def role_template(**role_properties) -> dict:
    return {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": role_properties},
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
                {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}}},
    }


def resolve_literal(value, where):
    """A template of literals only: nothing to resolve."""
    return value


def test_a_role_is_checked_only_when_all_its_s3_permissions_are_in_the_template():
    logging_only = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    grants = read_grants("Fn", role_template(ManagedPolicyArns=[logging_only]), resolve_literal)
    assert grants.unchecked is None
    assert [statement["Action"] for statement in grants.statements] == ["s3:GetObject"]  # logs: not S3's
    full = read_grants("Fn", role_template(ManagedPolicyArns=["arn:aws:iam::aws:policy/AmazonS3FullAccess"]),
                       resolve_literal)
    assert "AmazonS3FullAccess" in full.unchecked
    outside = read_grants("Fn", {"Fn": {"Type": "AWS::Lambda::Function",
                                        "Properties": {"Role": "arn:aws:iam::1:role/x"}}}, resolve_literal)
    assert "not a role of its stack" in outside.unchecked


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    key = function_grants.access_key("PreLabeling")
    with local_s3.s3_endpoint(store=tmp_path_factory.mktemp("grants") / "s3", grants={key: PRE_LABELING}) as url:
        runner = local_s3.client(url)
        runner.create_bucket(Bucket=BUCKET)
        for name in ("derived/a.json", "manifests/input.manifest", "output/job/answer.json"):
            runner.put_object(Bucket=BUCKET, Key=name, Body=b"{}")
        function = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                                aws_secret_access_key="local", config=Config(retries={"max_attempts": 1}))
        yield runner, function


def test_the_endpoint_holds_a_function_to_its_grants(guarded):
    runner, function = guarded
    assert function.get_object(Bucket=BUCKET, Key="derived/a.json")["Body"].read() == b"{}"
    function.put_object(Bucket=BUCKET, Key="derived/b.json", Body=b"[]")
    assert [item["Key"] for item in function.list_objects_v2(Bucket=BUCKET, Prefix="derived/")["Contents"]] == [
        "derived/a.json", "derived/b.json"]
    with pytest.raises(ClientError) as refused:
        function.get_object(Bucket=BUCKET, Key="output/job/answer.json")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert "function PreLabeling's role does not allow s3:GetObject on arn:aws:s3:::data-bucket/output/job/answer.json" \
        in error["Message"]
    for denied in (lambda: function.put_object(Bucket=BUCKET, Key="manifests/input.manifest", Body=b"x"),
                   lambda: function.list_objects_v2(Bucket=BUCKET),
                   lambda: function.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "derived/a.json"}]}),
                   lambda: function.copy_object(Bucket=BUCKET, Key="derived/copy.json",
                                                CopySource={"Bucket": BUCKET, "Key": "output/job/answer.json"})):
        with pytest.raises(ClientError, match="AccessDenied"):
            denied()
    # Nothing the refused requests named changed; the runner's own key is not held to the function's grants.
    assert runner.get_object(Bucket=BUCKET, Key="manifests/input.manifest")["Body"].read() == b"{}"
    assert runner.get_object(Bucket=BUCKET, Key="output/job/answer.json")["Body"].read() == b"{}"
    assert "derived/copy.json" not in [item["Key"] for item in runner.list_objects_v2(Bucket=BUCKET)["Contents"]]
    # The connection a refused request came on still serves the next one.
    assert function.get_object(Bucket=BUCKET, Key="derived/a.json")["Body"].read() == b"{}"


def test_a_manifest_line_pointing_pre_labeling_at_the_jobs_answers_fails_that_object_alone(runner_assembly):
    """A hostile (or mistaken) manifest line names an object outside the pre-labeling function's grants as its text:
    in AWS the function's read is refused, and so it is here; that object fails with the reason, the rest are tasks,
    and nothing of the answers reaches a task."""
    from local_ground_truth.function_grants import endpoint_grants
    from local_ground_truth.job import LocalJob
    from tests.runner_helpers import put_manifest

    spec = read_workflow(runner_assembly, "ner")
    functions = (spec.pre_labeling, spec.consolidation)
    with local_s3.s3_endpoint(grants=endpoint_grants(functions)) as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        manifest = spec.task.manifest
        lines = s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read().decode().splitlines()
        secret = f"{spec.task.output_prefix}another-job/annotations/worker-response/iteration-1/0/answers.json"
        s3.put_object(Bucket=spec.task.output_bucket, Key=secret, Body=b"a worker's private answer")
        hostile = {**json.loads(lines[0]), "text-file-s3-uri": f"s3://{spec.task.output_bucket}/{secret}"}
        put_manifest(spec, s3, lines[:2] + [json.dumps(hostile)])
        job = LocalJob(spec, s3, endpoint, "hostile")
        try:
            report = job.pre_label(processes=1, progress=False)
            assert report.done == 2 and set(report.failed) == {"2"}
            assert "access denied to the function's role" in report.failed["2"] and secret in report.failed["2"]
            assert all("private answer" not in json.dumps(job.task_input(object_id)) for object_id in job.object_ids())
        finally:
            job.close()


@pytest.mark.parametrize("action, concerns_s3", [
    ("s3:GetObject", True), ("S3:Get*", True), ("*", True), ("s*", True), ("s?:PutObject", True),
    ("logs:PutLogEvents", False), ("sqs:SendMessage", False), ("ssm:*", False), ("kms:Decrypt", False),
])
def test_only_statements_that_can_concern_s3_are_kept(action, concerns_s3):
    """A statement of another service is never resolved (a log group's ARN the runner cannot resolve leaves the
    function checked), one whose actions may be S3's always is."""
    template = role_template()
    template["Policy"]["Properties"]["PolicyDocument"]["Statement"] = [
        {"Effect": "Allow", "Action": action, "Resource": {"Fn::GetAtt": ["Unresolvable", "Arn"]}}]

    def resolve(value, where):
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            raise ValueError(f"{where}: cannot resolve")
        if isinstance(value, dict):
            return {key: resolve(item, where) for key, item in value.items()}
        return value

    grants = read_grants("Fn", template, resolve)
    assert (grants.unchecked is not None) is concerns_s3
