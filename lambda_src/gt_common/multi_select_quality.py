"""The quality report of a MultiSelect question: each choice as the yes/no it is consolidated as.

A MultiSelect choice is decided as a yes/no of its own (``workflow_consolidation``: each worker's answer on an
object says Yes or No for every choice), so each choice has a choice question's statistics over the classes
Yes and No (``quality_report.batch_statistics``: per-worker confusion, Krippendorff's alpha, Fleiss' kappa,
pairs of workers for collusion). Statistics::

    {"version": 1, "kind": "multi-select", "choices": [<choice>, ...],
     "per_choice": {<choice>: <quality_report statistics over ["Yes", "No"]>}}

merged choice by choice (exact, as a choice question's). The report::

    {"kind": "multi-select", "choices": [...], "objects": n,
     <every key of a choice question's report>,   # over every choice's yes/no answers pooled
     "per_choice": {<choice>: {"agreement": {...}, "consolidated_label_counts": {...},
                               "answer_label_counts": {...}, "workers": {<worker>: {"agreement", "kappa",
                               "compared", "spam", "gold_answers", "gold_accuracy"}}, "spam_workers": [...],
                               "colluding_pairs": [...]}}}

The pooled part treats each (object, choice) as one yes/no unit: a worker's ``agreement`` is the share of their
yes/no decisions, over every choice, that match the consolidated ones; alpha and kappa are those of every choice's
decisions together, and so are the colluding pairs and spam workers. ``objects``, ``answers`` and each worker's
``answers`` count the question's objects and answers (``units``: its (object, choice) pairs); a worker's
``compared`` and ``confusion`` count yes/no decisions, and so do ``gold_answers`` and ``gold_accuracy``: on a gold
object (``gt_common.gold``: the list of its choices known to apply) each answer's yes/no for a choice is one gold
answer, right when it is the choice's known yes/no (whether the list holds it). Per choice, the same figures show
which choices workers disagree on and who marks a choice otherwise than the crowd (or than the gold).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .quality_report import merge_statistics, report_from_statistics

KIND = "multi-select"
MULTI_SELECT_STATISTICS_VERSION = 1
#: What each choice's report keeps of a choice question's (the pooled report holds the rest).
PER_CHOICE_KEYS = ("agreement", "consolidated_label_counts", "answer_label_counts", "spam_workers",
                   "colluding_pairs")
#: Counts of the question itself, not of its (object, choice) units.
OWN_COUNTS = ("objects", "answers", "ignored_answers", "unconsolidated_objects")
#: What each worker's entry of a choice keeps.
PER_CHOICE_WORKER_KEYS = ("compared", "agreement", "kappa", "spam", "gold_answers", "gold_accuracy")


def multi_select_batch_statistics(per_choice: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One batch's statistics from each choice's (``quality_report.batch_statistics`` over Yes and No)."""
    return {"version": MULTI_SELECT_STATISTICS_VERSION, "kind": KIND, "choices": list(per_choice),
            "per_choice": {choice: dict(stats) for choice, stats in per_choice.items()}}


def _check_shape(stats: Mapping[str, Any]) -> list[str]:
    if stats.get("version") != MULTI_SELECT_STATISTICS_VERSION or stats.get("kind") != KIND:
        raise ValueError(f"version is {str(stats.get('version'))[:20]} of kind {str(stats.get('kind'))[:20]}, "
                         f"not {MULTI_SELECT_STATISTICS_VERSION} of kind {KIND}")
    choices, per_choice = stats.get("choices"), stats.get("per_choice")
    if not isinstance(choices, list) or not isinstance(per_choice, dict) or sorted(per_choice) != sorted(choices):
        raise ValueError("its choices and per_choice statistics do not match")
    return choices


def merge_multi_select_statistics(statistics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Add up per-batch statistics of one question (the same choices in each), choice by choice."""
    statistics = list(statistics)
    if not statistics:
        raise ValueError("merge_multi_select_statistics needs at least one statistics dict")
    choices = _check_shape(statistics[0])
    for stats in statistics[1:]:
        if _check_shape(stats) != choices:
            raise ValueError(f"cannot merge statistics of choices {stats['choices']!r} and {choices!r}")
    return multi_select_batch_statistics(
        {choice: merge_statistics([stats["per_choice"][choice] for stats in statistics]) for choice in choices})


def multi_select_report_from_statistics(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable report (see the module docstring) from (merged) statistics."""
    choices = _check_shape(stats)
    per_choice = {choice: report_from_statistics(stats["per_choice"][choice]) for choice in choices}
    pooled = report_from_statistics(merge_statistics([stats["per_choice"][choice] for choice in choices]),
                                    units="(object, choice) pairs")
    # Every answer says Yes or No of each choice: the question's own counts are any one choice's (the largest).
    own = {key: max((report[key] for report in per_choice.values()), default=0) for key in OWN_COUNTS}
    for name, worker in pooled["workers"].items():
        worker["answers"] = max(report["workers"][name]["answers"] for report in per_choice.values()
                                if name in report["workers"])
    answers_per_object = next(iter(per_choice.values()))["answers_per_object"] if per_choice else {}
    return {**pooled, **own, "kind": KIND, "choices": choices, "units": pooled["objects"],
            "answers_per_object": answers_per_object,
            "per_choice": {choice: {**{key: report.get(key) for key in PER_CHOICE_KEYS},
                                    "workers": {name: {key: worker.get(key) for key in PER_CHOICE_WORKER_KEYS}
                                                for name, worker in report["workers"].items()}}
                           for choice, report in per_choice.items()}}
