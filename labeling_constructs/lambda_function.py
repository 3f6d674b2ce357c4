"""A project Lambda: its own role, its own log group, code bundled from ``lambda_src``."""
from __future__ import annotations

from typing import Mapping, Optional

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .lambda_code import RUNTIME, python_lambda_code


def project_function(
    scope: Construct,
    construct_id: str,
    *,
    package: str,
    handler: str,
    description: str,
    memory_size: int = 256,
    timeout: Duration = Duration.minutes(1),
    environment: Optional[Mapping[str, str]] = None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    code: Optional[lambda_.Code] = None,
) -> lambda_.Function:
    """A function whose role may write only to its own log group (no AWS managed policy)."""
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=log_retention)
    role = iam.Role(scope, f"{construct_id}Role",
                    assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description=f"Execution role of {description[:80]}")
    role.add_to_policy(iam.PolicyStatement(
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group.log_group_arn],
    ))
    return lambda_.Function(
        scope, construct_id,
        description=description,
        runtime=RUNTIME,
        code=code or python_lambda_code(package),
        handler=f"{package}.{handler}",
        memory_size=memory_size,
        timeout=timeout,
        environment=dict(environment or {}),
        role=role,
        log_group=log_group,
    )
