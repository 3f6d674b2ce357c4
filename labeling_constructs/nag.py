"""Acknowledging reviewed cdk-nag findings from inside the construct that causes them."""
from __future__ import annotations

import json
from typing import Any, Optional

from aws_cdk import Acknowledgment, Stack, Stage, Validations
from aws_cdk import aws_s3_assets as s3_assets
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept ``rule`` (e.g. ``AwsSolutions-IAM5[Action::s3:GetObject]``) for ``scope`` and below."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason))


def nag_reference(scope: IConstruct, value: Any) -> str:
    """How cdk-nag spells ``value`` (a token or a literal) in a finding's id: its CloudFormation form
    flattened as cdk-nag's ``flattenCfnReference`` does (``Fn::GetAtt [X, Arn]`` -> ``<X.Arn>``,
    ``Ref X`` -> ``<X>``, ``Fn::Join`` joined)."""
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: Any) -> str:
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if node.get("Fn::Join"):
            delimiter, items = node["Fn::Join"]
            return delimiter.join(_flatten(item) for item in items)
        if node.get("Fn::Sub"):
            return _flatten(node["Fn::Sub"])
        if node.get("Fn::GetAtt"):
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if node.get("Fn::ImportValue"):
            return _flatten(node["Fn::ImportValue"])
        if node.get("Ref"):
            return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def arn_token(bucket, scope: Optional[IConstruct] = None) -> str:
    """How cdk-nag spells a bucket's ARN in a finding on a policy of ``scope``'s stack (default: the bucket's own):
    ``<LogicalId.Arn>`` for a bucket of that stack, the export's name for a bucket of another stack."""
    scope = bucket if scope is None else scope
    return nag_reference(scope, as_seen_from(scope, bucket, bucket.bucket_arn))


def as_seen_from(scope: IConstruct, owner: IConstruct, value: str) -> str:
    """``value``, an attribute of ``owner``'s resource, as ``scope``'s stack holds it after synthesis.

    A resource's attribute used in a sibling stack of the same environment becomes that stack's
    ``Fn::ImportValue`` of an export CDK adds to the owner's stack; cdk-nag checks the consuming stack's
    template, so it names the export. ``Stack.export_value`` returns exactly that import (the export it
    makes is the one CDK makes for the reference itself, so nothing is added). Anything else (the same
    stack, a value that is no reference, nested stacks, other environments) is spelled as it is."""
    consumer, producer = Stack.of(scope), Stack.of(owner)
    if consumer is producer or consumer.nested or producer.nested or not _is_reference(producer.resolve(value)):
        return value
    if consumer.environment != producer.environment or Stage.of(consumer) is not Stage.of(producer):
        return value  # CDK refuses such a reference (or passes it through SSM with cross-region references)
    return producer.export_value(value)


def _is_reference(resolved: Any) -> bool:
    """A resource's own attribute (``Ref`` of a logical id or ``Fn::GetAtt``), not a pseudo parameter."""
    if not isinstance(resolved, dict) or len(resolved) != 1:
        return False
    if "Fn::GetAtt" in resolved:
        return True
    return isinstance(resolved.get("Ref"), str) and not resolved["Ref"].startswith("AWS::")


def acknowledge_bucket_deployment(deployment, bucket) -> None:
    """The reviewed findings of CDK's shared BucketDeployment handler (a stack-level singleton)."""
    role = deployment.handler_role
    acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's BucketDeployment handler role; it only writes its own logs with this policy.")
    for rule in ("Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*", "Action::s3:Abort*",
                 "Action::s3:DeleteObject*", "Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*",
                 *(f"Resource::{objects}" for objects in _source_objects(deployment)),
                 f"Resource::{arn_token(bucket, role)}/*"):
        acknowledge(role, f"AwsSolutions-IAM5[{rule}]",
                    "CDK's BucketDeployment copies assets from the CDK asset bucket into the destination bucket; "
                    "CDK grants its handler read and write on those two buckets only, s3:DeleteObject* included "
                    "whether or not a deployment prunes. These constructs prune, and delete on removal, only the "
                    "sample data of a bucket ManifestBucket made; in an existing bucket they delete nothing (no "
                    "pruning, retained on delete).")
    acknowledge(role.node.scope, "AwsSolutions-L1",
                "CDK's BucketDeployment handler runtime is chosen by aws-cdk-lib and upgraded with it.")


def _source_objects(deployment) -> list[str]:
    """The objects of the buckets a BucketDeployment copies its assets from, as cdk-nag spells their ARN: read from
    the deployment's own asset constructs, so they name the asset bucket of the synthesizer the stack actually uses
    (a custom bootstrap qualifier, a custom file-assets bucket name, account and region written in when pinned)."""
    assets = [child for child in deployment.node.children if isinstance(child, s3_assets.Asset)]
    return sorted({nag_reference(deployment, asset.bucket.arn_for_objects("*")) for asset in assets})


def acknowledge_provider_framework(provider, user_functions) -> None:
    """The reviewed findings of the CDK custom-resource Provider framework's own functions."""
    acknowledge(provider, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's custom resource framework functions use the basic execution policy to write their logs.")
    acknowledge(provider, "AwsSolutions-L1", "The framework's runtime is chosen by aws-cdk-lib and upgraded with it.")
    framework_functions = [provider.node.try_find_child(name) for name in ("framework-isComplete", "framework-onTimeout")]
    for function in [*user_functions, *filter(None, framework_functions)]:
        acknowledge(provider, f"AwsSolutions-IAM5[Resource::{nag_reference(function, function.function_arn)}:*]",
                    "The framework (and its waiter state machine) may invoke any version of this function, and only it.")
    if provider.node.try_find_child("waiter-state-machine"):
        acknowledge(provider, "AwsSolutions-SF2",
                    "The Provider framework's waiter state machine offers no X-Ray option; it only polls is_complete.")
        acknowledge(provider.node.find_child("waiter-state-machine"), "AwsSolutions-IAM5[Resource::*]",
                    "Step Functions log delivery (logs:CreateLogDelivery and related) supports no resource-level "
                    "permissions; CDK adds it for the waiter's execution log.")
