"""How good the consolidated labels are, per question, against the sample data's truth.

A consolidated label (the value under the label attribute in the output manifest) holds each question's
result under its name:

- Classification / YesNo / Checkbox: ``{"label": <label or null>, "confidence", "votes"}`` (a Checkbox's
  labels are "checked" / "unchecked"): scored by **accuracy**, a null label counting as wrong;
- MultiSelect: ``{"labels": [...], "confidence": {label: p}, "votes"}``: **accuracy** (the exact set) and
  **choice accuracy** (each choice's chosen / not chosen);
- Spans: ``{"entities": [{"label", "startOffset", "endOffset", "confidence"}]}``: span **precision, recall
  and F1**, a span counting only with its exact label and offsets;
- FreeText: kept per worker, not scored.

A label without a question's result in that shape is counted as ``malformed`` for the question and left
out of its scores (a consolidation function of another shape is reported, not mis-scored).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from gt_common.questions import CHECKBOX_LABELS, Checkbox, Classification, MultiSelect, Question, Spans, YesNo
from local_ground_truth.span_metrics import SpanCounts, count_spans, scores

CHECKED, UNCHECKED = CHECKBOX_LABELS


@dataclass
class QuestionScore:
    question: Question
    pairs: list[tuple[str, Optional[str]]] = field(default_factory=list)  # (true, consolidated) of choice questions
    exact: list[bool] = field(default_factory=list)  # MultiSelect: the set right
    choices: list[bool] = field(default_factory=list)  # MultiSelect: each choice's decision right
    spans: list[SpanCounts] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    malformed: int = 0

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {"kind": self.question.kind, "malformed": self.malformed}
        if isinstance(self.question, Spans):
            result.update(objects=len(self.spans), **scores(self.spans))
        elif isinstance(self.question, MultiSelect):
            result.update(objects=len(self.exact), accuracy=_share(self.exact), choice_accuracy=_share(self.choices))
        else:
            result.update(objects=len(self.pairs), accuracy=_share([a == b for a, b in self.pairs]))
        return result


def _share(flags: Sequence[bool]) -> Optional[float]:
    return sum(flags) / len(flags) if flags else None


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def score_labels(questions: Sequence[Question], labels: Mapping[str, Mapping[str, Any]],
                 truth: Mapping[str, Mapping[str, Any]]) -> dict[str, QuestionScore]:
    """Scores of every question with a truth, over the objects of ``labels`` (object id -> consolidated label)."""
    results = {q.name: QuestionScore(q) for q in questions if isinstance(q, (Classification, YesNo, Checkbox,
                                                                             MultiSelect, Spans))}
    for object_id, label in labels.items():
        expected = truth.get(object_id, {})
        for name, result in results.items():
            if name not in expected:
                continue
            got = label.get(name) if isinstance(label, Mapping) else None
            if not _add(result, expected[name], got):
                result.malformed += 1
    return results


def _add(result: QuestionScore, expected: Any, got: Any) -> bool:
    """Count one object's result; False when ``got`` is not the question's consolidated shape."""
    question = result.question
    if not isinstance(got, Mapping):
        return False
    if isinstance(question, Spans):
        entities = got.get("entities")
        if not isinstance(entities, list) or not all(isinstance(e, Mapping) and {"label", "startOffset", "endOffset"} <= set(e)
                                                      for e in entities):
            return False
        result.spans.append(count_spans(expected, entities))
        result.confidences += [c for c in (_number(e.get("confidence")) for e in entities) if c is not None]
        return True
    if isinstance(question, MultiSelect):
        chosen = got.get("labels")
        if not isinstance(chosen, list):
            return False
        result.exact.append(set(chosen) == set(expected))
        result.choices += [(choice in chosen) == (choice in expected) for choice in question.choices]
        confidence = got.get("confidence")
        if isinstance(confidence, Mapping):
            result.confidences += [c for c in (_number(confidence.get(label)) for label in chosen) if c is not None]
        return True
    if "label" not in got or not (got["label"] is None or isinstance(got["label"], str)):
        return False
    true_label = (CHECKED if expected else UNCHECKED) if isinstance(question, Checkbox) else expected
    result.pairs.append((true_label, got["label"]))
    if (confidence := _number(got.get("confidence"))) is not None:
        result.confidences.append(confidence)
    return True
