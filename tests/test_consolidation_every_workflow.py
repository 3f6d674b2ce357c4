"""Every registered workflow through the generic consolidation function, as its stack configures it.

Parametrized over ``workflows.definitions()``, so a new workflow is covered by being defined (and over a workflow
with every question kind the scaffold writes, which the shipped ones do not all have): its
questions are answered in every shape a worker's form can take (the bare value, a template's JSON
string, an element page's one-item list), and each object's label must follow the documented shape
of each question type (``gt_common.workflow_consolidation``) and agree with three workers giving the same answer.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

import workflows
from consolidation import handler
from gt_common import job_confidence
from gt_common.questions import (
    DAWID_SKENE, METHODS, Checkbox, Classification, FreeText, MultiSelect, Question, Spans, YesNo,
)
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import answered_by, configure, run
from workflows import scaffold
from workflows.model import WorkflowDefinition

#: A question of each kind the scaffold offers, as it parses them. Neither shipped workflow has a multi-select
#: question, so the first scaffolded workflow with one failed this test's own shape check, never run here before.
SCAFFOLD_QUESTIONS = ("classification:priority=Low,Medium,High", "yes-no:valid", "checkbox:needs_reply",
                      "multi-select:topics=Billing,Login,Export", "free-text:summary")
EVERY_SCAFFOLD_KIND = WorkflowDefinition(
    name="every_scaffold_kind", title="t", description="d", label_attribute_name="every-scaffold-kind",
    questions=tuple(scaffold.parse_question(spec) for spec in SCAFFOLD_QUESTIONS))
DEFINITIONS = [*workflows.definitions().values(), EVERY_SCAFFOLD_KIND]
OBJECTS = 8


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def answer(question: Question, i: int) -> tuple[Any, Any]:
    """A valid answer to ``question`` on object ``i``, and what the label holds when every worker gives it
    (FreeText: the text)."""
    if isinstance(question, Classification):
        labels = [label for label in question.labels if label != question.abstain]
        label = labels[i % len(labels)]
        return {"label": label}, label
    if isinstance(question, YesNo):
        label = question.labels[i % 2]
        return {"label": label}, label
    if isinstance(question, Checkbox):
        return {question.value: bool(i % 2)}, question.labels[0 if i % 2 else 1]
    if isinstance(question, MultiSelect):
        chosen = [question.choices[i % len(question.choices)]]
        return {"labels": chosen}, chosen
    if isinstance(question, FreeText):
        return f"note {i}", f"note {i}"
    if isinstance(question, Spans):
        entities = [{"label": question.span_labels[i % len(question.span_labels)], "startOffset": 0, "endOffset": 5 + i},
                    {"label": question.span_labels[0], "startOffset": 10 + i, "endOffset": 30}]
        return {"entities": entities}, [(e["label"], e["startOffset"], e["endOffset"]) for e in entities]
    raise AssertionError(f"a question type this test does not know: {question.kind}")


def shaped(value: Any, worker: int, question: Question) -> Any:
    """Worker 0 sends the bare value, worker 1 a JSON string of it (a hidden input), worker 2 a one-item list."""
    if worker == 1 and not isinstance(question, FreeText):
        return json.dumps(value)
    if worker == 2:
        return [value]
    return value


def check_shape(question: Question, value: Any, expected: Any, method: str) -> None:
    # The worker model keeps the evidence the job's confidence is revised from (gt_common.job_confidence): a choice
    # question's, and a MultiSelect's for each choice it decided (each here: every worker answered).
    evidence = {"evidence"} if method == DAWID_SKENE else set()
    if isinstance(question, (Classification, YesNo, Checkbox)):
        assert set(value) == {"label", "confidence", "votes"} | evidence
        assert value["label"] == expected and value["votes"] == {expected: 3}
        assert 0.5 < value["confidence"] <= 1.0
    elif isinstance(question, MultiSelect):
        assert set(value) == {"labels", "confidence", "votes"} | evidence
        if evidence:
            assert set(value["evidence"]) == set(question.choices)
        assert value["labels"] == expected and value["votes"] == {expected[0]: 3}
        assert set(value["confidence"]) == set(question.choices)
        assert all(0.0 <= p <= 1.0 for p in value["confidence"].values())
        assert value["confidence"][expected[0]] > 0.5
    elif isinstance(question, Spans):
        assert set(value) == {"entities"}
        assert [(e["label"], e["startOffset"], e["endOffset"]) for e in value["entities"]] == expected
        assert all(set(e) == {"label", "startOffset", "endOffset", "confidence"} for e in value["entities"])
    elif isinstance(question, FreeText):
        assert value == [{"workerId": f"w{w}", "text": expected} for w in range(3)]


def check_consolidation(s3, bucket, monkeypatch, questions: list[Question], label_attribute: str, method: str) -> None:
    configure(monkeypatch, questions, method)
    entries, expected = [], {}
    for i in range(OBJECTS):
        answers = {question.name: answer(question, i) for question in questions}
        expected[str(i)] = {name: value for name, (_, value) in answers.items()}
        entries.append(answered_by(i, {
            f"w{w}": {question.name: shaped(answers[question.name][0], w, question) for question in questions}
            for w in range(3)}))
    labels = run(s3, bucket, entries, label=label_attribute)
    assert list(labels) == [str(i) for i in range(OBJECTS)]
    for object_id, label in labels.items():
        assert list(label) == [question.name for question in questions] + ["workers"]
        assert label["workers"] == 3
        for question in questions:
            check_shape(question, label[question.name], expected[object_id][question.name], method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
def test_every_workflow_is_consolidated_by_the_generic_function(s3, bucket, monkeypatch, definition, method):
    check_consolidation(s3, bucket, monkeypatch, list(definition.questions), definition.label_attribute_name, method)


def test_every_question_kind_the_scaffold_writes_is_consolidated_here():
    assert {type(question) for question in EVERY_SCAFFOLD_KIND.questions} == set(scaffold.KINDS.values())


def test_the_questions_of_every_workflow_asked_together(s3, bucket, monkeypatch):
    """One function for any mix: every workflow's questions in one form (the first of a repeated name)."""
    questions = {}
    for definition in DEFINITIONS:
        for question in definition.questions:
            questions.setdefault(question.name, question)
    check_consolidation(s3, bucket, monkeypatch, list(questions.values()), "label", "dawid-skene")


def test_a_batch_over_the_evidence_limit_keeps_none_and_one_at_it_keeps_it_on_every_choice(s3, bucket, monkeypatch):
    """Values keep the evidence the job's confidence is read from (``gt_common.job_confidence``) in batches of up to
    MAX_EVIDENCE_OBJECTS objects; a larger batch's values are as they were without it."""
    question = Classification(name="defect", choices=("Good", "Bad", "Not sure"), abstain="Not sure")
    configure(monkeypatch, [question], "dawid-skene")
    entries = [answered_by(i, {f"w{w}": {"defect": {"label": "Good" if (i + w) % 4 else "Bad"}} for w in range(3)})
               for i in range(OBJECTS)]
    monkeypatch.setattr(job_confidence, "MAX_EVIDENCE_OBJECTS", OBJECTS)
    kept = run(s3, bucket, entries)
    assert all(set(value["defect"]) == {"label", "confidence", "votes", "evidence"} for value in kept.values())
    monkeypatch.setattr(job_confidence, "MAX_EVIDENCE_OBJECTS", OBJECTS - 1)
    larger = run(s3, bucket, entries, batch="2026-01-01_00:00:01")  # the same objects, a batch of its own
    assert all(set(value["defect"]) == {"label", "confidence", "votes"} for value in larger.values())
    assert [v["defect"]["label"] for v in larger.values()] == [v["defect"]["label"] for v in kept.values()]
