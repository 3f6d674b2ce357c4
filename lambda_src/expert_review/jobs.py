"""The SageMaker calls the review steps make, each safe to repeat."""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Optional

import boto3

LOG = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def sagemaker_client():
    return boto3.client("sagemaker")


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3")


def _code(error) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def describe(sagemaker, name: str) -> Optional[dict[str, Any]]:
    """DescribeLabelingJob, or None when no job has that name."""
    from botocore.exceptions import ClientError

    try:
        return sagemaker.describe_labeling_job(LabelingJobName=name)
    except ClientError as error:
        if _code(error) == "ResourceNotFound":  # DescribeLabelingJob's error for an unknown name
            return None
        raise


def create_or_adopt(sagemaker, request: dict[str, Any]) -> bool:
    """CreateLabelingJob; True if this call created it, False if a job of that name already existed
    (a redelivered event, or a concurrent delivery that got there first): it is adopted, not duplicated."""
    from botocore.exceptions import ClientError

    try:
        sagemaker.create_labeling_job(**request)
        return True
    except ClientError as error:
        if _code(error) == "ResourceInUse":
            LOG.info("review job %s already exists: adopted", request["LabelingJobName"])
            return False
        raise


def output_manifest_uri(job: dict[str, Any]) -> str:
    uri = (job.get("LabelingJobOutput") or {}).get("OutputDatasetS3Uri")
    if not uri:
        raise ValueError(f"labeling job {job.get('LabelingJobName')} has no output manifest (LabelingJobOutput)")
    return uri
