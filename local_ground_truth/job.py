"""One labeling job run locally, writing what Ground Truth writes, where it writes it.

State lives only in the local S3 bucket, under ``<OutputPrefix><job name>/``, so a run that is
stopped (Ctrl-C) resumes from what is there: pre-labeled task inputs, workers' answers, and the
consolidated output manifest.
"""
from __future__ import annotations

import datetime
import importlib
import json
import os
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Collection

from tqdm import tqdm

from local_ground_truth.stack_reader import FunctionSpec, WorkflowSpec

ITERATION = "iteration-1"
READ_THREADS = 4  # concurrent GETs when reading a job's answers back


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_handler(spec: FunctionSpec, endpoint: str) -> Callable:
    """Import a function from its staged asset folder, with its declared environment."""
    os.environ.update(spec.environment)
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    if str(spec.asset_dir) not in sys.path:
        sys.path.insert(0, str(spec.asset_dir))
    module_name, function_name = spec.handler.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), function_name)


# -- Lambda stand-ins: handlers run in child processes, each a fresh "execution environment" ---------
_HANDLER: Callable | None = None


def _init_function(spec: FunctionSpec, endpoint: str) -> None:
    global _HANDLER
    _HANDLER = load_handler(spec, endpoint)


def _invoke(event: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, _HANDLER(event, None)
    except Exception as error:  # noqa: BLE001 - reported per object, the run goes on
        return False, f"{type(error).__name__}: {error}"


@dataclass
class PreLabelReport:
    done: int = 0
    skipped_human: int = 0
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class ConsolidationReport:
    consolidated: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _local_environment(spec: WorkflowSpec, bucket: str) -> WorkflowSpec:
    """The functions' environment with the input bucket's deploy-time name (e.g. in TASK_RECORDS_URI) filled in."""
    def resolve(value: Any) -> str:
        if isinstance(value, dict) and value == {"Ref": spec.task["InputBucket"]}:
            return bucket
        if isinstance(value, dict) and set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(resolve(part) for part in parts)
        if isinstance(value, str):
            return value
        raise ValueError(f"environment value {value!r} cannot be resolved locally")

    def local(function: FunctionSpec) -> FunctionSpec:
        return replace(function, environment={name: resolve(value) for name, value in function.environment.items()})
    return replace(spec, pre_labeling=local(spec.pre_labeling), consolidation=local(spec.consolidation))


class LocalJob:
    def __init__(self, spec: WorkflowSpec, s3, endpoint: str, bucket: str, job_name: str) -> None:
        spec = _local_environment(spec, bucket)
        self.spec, self.s3, self.endpoint, self.bucket, self.job_name = spec, s3, endpoint, bucket, job_name
        self.root = f"{spec.task['OutputPrefix']}{job_name}/"
        self.job_arn = f"arn:aws:sagemaker:local:000000000000:labeling-job/{job_name}"
        self.pre_report = PreLabelReport()

    # -- S3 helpers ------------------------------------------------------------------------------
    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _put_json(self, key: str, value: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value).encode(), ContentType="application/json")

    def _get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def _keys(self, prefix: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    # -- the input -------------------------------------------------------------------------------
    def manifest_lines(self) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=self.spec.task["ManifestKey"])["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def task_input_key(self, object_id: str) -> str:
        return f"{self.root}local-runner/task-inputs/{object_id}.json"

    def pre_labeled_ids(self) -> set[str]:
        return {key.rsplit("/", 1)[1].removesuffix(".json") for key in self._keys(f"{self.root}local-runner/task-inputs/")}

    def pre_label(self, processes: int | None = None, progress: bool = True) -> PreLabelReport:
        """Run the stack's pre-labeling handler for every manifest line not yet done, in parallel."""
        report = PreLabelReport()
        lines = self.manifest_lines()
        done = self.pre_labeled_ids()
        pending = {str(i): line for i, line in enumerate(lines) if str(i) not in done}
        report.done = len(done)
        if not pending:
            return report
        processes = processes or os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=processes, initializer=_init_function,
                                 initargs=(self.spec.pre_labeling, self.endpoint)) as pool:
            futures = {pool.submit(_invoke, {"version": "2018-10-06", "labelingJobArn": self.job_arn,
                                                "dataObject": line}): object_id
                       for object_id, line in pending.items()}
            for future in tqdm(as_completed(futures), total=len(futures), desc="pre-labeling", disable=not progress,
                               file=sys.stderr):
                object_id = futures[future]
                ok, result = future.result()
                if not ok:
                    report.failed[object_id] = result
                    continue
                if str(result.get("isHumanAnnotationRequired", "true")).lower() == "false":
                    report.skipped_human += 1
                self._put_json(self.task_input_key(object_id), result)
                report.done += 1
        return report

    def task_input(self, object_id: str) -> dict[str, Any]:
        return self._get_json(self.task_input_key(object_id))["taskInput"]

    # -- workers' answers -----------------------------------------------------------------------
    def record_answer(self, object_id: str, worker_id: str, answer: dict[str, Any],
                      accepted_at: str | None = None, seconds: float = 0.0) -> str:
        """Write one answer as Ground Truth does: one file per submission under worker-response."""
        submitted = _now()
        key = (f"{self.root}annotations/worker-response/{ITERATION}/{object_id}/"
               f"{submitted.replace(':', '-')}-{uuid.uuid4().hex[:8]}.json")
        self._put_json(key, {"answers": [{
            "acceptanceTime": accepted_at or submitted,
            "answerContent": answer,
            "submissionTime": submitted,
            "timeSpentInSeconds": round(seconds, 3),
            "workerId": worker_id,
            "workerMetadata": {"identityData": {"identityProviderType": "Local", "issuer": "local_ground_truth",
                                                "sub": worker_id}},
        }]})
        return key

    def answers(self, exclude: Collection[str] = ()) -> dict[str, list[dict[str, Any]]]:
        """Every recorded answer, by data object id, except those of the ``exclude`` objects."""
        by_object: dict[str, list[dict[str, Any]]] = {}
        keys = [key for key in self._keys(f"{self.root}annotations/worker-response/{ITERATION}/")
                if key.split("/")[-2] not in exclude]
        # One GET per answer file: a few in flight at once keep the endpoint busy while this process
        # parses responses (the S3 client is thread-safe); results stay in listing order.
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            for key, body in zip(keys, pool.map(self._get_json, keys)):
                by_object.setdefault(key.split("/")[-2], []).extend(body["answers"])
        return by_object

    # -- consolidation and output ------------------------------------------------------------------
    def consolidated_labels(self) -> dict[str, dict[str, Any]]:
        """Every object consolidated so far, ``{id: {"label", "creation-date"}}``, from the per-batch
        files under ``annotations/intermediate/``."""
        labels: dict[str, dict[str, Any]] = {}
        for key in sorted(self._keys(f"{self.root}annotations/intermediate/{ITERATION}/")):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            for line in body.splitlines():
                if line.strip():
                    entry = json.loads(line)
                    labels[str(entry["datasetObjectId"])] = entry
        return labels

    def _batch_stamp(self) -> str:
        """Ground Truth's payload name (a UTC timestamp), made unique if a batch already has it."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d_%H:%M:%S")
        taken = {key.rsplit("/", 1)[1].removesuffix(".json") for key in
                 self._keys(f"{self.root}annotations/consolidated-annotation/consolidation-request/{ITERATION}/")}
        candidate, number = stamp, 1
        while candidate in taken:
            number += 1
            candidate = f"{stamp}.{number}"
        return candidate

    def consolidate(self) -> ConsolidationReport:
        """Consolidate, as one batch, every object newly answered by enough workers; write the output.

        As in Ground Truth, each object is consolidated once: the consolidation Lambda's worker
        model and quality statistics count every batch, so an object sent twice would count twice.
        """
        report = ConsolidationReport()
        needed = self.spec.workers_per_object
        lines = self.manifest_lines()
        done = self.consolidated_labels()
        # Objects already consolidated are not read again: the browser flow calls this per answer.
        answered = {oid: a for oid, a in self.answers(exclude=done).items()
                    if len({x["workerId"] for x in a}) >= needed}
        report.consolidated = len(done)
        if not answered:
            return report
        payload = [{
            "datasetObjectId": object_id,
            "dataObject": _data_object(lines[int(object_id)]),
            "annotations": [{"workerId": a["workerId"], "annotationData": {"content": json.dumps(a["answerContent"])}}
                            for a in answers],
        } for object_id, answers in sorted(answered.items(), key=lambda item: int(item[0]))]
        stamp = self._batch_stamp()
        payload_key = f"{self.root}annotations/consolidated-annotation/consolidation-request/{ITERATION}/{stamp}.json"
        self._put_json(payload_key, payload)
        label = self.spec.label_attribute_name
        with ProcessPoolExecutor(max_workers=1, initializer=_init_function,
                                 initargs=(self.spec.consolidation, self.endpoint)) as pool:
            ok, response = pool.submit(_invoke, {
            "version": "2018-10-06", "labelingJobArn": self.job_arn, "labelCategories": None,
            "labelAttributeName": label, "roleArn": "arn:aws:iam::000000000000:role/local",
            "outputConfig": self.uri(f"{self.root}annotations"),
            "maxHumanWorkersPerDataObject": needed, "payload": {"s3Uri": self.uri(payload_key)},
        }).result()
        if not ok:  # the whole batch failed: every object of it is failed, as in Ground Truth
            report.failed.update({object_id: f"consolidation failed: {response}" for object_id in answered})
            return report
        created = _now()
        labels = {oid: {"datasetObjectId": oid, "label": value, "creation-date": created}
                  for oid, value in _check_response(response, label, set(answered), report).items()}
        if labels:
            batch = "".join(json.dumps(entry) + "\n" for entry in labels.values())
            self.s3.put_object(Bucket=self.bucket, Key=f"{self.root}annotations/intermediate/{ITERATION}/{stamp}.jsonl",
                               Body=batch.encode())
        done.update(labels)
        output = []
        for object_id, line in enumerate(lines):
            if str(object_id) not in done:
                continue
            entry = done[str(object_id)]
            output.append({**line, label: entry["label"], f"{label}-metadata": {
                "type": "groundtruth/custom", "job-name": self.job_name, "human-annotated": "yes",
                "creation-date": entry["creation-date"]}})
        report.consolidated = len(output)
        body = "".join(json.dumps(entry) + "\n" for entry in output)
        self.s3.put_object(Bucket=self.bucket, Key=self.output_manifest_key, Body=body.encode())
        return report

    @property
    def output_manifest_key(self) -> str:
        return f"{self.root}manifests/output/output.manifest"

    def output_manifest(self) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=self.output_manifest_key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines() if line.strip()]


def _data_object(line: dict[str, Any]) -> dict[str, Any]:
    for key in ("source-ref", "source"):
        if key in line:
            return {"s3Uri": line[key]} if key == "source-ref" else {"content": line[key]}
    return {"content": json.dumps(line)}


def _check_response(response: Any, label: str, expected: set[str], report: ConsolidationReport) -> dict[str, Any]:
    """What Ground Truth accepts from consolidation; a missing or malformed entry fails its object."""
    labels: dict[str, Any] = {}
    if not isinstance(response, list):
        for object_id in expected:
            report.failed[object_id] = "consolidation response is not a list"
        return labels
    for entry in response:
        try:
            object_id = str(entry["datasetObjectId"])
            labels[object_id] = entry["consolidatedAnnotation"]["content"][label]
        except (KeyError, TypeError):
            report.failed[str(entry.get("datasetObjectId", "?")) if isinstance(entry, dict) else "?"] = (
                f"malformed consolidation entry: {str(entry)[:200]}")
    for object_id in expected - set(labels):
        report.failed.setdefault(object_id, "no consolidation entry for this object")
    return labels
