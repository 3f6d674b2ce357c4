"""More data for a job while it runs: lines added at the end of a data folder's manifest join a served job without a
restart (``local_ground_truth.data_growth``), and a change that is not only that is refused, the job going on."""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from local_ground_truth.data_growth import ManifestWatch, signature
from runner_helpers import REPO_ROOT, RunnerProcess

ANSWER = {"WeldingClassification": {"label": "Good Weld"}}


def _wait_until(found, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.2)


def _said(log: Path, pattern: str) -> int:
    return len(re.findall(pattern, log.read_text(errors="replace")))


def _answer_next(url: str, worker: str) -> str:
    """Take the worker's next task and answer it, as their page would; the object's id."""
    with urllib.request.urlopen(f"{url}/worker/{worker}/next", timeout=30) as response:
        task = response.geturl()
    assert "/task/" in task, task
    request = urllib.request.Request(f"{task}/submit", data=json.dumps(ANSWER).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response)["recorded"]
    return task.rsplit("/", 1)[1]


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_lines_added_to_a_running_jobs_manifest_join_it_and_an_edited_line_is_refused(tmp_path):
    folder = tmp_path / "welds"
    shutil.copytree(REPO_ROOT / "sample_data" / "welding", folder)
    manifest = folder / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:2]) + "\n")
    state, log = tmp_path / "job", tmp_path / "runner.log"
    runner = RunnerProcess(["--workflow", "welding", "--data", str(folder), "--processes", "1", "--state-dir",
                            str(state)], log)
    try:
        assert f"More data: lines added at the end of {manifest} join the job as it runs" in log.read_text()
        assert {_answer_next(runner.url, "ana") for _ in range(2)} == {"0", "1"}
        _wait_until(lambda: _said(log, r"job complete: 2 of 2 objects") == 1, "the job to complete")
        done = _page(f"{runner.url}/worker/ana")
        assert "Nothing left for you now" in done and "More data may join this job" in done
        assert "setTimeout(reloadQueue, 10000)" in done  # the page looks again by itself: new tasks reach a worker who waits
        requester = _page(f"{runner.url}/requester")
        assert f"<dt>Data</dt><dd><code>{manifest}</code>: lines added at its end join the job as it runs" in requester

        manifest.write_text("\r\n".join(lines[:4]) + "\r\n")  # two lines added, saved with another editor's line ends
        _wait_until(lambda: _said(log, r"pre-labeling done: 4 objects for workers"), "the new objects' tasks")
        assert _said(log, r"grew by 2 objects while the job runs .*: they join the job, 4 objects in all") == 1
        said = log.read_text()  # the change is said as it is seen, before the synthesis that takes a while
        assert said.index("manifest.jsonl changed: deploying the folder again") < said.index("grew by 2 objects")
        assert "You answered 2 of 4" in _page(f"{runner.url}/worker/ana")
        assert "Nothing is left" not in _page(f"{runner.url}/worker/ana?notice=done")  # what sent her there is past
        assert {_answer_next(runner.url, "ana") for _ in range(2)} == {"2", "3"}
        _wait_until(lambda: _said(log, r"job complete: 4 of 4 objects") == 1, "the grown job to complete")

        # A line added half-written (an editor saving as it is typed), then a line moved: each refused, naming the
        # problem, and nothing deployed; the job goes on as it was.
        deployed = state / "s3" / "data-bucket" / "manifests" / "input.manifest"
        grown = deployed.read_bytes()
        manifest.write_text("\n".join([*lines[:4], '{"source": "${DATA_PREFIX_URI}/data']) + "\n")
        _wait_until(lambda: _said(log, r"the change is not taken: .*line 5 is not JSON"), "the broken line to be refused")
        assert "The job goes on with its 4 objects. Once that is mended, save manifest.jsonl again" in log.read_text()
        manifest.write_text("\n".join([lines[1], lines[0], *lines[2:5]]) + "\n")
        _wait_until(lambda: _said(log, r"not only by lines added at its end"), "the moved line to be refused")
        assert "the change is not taken, and the job goes on with its 4 objects" in log.read_text()
        assert deployed.read_bytes() == grown
    finally:
        runner.stop()
    said = log.read_text()
    assert "Traceback" not in said
    output = state / "s3" / "data-bucket" / "output" / "local-welding-welds" / "manifests" / "output" / "output.manifest"
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == 4 and all(row["welding-quality"]["WeldingClassification"]["label"] == "Good Weld"
                                  for row in rows)
    record = json.loads((state / "local-welding-welds-settings.json").read_text())
    assert [growth["objects added"] for growth in record["manifest growth"]] == [2]


def test_a_manifest_is_taken_once_it_settles_and_a_moment_without_it_is_no_change(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"a": 1}\n')
    taken: list[str] = []
    watch = ManifestWatch(manifest, lambda: taken.append(manifest.read_text()), seen=signature(manifest),
                          poll_seconds=0.05)
    try:
        time.sleep(0.3)
        assert taken == []  # as read: nothing to take
        manifest.unlink()  # an editor saving by rename: the file is gone for a moment
        time.sleep(0.3)
        assert taken == []
        manifest.write_text('{"a": 1}\n{"a": 2}\n')
        _wait_until(lambda: taken, "the change to be taken", timeout=10)
        time.sleep(0.3)
        assert taken == ['{"a": 1}\n{"a": 2}\n']  # once
    finally:
        watch.stop()


def test_a_change_made_before_the_watch_started_is_taken_and_one_that_fails_does_not_end_the_watch(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"a": 1}\n')
    seen = signature(manifest)
    manifest.write_text('{"a": 1}\n{"a": 2}\n')  # while the job started
    calls = []

    def take() -> None:
        calls.append(manifest.read_text())
        if len(calls) == 1:
            raise RuntimeError("the app could not be synthesized")

    watch = ManifestWatch(manifest, take, seen=seen, poll_seconds=0.05)
    try:
        _wait_until(lambda: calls, "the change before the start to be taken", timeout=10)
        manifest.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n')
        _wait_until(lambda: len(calls) == 2, "the next change to be taken", timeout=10)
    finally:
        watch.stop()
    assert calls[1].count("\n") == 3


def test_stopping_the_watch_waits_for_a_change_being_taken(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("{}\n")
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def take() -> None:
        started.set()
        release.wait(10)
        finished.set()

    watch = ManifestWatch(manifest, take, seen=None, poll_seconds=0.05)
    assert started.wait(10)
    threading.Timer(0.3, release.set).start()
    watch.stop()
    assert finished.is_set()  # nothing is deployed after the runner closed the job


@pytest.mark.parametrize("edit", ["changed", "shorter"])
def test_a_job_takes_only_lines_added_at_the_end_of_its_manifest(tmp_path, runner_assembly, edit):
    from local_ground_truth.stack_reader import read_workflow
    from runner_helpers import local_job, put_manifest

    spec = read_workflow(runner_assembly, "welding")
    lines = (REPO_ROOT / "sample_data" / "welding" / "manifest.jsonl").read_text().splitlines()
    lines = [line.replace("${DATA_PREFIX_URI}", "s3://data-bucket/welding") for line in lines]
    with local_job(spec, tmp_path / "s3", "growing", processes=1, manifest_lines=lines[:2]) as job:
        put_manifest(spec, job.s3, lines[:3])
        assert job.take_appended_lines() == 1 and len(job.lines) == 3
        assert job.take_appended_lines() == 0
        job.pre_label(processes=1, progress=False)
        assert job.object_ids() == ["0", "1", "2"]
        assert len(job.output_manifest()) == 3  # the output manifest has a line for it at once
        put_manifest(spec, job.s3, [lines[1], lines[0], lines[2]] if edit == "changed" else lines[:2])
        with pytest.raises(ValueError, match="no longer starts with the job's objects"):
            job.take_appended_lines()
        assert len(job.lines) == 3
