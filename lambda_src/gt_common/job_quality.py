"""The job's quality report, rebuilt at every consolidation batch from every batch's statistics.

Each batch stores its mergeable statistics (``gt_common.quality_report.batch_statistics``) as its
own state file, then merges them with every earlier batch's and writes the job-level report to
``s3://<output>/<job>/quality-report/<question>.json``, beside the job's output manifest. The
report of the last batch to finish covers every batch finished before it; a batch running at the
same moment appears in the next report (its statistics file is never lost). An earlier batch's
file that is mis-shaped, has other classes, or holds a count that is not a non-negative integer
within what a Ground Truth job can produce (``check_statistics``) is logged and left out.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable, Mapping, Optional, Sequence

from .job_state import MAX_ANSWERS_PER_JOB, MAX_OBJECTS_PER_JOB, MAX_WORKERS_PER_OBJECT, JobState, count, mapping
from .quality_report import STATISTICS_VERSION, batch_statistics, merge_statistics, report_from_statistics

LOG = logging.getLogger(__name__)
REPORT_FOLDER = "quality-report"
# Each answer pairs with at most the object's other answers: the bound of pair counts and sums of squares.
MAX_PAIRS_PER_JOB = MAX_ANSWERS_PER_JOB * MAX_WORKERS_PER_OBJECT


def _integer(value: Any, where: str, maximum: int) -> int:
    if not isinstance(value, int):
        raise ValueError(f"{where} is not an integer")
    count(value, where, maximum)
    return value


def _square(value: Any, where: str, k: int, maximum: int) -> None:
    if not isinstance(value, list) or len(value) != k or not all(isinstance(row, list) and len(row) == k
                                                                 for row in value):
        raise ValueError(f"{where} is not a {k} x {k} matrix")
    for row in value:
        for cell in row:
            _integer(cell, where, maximum)


def _vector(value: Any, where: str, k: int, maximum: int) -> None:
    if not isinstance(value, list) or len(value) != k:
        raise ValueError(f"{where} is not a list of {k} counts")
    for cell in value:
        _integer(cell, where, maximum)


def _answer_count_key(key: str, where: str, minimum: int) -> None:
    """The keys of rater/pair/Fleiss counts are answer counts per object, written as decimal text."""
    sound = 0 < len(key) <= 7 and key.isdigit() and key == str(int(key))
    if not (sound and minimum <= int(key) <= MAX_ANSWERS_PER_JOB):
        raise ValueError(f"{where} key {key[:20]!r} is not a number of answers (at least {minimum})")


def check_statistics(stats: dict[str, Any], classes: Sequence[str]) -> None:
    """Raise ValueError naming the first thing wrong with a stored batch's statistics
    (``quality_report.batch_statistics``'s shape, for ``classes``)."""
    if stats.get("version") != STATISTICS_VERSION:
        raise ValueError(f"version is {str(stats.get('version'))[:20]}, not {STATISTICS_VERSION}")
    if stats.get("classes") != list(classes):
        raise ValueError("its classes are not this batch's classes")
    k = len(classes)
    for key in ("objects", "unconsolidated_objects"):
        _integer(stats.get(key), key, MAX_OBJECTS_PER_JOB)
    for key in ("answers", "ignored_answers"):
        _integer(stats.get(key), key, MAX_ANSWERS_PER_JOB)
    for name, worker in mapping(stats.get("workers"), "workers").items():
        worker = mapping(worker, f"worker {name[:60]!r}")
        _integer(worker.get("answers"), f"answers of worker {name[:60]!r}", MAX_ANSWERS_PER_JOB)
        _square(worker.get("confusion"), f"confusion of worker {name[:60]!r}", k, MAX_ANSWERS_PER_JOB)
    labels = mapping(stats.get("consolidated_label_counts"), "consolidated_label_counts")
    if set(labels) - set(classes):
        raise ValueError("consolidated_label_counts names a class that is not one of the classes")
    for name, number in labels.items():
        _integer(number, f"consolidated_label_counts[{name!r}]", MAX_OBJECTS_PER_JOB)
    for m, number in mapping(stats.get("rater_counts"), "rater_counts").items():
        _answer_count_key(m, "rater_counts", 1)
        _integer(number, f"rater_counts[{m}]", MAX_OBJECTS_PER_JOB)
    for m, pairs in mapping(stats.get("pair_counts"), "pair_counts").items():
        _answer_count_key(m, "pair_counts", 2)  # weighted by 1 / (m - 1)
        _square(pairs, f"pair_counts[{m}]", k, MAX_PAIRS_PER_JOB)
    for m, fleiss in mapping(stats.get("fleiss"), "fleiss").items():
        _answer_count_key(m, "fleiss", 2)
        fleiss = mapping(fleiss, f"fleiss[{m}]")
        _integer(fleiss.get("objects"), f"fleiss[{m}].objects", MAX_OBJECTS_PER_JOB)
        _vector(fleiss.get("category_sums"), f"fleiss[{m}].category_sums", k, MAX_ANSWERS_PER_JOB)
        _integer(fleiss.get("sum_squares"), f"fleiss[{m}].sum_squares", MAX_PAIRS_PER_JOB)


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
    batches.extend(state.earlier_batches(s3_client, kind, check=lambda value: check_statistics(value, classes)))
    try:
        report = report_from_statistics(merge_statistics(batches))
    except (ValueError, KeyError, TypeError, ArithmeticError) as error:  # checked files merge; this is a last guard
        LOG.warning("could not merge earlier quality statistics (%s); reporting this batch only", error)
        report = report_from_statistics(stats)
        batches = [stats]
    report = {"question": question, "batches": len(batches), **report}
    key = report_key(state, question)
    s3_client.put_object(Bucket=state.bucket, Key=key, Body=json.dumps(report, allow_nan=False).encode(),
                         ContentType="application/json")
    LOG.info("quality report of %s (%d batches) written to s3://%s/%s", question, len(batches), state.bucket, key)
    return report
