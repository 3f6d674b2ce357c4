"""Corrupt job state never fails a batch and never hides the good files.

Every reader of the job's state (the worker memory of every question type, the quality statistics)
reads the job's snapshot strictly and checks it, and, when there is no snapshot (a job started before
snapshots) or it is corrupt, each batch's record once; a record that fails is logged by name and left
out, the other records still count, a corrupt snapshot is rebuilt from them, and the batch is answered.
"""
from __future__ import annotations

import json
import logging
import re

import pytest

import workflows
from consolidation import handler
from gt_common import job_state, worker_model
from gt_common.job_quality import check_statistics
from gt_common.job_state import JobState
from gt_common.limits import MAX_OBJECTS_PER_JOB
from gt_common.quality_report import batch_statistics
from gt_common.span_reliability import MAX_SPANS_PER_JOB
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import REQUESTS, STATE, WORKER_MODEL, answered_by, configure, logged, run
from workflows.welding import BURN_THROUGH, CONTAMINATION, GOOD_WELD, LACK_OF_FUSION

SNAPSHOTS = f"{STATE}/snapshots"

LABEL = "label"
CLASSES = [GOOD_WELD, BURN_THROUGH, CONTAMINATION, LACK_OF_FUSION]
WORKERS_PER_OBJECT = 5


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def run_batch(s3, bucket, workflow, entries, batch_name, monkeypatch, method=None):
    """One batch through the function configured as ``workflow``'s stack does (default: Dawid-Skene)."""
    configure(monkeypatch, workflows.definition(workflow).questions, method)
    return run(s3, bucket, entries, label=LABEL, batch=batch_name, workers_per_object=WORKERS_PER_OBJECT)


def weld(label):
    return {"WeldingClassification": {"label": label}}


def expert_batch(n):
    """Experts a, b, c right on every run; spammers s1, s2 say "Good Weld" to everything."""
    return [answered_by(i, {"a": weld(CLASSES[1 + i % 3]), "b": weld(CLASSES[1 + i % 3]), "c": weld(CLASSES[1 + i % 3]),
                            "s1": weld("Good Weld"), "s2": weld("Good Weld")}) for i in range(n)]


LONE = [answered_by("y", {"a": weld("Lack of Fusion"), "s1": weld("Good Weld"), "s2": weld("Good Weld")})]
WELDING_BOUNDS = {"WeldingClassification": MAX_OBJECTS_PER_JOB}


def entry(workers=None, classes=None):
    return {"workers": workers if workers is not None else {"s1": {"Good Weld": {"Good Weld": 3.0}}},
            "classes": classes if classes is not None else {"Good Weld": 3.0}}


def model(workers=None, classes=None, **overrides):
    """A worker-memory file (version 2) with one entry, WeldingClassification's."""
    return {"version": 2, "questions": {"WeldingClassification": entry(workers, classes)}, **overrides}


CORRUPT_WORKER_MODELS = [
    (b'{"version": 2, "questions": {"WeldingClassification": {"workers": {"a": {"Good Weld": {"Good Weld": Infinity}}},'
     b' "classes": {}}}}', "Infinity is not a JSON number"),
    (b'{"version": 2, "questions": {"WeldingClassification": {"workers": {"a": {"Good Weld": {"Good Weld": 1e999}}},'
     b' "classes": {}}}}', "out of range"),
    (b'{"version": 2, "questions": {"x": {"workers": {"a": {"Good Weld": {"Good Weld": NaN}}}}}}',
     "NaN is not a JSON number"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": -5}}})).encode(), "is negative"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": 1e300}}})).encode(), "more than a Ground Truth job can hold"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": 10 ** 400}}})).encode(), "more than a Ground Truth job"),
    # A worker answers each object once: no count of theirs can pass the objects a job holds.
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": MAX_OBJECTS_PER_JOB + 1}}})).encode(),
     "WeldingClassification: count of worker 's1' is above 100,000"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": "5"}}})).encode(), "is str, not a number"),
    (json.dumps(model({"s1": {"Good Weld": {"Good Weld": True}}})).encode(), "is bool, not a number"),
    (json.dumps(model({"s1": [[1, 0], [0, 1]]})).encode(), "is list, not an object"),
    (json.dumps(model({"s1": {"Good Weld": 4}})).encode(), "is int, not an object"),
    (json.dumps(model(classes={"Good Weld": float("inf")})).encode(), "Infinity is not a JSON number"),
    (json.dumps(model(classes={"Good Weld": 10 ** 6})).encode(), "WeldingClassification: class count 'Good Weld'"),
    (json.dumps(model(version=1)).encode(), "version is 1"),  # the per-question files before issue 9
    (json.dumps({"version": 2, "questions": [entry()]}).encode(), "questions is list, not an object"),
    (json.dumps({"version": 2}).encode(), "questions is NoneType"),
    (json.dumps({"version": 2, "questions": {"WeldingClassification": [1]}}).encode(), "is list, not an object"),
    (json.dumps({"version": 2, "questions": {"WeldingClassification": {"workers": {}}}}).encode(),
     "WeldingClassification: classes is NoneType"),
    (b"[" * 100_000, "nested too deeply"),
    (b"\xff\xfe{not utf-8", "not valid JSON"),
    (b'{"version": 2, "questions": "\xe9"}', "not UTF-8"),
    (b"[1, 2, 3]", "is list, not an object"),
    (b"", "not valid JSON"),
]


def drop_snapshots(s3, bucket):
    """Leave only the batches' records: the state of a job started before snapshots."""
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"{SNAPSHOTS}/").get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])


def corrupt_snapshot(s3, bucket, kind, body):
    """The job's snapshot of ``kind`` holding ``body`` as its total, byte for byte (or as itself, when it
    is no JSON object or list)."""
    wrapped = body
    if body[:1] in (b"{", b"["):
        wrapped = (f'{{"version": {job_state.SNAPSHOT_VERSION}, "kind": "{kind}", "batches": 1, "pending": {{}}, '
                   f'"total": ').encode() + body + b"}"
    s3.put_object(Bucket=bucket, Key=f"{SNAPSHOTS}/{kind}.json", Body=wrapped)


@pytest.mark.parametrize("body, problem", CORRUPT_WORKER_MODELS)
def test_a_corrupt_worker_model_record_is_skipped_and_the_good_ones_still_count(s3, bucket, caplog, monkeypatch,
                                                                                 body, problem):
    """A job started before snapshots: its records are read once, the corrupt one left out."""
    caplog.set_level(logging.WARNING)
    run_batch(s3, bucket, "welding", expert_batch(15), "2026-01-01_00:01:00", monkeypatch)  # shows who is reliable
    drop_snapshots(s3, bucket)
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/corrupt.json", Body=body)
    result = run_batch(s3, bucket, "welding", LONE, "2026-01-01_00:02:00", monkeypatch)
    # Alone, this batch would follow the two spammers; the good earlier record makes it follow the expert.
    assert result["y"]["WeldingClassification"]["label"] == "Lack of Fusion"
    assert logged(caplog, "ignoring state file", "corrupt.json", problem), caplog.messages


@pytest.mark.parametrize("body, problem", CORRUPT_WORKER_MODELS)
def test_a_corrupt_worker_model_snapshot_is_rebuilt_from_the_records(s3, bucket, caplog, monkeypatch, body, problem):
    caplog.set_level(logging.WARNING)
    run_batch(s3, bucket, "welding", expert_batch(15), "2026-01-01_00:01:00", monkeypatch)
    corrupt_snapshot(s3, bucket, worker_model.KIND, body)
    result = run_batch(s3, bucket, "welding", LONE, "2026-01-01_00:02:00", monkeypatch)
    assert result["y"]["WeldingClassification"]["label"] == "Lack of Fusion"
    assert logged(caplog, "snapshot", "worker-model.json is unusable", problem, "rebuilding"), caplog.messages
    snapshot = json.loads(s3.get_object(Bucket=bucket, Key=f"{SNAPSHOTS}/worker-model.json")["Body"].read())
    assert snapshot["batches"] == 2 and snapshot["pending"] == {}  # rebuilt, then this batch added


def test_an_inf_state_file_from_an_earlier_batch_fails_no_later_batch(s3, bucket, caplog, monkeypatch):
    """The case measured before issue 8: a state file holding inf failed every later batch. Now it is
    read once, when the first snapshot is built, and left out of it."""
    body = (b'{"version": 2, "questions": {"WeldingClassification": '
            b'{"workers": {"a": {"Good Weld": {"Good Weld": 1e999}}}, "classes": {"Good Weld": 1e999}}}}')
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/earlier.json", Body=body)
    for minute in range(3):
        result = run_batch(s3, bucket, "welding", expert_batch(3), f"2026-01-01_00:0{minute}:00", monkeypatch)
        assert len(result) == 3 and all(r["WeldingClassification"]["label"] for r in result.values())
    assert sum("earlier.json" in message and "out of range" in message for message in caplog.messages) == 1


@pytest.mark.parametrize("value", [model(), model({}, {}), model({"a": {}}, {"Not a class any more": 2}),
                                   # an entry this batch does not use is neither read nor checked
                                   {"version": 2, "questions": {"retired question": "anything"}}])
def test_a_sound_worker_model_passes_the_check(value):
    worker_model.check_file(value, WELDING_BOUNDS)


def test_an_entry_the_batch_does_not_use_is_not_read():
    entries = worker_model.check_file({"version": 2, "questions": {"WeldingClassification": entry(),
                                                                   "other": entry()}}, WELDING_BOUNDS)
    assert list(entries) == ["WeldingClassification"]
    assert entries["WeldingClassification"].workers == {"s1": {"Good Weld": {"Good Weld": 3.0}}}


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
    (set_in(["pair_counts", "1"], [[0] * 4] * 4), "pair_counts key '1' is not a number of answers (2 to 3)"),
    (set_in(["pair_counts", "2"], [[10 ** 12] * 4] * 4), "pair_counts[2] is above"),
    (set_in(["fleiss", "2", "category_sums"], [1, 2]), "is not a list of 4 counts"),
    (set_in(["fleiss", "3"], "x"), "fleiss[3] is str, not an object"),
    (set_in(["fleiss"], []), "fleiss is list, not an object"),
]


@pytest.mark.parametrize("change, problem", CORRUPT_STATISTICS)
def test_corrupt_quality_statistics_are_named(change, problem):
    check_statistics(statistics(), CLASSES, 3)  # the sound original passes
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_statistics(mutated(change), CLASSES, 3)


def test_quality_statistics_are_bounded_by_the_jobs_workers_per_object():
    """Objects of o2 have 3 answers: a job of 2 workers per object cannot have produced them."""
    with pytest.raises(ValueError, match=re.escape("rater_counts key '3' is not a number of answers (1 to 2)")):
        check_statistics(statistics(), CLASSES, 2)


def test_a_corrupt_quality_file_is_left_out_of_the_report_and_the_others_kept(s3, bucket, caplog, monkeypatch):
    run_batch(s3, bucket, "welding", expert_batch(6), "2026-01-01_00:00:00", monkeypatch, "majority-vote")
    drop_snapshots(s3, bucket)  # a job started before snapshots: every batch's record is read once
    folder = f"{STATE}/quality-WeldingClassification"
    (good_key,) = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]]
    good = json.loads(s3.get_object(Bucket=bucket, Key=good_key)["Body"].read())
    good["pair_counts"]["1"] = good["pair_counts"].pop("5")  # weighted by 1 / (m - 1): a division by zero
    s3.put_object(Bucket=bucket, Key=f"{folder}/bad-pairs.json", Body=json.dumps(good).encode())
    s3.put_object(Bucket=bucket, Key=f"{folder}/bad-inf.json", Body=b'{"version": 1, "objects": Infinity}')
    run_batch(s3, bucket, "welding", expert_batch(4), "2026-01-01_00:01:00", monkeypatch, "majority-vote")
    report_key = "job/quality-report/WeldingClassification.json"
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    assert report["batches"] == 2 and report["objects"] == 10  # this batch and the good earlier one
    assert logged(caplog, "bad-pairs.json", "pair_counts key '1'")
    assert logged(caplog, "bad-inf.json", "Infinity is not a JSON number")


def test_without_the_workers_per_object_the_report_covers_this_batch_alone(s3, bucket, caplog, monkeypatch):
    run_batch(s3, bucket, "welding", expert_batch(6), "2026-01-01_00:00:00", monkeypatch)
    configure(monkeypatch, workflows.definition("welding").questions)
    run(s3, bucket, expert_batch(4), label=LABEL, batch="2026-01-01_00:01:00", workers_per_object=None)
    report = json.loads(s3.get_object(Bucket=bucket, Key="job/quality-report/WeldingClassification.json")["Body"].read())
    assert report["batches"] == 1 and report["objects"] == 4
    assert logged(caplog, "covers this batch only", "no maxHumanWorkersPerDataObject")


def test_statistics_no_later_batch_could_accept_are_not_saved(s3, bucket, caplog, monkeypatch):
    """An object answered by more workers than the job asks for (Ground Truth never sends one): its
    batch is labelled, but its quality statistics are not saved for later batches to refuse."""
    configure(monkeypatch, workflows.definition("welding").questions)
    result = run(s3, bucket, expert_batch(2), label=LABEL, workers_per_object=3)
    assert [r["workers"] for r in result.values()] == [5, 5]
    assert logged(caplog, "object 0 has answers from 5 workers, more than the job's 3 workers per object")
    assert logged(caplog, "quality statistics of WeldingClassification are not saved", "rater_counts key '5'")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{STATE}/quality-WeldingClassification/")
    assert listed.get("KeyCount") == 0


def spans_model(workers, classes=None):
    return {"version": 2, "questions": {"abstract": {"workers": workers, "classes": classes or {}}}}


CORRUPT_SPAN_MODELS = [
    (spans_model({"d": {"span": {"span": float("inf")}}}), "Infinity"),
    (spans_model({"d": {"span": {"span": -1}}}), "abstract: count of worker 'd' is negative"),
    (spans_model({"d": {"none": {"span": 1e300}}}), "abstract: count of worker 'd' is above"),
    (spans_model({"d": {"span": {"none": "2"}}}), "is str, not a number"),
    (spans_model({"d": [1, 0, 0]}), "is list, not an object"),
    (spans_model([]), "workers is list"),
    (spans_model({}, {"span": -3}), "abstract: class count 'span' is negative"),
    ({"version": 1, "workers": {}}, "version is 1"),
]


def ner_form(entities, good):
    return {"abstract": json.dumps({"entities": entities}), "isGoodAbstract": json.dumps({"label": good})}


def span(label, start, end):
    return {"label": label, "startOffset": start, "endOffset": end}


@pytest.mark.parametrize("value, problem", CORRUPT_SPAN_MODELS)
def test_a_corrupt_span_model_file_is_skipped_and_the_good_ones_still_count(s3, bucket, caplog, monkeypatch,
                                                                           value, problem):
    careful = ner_form([span("Methods", 0, 40), span("Results", 41, 90)], "Yes")
    careless = ner_form([span("Conclusions", 100, 140)], "No")
    history = [answered_by(i, {"a": careful, "b": careful, "c": careful, "d": careless, "e": careless})
               for i in range(12)]
    run_batch(s3, bucket, "ner", history, "2026-01-01_00:01:00", monkeypatch)
    drop_snapshots(s3, bucket)
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/corrupt.json", Body=json.dumps(value).encode())
    lone = [answered_by("z", {"a": ner_form([span("Methods", 0, 40)], "Yes"), "d": careless, "e": careless})]
    result = run_batch(s3, bucket, "ner", lone, "2026-01-01_00:02:00", monkeypatch)["z"]
    # the good history still weighs d and e down
    assert [e["label"] for e in result["abstract"]["entities"]] == ["Methods"]
    assert logged(caplog, "ignoring state file", "corrupt.json", problem), caplog.messages
    with pytest.raises(ValueError):
        worker_model.check_file(json.loads(json.dumps(value)), {"abstract": MAX_SPANS_PER_JOB})


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


def test_state_in_a_bucket_that_does_not_exist_never_fails_the_batch(s3, bucket, caplog, monkeypatch):
    """outputConfig names a missing bucket: nothing can be read or saved, every object is still answered."""
    configure(monkeypatch, workflows.definition("welding").questions)
    key = f"{REQUESTS}/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(expert_batch(3)).encode())
    event = {"labelAttributeName": LABEL, "outputConfig": "s3://no-such-output-bucket/job/annotations",
             "maxHumanWorkersPerDataObject": 5, "payload": {"s3Uri": f"s3://{bucket}/{key}"}}
    response = handler.lambda_handler(event, None)
    assert [item["datasetObjectId"] for item in response] == ["0", "1", "2"]
    assert logged(caplog, "snapshot s3://no-such-output-bucket/", "worker-model.json could not be read", "NoSuchBucket")
    assert logged(caplog, "snapshot s3://no-such-output-bucket/", "quality-WeldingClassification.json could not be read")
