"""The three L3 constructs on their own, as someone lifting one into another app would use them:
CDK's own props and types, existing resources passed in, defaults overridden."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from labeling_constructs import CustomLabelingWorkflow, ManifestBucket, PrivateWorkteam, package_function_props
from labeling_constructs.labeling_job_resource.request import create_request
from labeling_constructs.lambda_code import RUNTIME
from labeling_constructs.lambda_function import struct_values as struct_fields
from labeling_constructs.manifest_bucket import PROBLEMS_SHOWN, _Uploads, _validated_manifest
from labeling_constructs.nag import acknowledge
from tests.cdk_helpers import as_list, open_findings, resolve, resources_of_type
from tests.sagemaker_checks import check_create_labeling_job

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


PAGE = "<crowd-form><crowd-classifier name='x' categories='[\"a\",\"b\"]'></crowd-classifier></crowd-form>"


def inline_props(name: str, **options) -> lambda_.FunctionProps:
    """A function of the caller's own: CDK's FunctionProps, nothing of this project's bundler."""
    return lambda_.FunctionProps(code=lambda_.Code.from_inline(f"def handler(event, context):\n    return {name!r}\n"),
                                 handler="index.handler", runtime=RUNTIME, **options)


def workflow(stack, data, construct_id="Workflow", **overrides):
    props = dict(
        input_bucket=data, workteam_arn=WORKTEAM_ARN, label_attribute_name="my-labels", ui_template=PAGE,
        pre_labeling_function_props=inline_props("pre"), consolidation_function_props=inline_props("post"),
        task_title="Label it", task_description="Label each item",
    )
    props.update(overrides)
    return CustomLabelingWorkflow(stack, construct_id, **props)


def logical_id(construct) -> str:
    return cdk.Stack.of(construct).get_logical_id(construct.node.default_child)


def environment_of(template: dict, function) -> dict:
    return template["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]


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
    # Its own bucket: the data prefix is kept in step (pruned), and the bucket's removal policy decides the rest.
    assert by_prefix["items-v1/"]["Properties"]["Prune"] is True
    assert all(d["Properties"]["RetainOnDelete"] is False for d in deployments.values())


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
    ("not json", "line 4 is not JSON"),  # its line in the file: the blank lines before it count
    ('["a list"]', "line 4 is not a JSON object"),
    ('{"source": "y", "score": NaN}', "line 4 is not JSON: NaN is not a JSON number"),
    ('{"source": "y", "big": 1e999}', "line 4 is not JSON: 1e999 is too large for a JSON number"),
    ('{"x": ' + "[" * 30_000 + "]" * 30_000 + "}", "line 4 is nested too deeply"),
    ('{"source": "x", "gold": {"q": "A"}}', 'lines 1 and 4 name the same source \'x\' with different fields'),
    ('{"id": "r01", "review_text": "t"}', "line 4 has neither 'source-ref' nor 'source' \\(keys: id, review_text\\)"),
    # Pre-labeling read one, the task record (gold) and the review page the other: workers and experts judged two runs.
    ('{"source": "s3://b/a.json", "source-ref": "s3://b/b.json"}', "line 4 names its data object twice, by both "
                                                                   "'source-ref' and 'source'"),
    # Half an emoji: the worker page failed with a 500 (the task held), the requester's page and the CSV with it.
    ('{"source": "y", "metadata": {"Title": "cut \\ud83d"}}', "line 4 holds a lone surrogate escape"),
    ('{"source": "y\\udc00"}', "line 4 holds a lone surrogate escape"),
])
def test_manifest_bucket_rejects_a_bad_manifest_naming_the_line(sample_folder, line, problem):
    (sample_folder / "manifest.jsonl").write_text('{"source": "x"}\n\n\n' + line + "\n")
    with pytest.raises(ValueError, match=f"^manifest [^ ]*manifest.jsonl {problem}"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


@pytest.mark.parametrize("line, problem", [
    ('{"source-ref": "${DATA_PREFIX_URI}/items/b.txt"}', "has no file 'items/b.txt'"),
    # Named at any depth in the line, as a data object's JSON may name its files.
    ('{"source": "r", "files": [{"csv": "${DATA_PREFIX_URI}/runs/r.csv"}]}', "has no file 'runs/r.csv'"),
    ('{"source-ref": "${DATA_PREFIX_URI}/.notes.txt"}', "the exclude pattern '.\\*' leaves '.notes.txt' out of the "
                                                        "upload \\(it is in the data folder\\)"),
    # A file in a hidden folder: the folder is left out whole, though the pattern does not match the file's name.
    ('{"source-ref": "${DATA_PREFIX_URI}/.cache/a.txt"}', "the exclude pattern '.\\*' leaves '.cache/a.txt' out"),
    ('{"source-ref": "${DATA_PREFIX_URI}/answers.json"}', "exclude pattern 'answers.json' leaves 'answers.json' out"),
    ('{"source-ref": "${DATA_PREFIX_URI}/items//a.txt"}', "an empty, '.' or '..' part"),
    ('{"source-ref": "${DATA_PREFIX_URI}/items/../items/a.txt"}', "an empty, '.' or '..' part"),
    ('{"source-ref": "${DATA_PREFIX_URI}/manifest.jsonl"}', "that is the manifest itself"),
    # Past the file system's limits: a traceback from the check itself, before.
    ('{"source-ref": "${DATA_PREFIX_URI}/' + "x" * 300 + '.png"}', "no file of the data folder can have that path "
                                                                   "\\(File name too long\\)"),
    ('{"source-ref": "${DATA_PREFIX_URI}/' + "a/" * 3000 + 'b"}', "no file of the data folder can have that path"),
])
def test_a_manifest_line_naming_a_file_that_is_not_uploaded_is_refused_naming_the_line(sample_folder, line, problem):
    """Found at synth, the line named: the task's pre-labeling said only that an S3 object did not exist (a hidden
    file, an excluded one or a typo in the path all looked like that)."""
    (sample_folder / ".notes.txt").write_text("mine")
    (sample_folder / ".cache").mkdir()
    (sample_folder / ".cache" / "a.txt").write_text("cached")
    (sample_folder / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/items/a.json"}\n' + line + "\n")
    with pytest.raises(ValueError, match=f"^manifest [^ ]*manifest.jsonl line 2 names .*, but .*{problem}"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder, exclude=["answers.json", ".*"])


def test_a_manifest_nested_deeper_than_pythons_recursion_is_looked_through(sample_folder):
    """JSON nested about as deep as the parser takes would have passed Python's recursion limit in a recursive walk
    (a traceback, not a refusal): the walk keeps a list."""
    nested = "${DATA_PREFIX_URI}/deep.txt"
    for _ in range(5_000):
        nested = [nested]
    uploads = _Uploads(sample_folder, [], True, "manifest.jsonl")
    assert list(uploads.problems({"source": "s", "a": nested, "b": "${DATA_PREFIX_URI}/items/a.txt"})) == [
        ("${DATA_PREFIX_URI}/deep.txt", f"the data folder {sample_folder} has no file 'deep.txt'")]


def test_with_a_bucket_of_the_callers_a_line_may_name_an_object_the_data_folder_lacks(sample_folder):
    """Their bucket may hold it already (nothing under the data prefix is pruned there); an excluded file is still
    refused, never uploaded either way."""
    (sample_folder / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/theirs/b.txt"}\n')
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", existing_bucket=s3.Bucket.from_bucket_name(stack, "Theirs", "their-bucket"),
                   sample_data_dir=sample_folder)
    (sample_folder / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/answers.json"}\n')
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match="line 1 names .*answers.json.*out of the upload"):
        ManifestBucket(stack, "Data", existing_bucket=s3.Bucket.from_bucket_name(stack, "Theirs", "their-bucket"),
                       sample_data_dir=sample_folder, exclude=["answers.json"])


@pytest.mark.parametrize("exclude", [
    ["answers.json", ".*"],  # plain patterns: matched first without the CDK's matcher
    ["*.json", "!items/*.json", "sub/**"],  # a negation: every path asked of the CDK's matcher
])
def test_what_the_manifest_check_takes_as_uploaded_is_what_the_data_asset_holds(sample_folder, exclude):
    """One rule, the CDK's: every file of a folder with hidden files, hidden folders and excluded names is taken as
    uploaded by the manifest's check exactly when the synthesized asset holds it (a file naming the data prefix goes
    up in a source of its own, filled in: it counts among the uploaded, and is never one the exclude leaves out)."""
    for relative in (".notes.txt", ".cache/a.txt", ".cache/b.json", "items/.hidden.txt", "sub/answers.json",
                     "sub/deep/c.txt", "keep/d.txt", "keep/e.json"):
        (sample_folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (sample_folder / relative).write_text("x")
    (sample_folder / ".cache" / "filled.json").write_text('{"a": "${DATA_PREFIX_URI}/items/a.txt"}')
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=exclude)
    assembly = Path(cdk.App.of(stack).synth().directory)
    uploaded = {str(path.relative_to(asset)) for asset in assembly.glob("asset.*") if asset.is_dir()
                for path in asset.rglob("*") if path.is_file()} - {"index.py"} - {
                    str(path.relative_to(asset)) for asset in assembly.glob("asset.*") if (asset / "index.py").exists()
                    for path in asset.rglob("*") if path.is_file()}
    uploaded.discard("manifests/input.manifest")
    uploads = _Uploads(sample_folder, exclude, True, "manifest.jsonl")
    files = {path.relative_to(sample_folder).as_posix() for path in sample_folder.rglob("*") if path.is_file()}
    assert {f for f in files - {"manifest.jsonl"} if not uploads.excluded(f)} == uploaded


def test_every_bad_line_of_a_manifest_is_said_in_one_refusal(sample_folder):
    """A manifest of many bad lines took a synth per line to mend; each is named at once, the first 20 in full."""
    bad = ["not json", '["a list"]'] + [f'{{"source-ref": "${{DATA_PREFIX_URI}}/items/gone{n}.txt"}}' for n in range(30)]
    (sample_folder / "manifest.jsonl").write_text('{"source": "x"}\n' + "\n".join(bad) + '\n{"source": "y"}\n')
    with pytest.raises(ValueError) as refused:
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)
    said = str(refused.value).splitlines()
    assert said[0] == f"manifest {sample_folder / 'manifest.jsonl'} has 32 lines that cannot be used:"
    assert said[1] == "line 2 is not JSON: Expecting value: line 1 column 1 (char 0)"  # the manifest named once, above
    assert said[2].endswith("line 3 is not a JSON object") and "line 4 names '${DATA_PREFIX_URI}/items/gone0.txt'" in said[3]
    assert len(said) == 1 + PROBLEMS_SHOWN + 1 and said[-1] == "(and 12 more)"


def test_manifest_bucket_reads_json_lines_as_json_lines(sample_folder):
    """A line separator inside a string (U+2028, U+0085) is JSON, not a line break; the same line twice is one
    object twice (no task record is lost); CRLF endings are read; latin-1 bytes are named, not a traceback."""
    lines = [json.dumps({"source": "x", "note": "one\u2028two\u0085three"}, ensure_ascii=False),
             json.dumps({"source": "x", "note": "one\u2028two\u0085three"}, ensure_ascii=False), '{"source": "y"}',
             json.dumps({"source": "z", "emoji": "\U0001F600"})]  # escaped as a pair of surrogates: one character
    (sample_folder / "manifest.jsonl").write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n")
    ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)
    (sample_folder / "manifest.jsonl").write_bytes('{"source": "café"}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match="manifest .* is not UTF-8 text"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


def test_manifest_bucket_reads_a_manifest_that_starts_with_a_byte_order_mark(sample_folder):
    """A requester's manifest saved by a Windows tool starts with a byte-order mark: it was refused ("line 1 is not
    JSON: Unexpected UTF-8 BOM"); it is read, and uploaded without the mark (line 1 is JSON to Ground Truth too)."""
    (sample_folder / "manifest.jsonl").write_bytes('{"source": "x"}\r\n{"source": "y"}\r\n'.encode("utf-8-sig"))
    ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)
    assert _validated_manifest(sample_folder / "manifest.jsonl") == '{"source": "x"}\n{"source": "y"}\n'
    # Only at the start: a mark inside the file is not whitespace JSON skips.
    (sample_folder / "manifest.jsonl").write_bytes('{"source": "x"}\n\ufeff{"source": "y"}\n'.encode())
    with pytest.raises(ValueError, match="line 2 is not JSON"):
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


def test_manifest_bucket_takes_an_existing_bucket_and_creates_none(sample_folder):
    stack = new_stack()
    existing = s3.Bucket.from_bucket_name(stack, "Theirs", "their-labeling-bucket")
    data = ManifestBucket(stack, "Data", existing_bucket=existing, sample_data_dir=sample_folder, exclude=["answers.json"])
    role = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    data.grant_read_data(role)  # acknowledged: the construct spells an imported bucket's ARN as cdk-nag does
    template = Template.from_stack(stack).to_json()  # cdk-nag runs here: every finding acknowledged
    assert data.bucket is existing and data.access_log_bucket is None and data.encryption_key is None
    assert not resources_of_type(template, "AWS::S3::Bucket")
    for deployment in resources_of_type(template, "Custom::CDKBucketDeployment").values():
        assert deployment["Properties"]["DestinationBucketName"] == "their-labeling-bucket"
        # Never deletes their objects: a deployment's delete empties its destination (the manifest's: the whole
        # bucket) in a bucket it does not own, and pruning removes what else is under the data prefix.
        assert deployment["Properties"]["RetainOnDelete"] is True and deployment["Properties"]["Prune"] is False
    [policy] = [p for p in resources_of_type(template, "AWS::IAM::Policy").values()
                if {"Ref": logical_id(role)} in p["Properties"]["Roles"]]
    resources = json.dumps(policy["Properties"]["PolicyDocument"])
    assert ":s3:::their-labeling-bucket/data/*" in resources and ":s3:::their-labeling-bucket/manifests/input.manifest" in resources


def test_manifest_bucket_uses_an_existing_buckets_own_key():
    stack = new_stack(nag=False)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    existing = s3.Bucket.from_bucket_attributes(stack, "Theirs", bucket_name="their-bucket", encryption_key=key)
    assert ManifestBucket(stack, "Data", existing_bucket=existing).encryption_key is key


def test_an_existing_bucket_with_a_key_of_its_own_refuses_another_encryption_key():
    stack = new_stack(nag=False)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    existing = s3.Bucket.from_bucket_attributes(stack, "Theirs", bucket_name="their-bucket", encryption_key=key)
    with pytest.raises(ValueError, match=r"encryption_key \(Fork/Other\) is not existing_bucket's own key "
                                         r"\(Fork/Key\): leave encryption_key out"):
        ManifestBucket(stack, "Data", existing_bucket=existing,
                       encryption_key=kms.Key(stack, "Other", enable_key_rotation=True))
    # The bucket's own key, however it is named, and a key for a bucket whose key is not known here, are taken.
    same = kms.Key.from_key_arn(stack, "SameKey", key.key_arn)
    assert ManifestBucket(stack, "Same", existing_bucket=existing, encryption_key=same).encryption_key is same
    unknown = s3.Bucket.from_bucket_name(stack, "Unknown", "their-other-bucket")
    assert ManifestBucket(stack, "Given", existing_bucket=unknown, encryption_key=key).encryption_key is key


def test_a_bucket_of_this_app_without_ground_truths_cors_rule_is_refused_at_synth():
    """Workers' browsers load a task's objects cross-origin: a bucket of this app must carry the rule (added at any
    time before synth); an imported bucket's rules are not known, and it is taken as it is."""
    from labeling_constructs.manifest_bucket import GROUND_TRUTH_CORS_RULE

    stack = new_stack(nag=False)
    theirs = s3.Bucket(stack, "Theirs", cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.PUT], allowed_origins=["*"])])
    ManifestBucket(stack, "Data", existing_bucket=theirs)
    ManifestBucket(stack, "Imported", existing_bucket=s3.Bucket.from_bucket_name(stack, "Imp", "their-bucket"))
    with pytest.raises(RuntimeError, match=r"\[Fork/Data] existing_bucket Fork/Theirs has no CORS rule allowing GET "
                                           "from any origin and exposing Access-Control-Allow-Origin"):
        Template.from_stack(stack)
    stack = new_stack(nag=False)
    theirs = s3.Bucket(stack, "Theirs")
    ManifestBucket(stack, "Data", existing_bucket=theirs)
    theirs.add_cors_rule(**{field: getattr(GROUND_TRUTH_CORS_RULE, field)
                            for field in ("allowed_methods", "allowed_origins", "exposed_headers")})
    Template.from_stack(stack)


@pytest.mark.parametrize("props", [
    {"bucket_props": s3.BucketProps(versioned=False)},
    {"access_log_bucket_props": s3.BucketProps(versioned=True)},
    {"removal_policy": cdk.RemovalPolicy.DESTROY},  # was silently unused
    {"noncurrent_version_expiration": cdk.Duration.days(7)},
])
def test_manifest_bucket_settings_of_a_created_bucket_do_not_apply_to_an_existing_one(props):
    stack = new_stack(nag=False)
    existing = s3.Bucket.from_bucket_name(stack, "Theirs", "their-bucket")
    with pytest.raises(ValueError, match="cannot apply to existing_bucket"):
        ManifestBucket(stack, "Data", existing_bucket=existing, **props)


def test_manifest_bucket_props_are_merged_over_the_secure_defaults(sample_folder):
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder, bucket_props=s3.BucketProps(
        transfer_acceleration=True,
        lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(7))]),
        access_log_bucket_props=s3.BucketProps(lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(30))]))
    template = Template.from_stack(stack).to_json()
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    bucket = buckets[logical_id(data.bucket)]["Properties"]
    logs = buckets[logical_id(data.access_log_bucket)]["Properties"]
    # What was given changed; every default not given is still there.
    assert bucket["AccelerateConfiguration"] == {"AccelerationStatus": "Enabled"}
    assert bucket["LifecycleConfiguration"]["Rules"] == [{"NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                                                          "Status": "Enabled"}]
    assert logs["LifecycleConfiguration"]["Rules"] == [{"ExpirationInDays": 30, "Status": "Enabled"}]
    for props in (bucket, logs):
        assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
        assert "BucketEncryption" in props
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"} and "CorsConfiguration" in bucket


def test_a_removal_policy_in_bucket_props_is_the_removal_policy_prop():
    """DESTROY given in bucket_props empties and deletes both buckets, as the removal_policy prop does (a bucket that
    is deleted but not emptied fails to delete; the logs bucket was kept)."""
    def buckets(**props):
        stack = new_stack(nag=False)
        data = ManifestBucket(stack, "Data", **props)
        template = Template.from_stack(stack).to_json()
        policies = {k: v.get("DeletionPolicy") for k, v in resources_of_type(template, "AWS::S3::Bucket").items()}
        emptied = {v["Properties"]["BucketName"]["Ref"]
                   for v in resources_of_type(template, "Custom::S3AutoDeleteObjects").values()}
        return ({logical_id(data.bucket): policies[logical_id(data.bucket)],
                 "logs": policies[logical_id(data.access_log_bucket)]},
                emptied == {logical_id(data.bucket), logical_id(data.access_log_bucket)})
    expected = ({"DataBucketE6B0FAA8": "Delete", "logs": "Delete"}, True)
    assert buckets(removal_policy=cdk.RemovalPolicy.DESTROY) == expected
    assert buckets(bucket_props=s3.BucketProps(removal_policy=cdk.RemovalPolicy.DESTROY)) == expected
    with pytest.raises(ValueError, match=r"bucket_props.removal_policy \(.*\) and removal_policy \(.*\) differ"):
        ManifestBucket(new_stack(nag=False), "Data", removal_policy=cdk.RemovalPolicy.RETAIN,
                       bucket_props=s3.BucketProps(removal_policy=cdk.RemovalPolicy.DESTROY))


def test_a_prop_and_the_bucket_props_field_it_sets_must_agree():
    """Both given and different, one was silently unused: bucket_props' key, or the noncurrent-version expiration
    (its rule replaced by bucket_props' lifecycle rules); and the bucket logged to bucket_props' logs bucket while
    access_log_bucket exposed the prop's."""
    stack = new_stack(nag=False)
    key, other_key = kms.Key(stack, "Key"), kms.Key(stack, "OtherKey")
    logs_bucket, other_logs = s3.Bucket(stack, "Logs"), s3.Bucket(stack, "OtherLogs")
    with pytest.raises(ValueError, match=r"^bucket_props.encryption_key and encryption_key name different keys"):
        ManifestBucket(stack, "Keys", encryption_key=key, bucket_props=s3.BucketProps(encryption_key=other_key))
    with pytest.raises(ValueError, match=r"^bucket_props.server_access_logs_bucket and access_log_bucket name "
                                         "different buckets"):
        ManifestBucket(stack, "Logged", access_log_bucket=logs_bucket,
                       bucket_props=s3.BucketProps(server_access_logs_bucket=other_logs))
    with pytest.raises(ValueError, match=r"^bucket_props.lifecycle_rules replace the rule noncurrent_version_expiration"):
        ManifestBucket(stack, "Expiring", noncurrent_version_expiration=cdk.Duration.days(7), bucket_props=s3.BucketProps(
            lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=cdk.Duration.days(1))]))
    # The same key or bucket given both ways is no contradiction.
    data = ManifestBucket(stack, "Agreed", encryption_key=key, access_log_bucket=logs_bucket,
                          bucket_props=s3.BucketProps(encryption_key=key, server_access_logs_bucket=logs_bucket))
    assert data.encryption_key is key and data.access_log_bucket is logs_bucket


def revision(folder, **props) -> str:
    return ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=folder, **props).manifest_revision


def test_input_revision_follows_what_is_uploaded_and_nothing_else(sample_folder):
    """The labeling job keys on the revision: an excluded file (the sample data's truth) must never
    start a new job; a data file, the manifest, or where they go must."""
    first = revision(sample_folder, exclude=["answers.json"])
    assert first == revision(sample_folder, exclude=["answers.json"])
    (sample_folder / "answers.json").write_text('{"a": "changed"}')
    (sample_folder / "items" / "answers.json").write_text("{}")  # matched at any depth, as the upload matches it
    assert revision(sample_folder, exclude=["answers.json"]) == first
    assert revision(sample_folder) != first  # not excluded, it is uploaded: a new revision
    assert revision(sample_folder, exclude=["answers.json"], data_prefix="items-v2/") != first
    (sample_folder / "items" / "a.txt").write_text("hello again")
    second = revision(sample_folder, exclude=["answers.json"])
    assert second != first
    (sample_folder / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/items/a.txt"}\n')
    assert revision(sample_folder, exclude=["answers.json"]) != second


def test_an_excluded_file_is_never_uploaded_even_when_it_names_the_data_prefix(sample_folder):
    (sample_folder / "answers.json").write_text('{"where": "${DATA_PREFIX_URI}/items/a.txt"}')
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    assembly = cdk.App.of(stack).synth()
    staged = {path.name for path in Path(assembly.directory).rglob("*") if path.is_file() and "asset." in str(path)}
    assert "a.json" in staged and "answers.json" not in staged


def test_a_link_out_of_the_data_folder_is_refused_naming_it_and_one_inside_is_kept(sample_folder, tmp_path):
    """The asset copies what a link points to: a link to a file (or folder) outside the data folder uploaded that file
    with the data, and the local runner served it to workers."""
    outside = tmp_path / "elsewhere"
    (outside / "keys").mkdir(parents=True)
    (outside / "id_rsa").write_text("private")
    (sample_folder / "items" / "b.txt").symlink_to("a.txt")  # inside: kept
    (sample_folder / "answers.json").unlink()
    (sample_folder / "answers.json").symlink_to(outside / "id_rsa")  # excluded: never uploaded
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    # A link within the folder stays a link: followed, a link to a folder above its own ("up" -> "..") would
    # upload the folder again inside itself.
    (sample_folder / "items" / "up").symlink_to("..")
    assembly = Path(cdk.App.of(stack).synth().directory)
    [staged] = [path for path in assembly.glob("asset.*/items/b.txt")]
    assert staged.is_symlink() and staged.read_text() == "hello"
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    [staged] = [path for path in Path(cdk.App.of(stack).synth().directory).glob("asset.*/items/up")]
    assert staged.is_symlink() and not [path for path in staged.parent.parent.rglob("*") if "up/" in str(path)]
    (sample_folder / "items" / "up").unlink()
    for name, target in (("items/c.txt", outside / "id_rsa"), ("items/c.txt", Path("../../elsewhere/id_rsa")),
                         ("more", outside / "keys")):
        (sample_folder / name).symlink_to(target)
        with pytest.raises(ValueError, match=f"data folder .*: {name} is a link to {outside / Path(target).name}, "
                                             "outside the folder"):
            ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
        (sample_folder / name).unlink()


def test_a_link_goes_where_its_target_goes_and_never_dangles(sample_folder):
    """A link named without ".json" ("alias") to a dataset file naming ${DATA_PREFIX_URI} was staged with the files as
    they are, its target with those filled in: the link dangled and was never uploaded ("does not exist")."""
    (sample_folder / "items" / "alias").symlink_to("a.json")
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    assembly = Path(cdk.App.of(stack).synth().directory)
    staged = [path for path in assembly.glob("asset.*/items/alias")]
    assert staged and all(path.is_file() for path in staged)  # each one leads to its target
    [target] = [path.parent / "a.json" for path in staged]
    assert target.is_file() and staged[0].read_text() == target.read_text()


def test_a_file_name_that_is_not_utf8_is_refused_naming_its_bytes(sample_folder):
    """A name written in Latin-1 (an old camera's, a Windows archive's) cannot be an S3 key: CDK's copy failed on it
    with "ENOENT: no such file or directory", naming a file that is there."""
    (sample_folder / "items").joinpath(os.fsdecode(b"caf\xe9.jpg")).write_bytes(b"not read")
    with pytest.raises(ValueError, match=r"data folder .*: the name items/caf\\xe9.jpg is not UTF-8 text"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


@pytest.mark.parametrize("name, problem", [
    ("new\nline.jpg", "its name holds a line break, a tab or another control character: rename it"),
    ("x${DATA_PREFIX_URI}.jpg", "its name holds '${', which the deployment reads as the start of a marker"),
])
def test_a_name_the_data_path_cannot_carry_is_refused_naming_it(sample_folder, name, problem):
    """A line break in a key: the local S3 endpoint refused it and the whole run ended on a traceback; a marker in a
    name is filled in by the deployment (folder_manifest leaves both out, saying this refusal awaits them)."""
    (sample_folder / "items" / name).write_bytes(b"not read")
    with pytest.raises(ValueError, match=rf"data folder .*: {re.escape(repr('items/' + name))}: {re.escape(problem)}"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


def test_a_pipe_and_a_key_longer_than_s3_takes_are_refused_naming_them(sample_folder):
    """A pipe in the folder failed the asset's copy naming a temporary folder; a path of 1,213 bytes was deployed by
    the local runner and would be refused by S3, with the whole deployment."""
    os.mkfifo(sample_folder / "items" / "pipe.jpg")
    with pytest.raises(ValueError, match=r"data folder .*: 'items/pipe.jpg' is neither a file nor a folder \(a pipe"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)
    (sample_folder / "items" / "pipe.jpg").unlink()
    deep = sample_folder / "items" / ("d" * 210) / ("e" * 210) / ("f" * 210) / ("g" * 210) / ("h" * 210)
    deep.mkdir(parents=True)
    (deep / "run.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"its key \(the data prefix 'data/' and its path\) is 1,\d{3} bytes, over "
                                         r"S3's 1,024"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


def test_every_file_that_cannot_be_uploaded_is_said_in_one_refusal(sample_folder):
    (sample_folder / "bad${1}.txt").write_text("x")
    (sample_folder / "items" / "pipe").mkdir()
    os.mkfifo(sample_folder / "items" / "pipe" / "fifo")
    (sample_folder / "out").symlink_to("/etc")
    (sample_folder / ".git").mkdir()  # excluded: its files are never looked at
    (sample_folder / ".git" / "bad${2}").write_text("x")
    with pytest.raises(ValueError) as refused:
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder, exclude=[".*"])
    said = str(refused.value).splitlines()
    assert said[0] == f"data folder {sample_folder} has 3 files that cannot be uploaded:"
    assert sorted(line.split(" ")[0] for line in said[1:]) == ["'bad${1}.txt':", "'items/pipe/fifo'", "out"]


def test_a_link_that_loops_is_refused_naming_it(sample_folder):
    (sample_folder / "items" / "loop.jpg").symlink_to("loop.jpg")
    with pytest.raises(ValueError, match=r"data folder .*: items/loop.jpg is a link that leads back to itself"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


def test_the_files_left_out_of_the_data_asset_are_exactly_those_uploaded_otherwise(sample_folder):
    """The manifest and the files naming ${DATA_PREFIX_URI} go up with the bucket filled in, so the folder's asset
    leaves them out by name; their names were read as globs, matched at any depth when at the top: datasets/run?.json
    left out datasets/run1.json, and index.json left out sub/index.json (never uploaded: "does not exist")."""
    (sample_folder / "datasets").mkdir()
    (sample_folder / "sub").mkdir()
    (sample_folder / "datasets" / "run?.json").write_text('{"image": "${DATA_PREFIX_URI}/items/a.txt"}')
    (sample_folder / "datasets" / "run1.json").write_text('{"image": "s3://my-bucket/run1.jpg"}')
    (sample_folder / "index.json").write_text('{"first": "${DATA_PREFIX_URI}/items/a.json"}')
    (sample_folder / "sub" / "index.json").write_text("{}")
    (sample_folder / "sub" / "manifest.jsonl").write_text("{}\n")
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    assembly = Path(cdk.App.of(stack).synth().directory)
    folder_asset = next(path.parent.parent for path in assembly.glob("asset.*/items/a.txt"))
    uploaded = {str(path.relative_to(folder_asset)) for path in folder_asset.rglob("*") if path.is_file()}
    assert uploaded == {"items/a.txt", "datasets/run1.json", "sub/index.json", "sub/manifest.jsonl"}


def test_many_files_naming_the_data_prefix_are_one_source_filled_in_by_one_marker(sample_folder):
    """A requester's 20,000 runs, each a dataset file naming ${DATA_PREFIX_URI}, were a source each (Source.data: each
    a construct found by counting up from Asset1, and the folder's asset leaving each out by a pattern matched
    against every file), which took hours to synthesize, and a template past CloudFormation's 1 MB from about 2,300
    runs (a marker per line of the manifest too). However many there are: two sources, one marker each."""
    runs = 300
    for run in range(runs):
        (sample_folder / "items" / f"run-{run}.json").write_text('{"image": "${DATA_PREFIX_URI}/items/a.txt"}')
    (sample_folder / "manifest.jsonl").write_text("".join(
        f'{{"source": "${{DATA_PREFIX_URI}}/items/run-{run}.json"}}\n' for run in range(runs)))
    stack = new_stack(nag=False)
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    assembly = Path(cdk.App.of(stack).synth().directory)
    template = Template.from_stack(stack).to_json()
    deployments = resources_of_type(template, "Custom::CDKBucketDeployment")
    [folder, manifest] = [next(d["Properties"] for key, d in deployments.items() if name in key)
                          for name in ("SampleData", "InputManifest")]
    assert len(folder["SourceObjectKeys"]) == 2 and len(manifest["SourceObjectKeys"]) == 1
    [as_is, filled_in] = [assembly / f"asset.{key.removesuffix('.zip')}" for key in folder["SourceObjectKeys"]]
    assert {path.name for path in as_is.rglob("*") if path.is_file()} == {"a.txt"}
    assert len([path for path in filled_in.rglob("*") if path.is_file()]) == runs + 1  # and items/a.json
    for markers in (folder["SourceMarkers"][1], manifest["SourceMarkers"][0]):
        assert list(markers) == ["${DATA_PREFIX_URI}"]
        assert re.fullmatch(r"s3://databucket\w+/data", resolve(markers["${DATA_PREFIX_URI}"], template))
    assert folder["SourceMarkers"][0] == {}
    # Filled in as UTF-8: one that is not is named (it was a UnicodeDecodeError naming no file).
    (sample_folder / "items" / "run-0.json").write_bytes('{"é": "${DATA_PREFIX_URI}/items/a.txt"}'.encode("latin-1"))
    with pytest.raises(ValueError, match=r"items/run-0.json names \$\{DATA_PREFIX_URI\} but is not UTF-8 text"):
        ManifestBucket(new_stack(nag=False), "Data", sample_data_dir=sample_folder)


def test_with_asset_staging_off_the_data_assets_are_folders_that_outlive_the_synth(sample_folder, tmp_path):
    """`cdk synth --no-staging` points each asset at its own folder, read when it is deployed: the data's folders of
    links were made in a temporary folder removed at the end of the construct, so such a deploy found nothing."""
    app = cdk.App(outdir=str(tmp_path / "assembly"),  # CDK's own key, as `--no-staging` sets it
                  context={"aws:cdk:bundling-stacks": [], "aws:cdk:disable-asset-staging": True})
    stack = cdk.Stack(app, "Fork")
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder, exclude=["answers.json"])
    app.synth()
    assets = json.loads((tmp_path / "assembly" / "Fork.assets.json").read_text())["files"].values()
    folders = [Path(asset["source"]["path"]) for asset in assets if asset["source"].get("packaging") == "zip"
               and "bucket-deployment-handler" not in asset["source"]["path"]]
    # The data as it is, the data filled in at deploy and the manifest, in the cloud assembly (CDK's own handler
    # stays in CDK's package).
    assert len(folders) == 3 and all(tmp_path / "assembly" in folder.parents for folder in folders)
    # What the CLI zips when it deploys: every file under each folder, links followed.
    held = {path.relative_to(folder).as_posix(): path.read_text() for folder in folders for path in folder.rglob("*")
            if path.is_file()}
    assert held["items/a.txt"] == "hello" and "${DATA_PREFIX_URI}" in held["items/a.json"]
    assert held["manifests/input.manifest"].startswith('{"source-ref": "${DATA_PREFIX_URI}/items/a.json"}')


# -- PrivateWorkteam -------------------------------------------------------------------------
def test_workteam_can_reuse_an_existing_workteam():
    stack = new_stack()
    team = PrivateWorkteam(stack, "Team", existing_workteam_arn=WORKTEAM_ARN)
    template = Template.from_stack(stack).to_json()
    assert team.workteam_arn == WORKTEAM_ARN and team.portal_url is None and team.user_pool is None
    assert not resources_of_type(template, "AWS::Cognito::UserPool")
    with pytest.raises(ValueError, match="existing workteam"):
        PrivateWorkteam(new_stack(nag=False), "Team", existing_workteam_arn=WORKTEAM_ARN, worker_emails=["a@b.org"])
    # Settings of the team this construct creates were silently unused with an existing one (MFA required, say).
    with pytest.raises(ValueError, match="^mfa, removal_policy configure a workteam this construct creates; they "
                                         "cannot apply to existing_workteam_arn$"):
        PrivateWorkteam(new_stack(nag=False), "Team", existing_workteam_arn=WORKTEAM_ARN, mfa=cognito.Mfa.REQUIRED,
                        removal_policy=cdk.RemovalPolicy.DESTROY)


@pytest.mark.parametrize("arn, env, message", [
    ("reviewers", None, "existing_workteam_arn 'reviewers' is not a workteam ARN"),
    (WORKTEAM_ARN, cdk.Environment(region="eu-west-1"), f"existing_workteam_arn {WORKTEAM_ARN!r} is a workteam of "
                                                         "region 'us-east-1', but stack Fork deploys to region"),
    (WORKTEAM_ARN, cdk.Environment(account="999988887777", region="us-east-1"),
     f"existing_workteam_arn {WORKTEAM_ARN!r} is a workteam of account '111122223333', but stack Fork"),
])
def test_a_reused_workteam_is_checked_as_a_jobs_workteam_is(arn, env, message):
    """Refused by its own prop's name at synth; a job (or grant_describe's policy) would fail on it only later."""
    stack = cdk.Stack(cdk.App(), "Fork", env=env)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        PrivateWorkteam(stack, "Team", existing_workteam_arn=arn)


@pytest.mark.parametrize("emails, message", [
    (["a@example.org."], "worker_emails entry 'a@example.org.' is not an email address"),
    (["a@example.org", "A@example.org"], "worker_emails lists one address twice: 'a@example.org' and 'A@example.org'"),
    ("a@example.org", "worker_emails must be a list of email addresses"),
])
def test_workteam_refuses_at_synth_what_it_could_not_invite(emails, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PrivateWorkteam(new_stack(nag=False), "Team", worker_emails=emails)


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


def test_the_user_pool_takes_cognitos_own_props_over_its_secure_defaults():
    """user_pool_props: CognitoUserPool's fields merged over the defaults field by field (the rest stay), its mfa and
    removal policy taken as the construct's props (the MFA acknowledgement and the notification key follow them),
    and cdk-nag still clean."""
    stack = new_stack()  # cdk-nag on
    team = PrivateWorkteam(stack, "Team", user_pool_props=cognito.UserPoolProps(
        feature_plan=cognito.FeaturePlan.PLUS, user_pool_name="labelers", mfa=cognito.Mfa.REQUIRED,
        removal_policy=cdk.RemovalPolicy.DESTROY))
    template = Template.from_stack(stack).to_json()
    [(pool_id, pool)] = resources_of_type(template, "AWS::Cognito::UserPool").items()
    assert pool_id == logical_id(team.user_pool)
    properties = pool["Properties"]
    assert properties["UserPoolName"] == "labelers" and properties["UserPoolTier"] == "PLUS"
    assert properties["MfaConfiguration"] == "ON" and properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    # defaults kept: no self sign-up, e-mail user names, the strong password policy; DESTROY lifts deletion protection
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert properties.get("DeletionProtection", "INACTIVE") == "INACTIVE"
    assert pool["DeletionPolicy"] == "Delete"
    [key] = [v for k, v in resources_of_type(template, "AWS::KMS::Key").items() if k == logical_id(team.notification_key)]
    assert key["DeletionPolicy"] == "Delete"  # the construct's removal policy, given through the pool's props


@pytest.mark.parametrize("settings, message", [
    (dict(user_pool_props=cognito.UserPoolProps(sign_in_aliases=cognito.SignInAliases(username=True, email=True))),
     "user_pool_props.sign_in_aliases cannot be set: workers are invited with their email address as user name"),
    (dict(user_pool_props=cognito.UserPoolProps(user_invitation=cognito.UserInvitationConfig(email_subject="Hi"))),
     "user_pool_props.user_invitation cannot be set: the portal resource writes the invitation"),
    (dict(mfa=cognito.Mfa.OPTIONAL, user_pool_props=cognito.UserPoolProps(mfa=cognito.Mfa.REQUIRED)),
     "user_pool_props.mfa (Mfa.REQUIRED) and mfa (Mfa.OPTIONAL) differ: give it once, as mfa"),
    (dict(existing_workteam_arn=WORKTEAM_ARN, user_pool_props=cognito.UserPoolProps(user_pool_name="x")),
     "user_pool_props configure a workteam this construct creates"),
])
def test_user_pool_props_that_would_break_the_workforce_or_say_a_prop_twice_are_refused(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PrivateWorkteam(new_stack(nag=False), "Team", **settings)


def test_user_pool_props_are_refused_for_an_existing_workforces_pool():
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match=re.escape("user_pool_props configure a user pool this construct creates")):
        PrivateWorkteam(stack, "Team", user_pool_props=cognito.UserPoolProps(user_pool_name="x"), **workforce_of(stack))


def test_an_added_team_gets_task_notifications_as_the_first_does():
    """Without a notification topic a team's members get no e-mail about new tasks: an added team (the experts) has
    one of its own, encrypted with the same key, SageMaker allowed to publish, the given addresses subscribed."""
    stack = new_stack()  # cdk-nag on
    team = PrivateWorkteam(stack, "Team", worker_emails=["crowd@example.org"])
    experts = team.add_workteam("Experts", description="Experts", notification_emails=["expert@example.org"])
    template = Template.from_stack(stack).to_json()
    topic = team.added_topics["Experts"]
    assert topic is not team.notification_topic
    [workteam] = [v for k, v in resources_of_type(template, "AWS::SageMaker::Workteam").items()
                  if k == stack.get_logical_id(experts)]
    assert workteam["Properties"]["NotificationConfiguration"] == {"NotificationTopicArn": {"Ref": logical_id(topic)}}
    [resource] = [v for k, v in resources_of_type(template, "AWS::SNS::Topic").items() if k == logical_id(topic)]
    assert resource["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [logical_id(team.notification_key), "Arn"]}
    subscriptions = {v["Properties"]["Endpoint"]: v["Properties"]["TopicArn"]
                     for v in resources_of_type(template, "AWS::SNS::Subscription").values()}
    assert subscriptions == {"crowd@example.org": {"Ref": logical_id(team.notification_topic)},
                             "expert@example.org": {"Ref": logical_id(topic)}}
    policies = [v["Properties"] for v in resources_of_type(template, "AWS::SNS::TopicPolicy").values()
                if {"Ref": logical_id(topic)} in v["Properties"]["Topics"]]
    assert [s["Principal"] for p in policies for s in p["PolicyDocument"]["Statement"]
            if s["Effect"] == "Allow" and s["Action"] == "sns:Publish"] == [{"Service": "sagemaker.amazonaws.com"}]


def test_a_second_workteam_with_its_own_user_pool_in_one_stack_is_refused():
    """Both would take the one Cognito domain prefix derived from the stack (and an account has one private workforce
    a region): refused at synth, pointing at add_workteam; a reused workteam beside it, or one per stack, is fine."""
    stack = new_stack(nag=False)
    PrivateWorkteam(stack, "Crowd")
    PrivateWorkteam(stack, "Reused", existing_workteam_arn=WORKTEAM_ARN)
    with pytest.raises(ValueError, match="Fork/Experts: stack Fork already has a PrivateWorkteam with its own user pool "
                                         r"\(Fork/Crowd\).*add_workteam"):
        PrivateWorkteam(stack, "Experts")
    other = cdk.Stack(stack.node.root, "Other")
    assert PrivateWorkteam(other, "Crowd").user_pool is not None


# -- PrivateWorkteam: a team of an existing private workforce ---------------------------------------------
WORKFORCE_POOL = "us-east-1_AbCdEf123"
WORKFORCE_CLIENT = "workforceclient1"


def workforce_of(stack):
    """The user pool and app client of a private workforce made elsewhere (the console, another app)."""
    return {"existing_user_pool": cognito.UserPool.from_user_pool_id(stack, "WorkforcePool", WORKFORCE_POOL),
            "existing_user_pool_client": cognito.UserPoolClient.from_user_pool_client_id(
                stack, "WorkforceClient", WORKFORCE_CLIENT)}


def portal_statements(template: dict, team) -> list[dict]:
    return role_statements(template, team.portal_function.role)


def test_a_team_of_an_existing_workforce_is_a_group_of_its_pool_and_changes_nothing_of_it():
    """An account has one private workforce a region: a team of one made elsewhere is a user group of its pool,
    signing in through its app client. Nothing of the pool or client is created, and the portal step may not
    change them (their settings and callback URLs serve the workforce's portal): it only reads the portal URL and
    invites, in that pool alone. cdk-nag finds nothing open."""
    stack = new_stack()  # cdk-nag on
    workforce = workforce_of(stack)
    team = PrivateWorkteam(stack, "Team", worker_emails=["a@example.org"], **workforce)
    template = Template.from_stack(stack).to_json()
    for created in ("UserPool", "UserPoolClient", "UserPoolDomain"):
        assert not resources_of_type(template, f"AWS::Cognito::{created}"), created
    [(group_id, group)] = resources_of_type(template, "AWS::Cognito::UserPoolGroup").items()
    assert group["Properties"]["UserPoolId"] == WORKFORCE_POOL and group_id == stack.get_logical_id(team.worker_group)
    [workteam] = resources_of_type(template, "AWS::SageMaker::Workteam").values()
    assert workteam["Properties"]["MemberDefinitions"] == [{"CognitoMemberDefinition": {
        "CognitoUserPool": WORKFORCE_POOL, "CognitoClientId": WORKFORCE_CLIENT, "CognitoUserGroup": {"Ref": group_id}}}]
    assert workteam["Properties"]["NotificationConfiguration"] == {
        "NotificationTopicArn": {"Ref": logical_id(team.notification_topic)}}
    [portal] = resources_of_type(template, "Custom::GroundTruthWorkteamPortal").values()
    assert {key: value for key, value in portal["Properties"].items() if key != "ServiceToken"} == {
        "WorkteamName": {"Fn::GetAtt": [stack.get_logical_id(team.workteam), "WorkteamName"]}, "UserPoolId": WORKFORCE_POOL,
        "UserGroupName": {"Ref": group_id}, "WorkerEmails": ["a@example.org"], "ExistingWorkforce": "true"}
    [subscription] = resources_of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "a@example.org"
    # least privilege: invitations into this pool only, and nothing that changes the pool or its client
    cognito_statements = [s for s in portal_statements(template, team)
                          if any(a.startswith("cognito-idp:") for a in as_list(s["Action"]))]
    assert [sorted(as_list(s["Action"])) for s in cognito_statements] == [[
        "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminCreateUser", "cognito-idp:AdminRemoveUserFromGroup"]]
    assert cognito_statements[0]["Resource"] == stack.resolve(workforce["existing_user_pool"].user_pool_arn)
    assert cognito_statements[0]["Resource"]["Fn::Join"][1][-1].endswith(f":userpool/{WORKFORCE_POOL}")
    assert team.user_pool is workforce["existing_user_pool"] and team.user_pool_domain is None
    assert team.user_pool_client is workforce["existing_user_pool_client"]
    for attribute in ("worker_group", "notification_topic", "notification_key", "workteam", "portal", "portal_url",
                      "portal_function"):
        assert getattr(team, attribute) is not None, attribute


def test_an_added_team_of_an_existing_workforce_is_another_group_of_its_pool():
    stack = new_stack()  # cdk-nag on
    team = PrivateWorkteam(stack, "Team", **workforce_of(stack))
    experts = team.add_workteam("Experts", description="Experts", notification_emails=["expert@example.org"])
    template = Template.from_stack(stack).to_json()
    group = team.added_groups["Experts"]
    assert template["Resources"][stack.get_logical_id(group)]["Properties"]["UserPoolId"] == WORKFORCE_POOL
    member = template["Resources"][stack.get_logical_id(experts)]["Properties"]["MemberDefinitions"][0]
    assert member == {"CognitoMemberDefinition": {"CognitoUserPool": WORKFORCE_POOL, "CognitoClientId": WORKFORCE_CLIENT,
                                                  "CognitoUserGroup": {"Ref": stack.get_logical_id(group)}}}
    assert not resources_of_type(template, "AWS::Cognito::UserPool")


@pytest.mark.parametrize("props, message", [
    (lambda stack: {"existing_user_pool": workforce_of(stack)["existing_user_pool"]},
     "existing_user_pool needs existing_user_pool_client: a team of an existing private workforce signs in through "
     "that workforce's user pool and its app client; give both, or neither"),
    (lambda stack: {"existing_user_pool_client": workforce_of(stack)["existing_user_pool_client"]},
     "existing_user_pool_client needs existing_user_pool"),
    (lambda stack: {**workforce_of(stack), "existing_workteam_arn": WORKTEAM_ARN},
     "existing_user_pool and existing_user_pool_client make a new team of an existing workforce, "
     "existing_workteam_arn reuses a whole workteam: give one or the other"),
    # Settings of a pool this construct would create were silently unused with the workforce's (MFA required, say).
    (lambda stack: {**workforce_of(stack), "mfa": cognito.Mfa.REQUIRED,
                    "password_policy": cognito.PasswordPolicy(min_length=16)},
     "mfa, password_policy configure a user pool this construct creates; they cannot apply to existing_user_pool, "
     "whose settings belong to its workforce"),
    (lambda stack: {**workforce_of(stack), "invitation_subject": "Welcome"},
     "invitation_subject configure a user pool this construct creates"),
])
def test_a_team_of_an_existing_workforce_refuses_what_cannot_apply(props, message):
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        PrivateWorkteam(stack, "Team", **props(stack))


def test_a_team_of_a_workforce_of_another_region_is_refused_at_synth():
    """The workforce's pool is of its region (the id says which); its teams must be made there."""
    stack = cdk.Stack(cdk.App(), "Fork", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    with pytest.raises(ValueError, match=re.escape(f"existing_user_pool {WORKFORCE_POOL!r} is a pool of us-east-1, "
                                                   "but stack Fork deploys to eu-west-1")):
        PrivateWorkteam(stack, "Team", **workforce_of(stack))
    stack = cdk.Stack(cdk.App(), "Fork", env=cdk.Environment(account="111122223333", region="us-east-1"))
    assert PrivateWorkteam(stack, "Team", **workforce_of(stack)).workteam is not None


def test_teams_of_an_existing_workforce_sit_side_by_side_but_never_beside_a_pool_of_their_stack():
    """Two teams of the one workforce in a stack are fine; a pool made beside them would be a second workforce (and
    one beside a made pool would be the workforce's rival): refused at synth in either order."""
    stack = new_stack(nag=False)
    workforce = workforce_of(stack)
    PrivateWorkteam(stack, "Crowd", **workforce)
    PrivateWorkteam(stack, "Experts", description="Experts", **workforce)
    with pytest.raises(ValueError, match="Fork/Own: stack Fork already has a PrivateWorkteam with an existing "
                                         r"workforce's user pool \(Fork/Crowd\)"):
        PrivateWorkteam(stack, "Own")
    made = new_stack(nag=False)
    PrivateWorkteam(made, "Crowd")
    with pytest.raises(ValueError, match=r"Fork/Team: stack Fork already has a PrivateWorkteam with its own user pool "
                                         r"\(Fork/Crowd\)"):
        PrivateWorkteam(made, "Team", **workforce_of(made))


def test_a_team_of_an_existing_workforce_keeps_the_other_settings():
    stack = new_stack(nag=False)
    team = PrivateWorkteam(stack, "Team", description="Welders", removal_policy=cdk.RemovalPolicy.DESTROY,
                           subscribe_workers_to_notifications=False, worker_emails=["a@example.org"],
                           log_retention=logs.RetentionDays.ONE_MONTH, **workforce_of(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::Workteam", {"Description": "Welders"})
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})
    template.resource_count_is("AWS::SNS::Subscription", 0)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    assert team.worker_emails == ["a@example.org"]


# -- CustomLabelingWorkflow ------------------------------------------------------------------
def test_the_log_groups_and_providers_of_the_custom_resources_are_exposed(sample_folder):
    """Every resource a construct makes is reachable: the job's and the portal's provider log groups are the
    template's log groups the providers log to, and the portal's provider is the one its resource calls."""
    stack = new_stack()
    team = PrivateWorkteam(stack, "Team")
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), workteam_arn=team.workteam_arn)
    template = Template.from_stack(stack).to_json()
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    for group in (flow.job_provider_log_group, flow.job_waiter_log_group, team.portal_provider_log_group):
        assert isinstance(group, logs.LogGroup) and logical_id(group) in groups
    functions = resources_of_type(template, "AWS::Lambda::Function")
    def logged_to(group):
        return {k for k, f in functions.items()
                if f["Properties"].get("LoggingConfig", {}).get("LogGroup") == {"Ref": logical_id(group)}}
    assert logged_to(flow.job_provider_log_group) == {
        logical_id(flow.job_provider.node.find_child(name))
        for name in ("framework-onEvent", "framework-isComplete", "framework-onTimeout")}
    assert logged_to(team.portal_provider_log_group) == {
        logical_id(team.portal_provider.node.find_child("framework-onEvent"))}
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    destination = machine["Properties"]["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]
    assert destination["LogGroupArn"] == {"Fn::GetAtt": [logical_id(flow.job_waiter_log_group), "Arn"]}
    [portal] = resources_of_type(template, "Custom::GroundTruthWorkteamPortal").values()
    assert portal["Properties"]["ServiceToken"] == stack.resolve(team.portal_provider.service_token)
    # Without a job, none of its parts exist.
    other = workflow(stack, flow.input_bucket, "NoJob", create_labeling_job=False, output_prefix="other-output/",
                     derived_data_prefix="other-derived/", template_prefix="other-templates/")
    assert other.job_provider_log_group is None and other.job_waiter_log_group is None


def test_workflow_without_job_provisions_everything_else(sample_folder):
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    template = Template.from_stack(stack).to_json()
    assert flow.job is None and flow.labeling_job_name is None
    assert not resources_of_type(template, "Custom::GroundTruthLabelingJob")
    assert len(resources_of_type(template, "AWS::Lambda::Function")) >= 2


def test_workflow_functions_take_the_callers_environment_and_the_construct_wires_its_own(sample_folder):
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    flow = workflow(stack, data, create_labeling_job=False, consolidation_function_props=inline_props(
        "post", environment={"CONSOLIDATION_METHOD": "majority-vote", "TASK_RECORDS_URI": "s3://elsewhere/"}))
    template = Template.from_stack(stack).to_json()
    records = {"Fn::Join": ["", ["s3://", {"Ref": logical_id(data.bucket)}, "/derived/task-records/"]]}
    # The caller's setting reaches the function; the construct's wiring (what its grants match) wins.
    assert environment_of(template, flow.consolidation_function) == {
        "CONSOLIDATION_METHOD": "majority-vote", "TASK_RECORDS_URI": records}
    assert environment_of(template, flow.pre_labeling_function) == {
        "DERIVED_DATA_PREFIX": "derived/", "TASK_RECORDS_URI": records}
    # The worker model is kept per batch under the output prefix: listing is allowed there only.
    listing = [st for st in role_statements(template, flow.consolidation_function.role)
               if "s3:ListBucket" in as_list(st["Action"])]
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


def test_workflow_takes_existing_functions_of_its_stack_and_wires_them(sample_folder):
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    theirs = lambda_.Function(stack, "TheirPreLabeling", **struct_fields(inline_props("theirs", memory_size=2048,
                                                                                        environment={"MODE": "x"})))
    acknowledge(theirs, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole]", "The caller's own function, as CDK makes it by default.")
    flow = workflow(stack, data, pre_labeling_function_props=None, existing_pre_labeling_function=theirs)
    template = Template.from_stack(stack).to_json()
    assert flow.pre_labeling_function is theirs
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert logical_id(theirs) in functions and not [k for k in functions if k.startswith("WorkflowPreLabeling")]
    # Wired as a function the construct made would be, and granted what pre-labeling needs on its own role.
    records = {"Fn::Join": ["", ["s3://", {"Ref": logical_id(data.bucket)}, "/derived/task-records/"]]}
    assert environment_of(template, theirs) == {"MODE": "x", "DERIVED_DATA_PREFIX": "derived/", "TASK_RECORDS_URI": records}
    granted = actions_on(role_statements(template, theirs.role))
    assert {resource["Fn::Join"][1][-1] for resource in granted["s3:PutObject"]} == {"/derived/*"}
    assert {resource["Fn::Join"][1][-1] for resource in granted["s3:GetObject"]} == {"/data/*", "/derived/*"}
    invoked = actions_on(role_statements(template, flow.execution_role))["lambda:InvokeFunction"]
    assert {"Fn::GetAtt": [logical_id(theirs), "Arn"]} in invoked
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    assert job["Properties"]["PreHumanTaskLambdaArn"] == {"Fn::GetAtt": [logical_id(theirs), "Arn"]}


def test_a_function_of_another_stack_is_refused_naming_why_not_a_dependency_cycle(sample_folder):
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    functions, flows = cdk.Stack(app, "Functions"), cdk.Stack(app, "Workflows")
    theirs = lambda_.Function(functions, "TheirPreLabeling", **struct_fields(inline_props("theirs")))
    with pytest.raises(ValueError, match=r"existing_pre_labeling_function \(Function\) is defined in stack Functions: "
                                         ".* the two stacks would depend on each other"):
        workflow(flows, ManifestBucket(flows, "Data", sample_data_dir=sample_folder), pre_labeling_function_props=None,
                 existing_pre_labeling_function=theirs)


@pytest.mark.parametrize("env", [None, cdk.Environment(account="111122223333", region="us-east-1")])
def test_a_bucket_of_another_stack_leaves_no_finding_open_and_acknowledges_only_the_workflows_prefixes(
        sample_folder, tmp_path, env):
    """A ManifestBucket shared by a stack of its own: the workflow's grants on it are named in cdk-nag's findings by
    the bucket's cross-stack export, and so must their acknowledgements be; a grant the workflow did not make (a
    reader's, on another prefix, in the same stack) stays open."""
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    shared, flows = cdk.Stack(app, "Shared", env=env), cdk.Stack(app, "Flows", env=env)
    data = ManifestBucket(shared, "Data", sample_data_dir=sample_folder)
    workflow(flows, data)
    reader = iam.Role(flows, "Reader", assumed_by=iam.AccountRootPrincipal())
    data.grant_read_prefix(reader, "elsewhere/")
    [(rule, paths)] = open_findings(app).items()
    assert re.fullmatch(r"AwsSolutions-IAM5\[Resource::Shared:ExportsOutputFnGetAttDataBucket\w+Arn\w+/elsewhere/\*]",
                        rule), rule
    assert paths == ["Flows/Reader/DefaultPolicy/Resource"]


@pytest.mark.parametrize("acknowledged", [True, False])
def test_reading_the_output_leaves_the_callers_role_clean_under_cdk_nag(sample_folder, tmp_path, acknowledged):
    """grant_read_output's s3:GetObject on output/* is cdk-nag's IAM5 finding on the grantee's policy: acknowledged
    there (scoped to the workflow's output prefix) unless the caller asks to do it itself."""
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Fork")
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    reporter = lambda_.Function(stack, "Reporter", **struct_fields(inline_props("report", role=iam.Role(
        stack, "ReporterRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")))))
    for grantee in (reader, reporter):
        flow.grant_read_output(grantee, acknowledge_prefix_wildcard=acknowledged)
    findings = open_findings(app)
    if acknowledged:
        assert findings == {}
    else:
        [(rule, paths)] = findings.items()
        assert re.fullmatch(r"AwsSolutions-IAM5\[Resource::<DataBucket\w+\.Arn>/output/\*]", rule), rule
        assert paths == ["Fork/Reader/DefaultPolicy/Resource", "Fork/ReporterRole/DefaultPolicy/Resource"]


@pytest.mark.parametrize("acknowledged", [True, False])
def test_a_caller_granted_to_start_jobs_may_start_only_this_workflows_jobs_and_pass_its_role_to_sagemaker(
        sample_folder, tmp_path, acknowledged):
    """grant_start_labeling_job: what sending labeling_job_request by hand takes (a job of another batch, or with
    create_labeling_job=False), on names with the workflow's job key only (the names its job functions and review act
    on), the role passed to SageMaker alone; the same statements as the job function's, and cdk-nag clean."""
    from local_ground_truth.function_grants import Request, decide

    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Fork")
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), tags={"team": "ml"})
    starter = iam.Role(stack, "Starter", assumed_by=iam.AccountRootPrincipal())
    grant = flow.grant_start_labeling_job(starter, acknowledge_name_wildcard=acknowledged)
    assert isinstance(grant, iam.Grant) and grant.success
    findings = open_findings(app)
    template = json.loads((tmp_path / "Fork.template.json").read_text())  # written before cdk-nag judges it
    granted = resolve(role_statements(template, starter), template)
    jobs = f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{flow.job_name_key}"
    for action in ("CreateLabelingJob", "DescribeLabelingJob", "StopLabelingJob", "AddTags"):
        assert decide(granted, Request(f"sagemaker:{action}", f"{jobs}-batch-2", {}))
        assert not decide(granted, Request(f"sagemaker:{action}", f"{jobs[:-1]}0-batch-2", {}))  # another key
    assert not decide(granted, Request("sagemaker:DeleteWorkteam", f"{jobs}-batch-2", {}))
    [pass_role] = [s for s in granted if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == f"arn:aws:iam::111122223333:role/{logical_id(flow.execution_role).lower()}"
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # One definition: the job function starts its jobs with the same statements.
    by_the_job = resolve([s for s in role_statements(template, flow.job_function.role)
                          if any(a.startswith(("sagemaker:", "iam:")) for a in as_list(s["Action"]))], template)
    assert [s for s in granted if s in by_the_job] == granted
    if acknowledged:
        assert findings == {}
    else:
        [(rule, paths)] = findings.items()
        assert rule.startswith("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:") and rule.endswith(
            f":labeling-job/{flow.job_name_key}-*]"), rule
        assert paths == ["Fork/Starter/DefaultPolicy/Resource"]

    untagged = new_stack(nag=False)
    plain = workflow(untagged, ManifestBucket(untagged, "Data", sample_data_dir=sample_folder), create_labeling_job=False)
    plain_starter = iam.Role(untagged, "Starter", assumed_by=iam.AccountRootPrincipal())
    plain.grant_start_labeling_job(plain_starter)
    assert "sagemaker:AddTags" not in actions_on(role_statements(Template.from_stack(untagged).to_json(), plain_starter))


@pytest.mark.parametrize("synthesizer, context", [
    (lambda: cdk.DefaultStackSynthesizer(qualifier="corp1"), {}),
    (lambda: None, {"@aws-cdk/core:bootstrapQualifier": "corp2"}),
    (lambda: cdk.DefaultStackSynthesizer(file_assets_bucket_name="corp-assets-${AWS::AccountId}-${AWS::Region}"), {}),
    (lambda: cdk.CliCredentialsStackSynthesizer(file_assets_bucket_name="corp-assets-${AWS::Region}"), {}),
    (lambda: cdk.LegacyStackSynthesizer(), {}),
], ids=["qualifier", "qualifier-context", "bucket-name", "cli-credentials-bucket-name", "legacy"])
def test_sample_data_and_templates_pass_cdk_nag_with_any_bootstrap(sample_folder, tmp_path, synthesizer, context):
    """The template and sample-data deployments copy from the CDK asset bucket of the stack's synthesizer: its
    acknowledgement names that bucket, whatever its qualifier or name."""
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": [], **context})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Fork", synthesizer=synthesizer(),
                      env=cdk.Environment(account="111122223333", region="us-east-1"))
    workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    assert open_findings(app) == {}


def _alias(stack, construct_id):
    function = lambda_.Function(stack, f"{construct_id}Function", **struct_fields(inline_props("theirs")))
    return lambda_.Alias(stack, construct_id, alias_name="live", version=function.current_version)


def _version(stack, construct_id):
    return lambda_.Function(stack, construct_id, **struct_fields(inline_props("theirs"))).current_version


def _singleton(stack, construct_id):
    return lambda_.SingletonFunction(stack, construct_id, uuid="0c2f1d64-5d38-4c1e-9a0e-4f8a7b3c2d11",
                                     **struct_fields(inline_props("theirs")))


@pytest.mark.parametrize("make", [_alias, _version, _singleton], ids=["alias", "version", "singleton"])
def test_an_alias_version_or_singleton_of_another_stack_is_refused_by_the_construct(sample_folder, make):
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    functions, flows = cdk.Stack(app, "Functions"), cdk.Stack(app, "Workflows")
    theirs = make(functions, "Theirs")
    with pytest.raises(ValueError, match=f"existing_pre_labeling_function \\({type(theirs).__name__}\\) is defined in "
                                         "stack Functions: .* the two stacks would depend on each other"):
        workflow(flows, ManifestBucket(flows, "Data", sample_data_dir=sample_folder), pre_labeling_function_props=None,
                 existing_pre_labeling_function=theirs)


def test_an_alias_of_a_function_of_another_stack_is_refused():
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    functions, flows = cdk.Stack(app, "Functions"), cdk.Stack(app, "Workflows")
    version = lambda_.Function(functions, "Theirs", **struct_fields(inline_props("theirs"))).current_version
    alias = lambda_.Alias(flows, "Live", alias_name="live", version=version)
    with pytest.raises(ValueError, match=r"existing_pre_labeling_function \(Alias\) runs a function defined in stack "
                                         "Functions: the two stacks would depend on each other"):
        workflow(flows, ManifestBucket(flows, "Data"), pre_labeling_function_props=None,
                 existing_pre_labeling_function=alias)


@pytest.mark.parametrize("make", [_alias, _version, _singleton], ids=["alias", "version", "singleton"])
def test_an_alias_version_or_singleton_of_this_stack_has_its_function_wired(sample_folder, make):
    stack = new_stack(nag=False)
    theirs = make(stack, "Theirs")
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder),
                    pre_labeling_function_props=None, existing_pre_labeling_function=theirs)
    template = Template.from_stack(stack).to_json()
    [resource] = [v for v in resources_of_type(template, "AWS::Lambda::Function").values()
                  if "theirs" in json.dumps(v["Properties"]["Code"])]  # the one function the caller made
    assert set(resource["Properties"]["Environment"]["Variables"]) == {"DERIVED_DATA_PREFIX", "TASK_RECORDS_URI"}
    assert flow.pre_labeling_function is theirs
    granted = actions_on(role_statements(template, theirs.role))
    assert {r["Fn::Join"][1][-1] for r in granted["s3:PutObject"]} == {"/derived/*"}


def test_workflow_takes_a_function_it_cannot_change(sample_folder):
    """An imported IFunction: invoked by ARN, neither reconfigured nor granted anything here (its
    owner does that), and the stack still passes cdk-nag."""
    arn = "arn:aws:lambda:us-east-1:111122223333:function:shared-consolidation"
    stack = new_stack()
    theirs = lambda_.Function.from_function_arn(stack, "Shared", arn)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder),
                    consolidation_function_props=None, existing_consolidation_function=theirs)
    template = Template.from_stack(stack).to_json()
    assert flow.consolidation_function is theirs
    assert not [k for k in resources_of_type(template, "AWS::Lambda::Function") if k.startswith("WorkflowConsolidation")]
    assert arn in actions_on(role_statements(template, flow.execution_role))["lambda:InvokeFunction"]
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    assert job["Properties"]["AnnotationConsolidationLambdaArn"] == arn


def test_an_imported_function_is_granted_nothing_and_one_warning_names_what_its_owner_must_grant(sample_folder):
    """A function imported by ARN has no role this app can change: the construct grants it nothing (CDK would warn
    of each statement it dropped, and `cdk synth --strict` fail), says once what its owner must grant, and still
    grants a function of its own stack."""
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder, encryption_key=key)
    theirs = lambda_.Function.from_function_arn(
        stack, "Shared", "arn:aws:lambda:us-east-1:111122223333:function:shared-consolidation")
    flow = workflow(stack, data, consolidation_function_props=None, existing_consolidation_function=theirs)
    annotations = Annotations.from_stack(stack)
    assert not annotations.find_warning("*", Match.string_like_regexp("unknownPrincipal"))
    warnings = annotations.find_warning("*", Match.string_like_regexp("labeling-constructs:importedFunctionAccess"))
    assert len(warnings) == 1 and warnings[0].id == f"/{flow.node.path}"
    message = warnings[0].entry.data
    for owed in ("existing_consolidation_function", "s3:GetObject on output/*, derived/task-records/*",
                 "s3:PutObject on output/*/annotations/", "s3:ListBucket with s3:prefix limited to output/*",
                 "kms:Decrypt and kms:GenerateDataKey", "its owner must grant"):
        assert owed in message, owed
    assert "existing_pre_labeling_function" not in message
    # The workflow's own pre-labeling function keeps its grants.
    granted = actions_on(role_statements(Template.from_stack(stack).to_json(), flow.pre_labeling_function.role))
    assert {resource["Fn::Join"][1][-1] for resource in granted["s3:PutObject"]} == {"/derived/*"}
    assert granted["kms:GenerateDataKey"]


def test_workflow_function_props_override_the_defaults_field_by_field(sample_folder):
    stack = new_stack()
    role = iam.Role(stack, "TheirRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "X-Ray's PutTraceSegments has no resource-level permissions.")
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False,
                    pre_labeling_function_props=inline_props("pre", memory_size=3008, timeout=cdk.Duration.minutes(5),
                                                             tracing=lambda_.Tracing.ACTIVE, role=role,
                                                             description="Reads tickets"),
                    consolidation_function_props=inline_props("post"))
    template = Template.from_stack(stack).to_json()
    pre = template["Resources"][logical_id(flow.pre_labeling_function)]["Properties"]
    post = template["Resources"][logical_id(flow.consolidation_function)]["Properties"]
    assert (pre["MemorySize"], pre["Timeout"], pre["TracingConfig"], pre["Description"]) == (
        3008, 300, {"Mode": "Active"}, "Reads tickets")
    assert pre["Role"] == {"Fn::GetAtt": [logical_id(role), "Arn"]}
    # Defaults where nothing was given: 512 MB, a minute, a role and a log group of its own.
    assert (post["MemorySize"], post["Timeout"]) == (512, 60) and "TracingConfig" not in post
    assert post["Role"]["Fn::GetAtt"][0] != logical_id(role)
    assert post["Description"].startswith("Ground Truth annotation consolidation")
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    for function in (pre, post):
        assert function["LoggingConfig"]["LogGroup"]["Ref"] in log_groups
    # The caller's role still gets what its function needs: its log group, the derived prefix.
    granted = actions_on(role_statements(template, role))
    assert granted["logs:PutLogEvents"] == [{"Fn::GetAtt": [pre["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]}]
    assert {resource["Fn::Join"][1][-1] for resource in granted["s3:PutObject"]} == {"/derived/*"}


def test_log_retention_in_function_props_is_the_retention_of_the_functions_log_group(sample_folder):
    """CDK refuses log_retention beside a log group; the construct makes one, so the props' log_retention is its
    retention (the workflow's log_retention stays the default of the others). Beside a log_group it is refused."""
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False,
                    pre_labeling_function_props=inline_props("pre", log_retention=logs.RetentionDays.ONE_WEEK))
    template = Template.from_stack(stack).to_json()
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")

    def retention(function):
        group = template["Resources"][logical_id(function)]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        return log_groups[group]["Properties"]["RetentionInDays"]
    assert (retention(flow.pre_labeling_function), retention(flow.consolidation_function)) == (7, 365)
    assert not resources_of_type(template, "Custom::LogRetention")

    for props, message in (
            (inline_props("pre", log_retention=logs.RetentionDays.ONE_WEEK,
                          log_group=logs.LogGroup(stack, "Theirs")), "pass log_retention or log_group"),
            (inline_props("pre", log_retention_retry_options=lambda_.LogRetentionRetryOptions(max_retries=3)),
             "log_retention_retry_options configure CDK's LogRetention custom resource")):
        with pytest.raises(ValueError, match=f"PreLabeling: {message}"):
            workflow(stack, ManifestBucket(stack, f"Data{len(message)}"), f"Flow{len(message)}",
                     pre_labeling_function_props=props, create_labeling_job=False)


def test_an_environment_lambda_would_refuse_fails_at_synth_naming_the_function(sample_folder):
    stack = new_stack(nag=False)
    too_big = {"WORKFLOW_QUESTIONS": "x" * 4000, "OTHER": "y" * 100}
    with pytest.raises(ValueError, match=r"Consolidation: its environment variables take \d+ bytes "
                                         r"\(the largest is WORKFLOW_QUESTIONS\); Lambda allows 4096"):
        workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder),
                 consolidation_function_props=inline_props("post", environment=too_big))


def test_consolidation_writes_only_its_state_and_quality_reports_in_a_jobs_output(sample_folder):
    """The consolidation function could PutObject anywhere under the output prefix: over Ground Truth's own
    output.manifest or workers' answers of any job. It writes its state and quality reports, and reads the rest."""
    stack = new_stack(nag=False)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    granted = actions_on(role_statements(Template.from_stack(stack).to_json(), flow.consolidation_function.role))
    assert {resource["Fn::Join"][1][-1] for resource in granted["s3:PutObject"]} == {
        "/output/*/annotations/consolidation-state/*", "/output/*/quality-report/*"}
    assert "/output/*" in {resource["Fn::Join"][1][-1] for resource in granted["s3:GetObject"]}


def test_pre_labeling_reads_the_data_it_is_handed_and_not_the_input_manifest(sample_folder):
    """Ground Truth hands pre-labeling one manifest line per invocation; a grant on the input manifest let it read
    every other line of the job as well."""
    stack = new_stack(nag=False)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    granted = actions_on(role_statements(Template.from_stack(stack).to_json(), flow.pre_labeling_function.role))
    assert {resource["Fn::Join"][1][-1] for resource in granted["s3:GetObject"]} == {"/data/*", "/derived/*"}


def test_an_environment_counts_the_values_cloudformation_fills_in(sample_folder):
    """A request naming ARNs known only at deploy time (as the expert review's start and merge functions get) counted
    as nothing: an environment that would be over Lambda's 4 KB once deployed passed synth and failed the deploy."""
    from labeling_constructs.lambda_function import DEPLOY_TIME_VALUE_BYTES, MAX_ENVIRONMENT_BYTES

    stack = new_stack(nag=False)
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    arns = [data.bucket.bucket_arn] * 8
    literal = MAX_ENVIRONMENT_BYTES - len(arns) * DEPLOY_TIME_VALUE_BYTES  # over the limit only with the ARNs
    request = stack.to_json_string({"Buckets": arns, "Note": "x" * literal})
    with pytest.raises(ValueError, match=r"Consolidation: its environment variables take \d+ bytes "
                                         r"\(the largest is REQUEST\); Lambda allows 4096"):
        workflow(stack, data, consolidation_function_props=inline_props("post", environment={"REQUEST": request}))
    fits = stack.to_json_string({"Buckets": arns, "Note": "x" * (literal - 1000)})
    workflow(stack, ManifestBucket(stack, "Other", sample_data_dir=sample_folder), "Fits",
             consolidation_function_props=inline_props("post", environment={"REQUEST": fits}))


def test_workflow_writes_no_metadata_for_any_local_tool(sample_folder):
    """What a local runner needs it reads from the stack's outputs (LabelingJobRequest): the
    construct writes nothing into the template for one."""
    stack = new_stack()
    workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    template = Template.from_stack(stack).to_json()
    for logical, resource in template["Resources"].items():
        keys = set(resource.get("Metadata", {}))
        assert all(key.startswith("aws:") or key == "cdk_nag" for key in keys), (logical, keys)
    assert "GroundTruthTask" not in json.dumps(template)


def test_labeling_job_request_is_the_job_resources_request_and_botocore_accepts_it(sample_folder):
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder, encryption_key=key),
                    max_concurrent_task_count=250, task_keywords=["tickets", "triage"], workers_per_object=5,
                    task_availability_lifetime=cdk.Duration.days(2))
    template = Template.from_stack(stack).to_json()
    request = resolve(stack.resolve(flow.labeling_job_request), template)
    check_create_labeling_job({"LabelingJobName": "my-job", **request})
    human = request["HumanTaskConfig"]
    assert (human["MaxConcurrentTaskCount"], human["NumberOfHumanWorkersPerDataObject"],
            human["TaskAvailabilityLifetimeInSeconds"], human["TaskKeywords"]) == (250, 5, 172800, ["tickets", "triage"])
    assert request["OutputConfig"]["KmsKeyId"] == resolve({"Fn::GetAtt": [logical_id(key), "Arn"]}, template)
    # The job resource builds its request from its properties with the same function: identical.
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    assert create_request(resolve(job["Properties"], template), "my-job") == {"LabelingJobName": "my-job", **request}
    # As a stack output, it is JSON once CloudFormation has filled in the references.
    output = resolve(stack.resolve(stack.to_json_string(flow.labeling_job_request)), template)
    assert json.loads(output) == request


def test_the_template_is_deployed_under_a_key_its_content_names(sample_folder, tmp_path):
    page = tmp_path / "triage.liquid.html"
    page.write_text(PAGE)
    uris = []
    for props in ({"ui_template": None, "ui_template_path": page}, {"ui_template": PAGE, "ui_template_name": "triage.liquid.html"},
                  {"ui_template": PAGE + " "}):
        stack = new_stack(nag=False)
        uris.append(stack.resolve(workflow(stack, ManifestBucket(stack, "Data"), **props).ui_template_s3_uri))
    keys = [uri["Fn::Join"][1][-1] for uri in uris]
    assert keys[0] == keys[1] and re.fullmatch(r"/templates/[0-9a-f]{16}/triage\.liquid\.html", keys[0])
    assert keys[2].endswith("/worker-task.liquid.html") and keys[2].split("/")[2] != keys[0].split("/")[2]


@pytest.mark.parametrize("description", ["", "x" * 201])
def test_a_workteam_description_sagemaker_would_refuse_is_refused_at_synth(description):
    with pytest.raises(ValueError, match=f"a workteam's description has 1 to 200 characters, not {len(description)}"):
        PrivateWorkteam(new_stack(nag=False), "Team", description=description)
    team = PrivateWorkteam(new_stack(nag=False), "Other")
    with pytest.raises(ValueError, match="1 to 200 characters"):
        team.add_workteam("Experts", description=description)


@pytest.mark.parametrize("construct_id", ["Workteam", "Experts"])
def test_a_team_added_under_a_name_taken_in_the_construct_is_refused_naming_it(construct_id):
    """The construct's own children ("Workteam", "UserPool"...) and a team added before: a jsii error named neither."""
    team = PrivateWorkteam(new_stack(nag=False), "Team")
    team.add_workteam("Experts", description="Experts")
    with pytest.raises(ValueError, match=rf"add_workteam\('{construct_id}'\): .*Team already has a part named "
                                         rf"'{construct_id}(Group)?'; give the team another construct_id"):
        team.add_workteam(construct_id, description="Second")


def test_workflow_job_function_has_time_for_every_try_of_a_create_refused_for_a_role(sample_folder):
    from labeling_constructs.labeling_job_resource.handler import ROLE_RETRY_DELAYS

    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    resources = Template.from_stack(stack).to_json()["Resources"]
    timeout = resources[logical_id(flow.job_function)]["Properties"]["Timeout"]
    assert timeout >= sum(ROLE_RETRY_DELAYS) + 60  # and a minute for the calls themselves


def test_workflow_job_functions_reach_only_this_resources_jobs(sample_folder):
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder))
    template = Template.from_stack(stack).to_json()
    pattern = f':labeling-job/{flow.job_name_key}-*"]]}}'
    on_event = actions_on(role_statements(template, flow.job_function.role))
    for action in ("sagemaker:CreateLabelingJob", "sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob"):
        assert [json.dumps(r).endswith(pattern) for r in on_event[action]] == [True], action
    assert "sagemaker:AddTags" not in on_event  # the request it sends has no Tags
    is_complete = actions_on(role_statements(template, flow.job_is_complete_function.role))
    assert {a for a in is_complete if a.startswith("sagemaker:")} == {"sagemaker:DescribeLabelingJob"}
    [pass_role] = [s for s in role_statements(template, flow.job_function.role) if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert pass_role["Resource"] == {"Fn::GetAtt": [stack.get_logical_id(flow.execution_role.node.default_child), "Arn"]}


def test_tags_reach_the_labeling_job_and_its_function_may_tag_only_this_resources_jobs(sample_folder):
    """CreateLabelingJob's Tags from the tags prop, in the request the job resource sends and the one the construct
    publishes; tagging on create needs sagemaker:AddTags, granted on the resource's own jobs only."""
    stack = new_stack()
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder),
                    tags={"team": "labeling", "cost-center": "42"})
    template = Template.from_stack(stack).to_json()
    tags = [{"Key": "cost-center", "Value": "42"}, {"Key": "team", "Value": "labeling"}]
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    assert job["Properties"]["Tags"] == tags
    request = create_request(resolve(job["Properties"], template), "my-job")
    check_create_labeling_job(request)
    assert request["Tags"] == tags == stack.resolve(flow.labeling_job_request)["Tags"]
    pattern = f':labeling-job/{flow.job_name_key}-*"]]}}'
    on_event = actions_on(role_statements(template, flow.job_function.role))
    assert [json.dumps(r).endswith(pattern) for r in on_event["sagemaker:AddTags"]] == [True]
    is_complete = actions_on(role_statements(template, flow.job_is_complete_function.role))
    assert "sagemaker:AddTags" not in is_complete


def test_job_name_key_is_stable_per_resource_and_differs_per_stack(sample_folder):
    def key(stack_name, construct_id="Workflow", **overrides):
        app = cdk.App(context={"aws:cdk:bundling-stacks": []})
        stack = cdk.Stack(app, stack_name)
        data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
        return workflow(stack, data, construct_id, create_labeling_job=False, **overrides).job_name_key

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
    ({"label_attribute_name": "labels-metadata"}, "label_attribute_name 'labels-metadata' must not end in -metadata"),
    ({"label_attribute_name": "labels-ref"}, "must not end in -metadata or -ref"),
    ({"label_attribute_name": "x" * 128}, "label_attribute_name is 128 characters; at most 127"),
    ({"workers_per_object": 10}, "workers_per_object 10 must be between 1 and 9"),
    ({"task_time_limit": cdk.Duration.seconds(10)}, r"task_time_limit \(seconds\) 10 must be between 30 and 28800"),
    ({"task_time_limit": cdk.Duration.millis(30500)}, "task_time_limit must be a whole number of seconds, not 30 seconds 500 millis"),
    ({"task_availability_lifetime": cdk.Duration.days(31)}, "task_availability_lifetime"),
    ({"max_concurrent_task_count": 5001}, "max_concurrent_task_count 5001"),
    ({"task_title": ""}, "task_title must be a non-empty string"),
    ({"task_description": "d" * 256}, "task_description is 256 characters; at most 255"),
    ({"job_name_prefix": "bad_prefix!"}, "job name prefix"),
    ({"job_name_prefix": "x" * 31}, "job name prefix"),
    ({"output_prefix": "/abs/"}, "output_prefix"),
    ({"ui_template": None}, "exactly one of ui_template"),
    ({"ui_template_path": "/no/such/template.html"}, "exactly one of ui_template"),
    ({"ui_template": "  "}, "template is empty"),
    ({"ui_template": None, "ui_template_path": "/no/such/template.html"}, "is not a file"),
    ({"ui_template_name": "a/b.html"}, "must be a file name"),
    ({"pre_labeling_function_props": None}, "exactly one of pre_labeling_function_props and existing_pre_labeling_function"),
    ({"existing_consolidation_function": "x"}, "exactly one of consolidation_function_props and existing_consolidation"),
    ({"task_description": "Label each item.\nThen submit."}, "task_description .* holds a line break"),
    ({"task_title": "Label it\x07"}, r"task_title .* holds '\\x07' \(U\+0007\)"),
    ({"tags": {"aws:cost": "1"}}, "tags key 'aws:cost'"),
    ({"tags": {"cost": "a*b"}}, "tags value 'a\\*b' of 'cost'"),
    ({"pre_labeling_function_props": lambda_.FunctionOptions(memory_size=256)}, "PreLabeling: function props need code"),
])
def test_workflow_rejects_what_create_labeling_job_would(sample_folder, overrides, message):
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match=message):
        workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), **overrides)


def test_a_package_of_the_project_that_does_not_exist_is_named():
    with pytest.raises(ValueError, match="Lambda package 'no_such_package' not found"):
        package_function_props("no_such_package")


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


# -- the bucket's parts kept apart -------------------------------------------------------------------
@pytest.mark.parametrize("bucket, overrides, overlap", [
    ({"data_prefix": "output/"}, {}, "the bucket's data_prefix 'output/' and workflow Fork/Workflow's output_prefix "
                                     "'output/'"),
    ({}, {"derived_data_prefix": "data/cache/"}, "the bucket's data_prefix 'data/' and workflow Fork/Workflow's "
                                                 "derived_data_prefix 'data/cache/'"),
    ({}, {"template_prefix": "manifests/"}, "the bucket's manifest_key 'manifests/input.manifest' and workflow "
                                           "Fork/Workflow's template_prefix 'manifests/'"),
    ({}, {"output_prefix": "work/", "derived_data_prefix": "work/derived/"},
     "workflow Fork/Workflow's output_prefix 'work/' and workflow Fork/Workflow's derived_data_prefix 'work/derived/'"),
])
def test_a_workflow_whose_prefixes_overlap_is_refused_naming_both(sample_folder, bucket, overrides, overlap):
    """The sample data is deployed with pruning: under the output prefix, a deploy that changes it deleted every
    job's output (a workflow named "output" did); and each role's grants reached the other part's objects."""
    stack = new_stack(nag=False)
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder, **bucket)
    with pytest.raises(ValueError, match=re.escape(f"workflow Fork/Workflow: {overlap} overlap: give each part of the "
                                                   "bucket a prefix of its own")):
        workflow(stack, data, **overrides)


@pytest.mark.parametrize("make", [lambda stack: s3.Bucket(stack, "Plain"),
                                  lambda stack: s3.Bucket.from_bucket_name(stack, "Imported", "their-bucket")],
                         ids=["bucket", "imported"])
def test_a_plain_bucket_as_input_bucket_is_refused_saying_how_to_wrap_it(make):
    stack = new_stack(nag=False)
    with pytest.raises(TypeError, match=r"input_bucket must be a ManifestBucket, not \w+: wrap a bucket as "
                                        r"ManifestBucket\(self, id, existing_bucket=bucket\)"):
        workflow(stack, make(stack))


def test_two_workflows_on_one_bucket_each_take_prefixes_of_their_own(sample_folder):
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    workflow(stack, data, create_labeling_job=False)
    with pytest.raises(ValueError, match=re.escape("workflow Fork/Second: workflow Fork/Workflow's output_prefix "
                                                   "'output/' and workflow Fork/Second's output_prefix 'output/'")):
        workflow(stack, data, "Second", create_labeling_job=False)
    second = workflow(stack, data, "Other", create_labeling_job=False, output_prefix="other/output/",
                      derived_data_prefix="other/derived/", template_prefix="other/templates/")
    assert second.output_s3_uri.endswith("/other/output/")
    Template.from_stack(stack)  # both synthesize, cdk-nag clean


@pytest.mark.parametrize("key", ["manifests/", "/manifests/input.manifest", ""])
def test_a_manifest_key_that_is_no_objects_key_is_refused(key):
    with pytest.raises(ValueError, match=f"manifest_key {key!r} must be an object's key"):
        ManifestBucket(new_stack(nag=False), "Data", manifest_key=key)


@pytest.mark.parametrize("arn, what", [
    ("arn:aws:sagemaker:eu-west-1:111122223333:workteam/private-crowd/t", "region 'eu-west-1'"),
    ("arn:aws:sagemaker:us-east-1:444455556666:workteam/private-crowd/t", "account '444455556666'"),
])
def test_a_workteam_of_another_region_or_account_than_the_stack_is_refused(sample_folder, arn, what):
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Pinned", env=cdk.Environment(account="111122223333", region="us-east-1"))
    with pytest.raises(ValueError, match=f"workteam_arn '{arn}' is a workteam of {what}, but stack Pinned deploys to"):
        workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), workteam_arn=arn)
    # A vendor's workteam is the vendor's account's, in the job's region.
    vendor = "arn:aws:sagemaker:us-east-1:394669845002:workteam/vendor-crowd/default"
    workflow(stack, ManifestBucket(stack, "Vendor", sample_data_dir=sample_folder), "VendorFlow", workteam_arn=vendor,
             create_labeling_job=False)
    # The public crowd (Mechanical Turk) needs a price per task and at most 12 hours' availability: refused at synth.
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    with pytest.raises(ValueError, match="workteam_arn '.*public-crowd/default' is Amazon Mechanical Turk's public "
                                         "crowd, which these workflows do not set up"):
        workflow(stack, ManifestBucket(stack, "Public", sample_data_dir=sample_folder), "PublicFlow",
                 workteam_arn=public, create_labeling_job=False)
    # An environment-agnostic stack deploys anywhere: nothing to compare.
    agnostic = cdk.Stack(app, "Agnostic")
    workflow(agnostic, ManifestBucket(agnostic, "Data", sample_data_dir=sample_folder), workteam_arn=arn,
             create_labeling_job=False)


def test_a_manifest_under_the_pruned_data_prefix_is_refused(sample_folder):
    """A deploy that changed only the data would delete the manifest (its own deployment does not run again)."""
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match="manifest_key 'data/input.manifest' is under data_prefix 'data/', where the "
                                         "sample data is deployed with pruning"):
        ManifestBucket(stack, "Data", sample_data_dir=sample_folder, manifest_key="data/input.manifest")
    existing = s3.Bucket.from_bucket_name(stack, "Theirs", "their-bucket")  # nothing deployed: nothing pruned
    assert ManifestBucket(stack, "Given", existing_bucket=existing, manifest_key="data/input.manifest").manifest_key


def test_workflow_runs_its_job_with_an_existing_execution_role_given_the_same_access(sample_folder):
    """A caller's own role (its trust is theirs): no role is made, the job names it, it gets the workflow's access,
    and the job function may pass it to SageMaker only; cdk-nag stays clean."""
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    own = iam.Role(stack, "CompanyLabelingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    flow = workflow(stack, data, existing_execution_role=own)
    assert flow.execution_role is own
    template = Template.from_stack(stack).to_json()
    assert not [role for role in resources_of_type(template, "AWS::IAM::Role").values()
                if role["Properties"].get("Description") == "Ground Truth execution role of one custom labeling workflow"]
    own_id = stack.get_logical_id(own.node.default_child)
    [job] = resources_of_type(template, "Custom::GroundTruthLabelingJob").values()
    assert job["Properties"]["RoleArn"] == {"Fn::GetAtt": [own_id, "Arn"]}
    granted = actions_on(role_statements(template, own))
    assert granted["lambda:InvokeFunction"] == [
        {"Fn::GetAtt": [stack.get_logical_id(f.node.default_child), "Arn"]}
        for f in (flow.pre_labeling_function, flow.consolidation_function)]
    assert "s3:PutObject" in granted
    passing = [s for s in role_statements(template, flow.job_function.role) if "iam:PassRole" in as_list(s["Action"])]
    assert [s["Resource"] for s in passing] == [{"Fn::GetAtt": [own_id, "Arn"]}]
    assert passing[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}



# -- the bundler leaves a function's size to the construct ------------------------------------------
def test_bundler_props_set_memory_and_timeout_only_when_asked(sample_folder):
    """package_function_props set 512 MB and a minute on every function, and the constructs lay the caller's props over
    their own defaults: ExpertReview's start and merge functions lost their 3,072 MB and five minutes that way. It sets
    them only when given now; a workflow's functions get the construct's defaults as before."""
    bundled = package_function_props("consolidation")
    assert (bundled.memory_size, bundled.timeout) == (None, None)
    asked = package_function_props("consolidation", memory_size=1024, timeout=cdk.Duration.minutes(5))
    assert (asked.memory_size, asked.timeout.to_seconds()) == (1024, 300)
    stack = new_stack(nag=False)
    flow = workflow(stack, ManifestBucket(stack, "Data", sample_data_dir=sample_folder), create_labeling_job=False,
                    pre_labeling_function_props=package_function_props("consolidation"),
                    consolidation_function_props=asked)
    template = Template.from_stack(stack).to_json()
    sizes = [(template["Resources"][logical_id(f)]["Properties"]["MemorySize"],
              template["Resources"][logical_id(f)]["Properties"]["Timeout"])
             for f in (flow.pre_labeling_function, flow.consolidation_function)]
    assert sizes == [(512, 60), (1024, 300)]


# -- the log groups of CDK's own functions ------------------------------------------------------------
def test_the_retention_table_is_cdks():
    from labeling_constructs.cdk_function_logs import RETENTION_IN_DAYS

    stack = new_stack(nag=False)
    assert set(RETENTION_IN_DAYS) == set(logs.RetentionDays)
    for retention, days in RETENTION_IN_DAYS.items():
        group = logs.LogGroup(stack, retention.name, retention=retention)
        assert group.node.default_child.retention_in_days == days, retention


def cdk_function_log_groups(template: dict) -> dict[str, dict]:
    """The log group of each of CDK's own functions (by the custom resource type it serves), resolved."""
    functions = resources_of_type(template, "AWS::Lambda::Function")
    served = {"Custom::CDKBucketDeployment": "CustomCDKBucketDeployment",
              "Custom::S3AutoDeleteObjects": "CustomS3AutoDeleteObjectsCustomResourceProviderHandler"}
    found = {}
    for resource_type, prefix in served.items():
        named = [f for key, f in functions.items() if key.startswith(prefix)]
        if named:
            [function] = named  # CDK shares each across the stack
            group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            found[resource_type] = template["Resources"][group]
    return found


@pytest.mark.parametrize("policy, deletion", [(cdk.RemovalPolicy.DESTROY, "Delete"), (None, "Retain")])
def test_cdks_own_functions_log_to_groups_with_the_constructs_retention_and_removal_policy(sample_folder, policy,
                                                                                            deletion):
    """CDK's BucketDeployment handler and the auto-delete provider logged to /aws/lambda/<name>, kept forever and left
    behind by `cdk destroy`. Each logs to a group of the stack now, as the constructs' own functions do; cdk-nag
    stays clean."""
    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder, removal_policy=policy,
                          log_retention=logs.RetentionDays.ONE_MONTH)
    flow = workflow(stack, data, create_labeling_job=False, removal_policy=policy,
                    log_retention=logs.RetentionDays.ONE_MONTH)
    template = Template.from_stack(stack).to_json()
    groups = cdk_function_log_groups(template)
    # Three deployments (the data, the manifest, the template), one handler, one group; auto-delete only with DESTROY.
    assert len(resources_of_type(template, "Custom::CDKBucketDeployment")) == 3
    assert set(groups) == ({"Custom::CDKBucketDeployment", "Custom::S3AutoDeleteObjects"} if policy
                           else {"Custom::CDKBucketDeployment"})
    for group in groups.values():
        assert (group["Properties"]["RetentionInDays"], group["DeletionPolicy"]) == (30, deletion)
    assert data.deployment_log_group is flow.deployment_log_group
    assert (data.auto_delete_log_group is not None) == (policy is not None)


def test_a_shared_group_keeps_logs_as_long_as_any_construct_asks_and_is_retained_if_any_asks(sample_folder):
    stack = new_stack(nag=False)
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder, removal_policy=cdk.RemovalPolicy.DESTROY,
                          log_retention=logs.RetentionDays.ONE_WEEK)
    workflow(stack, data, create_labeling_job=False, log_retention=logs.RetentionDays.TWO_YEARS)  # RETAIN
    workflow(stack, data, "Other", create_labeling_job=False, output_prefix="other/", derived_data_prefix="derived2/",
             template_prefix="templates2/", log_retention=logs.RetentionDays.ONE_DAY,
             removal_policy=cdk.RemovalPolicy.DESTROY)
    group = cdk_function_log_groups(Template.from_stack(stack).to_json())["Custom::CDKBucketDeployment"]
    assert (group["Properties"]["RetentionInDays"], group["DeletionPolicy"]) == (731, "Retain")


def test_a_deployment_of_the_callers_made_first_without_a_log_group_is_warned_of(sample_folder):
    """CDK's handler takes the log group of the deployment that made it: a caller's made before the bucket's, without
    one, leaves the handler logging to /aws/lambda/<name>. Said at synth, naming what to do."""
    from aws_cdk import aws_s3_deployment as s3deploy

    stack = new_stack(nag=False)
    theirs = s3.Bucket(stack, "Theirs")
    s3deploy.BucketDeployment(stack, "TheirFiles", destination_bucket=theirs,
                              sources=[s3deploy.Source.data("a.txt", "a")])
    ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("made by a deployment defined"))
    assert warnings and "log_group=labeling_constructs.cdk_function_logs.deployment_log_group" in json.dumps(
        [w.entry.data for w in warnings])
