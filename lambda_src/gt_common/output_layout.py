"""Where things are in a labeling job's output folder (``<S3OutputPath><job name>/``), for the functions and the
local runner alike. Ground Truth's own: ``annotations/worker-response/`` (``WORKER_RESPONSES``); this project's:
the consolidation function's quality reports (``QUALITY_REPORTS``) and, once experts decided, the reports against
the final labels (``FINAL_QUALITY_REPORTS``, beside them). The final manifest's place is ``gt_common.review``'s."""
from __future__ import annotations

from typing import Any

from . import strict_json

#: Beside a manifest line's label (under the job's label attribute), Ground Truth writes its metadata (the job's
#: name, the time, ...) under the attribute with this suffix.
METADATA_SUFFIX = "-metadata"
#: Where Ground Truth points the consolidation function (its event's ``outputConfig``): the job's annotations.
ANNOTATIONS = "annotations/"
#: The folder of a job's only iteration, in each of Ground Truth's folders under ``ANNOTATIONS`` (a custom workflow's
#: job has one iteration).
ITERATION = "iteration-1/"
#: Ground Truth's raw answers: a folder per data object (its line number in the manifest), a file per answer.
WORKER_RESPONSES = f"{ANNOTATIONS}worker-response/{ITERATION}"
#: The consolidation requests' payload files, one per batch.
CONSOLIDATION_REQUESTS = f"{ANNOTATIONS}consolidated-annotation/consolidation-request/{ITERATION}"
#: What each batch's consolidation gave (the local runner: a file per batch).
INTERMEDIATE = f"{ANNOTATIONS}intermediate/{ITERATION}"
#: Where Ground Truth writes the job's output manifest (and this project its final manifest, ``gt_common.review``).
OUTPUT_MANIFESTS = "manifests/output/"
#: Ground Truth's output manifest: the input lines, each with its label and the label's metadata.
OUTPUT_MANIFEST = f"{OUTPUT_MANIFESTS}output.manifest"
#: The consolidation function's quality report of each question, rebuilt at every batch (``gt_common.job_quality``).
QUALITY_REPORTS = "quality-report/"
#: Each question's report with workers compared with the final labels (the experts' decisions in).
FINAL_QUALITY_REPORTS = "final-quality-report/"


def metadata_key(label_attribute: str) -> str:
    """The key of a manifest line's label metadata: ``<label attribute>-metadata``."""
    return f"{label_attribute}{METADATA_SUFFIX}"


def _folder(job_folder: str) -> str:
    if job_folder and not job_folder.endswith("/"):
        raise ValueError(f"a job's output folder ends with '/', not {job_folder!r}")
    return job_folder


def quality_report_key(job_folder: str, question: str) -> str:
    return f"{_folder(job_folder)}{QUALITY_REPORTS}{question}.json"


def final_quality_report_key(job_folder: str, question: str) -> str:
    return f"{_folder(job_folder)}{FINAL_QUALITY_REPORTS}{question}.json"


def worker_responses_prefix(job_folder: str, object_number: int) -> str:
    """The folder of one data object's answers."""
    return f"{_folder(job_folder)}{WORKER_RESPONSES}{int(object_number)}/"


def worker_response_answers(body: bytes) -> list[dict[str, Any]]:
    """The answers of a stored worker-response file (``{"answers": [{"workerId", "answerContent", ...}]}``);
    ValueError saying what is wrong."""
    stored = strict_json.loads(body)
    answers = stored.get("answers") if isinstance(stored, dict) else None
    if not isinstance(answers, list) or not answers:
        raise ValueError('is not a worker-response file ({"answers": [...]})')
    for answer in answers:
        if not (isinstance(answer, dict) and isinstance(answer.get("workerId"), str)
                and isinstance(answer.get("answerContent"), dict)):
            raise ValueError("holds an answer without a workerId and an answerContent object")
        if not isinstance(answer.get("submissionTime", ""), str):
            raise ValueError("holds an answer whose submissionTime is not a time (an ISO 8601 text)")
    return answers
