"""A consolidation response within Lambda's 6 MB (gt_common.response_size): a larger one fails the whole
invocation on AWS, every object of the batch with it, with a message that names none."""
from __future__ import annotations

import json

import pytest

import workflows
from consolidation import handler
from gt_common import response_size
from gt_common.response_size import ResponseTooLarge
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import answered_by, configure, invoke

WELDING = workflows.definition("welding")
LABEL = WELDING.label_attribute_name
QUESTION = WELDING.questions[0].name
LABELS = [label for label in WELDING.questions[0].labels if label != WELDING.questions[0].abstain]


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    configure(monkeypatch, WELDING.questions)
    yield
    handler.s3_client.cache_clear()


def batch(objects: int) -> list[dict]:
    """Three workers answer each object, two alike: the worker model decides each with evidence."""
    return [answered_by(i, {w: {QUESTION: {"label": LABELS[(i + (w == "c")) % len(LABELS)]}} for w in "abc"})
            for i in range(objects)]


def test_a_batch_within_the_limit_is_answered_as_it_is(s3, bucket):
    response = invoke(s3, bucket, batch(30), label=LABEL)
    assert len(response) == 30 and response_size.size_of(response) < response_size.MAX_RESPONSE_BYTES
    assert all("evidence" in item["consolidatedAnnotation"]["content"][LABEL][QUESTION] for item in response)


def test_labels_over_the_limit_with_evidence_are_sent_without_it(s3, bucket, monkeypatch, caplog):
    whole = invoke(s3, bucket, batch(30), label=LABEL, output="twin/annotations")  # the same batch, a job apart
    without = [json.loads(json.dumps(item)) for item in whole]
    for item in without:
        del item["consolidatedAnnotation"]["content"][LABEL][QUESTION]["evidence"]
    monkeypatch.setattr(response_size, "MAX_RESPONSE_BYTES", response_size.size_of(without))

    response = invoke(s3, bucket, batch(30), label=LABEL)

    assert response == without  # labels and confidences as they were; only the evidence is left out
    assert f"the labels of 30 objects pass Lambda's {response_size.size_of(without)}-byte response with the worker " \
        "model's evidence (by object " in caplog.text


def test_labels_over_the_limit_without_evidence_fail_at_once_saying_how_large(s3, bucket, monkeypatch):
    monkeypatch.setattr(response_size, "MAX_RESPONSE_BYTES", 1_000)
    with pytest.raises(ResponseTooLarge, match=r"the labels of this batch's 30 objects pass the 1000 bytes Lambda "
                                               r"returns from one invocation by object \d+ of them"):
        invoke(s3, bucket, batch(30), label=LABEL)


@pytest.mark.parametrize("objects", [0, 1, 7])
def test_a_response_is_measured_as_the_runtime_writes_it(objects):
    labels = [{"datasetObjectId": str(i), "consolidatedAnnotation": {"content": {"x": {"é": [i, None]}}}}
              for i in range(objects)]
    exact = response_size.size_of(labels)
    assert response_size.fitted(labels, limit=exact) == labels  # exactly at the limit: sent
    if objects:
        with pytest.raises(ResponseTooLarge):
            response_size.fitted(labels, limit=exact - 1)


def test_entries_of_any_shape_are_measured_and_kept():
    odd = [{"datasetObjectId": "1"}, {"consolidatedAnnotation": {"content": {"x": 5}}}, "not an entry"]
    assert response_size.fitted(odd) == odd
    with pytest.raises(ResponseTooLarge) as refused:
        response_size.fitted(odd, limit=10)
    assert refused.value.response == odd


def test_a_multi_selects_evidence_per_choice_is_left_out_over_the_limit_too(s3, bucket, monkeypatch):
    """A MultiSelect keeps each decided choice's evidence under its own ``evidence``: the same rule drops it."""
    from gt_common.questions import MultiSelect

    marks = MultiSelect(name="marks", choices=("a", "b", "c"))
    configure(monkeypatch, [marks], "dawid-skene")
    entries = [answered_by(i, {w: {"marks": {"labels": ["a", "c"][: 1 + (i + (w == "c")) % 2]}} for w in "abc"})
               for i in range(30)]
    whole = invoke(s3, bucket, entries, label=LABEL, output="twin/annotations")
    assert all(set(item["consolidatedAnnotation"]["content"][LABEL]["marks"]["evidence"]) == {"a", "b", "c"}
               for item in whole)
    without = [json.loads(json.dumps(item)) for item in whole]
    for item in without:
        del item["consolidatedAnnotation"]["content"][LABEL]["marks"]["evidence"]
    monkeypatch.setattr(response_size, "MAX_RESPONSE_BYTES", response_size.size_of(without))

    assert invoke(s3, bucket, entries, label=LABEL) == without
