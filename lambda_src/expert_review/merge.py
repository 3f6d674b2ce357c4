"""When a review job ends: write the one final manifest.

Invoked by the EventBridge rule on the review jobs' state changes to Completed, Stopped or Failed
(``layout.REVIEW_JOB_ENDINGS``: a failed or stopped review still ends in a final manifest, the crowd's labels
where no expert answered). From the review job's
name it finds the workflow job it reviewed (``layout.crowd_job_name``), reads both output manifests
and writes the workflow job's final manifest beside its output manifest
(``<S3OutputPath><workflow job>/manifests/output/final.manifest``): every line of the workflow job's
output, in order, with the whole job's confidence the objects were routed by (``gt_common.job_confidence``),
the experts' decisions merged in by ``gt_common.review.merge_review``. An object
the experts did not answer (a task that expired) keeps the crowd's label. Writing it again gives
the same file, so a redelivered event changes nothing. Then, for each question the experts decided, the
workflow job's quality report with every worker compared with the final labels (``final_quality``).
"""
from __future__ import annotations

import logging
from typing import Any

from gt_common.configuration import configured_questions
from gt_common.output_layout import metadata_key
from gt_common.review import BY_REVIEWER, DECIDED_BY
from gt_common.s3uri import parse_s3_uri

from . import layout
from .final import Review, Reviews, final_lines
from .final_quality import write_final_reports
from .jobs import output_manifest_uri, s3_client, sagemaker_client
from .manifests import read_manifest, workflow_output_lines, write_manifest
from .settings import job_keys

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    crowd_key, review_key = job_keys()
    name = layout.job_name_of(event)
    if not name or not layout.has_key(name, review_key):
        LOG.warning("event names no review job of this workflow (%.80r); ignored", name)
        return {"ignored": name}
    if layout.status_of(event) not in (None, *layout.REVIEW_JOB_ENDINGS):
        LOG.info("review job %s is %s, not ended; nothing to merge", name, layout.status_of(event))
        return {"ignored": name}
    return merge(name, crowd_key, review_key, sagemaker_client(), s3_client())


def merge(review_job: str, crowd_key: str, review_key: str, sagemaker, s3) -> dict[str, Any]:
    review = sagemaker.describe_labeling_job(LabelingJobName=review_job)
    status = review["LabelingJobStatus"]
    if status not in layout.REVIEW_JOB_ENDINGS:
        LOG.warning("review job %s is %s according to SageMaker; nothing to merge", review_job, status)
        return {"ignored": review_job}
    crowd_job = layout.crowd_job_name(review_job, crowd_key, review_key)
    crowd = sagemaker.describe_labeling_job(LabelingJobName=crowd_job)
    reviews = read_reviews(s3, review) if status == "Completed" else reviews_of_ended(s3, review, status)
    final = layout.final_manifest(crowd)
    questions = configured_questions()
    lines = workflow_output_lines(s3, crowd, questions)  # as the objects were routed: the same numbers
    known = {line.number for line in lines}
    for number in sorted(set(reviews) - known):  # a review line naming no line of the crowd's output manifest
        LOG.error("review of output manifest line %d: the crowd's output manifest has no such line (%d lines); "
                  "the review is not used", number, len(lines))
    merged = list(final_lines(lines, crowd["LabelAttributeName"], questions, reviews))
    count = write_manifest(s3, final, merged)
    routed = len(known & set(reviews))  # reviews of lines the crowd's manifest has
    metadata = metadata_key(crowd["LabelAttributeName"])
    decided = sum(1 for line in merged if isinstance(line, dict) and isinstance(line.get(metadata), dict)
                  and line[metadata].get(DECIDED_BY) == BY_REVIEWER)  # what was merged, not what was sent
    LOG.info("job %s: final manifest %s written (%d lines, %d of %d routed objects decided by experts)", crowd_job,
             final.uri, count, decided, routed)
    folder = layout.job_folder(crowd)
    reports = write_final_reports(s3, folder.bucket, folder.key, merged, crowd["LabelAttributeName"], questions)
    return {"finalManifest": final.uri, "routed": routed, "decided": decided,
            "finalQualityReports": reports, **({} if status == "Completed" else {"reviewJobStatus": status})}


def reviews_of_ended(s3, review: dict[str, Any], status: str) -> Reviews:
    """The reviews of a review job that failed or was stopped: none of a failed job's; a stopped job's as far as
    its output manifest holds them (Ground Truth writes the objects finished before the stop), else none. Every
    object without one keeps the crowd's label in the final manifest."""
    if status == "Stopped":
        try:
            reviews = read_reviews(s3, review)
        except ValueError as error:  # no output manifest named (LabelingJobOutput), or none to read
            LOG.warning("review job %s was stopped and its output manifest cannot be read (%s): the final manifest "
                        "keeps the crowd's labels", review["LabelingJobName"], error)
            return {}
        LOG.warning("review job %s was stopped: the final manifest takes the %d reviews it finished, the crowd's "
                    "labels elsewhere", review["LabelingJobName"], len(reviews))
        return reviews
    LOG.error("review job %s %s (%s): the final manifest keeps the crowd's labels", review["LabelingJobName"],
              status.lower(), review.get("FailureReason", "no reason given"))
    return {}


def read_reviews(s3, review: dict[str, Any]) -> Reviews:
    """Line number of the workflow job's output -> its review, from the review job's output manifest
    (each line the review manifest line it was made from, plus the experts' label)."""
    attribute = review["LabelAttributeName"]
    lines = read_manifest(s3, parse_s3_uri(output_manifest_uri(review), what="review output manifest"),
                          "review output manifest")
    reviews: Reviews = {}
    for line in lines:
        value = line.value or {}
        about, label = value.get(layout.REVIEW_FIELD), value.get(attribute)
        if not isinstance(about, dict) or isinstance(about.get("object"), bool) or not isinstance(about.get("object"), int):
            LOG.error("review output line %d names no object of the workflow job; skipped", line.number)
            continue
        reasons: Any = tuple(r for r in about.get("reasons") or () if isinstance(r, str))
        questions = about.get("questions")
        if isinstance(questions, dict) and questions:  # per question (lines written before had the list only)
            reasons = {name: tuple(r for r in given if isinstance(r, str)) for name, given in questions.items()
                       if isinstance(name, str) and isinstance(given, list)}
        decision = label.get("decision") if isinstance(label, dict) else None  # None: no expert answered
        reviewer = label.get("reviewer") if isinstance(label, dict) and isinstance(label.get("reviewer"), str) else None
        reviews[about["object"]] = Review(reasons, decision if isinstance(decision, dict) and decision else None,
                                          reviewer)
    return reviews
