"""When a workflow job completes: send what the crowd could not settle to the experts.

Invoked by the EventBridge rule on "SageMaker Ground Truth Labeling Job State Change" (Completed)
for this workflow's jobs. It confirms the job completed (DescribeLabelingJob), reads its output
manifest, gives each label the whole job's confidence (``gt_common.job_confidence``: a batch published its
own with what the job knew then), and asks ``gt_common.review.reasons_by_question`` of each line why an
expert must see it. The objects with a reason go to a review job on the experts' workteam (one review manifest line each:
the data object's own fields, and under ``crowd-review`` its line number, the reasons, the question giving
each and the crowd's label); with none, the final manifest is written at once (every line decided by the crowd).

Safe to run again for one job (EventBridge and Lambda both may deliver an event twice): the review
job's name is derived from the workflow job's, so an existing review job is adopted, never
duplicated, and a final manifest already written is left alone. A manifest line that cannot be
read, or whose review line would be over Ground Truth's 100 KB, stays the crowd's and is logged
with its line number; it never stops the others.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

from gt_common.configuration import configured_questions
from gt_common.limits import MAX_MANIFEST_LINE_BYTES
from gt_common.output_layout import metadata_key
from gt_common.questions import Question
from gt_common.review import flat_reasons, reasons_by_question

from . import layout
from .final import final_lines
from .jobs import create_or_adopt, describe, s3_client, sagemaker_client
from .manifests import ManifestLine, dumps, exists, workflow_output_lines, write_manifest
from .settings import ReviewConfig, settings

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    config = settings()
    name = layout.job_name_of(event)
    if not name or not layout.has_key(name, config.crowd_key):
        LOG.warning("event names no job of this workflow (%.80r); ignored", name)
        return {"ignored": name}
    if layout.status_of(event) not in (None, "Completed"):
        LOG.info("job %s is %s, not Completed; nothing to review", name, layout.status_of(event))
        return {"ignored": name}
    return start_review(name, config, sagemaker_client(), s3_client())


def start_review(crowd_job: str, config: ReviewConfig, sagemaker, s3) -> dict[str, Any]:
    job = sagemaker.describe_labeling_job(LabelingJobName=crowd_job)
    if job["LabelingJobStatus"] != "Completed":
        LOG.warning("job %s is %s according to SageMaker; nothing to review", crowd_job, job["LabelingJobStatus"])
        return {"ignored": crowd_job}
    review_job = layout.review_job_name(crowd_job, config.crowd_key, config.review_key)
    final = layout.final_manifest(job)
    if describe(sagemaker, review_job) is not None:
        LOG.info("review job %s of %s exists already: adopted", review_job, crowd_job)
        return {"reviewJob": review_job, "created": False}
    if exists(s3, final, "final manifest"):
        LOG.info("final manifest %s exists already: nothing to do", final.uri)
        return {"finalManifest": final.uri, "created": False}

    label_attribute = job["LabelAttributeName"]
    questions = configured_questions()
    lines = workflow_output_lines(s3, job, questions)
    review_lines = select(lines, label_attribute, questions, config.rule.threshold,
                          route_any_abstention=config.rule.route_any_abstention)
    if not review_lines:
        count = write_manifest(s3, final, final_lines(lines, label_attribute, questions))
        LOG.info("job %s: nothing needs review; final manifest %s written (%d lines)", crowd_job, final.uri, count)
        return {"finalManifest": final.uri, "reviewed": 0}

    manifest = layout.review_manifest(config.review_location, crowd_job)
    write_manifest(s3, manifest, review_lines)
    request = {**config.request, "LabelingJobName": review_job,
               "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest.uri}}}}
    created = create_or_adopt(sagemaker, request)
    LOG.info("job %s: %d of %d objects sent to review job %s (%s)", crowd_job, len(review_lines), len(lines),
             review_job, "created" if created else "adopted")
    return {"reviewJob": review_job, "created": created, "reviewed": len(review_lines)}


def select(lines: list[ManifestLine], label_attribute: str, questions: Sequence[Question],
           threshold: float, *, route_any_abstention: bool = False) -> list[dict[str, Any]]:
    """The review manifest: one line per object an expert must see."""
    selected = []
    for line in lines:
        if line.value is None:
            continue  # logged when read; kept as it is in the final manifest
        try:
            by_question = reasons_by_question(line.value, label_attribute, questions, threshold,
                                              route_any_abstention=route_any_abstention)
            reasons = flat_reasons(by_question)
        except Exception as error:  # noqa: BLE001 - one unreadable line stays the crowd's, the rest go on
            LOG.error("output manifest line %d: cannot tell whether it needs review (%s); kept as the crowd's",
                      line.number, error)
            continue
        if not reasons:
            continue
        review_line = review_line_of(line, label_attribute, by_question)
        size = len(dumps(review_line).encode("utf-8"))
        if size > MAX_MANIFEST_LINE_BYTES:
            LOG.error("output manifest line %d needs review (%s) but its review line is %d bytes, over Ground "
                      "Truth's %d; kept as the crowd's", line.number, ", ".join(reasons), size, MAX_MANIFEST_LINE_BYTES)
            continue
        selected.append(review_line)
    return selected


def review_line_of(line: ManifestLine, label_attribute: str, by_question: dict[str, list[str]]) -> dict[str, Any]:
    """The object's own fields (its ``source``/``source-ref`` and the rest) without the crowd's label
    and metadata, which go under ``crowd-review`` with the line number, the reasons and the question giving each."""
    metadata = metadata_key(label_attribute)
    own = {key: value for key, value in line.value.items() if key not in (label_attribute, metadata)}
    return {**own, layout.REVIEW_FIELD: {"object": line.number, "reasons": flat_reasons(by_question),
                                         "questions": by_question,
                                         "label": line.value.get(label_attribute),
                                         "metadata": line.value.get(metadata)}}

