"""The job's quality report, rebuilt at every consolidation batch from every batch's statistics.

Each batch stores its mergeable statistics (``gt_common.quality_report.batch_statistics``) as its
own state file, then merges them with every earlier batch's and writes the job-level report to
``s3://<output>/<job>/quality-report/<question>.json``, beside the job's output manifest. The
report of the last batch to finish covers every batch finished before it; a batch running at the
same moment appears in the next report (its statistics file is never lost).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable, Mapping, Optional, Sequence

from .job_state import JobState
from .quality_report import batch_statistics, merge_statistics, report_from_statistics

LOG = logging.getLogger(__name__)
REPORT_FOLDER = "quality-report"


def report_key(state: JobState, question: str) -> str:
    return f"{state.job_prefix}{REPORT_FOLDER}/{question}.json"


def record_quality(s3_client, state: Optional[JobState], question: str,
                   answers: Iterable[tuple[str, str, str]], consolidated: Mapping[str, Optional[str]],
                   classes: Sequence[str]) -> Optional[dict[str, Any]]:
    """Save this batch's statistics and the job's merged report; the report, or None without state."""
    if state is None:
        return None
    kind = f"quality-{question}"
    stats = batch_statistics(answers, consolidated, classes)
    state.write(s3_client, kind, stats)
    batches = [stats]
    for earlier in state.earlier_batches(s3_client, kind):
        if list(earlier.get("classes") or []) != list(classes):
            LOG.warning("quality statistics of another batch have other classes; left out of the report")
            continue
        batches.append(earlier)
    try:
        report = report_from_statistics(merge_statistics(batches))
    except (ValueError, KeyError, TypeError) as error:  # a damaged earlier file: report this batch alone
        LOG.warning("could not merge earlier quality statistics (%s); reporting this batch only", error)
        report = report_from_statistics(stats)
        batches = [stats]
    report = {"question": question, "batches": len(batches), **report}
    key = report_key(state, question)
    s3_client.put_object(Bucket=state.bucket, Key=key, Body=json.dumps(report, allow_nan=False).encode(),
                         ContentType="application/json")
    LOG.info("quality report of %s (%d batches) written to s3://%s/%s", question, len(batches), state.bucket, key)
    return report
