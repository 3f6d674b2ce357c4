"""The job's quality report, rebuilt at every consolidation batch from the job's statistics.

Each batch adds its mergeable statistics (``gt_common.quality_report.batch_statistics``) to the
job's snapshot of them (``gt_common.job_state``: one object read and written conditionally, so
concurrent batches lose nothing, a retried batch replaces its own, and the thousandth batch reads
as little as the second), then writes the job-level report from the snapshot's sum to
``s3://<output>/<job>/quality-report/<question>.json``, beside the job's output manifest. The
report covers every batch added before it; one running at the same moment is counted (its
statistics are in the snapshot before its labels are returned) and appears in the next report at
the latest. Stored statistics that are mis-shaped, have other classes, or hold a count that is not
a non-negative integer within what a Ground Truth job can produce (``check_statistics``) are logged:
a corrupt snapshot is rebuilt from the batches' records, a corrupt record left out.

**Convergence.** A question consolidated by the worker model reports its fit (``convergence``):
this batch's EM iterations, whether it converged and the temperature chosen, and the job's count of
fits and of fits that stopped at the iteration cap (kept in the statistics under ``fit``, summed
like them). A fit that did not converge is logged as a warning.

What a job can produce is bounded by ``MAX_OBJECTS_PER_JOB`` and by the job's workers per object,
the event's ``maxHumanWorkersPerDataObject`` (``consolidation.workers_per_object``): an object has
at most that many answers, so at most that many raters and pairs among them. Without it stored
statistics cannot be checked: the report covers this batch alone and its statistics are not added
to the job's (logged). This batch's own
statistics are checked the same way before they are saved, so nothing is written that a later batch
would have to refuse (an object answered by more workers than the job asks for, which Ground Truth
never sends, leaves this batch's statistics out of the job's report, logged).

A ``MultiSelect`` question gets one too (``record_multi_select_quality``: each choice's statistics as a yes/no
question's, ``gt_common.multi_select_quality``, each checked as a choice question's). A ``Spans`` question gets a
report of the same kind and in the same place (``record_span_quality``,
statistics of ``gt_common.span_quality``, checked by ``check_span_statistics`` against the same job
bounds: a worker draws at most ``MAX_SPANS_PER_JOB`` spans in a job).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Hashable, Iterable, Mapping, Optional, Sequence

from .job_state import JobState, Ledger, count, mapping, tree_sum
from .limits import MAX_OBJECTS_PER_JOB
from .output_layout import quality_report_key
from .quality_report import STATISTICS_VERSION, batch_statistics, merge_statistics, report_from_statistics
from .span_clustering import Entity, Span
from .multi_select_quality import (KIND as MULTI_SELECT_KIND, MULTI_SELECT_STATISTICS_VERSION,
                                   merge_multi_select_statistics, multi_select_batch_statistics,
                                   multi_select_report_from_statistics)
from .span_quality import (KIND as SPANS_KIND, SPAN_STATISTICS_VERSION, merge_span_statistics, span_batch_statistics,
                           span_report_from_statistics)
from .span_reliability import MAX_SPANS_PER_JOB

LOG = logging.getLogger(__name__)
#: A batch's fit in its statistics: {"fits": 1, "not_converged": 0 or 1, "iterations": n}, summed over the job.
FIT_KEY = "fit"
#: The most EM iterations one fit can report (``crowd_model.MAX_ITERATIONS`` is far below).
MAX_ITERATIONS_PER_FIT = 100_000


def fit_statistics(iterations: int, converged: bool) -> dict[str, int]:
    """One batch's fit, as it adds up in the job's statistics."""
    return {"fits": 1, "not_converged": 0 if converged else 1, "iterations": int(iterations)}


def check_fit(value: Any) -> None:
    """ValueError naming the first thing wrong with stored fit counts (absent is sound)."""
    if value is None:
        return
    value = mapping(value, FIT_KEY)
    if set(value) != {"fits", "not_converged", "iterations"}:
        raise ValueError(f"{FIT_KEY} does not hold fits, not_converged and iterations")
    _integer(value["fits"], f"{FIT_KEY}.fits", MAX_OBJECTS_PER_JOB)  # a batch holds at least one object
    _integer(value["not_converged"], f"{FIT_KEY}.not_converged", value["fits"])
    _integer(value["iterations"], f"{FIT_KEY}.iterations", value["fits"] * MAX_ITERATIONS_PER_FIT)


def _with_fits(merge: Callable[[list], dict[str, Any]]) -> Callable[[list], dict[str, Any]]:
    """``merge`` of the statistics, and their fit counts summed."""
    def merged(parts: list) -> dict[str, Any]:
        total = merge(parts)
        fits = [part[FIT_KEY] for part in parts if part.get(FIT_KEY)]
        if fits:
            total[FIT_KEY] = tree_sum(fits)
        return total
    return merged


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


def _answer_count_key(key: str, where: str, minimum: int, maximum: int) -> None:
    """The keys of rater/pair/Fleiss counts are answer counts per object, written as decimal text."""
    sound = 0 < len(key) <= 7 and key.isdigit() and key == str(int(key))
    if not (sound and minimum <= int(key) <= maximum):
        raise ValueError(f"{where} key {key[:20]!r} is not a number of answers ({minimum} to {maximum})")


def check_statistics(stats: dict[str, Any], classes: Sequence[str], workers_per_object: int) -> None:
    """Raise ValueError naming the first thing wrong with a stored batch's statistics
    (``quality_report.batch_statistics``'s shape, for ``classes``), for a job of at most
    ``workers_per_object`` answers per object."""
    if stats.get("version") != STATISTICS_VERSION:
        raise ValueError(f"version is {str(stats.get('version'))[:20]}, not {STATISTICS_VERSION}")
    if stats.get("classes") != list(classes):
        raise ValueError("its classes are not this batch's classes")
    k, w = len(classes), workers_per_object
    answers = MAX_OBJECTS_PER_JOB * w
    pairs = answers * max(w - 1, 0)  # each answer pairs with the object's other answers
    for key in ("objects", "unconsolidated_objects"):
        _integer(stats.get(key), key, MAX_OBJECTS_PER_JOB)
    for key in ("answers", "ignored_answers"):
        _integer(stats.get(key), key, answers)
    for name, worker in mapping(stats.get("workers"), "workers").items():
        worker = mapping(worker, f"worker {name[:60]!r}")  # a worker answers each object once
        _integer(worker.get("answers"), f"answers of worker {name[:60]!r}", MAX_OBJECTS_PER_JOB)
        _square(worker.get("confusion"), f"confusion of worker {name[:60]!r}", k, MAX_OBJECTS_PER_JOB)
        if "labels" in worker:  # absent from statistics stored before collusion was reported
            _vector(worker["labels"], f"labels of worker {name[:60]!r}", k, MAX_OBJECTS_PER_JOB)
        if "gold" in worker:
            _vector(worker["gold"], f"gold of worker {name[:60]!r}", 2, MAX_OBJECTS_PER_JOB)
            if worker["gold"][1] > worker["gold"][0]:
                raise ValueError(f"gold of worker {name[:60]!r}: more right than answered")
    worker_pairs = stats.get("pairs", [])
    if not isinstance(worker_pairs, list):
        raise ValueError("pairs is not a list")
    for pair in worker_pairs:
        if not (isinstance(pair, list) and len(pair) == 4 and all(isinstance(x, str) for x in pair[:2])):
            raise ValueError("a pair is not [worker, worker, shared objects, agreed]")
        _integer(pair[2], "shared objects of a pair", MAX_OBJECTS_PER_JOB)
        _integer(pair[3], "agreements of a pair", pair[2])
    labels = mapping(stats.get("consolidated_label_counts"), "consolidated_label_counts")
    if set(labels) - set(classes):
        raise ValueError("consolidated_label_counts names a class that is not one of the classes")
    for name, number in labels.items():
        _integer(number, f"consolidated_label_counts[{name!r}]", MAX_OBJECTS_PER_JOB)
    if "answer_label_counts" in stats:  # absent from statistics stored before answers were counted per class
        answered = mapping(stats["answer_label_counts"], "answer_label_counts")
        if set(answered) - set(classes):
            raise ValueError("answer_label_counts names a class that is not one of the classes")
        for name, number in answered.items():
            _integer(number, f"answer_label_counts[{name!r}]", answers)
    for m, number in mapping(stats.get("rater_counts"), "rater_counts").items():
        _answer_count_key(m, "rater_counts", 1, w)
        _integer(number, f"rater_counts[{m}]", MAX_OBJECTS_PER_JOB)
    for m, pair_counts in mapping(stats.get("pair_counts"), "pair_counts").items():
        _answer_count_key(m, "pair_counts", 2, w)  # weighted by 1 / (m - 1)
        _square(pair_counts, f"pair_counts[{m}]", k, pairs)
    for m, fleiss in mapping(stats.get("fleiss"), "fleiss").items():
        _answer_count_key(m, "fleiss", 2, w)
        fleiss = mapping(fleiss, f"fleiss[{m}]")
        _integer(fleiss.get("objects"), f"fleiss[{m}].objects", MAX_OBJECTS_PER_JOB)
        _vector(fleiss.get("category_sums"), f"fleiss[{m}].category_sums", k, answers)
        _integer(fleiss.get("sum_squares"), f"fleiss[{m}].sum_squares", answers * w)


def check_multi_select_statistics(stats: dict[str, Any], choices: Sequence[str], yes_no: Sequence[str],
                                  workers_per_object: int) -> None:
    """``check_statistics`` for a MultiSelect question's (``multi_select_quality``): each choice's, over ``yes_no``."""
    if stats.get("version") != MULTI_SELECT_STATISTICS_VERSION or stats.get("kind") != MULTI_SELECT_KIND:
        raise ValueError(f"version is {str(stats.get('version'))[:20]} of kind {str(stats.get('kind'))[:20]}, "
                         f"not {MULTI_SELECT_STATISTICS_VERSION} of kind {MULTI_SELECT_KIND}")
    per_choice = mapping(stats.get("per_choice"), "per_choice")
    if stats.get("choices") != list(choices) or sorted(per_choice) != sorted(choices):
        raise ValueError("its choices are not this batch's choices")
    for choice in choices:
        try:
            check_statistics(mapping(per_choice[choice], f"choice {choice[:60]!r}"), yes_no, workers_per_object)
        except ValueError as error:
            raise ValueError(f"choice {choice[:60]!r}: {error}") from None


def check_span_statistics(stats: dict[str, Any], labels: Sequence[str], workers_per_object: int) -> None:
    """Raise ValueError naming the first thing wrong with a stored batch's span statistics
    (``span_quality.span_batch_statistics``'s shape, for ``labels``), for a job of at most
    ``workers_per_object`` answers per object."""
    if stats.get("version") != SPAN_STATISTICS_VERSION or stats.get("kind") != SPANS_KIND:
        raise ValueError(f"version is {str(stats.get('version'))[:20]} of kind {str(stats.get('kind'))[:20]}, "
                         f"not {SPAN_STATISTICS_VERSION} of kind {SPANS_KIND}")
    if stats.get("labels") != list(labels):
        raise ValueError("its labels are not this batch's labels")
    k, w = len(labels), workers_per_object
    pairs = w * (w - 1) // 2
    spans = MAX_SPANS_PER_JOB * w  # every worker's spans
    _integer(stats.get("objects"), "objects", MAX_OBJECTS_PER_JOB)
    _integer(stats.get("answers"), "answers", MAX_OBJECTS_PER_JOB * w)
    _integer(stats.get("ignored_spans"), "ignored_spans", spans)
    _integer(stats.get("pairs"), "pairs", MAX_OBJECTS_PER_JOB * pairs)
    for key in ("pair_shared", "pair_spans"):  # each span is in w - 1 pairs
        _vector(stats.get(key), key, k, spans * max(w - 1, 0))
    for name, worker in mapping(stats.get("workers"), "workers").items():
        worker = mapping(worker, f"worker {name[:60]!r}")
        _integer(worker.get("answers"), f"answers of worker {name[:60]!r}", MAX_OBJECTS_PER_JOB)
        _square(worker.get("confusion"), f"confusion of worker {name[:60]!r}", k + 1, MAX_SPANS_PER_JOB)
    counts = mapping(stats.get("consolidated_span_counts"), "consolidated_span_counts")
    if set(counts) - set(labels):
        raise ValueError("consolidated_span_counts names a label that is not one of the labels")
    for name, number in counts.items():
        _integer(number, f"consolidated_span_counts[{name!r}]", MAX_SPANS_PER_JOB)


def report_key(state: JobState, question: str) -> str:
    return quality_report_key(state.job_prefix, question)


def record_quality(s3_client, state: Optional[JobState], question: str,
                   answers: Iterable[tuple[str, str, str]], consolidated: Mapping[str, Optional[str]],
                   classes: Sequence[str], workers_per_object: Optional[int],
                   gold: Optional[Mapping[str, str]] = None, *,
                   fit: Optional[Mapping[str, Any]] = None) -> Optional[dict[str, Any]]:
    """Save this batch's statistics and the job's merged report; the report, or None without state.

    ``workers_per_object``: the job's (the event's ``maxHumanWorkersPerDataObject``); None when the
    event has none, and then the report covers this batch only. ``fit``: the worker model's fit of
    this batch (``iterations``, ``converged``, ``temperature``), None for majority vote. ``gold``: the known
    label of each gold object of the batch (``gt_common.gold``).
    """
    if state is None:
        return None
    return record_quality_statistics(s3_client, state, question, batch_statistics(answers, consolidated, classes, gold),
                                     classes, workers_per_object, fit=fit)


def record_quality_statistics(s3_client, state: Optional[JobState], question: str, stats: dict[str, Any],
                              classes: Sequence[str], workers_per_object: Optional[int], *,
                              fit: Optional[Mapping[str, Any]] = None) -> Optional[dict[str, Any]]:
    """``record_quality`` with this batch's statistics already made (``quality_report.batch_statistics_from_indices``)."""
    if state is None:
        return None
    if fit is not None:
        stats[FIT_KEY] = fit_statistics(fit["iterations"], fit["converged"])
    return _record(s3_client, state, question, stats, lambda value, w: check_statistics(value, classes, w),
                   merge_statistics, report_from_statistics, workers_per_object, fit)


def record_multi_select_quality(s3_client, state: Optional[JobState], question: str,
                                per_choice: Mapping[str, dict[str, Any]], yes_no: Sequence[str],
                                workers_per_object: Optional[int], *,
                                fit: Optional[Mapping[str, Any]] = None) -> Optional[dict[str, Any]]:
    """``record_quality`` for a MultiSelect question: ``per_choice`` holds each choice's statistics over ``yes_no``
    (``quality_report.batch_statistics_from_indices``); ``fit`` the choices' fits taken together (the most
    iterations, converged when every one did). The report is ``multi_select_quality``'s."""
    if state is None:
        return None
    stats = multi_select_batch_statistics(per_choice)
    if fit is not None:
        stats[FIT_KEY] = fit_statistics(fit["iterations"], fit["converged"])
    choices = list(per_choice)
    return _record(s3_client, state, question, stats,
                   lambda value, w: check_multi_select_statistics(value, choices, yes_no, w),
                   merge_multi_select_statistics, multi_select_report_from_statistics, workers_per_object, fit)


def _convergence(state: JobState, fit: Mapping[str, Any], job: Optional[Mapping[str, int]]) -> dict[str, Any]:
    """The report's convergence: this batch's fit, and the job's fits (None when not known)."""
    temperature = fit.get("temperature")
    this_batch = {"batch": state.batch_id, "iterations": int(fit["iterations"]), "converged": bool(fit["converged"]),
                  "temperature": None if temperature is None else round(float(temperature), 4)}
    summary = None
    if job:
        summary = {"fits": job["fits"], "not_converged": job["not_converged"],
                   "mean_iterations": round(job["iterations"] / job["fits"], 1) if job["fits"] else None}
    return {"this_batch": this_batch, "job": summary}


def record_span_quality(s3_client, state: Optional[JobState], question: str,
                        objects: Iterable[tuple[Hashable, Sequence[str], Sequence[Span], Sequence[Entity]]],
                        labels: Sequence[str], workers_per_object: Optional[int]) -> Optional[dict[str, Any]]:
    """``record_quality`` for a Spans question: ``objects`` are ``(object id, workers who answered, their
    spans, the consolidated entities)``; the report is ``span_quality``'s."""
    if state is None:
        return None
    return _record(s3_client, state, question, span_batch_statistics(objects, labels),
                   lambda value, w: check_span_statistics(value, labels, w), merge_span_statistics,
                   span_report_from_statistics, workers_per_object)


def _record(s3_client, state: JobState, question: str, stats: dict[str, Any],
            check: Callable[[dict[str, Any], int], None], merge: Callable[[list], dict[str, Any]],
            report_of: Callable[[dict[str, Any]], dict[str, Any]], workers_per_object: Optional[int],
            fit: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Add ``stats`` to the job's snapshot (when sound) and write the report of the job's sum."""
    total, batches = stats, 1
    if workers_per_object is None:
        LOG.warning("quality report of %s covers this batch only, and its statistics are not kept for later "
                    "batches: the event has no maxHumanWorkersPerDataObject to check statistics against", question)
    else:
        def checked(value: dict[str, Any]) -> None:
            check(value, workers_per_object)
            check_fit(value.get(FIT_KEY))

        ledger = Ledger(f"quality-{question}", checked, _with_fits(merge))
        try:
            checked(stats)
        except ValueError as error:
            LOG.warning("this batch's quality statistics of %s are not saved for later batches: %s", question, error)
            earlier, read = state.earlier_total(s3_client, ledger)
            if earlier is not None:
                total, batches = ledger.sum([earlier, stats]), int(read.document["batches"]) + 1
        else:
            folded = state.fold(s3_client, ledger, stats)
            if folded is not None:
                total, batches = folded
    try:
        report = report_of(total)
    except (ValueError, KeyError, TypeError, ArithmeticError) as error:  # checked statistics merge; a last guard
        LOG.warning("could not report the job's quality statistics (%s); reporting this batch only", error)
        total, batches = stats, 1
        report = report_of(stats)
    report = {"question": question, "batches": batches, **report}
    if fit is not None:
        report["convergence"] = _convergence(state, fit, total.get(FIT_KEY))
        if not fit["converged"]:
            LOG.warning("quality report of %s: the worker model did not converge in this batch (%d iteration%s)",
                        question, fit["iterations"], "" if fit["iterations"] == 1 else "s")
    key = report_key(state, question)
    s3_client.put_object(Bucket=state.bucket, Key=key, Body=json.dumps(report, allow_nan=False).encode(),
                         ContentType="application/json")
    LOG.info("quality report of %s (%d batches) written to s3://%s/%s", question, batches, state.bucket, key)
    return report
