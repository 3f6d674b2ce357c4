"""Synthesizing the app (or one construct) in tests: no bundling, no AWS, nag checks on."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_CONTEXT = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
_HASH = re.compile(r"[0-9a-f]{64}")
_TEMPLATE_DIGEST = re.compile(r"(/?templates/)[0-9a-f]{16}/")
_REVISION = re.compile(r'("InputRevision": ")[0-9a-f]{16}(")')


def synth_app(env_name: str, outdir: Path) -> tuple[cdk.App, cdk.cx_api.CloudAssembly]:
    """The real app for one environment of cdk.json, synthesized with cdk-nag on (findings fail)."""
    from app import build_app

    app = cdk.App(outdir=str(outdir), context={**CDK_CONTEXT, "env": env_name, "aws:cdk:bundling-stacks": []})
    build_app(app)
    return app, app.synth()


def masked(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes and content digests replaced (the UI template's content-addressed
    key, the sample data's revision), so a snapshot changes when the infrastructure does, not when a
    workflow's code, template text or data does: those have tests of their own."""
    text = _HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    text = _TEMPLATE_DIGEST.sub(r"\1<content-digest>/", text)
    return json.loads(_REVISION.sub(r"\1<content-digest>\2", text))


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == resource_type}


def policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every identity policy (inline and AWS::IAM::Policy) in the template."""
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                statements += policy["PolicyDocument"]["Statement"]
    return statements


def statements_passing_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """The identity-policy statements that allow ``iam:PassRole`` on the role ``role_id``."""
    return [s for s in policy_statements(template) if "iam:PassRole" in as_list(s["Action"])
            and {"Fn::GetAtt": [role_id, "Arn"]} in as_list(s["Resource"])]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sagemaker_roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every role SageMaker may assume (the workflow job's, and the review jobs' where review is on)."""
    return {k: v for k, v in resources_of_type(template, "AWS::IAM::Role").items()
            if v["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
            == "sagemaker.amazonaws.com"}


def execution_role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The workflow's labeling job's execution role (the only SageMaker role outside its expert review)."""
    [(logical_id, role)] = [(k, v) for k, v in sagemaker_roles(template).items() if not k.startswith("ExpertReview")]
    return logical_id, role


def statements_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def invoked_handlers(template: dict[str, Any]) -> set[str]:
    """Handlers of the functions the execution role may invoke."""
    role_id, _ = execution_role(template)
    functions = resources_of_type(template, "AWS::Lambda::Function")
    resources = [r for s in statements_of_role(template, role_id) if "lambda:InvokeFunction" in as_list(s["Action"])
                 for r in as_list(s["Resource"])]
    return {functions[r["Fn::GetAtt"][0]]["Properties"]["Handler"] for r in resources} if len(resources) == 2 else set()


def object_prefixes(template: dict[str, Any], role_id: str) -> tuple[set[str], set[str]]:
    """(read, write) object-key patterns the role's S3 statements reach, e.g. "/output/*"."""
    reads, writes = set(), set()
    for statement in statements_of_role(template, role_id):
        actions = as_list(statement["Action"])
        for resource in as_list(statement["Resource"]):
            if "s3:GetObject" in actions:
                reads.add(resource["Fn::Join"][1][-1])
            if "s3:PutObject" in actions:
                writes.add(resource["Fn::Join"][1][-1])
    return reads, writes


ACCOUNT, REGION, PARTITION = "111122223333", "us-east-1", "aws"
IMPORTED_WORKTEAM_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/imported"
_ARN_OF_TYPE = {
    "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{}}",
    "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{{}}",
    "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{{}}",
    "AWS::S3::Bucket": "arn:aws:s3:::{}",
}
_PSEUDO = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """``value`` with its intrinsics resolved as a deployment would, to plausible values: a bucket's
    Ref to a bucket name made of its logical id, a GetAtt Arn to an ARN of the resource's type, an
    imported value to a workteam ARN, pseudo parameters to a fixed account and region."""
    resources = template.get("Resources", {})
    if isinstance(value, list):
        return [resolve(item, template) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Join"}:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(str(resolve(item, template)) for item in items)
    if set(value) == {"Ref"}:
        name = value["Ref"]
        if name in _PSEUDO:
            return _PSEUDO[name]
        assert resources[name]["Type"] == "AWS::S3::Bucket", f"no plausible value for Ref {name}"
        return name.lower()[:63]
    if set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", value
        return _ARN_OF_TYPE[resources[logical_id]["Type"]].format(logical_id.lower())
    if set(value) == {"Fn::ImportValue"}:
        return IMPORTED_WORKTEAM_ARN
    return {key: resolve(item, template) for key, item in value.items()}


def open_findings(app: cdk.App) -> dict[str, list[str]]:
    """Synthesize ``app`` (cdk-nag registered on it) and return its unacknowledged AwsSolutions findings: rule -> the
    paths of the constructs it names. Synthesis fails on any open finding; the report it writes is read instead."""
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
    report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
    return {violation["ruleName"]: sorted(c["constructPath"] for c in violation["violatingConstructs"])
            for plugin in report["pluginReports"] if plugin["pluginName"] == "AwsSolutions"
            for violation in plugin["violations"]}
