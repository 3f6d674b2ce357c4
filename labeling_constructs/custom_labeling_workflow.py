"""CustomLabelingWorkflow: the two Lambdas, the execution role, the UI template and the labeling job."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Mapping, Optional, Sequence

from aws_cdk import ArnFormat, CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from .lambda_code import python_lambda_code
from .lambda_function import project_function
from .nag import acknowledge, acknowledge_bucket_deployment, acknowledge_provider_framework
from .manifest_bucket import ManifestBucket


#: Template metadata key, on the execution role, describing the workflow's labeling task.
TASK_METADATA_KEY = "GroundTruthTask"


class ConsolidationMethod(str, Enum):
    """How the consolidation function decides a classification from workers' answers.

    Passed to the function as ``CONSOLIDATION_METHOD`` (see ``lambda_src/gt_common/classification.py``).
    """

    DAWID_SKENE = "dawid-skene"  # a worker model learned over the job's batches
    MAJORITY_VOTE = "majority-vote"


@dataclass(frozen=True)
class LabelingFunction:
    """Where a workflow Lambda's code lives and how it runs.

    ``package`` is a folder of ``lambda_src/``; ``handler`` is relative to it.
    """

    package: str
    handler: str = "handler.lambda_handler"
    memory_size: int = 512
    timeout: Duration = Duration.seconds(60)
    environment: Mapping[str, str] = field(default_factory=dict)


class CustomLabelingWorkflow(Construct):
    """A Ground Truth custom labeling workflow over the data of a ``ManifestBucket``.

    Creates the pre-labeling and consolidation functions, the job's execution role (trusted by
    SageMaker only on behalf of this account's labeling jobs; it may invoke exactly these two
    functions and reach only the workflow's S3 prefixes), uploads the worker UI template under a
    content-addressed key, and, unless ``create_labeling_job`` is False, creates the labeling job
    through a custom resource. Labeling jobs cannot be updated or deleted: any change to the job's
    configuration creates a new job and stops the old one; removing the resource stops the job.

    Attributes: ``pre_labeling_function``, ``consolidation_function``, ``execution_role``,
    ``template_deployment``, ``ui_template_s3_uri``, ``output_s3_uri``, ``job`` (CustomResource or
    None), ``job_provider``, ``job_function``, ``labeling_job_name`` (token or None).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: ManifestBucket,
        workteam_arn: str,
        label_attribute_name: str,
        ui_template_path: str | Path,
        pre_labeling: LabelingFunction,
        consolidation: LabelingFunction,
        task_title: str,
        task_description: str,
        task_keywords: Sequence[str] = (),
        workers_per_object: int = 3,
        task_time_limit: Duration = Duration.minutes(10),
        task_availability_lifetime: Duration = Duration.days(10),
        max_concurrent_task_count: Optional[int] = None,
        output_prefix: str = "output/",
        derived_data_prefix: str = "derived/",
        template_prefix: str = "templates/",
        job_name_prefix: Optional[str] = None,
        create_labeling_job: bool = True,
        consolidation_method: ConsolidationMethod = ConsolidationMethod.DAWID_SKENE,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_job_settings(label_attribute_name, workers_per_object, task_time_limit, task_title, task_description)
        for name, prefix in (("output_prefix", output_prefix), ("derived_data_prefix", derived_data_prefix),
                             ("template_prefix", template_prefix)):
            if not prefix.endswith("/") or prefix.startswith("/"):
                raise ValueError(f"{name} {prefix!r} must be relative and end with '/'")
        stack = Stack.of(self)
        bucket = input_bucket.bucket
        self.input_bucket = input_bucket
        self.label_attribute_name = label_attribute_name
        self.output_prefix = output_prefix
        self.derived_data_prefix = derived_data_prefix
        self.output_s3_uri = input_bucket.s3_uri(output_prefix)

        # -- the two workflow functions ----------------------------------------------------
        self.pre_labeling_function = self._function(
            "PreLabeling", pre_labeling, log_retention,
            {"DERIVED_DATA_PREFIX": derived_data_prefix},
            "Ground Truth pre-labeling: turns a manifest line into the worker task's input",
        )
        self.consolidation_method = ConsolidationMethod(consolidation_method)
        self.consolidation_function = self._function(
            "Consolidation", consolidation, log_retention,
            {"CONSOLIDATION_METHOD": self.consolidation_method.value},
            "Ground Truth annotation consolidation: merges workers' answers into one label",
        )
        input_bucket.grant_read_data(self.pre_labeling_function)
        input_bucket.grant_read_prefix(self.pre_labeling_function, derived_data_prefix)
        input_bucket.grant_write_prefix(self.pre_labeling_function, derived_data_prefix)
        input_bucket.grant_list_prefixes(self.pre_labeling_function, [input_bucket.data_prefix, derived_data_prefix])
        # Consolidation reads the request payload and raw answers under the job's output, and
        # keeps the worker model and quality statistics there, one file per batch (listed to merge).
        input_bucket.grant_read_prefix(self.consolidation_function, output_prefix)
        input_bucket.grant_write_prefix(self.consolidation_function, output_prefix)
        input_bucket.grant_list_prefixes(self.consolidation_function, [output_prefix])

        # -- worker UI template, content-addressed so a new template means a new job -----------
        template = Path(ui_template_path)
        if not template.is_file():
            raise ValueError(f"ui_template_path {template} is not a file")
        template_text = template.read_text(encoding="utf-8")
        template_key = f"{template_prefix}{hashlib.sha256(template_text.encode()).hexdigest()[:16]}/{template.name}"
        self.template_deployment = s3deploy.BucketDeployment(
            self, "UiTemplate",
            destination_bucket=bucket,
            sources=[s3deploy.Source.data(template_key, template_text)],
            prune=False,
            retain_on_delete=True,  # a running job keeps reading it
            content_type="text/html",
        )
        self.ui_template_s3_uri = input_bucket.s3_uri(template_key)
        acknowledge_bucket_deployment(self.template_deployment, bucket)

        # -- execution role ----------------------------------------------------------------
        self.execution_role = iam.Role(
            self, "ExecutionRole",
            description="Ground Truth execution role of one custom labeling workflow",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="sagemaker", resource="labeling-job", resource_name="*")},
                },
            ),
        )
        self.grant_invoke_workflow_functions(self.execution_role)
        # Ground Truth reads the manifest, template and data, presigns data and derived objects for
        # workers (grant_read_access signs with this role), and writes the output.
        input_bucket.grant_read_data(self.execution_role)
        for prefix in (derived_data_prefix, template_prefix, output_prefix):
            input_bucket.grant_read_prefix(self.execution_role, prefix)
        input_bucket.grant_write_prefix(self.execution_role, output_prefix)
        input_bucket.grant_list_prefixes(self.execution_role, [
            input_bucket.data_prefix, derived_data_prefix, output_prefix, template_prefix, input_bucket.manifest_key])
        self.execution_role.add_to_policy(iam.PolicyStatement(
            sid="LabelingJobLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[stack.format_arn(service="logs", resource="log-group", resource_name="/aws/sagemaker/LabelingJobs:*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)],
        ))
        self.execution_role.add_to_policy(iam.PolicyStatement(
            sid="LabelingJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],  # PutMetricData has no resource-level permissions
            conditions={"StringEquals": {"cloudwatch:namespace": "AWS/SageMaker"}},
        ))

        self._acknowledge_scoped_wildcards(template_prefix)
        # What a labeling job of this workflow is, in the template itself, whether or not the job is
        # created here: the local runner (local_ground_truth) reads it from the synthesized stack.
        self.execution_role.node.default_child.add_metadata(TASK_METADATA_KEY, {
            "LabelAttributeName": label_attribute_name,
            "TaskTitle": task_title,
            "TaskDescription": task_description,
            "NumberOfHumanWorkersPerDataObject": workers_per_object,
            "TaskTimeLimitInSeconds": int(task_time_limit.to_seconds()),
            "ManifestKey": input_bucket.manifest_key,
            "DataPrefix": input_bucket.data_prefix,
            "OutputPrefix": output_prefix,
            "UiTemplateKey": template_key,
            "InputBucket": stack.get_logical_id(bucket.node.default_child),
            "PreLabelingFunction": stack.get_logical_id(self.pre_labeling_function.node.default_child),
            "ConsolidationFunction": stack.get_logical_id(self.consolidation_function.node.default_child),
        })

        # -- the labeling job ----------------------------------------------------------------
        self.job_name_prefix = _job_name_prefix(job_name_prefix or label_attribute_name)
        self.job = self.job_provider = self.job_function = None
        self.labeling_job_name: Optional[str] = None
        if create_labeling_job:
            self._add_job(
                log_retention,
                {
                    "JobNamePrefix": self.job_name_prefix,
                    "LabelAttributeName": label_attribute_name,
                    "ManifestS3Uri": input_bucket.manifest_s3_uri,
                    "InputRevision": input_bucket.manifest_revision,
                    "OutputS3Uri": self.output_s3_uri,
                    "RoleArn": self.execution_role.role_arn,
                    "WorkteamArn": workteam_arn,
                    "UiTemplateS3Uri": self.ui_template_s3_uri,
                    "PreHumanTaskLambdaArn": self.pre_labeling_function.function_arn,
                    "AnnotationConsolidationLambdaArn": self.consolidation_function.function_arn,
                    "TaskTitle": task_title,
                    "TaskDescription": task_description,
                    "TaskKeywords": list(task_keywords),
                    "NumberOfHumanWorkersPerDataObject": str(workers_per_object),
                    "TaskTimeLimitInSeconds": str(int(task_time_limit.to_seconds())),
                    "TaskAvailabilityLifetimeInSeconds": str(int(task_availability_lifetime.to_seconds())),
                    **({"MaxConcurrentTaskCount": str(max_concurrent_task_count)} if max_concurrent_task_count else {}),
                    **({"OutputKmsKeyId": input_bucket.encryption_key.key_arn} if input_bucket.encryption_key else {}),
                },
            )

    def _function(self, construct_id: str, spec: LabelingFunction, log_retention: logs.RetentionDays,
                  environment: Mapping[str, str], description: str) -> lambda_.Function:
        return project_function(
            self, construct_id,
            package=spec.package, handler=spec.handler, description=description,
            memory_size=spec.memory_size, timeout=spec.timeout, log_retention=log_retention,
            environment={"MPLCONFIGDIR": "/tmp", **environment, **spec.environment},
        )

    def _add_job(self, log_retention: logs.RetentionDays, properties: dict) -> None:
        stack = Stack.of(self)
        code = python_lambda_code("labeling_job_resource")

        def job_function(construct_id: str, handler: str) -> lambda_.Function:
            return project_function(
                self, construct_id, package="labeling_job_resource", handler=f"handler.{handler}",
                description="Creates, watches and stops the Ground Truth labeling job",
                code=code, log_retention=log_retention)

        self.job_function = job_function("JobOnEvent", "on_event")
        self.job_is_complete_function = job_function("JobIsComplete", "is_complete")
        # Job names are "<prefix>-<hash>-<time>"; SageMaker spells labeling-job ARNs in lower case.
        job_arns = [stack.format_arn(service="sagemaker", resource="labeling-job",
                                     resource_name=f"{self.job_name_prefix.lower()}-*")]
        for function in (self.job_function, self.job_is_complete_function):
            function.add_to_role_policy(iam.PolicyStatement(
                actions=["sagemaker:CreateLabelingJob", "sagemaker:DescribeLabelingJob",
                         "sagemaker:StopLabelingJob", "sagemaker:AddTags"],
                resources=job_arns,
            ))
        self.execution_role.grant_pass_role(self.job_function)
        self.job_provider = cr.Provider(
            self, "JobProvider",
            on_event_handler=self.job_function,
            is_complete_handler=self.job_is_complete_function,
            query_interval=Duration.seconds(30),
            total_timeout=Duration.minutes(30),
            log_group=logs.LogGroup(self, "JobProviderLogs", retention=log_retention),
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=logs.LogGroup(self, "JobWaiterLogs", retention=log_retention),
                level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        for function in (self.job_function, self.job_is_complete_function):
            acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{job_arns[0]}]".replace(
                stack.partition, "<AWS::Partition>").replace(stack.region, "<AWS::Region>").replace(
                stack.account, "<AWS::AccountId>"),
                "Limited to labeling jobs named with this workflow's prefix; each deployment names a new job.")
        acknowledge_provider_framework(self.job_provider, [self.job_function, self.job_is_complete_function])
        self.job = CustomResource(
            self, "LabelingJob",
            service_token=self.job_provider.service_token,
            resource_type="Custom::GroundTruthLabelingJob",
            properties=properties,
        )
        # The job reads all of these at creation; CloudFormation must finish them first.
        for dependency in (self.execution_role, self.template_deployment, self.pre_labeling_function,
                           self.consolidation_function, self.input_bucket):
            self.job.node.add_dependency(dependency)
        self.labeling_job_name = self.job.get_att_string("LabelingJobName")

    def _acknowledge_scoped_wildcards(self, template_prefix: str) -> None:
        data = self.input_bucket.data_prefix
        grants = {
            self.pre_labeling_function.role: (data, self.derived_data_prefix),
            self.consolidation_function.role: (self.output_prefix,),
            self.execution_role: (data, self.derived_data_prefix, template_prefix, self.output_prefix),
        }
        for role, prefixes in grants.items():
            for prefix in prefixes:
                self.input_bucket.acknowledge_prefix_wildcard(
                    role, prefix, f"Object access is limited to the workflow's {prefix} prefix, whose keys are "
                                  "generated per data object and job; no action wildcard is granted.")
        acknowledge(self.execution_role, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                    "<AWS::AccountId>:log-group:/aws/sagemaker/LabelingJobs:*]",
                    "Ground Truth writes its job logs to streams it names inside the /aws/sagemaker/LabelingJobs group.")
        acknowledge(self.execution_role, "AwsSolutions-IAM5[Resource::*]",
                    "cloudwatch:PutMetricData supports no resource-level permissions; the statement is limited "
                    "to the AWS/SageMaker namespace by condition.")

    # -- grants ------------------------------------------------------------------------------
    def grant_invoke_workflow_functions(self, grantee: iam.IGrantable) -> None:
        """lambda:InvokeFunction on exactly the pre-labeling and consolidation functions."""
        # Function.grant_invoke would add "<arn>:*" (every version); Ground Truth calls the bare ARN.
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["lambda:InvokeFunction"],
            resource_arns=[self.pre_labeling_function.function_arn, self.consolidation_function.function_arn])

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the job's output: labels, raw answers, output manifest."""
        return self.input_bucket.grant_read_prefix(grantee, self.output_prefix)


_JOB_NAME_PREFIX = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$")


def _job_name_prefix(prefix: str) -> str:
    """Job names are "<prefix>-<8 hash>-<time>", at most 63 characters: the prefix gets 40."""
    if not _JOB_NAME_PREFIX.match(prefix):
        raise ValueError(f"job name prefix {prefix!r} must be 1-40 letters, digits and inner hyphens")
    return prefix


def _check_job_settings(label_attribute_name: str, workers: int, time_limit: Duration, title: str, description: str) -> None:
    """Fail at synth, with the setting named, on what CreateLabelingJob would reject at deploy."""
    if not 1 <= len(label_attribute_name) <= 127:
        raise ValueError(f"label_attribute_name {label_attribute_name!r} must be 1-127 characters")
    if label_attribute_name.endswith(("-metadata", "-ref")):
        raise ValueError(f"label_attribute_name {label_attribute_name!r} must not end in -metadata or -ref")
    if not 1 <= workers <= 9:
        raise ValueError(f"workers_per_object {workers} must be between 1 and 9")
    if not 30 <= time_limit.to_seconds() <= 28800:
        raise ValueError("task_time_limit must be between 30 seconds and 8 hours")
    if not 1 <= len(title) <= 128:
        raise ValueError("task_title must be 1-128 characters")
    if not 1 <= len(description) <= 255:
        raise ValueError("task_description must be 1-255 characters")

