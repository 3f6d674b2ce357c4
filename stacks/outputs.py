"""The names of the outputs by which a workflow stack tells the world what it is; the local runner finds the workflow
stacks of a synthesized app by them (``local_ground_truth.stack_reader``). Imports no aws_cdk. (The expert-review
settings' output is ``gt_common.review.REVIEW_SETTINGS_OUTPUT``, which the review functions share.)"""

#: The workflow definition's name.
WORKFLOW_NAME_OUTPUT = "WorkflowName"
#: CreateLabelingJob's request for the workflow, as JSON, all but ``LabelingJobName``.
JOB_REQUEST_OUTPUT = "LabelingJobRequest"
