"""The local S3 endpoint lives exactly as long as its runner: a signal sent to every process at once (`pkill`, a
service manager's stop) stops the runner, which finishes through the endpoint and then ends it; an endpoint that
ends under its runner (killed outright) stops the runner at once with a clear error, nothing acknowledged lost."""
from __future__ import annotations

import os
import signal
import threading
import time

from local_ground_truth import local_s3
from tests.runner_helpers import RunnerProcess, endpoint_pids


def test_the_endpoint_ignores_sigint_and_sigterm_and_ends_when_its_context_closes(tmp_path):
    lost = threading.Event()
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store, on_lost=lost.set) as endpoint:
        [pid] = endpoint_pids(store)
        for signum in (signal.SIGINT, signal.SIGTERM):
            os.kill(pid, signum)
        time.sleep(0.5)
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket="still-here")  # still serving
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["still-here"]
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)  # ended with its context, within its 5 s
    assert not lost.is_set()  # an end that was asked for is no loss


def test_an_endpoint_that_ends_while_in_use_is_said_and_reported_to_its_owner(tmp_path, caplog):
    lost = threading.Event()
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store, on_lost=lost.set):
        [pid] = endpoint_pids(store)
        os.kill(pid, signal.SIGKILL)
        assert lost.wait(10)
    assert f"the local S3 endpoint (process {pid}) ended while in use (killed by SIGKILL)" in caplog.text


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")
    except OSError:
        return True


def _runner(runner_assembly, tmp_path) -> tuple[RunnerProcess, list[int], object]:
    state = tmp_path / "job"
    runner = RunnerProcess(["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir",
                            str(state), "--processes", "2", "--job-name", "lifetime"], tmp_path / "runner.log")
    return runner, endpoint_pids(state / "s3"), state


def test_sigterm_to_every_process_at_once_stops_the_runner_as_usual_and_then_its_endpoint(runner_assembly, tmp_path):
    """`pkill -f local_ground_truth` or systemd's stop reach the endpoint too: it took itself away at once, and the
    runner, finishing its batch and manifests through it, ended in a traceback (or waited on a batch that could
    not finish)."""
    runner, [endpoint], _state = _runner(runner_assembly, tmp_path)
    os.kill(endpoint, signal.SIGTERM)
    os.kill(runner.process.pid, signal.SIGTERM)
    assert runner.process.wait(timeout=60) == 0
    said = runner.log.read_text()
    assert "Stopped with 0 of 18 objects consolidated" in said
    assert "Traceback" not in said and "error" not in said.lower()
    assert not os.path.exists(f"/proc/{endpoint}") or _zombie(endpoint)


def test_an_endpoint_killed_under_the_runner_stops_it_at_once_with_a_clear_error(runner_assembly, tmp_path):
    runner, [endpoint], state = _runner(runner_assembly, tmp_path)
    os.kill(endpoint, signal.SIGKILL)
    assert runner.process.wait(timeout=120) == 1  # not left serving answers it could no longer save
    said = runner.log.read_text()
    assert f"the local S3 endpoint (process {endpoint}) ended while in use (killed by SIGKILL)" in said
    assert "error: the S3 endpoint stopped answering" in said and "Run the same command again to resume." in said
    assert "Traceback" not in said
    # Nothing more is asked of the endpoint that is gone: the stop's quality reports (saved after every batch) each
    # failed only after boto3's retries, and the runner ended 10 s after the endpoint instead of at once.
    assert "could not be saved" not in said
    # The same command resumes the job.
    again = RunnerProcess(["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir",
                           str(state), "--processes", "2", "--job-name", "lifetime"], tmp_path / "again.log")
    again.stop()
    assert "Stopped with 0 of 18 objects consolidated" in again.log.read_text()
