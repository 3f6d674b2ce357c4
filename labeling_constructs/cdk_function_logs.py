"""Log groups for the functions CDK itself runs for the constructs: the ``BucketDeployment`` handler (sample data,
manifests, templates) and the S3 auto-delete-objects provider (a bucket whose removal policy is ``DESTROY``).

Left to CDK, each logs to ``/aws/lambda/<its name>``, a group Lambda makes on first use: kept forever, and left
behind by ``cdk destroy``. Here each gets a log group of the stack with a retention and a removal policy, as the
constructs' own functions have. CDK shares each of these functions across a stack (one ``BucketDeployment`` handler
per stack and memory size, one auto-delete provider per stack), so each has one group per stack, shared by every
construct (and any resource of the caller's) that uses the function: it keeps logs as long as the longest
retention any of them asked for, and is retained if any of them asked to retain it.
"""
from __future__ import annotations

from typing import Optional

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

#: The ids of the stack-level parts this module makes and finds.
DEPLOYMENT_LOGS_ID = "BucketDeploymentLogs"
AUTO_DELETE_LOGS_ID = "AutoDeleteObjectsLogs"
#: Where CDK puts the auto-delete-objects provider (aws-s3's AutoDeleteObjectsProvider: a stack-level
#: ``CustomResourceProvider`` whose function is its child ``Handler``, an ``AWS::Lambda::Function`` CfnResource).
AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"

#: CloudWatch Logs' retention of each ``RetentionDays``, in days, as CDK writes it (``RetentionInDays``; None: never
#: expire). jsii's Python enum carries the names only; tests/test_constructs.py holds this table to CDK's.
RETENTION_IN_DAYS: dict[logs.RetentionDays, Optional[int]] = {
    logs.RetentionDays.ONE_DAY: 1, logs.RetentionDays.THREE_DAYS: 3, logs.RetentionDays.FIVE_DAYS: 5,
    logs.RetentionDays.ONE_WEEK: 7, logs.RetentionDays.TWO_WEEKS: 14, logs.RetentionDays.ONE_MONTH: 30,
    logs.RetentionDays.TWO_MONTHS: 60, logs.RetentionDays.THREE_MONTHS: 90, logs.RetentionDays.FOUR_MONTHS: 120,
    logs.RetentionDays.FIVE_MONTHS: 150, logs.RetentionDays.SIX_MONTHS: 180, logs.RetentionDays.ONE_YEAR: 365,
    logs.RetentionDays.THIRTEEN_MONTHS: 400, logs.RetentionDays.EIGHTEEN_MONTHS: 545,
    logs.RetentionDays.TWO_YEARS: 731, logs.RetentionDays.THREE_YEARS: 1096, logs.RetentionDays.FIVE_YEARS: 1827,
    logs.RetentionDays.SIX_YEARS: 2192, logs.RetentionDays.SEVEN_YEARS: 2557, logs.RetentionDays.EIGHT_YEARS: 2922,
    logs.RetentionDays.NINE_YEARS: 3288, logs.RetentionDays.TEN_YEARS: 3653, logs.RetentionDays.INFINITE: None,
}
#: How much of a log group each removal policy keeps, least first.
_KEEPING = {RemovalPolicy.DESTROY: 0, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE: 1, RemovalPolicy.RETAIN: 2}


def _days(retention: logs.RetentionDays) -> float:
    days = RETENTION_IN_DAYS[retention]
    return float("inf") if days is None else days


class SharedLogGroup(logs.LogGroup):
    """A log group of a stack shared by the constructs that use one of CDK's stack-wide functions; each asks for
    its retention and removal policy with ``keep``."""

    def __init__(self, scope: Construct, construct_id: str, *, retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id, retention=retention, removal_policy=removal_policy)
        #: The longest retention, and the removal policy keeping the most, asked of the group so far.
        self.kept_retention, self.kept_removal_policy = retention, removal_policy

    def keep(self, retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        """Keep logs at least ``retention``, and the group at least as ``removal_policy`` keeps it."""
        if _days(retention) > _days(self.kept_retention):
            self.kept_retention = retention
            self.node.default_child.retention_in_days = RETENTION_IN_DAYS[retention]
        if _KEEPING.get(removal_policy, max(_KEEPING.values())) > _KEEPING.get(self.kept_removal_policy, 0):
            self.kept_removal_policy = removal_policy
            self.apply_removal_policy(removal_policy)


def shared_log_group(scope: Construct, construct_id: str, retention: logs.RetentionDays,
                     removal_policy: Optional[RemovalPolicy]) -> SharedLogGroup:
    """The stack's log group ``construct_id`` (made on first use), keeping at least ``retention`` and
    ``removal_policy`` (None: ``RETAIN``, CDK's default for a log group)."""
    stack = Stack.of(scope)
    removal_policy = RemovalPolicy.RETAIN if removal_policy is None else removal_policy
    group = stack.node.try_find_child(construct_id)
    if group is None:
        return SharedLogGroup(stack, construct_id, retention=retention, removal_policy=removal_policy)
    if not isinstance(group, SharedLogGroup):
        raise ValueError(f"stack {stack.node.path} has a construct {construct_id!r} of its own "
                         f"({type(group).__name__}), where the constructs keep the log group of CDK's functions: "
                         "give it another id")
    group.keep(retention, removal_policy)
    return group


def deployment_log_group(scope: Construct, retention: logs.RetentionDays,
                         removal_policy: Optional[RemovalPolicy]) -> SharedLogGroup:
    """The log group of the stack's ``BucketDeployment`` handler: pass it as a deployment's ``log_group`` (and
    ``check_deployment_logs`` after)."""
    return shared_log_group(scope, DEPLOYMENT_LOGS_ID, retention, removal_policy)


def check_deployment_logs(deployment: s3deploy.BucketDeployment, group: logs.ILogGroup) -> None:
    """Warn at synth when the deployment's handler logs elsewhere than ``group``: CDK made the stack's handler for a
    deployment defined before, without a ``log_group`` (the handler takes the log group of the deployment that made
    it, and ignores the others')."""
    handler = deployment.node.try_find_child("CustomResourceHandler")
    if handler is None or handler.log_group.node.path == group.node.path:
        return
    Annotations.of(deployment).add_warning_v2(
        "labeling-constructs:deployment-log-group",
        f"CDK's BucketDeployment handler of stack {Stack.of(deployment).node.path} was made by a deployment defined "
        f"before this one, without a log_group: it logs to /aws/lambda/<its name>, kept forever, not to "
        f"{group.node.path}. Give that deployment log_group=labeling_constructs.cdk_function_logs."
        "deployment_log_group(...), or define it after this one.")


def auto_delete_objects_log_group(scope: Construct, retention: logs.RetentionDays,
                                  removal_policy: Optional[RemovalPolicy]) -> Optional[SharedLogGroup]:
    """Point the stack's S3 auto-delete-objects provider (made by a bucket with ``auto_delete_objects``) at a log
    group of the stack, and return it; None when the stack has no such provider. CDK offers no log group for this
    provider, so its function's ``LoggingConfig`` is set on the CloudFormation resource."""
    provider = Stack.of(scope).node.try_find_child(AUTO_DELETE_PROVIDER_ID)
    function = provider.node.try_find_child("Handler") if provider is not None else None
    if function is None:
        return None
    group = shared_log_group(scope, AUTO_DELETE_LOGS_ID, retention, removal_policy)
    function.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
    return group
