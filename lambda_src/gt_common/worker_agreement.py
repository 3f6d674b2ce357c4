"""A worker's figures against the labels a quality report compares them with, and experts' decisions taken in.

Pure Python (no numpy), so the review chain's merge function can rewrite a report without shipping numpy.

**Against the labels** (``against_labels``): from a worker's confusion counts (rows: the label compared with,
columns: their answer) their ``compared`` answers, ``agreement`` (the share equal to the label), Cohen's
``kappa`` against it (``spam_kappa``) and ``spam``: at least ``MIN_SPAM_ANSWERS`` compared answers and kappa at
most ``SPAM_KAPPA`` (a constant answer, or one drawn at random, has kappa ~0). ``gt_common.collusion`` tells
why agreement with a consolidated label is not enough to catch collusion.

**Experts' decisions** (``with_expert_decisions``): the report with each worker compared with the *final* label,
the expert's where one decided, else the crowd's (see the function).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

#: Answers compared with the consolidated label before a worker can be called spam.
MIN_SPAM_ANSWERS = 20
#: A worker whose kappa against the consolidated label is at most this answers without information.
SPAM_KAPPA = 0.1


def _rows(confusion: Any) -> list[list[float]]:
    rows = confusion.tolist() if hasattr(confusion, "tolist") else confusion
    return [[float(cell) for cell in row] for row in rows]


def spam_kappa(confusion: Any) -> Optional[float]:
    """Cohen's kappa of a worker's answers (columns) against the consolidated class (rows); None when
    undefined (nothing compared, or chance agreement 1)."""
    table = _rows(confusion)
    total = sum(map(sum, table))
    if total <= 0:
        return None
    observed = sum(table[i][i] for i in range(len(table))) / total
    columns = [sum(column) for column in zip(*table)] if table else []
    chance = sum((sum(row) / total) * (column / total) for row, column in zip(table, columns))
    if chance >= 1 - 1e-12:
        return None
    kappa = (observed - chance) / (1 - chance)
    return kappa if math.isfinite(kappa) else None


def is_spam(confusion: Any) -> tuple[bool, Optional[float]]:
    """(spam?, the kappa) for a worker's confusion table (see the module docstring)."""
    kappa = spam_kappa(confusion)
    enough = sum(map(sum, _rows(confusion))) >= MIN_SPAM_ANSWERS
    return bool(enough and kappa is not None and kappa <= SPAM_KAPPA), kappa


def against_labels(confusion: Any) -> dict[str, Any]:
    """A worker's figures from their confusion counts against the labels (rows) the report compares with."""
    table = [[int(cell) for cell in row] for row in _rows(confusion)]
    compared = sum(map(sum, table))
    spam, kappa = is_spam(table)
    return {"compared": compared,
            "agreement": sum(table[i][i] for i in range(len(table))) / compared if compared else None,
            "confusion": table, "kappa": kappa, "spam": spam}


@dataclass(frozen=True)
class ExpertDecision:
    """One object of a question an expert decided: the crowd's label (None: it had none), the expert's,
    and each worker's answer on the object (``{worker id: label}``)."""

    crowd: Optional[str]
    expert: Any
    answers: Mapping[str, Any]


def with_expert_decisions(report: Mapping[str, Any], decisions: Iterable[ExpertDecision]) -> dict[str, Any]:
    """The report with each worker compared with the *final* label: the expert's where one decided, else the crowd's.

    A worker's answer on a decided object moves from the crowd's label's row of their confusion to the expert's, and
    their ``compared``, ``agreement``, ``kappa`` and ``spam`` follow; ``consolidated_label_counts`` become the final
    labels' counts. Each worker also gets ``expert_answers`` (their answers on decided objects), ``expert_agreed``
    (how many named the expert's label) and ``expert_agreement`` (their share; None without any), and the report
    ``decided_objects`` and ``changed_objects`` (decided otherwise than the crowd). Without this, a worker the
    experts side with against the crowd ranks below the workers who made the crowd's label.

    An answer or label that is not one of the report's classes, or a worker or answer the report's counts do not
    hold (its batch's statistics were not recorded), is left as the report has it. The pairs, gold and
    agreement-between-workers figures do not depend on the consolidated label and are unchanged.
    """
    result = copy.deepcopy(dict(report))
    classes: Sequence[str] = list(result.get("classes", []))
    index = {label: i for i, label in enumerate(classes)}
    workers = result.get("workers", {})
    confusion = {name: [[int(cell) for cell in row] for row in w["confusion"]] for name, w in workers.items()}
    on_decided = {name: [0, 0] for name in workers}  # [answers on decided objects, naming the expert's label]
    counts = result.get("consolidated_label_counts", {})
    decided = changed = 0
    for decision in decisions:
        final = index.get(decision.expert) if isinstance(decision.expert, str) else None
        if final is None:
            continue
        crowd = index.get(decision.crowd) if isinstance(decision.crowd, str) else None
        decided += 1
        if crowd != final:
            changed += 1
            if crowd is not None and counts.get(classes[crowd], 0) > 0:
                counts[classes[crowd]] -= 1
            counts[classes[final]] = counts.get(classes[final], 0) + 1
        for worker, label in decision.answers.items():
            answer = index.get(label) if isinstance(label, str) else None
            if answer is None or worker not in confusion:
                continue
            on_decided[worker][0] += 1
            on_decided[worker][1] += int(answer == final)
            if crowd == final:
                continue
            table = confusion[worker]
            if crowd is not None:
                if table[crowd][answer] <= 0:
                    continue  # not in the counts: nothing to move
                table[crowd][answer] -= 1
            table[final][answer] += 1
    for name, worker in workers.items():
        answers, agreed = on_decided[name]
        worker.update(against_labels(confusion[name]))
        worker.update({"expert_answers": answers, "expert_agreed": agreed,
                       "expert_agreement": agreed / answers if answers else None})
    result["spam_workers"] = sorted(name for name, worker in workers.items() if worker["spam"])
    result["decided_objects"], result["changed_objects"] = decided, changed
    return result
