"""Functions made by the constructs: CDK's own props merged over secure defaults.

The defaults: a role of the function's own that may write only to the function's own log group (no
AWS managed policy), that log group with the construct's retention (or the props' ``log_retention``) and removal
policy, 256 MB, one minute. A caller's
``FunctionProps`` (or ``FunctionOptions``) replace any of them field by field; ``environment`` is
merged variable by variable instead, and the variables a construct wires itself are set last.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

#: FunctionProps fields a construct cannot create a function without.
_REQUIRED = ("code", "handler", "runtime")
_CACHES = ("**/__pycache__", "**/*.pyc")
#: Lambda's limit on a function's environment: 4 KB for all variables, names and values together.
MAX_ENVIRONMENT_BYTES = 4096
#: What a value CloudFormation fills in at deploy time (a Ref, a GetAtt, an import) counts for in that limit: the
#: longest these functions are given, a workteam's ARN with a 63-character name in the longest region name, is
#: about 140 bytes; a bucket's name is at most 63, a role's or a function's ARN some 120.
DEPLOY_TIME_VALUE_BYTES = 160


def struct_values(struct: Any) -> dict[str, Any]:
    """The fields a CDK props struct (``FunctionProps``, ``BucketProps`` ...) was given, by their
    Python names; ``{}`` for None."""
    if struct is None:
        return {}
    names = {name for cls in type(struct).__mro__ for name, member in vars(cls).items() if isinstance(member, property)}
    values = {name: getattr(struct, name) for name in sorted(names)}
    return {name: value for name, value in values.items() if value is not None}


def merge_props(defaults: Mapping[str, Any], overrides: Any) -> dict[str, Any]:
    """``overrides`` (a props struct or a mapping) over ``defaults``: field by field, ``environment``
    variable by variable."""
    given = dict(overrides) if isinstance(overrides, Mapping) else struct_values(overrides)
    merged = {**defaults, **given}
    if "environment" in defaults or "environment" in given:
        merged["environment"] = {**(defaults.get("environment") or {}), **(given.get("environment") or {})}
    return merged


def least_privilege_function(
    scope: Construct,
    construct_id: str,
    *,
    props: Mapping[str, Any],
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    wired_environment: Optional[Mapping[str, str]] = None,
    removal_policy: Optional[RemovalPolicy] = None,
) -> lambda_.Function:
    """A ``lambda_.Function`` from ``props`` (FunctionProps fields, ``code``, ``handler`` and ``runtime``
    required) over the defaults above; ``wired_environment`` is set after the caller's variables. ``removal_policy``
    (default ``RETAIN``, CDK's for a log group) is that of the log group made here (not of a ``log_group`` given)."""
    missing = [name for name in _REQUIRED if props.get(name) is None]
    if missing:
        raise ValueError(f"{construct_id}: function props need {', '.join(missing)} (a FunctionProps, or pass an "
                         "existing function)")
    description = props.get("description") or construct_id
    values = {"memory_size": 256, "timeout": Duration.minutes(1), **props, "description": description}
    # The function's own log group replaces CDK's LogRetention custom resource: a caller's log_retention is that
    # group's retention (CDK refuses log_retention beside log_group); the LogRetention resource's own settings
    # would configure nothing.
    retention = values.pop("log_retention", None)
    unused = [name for name in ("log_retention_role", "log_retention_retry_options") if values.get(name) is not None]
    if unused:
        raise ValueError(f"{construct_id}: {', '.join(unused)} configure CDK's LogRetention custom resource, which "
                         "this construct does not use: the function gets a log group of its own (its retention is "
                         "log_retention, or pass log_group)")
    if retention is not None and values.get("log_group") is not None:
        raise ValueError(f"{construct_id}: pass log_retention or log_group in the function props, not both: "
                         "log_retention is the retention of the log group the construct makes, and a log_group of "
                         "your own keeps its own retention")
    if values.get("log_group") is None:
        values["log_group"] = logs.LogGroup(scope, f"{construct_id}Logs",
                                            retention=log_retention if retention is None else retention,
                                            removal_policy=removal_policy)
    if values.get("role") is None:
        values["role"] = iam.Role(scope, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                  description=f"Execution role of {description[:80]}")
    # The function writes its own log streams, and only those.
    iam.Grant.add_to_principal(grantee=values["role"], actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                               resource_arns=[values["log_group"].log_group_arn])
    values["environment"] = {**(values.get("environment") or {}), **(wired_environment or {})}
    _check_environment_size(scope, construct_id, values["environment"])
    return lambda_.Function(scope, construct_id, **values)


def _deploy_time_bytes(resolved: Any) -> int:
    """The bytes a value takes once deployed, as far as synth can tell (``resolved``: as CloudFormation gets it):
    its literal text, and ``DEPLOY_TIME_VALUE_BYTES`` for each value CloudFormation fills in (a Ref, a GetAtt)."""
    if isinstance(resolved, str):
        return len(resolved.encode())
    if isinstance(resolved, Mapping) and list(resolved) == ["Fn::Join"]:  # a text with deploy-time values in it
        separator, parts = resolved["Fn::Join"]
        if isinstance(parts, list):
            return sum(map(_deploy_time_bytes, parts)) + len(str(separator).encode()) * max(len(parts) - 1, 0)
    return DEPLOY_TIME_VALUE_BYTES


def _check_environment_size(scope: Construct, construct_id: str, environment: Mapping[str, str]) -> None:
    """Fail at synth on an environment Lambda would refuse at deploy (``_deploy_time_bytes``: a request
    holding ARNs known only at deploy time counts them too)."""
    stack = Stack.of(scope)
    sizes = {name: len(name.encode()) + _deploy_time_bytes(stack.resolve(value) if Token.is_unresolved(value)
                                                           else str(value))
             for name, value in environment.items()}
    size = sum(sizes.values())
    if size > MAX_ENVIRONMENT_BYTES:
        largest = max(sizes, key=sizes.__getitem__)
        raise ValueError(f"{construct_id}: its environment variables take {size} bytes (the largest is {largest}); "
                         f"Lambda allows {MAX_ENVIRONMENT_BYTES} bytes in all")


def own_folder_code(package_dir: Path) -> lambda_.Code:
    """The code of a package that needs nothing but the Lambda runtime (its standard library and
    boto3): an asset of the package's folder alone, not bundled, its handler ``<package>.<module>.<name>``.
    Its hash covers that folder only, so no other file of the project redeploys the function."""
    return lambda_.Code.from_asset(str(package_dir.parent),
                                   exclude=["*", f"!{package_dir.name}", f"!{package_dir.name}/**", *_CACHES])
