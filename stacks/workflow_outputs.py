"""The stack outputs every workflow stack exposes, named the same in each."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack

from labeling_constructs import CustomLabelingWorkflow, ManifestBucket


def add_workflow_outputs(stack: Stack, data: ManifestBucket, workflow: CustomLabelingWorkflow) -> None:
    """``BucketName``, ``ManifestUri``, ``OutputUri`` and, when the job is created, ``LabelingJobName``."""
    CfnOutput(stack, "BucketName", value=data.bucket.bucket_name)
    CfnOutput(stack, "ManifestUri", value=data.manifest_s3_uri)
    CfnOutput(stack, "OutputUri", value=workflow.output_s3_uri)
    if workflow.labeling_job_name:
        CfnOutput(stack, "LabelingJobName", value=workflow.labeling_job_name)
