"""ExpertReview: a review labeling job for what a workflow's crowd could not settle, chained to the
workflow's job by EventBridge, and one final manifest."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .custom_labeling_workflow import (
    CustomLabelingWorkflow, _checked_job_settings, _checked_tags, _job_name_key, _ui_template, check_workteam_environment,
    job_arn_pattern, job_tags,
)
from .bucket_layout import REVIEW_PREFIX
from .ground_truth_access import acknowledge_execution_role, grant_labeling_job_access, upload_template
from .labeling_job_resource.naming import KEY_PROPERTY
from .labeling_job_resource.request import request_without_name
from .lambda_dependencies import import_lambda_src
from .lambda_function import least_privilege_function, merge_props
from .nag import acknowledge, nag_reference

import_lambda_src()
from gt_common.output_layout import FINAL_QUALITY_REPORTS, WORKER_RESPONSES  # noqa: E402
from gt_common.review import FINAL_MANIFEST, ReviewSettings  # noqa: E402
from expert_review.layout import REVIEW_JOB_ENDINGS, REVIEW_MANIFEST  # noqa: E402
# The variables the construct sets on its functions, named as the functions read them. A caller's environment cannot
# replace them.
from expert_review.settings import (  # noqa: E402
    CROWD_JOB_KEY_ENV, REVIEW_JOB_KEY_ENV, REVIEW_REQUEST_ENV, REVIEW_URI_ENV, RULE_SETTINGS_ENV,
)

#: The event Ground Truth publishes when a labeling job's status changes (source ``aws.sagemaker``).
JOB_STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
#: Under the review prefix, where the review jobs write their output (their S3OutputPath).
JOBS_FOLDER = "jobs/"
DEFAULT_TEMPLATE_NAME = "expert-review.liquid.html"
#: The start and merge functions' memory: room for a 100,000-object job's output manifest of spans and free text
#: (one of 12 spans and a short text an object peaked at 1.6 GB) with some to spare; each runs once a job.
ASYNCHRONOUS_MEMORY_MB = 3072


class ExpertReview(Construct):
    """Expert review of a ``CustomLabelingWorkflow``'s uncertain objects, on AWS.

    When one of the workflow's jobs completes, Ground Truth publishes a "SageMaker Ground Truth
    Labeling Job State Change" event (status ``Completed``). A rule matching only this workflow's
    jobs (their ARNs start with ``labeling-job/<workflow.job_name_key>-``) invokes the start
    function: it reads the job's output manifest, selects the objects the review rule routes, writes a
    review manifest under ``review_prefix`` and creates a review labeling job on the experts' workteam
    (or, when nothing needs review, writes the final manifest at once). A second rule, on the review
    jobs' completion (their names start with ``review_job_key``), invokes the merge function, which
    writes the one final manifest beside the workflow job's Ground Truth output manifest,
    ``<workflow output prefix><workflow job>/manifests/output/final.manifest`` (``gt_common.review``'s
    layout, the local runner's too). A redelivered event adopts the review job the first delivery made
    (its name derives from the workflow job's).

    Props (keyword):

    - ``workflow`` (``CustomLabelingWorkflow``, required): the workflow whose jobs are reviewed; its
      bucket holds the review's files too.
    - ``workteam_arn`` (required): the experts' workteam (e.g. ``PrivateWorkteam.add_workteam``'s, or
      any existing workteam's ARN).
    - ``threshold`` (required, 0-1): objects under this confidence go to review.
    - ``route_any_abstention`` (False): any abstention sends its object to review; by default an
      abstention routes only through the confidence it lowers (or when it is the label).
    - The four functions, each ``lambda_.FunctionProps`` (``code``, ``handler``, ``runtime``; any
      other field over the defaults of ``lambda_function``: a role of its own, its own log group,
      512 MB, one minute; the start and merge functions ``ASYNCHRONOUS_MEMORY_MB`` and five minutes, as they hold a job's whole
      output manifest, their failed events kept in ``dead_letter_queue``. A ``memory_size`` or ``timeout`` the props
      carry replaces the default: ``package_function_props`` sets neither unless asked):
      ``start_function_props`` (on the workflow job's completion),
      ``task_function_props`` (the review job's pre-labeling), ``decision_function_props`` (its
      consolidation), ``merge_function_props`` (on the review job's completion). Their environment
      must name the workflow's questions (the caller's, e.g. ``WORKFLOW_QUESTIONS``); the construct
      adds ``CROWD_JOB_KEY``, ``REVIEW_JOB_KEY``, ``REVIEW_SETTINGS`` (the threshold and
      ``route_any_abstention`` as ``gt_common.review.ReviewSettings`` JSON), ``REVIEW_S3_URI`` and
      ``REVIEW_JOB_REQUEST`` to the start and merge functions.
    - ``ui_template`` (text) or ``ui_template_path``: the review page; ``ui_template_name``.
    - ``label_attribute_name`` (``expert-review``), ``task_title``, ``task_description``,
      ``task_keywords``, ``reviewers_per_object`` (1), ``task_time_limit`` (30 minutes),
      ``task_availability_lifetime`` (10 days): the review job's settings, checked at synth as the
      workflow's are.
    - ``review_prefix`` (``review/``): review manifests, and the review jobs' output under
      ``<review_prefix>jobs/``.
    - ``dead_letter_queue`` (an ``sqs.IQueue``; default: an encrypted queue, TLS only, 14 days):
      events the rules could not deliver and invocations that failed after Lambda's retries.
    - ``log_retention`` (one year); ``removal_policy`` (``RETAIN``; ``DESTROY`` deletes them with the stack) of the
      log groups and the dead-letter queue made here, and asked of the stack's log group of CDK's ``BucketDeployment``
      handler, which the template deployment shares (``cdk_function_logs``).
    - ``existing_execution_role`` (an ``iam.IRole``; default: one made here): the review jobs' role, as
      ``CustomLabelingWorkflow``'s (it must trust ``sagemaker.amazonaws.com``; the review's access is added to it,
      and the start function may pass it to SageMaker only). It may be the workflow's own.
    - ``tags`` (key -> value; default: the workflow's ``tags``, ``{}`` for none): the review jobs' tags
      (CreateLabelingJob ``Tags``; the start function is then allowed ``sagemaker:AddTags`` on the review jobs).

    Exposes: ``start_function``, ``task_function``, ``decision_function``, ``merge_function``,
    ``execution_role`` (the review jobs'), ``workflow_completed_rule``, ``review_completed_rule``,
    ``dead_letter_queue``, ``dead_letter_alarm`` (in alarm while the queue holds anything; no action: add
    yours), ``template_deployment``, ``deployment_log_group`` (its handler's, the stack's), ``ui_template_s3_uri``,
    ``review_job_key``,
    ``review_s3_uri``, ``review_job_request`` (CreateLabelingJob's request for a review job, all but the
    name and the manifest), ``final_manifests_pattern`` (the final manifests' keys, a pattern),
    ``final_reports_pattern`` (the folders of the quality reports against the final labels),
    ``review_manifests_pattern`` (the review manifests' keys, which only the start function writes). Grants:
    ``grant_invoke_review_functions``, ``grant_read_final_manifests``, ``grant_read_final_quality_reports``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: CustomLabelingWorkflow,
        workteam_arn: str,
        threshold: float,
        route_any_abstention: bool = False,
        start_function_props: lambda_.FunctionOptions,
        task_function_props: lambda_.FunctionOptions,
        decision_function_props: lambda_.FunctionOptions,
        merge_function_props: lambda_.FunctionOptions,
        ui_template: Optional[str] = None,
        ui_template_path: Optional[str | Path] = None,
        ui_template_name: Optional[str] = None,
        label_attribute_name: str = "expert-review",
        task_title: str = "Review labels the crowd could not settle",
        task_description: str = "See the object, every answer of the crowd and its label; decide the right label.",
        task_keywords: Sequence[str] = ("review",),
        reviewers_per_object: int = 1,
        task_time_limit: Duration = Duration.minutes(30),
        task_availability_lifetime: Duration = Duration.days(10),
        review_prefix: str = REVIEW_PREFIX,
        dead_letter_queue: Optional[sqs.IQueue] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        tags: Optional[Mapping[str, str]] = None,
        existing_execution_role: Optional[iam.IRole] = None,
        removal_policy: Optional[RemovalPolicy] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        #: Of the log groups and the dead-letter queue made here.
        self.removal_policy = RemovalPolicy.RETAIN if removal_policy is None else removal_policy
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ValueError(f"threshold {threshold!r} must be a number above 0 and at most 1")
        if not isinstance(route_any_abstention, bool):
            raise ValueError(f"route_any_abstention {route_any_abstention!r} must be True or False")
        rule = ReviewSettings(enabled=True, threshold=float(threshold), route_any_abstention=route_any_abstention)
        if not review_prefix.endswith("/") or review_prefix.startswith("/"):
            raise ValueError(f"review_prefix {review_prefix!r} must be relative and end with '/'")
        workflow.input_bucket.claim_prefixes(f"review {self.node.path}", {"review_prefix": review_prefix})
        numbers = _checked_job_settings(label_attribute_name, task_title, task_description, reviewers_per_object,
                                        task_time_limit, task_availability_lifetime, None, task_keywords, workteam_arn)
        check_workteam_environment(self, workteam_arn)
        #: The review jobs' tags (default: the workflow's).
        self.tags: dict[str, str] = dict(workflow.tags) if tags is None else _checked_tags(tags)
        template_text, template_name = _ui_template(ui_template, ui_template_path,
                                                    ui_template_name or (None if ui_template_path else DEFAULT_TEMPLATE_NAME))
        stack = Stack.of(self)
        bucket = workflow.input_bucket
        self.workflow = workflow
        self.review_prefix = review_prefix
        self.jobs_prefix = f"{review_prefix}{JOBS_FOLDER}"
        self.review_s3_uri = bucket.s3_uri(review_prefix)
        self.review_job_key = _job_name_key(self)
        if self.review_job_key == workflow.job_name_key:  # two digests of different paths: never, but be sure
            raise ValueError("the review job key must differ from the workflow's")

        self.dead_letter_queue = dead_letter_queue or sqs.Queue(
            self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14), removal_policy=self.removal_policy)
        # A review that never started or a final manifest never written sits in the queue without a word until it
        # expires: the alarm says so (add an action to be told, e.g. an SNS topic: dead_letter_alarm.add_alarm_action).
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLettersAlarm",
            alarm_description="An expert-review event or invocation failed after its retries: see the dead-letter "
                              "queue and the start and merge functions' logs",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"),
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)

        # -- the review job's own functions and its execution role ---------------------------------
        self.task_function = self._function("TaskFunction", task_function_props, log_retention, {},
                                            "Expert review pre-labeling: what the review page shows of one object")
        self.decision_function = self._function("DecisionFunction", decision_function_props, log_retention, {},
                                                "Expert review consolidation: the experts' answers, passed through")
        # It shows the files a data object's JSON source names (a dataset listing an image and a CSV); its review
        # manifest line comes in the event, so it reads no manifest.
        bucket.grant_read_prefix(self.task_function, bucket.data_prefix)
        bucket.grant_list_prefixes(self.task_function, [bucket.data_prefix])
        # It reads the consolidation payload and the experts' raw answers under the review jobs' output.
        bucket.grant_read_prefix(self.decision_function, self.jobs_prefix)
        bucket.grant_list_prefixes(self.decision_function, [self.jobs_prefix])

        self.template_deployment, self.ui_template_s3_uri, self.deployment_log_group = upload_template(
            self, "UiTemplate", bucket, workflow.template_prefix, template_text, template_name, log_retention,
            self.removal_policy)
        # Trust as the workflow's execution role: no condition Ground Truth is not documented to meet.
        self.execution_role: iam.IRole = existing_execution_role or iam.Role(
            self, "ExecutionRole", description="Ground Truth execution role of one workflow's expert review jobs",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        # Experts see the data objects (presigned with this role) and read the review manifest; the crowd job's
        # input manifest is none of the review job's business (read_data would grant it).
        grant_labeling_job_access(self.execution_role, bucket,
                                  read_prefixes=(bucket.data_prefix, workflow.template_prefix, review_prefix),
                                  output_prefix=self.jobs_prefix, grant_invoke=self.grant_invoke_review_functions,
                                  read_data=False)
        acknowledge_execution_role(self.execution_role, bucket)

        properties = {
            KEY_PROPERTY: self.review_job_key,
            "LabelAttributeName": label_attribute_name,
            "ManifestS3Uri": self.review_s3_uri,  # replaced per job by the start function
            "OutputS3Uri": bucket.s3_uri(self.jobs_prefix),
            "RoleArn": self.execution_role.role_arn,
            "WorkteamArn": workteam_arn,
            "UiTemplateS3Uri": self.ui_template_s3_uri,
            "PreHumanTaskLambdaArn": self.task_function.function_arn,
            "AnnotationConsolidationLambdaArn": self.decision_function.function_arn,
            "TaskTitle": task_title,
            "TaskDescription": task_description,
            "TaskKeywords": list(task_keywords),
            **{key: str(value) for key, value in numbers.items()},
            **({"OutputKmsKeyId": bucket.encryption_key.key_arn} if bucket.encryption_key else {}),
            **({"Tags": job_tags(self.tags)} if self.tags else {}),
        }
        request = request_without_name(properties, Token.is_unresolved)  # the workflow job's checks and shape
        del request["InputConfig"]
        self.review_job_request = request

        # -- the two steps the events start -----------------------------------------------------------
        wiring = {
            CROWD_JOB_KEY_ENV: workflow.job_name_key,
            REVIEW_JOB_KEY_ENV: self.review_job_key,
            RULE_SETTINGS_ENV: json.dumps(rule.as_json(), sort_keys=True),
            REVIEW_URI_ENV: self.review_s3_uri,
            REVIEW_REQUEST_ENV: stack.to_json_string(request),
        }
        self.start_function = self._function(
            "StartFunction", start_function_props, log_retention, wiring,
            "Expert review: on a workflow job's completion, sends what the crowd could not settle to the experts",
            asynchronous=True)
        self.merge_function = self._function(
            "MergeFunction", merge_function_props, log_retention, wiring,
            "Expert review: on a review job's completion, writes the one final manifest", asynchronous=True)
        workflow_jobs = job_arn_pattern(self, workflow.job_name_key)
        review_jobs = job_arn_pattern(self, self.review_job_key)
        # The final manifest sits beside Ground Truth's output manifest of each workflow job: these two
        # write that one key of a job's output folder, never Ground Truth's own files.
        self.final_manifests_pattern = f"{workflow.output_prefix}*/{FINAL_MANIFEST}"
        for function in (self.start_function, self.merge_function):
            function.add_to_role_policy(iam.PolicyStatement(
                actions=["sagemaker:DescribeLabelingJob"], resources=[workflow_jobs, review_jobs]))
            bucket.grant_read_prefix(function, workflow.output_prefix)  # the workflow job's output manifest
            bucket.grant_read_prefix(function, review_prefix)
            bucket.grant_write_prefix(function, self.final_manifests_pattern)
            # Listed, so a manifest not yet written reads as missing, not as access denied.
            bucket.grant_list_prefixes(function, [review_prefix])
        # The review manifests (``<review prefix><crowd job>/review.manifest``) only: never the review jobs' output
        # under ``jobs/``, which Ground Truth writes and the merge trusts as the experts' answers.
        self.review_manifests_pattern = f"{review_prefix}*/{REVIEW_MANIFEST}"
        bucket.grant_write_prefix(self.start_function, self.review_manifests_pattern)
        # With the final manifest, the merge writes each decided question's quality report against the final labels
        # (its own folder in each job's output), reading the decided objects' answers, listed per object.
        self.final_reports_pattern = f"{workflow.output_prefix}*/{FINAL_QUALITY_REPORTS}"
        bucket.grant_write_prefix(self.merge_function, self.final_reports_pattern)
        bucket.grant_list_prefixes(self.merge_function, [f"{workflow.output_prefix}*/{WORKER_RESPONSES}"])
        # Whether a final manifest exists is asked as a listing of its key (a redelivered event).
        bucket.grant_list_prefixes(self.start_function, [self.final_manifests_pattern])
        # Tagging on create needs sagemaker:AddTags (see CustomLabelingWorkflow's job function): only with tags.
        self.start_function.add_to_role_policy(iam.PolicyStatement(
            actions=["sagemaker:CreateLabelingJob", *(["sagemaker:AddTags"] if self.tags else [])],
            resources=[review_jobs]))
        # CreateLabelingJob passes the review execution role to SageMaker, and only to SageMaker.
        self.start_function.add_to_role_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[self.execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))

        self.workflow_completed_rule = self._rule(
            "WorkflowJobCompleted", workflow.job_name_key, self.start_function,
            "A job of this workflow completed: start its expert review")
        # A review job that failed or was stopped still ends in a final manifest (the crowd's labels, with what
        # the experts answered before a stop): without one the workflow's job had none, and no way to get one.
        self.review_completed_rule = self._rule(
            "ReviewJobCompleted", self.review_job_key, self.merge_function,
            "A review job of this workflow ended: write the final manifest", REVIEW_JOB_ENDINGS)
        self._acknowledge(workflow_jobs, review_jobs)

    # -- parts ----------------------------------------------------------------------------------------
    def _function(self, construct_id: str, props: lambda_.FunctionOptions, log_retention: logs.RetentionDays,
                  wiring: Mapping[str, str], description: str, asynchronous: bool = False) -> lambda_.Function:
        defaults = {"description": description, "memory_size": 512, "timeout": Duration.minutes(1)}
        if asynchronous:  # EventBridge invokes it asynchronously: a failure after Lambda's retries is kept
            # It holds the job's whole output manifest, read with the job's confidence and written again: 100,000
            # lines peaked at 0.8 GB with one classification each (57 MB of manifest) and 1.6 GB with 12 spans, a
            # yes/no and short texts each (141 MB), measured through parse, job confidence, final lines and the
            # written body. It runs once a job.
            defaults.update(timeout=Duration.minutes(5), dead_letter_queue=self.dead_letter_queue,
                            memory_size=ASYNCHRONOUS_MEMORY_MB)
        return least_privilege_function(self, construct_id, log_retention=log_retention, wired_environment=wiring,
                                        removal_policy=self.removal_policy,
                                        props=merge_props(defaults, props))

    def _rule(self, construct_id: str, key: str, function: lambda_.IFunction, description: str,
              statuses: Sequence[str] = ("Completed",)) -> events.Rule:
        arn_prefix = Stack.of(self).format_arn(service="sagemaker", resource="labeling-job", resource_name=f"{key}-")
        return events.Rule(
            self, construct_id, description=description,
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"], detail_type=[JOB_STATE_CHANGE],
                resources=events.Match.prefix(arn_prefix),
                detail={"LabelingJobStatus": list(statuses)}),
            targets=[targets.LambdaFunction(function, dead_letter_queue=self.dead_letter_queue, retry_attempts=8,
                                            max_event_age=Duration.hours(24))])

    def _acknowledge(self, workflow_jobs: str, review_jobs: str) -> None:
        bucket = self.workflow.input_bucket
        for function in (self.start_function, self.merge_function):
            for arn in (workflow_jobs, review_jobs):
                acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{nag_reference(self, arn)}]",
                            "Labeling-job names are chosen per job; every one starts with the key of its resource "
                            "(a digest of the stack name and construct path), so the wildcard matches only this "
                            "workflow's jobs or its review jobs, in no other stack or environment.")
            for prefix in (self.workflow.output_prefix, self.review_prefix):
                bucket.acknowledge_prefix_wildcard(
                    function.role, prefix, f"Limited to the {prefix} prefix, whose objects are named per job.")
            bucket.acknowledge_prefix_wildcard(
                function.role, self.final_manifests_pattern,
                "Writes only the final manifest of a job, one fixed key in each job's output folder, whose "
                "name is chosen per job.")
        bucket.acknowledge_prefix_wildcard(
            self.start_function.role, self.review_manifests_pattern,
            "Writes only the review manifest of a job, one fixed key in a folder named after the job.")
        bucket.acknowledge_prefix_wildcard(
            self.merge_function.role, self.final_reports_pattern,
            "Writes only the quality reports against the final labels, in their own folder of each job's output "
            "folder, whose name is chosen per job.")
        bucket.acknowledge_prefix_wildcard(self.task_function.role, bucket.data_prefix,
                                           "Data objects, read for the files a JSON data object names.")
        bucket.acknowledge_prefix_wildcard(self.decision_function.role, self.jobs_prefix,
                                           "The review jobs' output, named per job and batch by Ground Truth.")
        for prefix in (bucket.data_prefix, self.workflow.template_prefix, self.review_prefix, self.jobs_prefix):
            bucket.acknowledge_prefix_wildcard(
                self.execution_role, prefix,
                f"Object access is limited to the {prefix} prefix: data objects the experts see, templates, "
                "review manifests or the review jobs' output, named per deployment, object or job.")
        acknowledge(self.dead_letter_queue, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter queue of the review rules' targets and functions.")

    # -- grants ---------------------------------------------------------------------------------------
    def grant_invoke_review_functions(self, grantee: iam.IGrantable) -> iam.Grant:
        """lambda:InvokeFunction on exactly the review job's pre-labeling and consolidation functions."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["lambda:InvokeFunction"],
            resource_arns=[self.task_function.function_arn, self.decision_function.function_arn])

    def grant_read_final_manifests(self, grantee: iam.IGrantable, *, acknowledge_prefix_wildcard: bool = True
                                   ) -> iam.Grant:
        """Read the final manifests (one per workflow job, beside its output manifest), and nothing else. The grant's
        wildcard (the job's folder) is cdk-nag's AwsSolutions-IAM5 finding on the grantee's policy; it is acknowledged
        there unless ``acknowledge_prefix_wildcard`` is False."""
        return self._grant_read(grantee, self.final_manifests_pattern, acknowledge_prefix_wildcard,
                                "Reads only the final manifest of a job, one fixed key in each job's output folder, "
                                "whose name is chosen per job.")

    def grant_read_final_quality_reports(self, grantee: iam.IGrantable, *, acknowledge_prefix_wildcard: bool = True
                                         ) -> iam.Grant:
        """Read the quality reports against the final labels (a folder in each workflow job's output), nothing else;
        acknowledged under cdk-nag as ``grant_read_final_manifests`` is."""
        return self._grant_read(grantee, self.final_reports_pattern, acknowledge_prefix_wildcard,
                                "Reads only the quality reports against the final labels, in their own folder of "
                                "each job's output folder, whose name is chosen per job.")

    def _grant_read(self, grantee: iam.IGrantable, pattern: str, acknowledge: bool, reason: str) -> iam.Grant:
        bucket = self.workflow.input_bucket
        grant = bucket.grant_read_prefix(grantee, pattern)
        if acknowledge:
            bucket.acknowledge_grant_wildcard(grantee, pattern, reason)
        return grant
