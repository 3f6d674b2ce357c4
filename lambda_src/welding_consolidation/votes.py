"""From decoded worker forms to the welding answers the consolidation methods work on."""
from __future__ import annotations

from typing import Any, Collection

from gt_common.classification import Answer
from gt_common.consolidation import DataObjectAnswers, read_each
from gt_common.s3uri import InputError

# The crowd-classifier's name in the worker template; its answer is {FORM_FIELD: {"label": ...}}.
FORM_FIELD = "WeldingClassification"


def answer_label(form: dict[str, Any], categories: Collection[str]) -> str:
    """The category a worker chose; InputError if the form has none or an unknown one."""
    answer = form.get(FORM_FIELD)
    if not isinstance(answer, dict):
        raise InputError(f"form has no {FORM_FIELD} object")
    label = answer.get("label")
    if not isinstance(label, str):
        raise InputError(f"{FORM_FIELD}.label is missing or not a string")
    if label not in categories:
        # Truncated: the value is worker-supplied and ends up in the logs.
        raise InputError(f"{FORM_FIELD}.label {label[:100]!r} is not one of the label categories")
    return label


def extract_answers(item: DataObjectAnswers, categories: Collection[str]) -> list[Answer]:
    """One answer per usable form; unusable ones are logged and recorded in ``item.skipped``.

    ``item`` already holds one answer per worker (``gt_common.consolidation`` keeps each
    worker's latest), so every worker counts once.
    """
    return [Answer(item.dataset_object_id, answer.worker_id, label)
            for answer, label in read_each(item, lambda answer: answer_label(answer.form, categories))]
