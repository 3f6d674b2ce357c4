"""Nothing a worker was told was saved is ever lost: the runner killed with SIGKILL mid-stream, restarted.

The runner runs as a user runs it (``python -m local_ground_truth``, browser mode, its own S3 endpoint
keeping the job's bucket on disk); worker threads stream submissions over HTTP; the whole process
tree is killed with SIGKILL in the middle; the same command resumes; the answers on disk are checked.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from local_ground_truth.job import LocalJob
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import RunnerProcess, app_with_pre_labeling, job_name, local_job, worker_responses

LABEL = "welding-quality"
CATEGORY = "Lack of Fusion"


def _post(url: str, answer: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(answer).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _stream(base: str, workers: list[str], acknowledged: list, stop: threading.Event) -> list[threading.Thread]:
    """Each worker takes the next task and submits, until nothing is left, the server dies or ``stop``."""

    def work(worker: str) -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{base}/worker/{worker}/next", timeout=30) as response:
                    landed = response.geturl()
                if "/task/" not in landed:
                    return  # the queue: nothing left for this worker
                object_id = landed.split("/task/")[1].split("?")[0]
                result = _post(f"{base}/worker/{worker}/task/{object_id}/submit",
                               {"WeldingClassification": {"label": CATEGORY}})
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                return  # the server was killed under this request: its answer was never acknowledged
            if result.get("recorded"):
                acknowledged.append((object_id, worker))

    threads = [threading.Thread(target=work, args=(worker,), daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    return threads


def _output_rows(store: Path) -> list[dict]:
    """The labeled lines of the output manifest (it holds every input line; unlabeled ones as they came)."""
    [manifest] = list(store.glob("*/output/*/manifests/output/output.manifest")) or [None]
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()] if manifest else []
    return [row for row in rows if LABEL in row]


def test_every_acknowledged_answer_survives_sigkill_and_restart_and_none_is_written_twice(runner_assembly, tmp_path):
    state = tmp_path / "job"
    store = state / "s3"
    args = ["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir", str(state),
            "--processes", "2", "--job-name", "durable"]
    workers = [f"w{number}" for number in range(1, 7)]
    acknowledged: list[tuple[str, str]] = []

    for run, kill_after in enumerate((5, 11)):  # two kills, at different points of the stream
        runner = RunnerProcess(args, tmp_path / f"runner-{run}.log")
        stop = threading.Event()
        threads = _stream(runner.url, workers, acknowledged, stop)
        deadline = time.monotonic() + 120
        while len(acknowledged) < kill_after and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        runner.kill(store)  # mid-stream: other submissions are in flight
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert len(acknowledged) >= kill_after

    # The same command resumes; the workers finish the job.
    runner = RunnerProcess(args, tmp_path / "runner-final.log")
    for thread in _stream(runner.url, workers, acknowledged, threading.Event()):
        thread.join(timeout=120)
    deadline = time.monotonic() + 120
    while len(_output_rows(store)) < 18 and time.monotonic() < deadline:
        time.sleep(0.2)
    runner.stop()

    answers = worker_responses(store)
    written = Counter((a["objectId"], a["workerId"]) for a in answers)
    assert all(count == 1 for count in written.values()), {k: c for k, c in written.items() if c > 1}
    assert set(acknowledged) <= set(written), set(acknowledged) - set(written)
    assert len(set(acknowledged)) == len(acknowledged)  # no worker was told twice
    per_object = Counter(object_id for object_id, _ in written)
    assert set(per_object) == {str(i) for i in range(18)} and set(per_object.values()) == {1}  # dev: 1 per object

    # Consolidated exactly once: every object in the output, each in one consolidation payload, and the
    # worker model's statistics count each answer once however the kills fell.
    rows = _output_rows(store)
    assert len(rows) == 18 and all(row[LABEL]["WeldingClassification"]["label"] == CATEGORY for row in rows)
    payloads = [p for p in store.glob("*/output/durable/annotations/consolidated-annotation/consolidation-request/"
                                      "iteration-1/*.json")]
    sent = Counter(entry["datasetObjectId"] for p in payloads for entry in json.loads(p.read_text()))
    assert set(sent.values()) == {1} and len(sent) == 18
    [report] = store.glob("*/output/durable/quality-report/WeldingClassification.json")
    assert json.loads(report.read_text())["answers"] == 18


def test_bad_stored_files_are_left_out_by_name_and_the_job_resumes_with_everything_else(runner_assembly, tmp_path,
                                                                                         caplog):
    """A stray, corrupt or misshapen file in the job's folders (a disk error, a hand edit, a foreign write) is named
    and left out; every good answer, label and task input is read back, and no worse (before: the runner did not
    start at all, on a JSONDecodeError naming no file)."""
    import logging

    from local_ground_truth.job import LocalJob
    from local_ground_truth.stack_reader import read_workflow
    from tests.runner_helpers import job_name, local_job

    caplog.set_level(logging.WARNING, logger="local_ground_truth")
    good = {"WeldingClassification": {"label": "Good Weld"}}
    spec = read_workflow(runner_assembly, "welding")
    store, name = tmp_path / "s3", job_name(tmp_path, "bad-files")
    with local_job(spec, store, name) as job:
        for object_id in ("0", "1"):
            job.record_answer(object_id, "ana", good)
        job.consolidate()
        answers, inputs = job.answers_prefix, f"{job.root}local-runner/task-inputs/"
        planted = {
            f"{answers}5": b"x",  # a file where object 5's folder of answers goes
            f"{answers}2/corrupt.json": b'{"answers": [',
            f"{answers}3/misshapen.json": b'{"answers": [{"workerId": 7}]}',
            f"{answers}999/elsewhere.json": json.dumps({"answers": [{"workerId": "eve", "answerContent": good}]}).encode(),
            f"{inputs}zz-corrupt.jsonl": b"not json\n",
            f"{answers}4/odd-time.json": json.dumps({"answers": [{"workerId": "eve", "answerContent": good,
                                                                  "submissionTime": 5}]}).encode(),
        }
        for key, body in planted.items():
            job.s3.put_object(Bucket=job.bucket, Key=key, Body=body)
        resumed = LocalJob(spec, job.s3, job.endpoint, name, store=store)
        try:
            assert resumed.progress()["answers"] == 2 and resumed.workers_of("0") == resumed.workers_of("1") == {"ana"}
            assert set(resumed.consolidated_labels()) == {"0", "1"}
            assert resumed.pre_labeled_ids() == job.pre_labeled_ids() and resumed.pre_labeling_finished()
            for key in planted:
                assert f"left out {key} of the job's stored files" in caplog.text
            assert "is not an answer file" in caplog.text and "holds an answer without a workerId" in caplog.text
            assert "zz-corrupt.jsonl of the job's stored files: it has line 1, which is not valid JSON" in caplog.text
            assert "whose submissionTime is not a time" in caplog.text
            resumed.record_answer("2", "bo", good)  # the objects beside the bad files take answers as before
            assert resumed.workers_of("2") == {"bo"}
        finally:
            resumed.close()


# The consolidation function held back: each invocation says it runs, then waits until the gate folder holds "open".
HELD_CONSOLIDATION = '''

import os as _os
import time as _time

_handler = lambda_handler
_GATE = {gate!r}


def lambda_handler(event, context=None):
    open(_os.path.join(_GATE, "running"), "w").close()
    while not _os.path.exists(_os.path.join(_GATE, "open")):
        _time.sleep(0.02)
    return _handler(event, context)
'''


def test_ctrl_c_during_a_batch_whose_outcome_nobody_waits_for_ends_its_function_and_the_batch_runs_again(
        runner_assembly, tmp_path):
    """A headless run's batch is run in the main thread: Ctrl-C there leaves the batch's payload without an outcome.
    Closing the job then ends the consolidation function at once (its outcome would never be recorded) instead of
    waiting for it, and the same job resumed runs that batch again under its own name."""
    gate = tmp_path / "gate"
    gate.mkdir()
    spec = read_workflow(app_with_pre_labeling(runner_assembly, tmp_path, HELD_CONSOLIDATION.format(gate=str(gate)),
                                               function="consolidation"), "welding")
    store, name = tmp_path / "s3", job_name(tmp_path, "interrupted")
    with local_job(spec, store, name) as job:
        job.record_answer("0", "ana", {"WeldingClassification": {"label": CATEGORY}})

        def ctrl_c_once_it_runs():
            while not (gate / "running").exists():
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGINT)

        previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as a terminal's runner gets it
        try:
            threading.Thread(target=ctrl_c_once_it_runs, daemon=True).start()
            with pytest.raises(KeyboardInterrupt):
                job.consolidate()
        finally:
            signal.signal(signal.SIGINT, previous)
        [stamp] = job._interrupted_batches()
        closing = threading.Thread(target=job.close, daemon=True)
        closing.start()
        closing.join(60)
        waited = closing.is_alive()
        (gate / "open").touch()  # a handler still held lets go (closing waited for it)
        closing.join()
        assert not waited, "closing waited for the interrupted batch's invocation, whose outcome nobody records"
        assert "0" not in job.consolidated_labels()

        again = LocalJob(spec, job.s3, job.endpoint, name, store=store)  # the same command, run again
        assert again._interrupted_batches() == [stamp]
        again.consolidate()
        assert not again._interrupted_batches() and again.consolidated_labels()["0"]["label"]
        again.close()


def test_ctrl_c_before_serving_begins_stops_as_the_normal_way_does(runner_assembly, tmp_path, monkeypatch, capsys):
    """A resumed job says its pre-labeling is done at once, before the server serves: a Ctrl-C pressed on seeing it
    ended the run by another way, the server never stopped, the reports and the job's summary never said."""
    from local_ground_truth import __main__ as cli

    said = cli.say

    def ctrl_c_on_the_workers_line(message):
        said(message)
        if message.lstrip().startswith("Workers:"):
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "say", ctrl_c_on_the_workers_line)
    code = cli.main(["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir",
                     str(tmp_path / "job"), "--processes", "1", "--job-name", "early", "--port", "0"])
    out = capsys.readouterr().err
    assert code == 0 and "Workers: open" in out
    # The normal stop's summary (here: nothing pre-labeled yet), not the other way's one line.
    assert "\nStopped before any of the 18 objects in the manifest was pre-labeled" in out
    assert "stopped; every answer so far" not in out
