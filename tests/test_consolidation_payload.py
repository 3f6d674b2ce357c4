"""gt_common.consolidation: reading a consolidation payload whatever its answers hold.

Every bad answer is skipped with a log line naming its object, its worker and the problem; the
object's other answers, and every other object, are kept. One answer per worker per object (the
last in payload order), one entry per object.
"""
from __future__ import annotations

import json
import logging

import pytest

from gt_common import strict_json
from gt_common.consolidation import (
    DataObjectAnswers,
    WorkerAnswer,
    consolidate_batch_event,
    read_answers,
    read_each,
    workers_per_object,
)
from gt_common.s3uri import InputError

GOOD = {"WeldingClassification": {"label": "Good Weld"}}
PAYLOAD_KEY = "job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"


def annotation(worker, data):
    return {"workerId": worker, "annotationData": data}


def content(value):
    return {"content": value if isinstance(value, str) else json.dumps(value)}


def object_entry(object_id, *annotations, data_object=None):
    return {"datasetObjectId": object_id, "dataObject": data_object or {"s3Uri": f"s3://in/{object_id}.jpg"},
            "annotations": list(annotations)}


def read_one(s3, bad_annotation_data):
    """One object: worker ``good`` answers properly, worker ``bad`` sends ``bad_annotation_data``."""
    (item,) = read_answers([object_entry("7", annotation("good", content(GOOD)),
                                         annotation("bad", bad_annotation_data))], s3)
    return item


def logged(caplog, *parts):
    return any(all(part in message for part in parts) for message in caplog.messages)


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("bad, problem", [
    (content(DEEP), "nested too deeply to parse"),  # RecursionError inside json.loads
    (content("[" * 200 + "]" * 200), "nested more than 64 levels"),  # parses, but too deep to walk safely
    (content('{"WeldingClassification": {"label": NaN}}'), "NaN is not a JSON number"),
    (content('{"x": Infinity}'), "Infinity is not a JSON number"),
    (content('{"x": -Infinity}'), "-Infinity is not a JSON number"),
    (content('{"x": 1e999}'), "number 1e999 is out of range"),
    (content('{"x": ' + "9" * 5000 + "}"), "holds an integer of more than 4300 digits"),  # Python's digit limit
    (content("{not json"), "is not valid JSON"),
    (content('"a string"'), "is not a JSON object"),
    (content("[1, 2]"), "is not a JSON object"),
    ({"content": 5}, "is not a JSON object"),
    ({"content": {"x": float("nan")}}, "non-finite number"),  # an inline object is checked the same way
    ({"content": None}, "is not a JSON object"),
    (["content"], "annotationData is not an object"),
    ({}, "neither content nor s3Uri"),
    ({"s3Uri": "https://example.com/a.json"}, "is not an S3 URI"),
    ({"s3Uri": "s3://no such bucket/a.json"}, "ParamValidationError"),  # botocore refuses it before any request
])
def test_a_bad_answer_is_skipped_and_named(s3, caplog, bad, problem):
    caplog.set_level(logging.WARNING)
    item = read_one(s3, bad)
    assert [a.worker_id for a in item.answers] == ["good"]
    assert len(item.skipped) == 1 and problem in item.skipped[0]
    assert logged(caplog, "object 7, worker bad", problem), caplog.messages


@pytest.mark.parametrize("body, problem", [
    (b'{"WeldingClassification": {"label": "Good \xe9"}}', "is not UTF-8 text"),
    (b"\xff\xfe\xfa not text", "is not valid JSON"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"x": NaN}', "NaN is not a JSON number"),
    (b"", "is not valid JSON"),
])
def test_a_bad_answer_file_is_skipped_and_named(s3, bucket, caplog, body, problem):
    s3.put_object(Bucket=bucket, Key="answers/bad.json", Body=body)
    item = read_one(s3, {"s3Uri": f"s3://{bucket}/answers/bad.json"})
    assert [a.worker_id for a in item.answers] == ["good"]
    assert logged(caplog, "object 7, worker bad", f"s3://{bucket}/answers/bad.json", problem), caplog.messages


def test_an_oversized_answer_file_is_skipped_unread(s3, bucket, caplog, monkeypatch):
    from gt_common import consolidation

    s3.put_object(Bucket=bucket, Key="answers/large.json", Body=json.dumps({"pad": "x" * 500}).encode())
    monkeypatch.setattr(consolidation, "MAX_ANSWER_FILE_BYTES", 100)
    item = read_one(s3, {"s3Uri": f"s3://{bucket}/answers/large.json"})
    assert [a.worker_id for a in item.answers] == ["good"]
    assert logged(caplog, "object 7, worker bad", "over the 100-byte limit")


def test_a_missing_answer_file_is_skipped_and_named(s3, bucket, caplog):
    item = read_one(s3, {"s3Uri": f"s3://{bucket}/answers/missing.json"})
    assert [a.worker_id for a in item.answers] == ["good"]
    assert logged(caplog, "object 7, worker bad", "does not exist")


@pytest.mark.parametrize("bad, problem", [
    ("not an annotation", "has no workerId"),
    ({"annotationData": content(GOOD)}, "has no workerId"),
    ({"workerId": 12, "annotationData": content(GOOD)}, "has no workerId"),
    ({"workerId": "", "annotationData": content(GOOD)}, "has no workerId"),
])
def test_an_annotation_without_a_worker_is_skipped(s3, caplog, bad, problem):
    (item,) = read_answers([object_entry("3", annotation("good", content(GOOD)), bad)], s3)
    assert [a.worker_id for a in item.answers] == ["good"]
    assert logged(caplog, "object 3, worker (none)", problem)


def test_a_worker_answering_twice_counts_once_with_the_last_answer(s3, caplog):
    first, last = {"n": 1}, {"n": 2}
    (item,) = read_answers([object_entry("1", annotation("w", content(first)), annotation("v", content(GOOD)),
                                         annotation("w", content(last)))], s3)
    assert [(a.worker_id, a.form) for a in item.answers] == [("v", GOOD), ("w", last)]
    assert logged(caplog, "object 1, worker w", "annotation 0 is superseded", "later annotation 2")


def test_the_last_answer_counts_even_when_it_is_unusable(s3, caplog):
    """The latest answer is the worker's answer: an unusable one is not replaced by an older one."""
    (item,) = read_answers([object_entry("1", annotation("w", content(GOOD)), annotation("w", content("{bad")))], s3)
    assert item.answers == []
    assert logged(caplog, "object 1, worker w", "superseded")
    assert logged(caplog, "object 1, worker w", "not valid JSON")


def test_entries_repeating_an_object_are_merged_into_one(s3, caplog):
    entries = [
        object_entry("5", annotation("a", content({"n": "a1"})), annotation("b", content({"n": "b1"}))),
        object_entry("6", annotation("a", content({"n": "other object"}))),
        object_entry("5", annotation("a", content({"n": "a2"})), annotation("c", content({"n": "c1"})),
                     data_object={"s3Uri": "s3://in/elsewhere.jpg"}),
    ]
    items = read_answers(entries, s3)
    assert [item.dataset_object_id for item in items] == ["5", "6"]
    merged = items[0]
    assert merged.data_object == {"s3Uri": "s3://in/5.jpg"}  # the first entry's
    assert [(a.worker_id, a.form["n"]) for a in merged.answers] == [("b", "b1"), ("a", "a2"), ("c", "c1")]
    assert logged(caplog, "payload entry 2 repeats object 5", "dataObject differs")


@pytest.mark.parametrize("object_id", [None, "", True, 1.5, {"id": 1}, ["1"]])
def test_an_entry_without_a_usable_object_id_is_logged_and_the_rest_read(s3, caplog, object_id):
    caplog.set_level(logging.ERROR)
    entries = [{"datasetObjectId": object_id, "annotations": []}, object_entry(2, annotation("a", content(GOOD)))]
    items = read_answers(entries, s3)
    assert [item.dataset_object_id for item in items] == ["2"]  # an integer id is answered as text
    assert logged(caplog, "payload entry 0 has no usable datasetObjectId")


def test_an_entry_whose_annotations_are_not_a_list_is_still_an_object(s3, caplog):
    (item,) = read_answers([{"datasetObjectId": "9", "dataObject": "not an object", "annotations": {"a": 1}}], s3)
    assert item.answers == [] and item.data_object == {}
    assert logged(caplog, "object 9", "annotations is missing or not a list")


def test_data_object_answers_hold_one_answer_per_worker_however_built(caplog):
    item = DataObjectAnswers("4", {}, [WorkerAnswer("a", {"n": 1}), WorkerAnswer("b", {}), WorkerAnswer("a", {"n": 2})])
    assert [(a.worker_id, a.form) for a in item.answers] == [("b", {}), ("a", {"n": 2})]
    assert logged(caplog, "object 4, worker a", "superseded")


def test_read_each_skips_an_answer_its_reader_fails_on_whatever_the_error():
    item = DataObjectAnswers("8", {}, [WorkerAnswer("a", {"v": 1}), WorkerAnswer("b", {"v": []}),
                                       WorkerAnswer("c", {"v": 3})])
    results = read_each(item, lambda answer: 10 + answer.form["v"])  # TypeError for b
    assert [(answer.worker_id, value) for answer, value in results] == [("a", 11), ("c", 13)]
    assert len(item.skipped) == 1 and item.skipped[0].startswith("object 8, worker b: TypeError")


def test_one_response_entry_per_object(s3, bucket):
    entries = [object_entry("1", annotation("a", content(GOOD))), object_entry("2"),
               object_entry("1", annotation("b", content(GOOD)))]
    s3.put_object(Bucket=bucket, Key=PAYLOAD_KEY, Body=json.dumps(entries).encode())
    event = {"labelAttributeName": "label", "payload": {"s3Uri": f"s3://{bucket}/{PAYLOAD_KEY}"}}
    seen = []

    def consolidate(items):
        seen.extend((item.dataset_object_id, [a.worker_id for a in item.answers]) for item in items)
        return {item.dataset_object_id: {"workers": len(item.answers)} for item in items}

    response = consolidate_batch_event(event, s3, consolidate)
    assert seen == [("1", ["a", "b"]), ("2", [])]
    assert response == [
        {"datasetObjectId": "1", "consolidatedAnnotation": {"content": {"label": {"workers": 2}}}},
        {"datasetObjectId": "2", "consolidatedAnnotation": {"content": {"label": {"workers": 0}}}},
    ]


@pytest.mark.parametrize("body, problem", [(b"[" * 100_000, "not valid JSON"), (b'{"a": 1}', "not a JSON list")])
def test_an_unreadable_payload_is_a_clear_error(s3, bucket, body, problem):
    s3.put_object(Bucket=bucket, Key=PAYLOAD_KEY, Body=body)
    with pytest.raises(InputError, match=problem):
        consolidate_batch_event({"labelAttributeName": "l", "payload": {"s3Uri": f"s3://{bucket}/{PAYLOAD_KEY}"}},
                                s3, lambda items: {})


def test_strict_json_refuses_a_key_twice_only_when_asked():
    """What a person sends the servers is read with unique_keys (a browser never writes a key twice); payloads keep
    json's last-wins reading, which costs nothing per object."""
    twice = b'{"a": {"b": 1, "b": 2}}'
    with pytest.raises(strict_json.JSONError, match="^names 'b' twice in one object$"):
        strict_json.loads(twice, unique_keys=True)
    assert strict_json.loads(twice) == {"a": {"b": 2}}
    assert strict_json.loads(b'{"a": [{"b": 1}, {"b": 2}]}', unique_keys=True) == {"a": [{"b": 1}, {"b": 2}]}


def test_strict_json_reads_a_lone_surrogate_as_the_replacement_character():
    assert strict_json.loads('{"a\\ud800": ["x\\udfff", {"n": "\\ud83c\\udf0a \\uD83C"}]}') == \
        {"a\ufffd": ["x\ufffd", {"n": "\U0001F30A \ufffd"}]}
    assert strict_json.loads(b'"\\ud800"') == "\ufffd"
    assert strict_json.loads('"\\\\ud800"') == "\\ud800"  # an escaped backslash, then text: kept as it is


def test_strict_json_accepts_ordinary_json_and_refuses_what_python_lets_through():
    assert strict_json.loads('{"a": [1, 2.5, -3e2, "x", null, true]}') == {"a": [1, 2.5, -300.0, "x", None, True]}
    assert strict_json.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # bytes decode as json.loads decodes them
    assert strict_json.loads('{"a": "\u00e9"}'.encode("utf-16")) == {"a": "\u00e9"}
    with pytest.raises(strict_json.JSONError, match="byte order mark"):
        strict_json.loads('\ufeff{"a": 1}')
    for raw in ("NaN", "[Infinity]", "1e400", "-1e400", "[" * 65 + "]" * 65):
        with pytest.raises(strict_json.JSONError):
            strict_json.loads(raw)
    strict_json.check([[[]]], max_depth=3)
    with pytest.raises(strict_json.JSONError, match="nested more than 2 levels"):
        strict_json.check([[[]]], max_depth=2)


@pytest.mark.parametrize("value, expected", [(3, 3), (1, 1), (9, 9), (0, None), (-2, None), (True, None), (3.0, None),
                                             ("3", None), (None, None)])
def test_workers_per_object_is_the_events_positive_integer(caplog, value, expected):
    event = {} if value is None else {"maxHumanWorkersPerDataObject": value}
    assert workers_per_object(event) == expected
    assert logged(caplog, "no usable maxHumanWorkersPerDataObject") == (expected is None)
