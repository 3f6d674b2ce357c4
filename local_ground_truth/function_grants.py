"""What each of the stack's functions may do in S3, as its role's policies say; the local endpoint holds it to that.

In AWS a workflow function reads and writes S3 with its own role, and the workflow construct grants each only the
prefixes it uses (pre-labeling: its data and ``derived/``; consolidation: the job's output and task records). Here
every client of the endpoint could reach every object: a manifest line naming an object outside the pre-labeling
function's grants (the job's answers, say) was read and put before workers, where AWS answers AccessDenied, and a
forked function missing a grant passed here and failed in AWS. So each function's environment signs its requests with
an access key that names the function (``access_key``; with the run's random ``RUN_TOKEN``, so no process outside
the run can sign as a function), and the endpoint (``endpoint_guard``) decides each such request as IAM decides an
identity policy (``decide``); requests signed with the runner's own key (acting as Ground Truth and as ``cdk deploy``)
are not checked, and the endpoint answers no other key.

Decided as IAM does: ``Allow`` and ``Deny`` statements; ``Action`` / ``NotAction`` (case-insensitive) and ``Resource`` /
``NotResource`` (case-sensitive), with ``*`` and ``?``; an explicit Deny wins and nothing not allowed passes; conditions
on ``s3:prefix``, ``s3:delimiter``, ``s3:max-keys`` and ``aws:SecureTransport`` (true: functions reach S3 over HTTPS in
AWS) with the String and Bool operators, their ``IfExists`` forms, ``Null`` and ``ForAnyValue:``/``ForAllValues:``; a
missing key fails a condition except a negated one (IAM's rule). A condition on any other key is taken as met by an
Allow and as not met by a Deny: the check never refuses what AWS could allow, though it may let through a request that
such a condition would refuse in AWS. (moto's own IAM evaluator turns an Allow whose condition fails into a Deny and
reads ``.`` in an ARN as a regular expression, so it is not used.)

A function whose permissions cannot be read from its stack's template (a role from outside the stack, an AWS managed
policy other than the logging ones, a resource the runner cannot resolve) is not checked; ``FunctionGrants.unchecked``
says why, and the runner says it once.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Optional
from urllib.parse import parse_qsl, unquote

#: The prefix of the access keys functions sign with (then the function's logical id, ".", and ``RUN_TOKEN``).
ACCESS_KEY_PREFIX = "function-"
#: This run's part of each function's access key. The runner's endpoint answers only keys of its own run
#: (``endpoint_guard``): another process of this machine cannot sign as a function, whose key it cannot know.
RUN_TOKEN = secrets.token_hex(8)
#: AWS managed policies that grant nothing in S3: a role with only these (and its own statements) can be checked.
NO_S3_MANAGED_POLICIES = frozenset({
    "service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole",
    "service-role/AWSLambdaENIManagementAccess", "AWSXRayDaemonWriteAccess", "CloudWatchLambdaInsightsExecutionRolePolicy",
    "service-role/AWSLambdaRole",  # invokes functions only
})
#: Context keys whose values this check knows; a condition on another is not evaluated (see the module's docstring).
KNOWN_KEYS = frozenset({"s3:prefix", "s3:delimiter", "s3:max-keys", "aws:securetransport"})


def access_key(function_logical_id: str) -> str:
    """The access key a function's environment signs its S3 requests with (in this run)."""
    return f"{ACCESS_KEY_PREFIX}{function_logical_id}.{RUN_TOKEN}"


def function_of(key: str) -> str:
    """The logical id of the function an ``access_key`` is of."""
    return key.removeprefix(ACCESS_KEY_PREFIX).rsplit(".", 1)[0]


def endpoint_grants(functions: Iterable[Any]) -> dict[str, Optional[list[Mapping[str, Any]]]]:
    """What the runner's endpoint holds each function to: access key -> its role's statements, or None for a
    function whose role cannot be checked (``FunctionGrants.unchecked``: its key is still one of the run's)
    (``functions``: ``stack_reader.FunctionSpec``s)."""
    return {access_key(function.logical_id):
            list(function.grants.statements) if function.grants.unchecked is None else None for function in functions}


@dataclass(frozen=True)
class FunctionGrants:
    """A function's S3 permissions: its role's statements (resolved for this machine), or why they are not checked."""

    statements: tuple[Mapping[str, Any], ...] = ()
    unchecked: Optional[str] = None  # why the function's requests are not checked; None: they are


# ---------------------------------------------------------------------------------------------------------------------
# Reading a function's role from its template


def read_grants(function_logical_id: str, resources: Mapping[str, Any], resolve: Callable[[Any, str], Any]) -> FunctionGrants:
    """The S3-relevant statements of the function's role: its inline policies, the stack's ``AWS::IAM::Policy`` and
    ``AWS::IAM::ManagedPolicy`` resources attached to it, and its managed policies. ``resolve(value, where)`` resolves
    intrinsics (``stack_reader``'s resolver); a value it cannot resolve leaves the function unchecked."""
    role = resources.get(function_logical_id, {}).get("Properties", {}).get("Role")
    role_id = _target(role, "Fn::GetAtt")
    if role_id is None or resources.get(role_id, {}).get("Type") != "AWS::IAM::Role":
        return FunctionGrants(unchecked="its role is not a role of its stack")
    role_properties = resources[role_id].get("Properties", {})
    documents = [policy.get("PolicyDocument", {}) for policy in role_properties.get("Policies", [])]
    for logical_id, resource in resources.items():
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and any(
                _target(attached, "Ref") == role_id for attached in resource.get("Properties", {}).get("Roles", [])):
            documents.append(resource["Properties"].get("PolicyDocument", {}))
    for managed in role_properties.get("ManagedPolicyArns", []):
        policy_id = _target(managed, "Ref")
        if policy_id is not None and resources.get(policy_id, {}).get("Type") == "AWS::IAM::ManagedPolicy":
            if role_id not in [_target(attached, "Ref") for attached in resources[policy_id]["Properties"].get("Roles", [])]:
                documents.append(resources[policy_id]["Properties"].get("PolicyDocument", {}))
            continue
        try:
            arn = resolve(managed, f"function {function_logical_id}'s role {role_id} managed policy")
        except ValueError:
            return FunctionGrants(unchecked=f"its role {role_id} has a managed policy the runner cannot resolve")
        name = arn.split(":policy/", 1)[-1] if isinstance(arn, str) and ":iam::aws:policy/" in arn else None
        if name not in NO_S3_MANAGED_POLICIES:
            return FunctionGrants(unchecked=f"its role {role_id} has the managed policy {arn}, whose statements "
                                            "are not in the template")
    statements = []
    for document in documents:
        listed = document.get("Statement", [])
        for statement in listed if isinstance(listed, list) else [listed]:
            if not _may_concern_s3(statement):
                continue
            try:
                statements.append(resolve(statement, f"function {function_logical_id}'s role {role_id} policy"))
            except ValueError as error:
                return FunctionGrants(unchecked=f"its role {role_id} has a statement the runner cannot resolve ({error})")
    return FunctionGrants(statements=tuple(statements))


def _target(value: Any, function: str) -> Optional[str]:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names."""
    if isinstance(value, dict) and set(value) == {function}:
        argument = value[function]
        if isinstance(argument, str):
            return argument.split(".", 1)[0]
        if isinstance(argument, list) and argument and isinstance(argument[0], str):
            return argument[0]
    return None


def _may_concern_s3(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        return True  # everything but some actions: S3's may be among them
    actions = statement.get("Action", [])
    return any(isinstance(action, str) and _may_match_s3(action)
               for action in (actions if isinstance(actions, list) else [actions]))


def _may_match_s3(pattern: str) -> bool:
    """Whether an action pattern can match an action of S3's: its literal start (up to a wildcard) fits ``s3:``."""
    literal = re.split(r"[*?]", pattern, maxsplit=1)[0].lower()
    return literal.startswith("s3:") if len(literal) >= 3 else "s3:".startswith(literal)


# ---------------------------------------------------------------------------------------------------------------------
# What a request asks for


@dataclass(frozen=True)
class Request:
    """One action a request needs allowed: the IAM action, the resource's ARN and the request's context keys."""

    action: str
    resource: str
    context: Mapping[str, str]


_BUCKET_READS = {"location": "GetBucketLocation", "versions": "ListBucketVersions", "uploads": "ListBucketMultipartUploads",
                 "policy": "GetBucketPolicy", "acl": "GetBucketAcl", "tagging": "GetBucketTagging",
                 "cors": "GetBucketCORS", "versioning": "GetBucketVersioning", "encryption": "GetEncryptionConfiguration",
                 "lifecycle": "GetLifecycleConfiguration", "notification": "GetBucketNotification",
                 "logging": "GetBucketLogging", "website": "GetBucketWebsite",
                 "ownershipControls": "GetBucketOwnershipControls", "publicAccessBlock": "GetBucketPublicAccessBlock",
                 "object-lock": "GetBucketObjectLockConfiguration", "policyStatus": "GetBucketPolicyStatus"}
_OBJECT_SUBRESOURCES = {
    "GET": {"tagging": "GetObjectTagging", "acl": "GetObjectAcl", "uploadId": "ListMultipartUploadParts",
            "attributes": "GetObjectAttributes", "retention": "GetObjectRetention", "legal-hold": "GetObjectLegalHold"},
    "PUT": {"tagging": "PutObjectTagging", "acl": "PutObjectAcl", "retention": "PutObjectRetention",
            "legal-hold": "PutObjectLegalHold"},
    "DELETE": {"tagging": "DeleteObjectTagging", "uploadId": "AbortMultipartUpload"},
    "POST": {"uploads": "PutObject", "uploadId": "PutObject", "restore": "RestoreObject", "select": "GetObject"},
}


class UnknownRequest(ValueError):
    """A request whose IAM action the local check does not know: refused (rather than passed unchecked)."""


def requested(method: str, path: str, query: str, headers: Mapping[str, str], body: Optional[bytes] = None) -> list[Request]:
    """The actions an S3 request (path-style: ``/bucket/key``) needs allowed. ``path`` is percent-decoded; ``headers``
    lower-case names; ``body`` only for a DeleteObjects (``POST /bucket?delete``), whose keys each need deleting."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    bucket, _, key = path.lstrip("/").partition("/")
    secure = {"aws:securetransport": "true"}
    if not bucket:
        if method in ("GET", "HEAD"):
            return [Request("s3:ListAllMyBuckets", "*", secure)]
        raise UnknownRequest(f"{method} of the endpoint itself")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        return _bucket_request(method, bucket_arn, params, secure, body)
    object_arn = f"{bucket_arn}/{key}"
    subresource = next((name for name in _OBJECT_SUBRESOURCES.get(method, {}) if name in params), None)
    if subresource is not None:
        return [Request("s3:" + _OBJECT_SUBRESOURCES[method][subresource], object_arn, secure)]
    versioned = "versionId" in params
    if method in ("GET", "HEAD"):
        return [Request("s3:GetObjectVersion" if versioned else "s3:GetObject", object_arn, secure)]
    if method == "PUT":
        needed = [Request("s3:PutObject", object_arn, secure)]
        source = headers.get("x-amz-copy-source")
        if source:  # CopyObject / UploadPartCopy: the source is read as well
            source_path, _, source_query = unquote(source).lstrip("/").partition("?")
            needed.append(Request("s3:GetObjectVersion" if "versionId=" in source_query else "s3:GetObject",
                                  f"arn:aws:s3:::{source_path}", secure))
        return needed
    if method == "DELETE":
        return [Request("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", object_arn, secure)]
    raise UnknownRequest(f"{method} of object {key!r} ({query or 'no query'})")


def _bucket_request(method: str, bucket_arn: str, params: Mapping[str, str], secure: Mapping[str, str],
                    body: Optional[bytes]) -> list[Request]:
    if method in ("GET", "HEAD"):
        read = next((name for name in _BUCKET_READS if name in params), None)
        if read is not None and method == "GET":
            return [Request("s3:" + _BUCKET_READS[read], bucket_arn, secure)]
        context = dict(secure)
        for parameter, key in (("prefix", "s3:prefix"), ("delimiter", "s3:delimiter"), ("max-keys", "s3:max-keys")):
            if parameter in params:
                context[key] = params[parameter]
        return [Request("s3:ListBucket", bucket_arn, context)]  # ListObjects(V2); HeadBucket is ListBucket too
    if method == "POST" and "delete" in params:
        keys = [_xml_text(match) for match in re.findall(rb"<Key>(.*?)</Key>", body or b"", re.S)]
        if not keys:
            raise UnknownRequest("a DeleteObjects request that names no key")
        return [Request("s3:DeleteObject", f"{bucket_arn}/{key}", secure) for key in keys]
    if method == "PUT" and not params:
        return [Request("s3:CreateBucket", bucket_arn, secure)]
    if method == "DELETE" and not params:
        return [Request("s3:DeleteBucket", bucket_arn, secure)]
    raise UnknownRequest(f"{method} of bucket {bucket_arn.rsplit(':', 1)[-1]!r} ({'&'.join(params) or 'no query'})")


def _xml_text(raw: bytes) -> str:
    from xml.sax.saxutils import unescape

    return unescape(raw.decode("utf-8", "replace"), {"&quot;": '"', "&apos;": "'"})


# ---------------------------------------------------------------------------------------------------------------------
# Deciding


def decide(statements: Iterable[Mapping[str, Any]], request: Request) -> bool:
    """Whether the statements allow the request, as IAM decides an identity policy (see the module's docstring)."""
    allowed = False
    for statement in statements:
        if not _applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            if _conditions_met(statement.get("Condition"), request.context, unknown_met=False):
                return False
        elif _conditions_met(statement.get("Condition"), request.context, unknown_met=True):
            allowed = True
    return allowed


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotAction" in statement:
        action_matches = not _any_match(statement["NotAction"], request.action, ignore_case=True)
    else:
        action_matches = _any_match(statement.get("Action", []), request.action, ignore_case=True)
    if not action_matches:
        return False
    if "NotResource" in statement:
        return not _any_match(statement["NotResource"], request.resource, ignore_case=False)
    return _any_match(statement.get("Resource", []), request.resource, ignore_case=False)


def _any_match(patterns: Any, value: str, ignore_case: bool) -> bool:
    return any(isinstance(pattern, str) and _glob(pattern, ignore_case).fullmatch(value)
               for pattern in (patterns if isinstance(patterns, list) else [patterns]))


@lru_cache(maxsize=1024)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    """IAM's wildcards: ``*`` any run of characters (``/`` too), ``?`` one; everything else literal."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(regex, re.S | (re.I if ignore_case else 0))


def _conditions_met(condition: Optional[Mapping[str, Any]], context: Mapping[str, str], unknown_met: bool) -> bool:
    for operator, tests in (condition or {}).items():
        for key, expected in (tests or {}).items():
            outcome = _test(operator, key.lower(), expected if isinstance(expected, list) else [expected], context)
            if outcome is None:
                outcome = unknown_met
            if not outcome:
                return False
    return True


def _test(operator: str, key: str, expected: list[Any], context: Mapping[str, str]) -> Optional[bool]:
    """One condition's outcome, or None when this check cannot evaluate it."""
    if key not in KNOWN_KEYS:
        return None
    qualifier, _, name = operator.rpartition(":")  # ForAnyValue: / ForAllValues: (every key here has one value)
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return None
    present = key in context
    if name == "Null":
        return str(expected[0]).lower() == ("false" if present else "true")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    negated = "Not" in name
    compare = _COMPARISONS.get(name.replace("Not", ""))
    if compare is None:
        return None
    if not present:
        if qualifier == "ForAllValues":
            return True  # IAM: true for an empty set of values
        return True if if_exists or negated else False
    hit = any(compare(str(value), context[key]) for value in expected)
    return not hit if negated else hit


_COMPARISONS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "StringLike": lambda expected, actual: _glob(expected, False).fullmatch(actual) is not None,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}


def describe(request: Request) -> str:
    return f"{request.action} on {request.resource}"
