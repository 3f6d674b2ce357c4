"""A batch read compactly: the payload parsed entry by entry, each distinct form decoded once, choice
answers as index arrays, and still every answer checked on its own (a bad one named with its object and
worker, never sinking the batch)."""
from __future__ import annotations

import json
import logging
import random

import numpy as np
import pytest

import workflows
from gt_common import answers as answers_module
from gt_common import consolidation, strict_json
from gt_common.choices import Answer, consolidate_choice, consolidate_indexed
from gt_common.consolidation import consolidate_answers_event, payload_entries, payload_text, read_batch
from gt_common.s3uri import InputError
from gt_common.workflow_consolidation import _vote_counts, _votes
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import configure, content, logged, run

QUESTION = workflows.definition("welding").questions[0]
PAYLOAD_KEY = "job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"


@pytest.fixture(autouse=True)
def welding(monkeypatch):
    configure(monkeypatch, [QUESTION], "dawid-skene")
    monkeypatch.delenv(RECORDS_ENV, raising=False)


def form(label):
    return {QUESTION.name: {"label": label}}


def entry(object_id, *workers_and_data):
    return {"datasetObjectId": str(object_id), "dataObject": {"source-ref": f"s3://in/{object_id}"},
            "annotations": [{"workerId": worker, "annotationData": data} for worker, data in workers_and_data]}


def event(bucket):
    return {"labelAttributeName": "label", "payload": {"s3Uri": f"s3://{bucket}/{PAYLOAD_KEY}"}}


ENTRIES = [entry(1, ("a", content(form("Good Weld")))), entry(2, ("b", content(form("Burn Through"))))]


@pytest.mark.parametrize("body", [
    json.dumps(ENTRIES).encode(),
    json.dumps(ENTRIES, indent=2).encode(),
    b" \n\t[ " + b" ,\r\n ".join(json.dumps(e).encode() for e in ENTRIES) + b" ]\n ",
    b"\xef\xbb\xbf" + json.dumps(ENTRIES).encode(),  # a UTF-8 byte order mark, as json.loads reads bytes
    json.dumps(ENTRIES).encode("utf-16"),
    b"[]", b" [ ] ",
])
def test_the_payload_is_read_entry_by_entry_as_json_loads_reads_it_whole(s3, bucket, body):
    s3.put_object(Bucket=bucket, Key=PAYLOAD_KEY, Body=body)
    assert list(payload_entries(*payload_text(event(bucket), s3))) == json.loads(body)


@pytest.mark.parametrize("body, problem", [
    (b'[{"datasetObjectId": "1"}, {"datasetObjectId": "2"} x', "Expecting ',' delimiter"),
    (b'[{"datasetObjectId": "1"} {"datasetObjectId": "2"}]', "Expecting ',' delimiter"),
    (b'[{"datasetObjectId": "1"}] [', "Extra data"),
    (b'[{"datasetObjectId": "1"},]', "not valid JSON"),
    (b'[{"datasetObjectId": "1"},', "not valid JSON"),
    (b'[{"datasetObjectId": "1"}', "Expecting ',' delimiter"),
    (b"", "not valid JSON"),
    (b"\xff\xfe\xfd", "not valid JSON"),
    (b'"a list it is not"', "not a JSON list"),
])
def test_a_payload_broken_after_good_entries_fails_the_batch_naming_it_and_answers_nothing(s3, bucket, body,
                                                                                           problem):
    s3.put_object(Bucket=bucket, Key=PAYLOAD_KEY, Body=body)
    decided = []
    with pytest.raises(InputError, match=problem) as raised:
        consolidate_answers_event(event(bucket), s3, lambda batch: decided.append(batch) or {})
    assert f"s3://{bucket}/{PAYLOAD_KEY}" in str(raised.value)
    assert decided == []  # nothing was decided from the entries read before the fault


def test_identical_forms_are_decoded_once_however_many_answers_share_them(s3, bucket, monkeypatch):
    decoded = []
    real = strict_json.loads
    monkeypatch.setattr(consolidation.strict_json, "loads", lambda raw, **kw: decoded.append(raw) or real(raw, **kw))
    labels = ["Good Weld", "Burn Through"]
    entries = [entry(n, *((f"w{w}", content(form(labels[(n + w) % 2]))) for w in range(3))) for n in range(50)]
    batch = read_batch(entries, s3)
    assert sorted(decoded) == sorted({json.dumps(form(label)) for label in labels})  # 150 answers, 2 decodes
    assert len(batch.objects) == 150 and len(batch.forms) == 2
    assert [(a.worker_id, a.form) for a in batch.items()[1].answers] == [
        ("w0", form("Burn Through")), ("w1", form("Good Weld")), ("w2", form("Burn Through"))]


def test_a_bad_form_shared_by_several_answers_is_skipped_for_each_naming_its_object_and_worker(s3, bucket, caplog):
    caplog.set_level(logging.WARNING)
    bad, good = content("{not json"), content(form("Burn Through"))
    labels = run(s3, bucket, [entry(1, ("a", bad), ("b", good), ("c", bad)), entry(2, ("a", good), ("d", bad))])
    for object_id, worker in (("1", "a"), ("1", "c"), ("2", "d")):
        assert logged(caplog, f"object {object_id}, worker {worker}", "is not valid JSON"), caplog.messages
    assert {o: (v[QUESTION.name]["label"], v["workers"]) for o, v in labels.items()} == {
        "1": ("Burn Through", 1), "2": ("Burn Through", 1)}


def test_a_text_a_worker_superseded_is_judged_only_where_it_is_the_latest_answer(s3, bucket, caplog):
    caplog.set_level(logging.WARNING)
    bad, good = content('{"x": NaN}'), content(form("Good Weld"))
    (item, other) = read_batch([entry(1, ("a", bad), ("b", good), ("a", good)), entry(2, ("c", bad))], s3).items()
    assert [a.worker_id for a in item.answers] == ["b", "a"] and other.answers == []
    assert [reason.split(": ", 1)[1] for reason in item.skipped] == [
        "annotation 0 is superseded by the same worker's later annotation 2 (the last in payload order counts)"]
    assert other.skipped == ["object 2, worker c: annotationData.content NaN is not a JSON number"]


def test_a_form_that_breaks_a_reader_loses_only_the_answers_that_sent_it(s3, bucket, caplog, monkeypatch):
    """Whatever goes wrong reading one form (here an unforeseen error) skips each answer that sent it, whole."""
    caplog.set_level(logging.WARNING)
    real = answers_module.read_label

    def read_label(question, value):
        if isinstance(value, dict) and value.get("label") == "Burn Through":
            raise RuntimeError("unforeseen")
        return real(question, value)

    monkeypatch.setattr(answers_module, "read_label", read_label)
    labels = run(s3, bucket, [entry(1, ("a", content(form("Burn Through"))), ("b", content(form("Good Weld")))),
                              entry(2, ("c", content(form("Burn Through"))))])
    assert logged(caplog, "object 1, worker a", "RuntimeError: unforeseen")
    assert logged(caplog, "object 2, worker c", "RuntimeError: unforeseen")
    assert labels["1"][QUESTION.name]["label"] == "Good Weld" and labels["1"]["workers"] == 1
    assert labels["2"][QUESTION.name]["label"] is None and labels["2"]["workers"] == 0


@pytest.mark.parametrize("method", ["dawid-skene", "majority-vote"])
def test_index_arrays_decide_as_the_answers_they_stand_for(method):
    rng = random.Random(5)
    labels = ["cat", "dog", "bird", "Not sure"]
    object_ids = [f"o{n}" for n in range(300)]
    workers = [f"w{w:02d}" for w in range(12)]
    answers = [Answer(o, w, rng.choice(labels)) for o in object_ids for w in rng.sample(workers, 3)]
    by_answers = consolidate_choice(object_ids, answers, labels, method=method, abstain="Not sure", tie="dog")
    shuffled = list(reversed(workers))  # the arrays number workers in any order
    by_indices = consolidate_indexed(
        object_ids, np.array([int(a.object_id[1:]) for a in answers]), np.array([shuffled.index(a.worker_id)
                                                                                 for a in answers]),
        shuffled, np.array([labels.index(a.label) for a in answers]), labels, method=method, abstain="Not sure",
        tie="dog")
    assert by_indices.decisions == by_answers.decisions
    assert by_indices.learned == by_answers.learned
    with pytest.raises(ValueError, match="two answers of one worker"):
        consolidate_indexed(["o"], np.array([0, 0]), np.array([1, 1]), ["a", "b"], np.array([0, 1]), labels,
                            method=method)


@pytest.mark.parametrize("n_labels, per_object", [(3, 9), (40, 3)])  # one integer per row, and too many labels for it
def test_vote_counts_from_arrays_are_the_votes_of_the_answers(n_labels, per_object):
    rng = random.Random(n_labels)
    names = [f"label {i}" for i in range(n_labels)]
    objects = np.repeat(np.arange(200), per_object)
    chosen = np.array([rng.randrange(n_labels) for _ in objects])
    counted = _vote_counts(objects, chosen, 201, names)  # the last object has no answer
    expected = _votes(((str(o), names[c]) for o, c in zip(objects.tolist(), chosen.tolist())), names)
    assert counted == [expected.get(str(o), {}) for o in range(201)]
    assert counted[-1] == {} and counted[0] is not counted[1]  # each object its own dict


def test_statistics_from_indices_are_those_of_the_answers_workers_listed_as_they_first_answer():
    from gt_common.quality_report import batch_statistics_from_arrays, batch_statistics_from_indices

    rng = random.Random(9)
    classes = ["a", "b", "c"]
    names = ["zed", "amy", "bob", "kim", "unused"]
    objects = np.repeat(np.arange(40), 3)
    workers = np.array([w for _ in range(40) for w in rng.sample(range(4), 3)])
    labels = np.array([rng.randrange(3) for _ in objects])
    consolidated = np.array([rng.randrange(-1, 3) for _ in range(41)])  # -1: no label; object 40 has no answer
    gold = np.array([rng.choice([-1, -1, 0, 1]) for _ in range(41)])
    ids = [f"o{n}" for n in range(41)]
    expected = batch_statistics_from_arrays(
        [ids[o] for o in objects], [names[w] for w in workers], [classes[c] for c in labels],
        {ids[n]: (classes[c] if c >= 0 else None) for n, c in enumerate(consolidated)}, classes,
        {ids[n]: classes[g] for n, g in enumerate(gold) if g >= 0})
    found = batch_statistics_from_indices(objects, workers, names, labels, consolidated, classes, gold)
    assert found == expected
    assert list(found["workers"]) == list(dict.fromkeys(names[w] for w in workers))
