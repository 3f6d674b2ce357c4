"""The runner's side of consolidation: exactly once per object, and one bad object never holds back the rest."""
from __future__ import annotations

import dataclasses
import json
import logging
import textwrap
import threading

import pytest

from local_ground_truth.stack_reader import FunctionSpec, read_workflow
from tests.runner_helpers import job_name, local_job

GOOD = {"WeldingClassification": {"label": "Good Weld"}}

# A consolidation function that fails its whole batch on a "poison" answer, kills its own process on a
# "crash" answer, holds its batch on a "hold" answer (a gate file: it writes "<gate>.reached", then waits until
# the gate exists), and otherwise labels each object with its first answer.
FRAGILE_HANDLER = '''
import json, os, time
import boto3

def lambda_handler(event, context):
    bucket, _, key = event["payload"]["s3Uri"][len("s3://"):].partition("/")
    entries = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    answers = {e["datasetObjectId"]: json.loads(e["annotations"][0]["annotationData"]["content"]) for e in entries}
    if any("crash" in a for a in answers.values()):
        os._exit(3)
    if any("poison" in a for a in answers.values()):
        raise ValueError("poisoned answer")
    for gate in [a["hold"] for a in answers.values() if "hold" in a]:
        open(gate + ".reached", "w").close()
        while not os.path.exists(gate):
            time.sleep(0.02)
    return [{"datasetObjectId": oid, "consolidatedAnnotation": {"content": {event["labelAttributeName"]: a}}}
            for oid, a in answers.items()]
'''


@pytest.fixture
def fragile_spec(runner_assembly, tmp_path):
    package = tmp_path / "asset" / "fragile_consolidation"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(textwrap.dedent(FRAGILE_HANDLER))
    spec = read_workflow(runner_assembly, "welding")
    return dataclasses.replace(spec, consolidation=FunctionSpec(
        logical_id="Fragile", handler="fragile_consolidation.handler.lambda_handler", asset_dir=tmp_path / "asset",
        environment={}, timeout_seconds=60))


def test_a_poisoned_or_crashing_object_fails_alone_and_later_answers_are_consolidated(fragile_spec, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="local_ground_truth")
    with local_job(fragile_spec, tmp_path / "s3", job_name(tmp_path, "fragile")) as job:
        for object_id in ("0", "1", "2", "3", "4", "5"):
            answer = {"poison": True} if object_id == "3" else {"crash": True} if object_id == "4" else GOOD
            job.record_answer(object_id, "w1", answer)
        report = job.consolidate()
        assert set(job.consolidated_labels()) == {"0", "1", "2", "5"}
        assert set(report.failed) == {"3", "4"}
        assert "poisoned answer" in report.failed["3"] and "process died" in report.failed["4"]
        assert "object 3 could not be consolidated" in caplog.text and "object 4 could not be consolidated" in caplog.text
        job.record_answer("6", "w1", GOOD)  # the job goes on: the next answer is consolidated
        job.consolidate()
        assert set(job.consolidated_labels()) == {"0", "1", "2", "5", "6"}
        rows = job.output_manifest()
        assert [row["source"].rsplit("/", 1)[1] for row in rows if "welding-quality" in row] == [
            "dataset-01.json", "dataset-02.json", "dataset-03.json", "dataset-06.json", "dataset-07.json"]
        # Every other line (failed, not yet answered) is in the output as it came in, as Ground Truth writes it.
        assert len(rows) == len(job.lines) and rows[3] == job.lines[3] and rows[4] == job.lines[4]


def test_an_object_whose_line_has_no_source_fails_alone_and_the_next_batches_still_run(fragile_spec, tmp_path):
    """Its batch's name was taken before its payload failed to build: every later batch then read it as an
    interrupted batch, found no payload and failed with NoSuchKey, and nothing more was consolidated."""
    with local_job(fragile_spec, tmp_path / "s3", job_name(tmp_path, "sourceless")) as job:
        job.lines[1] = {"id": "r01", "review_text": "no source here"}  # as a hand-made manifest line might be
        job.record_answer("0", "w1", GOOD)
        job.record_answer("1", "w1", GOOD)
        report = job.consolidate()
        assert set(job.consolidated_labels()) == {"0"}
        assert report.failed == {"1": "consolidation failed: manifest line has neither 'source-ref' nor 'source' "
                                      "(keys: id, review_text)"}
        job.lines[2] = {"id": "r02"}
        job.record_answer("2", "w1", GOOD)  # a batch of nothing but such a line
        job.record_answer("3", "w1", GOOD)
        job.consolidate()
        job.record_answer("4", "w1", GOOD)
        job.consolidate()
        assert set(job.consolidated_labels()) == {"0", "3", "4"} and set(job.failed_objects()) == {"1", "2"}


def test_a_stop_finishes_the_batch_under_way_and_says_that_it_waits(fragile_spec, tmp_path, caplog, monkeypatch):
    """Ctrl-C while a batch is consolidated: the runner waits for it (its labels are kept) and says so at once,
    rather than looking hung for as long as the consolidation function takes."""
    from local_ground_truth import consolidator
    from tests.test_spaced_rewrite import wait_for

    monkeypatch.setattr(consolidator, "QUIET_WAIT_SECONDS", 0.2)
    caplog.set_level(logging.INFO, logger="local_ground_truth")
    gate = tmp_path / "gate"
    with local_job(fragile_spec, tmp_path / "s3", job_name(tmp_path, "held")) as job:
        background = consolidator.Consolidator(job).start()
        job.record_answer("0", "w1", {"hold": str(gate)})
        background.notify()
        stopping = threading.Thread(target=background.stop, kwargs={"timeout": 60})
        try:
            wait_for(lambda: gate.with_name("gate.reached").exists(), timeout=60)
            stopping.start()
            wait_for(lambda: "finishing the consolidation batch under way before stopping" in caplog.text)
            assert stopping.is_alive() and job.consolidated_labels() == {}  # still waiting for the batch
        finally:
            gate.touch()
        stopping.join(60)
        assert not stopping.is_alive()
        assert set(job.consolidated_labels()) == {"0"}  # the batch finished before the stop returned


def test_a_stop_with_no_batch_under_way_says_nothing(fragile_spec, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="local_ground_truth")
    from local_ground_truth.consolidator import Consolidator

    with local_job(fragile_spec, tmp_path / "s3", job_name(tmp_path, "idle")) as job:
        background = Consolidator(job).start()
        assert background.wait_idle(60)
        background.stop(timeout=60)
    assert "finishing the consolidation batch" not in caplog.text


def test_a_batch_a_kill_interrupted_runs_again_under_its_own_name(runner_assembly, tmp_path):
    """Payload written, Lambda maybe run, outcome never written: the restart re-runs that very payload, so
    the Lambda replaces that batch's worker-model state instead of counting the batch twice."""
    spec = read_workflow(runner_assembly, "welding")
    store, name = tmp_path / "s3", job_name(tmp_path, "replay")
    with local_job(spec, store, name) as job:
        for object_id in ("0", "1"):
            job.record_answer(object_id, "w1", GOOD)
        job.consolidate()
        [outcome] = job._keys(job._outcomes)
        job.s3.delete_object(Bucket=job.bucket, Key=outcome)  # as if killed before the outcome was written
        state_files = job._keys(f"{job.root}annotations/consolidation-state/")
        assert state_files  # the Lambda's worker model of that batch
    with local_job(spec, store, name) as job:
        assert job.consolidated_labels() == {}
        job.consolidate()
        assert set(job.consolidated_labels()) == {"0", "1"}
        assert len(job._keys(job._requests)) == 1  # no second payload: the same batch ran again
        assert job._keys(f"{job.root}annotations/consolidation-state/") == state_files  # replaced, not added
        report = json.loads(job.s3.get_object(Bucket=job.bucket, Key=f"{job.root}quality-report/WeldingClassification.json")["Body"].read())
        assert report["answers"] == 2 and report["batches"] == 1


def _pre_label_afresh(spec, s3):
    """(Its own name keeps the session's pre-labeled copy of this stack out: pre-labeling runs here.)"""


def test_pre_labeling_responses_are_stored_a_file_per_many_and_read_back_in_either_layout(runner_assembly, tmp_path,
                                                                                         monkeypatch):
    from local_ground_truth import job as job_module
    from local_ground_truth.job import LocalJob

    monkeypatch.setattr(job_module, "RESPONSES_PER_WRITE", 5)
    monkeypatch.setattr(job_module, "RESPONSES_WAIT_SECONDS", 3600)  # files of 5 however slowly responses come
    spec = read_workflow(runner_assembly, "welding")
    name = job_name(tmp_path, "responses")
    with local_job(spec, tmp_path / "store", name, prepare=_pre_label_afresh) as job:
        folder = f"{job.root}local-runner/task-inputs/"
        keys = [item["Key"] for item in job.s3.list_objects_v2(Bucket=job.bucket, Prefix=folder)["Contents"]]
        objects = job.pre_labeled_ids()
        assert len(objects) > 10 and len(keys) == -(-len(objects) // 5)
        assert all(key.endswith(".jsonl") for key in keys)
        inputs = {object_id: job.task_input(object_id) for object_id in objects}
        assert LocalJob(spec, job.s3, job.endpoint, name).pre_labeled_ids() == objects  # read back
        # A job stored by a runner before RESPONSES_PER_WRITE (one <id>.json per response) resumes as it was.
        for key in keys:
            lines = job.s3.get_object(Bucket=job.bucket, Key=key)["Body"].read().decode().splitlines()
            for entry in map(json.loads, lines):
                job.s3.put_object(Bucket=job.bucket, Key=f"{folder}{entry['object']}.json",
                                  Body=json.dumps(entry["response"]).encode())
            job.s3.delete_object(Bucket=job.bucket, Key=key)
        resumed = LocalJob(spec, job.s3, job.endpoint, name)
        assert {object_id: resumed.task_input(object_id) for object_id in resumed.pre_labeled_ids()} == inputs
