"""CustomLabelingWorkflow: the two Lambdas, the execution role, the UI template and the labeling job."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Mapping, Optional, Sequence

from aws_cdk import Annotations, CustomResource, Duration, RemovalPolicy, Resource, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from .bucket_layout import DERIVED_DATA_PREFIX, OUTPUT_PREFIX, TEMPLATE_PREFIX
from .ground_truth_access import acknowledge_execution_role, grant_labeling_job_access, upload_template
from .labeling_job_resource import job_settings
from .labeling_job_resource.naming import KEY_PROPERTY, LABEL_PROPERTY
from .labeling_job_resource.request import request_without_name
from .lambda_code import RUNTIME
from .lambda_dependencies import import_lambda_src
from .lambda_function import least_privilege_function, merge_props, own_folder_code
from .manifest_bucket import ManifestBucket
from .nag import acknowledge, acknowledge_provider_framework, nag_reference

import_lambda_src()
# DERIVED_DATA_PREFIX_ENV and RECORDS_ENV: the variables the construct sets on the functions it wires, named as
# pre-labeling and both functions read them; a caller's environment cannot replace them.
from gt_common.configuration import DERIVED_DATA_PREFIX_ENV  # noqa: E402
from gt_common.job_state import STATE_FOLDER  # noqa: E402
from gt_common.output_layout import ANNOTATIONS, QUALITY_REPORTS  # noqa: E402
from gt_common.task_record import RECORDS_ENV  # noqa: E402


#: Where pre-labeling keeps what it showed each worker, under the derived-data prefix.
TASK_RECORDS_FOLDER = "task-records/"
#: Length of the per-resource key every labeling-job name starts with (hex digits).
JOB_NAME_KEY_LENGTH = 10
DEFAULT_TEMPLATE_NAME = "worker-task.liquid.html"
#: The id of the synth warning naming the access an imported function's owner must grant it.
IMPORTED_FUNCTION_ACCESS_WARNING = "labeling-constructs:importedFunctionAccess"
_JOB_RESOURCE_CODE = Path(__file__).resolve().parent / "labeling_job_resource"


class CustomLabelingWorkflow(Construct):
    """A Ground Truth custom labeling workflow over the data of a ``ManifestBucket``.

    Creates (or takes) the pre-labeling and consolidation functions, the job's execution role,
    the worker UI template (uploaded under a content-addressed key) and, unless
    ``create_labeling_job`` is False, the labeling job, a custom resource. Any change to the job's
    configuration creates a new job and stops the old one; a rollback keeps the original job;
    removing the resource stops the job.

    Props (keyword):

    - ``input_bucket`` (``ManifestBucket``, required): the data, manifest, template and output bucket.
    - ``workteam_arn`` (required): the workteam that answers (e.g. ``PrivateWorkteam.workteam_arn``).
    - ``label_attribute_name``, ``task_title``, ``task_description`` (required): Ground Truth's
      ``LabelAttributeName``, ``TaskTitle``, ``TaskDescription``; checked at synth against
      CreateLabelingJob's rules (``labeling_job_resource.job_settings``), as are the numbers below.
    - ``ui_template`` (the Liquid template's text) or ``ui_template_path`` (a file): the worker UI.
      ``ui_template_name`` is the file name in its key (default: the path's name, else
      ``worker-task.liquid.html``).
    - The two functions, each either ``*_function_props`` (``lambda_.FunctionProps``: ``code``,
      ``handler`` and ``runtime``, with any other field over the defaults of ``lambda_function``: a
      role of its own that may write only its own log group, a log group kept ``log_retention``
      (one year; the props' own ``log_retention`` is that group's retention), 512 MB, one minute) or ``existing_*_function`` (any ``lambda_.IFunction``):
      ``pre_labeling_function_props`` / ``existing_pre_labeling_function`` and
      ``consolidation_function_props`` / ``existing_consolidation_function``.
    - ``task_keywords`` (none), ``workers_per_object`` (3, 1-9), ``task_time_limit`` (10 minutes,
      30 s - 8 h), ``task_availability_lifetime`` (10 days, 1 minute - 30 days),
      ``max_concurrent_task_count`` (Ground Truth's default, else 1-5000).
    - ``output_prefix`` (``output/``), ``derived_data_prefix`` (``derived/``), ``template_prefix``
      (``templates/``): where the job writes, where pre-labeling writes what it derives, where the
      template goes. They may not overlap each other, the bucket's data prefix and manifest, or the prefixes of
      another workflow on the same ``ManifestBucket`` (``ManifestBucket.claim_prefixes``).
    - ``job_name_prefix`` (default: the label attribute name; 1-30 letters, digits, inner hyphens),
      ``create_labeling_job`` (True), ``log_retention`` (one year) and ``removal_policy`` (``RETAIN``; ``DESTROY``
      deletes them with the stack) of every log group made here, and asked of the stack's log group of CDK's
      ``BucketDeployment`` handler, which the template deployment shares (``cdk_function_logs``).
    - ``existing_execution_role`` (an ``iam.IRole``; default: one made here): the role Ground Truth runs the job
      with. It must trust ``sagemaker.amazonaws.com``; the workflow's access is added to it as to its own (a role
      imported with ``mutable=False`` gets none: give it the access ``_grant_ground_truth_access`` describes
      yourself), and the job function may pass it to SageMaker only.
    - ``tags`` (key -> value, none by default): the labeling job's tags (CreateLabelingJob ``Tags``; the job
      function is then allowed ``sagemaker:AddTags`` on this resource's jobs, which tagging on create needs). They are
      part of the job's configuration: changing them starts a new job, as any change does. CDK's ``Tags.of`` does
      not reach the job (a custom resource), so tags meant for it are given here.

    Wiring: both functions get ``TASK_RECORDS_URI`` (``task_records_s3_uri``, under the derived-data
    prefix: pre-labeling writes there what it showed each worker, consolidation reads it back) and
    pre-labeling gets ``DERIVED_DATA_PREFIX``, set after the caller's own environment. An existing
    function gets them too when it is a ``Function`` or ``SingletonFunction`` of this workflow's stack, or an
    ``Alias`` or ``Version`` of one (its function gets them; a ``Version`` you publish yourself, unlike
    ``current_version``, is not published again when they change). Any of these from another stack is refused:
    the two stacks would depend on each other. An imported ``IFunction`` must be configured with them by its owner. Each function is granted exactly the S3 access its
    role in the job needs (pre-labeling: read the data and manifest, read and write the derived
    prefix; consolidation: read and write the output prefix, read the task records); a function
    whose role this app cannot change must be given that access by its owner. An imported function without a role
    (``Function.from_function_arn``) is granted nothing here (CDK would only warn of each statement it dropped):
    one synth warning, ``IMPORTED_FUNCTION_ACCESS_WARNING``, names the access its owner must grant.

    The execution role follows AWS's published execution-role policy for labeling jobs, scoped to
    this workflow: it may invoke exactly these two functions and reach only the workflow's S3
    prefixes (``_grant_ground_truth_access``). Job names start with ``job_name_key``, a digest of the
    stack name and this construct's path, then ``job_name_prefix``; the job functions may act only
    on names with that key, so no rename moves a job out of reach and no other stack's (or
    environment's) jobs are within it. The job function's code is ``labeling_job_resource/``
    beside this module (boto3 only, an asset of that folder alone).

    Exposes: ``pre_labeling_function``, ``consolidation_function`` (``IFunction``), ``execution_role``,
    ``template_deployment``, ``deployment_log_group`` (its handler's, the stack's), ``ui_template_s3_uri``,
    ``output_s3_uri``, ``task_records_s3_uri``,
    ``job_name_key``, ``tags``, ``labeling_job_request`` (CreateLabelingJob's request for this workflow's job,
    all but ``LabelingJobName``, with tokens: ``Stack.to_json_string`` makes it a stack output),
    ``job`` (``CustomResource`` or None), ``job_provider``, ``job_function``,
    ``job_is_complete_function``, ``job_provider_log_group`` (the provider framework's functions'),
    ``job_waiter_log_group`` (its waiter state machine's), ``labeling_job_name`` (token or None; each of the job's
    parts is None without ``create_labeling_job``).
    ``job_arn_pattern`` (the ARN pattern of this workflow's labeling jobs).
    Grants: ``grant_invoke_workflow_functions``, ``grant_read_output``, ``grant_start_labeling_job``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: ManifestBucket,
        workteam_arn: str,
        label_attribute_name: str,
        task_title: str,
        task_description: str,
        ui_template: Optional[str] = None,
        ui_template_path: Optional[str | Path] = None,
        ui_template_name: Optional[str] = None,
        pre_labeling_function_props: Optional[lambda_.FunctionOptions] = None,
        existing_pre_labeling_function: Optional[lambda_.IFunction] = None,
        consolidation_function_props: Optional[lambda_.FunctionOptions] = None,
        existing_consolidation_function: Optional[lambda_.IFunction] = None,
        task_keywords: Sequence[str] = (),
        workers_per_object: int = 3,
        task_time_limit: Duration = Duration.minutes(10),
        task_availability_lifetime: Duration = Duration.days(10),
        max_concurrent_task_count: Optional[int] = None,
        output_prefix: str = OUTPUT_PREFIX,
        derived_data_prefix: str = DERIVED_DATA_PREFIX,
        template_prefix: str = TEMPLATE_PREFIX,
        job_name_prefix: Optional[str] = None,
        create_labeling_job: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        tags: Optional[Mapping[str, str]] = None,
        existing_execution_role: Optional[iam.IRole] = None,
        removal_policy: Optional[RemovalPolicy] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not isinstance(input_bucket, ManifestBucket):
            raise TypeError(f"input_bucket must be a ManifestBucket, not {type(input_bucket).__name__}: wrap a bucket "
                            "as ManifestBucket(self, id, existing_bucket=bucket), which keeps the workflows' prefixes "
                            "apart and grants by prefix")
        #: Of every log group made here (None: CDK's default for a log group, RETAIN).
        self.removal_policy = removal_policy
        numbers = _checked_job_settings(label_attribute_name, task_title, task_description, workers_per_object,
                                        task_time_limit, task_availability_lifetime, max_concurrent_task_count,
                                        task_keywords, workteam_arn)
        check_workteam_environment(self, workteam_arn)
        #: The labeling job's tags (CreateLabelingJob ``Tags``), as given.
        self.tags: dict[str, str] = _checked_tags(tags)
        for name, prefix in (("output_prefix", output_prefix), ("derived_data_prefix", derived_data_prefix),
                             ("template_prefix", template_prefix)):
            if not prefix.endswith("/") or prefix.startswith("/"):
                raise ValueError(f"{name} {prefix!r} must be relative and end with '/'")
        input_bucket.claim_prefixes(f"workflow {self.node.path}", {
            "output_prefix": output_prefix, "derived_data_prefix": derived_data_prefix, "template_prefix": template_prefix})
        template_text, template_name = _ui_template(ui_template, ui_template_path, ui_template_name)
        self.input_bucket = input_bucket
        self.label_attribute_name = label_attribute_name
        self.output_prefix = output_prefix
        self.derived_data_prefix = derived_data_prefix
        self.template_prefix = template_prefix
        self.output_s3_uri = input_bucket.s3_uri(output_prefix)
        self.task_records_prefix = f"{derived_data_prefix}{TASK_RECORDS_FOLDER}"
        self.task_records_s3_uri = input_bucket.s3_uri(self.task_records_prefix)

        # -- the two workflow functions ----------------------------------------------------
        self.pre_labeling_function = self._function(
            "PreLabeling", pre_labeling_function_props, existing_pre_labeling_function, log_retention,
            {DERIVED_DATA_PREFIX_ENV: derived_data_prefix, RECORDS_ENV: self.task_records_s3_uri},
            "Ground Truth pre-labeling: turns a manifest line into the worker task's input",
        )
        self.consolidation_function = self._function(
            "Consolidation", consolidation_function_props, existing_consolidation_function, log_retention,
            {RECORDS_ENV: self.task_records_s3_uri},
            "Ground Truth annotation consolidation: merges workers' answers into one label",
        )
        #: Where the consolidation function may write, in every job's output folder: its state
        #: (``gt_common.job_state``, under the annotations folder Ground Truth gives it) and quality reports.
        self.consolidation_write_prefixes = (f"{output_prefix}*/{ANNOTATIONS}{STATE_FOLDER}/",
                                             f"{output_prefix}*/{QUALITY_REPORTS}")
        # Pre-labeling reads the data objects Ground Truth hands it (never the input manifest: each invocation
        # is given its own line), and writes its derived data and task records under the derived prefix.
        # Consolidation reads the request payload and raw answers under the job's output, and
        # keeps the worker model and quality statistics there: one snapshot per kind updated with
        # conditional writes (If-Match needs GetObject and PutObject, no more), a record per batch, and
        # the per-batch files of jobs started before snapshots listed once to fold them in. It writes
        # only those and its quality reports (not Ground Truth's manifests or answers).
        # It lists the job's task records and reads them back (listing also makes a missing record NoSuchKey,
        # not AccessDenied).
        # What each function is granted on the bucket: (read, write, list) prefixes.
        access = {
            "pre_labeling": ((input_bucket.data_prefix, derived_data_prefix), (derived_data_prefix,),
                             (input_bucket.data_prefix, derived_data_prefix)),
            "consolidation": ((output_prefix, self.task_records_prefix), self.consolidation_write_prefixes,
                              (output_prefix, self.task_records_prefix)),
        }
        owed = []
        pre_labeling, consolidation = self.pre_labeling_function, self.consolidation_function
        # An imported function has no role this app can add to: a grant would only warn that it was dropped.
        if pre_labeling.role is None:
            owed.append(_owed_access("existing_pre_labeling_function", input_bucket,
                                     *access["pre_labeling"]))
        else:
            input_bucket.grant_read_prefix(pre_labeling, input_bucket.data_prefix)
            input_bucket.grant_read_prefix(pre_labeling, derived_data_prefix)
            input_bucket.grant_write_prefix(pre_labeling, derived_data_prefix)
            input_bucket.grant_list_prefixes(pre_labeling, [input_bucket.data_prefix, derived_data_prefix])
        if consolidation.role is None:
            owed.append(_owed_access("existing_consolidation_function", input_bucket,
                                     *access["consolidation"]))
        else:
            input_bucket.grant_read_prefix(consolidation, output_prefix)
            for folder in self.consolidation_write_prefixes:
                input_bucket.grant_write_prefix(consolidation, folder)
            input_bucket.grant_read_prefix(consolidation, self.task_records_prefix)
            input_bucket.grant_list_prefixes(consolidation, [output_prefix, self.task_records_prefix])
        if owed:
            Annotations.of(self).add_warning_v2(
                IMPORTED_FUNCTION_ACCESS_WARNING,
                f"{'; '.join(owed)}. An imported function has no role this app can change: its owner must grant "
                "that access to its role.")

        # -- worker UI template, content-addressed so a new template means a new job -----------
        self.template_deployment, self.ui_template_s3_uri, self.deployment_log_group = upload_template(
            self, "UiTemplate", input_bucket, template_prefix, template_text, template_name, log_retention,
            self.removal_policy)

        # -- execution role ----------------------------------------------------------------
        # Trust: AWS's published trust policy for Ground Truth execution roles has no condition,
        # and SageMaker documents confused-deputy conditions (aws:SourceArn, aws:SourceAccount) for
        # training, processing and other job types, not for labeling jobs. A condition Ground Truth
        # does not satisfy would keep every job from starting, so none is set. What keeps another
        # party from having SageMaker act with this role is iam:PassRole: CreateLabelingJob needs
        # the caller to pass the role, which only principals of this account granted PassRole on
        # it can do (the job functions below, limited to SageMaker).
        self.execution_role: iam.IRole = existing_execution_role or iam.Role(
            self, "ExecutionRole",
            description="Ground Truth execution role of one custom labeling workflow",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        )
        self._grant_ground_truth_access(derived_data_prefix, template_prefix, output_prefix)
        self._acknowledge_scoped_wildcards(template_prefix)

        # -- the labeling job ----------------------------------------------------------------
        self.job_name_key = _job_name_key(self)
        self.job_name_prefix = _job_name_prefix(job_name_prefix) if job_name_prefix else label_attribute_name
        #: The ARN pattern of this workflow's labeling jobs (every name starts with the key): every job the stack or
        #: a caller may start.
        self.job_arn_pattern = job_arn_pattern(self, self.job_name_key)
        properties = {
            KEY_PROPERTY: self.job_name_key,
            LABEL_PROPERTY: self.job_name_prefix,
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
            **{key: str(value) for key, value in numbers.items()},
            **({"OutputKmsKeyId": input_bucket.encryption_key.key_arn} if input_bucket.encryption_key else {}),
            **({"Tags": job_tags(self.tags)} if self.tags else {}),  # absent when none: no existing job's name changes
        }
        #: What the job resource sends, from the same function: all but the name it picks at deploy time.
        self.labeling_job_request = request_without_name(properties, Token.is_unresolved)
        self.job = self.job_provider = self.job_function = self.job_is_complete_function = None
        self.job_provider_log_group = self.job_waiter_log_group = None
        self.labeling_job_name: Optional[str] = None
        if create_labeling_job:
            self._add_job(log_retention, properties)

    def _function(self, construct_id: str, props: Optional[lambda_.FunctionOptions],
                  existing: Optional[lambda_.IFunction], log_retention: logs.RetentionDays,
                  wiring: Mapping[str, str], description: str) -> lambda_.IFunction:
        name = construct_id[0].lower() + "".join(f"_{c.lower()}" if c.isupper() else c for c in construct_id[1:])
        if (props is None) == (existing is None):
            raise ValueError(f"pass exactly one of {name}_function_props and existing_{name}_function")
        if existing is not None:
            if _defined_here(existing) and Stack.of(existing) is not Stack.of(self):
                raise ValueError(
                    f"existing_{name}_function ({type(existing).__name__}) is defined in stack "
                    f"{Stack.of(existing).node.path}: its environment and S3 grants name this workflow's bucket while "
                    "this workflow names the function, so the two stacks would depend on each other. Define it in this "
                    "workflow's stack, or pass it imported (lambda_.Function.from_function_attributes) and give it "
                    "the environment and access yourself.")
            configurable = _configurable_function(existing)
            if configurable is not None:
                if Stack.of(configurable) is not Stack.of(self):
                    raise ValueError(
                        f"existing_{name}_function ({type(existing).__name__}) runs a function defined in stack "
                        f"{Stack.of(configurable).node.path}: the two stacks would depend on each other. Define the "
                        "function in this workflow's stack, or pass it imported and give it the environment and "
                        "access yourself.")
                for key, value in wiring.items():
                    configurable.add_environment(key, value)
            return existing
        return least_privilege_function(
            self, construct_id, log_retention=log_retention, wired_environment=wiring,
            removal_policy=self.removal_policy,
            props=merge_props({"description": description, "memory_size": 512, "timeout": Duration.minutes(1)}, props))

    def _grant_ground_truth_access(self, derived_data_prefix: str, template_prefix: str, output_prefix: str) -> None:
        """AWS's published execution-role policy for labeling jobs (``grant_labeling_job_access``),
        scoped to this workflow: its data, derived data, template and output prefixes, its two functions."""
        grant_labeling_job_access(self.execution_role, self.input_bucket,
                                  read_prefixes=(derived_data_prefix, template_prefix), output_prefix=output_prefix,
                                  grant_invoke=self.grant_invoke_workflow_functions)

    def _add_job(self, log_retention: logs.RetentionDays, properties: dict) -> None:
        code = own_folder_code(_JOB_RESOURCE_CODE)

        def job_function(construct_id: str, handler: str, timeout: Duration = Duration.minutes(1)) -> lambda_.Function:
            return least_privilege_function(self, construct_id, log_retention=log_retention,
                                            removal_policy=self.removal_policy, props={
                "code": code, "handler": f"{_JOB_RESOURCE_CODE.name}.handler.{handler}", "runtime": RUNTIME,
                "timeout": timeout, "description": "Creates, watches and stops the Ground Truth labeling job"})

        # on_event tries a create refused for a role again for a while (handler.ROLE_RETRY_DELAYS: IAM propagation).
        self.job_function = job_function("JobOnEvent", "on_event", timeout=Duration.minutes(3))
        self.job_is_complete_function = job_function("JobIsComplete", "is_complete")
        self.grant_start_labeling_job(self.job_function)
        self.job_is_complete_function.add_to_role_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeLabelingJob"], resources=[self.job_arn_pattern]))
        self._acknowledge_job_wildcard(self.job_is_complete_function.role)
        self.job_provider_log_group = logs.LogGroup(self, "JobProviderLogs", retention=log_retention,
                                                    removal_policy=self.removal_policy)
        self.job_waiter_log_group = logs.LogGroup(self, "JobWaiterLogs", retention=log_retention,
                                                  removal_policy=self.removal_policy)
        self.job_provider = cr.Provider(
            self, "JobProvider",
            on_event_handler=self.job_function,
            is_complete_handler=self.job_is_complete_function,
            query_interval=Duration.seconds(30),
            total_timeout=Duration.minutes(30),
            log_group=self.job_provider_log_group,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=self.job_waiter_log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
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

    def _job_actions(self) -> list[str]:
        """What starting, watching and stopping this workflow's jobs takes. Tagging on create: SageMaker's developer
        guide ("Provide permissions for tagging SageMaker AI resources") requires sagemaker:AddTags beside a Create*
        action whose request carries Tags; the contracts this project follows say nothing of it. Asked only when
        the job has tags, and granted on this workflow's jobs only."""
        return ["sagemaker:CreateLabelingJob", "sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob",
                *(["sagemaker:AddTags"] if self.tags else [])]

    def _acknowledge_job_wildcard(self, principal: Construct) -> None:
        acknowledge(principal, f"AwsSolutions-IAM5[Resource::{nag_reference(self, self.job_arn_pattern)}]",
                    "Job names are chosen at deploy time, one per configuration and generation; every one starts "
                    "with this workflow's job key, a digest of its stack name and construct path, so the wildcard "
                    "matches only this workflow's jobs, in no other stack or environment.")

    def _acknowledge_scoped_wildcards(self, template_prefix: str) -> None:
        data = self.input_bucket.data_prefix
        grants = {
            self.pre_labeling_function.role: (data, self.derived_data_prefix),
            self.consolidation_function.role: (self.output_prefix, self.task_records_prefix,
                                               *self.consolidation_write_prefixes),
            self.execution_role: (data, self.derived_data_prefix, template_prefix, self.output_prefix),
        }
        grants.pop(None, None)  # an existing function whose role this app does not know got no grant here
        for role, prefixes in grants.items():
            for prefix in prefixes:
                self.input_bucket.acknowledge_prefix_wildcard(
                    role, prefix, f"Object access is limited to the workflow's {prefix} prefix; the objects under "
                                  "it (data, derived files, templates, task records or job output) are named per "
                                  "deployment, data object or job, so they cannot be listed one by one.")
        acknowledge_execution_role(self.execution_role, self.input_bucket)

    # -- grants ------------------------------------------------------------------------------
    def grant_invoke_workflow_functions(self, grantee: iam.IGrantable) -> iam.Grant:
        """lambda:InvokeFunction on exactly the pre-labeling and consolidation functions."""
        # Function.grant_invoke would add "<arn>:*" (every version); Ground Truth calls the bare ARN.
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["lambda:InvokeFunction"],
            resource_arns=[self.pre_labeling_function.function_arn, self.consolidation_function.function_arn])

    def grant_read_output(self, grantee: iam.IGrantable, *, acknowledge_prefix_wildcard: bool = True) -> iam.Grant:
        """Read the job's output: labels, raw answers, output manifest. s3:GetObject on the output prefix, and
        s3:ListBucket limited to keys under it: raw answers are under keys named by iteration, object and timestamp,
        found only by listing. The grant on ``output/*`` is cdk-nag's AwsSolutions-IAM5 finding on the grantee's
        policy; it is acknowledged there (the grant is scoped to the workflow's output prefix) unless
        ``acknowledge_prefix_wildcard`` is False."""
        grant = self.input_bucket.grant_read_prefix(grantee, self.output_prefix).combine(
            self.input_bucket.grant_list_prefixes(grantee, [self.output_prefix]))
        if acknowledge_prefix_wildcard:
            self.input_bucket.acknowledge_grant_wildcard(
                grantee, self.output_prefix,
                f"Read access is limited to the labeling workflow's output prefix {self.output_prefix}; Ground Truth "
                "names the objects under it by job, iteration and data object, so they cannot be listed one by one.")
        return grant

    def grant_start_labeling_job(self, grantee: iam.IGrantable, *, acknowledge_name_wildcard: bool = True
                                 ) -> iam.Grant:
        """Start, describe and stop this workflow's labeling jobs, e.g. a job sent by hand from
        ``labeling_job_request`` (with ``create_labeling_job=False``, or another batch): sagemaker:CreateLabelingJob,
        DescribeLabelingJob and StopLabelingJob (and AddTags when the workflow has ``tags``) on ``job_arn_pattern``
        only, so the grantee may start only jobs named ``<job_name_key>-...``, the names this workflow's job
        functions and its expert review act on; and iam:PassRole on the execution role, to SageMaker only. The
        grant on ``<key>-*`` is cdk-nag's AwsSolutions-IAM5 finding on the grantee's policy; it is acknowledged
        there unless ``acknowledge_name_wildcard`` is False."""
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=self._job_actions(),
                                           resource_arns=[self.job_arn_pattern])
        # CreateLabelingJob passes the execution role to SageMaker, and only to SageMaker.
        grant = grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["iam:PassRole"], resource_arns=[self.execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        principal = grantee.grant_principal
        if acknowledge_name_wildcard and Construct.is_construct(principal):  # a role, user or group of this app
            self._acknowledge_job_wildcard(principal)
        return grant


def job_arn_pattern(scope: Construct, key: str) -> str:
    """The ARNs of the labeling jobs named ``<key>-...`` in ``scope``'s account and region. SageMaker spells
    labeling-job ARNs in lower case; the keys and the names are lower case."""
    return Stack.of(scope).format_arn(service="sagemaker", resource="labeling-job", resource_name=f"{key}-*")


def _defined_here(function: lambda_.IFunction) -> bool:
    """Whether ``function`` is a resource of this app (a Function, Alias, Version, SingletonFunction), not imported."""
    return Resource.is_owned_resource(function) or isinstance(function, lambda_.SingletonFunction)


def _configurable_function(function: lambda_.IFunction):
    """What takes the wired environment: the function itself (a Function, a SingletonFunction), or the Function an
    Alias or Version runs; None for anything imported (its owner configures it)."""
    if isinstance(function, (lambda_.Function, lambda_.SingletonFunction)):
        return function
    if isinstance(function, (lambda_.Alias, lambda_.Version)):
        underlying = function.lambda_
        if isinstance(underlying, (lambda_.Function, lambda_.SingletonFunction)):
            return underlying
    return None


def _owed_access(setting: str, bucket: ManifestBucket, reads: Sequence[str], writes: Sequence[str],
                 listed: Sequence[str]) -> str:
    """The access a function this app cannot grant needs, in words for its owner."""
    where = bucket.bucket.bucket_name
    where = "the workflow's bucket" if Token.is_unresolved(where) else f"bucket {where}"
    owed = (f"{setting} needs, on {where}, s3:GetObject on {', '.join(p + '*' for p in reads)}; s3:PutObject on "
            f"{', '.join(p + '*' for p in writes)}; s3:ListBucket with s3:prefix limited to "
            f"{', '.join(p + '*' for p in listed)}")
    if bucket.encryption_key is not None:
        owed += "; kms:Decrypt and kms:GenerateDataKey on the bucket's key"
    return owed


_JOB_NAME_PREFIX = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,29}$")


def _job_name_prefix(prefix: str) -> str:
    """Job names are "<key>-<prefix>-<8 hex>-<generation>", at most 63 characters: the prefix gets 30.

    (A longer label attribute name, the default, is shortened by the job resource.)
    """
    if not _JOB_NAME_PREFIX.match(prefix):
        raise ValueError(f"job name prefix {prefix!r} must be 1-30 letters, digits and inner hyphens")
    return prefix


def _job_name_key(scope: Construct) -> str:
    """A digest of the stack name and the construct path: stable for the resource, different per stack.

    Computed at synth from neither a setting nor a deploy-time value, so renaming any setting keeps
    it, and the IAM scope ``labeling-job/<key>-*`` with it.
    """
    stack = Stack.of(scope)
    identity = scope.node.path if Token.is_unresolved(stack.stack_name) else f"{stack.stack_name}:{scope.node.path}"
    return hashlib.sha256(identity.encode()).hexdigest()[:JOB_NAME_KEY_LENGTH]


def _checked_job_settings(label_attribute_name: str, title: str, description: str, workers: int,
                          time_limit: Duration, availability: Duration, max_concurrent: Optional[int],
                          keywords: Sequence[str], workteam_arn: str) -> dict[str, int]:
    """Fail at synth, with the prop named, on what CreateLabelingJob would reject at deploy (the job
    resource's own rules, ``job_settings``). Texts known only at deploy time are checked then."""
    try:
        for value, setting, check in ((label_attribute_name, "label_attribute_name", job_settings.label_attribute_name),
                                      (title, "task_title", job_settings.task_title),
                                      (description, "task_description", job_settings.task_description),
                                      (workteam_arn, "workteam_arn", job_settings.workteam_arn)):
            if not Token.is_unresolved(value):
                check(value, setting)
        job_settings.task_keywords(keywords, "task_keywords", deploy_time=Token.is_unresolved)
        numbers = {
            "NumberOfHumanWorkersPerDataObject": job_settings.workers_per_object(
                _known(workers, "workers_per_object"), "workers_per_object"),
            "TaskTimeLimitInSeconds": job_settings.task_time_limit_seconds(
                _seconds(time_limit, "task_time_limit"), "task_time_limit (seconds)"),
            "TaskAvailabilityLifetimeInSeconds": job_settings.task_availability_seconds(
                _seconds(availability, "task_availability_lifetime"), "task_availability_lifetime (seconds)"),
        }
        if max_concurrent is not None:
            numbers["MaxConcurrentTaskCount"] = job_settings.max_concurrent_tasks(
                _known(max_concurrent, "max_concurrent_task_count"), "max_concurrent_task_count")
    except job_settings.JobSettingError as error:
        raise ValueError(str(error)) from None
    return numbers


def check_workteam_environment(scope: Construct, workteam_arn: str, setting: str = "workteam_arn") -> None:
    """Refuse at synth a workteam of another region than the stack's, or a private one of another account (each
    compared when both are known at synth): a job's workteam is of its own region, and a private workteam of its own
    account. A vendor's workteam is the vendor's (another account)."""
    stack = Stack.of(scope)
    if Token.is_unresolved(workteam_arn):
        return
    def at_synth(value: str) -> Optional[str]:  # an environment-agnostic stack's account or region: unknown
        return None if Token.is_unresolved(value) else value

    wrong = job_settings.workteam_out_of_place(workteam_arn, at_synth(stack.account), at_synth(stack.region))
    if wrong is not None:
        what, given, own = wrong
        raise ValueError(f"{setting} {workteam_arn!r} is a workteam of {what} {given!r}, but stack "
                         f"{stack.node.path} deploys to {what} {own!r}: a labeling job can only use a workteam of "
                         "its own account and region (make the workteam there, or deploy the stack where it is)")


def _checked_tags(tags: Optional[Mapping[str, str]], setting: str = "tags") -> dict[str, str]:
    """``tags`` (key -> value) checked at synth against CreateLabelingJob's rules (values known only at deploy time
    are checked then)."""
    if tags is None:
        return {}
    try:
        return {tag["Key"]: tag["Value"] for tag in job_settings.tags(tags, setting, deploy_time=Token.is_unresolved)}
    except job_settings.JobSettingError as error:
        raise ValueError(str(error)) from None


def job_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """CreateLabelingJob's ``Tags``, in key order (the job's configuration, and so its name, does not depend on the
    order they were given in)."""
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def _known(number: int, setting: str) -> int:
    if Token.is_unresolved(number):
        raise ValueError(f"{setting} must be a number known at synth, not a deploy-time value")
    return number


def _seconds(duration: Duration, setting: str) -> int:
    # In milliseconds first: to_seconds() of 30.5 s raises jsii's own error, naming no setting.
    milliseconds = duration.to_milliseconds()
    if milliseconds % 1000:
        raise ValueError(f"{setting} must be a whole number of seconds, not {duration.to_human_string()}")
    return int(milliseconds // 1000)


def _ui_template(text: Optional[str], path: Optional[str | Path], name: Optional[str]) -> tuple[str, str]:
    """The template's text and the file name of its key, from ``ui_template`` or ``ui_template_path``."""
    if (text is None) == (path is None):
        raise ValueError("pass exactly one of ui_template (the template's text) and ui_template_path")
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"ui_template_path {path} is not a file")
        text, name = path.read_text(encoding="utf-8"), name or path.name
    if not text.strip():
        raise ValueError("the worker UI template is empty")
    name = name or DEFAULT_TEMPLATE_NAME
    if "/" in name or not name.strip():
        raise ValueError(f"ui_template_name {name!r} must be a file name")
    return text, name
