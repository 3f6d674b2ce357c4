"""The job's quality reports, as the consolidation Lambda wrote them, printed and drawn as PNGs.

The Lambda rebuilds ``<job>/quality-report/<question>.json`` at every batch (see
``lambda_src/gt_common/job_quality.py``); this reads them back from the job's bucket.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gt_common.s3uri import S3_SCHEME, InputError, parse_s3_uri
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


def main(argv: list[str] | None = None) -> int:
    """``python -m local_ground_truth.quality REPORT [--png PATH]``: draw a deployed job's report.

    REPORT is ``s3://<output>/<job>/quality-report/<question>.json`` (read with the usual AWS
    credentials) or a local copy; the PNG goes beside a local file, or to ``--png``.
    """
    import argparse
    import sys

    import boto3

    parser = argparse.ArgumentParser(prog="python -m local_ground_truth.quality", description=main.__doc__.splitlines()[0])
    parser.add_argument("report", help="s3:// URI or path of a quality-report JSON")
    parser.add_argument("--png", type=Path, help="where to write the PNG (default: beside the report, or ./<name>.png)")
    args = parser.parse_args(argv)
    if args.report.startswith(S3_SCHEME):
        try:
            location = parse_s3_uri(args.report, what="the report")
        except InputError as error:
            parser.error(str(error))
        body = boto3.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        default_png = Path(location.key.rsplit("/", 1)[-1]).with_suffix(".png")
    else:
        path = Path(args.report)
        if not path.is_file():
            parser.error(f"{path} does not exist")
        body = path.read_bytes()
        default_png = path.with_suffix(".png")
    try:
        report = json.loads(body)
    except ValueError as error:
        print(f"{args.report} is not a quality report (invalid JSON: {error})", file=sys.stderr)
        return 2
    print(format_quality_report(report))
    print(f"saved {render_quality_report(report, args.png or default_png)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
