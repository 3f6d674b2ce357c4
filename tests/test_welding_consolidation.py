"""The generic consolidation Lambda configured with the welding definition, end to end over a real
(moto) S3 endpoint."""
from __future__ import annotations

import dataclasses
import json
import logging

import pytest

import workflows
from consolidation import handler
from gt_common.choices import tie_break
from gt_common.configuration import ConfigurationError
from gt_common.s3uri import InputError
from gt_common.questions import METHOD_ENV, QUESTIONS_ENV
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import WORKER_MODEL, answered_by, configure, content, invoke, labels_by_id, read_json
from workflows.welding import BURN_THROUGH, CONTAMINATION, GOOD_WELD, LACK_OF_FUSION

WELDING = workflows.definition("welding")
QUESTION = WELDING.questions[0]
LABEL = WELDING.label_attribute_name
PAYLOAD_KEY = "job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"


@pytest.fixture(autouse=True)
def welding_function(monkeypatch):
    """The function as the welding stack configures it. The tests of answer handling and ties pin the
    majority-vote method, whose confidences are exact shares; the Dawid-Skene tests at the end of the
    file switch the method back."""
    configure(monkeypatch, WELDING.questions, method="majority-vote")
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def form(label):
    return {QUESTION.name: {"label": label}}


def entry(object_id, *annotation_data):
    return {
        "datasetObjectId": str(object_id),
        "dataObject": {"s3Uri": f"s3://input/welds/{object_id}.jpg"},
        "annotations": [
            {"workerId": f"private.us-east-1.w{index}", "annotationData": data}
            for index, data in enumerate(annotation_data)
        ],
    }


def voted(object_id, *labels):
    return entry(object_id, *(content(form(label)) for label in labels))


def run(s3, bucket, entries, label_attribute_name=LABEL):
    return invoke(s3, bucket, entries, label=label_attribute_name)


def decision(result):
    return result[QUESTION.name]


def test_unanimous_answer_has_full_confidence(s3, bucket):
    response = run(s3, bucket, [voted(0, "Burn Through", "Burn Through", "Burn Through")])
    assert response == [{
        "datasetObjectId": "0",
        "consolidatedAnnotation": {"content": {LABEL: {
            "WeldingClassification": {"label": "Burn Through", "confidence": 1.0, "votes": {"Burn Through": 3}},
            "workers": 3}}},
    }]


def test_two_of_three_wins_with_two_thirds_confidence(s3, bucket):
    result = labels_by_id(run(s3, bucket, [voted(7, "Contamination", "Good Weld", "Contamination")]), LABEL)["7"]
    assert decision(result)["label"] == "Contamination"
    assert decision(result)["confidence"] == pytest.approx(2 / 3, abs=1e-4)
    assert decision(result)["votes"] == {"Good Weld": 1, "Contamination": 2}  # in the definition's order
    assert result["workers"] == 3


@pytest.mark.parametrize("labels, winner, confidence", [
    # "Not sure" (the question's abstain label) is no class: the real one wins, whichever order they arrive in.
    (["Not sure", "Lack of Fusion"], "Lack of Fusion", 0.5),
    (["Lack of Fusion", "Not sure"], "Lack of Fusion", 0.5),
    # Between real classes a stable hash of the object id decides, independent of answer order and of names.
    (["Lack of Fusion", "Burn Through"], tie_break("1", ["Lack of Fusion", "Burn Through"]), 0.5),
    (["Burn Through", "Lack of Fusion"], tie_break("1", ["Lack of Fusion", "Burn Through"]), 0.5),
    (["Not sure", "High Travel Speed", "Good Weld"], tie_break("1", ["High Travel Speed", "Good Weld"]), 1 / 3),
    # "Not sure" is the label only when a strict majority abstains, and then claims nothing.
    (["Not sure", "Not sure", "Good Weld"], "Not sure", 0.0),
])
def test_tie_rule(s3, bucket, labels, winner, confidence):
    result = labels_by_id(run(s3, bucket, [voted(1, *labels)]), LABEL)["1"]
    assert decision(result)["label"] == winner
    assert decision(result)["confidence"] == pytest.approx(confidence, abs=1e-4)
    assert result["workers"] == len(labels)


def test_content_accepted_bare_and_as_one_item_list(s3, bucket):
    response = run(s3, bucket, [entry(3,
        content(form("Lack of Shielding Gas")),
        content([form("Lack of Shielding Gas")]),
        # Some payloads carry the form already parsed rather than as a string.
        {"content": form("Good Weld")})])
    result = labels_by_id(response, LABEL)["3"]
    assert decision(result)["votes"] == {"Good Weld": 1, "Lack of Shielding Gas": 2}
    assert decision(result)["label"] == "Lack of Shielding Gas"


def test_the_answer_as_a_json_string_or_one_item_list(s3, bucket):
    """A template's hidden input sends the answer as a JSON string; element pages show a one-item list."""
    response = run(s3, bucket, [entry(2,
        content({QUESTION.name: json.dumps({"label": "Contamination"})}),
        content({QUESTION.name: [{"label": "Contamination"}]}),
        content({QUESTION.name: json.dumps([{"label": "Good Weld"}])}))])
    assert decision(labels_by_id(response, LABEL)["2"])["votes"] == {"Good Weld": 1, "Contamination": 2}


def test_the_answer_as_radio_buttons_or_a_bare_label(s3, bucket):
    """A crowd-radio-group of one crowd-radio-button per label submits each button's state; a native radio
    input submits the bare label."""
    off = {label: False for label in QUESTION.labels}
    response = run(s3, bucket, [entry(5,
        content({QUESTION.name: {**off, "Burn Through": True}}),
        content({QUESTION.name: "Burn Through"}),
        content({QUESTION.name: {**off, "Good Weld": True}}))])
    assert decision(labels_by_id(response, LABEL)["5"])["votes"] == {"Good Weld": 1, "Burn Through": 2}


def test_annotation_data_by_s3_uri(s3, bucket):
    s3.put_object(Bucket=bucket, Key="job/worker-response/a.json", Body=json.dumps(form("High Travel Speed")).encode())
    s3.put_object(Bucket=bucket, Key="job/worker-response/b.json", Body=json.dumps([form("High Travel Speed")]).encode())
    response = run(s3, bucket, [entry(4,
        {"s3Uri": f"s3://{bucket}/job/worker-response/a.json"},
        {"s3Uri": f"s3://{bucket}/job/worker-response/b.json"},
        content(form("Good Weld")))])
    result = labels_by_id(response, LABEL)["4"]
    assert decision(result)["label"] == "High Travel Speed"
    assert decision(result)["votes"] == {"Good Weld": 1, "High Travel Speed": 2}


@pytest.mark.parametrize("bad, why", [
    (content("{not json"), "not valid JSON"),
    (content({"SomethingElse": {"label": "Good Weld"}}), "WeldingClassification is missing"),
    (content(form("Porosity")), "label 'Porosity' is not one of Good Weld, Burn Through"),
    (content({"WeldingClassification": {"label": 3}}), "has no label"),
    (content({"WeldingClassification": 42}), "WeldingClassification is not a label or an object with a label"),
    (content({"WeldingClassification": {"Good Weld": True, "Burn Through": True}}), "has 2 radio buttons on, not one"),
    (content({"WeldingClassification": "{broken"}), "WeldingClassification is not valid JSON"),
    (content({"WeldingClassification": [{"label": "Good Weld"}, {"label": "Burn Through"}]}), "not a label or an object"),
    (content('"just a string"'), "not a JSON object"),
    (content([form("Good Weld"), form("Burn Through")]), "not a JSON object"),
    ("not-an-object", "annotationData is not an object"),
    ({"s3Uri": "s3://nowhere-bucket/missing.json"}, "does not exist"),
])
def test_malformed_answer_is_skipped_and_object_still_answered(s3, bucket, caplog, bad, why):
    caplog.set_level(logging.WARNING)
    response = run(s3, bucket, [
        entry(5, content(form("Contamination")), bad, content(form("Contamination"))),
        voted(6, "Good Weld"),
    ])
    results = labels_by_id(response, LABEL)
    assert results["5"] == {"WeldingClassification": {"label": "Contamination", "confidence": 1.0,
                                                      "votes": {"Contamination": 2}}, "workers": 2}
    assert decision(results["6"])["label"] == "Good Weld"
    # The log names the object, the worker and the reason.
    assert any("object 5, worker private.us-east-1.w1" in r.getMessage() and why in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_non_utf8_annotation_file_is_skipped_not_fatal(s3, bucket):
    s3.put_object(Bucket=bucket, Key="job/worker-response/bad.json", Body=b"\xff\xfe\xfa not text")
    response = run(s3, bucket, [entry(8, {"s3Uri": f"s3://{bucket}/job/worker-response/bad.json"},
                                      content(form("Burn Through")))])
    assert decision(labels_by_id(response, LABEL)["8"])["votes"] == {"Burn Through": 1}


@pytest.mark.parametrize("annotations", [
    [content(form("Porosity")), content("garbage")],
    [],
])
def test_object_without_usable_answers_is_still_answered(s3, bucket, annotations):
    response = run(s3, bucket, [entry(9, *annotations), voted(10, "Good Weld")])
    assert labels_by_id(response, LABEL)["9"] == {
        "WeldingClassification": {"label": None, "confidence": 0.0, "votes": {}}, "workers": 0}


def test_every_payload_object_appears_in_order(s3, bucket):
    entries = [
        voted("a", "Good Weld", "Good Weld"),
        entry("b", content("{broken")),
        voted("c", "Burn Through", "Not sure"),
        entry("d"),
        voted("e", "Contamination"),
    ]
    response = run(s3, bucket, entries)
    assert [item["datasetObjectId"] for item in response] == ["a", "b", "c", "d", "e"]


def test_missing_payload_file_names_the_uri(s3, bucket):
    uri = f"s3://{bucket}/job/annotations/missing.json"
    event = {"labelAttributeName": LABEL, "payload": {"s3Uri": uri}}
    with pytest.raises(InputError, match=f"{uri} does not exist"):
        handler.lambda_handler(event, None)


def test_label_attribute_name_comes_from_the_event(s3, bucket):
    response = run(s3, bucket, [voted(0, "Good Weld")], label_attribute_name="weld-defect-v2")
    assert list(response[0]["consolidatedAnnotation"]["content"]) == ["weld-defect-v2"]


def test_the_labels_come_from_the_configured_questions(s3, bucket, monkeypatch):
    """WORKFLOW_QUESTIONS is the only list of labels the function knows: a label not in it is skipped."""
    configure(monkeypatch, [dataclasses.replace(QUESTION, choices=("Spatter", "Good Weld"), abstain=None)],
              method="majority-vote")
    result = labels_by_id(run(s3, bucket, [voted(0, "Spatter", "Burn Through", "Spatter")]), LABEL)["0"]
    # "Burn Through" is not configured any more, so that answer is skipped.
    assert result == {"WeldingClassification": {"label": "Spatter", "confidence": 1.0, "votes": {"Spatter": 2}},
                      "workers": 2}


@pytest.mark.parametrize("raw, problem", [
    (None, "WORKFLOW_QUESTIONS is not set"),
    ("not json", "WORKFLOW_QUESTIONS is not JSON"),
    ("[]", "WORKFLOW_QUESTIONS: a workflow asks at least one question"),
    ('[{"kind": "classification", "name": "q", "choices": ["A", "A"]}]', "listed twice"),
    ('[{"kind": "classification", "name": "q", "choices": ["A", ""]}]', "non-empty string"),
    ('[{"kind": "poll", "name": "q"}]', "no known kind"),
])
def test_a_malformed_configuration_fails_loudly(s3, bucket, monkeypatch, raw, problem):
    if raw is None:
        monkeypatch.delenv(QUESTIONS_ENV)
    else:
        monkeypatch.setenv(QUESTIONS_ENV, raw)
    with pytest.raises(ConfigurationError, match=problem):
        run(s3, bucket, [voted(0, "Good Weld")])


def test_unknown_consolidation_method_fails_loudly(s3, bucket, monkeypatch):
    monkeypatch.setenv(METHOD_ENV, "coin-flip")
    with pytest.raises(ConfigurationError, match="coin-flip"):
        run(s3, bucket, [voted(0, "Good Weld")])


def test_a_worker_answering_twice_counts_once_with_the_last_answer(s3, bucket, monkeypatch):
    twice = entry(0, content(form("Burn Through")), content(form("Good Weld")), content(form("Burn Through")))
    twice["annotations"][2]["workerId"] = twice["annotations"][0]["workerId"]  # w0: Burn Through, then again
    twice["annotations"][1]["workerId"] = "private.us-east-1.w9"
    for method in ("majority-vote", "dawid-skene"):  # the vote, the worker model and the report alike
        monkeypatch.setenv(METHOD_ENV, method)
        result = labels_by_id(run(s3, bucket, [twice]), LABEL)["0"]
        assert result["workers"] == 2 and decision(result)["votes"] == {"Good Weld": 1, "Burn Through": 1}
    report = read_json(s3, bucket, "job/quality-report/WeldingClassification.json")
    assert report["answers"] == 2 and report["workers"]["private.us-east-1.w0"]["answers"] == 1


def test_a_repeated_object_gets_one_response_entry(s3, bucket):
    response = run(s3, bucket, [voted(0, "Good Weld"), voted(1, "Burn Through"), voted(0, "Good Weld")])
    assert [item["datasetObjectId"] for item in response] == ["0", "1"]
    assert labels_by_id(response, LABEL)["0"]["workers"] == 1  # the same worker id (w0) in both entries: once


# -- Dawid-Skene: the default method -------------------------------------------------------------

def run_batch(s3, bucket, entries, batch_name):
    return labels_by_id(invoke(s3, bucket, entries, label=LABEL, batch=batch_name, workers_per_object=5), LABEL)


CLASSES = [GOOD_WELD, BURN_THROUGH, CONTAMINATION, LACK_OF_FUSION]


def weld(object_id, answers):
    return answered_by(object_id, {worker: form(label) for worker, label in answers.items()})


def expert_batch(n, start=0):
    """Experts a, b, c right on every run; spammers s1, s2 say "Good Weld" to everything."""
    entries = []
    for i in range(start, start + n):
        truth = CLASSES[1 + i % 3]
        entries.append(weld(i, {"a": truth, "b": truth, "c": truth, "s1": "Good Weld", "s2": "Good Weld"}))
    return entries


def test_dawid_skene_is_the_default_and_follows_reliable_workers(s3, bucket, monkeypatch):
    monkeypatch.delenv(METHOD_ENV)
    entries = expert_batch(12)
    # One run where a lone expert disagrees with both spammers: a vote would say Good Weld.
    entries.append(weld("x", {"a": "Contamination", "s1": "Good Weld", "s2": "Good Weld"}))
    result = run_batch(s3, bucket, entries, "2026-01-01_00:00:00")
    assert decision(result["x"])["label"] == "Contamination"
    assert decision(result["x"])["votes"] == {"Good Weld": 2, "Contamination": 1}
    assert 0.5 < decision(result["x"])["confidence"] <= 1.0
    monkeypatch.setenv(METHOD_ENV, "majority-vote")
    assert decision(run_batch(s3, bucket, entries, "2026-01-01_00:00:01")["x"])["label"] == "Good Weld"


def test_worker_model_carries_across_batches(s3, bucket, monkeypatch):
    monkeypatch.delenv(METHOD_ENV)
    lone = [weld("y", {"a": "Lack of Fusion", "s1": "Good Weld", "s2": "Good Weld"})]
    # Alone, a batch of one run cannot tell the expert from the spammers: the pair wins.
    assert decision(run_batch(s3, bucket, lone, "2026-01-01_00:00:00")["y"])["label"] == "Good Weld"
    # After a batch that shows who is reliable, the same small batch follows the expert.
    run_batch(s3, bucket, expert_batch(15), "2026-01-01_00:01:00")
    second = run_batch(s3, bucket, lone, "2026-01-01_00:02:00")
    assert decision(second["y"])["label"] == "Lack of Fusion"
    state = s3.list_objects_v2(Bucket=bucket, Prefix=f"{WORKER_MODEL}/")
    names = sorted(item["Key"].rsplit("/", 1)[1] for item in state["Contents"])
    # One file per batch, so concurrent batches never overwrite each other's counts.
    assert names == ["iteration-1-2026-01-01_00_00_00.json", "iteration-1-2026-01-01_00_01_00.json",
                     "iteration-1-2026-01-01_00_02_00.json"]
    memory = read_json(s3, bucket, f"{WORKER_MODEL}/iteration-1-2026-01-01_00_01_00.json")
    assert memory["version"] == 2 and list(memory["questions"]) == ["WeldingClassification"]
    spammer = memory["questions"]["WeldingClassification"]["workers"]["s1"]
    assert sum(spammer.get(true, {}).get("Good Weld", 0) for true in CLASSES) == pytest.approx(15, abs=0.01)


def test_a_retried_batch_does_not_count_twice(s3, bucket, monkeypatch):
    monkeypatch.delenv(METHOD_ENV)
    key = f"{WORKER_MODEL}/iteration-1-2026-01-01_00_00_00.json"
    run_batch(s3, bucket, expert_batch(6), "2026-01-01_00:00:00")
    first = read_json(s3, bucket, key)
    run_batch(s3, bucket, expert_batch(6), "2026-01-01_00:00:00")
    assert read_json(s3, bucket, key) == first


def test_unreadable_state_file_is_ignored(s3, bucket, monkeypatch, caplog):
    monkeypatch.delenv(METHOD_ENV)
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/junk.json", Body=b"{broken")
    result = run_batch(s3, bucket, expert_batch(3), "2026-01-01_00:00:00")
    assert len(result) == 3
    assert any("junk.json" in message for message in caplog.messages)


def test_dawid_skene_without_output_config_still_answers(s3, bucket, monkeypatch, caplog):
    monkeypatch.delenv(METHOD_ENV)
    response = invoke(s3, bucket, [voted(0, "Good Weld", "Good Weld", "Burn Through")], label=LABEL, output=None)
    assert decision(labels_by_id(response, LABEL)["0"])["label"] == "Good Weld"
    assert any("no job state for this batch" in message for message in caplog.messages)


def test_quality_report_covers_every_batch_of_the_job(s3, bucket):
    run_batch(s3, bucket, expert_batch(6), "2026-01-01_00:00:00")
    run_batch(s3, bucket, expert_batch(4, start=6), "2026-01-01_00:01:00")
    report = read_json(s3, bucket, "job/quality-report/WeldingClassification.json")
    assert report["question"] == "WeldingClassification" and report["batches"] == 2
    assert report["classes"] == list(QUESTION.choices)
    assert report["objects"] == 10 and report["answers"] == 50
    workers = report["workers"]
    assert workers["a"]["agreement"] == 1.0 and workers["s1"]["agreement"] == 0.0
    assert -1.0 <= report["agreement"]["krippendorff_alpha"] < 0.5  # two spammers drag agreement down


def test_a_batch_out_of_time_for_fitting_still_answers_every_object_and_says_it_did_not_converge(
        s3, bucket, monkeypatch, caplog):
    """The handler takes its time for fitting from Lambda's context: a batch whose answers carry little signal ran EM
    to its cap, past the function's timeout, and failed whole on every retry."""
    import random

    from tests.consolidation_helpers import REQUESTS, event

    class Context:
        def get_remaining_time_in_millis(self):
            return 0  # no time left for fitting: one iteration

    configure(monkeypatch, WELDING.questions, method="dawid-skene")
    rng = random.Random(4)
    entries = [voted(number, *(rng.choice(QUESTION.labels) for _ in range(3))) for number in range(60)]
    key = f"{REQUESTS}/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    with caplog.at_level(logging.WARNING):
        response = handler.lambda_handler(event(bucket, key, LABEL), Context())
    assert len(labels_by_id(response, LABEL)) == 60
    assert any("did not converge in this batch (1 iteration)" in message for message in caplog.messages)
    from gt_common import time_budget
    assert not time_budget.expired()  # the deadline was the invocation's only
