"""What every labeling job of the constructs needs, written once: its worker template uploaded under a
content-addressed key, and its execution role's policy (AWS's published execution-role policy for
labeling jobs, scoped to the job's prefixes and functions)."""
from __future__ import annotations

import hashlib
from typing import Callable, Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from .cdk_function_logs import check_deployment_logs, deployment_log_group
from .manifest_bucket import ManifestBucket
from .nag import acknowledge, acknowledge_bucket_deployment, nag_reference

#: CloudWatch namespaces Ground Truth publishes labeling-job and workteam metrics under. AWS spells
#: the first with "Sagemaker" and the second with "SageMaker" (monitoring and workteam-tracking pages).
GROUND_TRUTH_METRIC_NAMESPACES = ("AWS/Sagemaker/LabelingJobs", "AWS/SageMaker/Workteam")
#: Ground Truth writes each labeling job's log stream into this group.
LABELING_JOB_LOG_GROUP = "/aws/sagemaker/LabelingJobs"


def upload_template(scope: Construct, construct_id: str, bucket: ManifestBucket, prefix: str, text: str,
                    name: str, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy | None,
                    ) -> tuple[s3deploy.BucketDeployment, str, logs.ILogGroup]:
    """The template under ``<prefix><digest of its text>/<name>`` (a new template is a new key, so a
    running job keeps reading its own), its S3 URI, and the log group of the deployment's handler: the stack's
    ``cdk_function_logs.deployment_log_group``, kept at least ``log_retention`` and ``removal_policy``."""
    key = f"{prefix}{hashlib.sha256(text.encode()).hexdigest()[:16]}/{name}"
    log_group = deployment_log_group(scope, log_retention, removal_policy)
    deployment = s3deploy.BucketDeployment(
        scope, construct_id,
        destination_bucket=bucket.bucket,
        sources=[s3deploy.Source.data(key, text)],
        prune=False,
        retain_on_delete=True,  # a running job keeps reading it
        content_type="text/html",
        log_group=log_group,
    )
    acknowledge_bucket_deployment(deployment, bucket.bucket)
    check_deployment_logs(deployment, log_group)
    return deployment, bucket.s3_uri(key), log_group


def grant_labeling_job_access(role: iam.IRole, bucket: ManifestBucket, *, read_prefixes: Sequence[str],
                              output_prefix: str, grant_invoke: Callable[[iam.IGrantable], iam.Grant],
                              read_data: bool = True) -> None:
    """AWS's published execution-role policy for labeling jobs, statement by statement.

    The developer guide ("Create a SageMaker execution role for a Ground Truth labeling job":
    non-streaming built-in task types, plus the custom-workflow Lambda statement; "Encrypt
    output data ... with AWS KMS" for a key) grants the role S3ViewBuckets, S3GetPutObjects,
    CloudWatch and LambdaFunctions. Each is kept; where this differs, the comment says why.
    """
    stack = Stack.of(role)
    # S3ViewBuckets: s3:ListBucket and s3:GetBucketLocation on the bucket, as published (no
    # prefix condition: a listing Ground Truth makes without a prefix must not be denied).
    bucket.grant_bucket_listing(role)
    # S3GetPutObjects: the guide grants GetObject, PutObject and AbortMultipartUpload on every
    # object of the input and output buckets. Here reads are limited to what the job reads (its
    # manifest, the data, derived data and template, and its own output), and writes to the output
    # prefix, the only place Ground Truth writes (S3OutputPath). Ground Truth also presigns data and
    # derived objects for workers with this role (grant_read_access), which needs the same GetObject.
    if read_data:
        bucket.grant_read_data(role, acknowledge_prefix_wildcard=False)  # the caller acknowledges each prefix
    output_read = any(output_prefix.startswith(read) for read in read_prefixes)  # already, under a prefix it lies in
    for prefix in (*read_prefixes, *(() if output_read else (output_prefix,))):
        bucket.grant_read_prefix(role, prefix)
    bucket.grant_write_prefix(role, output_prefix, abort_multipart_upload=True)
    # CloudWatch: the guide grants the log actions on "*". Ground Truth writes a labeling job's
    # events to one stream per job in /aws/sagemaker/LabelingJobs, so the group and its
    # streams are enough.
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="LabelingJobLogs",
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources=[stack.format_arn(service="logs", resource="log-group", resource_name=name,
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME)
                   for name in (LABELING_JOB_LOG_GROUP, f"{LABELING_JOB_LOG_GROUP}:*")],
    ))
    # cloudwatch:PutMetricData has no resource-level permissions. The guide sets no condition;
    # here the namespace must be one Ground Truth publishes under. Case-insensitive, because AWS
    # capitalises "SageMaker" differently in the two and a namespace starting "AWS/" is reserved
    # for AWS services anyway.
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="LabelingJobMetrics",
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEqualsIgnoreCase": {"cloudwatch:namespace": list(GROUND_TRUTH_METRIC_NAMESPACES)}},
    ))
    # LambdaFunctions: lambda:InvokeFunction on exactly the job's pre-labeling and consolidation functions.
    grant_invoke(role)
    # KMS: the guide's statement for an output key (Encrypt, Decrypt, ReEncrypt*,
    # GenerateDataKey*, DescribeKey) goes into the key policy with Resource "*" (that key);
    # here it is the role's own policy on the key's ARN, which takes effect when the key policy
    # lets IAM policies grant access (a key made by CDK does; for any other key, add the guide's
    # key-policy statement for this role).
    if bucket.encryption_key:
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resource_arns=[bucket.encryption_key.key_arn])


def acknowledge_execution_role(role: iam.IRole, bucket: ManifestBucket) -> None:
    """The reviewed cdk-nag findings of ``grant_labeling_job_access`` that are not about S3 prefixes."""
    streams = Stack.of(role).format_arn(service="logs", resource="log-group", resource_name=f"{LABELING_JOB_LOG_GROUP}:*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)
    acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag_reference(role, streams)}]",
                f"Ground Truth writes one log stream per labeling job, named by the job, inside the "
                f"{LABELING_JOB_LOG_GROUP} group; the wildcard covers that group's streams only.")
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:PutMetricData supports no resource-level permissions; a condition limits the "
                f"statement to the namespaces Ground Truth publishes under ({', '.join(GROUND_TRUTH_METRIC_NAMESPACES)}).")
    if bucket.encryption_key:
        for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*"):
            acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]",
                        "AWS's published execution-role policy for labeling jobs with a KMS key lists this action "
                        "group; the statement is limited to the bucket's one key.")
