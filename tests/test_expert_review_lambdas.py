"""The expert-review functions: S3 through moto's server, SageMaker through botocore's Stubber (which
holds every request, and every stubbed answer, to the SageMaker API model).

The chain: a workflow job completes -> its output manifest is read, the objects the review rule
routes go into a review manifest and a CreateLabelingJob request -> the review job's pre-labeling
and (pass-through) consolidation -> the review job completes -> one final manifest with provenance.
"""
from __future__ import annotations

import datetime
import json
import math

import boto3
import pytest
from botocore.stub import Stubber

from expert_review import decision, layout, merge, settings, start, task
from gt_common.limits import MAX_MANIFEST_LINE_BYTES
from gt_common.questions import QUESTIONS_ENV, Classification, FreeText, MultiSelect, YesNo, questions_to_json
from gt_common.review import (
    BY_CROWD, BY_REVIEWER, DECIDED_BY, QUESTION_REASONS_KEY, REASONS_KEY, REVIEWER_KEY, ReviewSettings, final_manifest_key, job_output_folder,
)
from tests.sagemaker_checks import check_create_labeling_job

ACCOUNT, REGION = "111122223333", "us-east-1"
CROWD_KEY, REVIEW_KEY = "0a1b2c3d4e", "9f8e7d6c5b"
CROWD_JOB = f"{CROWD_KEY}-weld-quality-1a2b3c4d-0"
REVIEW_JOB = f"{REVIEW_KEY}-weld-quality-1a2b3c4d-0"
LABEL = "weld-quality"
QUESTIONS = (
    Classification(name="defect", choices=("Good", "Burn Through", "Porosity", "Not sure"), abstain="Not sure"),
    FreeText(name="note"),
)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/review-execution"
WORKTEAM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/experts"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"


def arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{name}"


def state_change(name: str, status: str = "Completed") -> dict:
    """The event Ground Truth publishes to EventBridge when a labeling job's status changes."""
    return {"version": "0", "id": "5b3c0b1e-0000-4000-8000-000000000001",
            "detail-type": "SageMaker Ground Truth Labeling Job State Change", "source": "aws.sagemaker",
            "account": ACCOUNT, "time": "2026-11-28T07:00:00Z", "region": REGION, "resources": [arn(name)],
            "detail": {"LabelingJobStatus": status}}


def review_request(bucket: str) -> dict:
    """What the construct puts in REVIEW_JOB_REQUEST (tests/test_expert_review_stack.py checks the real one)."""
    return {
        "LabelAttributeName": "expert-review",
        "OutputConfig": {"S3OutputPath": f"s3://{bucket}/review/jobs/"},
        "RoleArn": ROLE,
        "HumanTaskConfig": {
            "WorkteamArn": WORKTEAM, "UiConfig": {"UiTemplateS3Uri": f"s3://{bucket}/templates/abc/expert-review.liquid.html"},
            "PreHumanTaskLambdaArn": f"{FUNCTION}review-task", "TaskTitle": "Review labels",
            "TaskDescription": "Decide the right label", "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 1800, "TaskAvailabilityLifetimeInSeconds": 864000,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": f"{FUNCTION}review-decision"}},
    }


@pytest.fixture
def configured(bucket, monkeypatch):
    monkeypatch.setenv(QUESTIONS_ENV, questions_to_json(QUESTIONS))
    monkeypatch.setenv(settings.CROWD_JOB_KEY_ENV, CROWD_KEY)
    monkeypatch.setenv(settings.REVIEW_JOB_KEY_ENV, REVIEW_KEY)
    monkeypatch.setenv(settings.RULE_SETTINGS_ENV, json.dumps(ReviewSettings(True, 0.9).as_json()))
    monkeypatch.setenv(settings.REVIEW_URI_ENV, f"s3://{bucket}/review/")
    monkeypatch.setenv(settings.REVIEW_REQUEST_ENV, json.dumps(review_request(bucket)))
    return bucket


@pytest.fixture
def sagemaker(monkeypatch, s3):
    client = boto3.client("sagemaker", region_name=REGION)
    for module in (start, merge):
        monkeypatch.setattr(module, "sagemaker_client", lambda: client)
        monkeypatch.setattr(module, "s3_client", lambda: s3)
    monkeypatch.setattr(decision, "s3_client", lambda: s3)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def described(name: str, bucket: str, status: str = "Completed", label: str = LABEL) -> dict:
    """A DescribeLabelingJob answer (the Stubber holds it to the API model's output shape)."""
    now = datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc)
    output = f"s3://{bucket}/output/" if label == LABEL else f"s3://{bucket}/review/jobs/"
    job = {
        "LabelingJobStatus": status, "LabelingJobName": name, "LabelingJobArn": arn(name), "LabelAttributeName": label,
        "LabelCounters": {"TotalLabeled": 4}, "CreationTime": now, "LastModifiedTime": now, "JobReferenceCode": "ref",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{bucket}/manifests/input.manifest"}}},
        "OutputConfig": {"S3OutputPath": output}, "RoleArn": ROLE,
        "HumanTaskConfig": review_request(bucket)["HumanTaskConfig"],
    }
    if status == "Completed":
        job["LabelingJobOutput"] = {"OutputDatasetS3Uri": f"{output}{name}/manifests/output/output.manifest"}
    return job


def crowd_line(index: int, label: str, confidence: float, votes: dict) -> dict:
    return {"source-ref": f"s3://data/weld-{index}.json",
            LABEL: {"defect": {"label": label, "confidence": confidence, "votes": votes},
                    "note": [{"workerId": "w1", "text": "<b>look</b>"}], "workers": sum(votes.values())},
            f"{LABEL}-metadata": {"job-name": f"labeling-job/{CROWD_JOB}", "type": "groundtruth/custom",
                                  "human-annotated": "yes", "creation-date": "2026-11-28T06:00:00"}}


CONFIDENT = crowd_line(0, "Good", 0.97, {"Good": 3})
UNSURE = crowd_line(1, "Burn Through", 0.61, {"Burn Through": 2, "Porosity": 1})
ABSTAINED = crowd_line(2, "Porosity", 0.95, {"Porosity": 2, "Not sure": 1})
NOT_JSON = '{"source-ref": "s3://data/weld-3.json", broken'
SKIPPED = {"source-ref": "s3://data/weld-4.json"}  # pre-labeling skipped it: no label


def put_manifest(s3, bucket: str, key: str, lines) -> None:
    body = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def read_lines(s3, bucket: str, key: str) -> list:
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) if not line.endswith("broken") else line for line in text.splitlines()]


def crowd_output_key(name: str = CROWD_JOB) -> str:
    return f"output/{name}/manifests/output/output.manifest"


#: Where the final manifest must be: beside the crowd job's output manifest, as the local runner writes it.
FINAL_KEY = f"output/{CROWD_JOB}/manifests/output/final.manifest"


def not_found(stub, name: str) -> None:
    stub.add_client_error("describe_labeling_job", service_error_code="ResourceNotFound",
                          service_message=f"Could not find labeling job {name}", expected_params={"LabelingJobName": name})


def keys_under(s3, bucket: str, prefix: str) -> set:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


# -- a workflow job completes --------------------------------------------------------------------------
@pytest.mark.parametrize("route_any_abstention, routed, reasons", [
    (False, [1], [["low-confidence"]]),  # the abstention on object 2 left it at 0.95: the crowd's
    (True, [1, 2], [["low-confidence"], ["abstained"]]),  # the environment sends any abstention to review
])
def test_routed_objects_go_to_a_review_job_on_the_experts_workteam(configured, s3, sagemaker, monkeypatch,
                                                                   route_any_abstention, routed, reasons):
    bucket = configured
    monkeypatch.setenv(settings.RULE_SETTINGS_ENV, json.dumps(
        ReviewSettings(True, 0.9, route_any_abstention=route_any_abstention).as_json()))
    put_manifest(s3, bucket, crowd_output_key(), [CONFIDENT, UNSURE, ABSTAINED, NOT_JSON, SKIPPED])
    manifest_uri = f"s3://{bucket}/review/{CROWD_JOB}/review.manifest"
    expected = {**review_request(bucket), "LabelingJobName": REVIEW_JOB,
                "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest_uri}}}}
    check_create_labeling_job(expected)  # what the function sends is a request SageMaker's model accepts
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    not_found(sagemaker, REVIEW_JOB)
    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": arn(REVIEW_JOB)}, expected)

    result = start.lambda_handler(state_change(CROWD_JOB))

    assert result == {"reviewJob": REVIEW_JOB, "created": True, "reviewed": len(routed)}
    review_lines = read_lines(s3, bucket, f"review/{CROWD_JOB}/review.manifest")
    assert [line[layout.REVIEW_FIELD]["object"] for line in review_lines] == routed
    assert [line[layout.REVIEW_FIELD]["reasons"] for line in review_lines] == reasons
    assert [line[layout.REVIEW_FIELD]["questions"] for line in review_lines] == [{"defect": r} for r in reasons]
    first = review_lines[0]
    assert first["source-ref"] == UNSURE["source-ref"] and LABEL not in first and f"{LABEL}-metadata" not in first
    assert first[layout.REVIEW_FIELD]["label"] == UNSURE[LABEL]
    assert not keys_under(s3, bucket, FINAL_KEY)  # the final manifest waits for the experts


def test_a_redelivered_event_adopts_the_review_job_and_writes_nothing(configured, s3, sagemaker):
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [UNSURE])
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, "InProgress", "expert-review"),
                           {"LabelingJobName": REVIEW_JOB})

    assert start.lambda_handler(state_change(CROWD_JOB)) == {"reviewJob": REVIEW_JOB, "created": False}
    assert not keys_under(s3, bucket, "review/")  # no second manifest, no second job (no create was stubbed)


def test_two_deliveries_at_once_make_one_job(configured, s3, sagemaker):
    """Both deliveries see no review job; the second CreateLabelingJob is refused and the job adopted."""
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [UNSURE])
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    not_found(sagemaker, REVIEW_JOB)
    sagemaker.add_client_error("create_labeling_job", service_error_code="ResourceInUse",
                               service_message=f"Labeling job {REVIEW_JOB} already exists")
    assert start.lambda_handler(state_change(CROWD_JOB)) == {"reviewJob": REVIEW_JOB, "created": False, "reviewed": 1}


def test_nothing_to_review_writes_the_final_manifest_at_once(configured, s3, sagemaker):
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [CONFIDENT, NOT_JSON, SKIPPED])
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    not_found(sagemaker, REVIEW_JOB)

    result = start.lambda_handler(state_change(CROWD_JOB))

    final_key = FINAL_KEY
    assert result == {"finalManifest": f"s3://{bucket}/{final_key}", "reviewed": 0}
    confident, broken, skipped = read_lines(s3, bucket, final_key)
    assert confident[LABEL] == CONFIDENT[LABEL] and confident[f"{LABEL}-metadata"][DECIDED_BY] == BY_CROWD
    assert broken == NOT_JSON and skipped == SKIPPED  # nothing lost, nothing invented

    # Delivered again: the final manifest is there, so nothing is read or written again.
    s3.delete_object(Bucket=bucket, Key=crowd_output_key())
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    not_found(sagemaker, REVIEW_JOB)
    assert start.lambda_handler(state_change(CROWD_JOB))["created"] is False


@pytest.mark.parametrize("event", [
    state_change(f"{REVIEW_KEY}-other-job-0"),   # a review job: the other rule's
    state_change("1234567890-someone-elses-0"),  # another stack's job
    state_change(CROWD_JOB, "Failed"),
    {"detail-type": "SageMaker Ground Truth Labeling Job State Change", "resources": "not a list"},
    {"resources": 5},  # not iterable: was a TypeError, the event retried into the dead-letter queue
    [], None, "an event",  # not an object at all: ignored, not an AttributeError
])
def test_events_for_other_jobs_or_states_are_ignored(configured, sagemaker, event):
    assert "ignored" in start.lambda_handler(event)  # and no SageMaker call (none stubbed)
    if event is None or "detail" not in event:  # no state change of any job: the merge's rule ignores it too
        assert "ignored" in merge.lambda_handler(event)


def test_a_decision_a_question_of_which_does_not_fit_keeps_the_others(caplog):
    """One question's label the workflow no longer has threw the whole decision away: the expert's valid
    decisions on the other questions are used, the one that does not fit keeps the crowd's label, logged."""
    from expert_review.final import usable_decision

    questions = (*QUESTIONS, YesNo(name="ok"))
    assert usable_decision({"defect": "Porosity", "ok": "maybe"}, questions, 4) == {"defect": "Porosity"}
    assert "output manifest line 4: the experts' decision on ok is not used" in caplog.text
    assert usable_decision({"defect": "Rust", "ok": "maybe"}, questions, 4) is None
    assert usable_decision(["Porosity"], questions, 4) is None
    assert usable_decision({"defect": "Good", "ok": "Yes"}, questions, 4) == {"defect": "Good", "ok": "Yes"}


def test_a_job_sagemaker_does_not_call_completed_is_left_alone(configured, sagemaker):
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, configured, "Stopped"),
                           {"LabelingJobName": CROWD_JOB})
    assert start.lambda_handler(state_change(CROWD_JOB)) == {"ignored": CROWD_JOB}


def test_an_object_too_large_for_a_review_line_stays_the_crowds(configured, s3, sagemaker):
    huge = {**UNSURE, "notes": "x" * MAX_MANIFEST_LINE_BYTES}
    put_manifest(s3, configured, crowd_output_key(), [huge])
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, configured), {"LabelingJobName": CROWD_JOB})
    not_found(sagemaker, REVIEW_JOB)
    assert start.lambda_handler(state_change(CROWD_JOB))["reviewed"] == 0
    [line] = read_lines(s3, configured, FINAL_KEY)
    assert line[f"{LABEL}-metadata"][DECIDED_BY] == BY_CROWD


@pytest.mark.parametrize("value", ["high", '{"threshold": "high"}', '{"threshold": 0.9, "routeAnyAbstention": 1}',
                                   '{"treshold": 0.9}', "[0.9]"])
def test_a_wrong_configuration_fails_the_invocation_naming_the_variable(configured, monkeypatch, value):
    monkeypatch.setenv(settings.RULE_SETTINGS_ENV, value)
    with pytest.raises(ValueError, match=settings.RULE_SETTINGS_ENV):
        start.lambda_handler(state_change(CROWD_JOB))
    monkeypatch.setenv(settings.RULE_SETTINGS_ENV, json.dumps(ReviewSettings(True, 0.9).as_json()))
    monkeypatch.setenv(settings.REVIEW_JOB_KEY_ENV, CROWD_KEY)
    with pytest.raises(ValueError, match="must differ"):
        start.lambda_handler(state_change(CROWD_JOB))


# -- the review job's own functions ------------------------------------------------------------------------
def review_line(crowd: dict, number: int, reasons: list) -> dict:
    """The review line of ``crowd`` sent to review by its question ``defect`` for ``reasons``."""
    return start.review_line_of(type("Line", (), {"value": crowd, "number": number})(), LABEL, {"defect": reasons})


def test_the_review_page_gets_the_crowds_answers_and_the_decidable_labels(configured, s3, monkeypatch):
    bucket = configured
    monkeypatch.setattr(task, "s3_client", lambda: s3)
    dataset = {"image": {"s3Path": f"s3://{bucket}/data/images/run-2.jpg"},
               "sensor_data": {"s3Path": f"s3://{bucket}/data/sensor/run-2.csv"}}
    s3.put_object(Bucket=bucket, Key="data/datasets/run-2.json", Body=json.dumps(dataset).encode())
    line = {**review_line(ABSTAINED, 2, ["abstained"]), "source-ref": f"s3://{bucket}/data/datasets/run-2.json"}
    response = task.lambda_handler({"version": "2018-10-06", "labelingJobArn": arn(REVIEW_JOB), "dataObject": line})
    assert response["isHumanAnnotationRequired"] == "true"
    shown = response["taskInput"]
    assert shown["reasons"] == ["abstained"] and shown["sourceIsS3"]
    assert [(f["name"], f["isImage"]) for f in shown["files"]] == [
        ("run-2.json", False), ("run-2.jpg", True), ("run-2.csv", False)]
    [question] = shown["questions"]
    assert question["reasons"] == ["abstained"]  # the question that sent it, shown beside it
    assert question["labels"] == ["Good", "Burn Through", "Porosity"]  # "Not sure" is no decision
    assert (question["crowdLabel"], question["confidence"]) == ("Porosity", 0.95)
    assert question["votes"] == [{"label": "Porosity", "count": 2}, {"label": "Not sure", "count": 1}]
    assert shown["otherAnswers"] == [{"name": "note", "value": json.dumps(ABSTAINED[LABEL]["note"])}]


def test_a_source_that_cannot_be_read_is_still_linked(configured, s3):
    line = {**review_line(UNSURE, 1, ["low-confidence"]), "source-ref": f"s3://{configured}/data/missing.json"}
    assert [f["uri"] for f in task.task_input(line, QUESTIONS, s3)["files"]] == [line["source-ref"]]
    s3.put_object(Bucket=configured, Key="data/bad.json", Body=b'{"a": NaN}')
    line["source-ref"] = f"s3://{configured}/data/bad.json"
    assert len(task.task_input(line, QUESTIONS, s3)["files"]) == 1


def test_a_data_object_that_is_no_review_line_fails_alone_and_named(configured):
    with pytest.raises(ValueError, match="not a review manifest line"):
        task.lambda_handler({"dataObject": {"source-ref": "s3://data/x.json"}})


def test_the_review_page_escapes_what_the_crowd_and_the_data_hold(configured):
    from local_ground_truth.liquid import render_source
    from workflows.model import REPO_ROOT

    hostile = crowd_line(5, "Porosity", 0.5, {"Porosity": 1, "Burn Through": 1})
    hostile["source-ref"] = 's3://data/"><script>alert(1)</script>.png'
    hostile[LABEL]["note"] = [{"workerId": "w", "text": "</code><img src=x onerror=alert(2)>"}]
    shown = task.task_input(review_line(hostile, 5, ["low-confidence"]), QUESTIONS)
    page = render_source((REPO_ROOT / "ui_templates" / "expert_review.liquid.html").read_text(), shown,
                         lambda uri: "https://signed.example/" + uri.removeprefix("s3://"))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page and "&lt;/code&gt;&lt;img" in page
    for label in ("Good", "Burn Through", "Porosity"):
        assert f'<crowd-radio-button name="defect:{label}" value="{label}">' in page  # a name per button
    assert 'value="Not sure"' not in page
    assert "(sent to review: low-confidence)" in page and "<strong>Porosity</strong>" in page
    assert 'src="https://signed.example/data/&#34;&gt;&lt;script&gt;' in page  # an image, escaped in its attribute


def consolidation_event(s3, bucket: str, entries: list) -> dict:
    key = "review/jobs/x/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    return {"version": "2018-10-06", "labelingJobArn": arn(REVIEW_JOB), "labelAttributeName": "expert-review",
            "roleArn": ROLE, "outputConfig": f"s3://{bucket}/review/jobs/x/annotations",
            "maxHumanWorkersPerDataObject": 1, "payload": {"s3Uri": f"s3://{bucket}/{key}"}}


def expert(worker: str, form) -> dict:
    return {"workerId": worker, "annotationData": {"content": form if isinstance(form, str) else json.dumps(form)}}


def test_the_experts_answer_passes_through_as_the_decision(configured, s3, sagemaker):
    event = consolidation_event(s3, configured, [
        {"datasetObjectId": "0", "dataObject": {"content": "{}"},
         "annotations": [expert("private.us-east-1.ana", {"defect": {"Burn Through": True, "Good": False}})]},
        {"datasetObjectId": "1", "dataObject": {"content": "{}"},  # "Not sure" decides nothing
         "annotations": [expert("private.us-east-1.bo", {"defect": {"label": "Not sure"}})]},
        {"datasetObjectId": "2", "dataObject": {"content": "{}"},  # broken JSON: that answer alone is lost
         "annotations": [expert("private.us-east-1.cy", '{"defect": NaN')]},
        {"datasetObjectId": "3", "dataObject": {"content": "{}"},  # two experts split: no decision
         "annotations": [expert("e1", {"defect": "Good"}), expert("e2", {"defect": "Porosity"})]},
    ])
    response = {entry["datasetObjectId"]: entry["consolidatedAnnotation"]["content"]["expert-review"]
                for entry in decision.lambda_handler(event)}
    assert response == {
        "0": {"decision": {"defect": "Burn Through"}, "reviewer": "private.us-east-1.ana"},
        "1": {"decision": {}, "reviewer": None},
        "2": {"decision": {}, "reviewer": None},
        "3": {"decision": {}, "reviewer": None},
    }


def test_a_multi_select_decision_is_the_list_of_choices():
    from gt_common.consolidation import DataObjectAnswers, WorkerAnswer

    question = MultiSelect(name="flaws", choices=("crack", "pore", "spatter"))
    item = DataObjectAnswers("0", {}, [WorkerAnswer("e1", {"flaws": {"spatter": True, "crack": True, "pore": False}})])
    assert decision.decide(item, (question, YesNo(name="ok"))) == {"decision": {"flaws": ["crack", "spatter"]},
                                                                   "reviewer": "e1"}


# -- the review job completes -------------------------------------------------------------------------------
def review_output(bucket: str, s3, lines: list) -> None:
    put_manifest(s3, bucket, f"review/jobs/{REVIEW_JOB}/manifests/output/output.manifest", lines)


def test_review_completion_writes_one_final_manifest_with_provenance(configured, s3, sagemaker):
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [CONFIDENT, UNSURE, ABSTAINED, NOT_JSON, SKIPPED])
    decided = {**review_line(UNSURE, 1, ["low-confidence"]),
               "expert-review": {"decision": {"defect": "Porosity"}, "reviewer": "private.us-east-1.ana"},
               "expert-review-metadata": {"type": "groundtruth/custom", "human-annotated": "yes"}}
    unanswered = review_line(ABSTAINED, 2, ["abstained"])  # the expert's task expired
    review_output(bucket, s3, [decided, unanswered])
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})

    asked = []
    s3.meta.events.register("before-send.s3", lambda request, **_: asked.append(request.url))
    result = merge.lambda_handler(state_change(REVIEW_JOB))

    final_key = FINAL_KEY
    assert result == {"finalManifest": f"s3://{bucket}/{final_key}", "routed": 2, "decided": 1,
                      "finalQualityReports": {}}  # no crowd report in this job: none against the final labels
    assert asked and not [url for url in asked if "worker-response" in url]  # so no worker's answer is read
    confident, reviewed, abstained, broken, skipped = read_lines(s3, bucket, final_key)
    assert confident[f"{LABEL}-metadata"][DECIDED_BY] == BY_CROWD
    assert reviewed[LABEL]["defect"]["label"] == "Porosity"
    assert reviewed[LABEL]["defect"]["votes"] == UNSURE[LABEL]["defect"]["votes"]  # the crowd's answers kept
    metadata = reviewed[f"{LABEL}-metadata"]
    assert (metadata[DECIDED_BY], metadata[REVIEWER_KEY]) == (BY_REVIEWER, "private.us-east-1.ana")
    assert metadata["crowd"]["defect"] == {"label": "Burn Through", "confidence": 0.61}
    assert metadata[REASONS_KEY] == ["low-confidence"]
    assert metadata[QUESTION_REASONS_KEY] == {"defect": ["low-confidence"]}  # which question sent it
    assert abstained[LABEL] == ABSTAINED[LABEL]
    assert abstained[f"{LABEL}-metadata"][DECIDED_BY] == BY_CROWD
    assert abstained[f"{LABEL}-metadata"][REASONS_KEY] == ["abstained"]
    assert broken == NOT_JSON and skipped == SKIPPED

    # Delivered again: the same file.
    before = s3.get_object(Bucket=bucket, Key=final_key)["Body"].read()
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    merge.lambda_handler(state_change(REVIEW_JOB))
    assert s3.get_object(Bucket=bucket, Key=final_key)["Body"].read() == before


@pytest.mark.parametrize("status, finished", [("Failed", False), ("Stopped", True), ("Stopped", False)],
                         ids=["failed", "stopped-with-answers", "stopped-before-any"])
def test_a_review_job_that_failed_or_was_stopped_still_ends_in_a_final_manifest(configured, s3, sagemaker, status,
                                                                                finished, caplog):
    """A review job that failed or was stopped was ignored: the workflow's job got no final manifest, and no event
    would bring one (a review job's name cannot be used again). Now the crowd's labels are the final manifest's,
    with what the experts finished before a stop."""
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [CONFIDENT, UNSURE, ABSTAINED])
    review = described(REVIEW_JOB, bucket, status, label="expert-review")
    if finished:  # Ground Truth writes the objects a stopped job finished
        review["LabelingJobOutput"] = {
            "OutputDatasetS3Uri": f"s3://{bucket}/review/jobs/{REVIEW_JOB}/manifests/output/output.manifest"}
        review_output(bucket, s3, [{**review_line(UNSURE, 1, ["low-confidence"]),
                                    "expert-review": {"decision": {"defect": "Porosity"}, "reviewer": "ana"}}])
    if status == "Failed":
        review["FailureReason"] = "ClientError: the workteam was deleted"
    sagemaker.add_response("describe_labeling_job", review, {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})

    result = merge.lambda_handler(state_change(REVIEW_JOB, status))

    assert result["reviewJobStatus"] == status and result["decided"] == (1 if finished else 0)
    confident, unsure, abstained = read_lines(s3, bucket, FINAL_KEY)
    assert unsure[LABEL]["defect"]["label"] == ("Porosity" if finished else UNSURE[LABEL]["defect"]["label"])
    assert unsure[f"{LABEL}-metadata"][DECIDED_BY] == (BY_REVIEWER if finished else BY_CROWD)
    assert confident[f"{LABEL}-metadata"][DECIDED_BY] == abstained[f"{LABEL}-metadata"][DECIDED_BY] == BY_CROWD
    if status == "Failed":
        assert "ClientError: the workteam was deleted" in caplog.text


def worker_response(s3, bucket: str, line: int, when: str, answers) -> None:
    """An answer file as Ground Truth keeps it in the crowd job's output folder."""
    body = answers if isinstance(answers, bytes) else json.dumps({"answers": [
        {"workerId": worker, "answerContent": {"defect": {"label": label}}, "submissionTime": when}
        for worker, label in answers]}).encode()
    s3.put_object(Bucket=bucket, Key=f"output/{CROWD_JOB}/annotations/worker-response/iteration-1/{line}/{when}.json",
                  Body=body)


def test_the_crowds_quality_report_is_written_again_against_the_final_labels(configured, s3, sagemaker, caplog):
    """Line 1: w1 and w2 said Burn Through (the crowd's label), w3 Porosity; the expert decided Porosity. The final
    report counts w3's answer as agreeing and the others' as not, exactly as a report built from the final labels;
    the crowd's report stays as it was, and an unreadable answer file is logged and left out."""
    from gt_common.quality_report import quality_report

    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [CONFIDENT, UNSURE, ABSTAINED])
    answers = [("0", "w1", "Good"), ("0", "w2", "Good"), ("0", "w3", "Good"),
               ("1", "w1", "Burn Through"), ("1", "w2", "Burn Through"), ("1", "w3", "Porosity"),
               ("2", "w1", "Porosity"), ("2", "w2", "Porosity"), ("2", "w3", "Not sure")]
    classes = list(QUESTIONS[0].labels)
    crowd = {"0": "Good", "1": "Burn Through", "2": "Porosity"}
    crowd_report = quality_report(answers, crowd, classes)
    report_key = f"output/{CROWD_JOB}/quality-report/defect.json"
    s3.put_object(Bucket=bucket, Key=report_key, Body=json.dumps(crowd_report).encode())
    for number, when in (("1", "2026-11-28T06:00:01"), ("1", "2026-11-28T06:00:02"), ("2", "2026-11-28T06:00:03")):
        done = [(w, label) for o, w, label in answers if o == number and (w == "w3") == (when.endswith("2"))]
        worker_response(s3, bucket, int(number), when, done)
    worker_response(s3, bucket, 1, "2026-11-28T06:00:09", b'{"answers": broken')
    decided = {**review_line(UNSURE, 1, ["low-confidence"]),
               "expert-review": {"decision": {"defect": "Porosity"}, "reviewer": "private.us-east-1.ana"}}
    review_output(bucket, s3, [decided])
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})

    result = merge.lambda_handler(state_change(REVIEW_JOB))

    final_key = f"output/{CROWD_JOB}/final-quality-report/defect.json"
    assert result["finalQualityReports"] == {"defect": f"s3://{bucket}/{final_key}"}
    final = json.loads(s3.get_object(Bucket=bucket, Key=final_key)["Body"].read())
    direct = quality_report(answers, {**crowd, "1": "Porosity"}, classes)
    for name in ("w1", "w2", "w3"):
        for field in ("compared", "agreement", "confusion", "kappa", "spam"):
            assert final["workers"][name][field] == direct["workers"][name][field], (name, field)
    assert (final["workers"]["w3"]["expert_agreed"], final["workers"]["w1"]["expert_agreed"]) == (1, 0)
    assert (final["decided_objects"], final["changed_objects"]) == (1, 1)
    assert final["consolidated_label_counts"] == direct["consolidated_label_counts"]
    assert json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read()) == crowd_report
    assert any("06:00:09.json is left out of the final quality report" in r.getMessage() for r in caplog.records)


def test_an_answer_file_consolidation_reads_is_read_for_the_final_report(configured, s3):
    """Consolidation and the final report read a worker's answer file within the same bound: a file of 9 MiB (a
    long free-text note) counts in both, and one over the bound in neither."""
    from expert_review import final_quality
    from gt_common.limits import MAX_ANSWER_FILE_BYTES

    bucket = configured
    note = "x" * (9 * 1024 * 1024)
    worker_response(s3, bucket, 0, "2026-11-28T06:00:01", json.dumps({"answers": [
        {"workerId": "w1", "answerContent": {"defect": {"label": "Porosity"}, "note": note},
         "submissionTime": "2026-11-28T06:00:01"}]}).encode())
    assert [worker for worker, _ in final_quality.worker_answers(s3, bucket, f"output/{CROWD_JOB}/", 0)] == ["w1"]
    worker_response(s3, bucket, 1, "2026-11-28T06:00:02", b" " * (MAX_ANSWER_FILE_BYTES + 1))
    assert final_quality.worker_answers(s3, bucket, f"output/{CROWD_JOB}/", 1) == []


def test_answers_too_slow_to_read_leave_the_report_unwritten_and_the_final_manifest_whole(
        configured, s3, sagemaker, monkeypatch, caplog):
    """Past the reading budget no report is written (one counting only some decided objects would mislead); the
    final manifest, written first, is whole."""
    import time

    from expert_review import final_quality
    from gt_common.quality_report import quality_report

    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [UNSURE])
    report = quality_report([("0", "w1", "Burn Through")], {"0": "Burn Through"}, list(QUESTIONS[0].labels))
    s3.put_object(Bucket=bucket, Key=f"output/{CROWD_JOB}/quality-report/defect.json", Body=json.dumps(report).encode())
    review_output(bucket, s3, [{**review_line(UNSURE, 0, ["low-confidence"]),
                                "expert-review": {"decision": {"defect": "Porosity"}, "reviewer": "ana"}}])
    monkeypatch.setattr(final_quality, "READING_BUDGET_SECONDS", 0.2)
    monkeypatch.setattr(final_quality, "worker_answers", lambda *_args: time.sleep(1) or [])
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    result = merge.lambda_handler(state_change(REVIEW_JOB))
    assert result["finalQualityReports"] == {} and result["decided"] == 1
    assert read_lines(s3, bucket, FINAL_KEY)[0][LABEL]["defect"]["label"] == "Porosity"
    assert any("took over" in r.getMessage() for r in caplog.records)


def test_a_decision_that_fits_no_question_keeps_the_crowds_label(configured, s3, sagemaker):
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [UNSURE])
    forged = {**review_line(UNSURE, 0, ["low-confidence"]),
              "expert-review": {"decision": {"defect": "<script>", "other": "x"}, "reviewer": "mallory"}}
    review_output(bucket, s3, [forged, {"no": "object"}, "not json"])
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    result = merge.lambda_handler(state_change(REVIEW_JOB))
    [line] = read_lines(s3, bucket, FINAL_KEY)
    assert line[LABEL] == UNSURE[LABEL]
    assert line[f"{LABEL}-metadata"][DECIDED_BY] == BY_CROWD and REVIEWER_KEY not in line[f"{LABEL}-metadata"]
    assert (result["routed"], result["decided"]) == (1, 0)  # what was merged: it said 1 decided


def test_a_review_of_a_line_the_crowds_manifest_does_not_have_is_named_and_not_counted(configured, s3, sagemaker,
                                                                                      caplog):
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), [UNSURE])
    decided = {**review_line(UNSURE, 0, ["low-confidence"]),
               "expert-review": {"decision": {"defect": "Porosity"}, "reviewer": "ana"}}
    stray = {**review_line(UNSURE, 99, ["low-confidence"]),
             "expert-review": {"decision": {"defect": "Porosity"}, "reviewer": "ana"}}
    review_output(bucket, s3, [decided, stray])
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    result = merge.lambda_handler(state_change(REVIEW_JOB))
    assert (result["routed"], result["decided"]) == (1, 1)
    assert any("review of output manifest line 99: the crowd's output manifest has no such line" in message
               for message in caplog.messages)


def test_merge_ignores_workflow_jobs_and_unfinished_review_jobs(configured, sagemaker):
    assert "ignored" in merge.lambda_handler(state_change(CROWD_JOB))
    assert "ignored" in merge.lambda_handler(state_change(REVIEW_JOB, "InProgress"))
    assert all("ignored" in merge.lambda_handler(event) for event in ([], None, "an event"))


# -- names ----------------------------------------------------------------------------------------------
def test_review_job_names_are_derived_reversible_and_within_sagemakers_rule():
    crowd = f"{CROWD_KEY}-" + "x" * (63 - len(CROWD_KEY) - 1)
    review = layout.review_job_name(crowd, CROWD_KEY, REVIEW_KEY)
    assert len(review) == 63 and review.startswith(f"{REVIEW_KEY}-")
    assert layout.crowd_job_name(review, CROWD_KEY, REVIEW_KEY) == crowd
    with pytest.raises(ValueError, match="not one of this workflow's jobs"):
        layout.review_job_name("someone-else-0", CROWD_KEY, REVIEW_KEY)
    assert layout.job_name_of({"detail": {"LabelingJobName": "a-b"}}) == "a-b"
    assert layout.job_name_of({"resources": [arn("a-c")]}) == "a-c"


def test_the_final_manifest_is_beside_the_workflow_jobs_output_and_found_by_its_own_key(configured, s3):
    from expert_review.manifests import exists

    job = described(CROWD_JOB, configured)
    location = layout.final_manifest(job)
    assert (location.bucket, location.key) == (configured, FINAL_KEY)
    assert FINAL_KEY == final_manifest_key(job_output_folder("output/", CROWD_JOB))
    assert layout.final_manifest({**job, "OutputConfig": {"S3OutputPath": f"s3://{configured}/output"}}) == location
    s3.put_object(Bucket=configured, Key=f"{FINAL_KEY}.old", Body=b"")  # a longer key is not it
    assert not exists(s3, location, "final manifest")
    s3.put_object(Bucket=configured, Key=FINAL_KEY, Body=b"")
    assert exists(s3, location, "final manifest")
    with pytest.raises(ValueError, match="S3OutputPath"):
        layout.final_manifest({**job, "OutputConfig": {}})


# -- the job's confidence ------------------------------------------------------------------------------
def with_evidence(line: dict, other: float, temperature: float, answers: float) -> dict:
    """``line`` whose label keeps the evidence the worker model writes: the other classes ``other`` nats less
    likely than the label, the temperature its batch chose and the answers the job had counted by then."""
    defect = line[LABEL]["defect"]
    classes = ("Good", "Burn Through", "Porosity")
    evidence = {"temperature": temperature, "answers": answers,
                "classes": {c: [0.0, other] for c in classes if c != defect["label"]}}
    return {**line, LABEL: {**line[LABEL], "defect": {**defect, "evidence": evidence}}}


def test_the_review_reads_each_label_with_the_whole_jobs_confidence(configured, s3, sagemaker):
    """Line 0 was published at 0.9993 by the first batch (temperature 1); the last batch had counted more answers
    and chose 4, under which line 0's answers are worth 0.787: it goes to the experts, and the final manifest
    keeps the job's confidence beside the batch's."""
    bucket = configured
    early = with_evidence(crowd_line(0, "Good", 0.9993, {"Good": 3}), -8.0, 1.0, 30)
    late = with_evidence(crowd_line(1, "Porosity", 0.9999, {"Porosity": 5}), -40.0, 4.0, 3000)
    put_manifest(s3, bucket, crowd_output_key(), [early, late])
    manifest_uri = f"s3://{bucket}/review/{CROWD_JOB}/review.manifest"
    expected = {**review_request(bucket), "LabelingJobName": REVIEW_JOB,
                "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest_uri}}}}
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    not_found(sagemaker, REVIEW_JOB)
    sagemaker.add_response("create_labeling_job", {"LabelingJobArn": arn(REVIEW_JOB)}, expected)

    assert start.lambda_handler(state_change(CROWD_JOB))["reviewed"] == 1

    routed, = read_lines(s3, bucket, f"review/{CROWD_JOB}/review.manifest")
    job_confidence = round(1 / (1 + 2 * math.exp(-8.0 / 4.0)), 4)
    assert routed[layout.REVIEW_FIELD]["object"] == 0 and routed[layout.REVIEW_FIELD]["reasons"] == ["low-confidence"]
    assert routed[layout.REVIEW_FIELD]["label"]["defect"]["confidence"] == job_confidence == 0.787
    assert routed[layout.REVIEW_FIELD]["label"]["defect"]["batch-confidence"] == 0.9993

    review_output(bucket, s3, [routed])  # the experts' task expired: the crowd's label stays, with the job's confidence
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    merge.lambda_handler(state_change(REVIEW_JOB))
    first, second = read_lines(s3, bucket, FINAL_KEY)
    assert first[LABEL]["defect"]["confidence"] == job_confidence
    assert first[f"{LABEL}-metadata"][REASONS_KEY] == ["low-confidence"]
    assert second[LABEL]["defect"]["confidence"] == round(1 / (1 + 2 * math.exp(-10.0)), 4)
    assert read_lines(s3, bucket, crowd_output_key())[0] == early  # Ground Truth's output stays the batch's
