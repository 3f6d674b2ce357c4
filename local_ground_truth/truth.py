"""The sample data's known answers (``sample_data/<workflow>/truth.json``), read and checked against a workflow.

The file is ``{<object name>: {<question>: <truth>}}``, objects named by ``workflows.model.truth_key``
(the file stem of an S3 source, else the line's ``id``, else its line number), and each truth in the
form of its question type:

============== =============================================================
Classification  the label (one of the question's choices)
YesNo           "Yes" or "No"
Checkbox        true or false
MultiSelect     the list of chosen labels (each one of the choices)
Spans           ``[{"label", "startOffset", "endOffset"}]``, code points, end exclusive, labels of the question
FreeText        none: free text is not simulated from truth
============== =============================================================

A truth file that does not fit is refused before any worker answers, with every problem named by
object and question (the first ``MAX_PROBLEMS_SHOWN`` of them).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, Question, Spans, YesNo

MAX_PROBLEMS_SHOWN = 10


class TruthError(ValueError):
    """A truth file that cannot drive the simulation; the message names each object and problem."""


def load_truth(path: Path) -> dict[str, Any]:
    try:
        # A leading byte-order mark (Windows tools write one) is dropped, as it is from the manifest beside it.
        truth = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TruthError(f"{path} does not exist: headless mode answers from the objects' known answers in it "
                         "(the data's truth.json; --truth names another file)") from None
    except ValueError as error:
        raise TruthError(f"{path} is not JSON: {error}") from None
    if not isinstance(truth, dict):
        raise TruthError(f"{path} must hold a JSON object of objects' truths")
    return truth


def simulated_questions(questions: Sequence[Question]) -> list[Question]:
    """The questions answered from truth (all but free text)."""
    return [question for question in questions if not isinstance(question, FreeText)]


def truth_problems(question: Question, value: Any) -> list[str]:
    """Why ``value`` is not a truth of ``question`` (empty when it is)."""
    if isinstance(question, (Classification, YesNo)):
        return [] if isinstance(value, str) and value in question.labels else \
            [f"{value!r} is not one of {', '.join(question.labels)}"]
    if isinstance(question, Checkbox):
        return [] if isinstance(value, bool) else [f"{value!r} is not true or false"]
    if isinstance(question, MultiSelect):
        if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
            return [f"{value!r} is not a list of labels"]
        return [f"{label!r} is not one of {', '.join(question.choices)}" for label in value if label not in question.choices]
    if isinstance(question, Spans):
        if not isinstance(value, list):
            return [f"{str(value)[:80]} is not a list of spans"]
        problems = []
        for index, span in enumerate(value):
            if not isinstance(span, dict) or span.get("label") not in question.span_labels or not all(
                    isinstance(span.get(k), int) and not isinstance(span.get(k), bool) for k in ("startOffset", "endOffset")
            ) or not 0 <= span["startOffset"] < span["endOffset"]:
                problems.append(f"span {index + 1} ({str(span)[:80]}) is not a span of {', '.join(question.span_labels)} "
                                "with 0 <= startOffset < endOffset")
        return problems
    return []


def checked_truth(questions: Sequence[Question], truth: Mapping[str, Any], names: Mapping[str, str],
                  source: str = "truth.json") -> dict[str, dict[str, Any]]:
    """``{object id: {question: truth}}`` for the objects ``names`` maps (object id -> truth key);
    TruthError naming every object and question whose truth is missing or does not fit."""
    asked = simulated_questions(questions)
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for object_id, key in names.items():
        entry = truth.get(key)
        if not isinstance(entry, dict):
            problems.append(f"object {object_id} ({key!r}): no entry" if entry is None else
                            f"object {object_id} ({key!r}): its entry is not an object")
            continue
        for question in asked:
            if question.name not in entry:
                problems.append(f"object {object_id} ({key!r}): no truth for question {question.name}")
                continue
            problems += [f"object {object_id} ({key!r}), question {question.name}: {problem}"
                         for problem in truth_problems(question, entry[question.name])]
        found[object_id] = {question.name: entry.get(question.name) for question in asked}
    if problems:
        shown = "\n  ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        raise TruthError(f"{source} does not fit the workflow's questions:\n  {shown}{more}")
    return found
