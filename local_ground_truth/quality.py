"""The job's quality reports, as the consolidation Lambda wrote them, printed and drawn as PNGs.

The Lambda rebuilds ``<job>/quality-report/<question>.json`` at every batch (see
``lambda_src/gt_common/job_quality.py``); this reads them back from the job's bucket. With expert
review on, a report is shown against the final labels (``final_report``: the experts' decisions in
place of the crowd's labels they replace), also written to the job's bucket where the review's merge on
AWS writes it (``final-quality-report/<question>.json``). Saved beside the job's folder as
``<prefix>quality-<question>.png`` and ``.json`` (``QualityReportFiles``), each redrawn only when the
Lambda rewrote its report or an expert decided, and replaced whole (written under a temporary name,
flushed to the disk, then renamed), so neither a reader nor a kill ever leaves half a file.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Optional

from gt_common.output_layout import QUALITY_REPORTS, final_quality_report_key
from gt_common.worker_agreement import with_expert_decisions
from gt_common.s3uri import S3_SCHEME, InputError, parse_s3_uri
from local_ground_truth.job import LocalJob
from local_ground_truth.quality_plots import (MULTI_SELECT_KIND, SPANS_KIND, format_quality_report, quality_report_png,
                                              render_quality_report)
from local_ground_truth.s3_store import write_atomically
from local_ground_truth.wording import counted, printable

HEADLINES = {  # what a summary of each kind of report names, from its "agreement"
    "choice": ("krippendorff_alpha", "fleiss_kappa"),
    SPANS_KIND: ("precision", "recall", "f1", "inter_worker_f1"),
}


def report_versions(job: LocalJob) -> dict[str, tuple[str, str]]:
    """``{question: (key, ETag)}`` of every report under the job's folder."""
    versions = {}
    for page in job.s3.get_paginator("list_objects_v2").paginate(Bucket=job.bucket, Prefix=job.root + QUALITY_REPORTS):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                question = item["Key"].rsplit("/", 1)[1].removesuffix(".json")
                versions[question] = (item["Key"], item.get("ETag", ""))
    return versions


def read_report(job: LocalJob, key: str) -> dict[str, Any]:
    return json.loads(job.s3.get_object(Bucket=job.bucket, Key=key)["Body"].read())


def quality_reports(job: LocalJob) -> dict[str, dict[str, Any]]:
    """``{question: report}`` for every report under the job's folder."""
    return {question: read_report(job, key) for question, (key, _etag) in report_versions(job).items()}


def final_report(report: dict[str, Any], question: str, review=None) -> dict[str, Any]:
    """The report against the final labels when experts decided objects of the question (``review``: the job's
    ``ReviewDesk``, if any), else as the Lambda wrote it."""
    if review is None or not review.enabled or report.get("kind") in (SPANS_KIND, MULTI_SELECT_KIND):
        return report
    decisions = review.expert_decisions(question)
    return with_expert_decisions(report, decisions) if decisions else report


def review_version(review) -> int:
    """What changes when an expert decides (0 without review): a report read before is shown again after."""
    return review.version if review is not None and review.enabled else 0


def convergence(report: dict[str, Any]) -> Optional[dict[str, Any]]:
    """What the report says of the worker model's fit (``job_quality``'s ``convergence``), as a line to
    show: ``{"text", "warning"}``; ``warning`` when the last batch's fit, or any fit of the job, stopped
    at the iteration cap before converging. None for a report without a fit (majority vote, spans)."""
    found = report.get("convergence")
    if not isinstance(found, dict) or not isinstance(found.get("this_batch"), dict):
        return None
    this, job = found["this_batch"], found.get("job") if isinstance(found.get("job"), dict) else None
    temperature = this.get("temperature")
    tempered = f", temperature {temperature:g}" if isinstance(temperature, (int, float)) else ""
    state = "converged" if this.get("converged") else "did NOT converge (stopped at the iteration cap)"
    text = f"worker model, batch {this.get('batch')}: {state} in {this.get('iterations')} iterations{tempered}"
    failed = bool(job and job.get("not_converged"))
    if job:
        fits = job.get("fits")
        fits = counted(fits, "fit") if isinstance(fits, int) else fits
        text += (f"; job: {fits}, {job.get('not_converged')} not converged, "
                 f"{job.get('mean_iterations')} iterations on average")
    warning = not this.get("converged") or failed
    if warning:
        text += " - confidences of a fit that did not converge may be off"
    return {"text": text, "warning": warning}


def headline(report: dict[str, Any]) -> dict[str, Optional[float]]:
    """The report's main figures: alpha and kappa for a choice question, precision, recall and F1 for spans."""
    agreement = report.get("agreement", {})
    return {name: agreement.get(name) for name in HEADLINES[SPANS_KIND if report.get("kind") == SPANS_KIND else "choice"]}


PARTIAL_FOLDER = ".partial"  # in the job's folder: files being written, renamed over the saved ones when whole


def _replace(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or its old content whenever the process dies (the store's atomic write:
    written beside it, flushed to the disk, renamed over it)."""
    partial = path.parent / PARTIAL_FOLDER
    partial.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data, partial)


class QualityReportFiles:
    """The job's reports saved in ``folder`` as ``<prefix>quality-<question>.png`` and ``.json``."""

    def __init__(self, job: LocalJob, folder: Path, prefix: str = "", review=None) -> None:
        self.job, self.folder, self.prefix = job, Path(folder), prefix
        self.review = review  # the job's ReviewDesk, when expert review is on: reports against the final labels
        self._saved: dict[str, tuple[tuple[str, int], dict[str, Any]]] = {}  # question -> ((ETag, review version), summary)
        self._undrawn: dict[str, dict[str, Any]] = {}  # question -> its latest report, whose image is not drawn yet
        self._lock = threading.Lock()

    def paths(self, question: str) -> tuple[Path, Path]:
        stem = self.folder / f"{self.prefix}quality-{question}"
        return stem.with_suffix(".png"), stem.with_suffix(".json")

    def update(self, draw: bool = True) -> dict[str, dict[str, Any]]:
        """Save every report the Lambda rewrote since the last call; ``{question: {"png", "json", "text",
        <headline figures>}}`` of every report. ``draw``: its image too (~0.5 s each), else later
        (``draw_pending``)."""
        with self._lock:
            reviewed = review_version(self.review)
            for question, (key, etag) in sorted(report_versions(self.job).items()):
                if question in self._saved and self._saved[question][0] == (etag, reviewed):
                    continue
                report = final_report(read_report(self.job, key), question, self.review)
                fit = convergence(report)
                png, data = self.paths(question)
                self.folder.mkdir(parents=True, exist_ok=True)
                self._undrawn[question] = report
                _replace(data, json.dumps(report, indent=2).encode())
                if "decided_objects" in report:  # where the review's merge on AWS writes it too
                    self.job.s3.put_object(Bucket=self.job.bucket, Key=final_quality_report_key(self.job.root, question),
                                           Body=json.dumps(report).encode(), ContentType="application/json")
                self._saved[question] = ((etag, reviewed), {"png": str(png), "json": str(data),
                                                "text": f"{question}\n{format_quality_report(report)}"
                                                        + (f"\n{'WARNING: ' if fit['warning'] else ''}{fit['text']}"
                                                           if fit else ""),
                                                "convergence": fit, **headline(report)})
            if draw:
                self._draw_undrawn()
            return {question: dict(summary) for question, (_etag, summary) in sorted(self._saved.items())}

    def draw_pending(self) -> None:
        """Draw the image of every report saved without one since."""
        with self._lock:
            self._draw_undrawn()

    def _draw_undrawn(self) -> None:
        for question, report in sorted(self._undrawn.items()):
            _replace(self.paths(question)[0], quality_report_png(report))
        self._undrawn.clear()


def save_quality_reports(job: LocalJob, folder: Path, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Each report as ``<folder>/<prefix>quality-<question>.png`` and ``.json``, and its text summary.

    Returns ``{question: {"png", "json", "text", <headline figures>}}`` (``headline``).
    """
    return QualityReportFiles(job, folder, prefix).update()


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
    problem = not_a_report(report)
    if problem:
        print(f"{args.report} is not a quality report ({problem})", file=sys.stderr)
        return 2
    try:
        text, fit = format_quality_report(report), convergence(report)
        saved = render_quality_report(report, args.png or default_png)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:  # its parts of the wrong shape
        print(f"{args.report} is not a quality report the consolidation function writes ({type(error).__name__}: "
              f"{printable(str(error))})", file=sys.stderr)
        return 2
    print(text)
    if fit:
        print(("WARNING: " if fit["warning"] else "") + fit["text"])
    print(f"saved {saved}")
    return 0


def not_a_report(report: Any) -> str:
    """Why ``report`` (parsed JSON) is not a quality report ("" when it looks like one): another file of a job (an
    output manifest's line, a worker's answer) is named so instead of drawn as an empty report or failing on it."""
    if not isinstance(report, dict):
        return f"its JSON is {type(report).__name__ if report is not None else 'null'}, not an object"
    listed = {SPANS_KIND: "labels", MULTI_SELECT_KIND: "choices"}.get(report.get("kind"), "classes")  # what it is of
    if not isinstance(report.get("workers"), dict):
        return 'no "workers" object'
    if not isinstance(report.get(listed), list) or not all(isinstance(name, str) for name in report[listed]):
        return f'no "{listed}" list of names'
    return ""


if __name__ == "__main__":
    raise SystemExit(main())
