"""Running the generic consolidation Lambda as Ground Truth does: payload on S3, event, response."""
from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from consolidation import handler
from gt_common.questions import METHOD_ENV, QUESTIONS_ENV, Question, questions_to_json

REQUESTS = "job/annotations/consolidated-annotation/consolidation-request/iteration-1"
STATE = "job/annotations/consolidation-state"
WORKER_MODEL = f"{STATE}/worker-model"


def configure(monkeypatch, questions: Iterable[Question], method: Optional[str] = None) -> None:
    """The function's environment as the stack sets it from a definition's questions."""
    monkeypatch.setenv(QUESTIONS_ENV, questions_to_json(questions))
    if method is None:
        monkeypatch.delenv(METHOD_ENV, raising=False)
    else:
        monkeypatch.setenv(METHOD_ENV, method)
    handler.s3_client.cache_clear()


def content(value: Any) -> dict:
    """annotationData as Ground Truth sends it: the form as a JSON *string*."""
    return {"content": value if isinstance(value, str) else json.dumps(value)}


def answered_by(object_id, forms: dict[str, Any], data_object: Optional[dict] = None) -> dict:
    """A payload entry whose annotations come from named workers: forms = {worker: form}."""
    return {"datasetObjectId": str(object_id), "dataObject": data_object or {"source-ref": f"s3://in/{object_id}"},
            "annotations": [{"workerId": worker, "annotationData": content(form)} for worker, form in forms.items()]}


#: The labeling job of ``event``: task records the tests write for it go in its folder (gt_common.task_record).
JOB = "job"


def event(bucket: str, key: str, label: str, *, output: Optional[str] = "job/annotations",
          workers_per_object: Optional[int] = 3) -> dict:
    """The event Ground Truth sends (``output`` None: without outputConfig, so without job state)."""
    value = {"version": "2018-10-06", "labelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB}",
             "labelCategories": None, "labelAttributeName": label, "roleArn": "arn:aws:iam::123456789012:role/gt",
             "payload": {"s3Uri": f"s3://{bucket}/{key}"}}
    if output is not None:
        value["outputConfig"] = f"s3://{bucket}/{output}"
    if workers_per_object is not None:
        value["maxHumanWorkersPerDataObject"] = workers_per_object
    return value


def invoke(s3, bucket: str, entries: list, *, label: str = "label", batch: str = "2026-01-01_00:00:00",
           **event_options) -> list[dict]:
    """The handler's raw response to a batch of ``entries``."""
    key = f"{REQUESTS}/{batch}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    return handler.lambda_handler(event(bucket, key, label, **event_options), None)


def labels_by_id(response: list[dict], label: str = "label") -> dict[str, dict]:
    return {item["datasetObjectId"]: item["consolidatedAnnotation"]["content"][label] for item in response}


def run(s3, bucket: str, entries: list, *, label: str = "label", **options) -> dict[str, dict]:
    """Each object's consolidated label."""
    return labels_by_id(invoke(s3, bucket, entries, label=label, **options), label)


def read_json(s3, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def logged(caplog, *parts: str) -> bool:
    return any(all(part in message for part in parts) for message in caplog.messages)
