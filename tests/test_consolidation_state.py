"""Corrupt job state never fails a batch and never hides the good files.

Every reader of the job's state (the classification worker model, the quality statistics, the
NER span model) reads each earlier batch's file strictly and checks it; a file that fails is
logged by name and left out, the other files still count, and the batch is answered.
"""
from __future__ import annotations

import json
import logging
import re

import pytest

from gt_common import job_state
from gt_common.classification import check_worker_model
from gt_common.job_quality import check_statistics
from gt_common.job_state import JobState
from gt_common.quality_report import batch_statistics
from ner_consolidation import handler as ner_handler
from ner_consolidation.span_reliability import check_span_model
from welding_consolidation import handler as welding_handler

LABEL = "label"
REQUESTS = "job/annotations/consolidated-annotation/consolidation-request/iteration-1"
STATE = "job/annotations/consolidation-state"
CLASSES = ["Good Weld", "Burn Through", "Contamination", "Lack of Fusion"]


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    monkeypatch.delenv("CONSOLIDATION_METHOD", raising=False)
    monkeypatch.delenv("LABEL_CATEGORIES", raising=False)
    monkeypatch.delenv("TASK_RECORDS_URI", raising=False)
    for handler in (welding_handler, ner_handler):
        handler.s3_client.cache_clear()
    yield
    for handler in (welding_handler, ner_handler):
        handler.s3_client.cache_clear()


def run_batch(s3, bucket, handler, entries, batch_name, output="job/annotations"):
    key = f"{REQUESTS}/{batch_name}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    event = {"labelAttributeName": LABEL, "outputConfig": f"s3://{bucket}/{output}",
             "payload": {"s3Uri": f"s3://{bucket}/{key}"}}
    return {item["datasetObjectId"]: item["consolidatedAnnotation"]["content"][LABEL]
            for item in handler.lambda_handler(event, None)}


def answered_by(object_id, forms):
    return {"datasetObjectId": str(object_id), "dataObject": {"source-ref": f"s3://in/{object_id}"},
            "annotations": [{"workerId": w, "annotationData": {"content": json.dumps(f)}} for w, f in forms.items()]}


def weld(label):
    return {"WeldingClassification": {"label": label}}


def expert_batch(n):
    """Experts a, b, c right on every run; spammers s1, s2 say "Good Weld" to everything."""
    return [answered_by(i, {"a": weld(CLASSES[1 + i % 3]), "b": weld(CLASSES[1 + i % 3]), "c": weld(CLASSES[1 + i % 3]),
                            "s1": weld("Good Weld"), "s2": weld("Good Weld")}) for i in range(n)]


LONE = [answered_by("y", {"a": weld("Lack of Fusion"), "s1": weld("Good Weld"), "s2": weld("Good Weld")})]


def logged(caplog, *parts):
    return any(all(part in message for part in parts) for message in caplog.messages)


def model(workers=None, classes=None, **overrides):
    value = {"version": 1, "question": "WeldingClassification",
             "workers": workers if workers is not None else {"s1": {"Good Weld": {"Good Weld": 3.0}}},
             "classes": classes if classes is not None else {"Good Weld": 3.0}}
    return {**value, **overrides}


CORRUPT_WORKER_MODELS = [
    (b'{"version": 1, "question": "WeldingClassification", "workers": {"a": {"Good Weld": {"Good Weld": Infinity}}},'
     b' "classes": {}}', "Infinity is not a JSON number"),
    (b'{"version": 1, "question": "WeldingClassification", "workers": {"a": {"Good Weld": {"Good Weld": 1e999}}},'
     b' "classes": {}}', "out of range"),
    (b'{"version": 1, "workers": {"a": {"Good Weld": {"Good Weld": NaN}}}}', "NaN is not a JSON number"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": -5}}})).encode(), "is negative"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": 1e300}}})).encode(), "more than a Ground Truth job can hold"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": 10 ** 400}}})).encode(), "more than a Ground Truth job"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": "5"}}})).encode(), "is str, not a number"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": True}}})).encode(), "is bool, not a number"),
    (json.dumps(model({"s1": [[1, 0], [0, 1]]})).encode(), "is list, not an object"),
    (json.dumps(model({"s1": {"Good Weld": 4}})).encode(), "is int, not an object"),
    (json.dumps(model(classes={"Good Weld": float("inf")})).encode(), "Infinity is not a JSON number"),
    (json.dumps(model(classes={"Good Weld": 10 ** 6})).encode(), "class count"),
    (json.dumps(model(version=2)).encode(), "version is 2"),
    (json.dumps(model(question="isGoodAbstract")).encode(), "question is 'isGoodAbstract'"),
    (json.dumps({k: v for k, v in model().items() if k != "classes"}).encode(), "classes is NoneType"),
    (b"[" * 100_000, "nested too deeply"),
    (b"\xff\xfe{not utf-8", "not valid JSON"),
    (b'{"version": 1, "question": "\xe9"}', "not UTF-8"),
    (b"[1, 2, 3]", "is list, not an object"),
    (b"", "not valid JSON"),
]


@pytest.mark.parametrize("body, problem", CORRUPT_WORKER_MODELS)
def test_a_corrupt_worker_model_file_is_skipped_and_the_good_ones_still_count(s3, bucket, caplog, body, problem):
    caplog.set_level(logging.WARNING)
    run_batch(s3, bucket, welding_handler, expert_batch(15), "2026-01-01_00:01:00")  # shows who is reliable
    s3.put_object(Bucket=bucket, Key=f"{STATE}/worker-model-WeldingClassification/corrupt.json", Body=body)
    result = run_batch(s3, bucket, welding_handler, LONE, "2026-01-01_00:02:00")
    # Alone, this batch would follow the two spammers; the good earlier file makes it follow the expert.
    assert result["y"]["WeldingClassification"] == "Lack of Fusion"
    assert logged(caplog, "ignoring state file", "corrupt.json", problem), caplog.messages


def test_an_inf_state_file_from_an_earlier_batch_fails_no_later_batch(s3, bucket, caplog):
    """The case measured on main: a state file holding inf failed every later batch."""
    body = (b'{"version": 1, "question": "WeldingClassification",'
            b' "workers": {"a": {"Good Weld": {"Good Weld": 1e999}}}, "classes": {"Good Weld": 1e999}}')
    s3.put_object(Bucket=bucket, Key=f"{STATE}/worker-model-WeldingClassification/earlier.json", Body=body)
    for minute in range(3):
        result = run_batch(s3, bucket, welding_handler, expert_batch(3), f"2026-01-01_00:0{minute}:00")
        assert len(result) == 3 and all(r["WeldingClassification"] for r in result.values())


@pytest.mark.parametrize("value", [model(), model({}, {}), model({"a": {}}, {"Not a class any more": 2})])
def test_a_sound_worker_model_passes_the_check(value):
    check_worker_model(value, "WeldingClassification")


def statistics():
    return batch_statistics([("o1", "a", "Good Weld"), ("o1", "b", "Good Weld"), ("o2", "a", "Burn Through"),
                             ("o2", "b", "Good Weld"), ("o2", "c", "Good Weld")],
                            {"o1": "Good Weld", "o2": "Good Weld"}, CLASSES)


def mutated(change):
    stats = json.loads(json.dumps(statistics()))
    change(stats)
    return stats


def set_in(path, value):
    def change(stats):
        target = stats
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


CORRUPT_STATISTICS = [
    (set_in(["objects"], -1), "objects is negative"),
    (set_in(["answers"], 10 ** 12), "answers is above"),
    (set_in(["answers"], 2.0), "answers is not an integer"),
    (set_in(["workers", "a", "answers"], True), "is bool, not a number"),
    (set_in(["workers", "a", "confusion"], [[1, 2], [3, 4]]), "confusion of worker 'a' is not a 4 x 4 matrix"),
    (set_in(["workers", "a", "confusion", 0, 0], -3), "confusion of worker 'a' is negative"),
    (set_in(["workers", "a"], [1]), "worker 'a' is list, not an object"),
    (set_in(["classes"], ["Good Weld", "Burn Through"]), "classes are not this batch's classes"),
    (set_in(["version"], 7), "version is 7"),
    (set_in(["consolidated_label_counts", "Porosity"], 1), "names a class that is not one of the classes"),
    (set_in(["rater_counts", "two"], 1), "rater_counts key 'two' is not a number of answers"),
    (set_in(["rater_counts", "02"], 1), "rater_counts key '02'"),
    (set_in(["pair_counts", "1"], [[0] * 4] * 4), "pair_counts key '1' is not a number of answers (at least 2)"),
    (set_in(["pair_counts", "2"], [[10 ** 12] * 4] * 4), "pair_counts[2] is above"),
    (set_in(["fleiss", "2", "category_sums"], [1, 2]), "is not a list of 4 counts"),
    (set_in(["fleiss", "3"], "x"), "fleiss[3] is str, not an object"),
    (set_in(["fleiss"], []), "fleiss is list, not an object"),
]


@pytest.mark.parametrize("change, problem", CORRUPT_STATISTICS)
def test_corrupt_quality_statistics_are_named(change, problem):
    check_statistics(statistics(), CLASSES)  # the sound original passes
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_statistics(mutated(change), CLASSES)


def test_a_corrupt_quality_file_is_left_out_of_the_report_and_the_others_kept(s3, bucket, caplog, monkeypatch):
    monkeypatch.setenv("CONSOLIDATION_METHOD", "majority-vote")
    run_batch(s3, bucket, welding_handler, expert_batch(6), "2026-01-01_00:00:00")
    folder = f"{STATE}/quality-WeldingClassification"
    (good_key,) = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]]
    good = json.loads(s3.get_object(Bucket=bucket, Key=good_key)["Body"].read())
    good["pair_counts"]["1"] = good["pair_counts"].pop("5")  # weighted by 1 / (m - 1): a division by zero
    s3.put_object(Bucket=bucket, Key=f"{folder}/bad-pairs.json", Body=json.dumps(good).encode())
    s3.put_object(Bucket=bucket, Key=f"{folder}/bad-inf.json", Body=b'{"version": 1, "objects": Infinity}')
    run_batch(s3, bucket, welding_handler, expert_batch(4), "2026-01-01_00:01:00")
    report_key = "job/quality-report/WeldingClassification.json"
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    assert report["batches"] == 2 and report["objects"] == 10  # this batch and the good earlier one
    assert logged(caplog, "bad-pairs.json", "pair_counts key '1'")
    assert logged(caplog, "bad-inf.json", "Infinity is not a JSON number")


CORRUPT_SPAN_MODELS = [
    ({"version": 1, "workers": {"d": {"spans": float("inf"), "matched": 0, "missed": 0}}}, "Infinity"),
    ({"version": 1, "workers": {"d": {"spans": -1, "matched": 0, "missed": 0}}}, "spans is negative"),
    ({"version": 1, "workers": {"d": {"spans": 1e300, "matched": 0, "missed": 0}}}, "spans is above"),
    ({"version": 1, "workers": {"d": {"spans": 1, "matched": 5, "missed": 0}}}, "matched more spans than it has"),
    ({"version": 1, "workers": {"d": {"spans": 1, "matched": 0}}}, "missed is NoneType"),
    ({"version": 1, "workers": {"d": [1, 0, 0]}}, "is list, not an object"),
    ({"version": 1, "workers": []}, "workers is list"),
    ({"version": 2, "workers": {}}, "version is 2"),
]


def ner_form(entities, good):
    return {"abstract": json.dumps({"entities": entities}), "isGoodAbstract": json.dumps({"label": good})}


def span(label, start, end):
    return {"label": label, "startOffset": start, "endOffset": end}


@pytest.mark.parametrize("value, problem", CORRUPT_SPAN_MODELS)
def test_a_corrupt_span_model_file_is_skipped_and_the_good_ones_still_count(s3, bucket, caplog, value, problem):
    careful = ner_form([span("Methods", 0, 40), span("Results", 41, 90)], "Yes")
    careless = ner_form([span("Conclusions", 100, 140)], "No")
    history = [answered_by(i, {"a": careful, "b": careful, "c": careful, "d": careless, "e": careless})
               for i in range(12)]
    run_batch(s3, bucket, ner_handler, history, "2026-01-01_00:01:00")
    s3.put_object(Bucket=bucket, Key=f"{STATE}/worker-model-spans/corrupt.json", Body=json.dumps(value).encode())
    lone = [answered_by("z", {"a": ner_form([span("Methods", 0, 40)], "Yes"), "d": careless, "e": careless})]
    result = run_batch(s3, bucket, ner_handler, lone, "2026-01-01_00:02:00")["z"]
    assert [e["label"] for e in result["entities"]] == ["Methods"]  # the good history still weighs d and e down
    assert logged(caplog, "ignoring state file", "corrupt.json", problem), caplog.messages
    with pytest.raises(ValueError):
        check_span_model(json.loads(json.dumps(value)))


def test_an_oversized_state_file_is_skipped_unread(s3, bucket, caplog, monkeypatch):
    state = JobState(bucket, "job/annotations/consolidation-state/", "this-batch")
    s3.put_object(Bucket=bucket, Key=state.key("kind", "small"), Body=b'{"n": 1}')
    s3.put_object(Bucket=bucket, Key=state.key("kind", "large"), Body=b'{"n": 2, "pad": "' + b"x" * 200 + b'"}')
    monkeypatch.setattr(job_state, "MAX_STATE_FILE_BYTES", 100)
    assert list(state.earlier_batches(s3, "kind")) == [{"n": 1}]
    assert logged(caplog, "large.json", "over the 100-byte limit")


class FailingS3:
    """The real client, except for the operations this test makes fail."""

    def __init__(self, client, *, list_fails=False, failing_key=None):
        self.client, self.list_fails, self.failing_key = client, list_fails, failing_key

    def get_paginator(self, name):
        if self.list_fails:
            raise ConnectionError("listing refused")
        return self.client.get_paginator(name)

    def get_object(self, **kwargs):
        if kwargs["Key"] == self.failing_key:
            raise TimeoutError("read timed out")
        return self.client.get_object(**kwargs)


def test_a_state_file_that_cannot_be_read_is_skipped_and_a_failed_listing_is_not_fatal(s3, bucket, caplog):
    state = JobState(bucket, "job/annotations/consolidation-state/", "this-batch")
    for name in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=state.key("kind", name), Body=json.dumps({"n": name}).encode())
    flaky = FailingS3(s3, failing_key=state.key("kind", "b"))
    assert [value["n"] for value in state.earlier_batches(flaky, "kind")] == ["a", "c"]
    assert logged(caplog, "b.json", "TimeoutError: read timed out")
    assert list(state.earlier_batches(FailingS3(s3, list_fails=True), "kind")) == []
    assert logged(caplog, "could not list state", "ConnectionError")


def test_state_in_a_bucket_that_does_not_exist_never_fails_the_batch(s3, bucket, caplog):
    """outputConfig names a missing bucket: nothing can be read or saved, every object is still answered."""
    key = f"{REQUESTS}/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(expert_batch(3)).encode())
    event = {"labelAttributeName": LABEL, "outputConfig": "s3://no-such-output-bucket/job/annotations",
             "payload": {"s3Uri": f"s3://{bucket}/{key}"}}
    response = welding_handler.lambda_handler(event, None)
    assert [item["datasetObjectId"] for item in response] == ["0", "1", "2"]
    assert logged(caplog, "could not list state s3://no-such-output-bucket/")
    assert logged(caplog, "state file s3://no-such-output-bucket/", "not saved")
