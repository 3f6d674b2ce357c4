"""A batch of real size with a handful of poisoned answers: every other object is consolidated.

1,000 objects x 3 workers through the generic consolidation handler configured with each workflow
(welding, NER), payload, answer files, task records and job state on the local S3 endpoint. The
poisoned answers are the ones measured to sink a whole batch before (deep nesting, NaN/Infinity, numbers out of range, non-UTF-8, offsets past the
text, a worker answering twice, a repeated object, a state file holding inf) plus other hostile
shapes. Each is skipped and named in the log; every object is answered exactly once, with the
label its good answers give.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import workflows
from consolidation import handler
from tests.consolidation_helpers import JOB, WORKER_MODEL, configure
from tests.consolidation_helpers import invoke as invoke_handler
from gt_common.task_record import RECORDS_ENV
from workflows.welding import BURN_THROUGH, CONTAMINATION, GOOD_WELD, LACK_OF_FUSION

OBJECTS = 1_000
WORKERS = ("alice", "bob", "carol")
LABEL = "label"
CATEGORIES = [GOOD_WELD, BURN_THROUGH, CONTAMINATION, LACK_OF_FUSION]
# An earlier batch's worker memory holding inf: read strictly, left out, named in the log.
INF_STATE = (b'{"version": 2, "questions": {"WeldingClassification": {"workers": {"alice": '
             b'{"Good Weld": {"Good Weld": Infinity}}}, "classes": {"Good Weld": 1e999}}, '
             b'"abstract": {"workers": {"alice": {"span": {"span": Infinity}}}, "classes": {}}}}')


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def invoke(s3, bucket, monkeypatch, workflow, entries):
    """The batch through the function as ``workflow``'s stack configures it (default method:
    Dawid-Skene and learned weights)."""
    configure(monkeypatch, workflows.definition(workflow).questions)
    return invoke_handler(s3, bucket, entries, label=LABEL, batch="2026-01-01_00:10:00")


def poison(s3, bucket):
    """{object id: (the annotationData replacing the third worker's answer, what the log must say)}."""
    s3.put_object(Bucket=bucket, Key="answers/latin1.json", Body=b'{"x": "caf\xe9"}')
    s3.put_object(Bucket=bucket, Key="answers/deep.json", Body=b"[" * 200_000)
    return {
        "13": ({"content": "[" * 100_000 + "]" * 100_000}, "nested too deeply"),
        "101": ({"content": '{"x": NaN}'}, "NaN is not a JSON number"),
        "202": ({"content": '{"x": -Infinity}'}, "-Infinity is not a JSON number"),
        "303": ({"content": '{"x": 1e999}'}, "out of range"),
        "404": ({"content": '{"x": ' + "7" * 5_000 + "}"}, "holds an integer of more than 4300 digits"),
        "505": ({"s3Uri": f"s3://{bucket}/answers/latin1.json"}, "not UTF-8"),
        "606": ({"s3Uri": f"s3://{bucket}/answers/deep.json"}, "nested too deeply"),
        "707": ({"s3Uri": "s3://not a bucket/x.json"}, "ParamValidationError"),
        "808": ({"content": 5}, "not a JSON object"),
        "909": (["content"], "annotationData is not an object"),
    }


def build(s3, bucket, good_form):
    """Entries of the batch: every worker answers ``good_form(i)`` except the poisoned ones;
    object 42 lists alice twice (her first answer is junk), object 77 comes in two entries."""
    poisoned = poison(s3, bucket)
    entries = []
    for i in range(OBJECTS):
        object_id = str(i)
        annotations = [{"workerId": w, "annotationData": {"content": json.dumps(good_form(i))}} for w in WORKERS]
        if object_id in poisoned:
            annotations[2]["annotationData"] = poisoned[object_id][0]
        if object_id == "42":
            annotations.insert(0, {"workerId": "alice", "annotationData": {"content": "{junk"}})
        entry = {"datasetObjectId": object_id, "dataObject": {"s3Uri": f"s3://{bucket}/in/{i}"},
                 "annotations": annotations}
        if object_id == "77":
            entries.append({**entry, "annotations": annotations[:1]})
            entry = {**entry, "annotations": annotations[1:]}
        entries.append(entry)
    entries.insert(500, {"dataObject": {}})  # no datasetObjectId: logged, cannot be answered
    return entries, poisoned


def check_logs(caplog, poisoned):
    for object_id, (_, problem) in poisoned.items():
        assert any(f"object {object_id}, worker carol" in m and problem in m
                   for m in caplog.messages), (object_id, problem)
    assert any("object 42, worker alice: annotation 0 is superseded" in m for m in caplog.messages)
    assert any("repeats object 77" in m for m in caplog.messages)
    assert any("ignoring state file" in m and "inf.json" in m for m in caplog.messages)


def test_welding_batch_of_real_size_with_poisoned_answers(s3, bucket, caplog, monkeypatch):
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/inf.json", Body=INF_STATE)
    truth = [CATEGORIES[i % len(CATEGORIES)] for i in range(OBJECTS)]
    entries, poisoned = build(s3, bucket, lambda i: {"WeldingClassification": {"label": truth[i]}})
    started = time.perf_counter()
    response = invoke(s3, bucket, monkeypatch, "welding", entries)
    print(f"welding handler: {time.perf_counter() - started:.1f} s")
    assert [item["datasetObjectId"] for item in response] == [str(i) for i in range(OBJECTS)]
    labels = {item["datasetObjectId"]: item["consolidatedAnnotation"]["content"][LABEL] for item in response}
    assert all(labels[str(i)]["WeldingClassification"]["label"] == truth[i] for i in range(OBJECTS))
    assert {object_id: labels[object_id]["workers"] for object_id in poisoned} == {o: 2 for o in poisoned}
    assert labels["42"]["workers"] == 3 and labels["77"]["workers"] == 3
    check_logs(caplog, poisoned)


def sections(i):
    return [{"label": "Background", "startOffset": 0, "endOffset": 40 + i % 7},
            {"label": "Methods", "startOffset": 50, "endOffset": 120}]


def test_ner_batch_of_real_size_with_poisoned_answers(s3, bucket, caplog, monkeypatch):
    from gt_common.task_record import write_record

    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/records/")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: write_record(s3, {"source-ref": f"s3://{bucket}/in/{i}"}, {"textLength": 150}, JOB),
                      range(OBJECTS)))
    try:
        check_ner_batch(s3, bucket, caplog, monkeypatch)
    finally:  # over a thousand objects: emptied here, in whole pages, before the bucket fixture removes it
        empty(s3, bucket)


def empty(s3, bucket):
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[start:start + 1000]]})


def check_ner_batch(s3, bucket, caplog, monkeypatch):
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/inf.json", Body=INF_STATE)

    def form(i, entities=None):
        return {"abstract": json.dumps({"entities": entities or sections(i)}),
                "isGoodAbstract": json.dumps({"label": "Yes"})}

    entries, poisoned = build(s3, bucket, form)
    # NER-only poison, in carol's answer: offsets past the 150-code-point text, and overlapping spans.
    ner_poison = {
        "111": ({"label": "Results", "startOffset": 130, "endOffset": 10 ** 9}, "reach past the end of the text (150"),
        "222": ({"label": "Results", "startOffset": 2 ** 64, "endOffset": 2 ** 64 + 9}, "reach past the end"),
        "333": ({"label": "Results", "startOffset": 10, "endOffset": 1e9}, "is not an integer"),
        "444": ({"label": "Results", "startOffset": 30, "endOffset": 60}, "overlaps the same worker's Background"),
    }
    for entry in entries:
        if entry.get("datasetObjectId") in ner_poison:
            i = int(entry["datasetObjectId"])
            carol = form(i, sections(i) + [ner_poison[str(i)][0]])
            entry["annotations"][2]["annotationData"] = {"content": json.dumps(carol)}
    started = time.perf_counter()
    response = invoke(s3, bucket, monkeypatch, "ner", entries)
    print(f"NER handler: {time.perf_counter() - started:.1f} s")
    assert [item["datasetObjectId"] for item in response] == [str(i) for i in range(OBJECTS)]
    labels = {item["datasetObjectId"]: item["consolidatedAnnotation"]["content"][LABEL] for item in response}
    for i in range(OBJECTS):
        got = [(e["label"], e["startOffset"], e["endOffset"]) for e in labels[str(i)]["abstract"]["entities"]]
        assert got == [(s["label"], s["startOffset"], s["endOffset"]) for s in sections(i)], i
        assert labels[str(i)]["isGoodAbstract"]["label"] == "Yes"
    assert {object_id: labels[object_id]["workers"] for object_id in poisoned} == {o: 2 for o in poisoned}
    assert all(labels[object_id]["workers"] == 3 for object_id in ner_poison)  # only the bad span was lost
    check_logs(caplog, poisoned)
    for object_id, (_, problem) in ner_poison.items():
        assert any(f"object {object_id}, worker carol" in m and problem in m for m in caplog.messages), object_id
