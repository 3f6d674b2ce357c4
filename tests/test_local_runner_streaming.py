"""Workers label while pre-labeling goes on: each object is a task once its pre-labeling response is stored.

The runner serves the worker UI before pre-labeling ends (a 10,000-object job would otherwise keep every
worker waiting for minutes). Here the stack's pre-labeling Lambda is made slow (a copy of its code that
sleeps before each object), so the job is still pre-labeling while a worker answers and while the runner is
stopped; the same command resumes pre-labeling where it stopped and keeps the answer.
"""
from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import REPO_ROOT, RunnerProcess
from tests.test_local_runner_durability import CATEGORY, _post

SLOW_SECONDS = 1.0  # per object, in each of the 2 pre-labeling processes: the 18 sample runs take ~9 s
SLOW = f'''

import time as _time

_handler = lambda_handler


def lambda_handler(event, context=None):  # this test's slow pre-labeling
    _time.sleep({SLOW_SECONDS})
    return _handler(event, context)
'''


@pytest.fixture
def slow_pre_labeling(runner_assembly, tmp_path):
    """The app, its welding pre-labeling function's code a copy that sleeps before each object."""
    app = tmp_path / "app"
    shutil.copytree(runner_assembly, app, symlinks=True)
    code = tmp_path / "lambda_src"
    shutil.copytree(REPO_ROOT / "lambda_src", code, ignore=shutil.ignore_patterns("__pycache__"))
    handler = code / "welding_pre_labeling" / "handler.py"
    handler.write_text(handler.read_text() + SLOW)
    function = read_workflow(runner_assembly, "welding").pre_labeling.logical_id
    path = app / "WeldingLabeling-dev.template.json"
    stack = json.loads(path.read_text())
    stack["Resources"][function]["Metadata"]["aws:asset:path"] = str(code)
    path.write_text(json.dumps(stack))
    assert read_workflow(app, "welding").pre_labeling.asset_dir == code
    return app


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def _first_task(base: str, worker: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/worker/{worker}/next", timeout=30) as response:
            landed = response.geturl()
        if "/task/" in landed:
            return landed.split("/task/")[1].split("?")[0]
        time.sleep(0.2)
    raise AssertionError(f"no task reached {worker} in {timeout} s")


def test_a_worker_labels_while_pre_labeling_goes_on_and_a_stop_then_resumes_it(slow_pre_labeling, tmp_path):
    state = tmp_path / "job"
    args = ["--workflow", "welding", "--cloud-assembly", str(slow_pre_labeling), "--state-dir", str(state),
            "--processes", "2", "--job-name", "streamed"]
    first_log = tmp_path / "runner-1.log"
    runner = RunnerProcess(args, first_log, pre_labeled=False)
    try:
        said = first_log.read_text()
        assert "18 objects in the manifest, pre-labeling goes on: each is a task as soon as it is ready" in said
        queue = _page(f"{runner.url}/worker/ana")
        assert 'id="preparing"' in queue and "Nothing left" not in queue  # nothing stored yet: more will come
        object_id = _first_task(runner.url, "ana")
        assert _post(f"{runner.url}/worker/ana/task/{object_id}/submit",
                     {"WeldingClassification": {"label": CATEGORY}})["recorded"]
        requester = _page(f"{runner.url}/requester/live")
        assert 'id="pre-labeling"' in requester
    finally:
        runner.stop()  # Ctrl-C while the job is still pre-labeling
    said = first_log.read_text()
    assert "pre-labeling done" not in said and f'answer: worker "ana" on object {object_id} (1 of 1)' in said
    assert "objects pre-labeled so far; 18 in the manifest)" in said and "Run the same command again to resume" in said

    # The same command: the answer kept, the stored responses kept, the rest pre-labeled, then every task there.
    second_log = tmp_path / "runner-2.log"
    runner = RunnerProcess(args, second_log)
    try:
        said = second_log.read_text()
        assert re.search(r"\(1 answers and [01] consolidated objects from earlier runs\)", said)
        assert "/18 [" not in said.split("Workers: open")[0]  # only what was not stored before is pre-labeled again
        assert "You answered 1 of 18" in _page(f"{runner.url}/worker/ana")
        assert 'id="pre-labeling"' not in _page(f"{runner.url}/requester/live")
    finally:
        runner.stop()
