"""WorkflowStack: one labeling workflow, built from its definition (``workflows/<name>.py``).

Every workflow gets the same stack: a ``ManifestBucket`` holding the definition's sample data (its
truth file stays out) and a ``CustomLabelingWorkflow`` made of the definition's pre-labeling
package, its consolidation package (the generic one unless it plugs in its own), its worker
template with the labels of its questions filled in, and its task settings; the environment adds
how many workers answer, the default consolidation method, the removal policy (of the buckets, the
log groups and the review's dead-letter queue) and whether the job is created. Nothing here names a
workflow.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from workflows.model import HIDDEN_FILES, MANIFEST_FILE, TRUTH_FILE, LambdaPackage, WorkflowDefinition  # first: puts gt_common on the path

from gt_common.questions import METHOD_ENV  # noqa: E402
from gt_common.questions import QUESTIONS_ENV, questions_to_json  # noqa: E402
from gt_common.review import FINAL_MANIFEST, REVIEW_SETTINGS_OUTPUT  # noqa: E402
from labeling_constructs import CustomLabelingWorkflow, ExpertReview, ManifestBucket, package_function_props  # noqa: E402

from .environment_config import EnvironmentConfig
from .outputs import JOB_REQUEST_OUTPUT, WORKFLOW_NAME_OUTPUT


class WorkflowStack(Stack):
    """One workflow's stack; ``data_dir``: a folder of data to label instead of the definition's sample data (laid
    out as it is: a ``manifest.jsonl`` and the files it names; its truth file stays out too). Outputs: ``WorkflowName``, ``BucketName``, ``ManifestUri``, ``OutputUri``,
    ``LabelingJobRequest`` (CreateLabelingJob's request as JSON, all but ``LabelingJobName``: with
    ``createLabelingJob: false``, add a name and send it with the AWS CLI), ``ReviewSettings`` (the
    environment's expert review, ``{"enabled", "threshold", "routeAnyAbstention"}``: the local runner
    reads it), ``JobNameKey`` (what a labeling job's name starts with, then ``-``, for the expert review to see it)
    and, when the job is created, ``LabelingJobName``; with review on, ``ReviewUri`` (where the
    review manifests go; a job's final manifest is beside its output manifest, under ``OutputUri``).

    With the environment's ``review`` on, an ``ExpertReview`` (``lambda_src/expert_review``, the
    template ``ui_templates/expert_review.liquid.html``) chains a review job on the experts' workteam
    to the workflow's job; off (dev's default), the stack has none of its resources."""

    #: The review functions' package and template (one for every workflow).
    REVIEW_PACKAGE = "expert_review"
    REVIEW_TEMPLATE = "expert_review.liquid.html"

    def __init__(self, scope: Construct, construct_id: str, *, definition: WorkflowDefinition,
                 config: EnvironmentConfig, workteam_arn: str, expert_workteam_arn: Optional[str] = None,
                 data_dir: Optional[Path] = None, **kwargs) -> None:
        super().__init__(scope, construct_id, env=config.cdk_environment,
                         description=f"Ground Truth custom labeling workflow {definition.name}: {definition.title}",
                         **kwargs)
        self.definition = definition
        if data_dir is not None and not (data_dir / MANIFEST_FILE).is_file():
            raise ValueError(f"environment {config.name!r}: the data of {definition.name}, {data_dir}, is not a folder "
                             f"with a {MANIFEST_FILE} (lay it out as sample_data/{definition.name}/ is)")
        self.data = ManifestBucket(
            self, "Data",
            sample_data_dir=data_dir or definition.sample_data_dir,
            data_prefix=definition.data_prefix,
            manifest_file=MANIFEST_FILE,
            exclude=[TRUTH_FILE, HIDDEN_FILES],  # the known answers stay out of the labeling bucket, as do hidden files
            removal_policy=config.removal_policy,
        )
        self.workflow = CustomLabelingWorkflow(
            self, "Workflow",
            input_bucket=self.data,
            workteam_arn=workteam_arn,
            label_attribute_name=definition.label_attribute_name,
            task_title=definition.title,
            task_description=definition.description,
            task_keywords=definition.keywords,
            ui_template=definition.worker_template(),
            ui_template_name=definition.template_path.name,
            pre_labeling_function_props=_function_props(definition.pre_labeling),
            consolidation_function_props=_function_props(definition.consolidation, {
                QUESTIONS_ENV: questions_to_json(definition.questions),
                METHOD_ENV: config.consolidation_method,
            }),
            workers_per_object=config.workers_per_object,
            task_time_limit=Duration.seconds(definition.task_time_limit_seconds),
            derived_data_prefix=definition.derived_data_prefix,
            create_labeling_job=config.create_labeling_job,
            removal_policy=config.removal_policy,
        )
        self.review: Optional[ExpertReview] = None
        if config.review.enabled:
            if not expert_workteam_arn:
                raise ValueError(f"environment {config.name!r}: review is on but no experts' workteam was given")
            self.review = self._expert_review(config, expert_workteam_arn)
        self._add_outputs(config)

    def _expert_review(self, config: EnvironmentConfig, expert_workteam_arn: str) -> ExpertReview:
        questions = {QUESTIONS_ENV: questions_to_json(self.definition.questions)}

        def props(entry_point: str, **sizes):
            return package_function_props(self.REVIEW_PACKAGE, handler=f"handler.{entry_point}", environment=questions,
                                          **sizes)

        return ExpertReview(
            self, "ExpertReview",
            workflow=self.workflow,
            workteam_arn=expert_workteam_arn,
            threshold=config.review.threshold,
            route_any_abstention=config.review.route_any_abstention,
            # Memory and timeout are the construct's (start and merge read a whole output manifest, up to 100,000
            # lines, and write one), but for the review page's pre-labeling, which handles one object.
            start_function_props=props("on_workflow_job_completed"),
            merge_function_props=props("on_review_job_completed"),
            task_function_props=props("review_task", memory_size=256, timeout=Duration.seconds(30)),
            decision_function_props=props("review_decision"),
            ui_template_path=self.definition.template_path.parent / self.REVIEW_TEMPLATE,
            removal_policy=config.removal_policy,
        )

    def _add_outputs(self, config: EnvironmentConfig) -> None:
        workflow = self.workflow
        CfnOutput(self, WORKFLOW_NAME_OUTPUT, value=self.definition.name, description="The workflow's definition")
        CfnOutput(self, "BucketName", value=self.data.bucket.bucket_name)
        CfnOutput(self, "ManifestUri", value=self.data.manifest_s3_uri)
        CfnOutput(self, "OutputUri", value=workflow.output_s3_uri)
        CfnOutput(self, JOB_REQUEST_OUTPUT, value=self.to_json_string(workflow.labeling_job_request),
                  description="CreateLabelingJob's request for this workflow, all but LabelingJobName")
        CfnOutput(self, "JobNameKey", value=workflow.job_name_key,
                  description="What a labeling job's name must start with, then '-', for the expert review to see it "
                              "(and the job functions to reach it)")
        if workflow.labeling_job_name:
            CfnOutput(self, "LabelingJobName", value=workflow.labeling_job_name)
        CfnOutput(self, REVIEW_SETTINGS_OUTPUT, value=json.dumps(config.review.as_json(), sort_keys=True),
                  description="Expert review of what the crowd could not settle: on or off, the threshold, "
                              "whether any abstention routes")
        if self.review:
            CfnOutput(self, "ReviewUri", value=self.review.review_s3_uri,
                      description="Review manifests and the review jobs' output; each job's final manifest is "
                                  f"<OutputUri><job>/{FINAL_MANIFEST}")


def _function_props(package: LambdaPackage, environment: Mapping[str, str] | None = None):
    return package_function_props(
        package.package,
        handler=package.handler,
        memory_size=package.memory_mb,
        timeout=Duration.seconds(package.timeout_seconds),
        environment={**package.environment, **(environment or {})},
    )
