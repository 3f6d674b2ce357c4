"""Names and places, each derived from the workflow job's name so that a redelivered event finds
what the first delivery made.

- The review job of ``<crowd key>-<rest>`` is ``<review key>-<rest>``: the same length (both keys
  are digests of one length), so within CreateLabelingJob's 63 characters, and reversible, so the
  merge step finds the workflow's job from the review job's name. The keys differ, so the rule on
  the workflow's jobs never sees a review job, and each function's IAM scope is one key.
- Under the review folder (``REVIEW_S3_URI``): ``<crowd job>/review.manifest`` (the objects sent
  to review). The review jobs write where their request's ``OutputConfig`` says (the construct puts
  it in the same folder).
- The one final manifest is the workflow job's, beside its Ground Truth output manifest:
  ``<S3OutputPath><crowd job>/manifests/output/final.manifest`` (``gt_common.review.final_manifest_key``,
  where the local runner writes it too).
"""
from __future__ import annotations

from typing import Any, Optional

from gt_common.labeling_job import name_in_arn
from gt_common.review import final_manifest_key, job_output_folder
from gt_common.s3uri import S3Location, parse_s3_uri

#: The field of a review manifest line holding what the review is about:
#: ``{"object": <line number in the workflow job's output manifest>, "reasons": [...],
#: "questions": {<question>: [<reason>, ...]}, "label": {...}}`` (``questions``: absent from lines written before it).
REVIEW_FIELD = "crowd-review"
REVIEW_MANIFEST = "review.manifest"
#: The statuses a review job ends in that the merge writes the final manifest on (the rule on review jobs matches
#: them): Completed with the experts' answers; Stopped with those given before the stop; Failed with none.
REVIEW_JOB_ENDINGS = ("Completed", "Stopped", "Failed")


def job_name_of(event: dict[str, Any]) -> Optional[str]:
    """The labeling job an EventBridge state-change event is about: the ARN in ``resources`` (as
    Ground Truth's events carry it), else a ``LabelingJobArn``/``LabelingJobName`` in ``detail``; None for an event
    that is not a JSON object."""
    if not isinstance(event, dict):
        return None
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    resources = event.get("resources") if isinstance(event.get("resources"), list) else []
    for arn in [*resources, detail.get("LabelingJobArn")]:
        name = name_in_arn(arn)
        if name is not None:
            return name
    name = detail.get("LabelingJobName")
    return name if isinstance(name, str) and name else None


def status_of(event: dict[str, Any]) -> Optional[str]:
    detail = event.get("detail") if isinstance(event, dict) else None
    return detail.get("LabelingJobStatus") if isinstance(detail, dict) else None


def has_key(job_name: str, key: str) -> bool:
    return job_name.lower().startswith(f"{key}-") and len(job_name) > len(key) + 1


def review_job_name(crowd_job: str, crowd_key: str, review_key: str) -> str:
    if not has_key(crowd_job, crowd_key):
        raise ValueError(f"job {crowd_job!r} is not one of this workflow's jobs (key {crowd_key})")
    return f"{review_key}-{crowd_job[len(crowd_key) + 1:]}"


def crowd_job_name(review_job: str, crowd_key: str, review_key: str) -> str:
    if not has_key(review_job, review_key):
        raise ValueError(f"job {review_job!r} is not one of this workflow's review jobs (key {review_key})")
    return f"{crowd_key}-{review_job[len(review_key) + 1:]}"


def _under(folder: S3Location, key: str) -> S3Location:
    return S3Location(folder.bucket, f"{folder.key}{key}")


def review_manifest(folder: S3Location, crowd_job: str) -> S3Location:
    return _under(folder, f"{crowd_job}/{REVIEW_MANIFEST}")


def job_folder(crowd_job: dict[str, Any]) -> S3Location:
    """A workflow job's output folder (its DescribeLabelingJob answer): ``<S3OutputPath><job name>/``."""
    output = parse_s3_uri((crowd_job.get("OutputConfig") or {}).get("S3OutputPath"),
                          what=f"labeling job {crowd_job.get('LabelingJobName')}'s S3OutputPath", folder=True)
    return S3Location(output.bucket, job_output_folder(output.key, crowd_job["LabelingJobName"]))


def final_manifest(crowd_job: dict[str, Any]) -> S3Location:
    """The final manifest of a workflow job: in the job's output folder, beside Ground Truth's output manifest."""
    folder = job_folder(crowd_job)
    return S3Location(folder.bucket, final_manifest_key(folder.key))

