"""Objects pre-labeling excludes from human labeling (``isHumanAnnotationRequired: false``), as Ground Truth
handles them: never offered to a worker, in no consolidation payload, reported, and written to the output
manifest as their input line (the developer guide: an unlabeled object's line is written "identically to
the manifest file")."""
from __future__ import annotations

import dataclasses
import http.client
import json
import textwrap

import pytest

import workflows
from local_ground_truth import headless
from local_ground_truth.pre_labeling import report_pre_labeling
from local_ground_truth.stack_reader import FunctionSpec, read_workflow
from local_ground_truth.truth import load_truth
from tests.runner_helpers import job_name, local_job, worker_server

# Welding task inputs without plots; some objects skipped, by a boolean or by AWS samples' strings.
SKIPPING_HANDLER = '''
FLAGS = {"dataset-02.json": "false", "dataset-03.json": False, "dataset-05.json": "maybe", "dataset-06.json": "TRUE"}

def lambda_handler(event, context):
    source = event["dataObject"]["source"]
    name = source.rsplit("/", 1)[1]
    if name == "dataset-04.json":
        return {"isHumanAnnotationRequired": "false"}  # a skipped object needs no task input
    image = "s3://" + source[len("s3://"):].split("/", 1)[0] + "/welding/images/run-01.jpg"
    response = {"taskInput": {part: {"file": image, "title": part} for part in ("image", "current", "electrode", "voltage")}}
    if name in FLAGS:
        response["isHumanAnnotationRequired"] = FLAGS[name]
    return response
'''
SKIPPED = ["1", "2", "3"]


@pytest.fixture
def skipping_spec(runner_assembly, tmp_path):
    package = tmp_path / "asset" / "skipping_pre_labeling"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(textwrap.dedent(SKIPPING_HANDLER))
    spec = read_workflow(runner_assembly, "welding")
    return dataclasses.replace(spec, pre_labeling=FunctionSpec(
        logical_id="Skipping", handler="skipping_pre_labeling.handler.lambda_handler", asset_dir=tmp_path / "asset",
        environment={}, timeout_seconds=60))


def test_skipped_objects_go_to_no_worker_and_are_written_as_they_came(skipping_spec, tmp_path, capsys):
    store, name = tmp_path / "s3", job_name(tmp_path, "skip")
    with local_job(skipping_spec, store, name) as job:
        report = job.pre_report
        assert report.skipped == SKIPPED and job.skipped_ids() == SKIPPED
        assert set(report.failed) == {"4"} and "isHumanAnnotationRequired is 'maybe', not true or false" in report.failed["4"]
        assert "5" in job.object_ids() and not set(SKIPPED) & set(job.object_ids())  # "TRUE" is true
        assert job.progress()["skipped"] == 3 and job.progress()["objects"] == 14
        # Already final: the output manifest holds every input line, the skipped ones unlabeled.
        assert job.output_manifest() == job.lines
        report_pre_labeling(job)  # (it says the skipped ones too)
        said = capsys.readouterr().err
        assert ("pre-labeling failed for object 4 (s3://data-bucket/welding/datasets/dataset-05.json): "
                in said)  # named by its source: a timeout or a dead process does not name the data itself
        kept = json.loads((job.folder / f"{name}-pre-labeling-failures.json").read_text())  # for after the terminal
        assert list(kept) == ["4"] and kept["4"]["source"] == "s3://data-bucket/welding/datasets/dataset-05.json"
        assert "isHumanAnnotationRequired is 'maybe'" in kept["4"]["error"] and "(the reasons are kept in " in said
        failed = dict(job.pre_report.failed)
        job.pre_report.failed.clear()  # a later run with nothing failing removes the file
        report_pre_labeling(job)
        assert not (job.folder / f"{name}-pre-labeling-failures.json").exists()
        job.pre_report.failed.update(failed)
        capsys.readouterr()
        assert all(f"object {oid} skipped (s3://data-bucket/welding/datasets/dataset-0{int(oid) + 1}.json)" in said
                   for oid in SKIPPED)
        assert "3 of 18 objects skipped by pre-labeling; 14 go to workers" in said

        definition = workflows.definition("welding")
        simulation = headless.prepare(job, definition, load_truth(definition.truth_path), "truth.json")
        assert headless.simulate(job, simulation, workers=1, accuracy=1.0) == 14
        assert not job.consolidate().failed and job.is_complete()
        payloads = job._keys(f"{job.root}annotations/consolidated-annotation/consolidation-request/")
        sent = {entry["datasetObjectId"] for key in payloads for entry in job._get_json(key)}
        assert sent == set(job.object_ids())
        assert not job._keys(f"{job.root}annotations/worker-response/iteration-1/1/")
        rows = job.output_manifest()
        label = skipping_spec.label_attribute_name
        for object_id in SKIPPED + ["4"]:
            assert rows[int(object_id)] == job.lines[int(object_id)]  # no label, no -metadata
        assert all(label in rows[int(oid)] and f"{label}-metadata" in rows[int(oid)] for oid in job.object_ids())
        summary = headless.summarize(job, simulation, tmp_path / "summary.png")
        assert summary["skipped_objects"] == 3 and summary["objects"] == 14
        assert summary["questions"]["WeldingClassification"]["accuracy"] == 1.0

        with worker_server(job) as server:
            def request(method: str, path: str, body: dict | None = None) -> tuple[int, str]:
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                connection.request(method, path, body=json.dumps(body) if body else None,
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                result = response.status, response.read().decode()
                connection.close()
                return result

            assert "You answered 0 of 14" in request("GET", "/worker/ana")[1]  # the skipped are no one's tasks
            assert request("GET", "/worker/ana/task/1")[0] == 404
            status, body = request("POST", "/worker/ana/task/2/submit", {"WeldingClassification": {"label": "Good Weld"}})
            assert status == 404 and "not one of this job's tasks" in json.loads(body)["error"]
    # A restart reads the skipped objects back from what pre-labeling answered: nothing runs again.
    with local_job(skipping_spec, store, name) as job:
        assert job.skipped_ids() == SKIPPED and job.pre_report.done == 17 and job.is_complete()
