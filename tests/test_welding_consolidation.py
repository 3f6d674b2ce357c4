"""The welding consolidation Lambda, end to end over a real (moto) S3 endpoint."""
from __future__ import annotations

import json
import logging

import pytest

from gt_common.s3uri import InputError
from welding_consolidation import handler
from welding_consolidation.categories import DEFAULT_CATEGORIES, ConfigurationError, label_categories
from welding_consolidation.votes import Decision

LABEL = "weld-quality"
PAYLOAD_KEY = "job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    """Each test builds its client against the current endpoint and the default categories."""
    monkeypatch.delenv("LABEL_CATEGORIES", raising=False)
    handler.s3_client.cache_clear()
    yield
    handler.s3_client.cache_clear()


def form(label):
    return {"WeldingClassification": {"label": label}}


def content(value) -> dict:
    """annotationData as Ground Truth sends it: the form as a JSON *string*."""
    return {"content": value if isinstance(value, str) else json.dumps(value)}


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
    s3.put_object(Bucket=bucket, Key=PAYLOAD_KEY, Body=json.dumps(entries).encode())
    event = {
        "version": "2018-10-06",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/welding",
        "labelCategories": None,
        "labelAttributeName": label_attribute_name,
        "roleArn": "arn:aws:iam::123456789012:role/gt-execution",
        "outputConfig": f"s3://{bucket}/job/annotations",
        "maxHumanWorkersPerDataObject": 3,
        "payload": {"s3Uri": f"s3://{bucket}/{PAYLOAD_KEY}"},
    }
    return handler.lambda_handler(event, None)


def labels_by_id(response, label_attribute_name=LABEL):
    return {
        item["datasetObjectId"]: item["consolidatedAnnotation"]["content"][label_attribute_name]
        for item in response
    }


def test_unanimous_answer_has_full_confidence(s3, bucket):
    response = run(s3, bucket, [voted(0, "Burn Through", "Burn Through", "Burn Through")])
    assert response == [{
        "datasetObjectId": "0",
        "consolidatedAnnotation": {"content": {LABEL: {
            "WeldingClassification": "Burn Through", "confidence": 1.0,
            "votes": {"Burn Through": 3}, "workers": 3}}},
    }]


def test_two_of_three_wins_with_two_thirds_confidence(s3, bucket):
    result = labels_by_id(run(s3, bucket, [voted(7, "Contamination", "Good Weld", "Contamination")]))["7"]
    assert result["WeldingClassification"] == "Contamination"
    assert result["confidence"] == pytest.approx(2 / 3)
    assert result["votes"] == {"Good Weld": 1, "Contamination": 2}
    assert result["workers"] == 3


@pytest.mark.parametrize("labels, winner, confidence", [
    # A real class beats "Not sure", whichever order the answers arrive in.
    (["Not sure", "Lack of Fusion"], "Lack of Fusion", 0.5),
    (["Lack of Fusion", "Not sure"], "Lack of Fusion", 0.5),
    # Between real classes the alphabetically first wins, independent of answer order.
    (["Lack of Fusion", "Burn Through"], "Burn Through", 0.5),
    (["Burn Through", "Lack of Fusion"], "Burn Through", 0.5),
    # Three-way tie: "Not sure" is out, then alphabetical among the rest.
    (["Not sure", "High Travel Speed", "Good Weld"], "Good Weld", 1 / 3),
    # "Not sure" still wins when it has the majority.
    (["Not sure", "Not sure", "Good Weld"], "Not sure", 2 / 3),
])
def test_tie_rule(s3, bucket, labels, winner, confidence):
    result = labels_by_id(run(s3, bucket, [voted(1, *labels)]))["1"]
    assert result["WeldingClassification"] == winner
    assert result["confidence"] == pytest.approx(confidence)
    assert result["workers"] == len(labels)


def test_content_accepted_bare_and_as_one_item_list(s3, bucket):
    response = run(s3, bucket, [entry(3,
        content(form("Lack of Shielding Gas")),
        content([form("Lack of Shielding Gas")]),
        # Some payloads carry the form already parsed rather than as a string.
        {"content": form("Good Weld")})])
    result = labels_by_id(response)["3"]
    assert result["votes"] == {"Good Weld": 1, "Lack of Shielding Gas": 2}
    assert result["WeldingClassification"] == "Lack of Shielding Gas"


def test_annotation_data_by_s3_uri(s3, bucket):
    s3.put_object(Bucket=bucket, Key="job/worker-response/a.json", Body=json.dumps(form("High Travel Speed")).encode())
    s3.put_object(Bucket=bucket, Key="job/worker-response/b.json", Body=json.dumps([form("High Travel Speed")]).encode())
    response = run(s3, bucket, [entry(4,
        {"s3Uri": f"s3://{bucket}/job/worker-response/a.json"},
        {"s3Uri": f"s3://{bucket}/job/worker-response/b.json"},
        content(form("Good Weld")))])
    result = labels_by_id(response)["4"]
    assert result["WeldingClassification"] == "High Travel Speed"
    assert result["votes"] == {"Good Weld": 1, "High Travel Speed": 2}


@pytest.mark.parametrize("bad, why", [
    (content("{not json"), "not valid JSON"),
    (content({"SomethingElse": {"label": "Good Weld"}}), "no WeldingClassification"),
    (content(form("Porosity")), "not one of the label categories"),
    (content({"WeldingClassification": {"label": 3}}), "missing or not a string"),
    (content({"WeldingClassification": "Good Weld"}), "no WeldingClassification object"),
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
    results = labels_by_id(response)
    assert results["5"] == {"WeldingClassification": "Contamination", "confidence": 1.0,
                            "votes": {"Contamination": 2}, "workers": 2}
    assert results["6"]["WeldingClassification"] == "Good Weld"
    # The log names the object, the worker and the reason.
    assert any("object 5, worker private.us-east-1.w1" in r.getMessage() and why in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_non_utf8_annotation_file_is_skipped_not_fatal(s3, bucket):
    s3.put_object(Bucket=bucket, Key="job/worker-response/bad.json", Body=b"\xff\xfe\xfa not text")
    response = run(s3, bucket, [entry(8, {"s3Uri": f"s3://{bucket}/job/worker-response/bad.json"},
                                      content(form("Burn Through")))])
    assert labels_by_id(response)["8"]["votes"] == {"Burn Through": 1}


@pytest.mark.parametrize("annotations", [
    [content(form("Porosity")), content("garbage")],
    [],
])
def test_object_without_usable_answers_is_still_answered(s3, bucket, annotations):
    response = run(s3, bucket, [entry(9, *annotations), voted(10, "Good Weld")])
    assert labels_by_id(response)["9"] == {"WeldingClassification": None, "confidence": 0.0,
                                           "votes": {}, "workers": 0}


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


def test_label_categories_env_var_replaces_the_default(s3, bucket, monkeypatch):
    monkeypatch.setenv("LABEL_CATEGORIES", json.dumps(["Spatter", "Good Weld"]))
    result = labels_by_id(run(s3, bucket, [voted(0, "Spatter", "Burn Through", "Spatter")]))["0"]
    # "Burn Through" is not configured any more, so that answer is skipped.
    assert result == {"WeldingClassification": "Spatter", "confidence": 1.0,
                      "votes": {"Spatter": 2}, "workers": 2}


@pytest.mark.parametrize("raw", ["not json", "[]", '{"a": 1}', '["A", ""]', '["A", "A"]', '["A", 2]'])
def test_malformed_label_categories_fail_loudly(raw):
    with pytest.raises(ConfigurationError):
        label_categories({"LABEL_CATEGORIES": raw})


def test_default_categories():
    assert label_categories({}) == DEFAULT_CATEGORIES
    assert len(DEFAULT_CATEGORIES) == 7 and DEFAULT_CATEGORIES[-1] == "Not sure"


def test_voting_strategy_is_swappable(s3, bucket, monkeypatch):
    seen = []

    def always_fusion(votes):
        seen.append([(vote.worker_id, vote.label) for vote in votes])
        return Decision(label="Lack of Fusion", confidence=0.9)

    monkeypatch.setattr(handler, "STRATEGY", always_fusion)
    result = labels_by_id(run(s3, bucket, [voted(0, "Good Weld", "Good Weld")]))["0"]
    # The strategy gets the worker ids (for a worker model) and decides label and confidence;
    # the vote counts remain the raw answers.
    assert seen == [[("private.us-east-1.w0", "Good Weld"), ("private.us-east-1.w1", "Good Weld")]]
    assert result == {"WeldingClassification": "Lack of Fusion", "confidence": 0.9,
                      "votes": {"Good Weld": 2}, "workers": 2}
