"""Workers label while pre-labeling goes on: each object is a task once its pre-labeling response is stored.

The runner serves the worker UI before pre-labeling ends (a 10,000-object job would otherwise keep every
worker waiting for minutes). Here the stack's pre-labeling Lambda is held back (a copy of its code that
pre-labels an object only once the test lets it), so the job is still pre-labeling while a worker in Chromium
waits on an empty queue (the page looks again by itself until tasks are there), answers with the keyboard, and
while the runner is stopped with invocations in flight (the stop does not wait for them); the same command
resumes pre-labeling where it stopped and keeps the answer.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import REPO_ROOT, RunnerProcess, app_with_pre_labeling, ctrl_c_stops
from tests.test_local_runner_browser import page_for

# This test's pre-labeling: each invocation waits until the gate folder holds "open" (every object may go) or a
# "pass-*" file it can take for itself (one object may go).
HELD_BACK = '''

import os as _os
import time as _time

_handler = lambda_handler
_GATE = {gate!r}


def lambda_handler(event, context=None):
    while not _os.path.exists(_os.path.join(_GATE, "open")):
        for name in sorted(_os.listdir(_GATE)):
            if name.startswith("pass-"):
                try:
                    _os.rename(_os.path.join(_GATE, name), _os.path.join(_GATE, "used-" + name))
                except FileNotFoundError:
                    continue  # another environment took it
                return _handler(event, context)
        _time.sleep(0.02)
    return _handler(event, context)
'''


@pytest.fixture
def gate(tmp_path) -> Path:
    folder = tmp_path / "gate"
    folder.mkdir()
    return folder


@pytest.fixture
def held_back_pre_labeling(runner_assembly, tmp_path, gate):
    """The app, its welding pre-labeling function's code a copy that waits for the test's ``gate``."""
    return app_with_pre_labeling(runner_assembly, tmp_path, HELD_BACK.format(gate=str(gate)))


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_a_worker_labels_while_pre_labeling_goes_on_and_a_stop_then_resumes_it(held_back_pre_labeling, gate, browser,
                                                                                tmp_path):
    state = tmp_path / "job"
    args = ["--workflow", "welding", "--cloud-assembly", str(held_back_pre_labeling), "--state-dir", str(state),
            "--processes", "2", "--job-name", "streamed"]
    first_log = tmp_path / "runner-1.log"
    runner = RunnerProcess(args, first_log, pre_labeled=False)
    try:
        said = first_log.read_text()
        assert "18 objects in the manifest, pre-labeling goes on: each is a task as soon as it is ready" in said
        with urllib.request.urlopen(f"{runner.url}/worker/bo/next", timeout=30) as response:
            landed, body = response.geturl(), response.read().decode()
        assert "/task/" not in landed and "No task is ready for you yet: more are being prepared." in body
        page = page_for(browser)
        page.goto(f"{runner.url}/worker/ana")
        assert page.is_visible("#preparing") and not page.is_visible("#done")  # nothing stored yet: more will come
        for number in range(2):  # two objects may be pre-labeled; the rest stay in flight
            (gate / f"pass-{number}").touch()
        page.wait_for_selector("#start", timeout=60_000)  # the page looked again by itself: tasks are there
        page.click("#start")
        page.wait_for_selector(".local-gt-category")
        object_id = page.url.rsplit("/", 1)[1]
        page.keyboard.press("4")  # Lack of Fusion, with the keyboard as a worker labels
        page.keyboard.press("Enter")
        page.wait_for_function("id => !location.pathname.endsWith('/task/' + id)", arg=object_id)
        requester = _page(f"{runner.url}/requester/live")
        assert 'id="pre-labeling"' in requester
        deadline = time.monotonic() + 60  # both objects let through are stored (in a group, or on their own)
        while "You answered 0 of 2;" not in _page(f"{runner.url}/worker/bo") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stopping = time.monotonic()
        runner.stop()  # Ctrl-C while the job is still pre-labeling, two invocations waiting at the gate
    assert time.monotonic() - stopping < 20  # not held up by them (the function's timeout is a minute)
    said = first_log.read_text()
    assert "pre-labeling done" not in said and f'answer: worker "ana" on object {object_id} (1 of 1)' in said
    assert "2 objects pre-labeled so far; 18 in the manifest)" in said and "Run the same command again to resume" in said

    # The same command: the answer kept, the stored responses kept, the rest pre-labeled, then every task there.
    (gate / "open").touch()
    second_log = tmp_path / "runner-2.log"
    runner = RunnerProcess(args, second_log)
    try:
        said = second_log.read_text()
        assert re.search(r"\(1 answer and (0 consolidated objects|1 consolidated object) from earlier runs\)", said)
        assert "/18 [" not in said.split("Workers: open")[0]  # only what was not stored before is pre-labeled again
        assert "You answered 1 of 18" in _page(f"{runner.url}/worker/ana")
        assert 'id="pre-labeling"' not in _page(f"{runner.url}/requester/live")
    finally:
        runner.stop()


def test_ctrl_c_stops_a_headless_run_at_once_while_pre_labeling_waits_and_the_same_command_finishes(
        held_back_pre_labeling, gate, tmp_path):
    command = [sys.executable, "-m", "local_ground_truth", "--workflow", "welding", "--simulate-workers", "3",
               "--cloud-assembly", str(held_back_pre_labeling), "--state-dir", str(tmp_path / "job"), "--processes", "2"]
    log = tmp_path / "headless-1.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True, preexec_fn=ctrl_c_stops)
    try:
        deadline = time.monotonic() + 120
        while "pre-labeling:" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the environments are up, every invocation waiting at the gate
        stopping = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as a terminal delivers it
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert time.monotonic() - stopping < 20  # not held up by the invocations (the function's timeout is a minute)
    assert "stopped; every answer so far is saved. Run the same command again to resume." in log.read_text()

    (gate / "open").touch()
    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert summary["objects"] == 18 and summary["pre_labeling_failures"] == 0


def test_a_stopped_pre_labeling_keeps_what_it_stored_and_the_next_run_does_only_the_rest(runner_assembly, tmp_path,
                                                                                         monkeypatch):
    from local_ground_truth import job as job_module
    from local_ground_truth import local_s3
    from local_ground_truth.job import LocalJob

    monkeypatch.setattr(job_module, "RESPONSES_PER_WRITE", 3)
    monkeypatch.setattr(job_module, "RESPONSES_WAIT_SECONDS", 3600)
    spec = read_workflow(runner_assembly, "welding")
    store = tmp_path / "store"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        job = LocalJob(spec, s3, endpoint, "stopped", store=store)
        assert not job.pre_labeling_finished()
        stop = threading.Event()
        store_task_inputs = job._store_task_inputs

        def stored_then_stop(responses):  # Ctrl-C once the first file of responses is stored
            try:
                return store_task_inputs(responses)
            finally:
                stop.set()

        monkeypatch.setattr(job, "_store_task_inputs", stored_then_stop)
        job.pre_label(processes=2, progress=False, stop=stop)
        kept = job.pre_labeled_ids()
        assert 3 <= len(kept) < 18 and not job.pre_labeling_finished() and not job.is_complete()
        # The output manifest is left to the stop's last flush (written there once, not by pre-labeling and again)
        assert job.output_manifest_rewrite.rewrites == 0
        job.close()
        assert job.output_manifest_rewrite.rewrites == 1
        assert job.output_manifest() == job.lines  # every line, none labeled yet: as they came

        again = LocalJob(spec, s3, endpoint, "stopped", store=store)  # the same command, run again
        assert again.pre_labeled_ids() == kept and not again.pre_labeling_finished()
        folder = f"{again.root}local-runner/task-inputs/"
        before = {item["Key"] for item in s3.list_objects_v2(Bucket=again.bucket, Prefix=folder)["Contents"]}
        again.pre_label(processes=2, progress=False)
        assert again.pre_labeling_finished() and len(again.pre_labeled_ids()) == 18
        added = [item["Key"] for item in s3.list_objects_v2(Bucket=again.bucket, Prefix=folder)["Contents"]
                 if item["Key"] not in before]
        lines = [json.loads(line) for key in added
                 for line in s3.get_object(Bucket=again.bucket, Key=key)["Body"].read().decode().splitlines()]
        assert sorted((entry["object"] for entry in lines), key=int) == sorted(set(map(str, range(18))) - kept, key=int)
        again.close()


def test_a_browser_run_stopped_while_pre_labeling_ends_that_first_then_writes_the_output_manifest_once(
        held_back_pre_labeling, gate, tmp_path, monkeypatch):
    """Ctrl-C with invocations in flight: pre-labeling (which uses every core) is ended before the server stops and
    the files are written, and the output manifest is written once, after it."""
    from local_ground_truth import __main__ as runner
    from local_ground_truth.job import LocalJob
    from local_ground_truth.server import WorkerServer

    events: list[str] = []
    pre_label, put, stop_server, serve = (LocalJob.pre_label, LocalJob._put_output_manifest, WorkerServer.stop,
                                          WorkerServer.serve_forever)

    def recorded_pre_label(self, *args, **kwargs):
        try:
            return pre_label(self, *args, **kwargs)
        finally:
            events.append("pre-labeling ended")

    def recorded_put(self):
        events.append("output manifest written")
        put(self)

    def recorded_stop(self):
        events.append("server stopping")
        stop_server(self)

    def serve_then_ctrl_c(self):
        def ctrl_c_once_two_are_stored():
            deadline = time.monotonic() + 120
            while len(self.site.job.object_ids()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            events.append("Ctrl-C")
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=ctrl_c_once_two_are_stored, daemon=True).start()
        serve(self)

    monkeypatch.setattr(LocalJob, "pre_label", recorded_pre_label)
    monkeypatch.setattr(LocalJob, "_put_output_manifest", recorded_put)
    monkeypatch.setattr(WorkerServer, "stop", recorded_stop)
    monkeypatch.setattr(WorkerServer, "serve_forever", serve_then_ctrl_c)
    for number in range(2):  # two objects may be pre-labeled; the rest wait at the gate until the stop ends them
        (gate / f"pass-{number}").touch()
    state = tmp_path / "job"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as a terminal's runner gets it
    try:
        code = runner.main(["--workflow", "welding", "--cloud-assembly", str(held_back_pre_labeling), "--state-dir",
                            str(state), "--processes", "2", "--job-name", "stopped-first", "--port", "0"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 0
    assert events == ["Ctrl-C", "pre-labeling ended", "server stopping", "output manifest written"]
    [manifest] = state.glob("s3/*/*/stopped-first/manifests/output/output.manifest")
    assert len(manifest.read_text().splitlines()) == 18


@pytest.mark.parametrize("pre_labeled, expected", [
    (None, "Stopped with 3 of 18 objects consolidated (their labels are in the output manifest, out.manifest); every "
           "answer so far is saved. Run the same command again to resume."),
    (5, "Stopped with 3 of 5 objects consolidated (of the 5 objects pre-labeled so far; 18 in the manifest) (their "
        "labels are in the output manifest, out.manifest)"),
    (0, "Stopped before any of the 18 objects in the manifest was pre-labeled: there is nothing to label yet. Run the "
        "same command again to pre-label them and start the job."),
])
def test_the_stop_message_says_how_far_the_job_got(pre_labeled, expected):
    from local_ground_truth.__main__ import stopped_message

    objects = 18 if pre_labeled is None else pre_labeled
    assert expected in stopped_message({"consolidated": 3, "objects": objects}, pre_labeled, 18, "out.manifest")
