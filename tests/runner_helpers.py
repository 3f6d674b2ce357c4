"""Starting the local runner's parts in tests: a workflow's spec, its endpoint and job, the worker server."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from local_ground_truth import local_s3
from local_ground_truth.job import LocalJob
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import WorkflowSpec

REPO_ROOT = Path(__file__).resolve().parent.parent


def job_name(tmp_path: Path, prefix: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{prefix}-{tmp_path.name[-16:]}".lower())


@contextmanager
def local_job(spec: WorkflowSpec, store: Optional[Path], name: str, processes: int = 2,
              manifest_lines: Optional[list[str]] = None) -> Iterator[LocalJob]:
    """The stack deployed to a fresh endpoint (kept in ``store``), pre-labeled, as the runner starts a job."""
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        if manifest_lines is not None:
            put_manifest(spec, s3, manifest_lines)
        job = LocalJob(spec, s3, endpoint, name, store=store)
        try:
            job.pre_report = job.pre_label(processes=processes, progress=False)
            yield job
        finally:
            job.close()


def put_manifest(spec: WorkflowSpec, s3, lines: list[str]) -> None:
    s3.put_object(Bucket=spec.task.manifest.bucket, Key=spec.task.manifest.key, Body=("\n".join(lines) + "\n").encode())


@contextmanager
def worker_server(job: LocalJob) -> Iterator[WorkerServer]:
    server = WorkerServer(WorkerSite(job), port=0).start()
    try:
        yield server
    finally:
        server.stop()


class RunnerProcess:
    """``python -m local_ground_truth`` (browser mode) as a child process, as a user runs it."""

    def __init__(self, args: list[str], log: Path, cwd: Path = REPO_ROOT) -> None:
        self.log = log
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
               "PYTHONPATH": os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, "-m", "local_ground_truth", *args, "--port", "0"],
                                        cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                        stderr=open(log, "ab"), start_new_session=True)
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"Workers: open (http://127\.0\.0\.1:\d+)/", self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"the runner exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"the runner did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self, store: Path) -> None:
        """SIGKILL the runner and everything it started: its Lambda processes (its process group) and its
        S3 endpoint (a session of its own, serving ``store``), all at once."""
        endpoints = endpoint_pids(store)
        os.killpg(self.process.pid, signal.SIGKILL)
        for pid in endpoints:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def stop(self) -> None:
        """Ctrl-C, as a user stops it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=60)


def endpoint_pids(store: Path) -> list[int]:
    """The processes of the local S3 endpoint serving ``store``."""
    return [pid for pid, command in _processes() if "local_ground_truth.local_s3" in command and str(store) in command]


def _processes() -> list[tuple[int, str]]:
    found = []
    for folder in Path("/proc").iterdir():
        if folder.name.isdigit():
            try:
                found.append((int(folder.name), (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                continue
    return found


def worker_responses(store: Path) -> list[dict]:
    """Every answer file the store holds on disk, read straight from the folder."""
    answers = []
    for path in sorted(store.rglob("*")):
        if path.is_file() and "/.metadata/" not in str(path) and "/annotations/worker-response/" in path.as_posix():
            for answer in json.loads(path.read_text())["answers"]:
                answers.append({**answer, "objectId": path.parent.name})
    return answers
