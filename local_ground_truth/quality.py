"""The job's quality reports, as the consolidation Lambda wrote them, printed and drawn as PNGs.

The Lambda rebuilds ``<job>/quality-report/<question>.json`` at every batch (see
``lambda_src/gt_common/job_quality.py``); this reads them back from the job's bucket.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local_ground_truth.job import LocalJob
from local_ground_truth.quality_plots import format_quality_report, render_quality_report

REPORT_FOLDER = "quality-report/"


def quality_reports(job: LocalJob) -> dict[str, dict[str, Any]]:
    """``{question: report}`` for every report under the job's folder."""
    reports = {}
    listing = job.s3.list_objects_v2(Bucket=job.bucket, Prefix=job.root + REPORT_FOLDER)
    for item in listing.get("Contents", []):
        if item["Key"].endswith(".json"):
            question = item["Key"].rsplit("/", 1)[1].removesuffix(".json")
            reports[question] = json.loads(job.s3.get_object(Bucket=job.bucket, Key=item["Key"])["Body"].read())
    return reports


def save_quality_reports(job: LocalJob, folder: Path, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Each report as ``<folder>/<prefix>quality-<question>.png`` and ``.json``, and its text summary.

    Returns ``{question: {"png", "json", "text", "krippendorff_alpha", "fleiss_kappa"}}``.
    """
    saved = {}
    for question, report in sorted(quality_reports(job).items()):
        png = render_quality_report(report, folder / f"{prefix}quality-{question}.png")
        data = folder / f"{prefix}quality-{question}.json"
        data.write_text(json.dumps(report, indent=2))
        agreement = report.get("agreement", {})
        saved[question] = {"png": str(png), "json": str(data),
                           "text": f"{question}\n{format_quality_report(report)}",
                           "krippendorff_alpha": agreement.get("krippendorff_alpha"),
                           "fleiss_kappa": agreement.get("fleiss_kappa")}
    return saved
