"""Starting the local runner's parts in tests: a workflow's spec, its endpoint and job, the worker server."""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from local_ground_truth import local_s3
from local_ground_truth.job import LocalJob
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import WorkflowSpec, read_workflow
from stacks.node_runtime import QUIET_NODE

REPO_ROOT = Path(__file__).resolve().parent.parent


def app_with_pre_labeling(assembly: Path, folder: Path, appended: str, workflow: str = "welding",
                          function: str = "pre_labeling") -> Path:
    """A copy of the synthesized app in ``folder`` whose ``workflow``'s pre-labeling function's code (``function``:
    "consolidation" for the other one) is a copy with ``appended`` added to its handler module (which may wrap
    ``lambda_handler``)."""
    app = folder / "app"
    shutil.copytree(assembly, app, symlinks=True)
    code = folder / "lambda_src"
    shutil.copytree(REPO_ROOT / "lambda_src", code, ignore=shutil.ignore_patterns("__pycache__"))
    spec = read_workflow(assembly, workflow)
    changed = getattr(spec, function)
    handler = code.joinpath(*changed.handler.split(".")[:-1]).with_suffix(".py")
    handler.write_text(handler.read_text() + appended)
    path = app / f"{spec.stack_name}.template.json"
    stack = json.loads(path.read_text())
    stack["Resources"][changed.logical_id]["Metadata"]["aws:asset:path"] = str(code)
    path.write_text(json.dumps(stack))
    assert getattr(read_workflow(app, workflow), function).asset_dir == code
    return app


def job_name(tmp_path: Path, prefix: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{prefix}-{tmp_path.name[-16:]}".lower())


@dataclass(frozen=True)
class _PreLabeled:
    store: Path  # a copy of the store, taken right after pre-labeling
    job_name: str  # the job it was pre-labeled for


# Pre-labeled stores of this session, by what pre-labeling reads and writes: a test's job starts from a copy,
# so the stack's pre-labeling runs once per session for each (stack, manifest, function), not once per test.
_PRE_LABELED: dict[str, _PreLabeled] = {}
_PRE_LABELED_ROOT: list[Path] = []


def _pre_labeled_key(spec: WorkflowSpec, manifest_lines: Optional[list[str]], prepare: Optional[Callable]) -> str:
    return json.dumps([spec.stack_name, manifest_lines, prepare and f"{prepare.__module__}.{prepare.__qualname__}",
                       repr(spec.pre_labeling), repr(spec.deployments), sorted(spec.buckets.items()),
                       spec.task.manifest.uri, spec.task.output_bucket, spec.task.output_prefix])


def _keep_pre_labeled(key: str, store: Path, name: str) -> None:
    if not _PRE_LABELED_ROOT:
        root = Path(tempfile.mkdtemp(prefix="pre-labeled-stores-"))
        atexit.register(shutil.rmtree, root, True)
        _PRE_LABELED_ROOT.append(root)
    copy = _PRE_LABELED_ROOT[0] / str(len(_PRE_LABELED))
    shutil.copytree(store, copy, symlinks=True)  # every write is on disk before the endpoint answers it
    _PRE_LABELED[key] = _PreLabeled(copy, name)


def _rename_job(s3, spec: WorkflowSpec, old: str, new: str) -> None:
    """Move a job's folder, and its task records' folder (gt_common.task_record), to another job name through
    the endpoint: what pre-labeling returns does not depend on the job's name, only where its records go."""
    from gt_common.s3uri import parse_s3_uri
    from gt_common.task_record import RECORDS_ENV

    folders = [(spec.task.output_bucket, f"{spec.task.output_prefix}{old}/", f"{spec.task.output_prefix}{new}/")]
    records = spec.pre_labeling.environment.get(RECORDS_ENV)
    if records:
        location = parse_s3_uri(records, what=RECORDS_ENV)
        folders.append((location.bucket, f"{location.key}{old}/", f"{location.key}{new}/"))
    for bucket, old_root, new_root in folders:
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=old_root)
                for item in page.get("Contents", [])]
        for key in keys:  # read and written again (a PUT, as every write the store keeps on disk)
            found = s3.get_object(Bucket=bucket, Key=key)
            s3.put_object(Bucket=bucket, Key=new_root + key[len(old_root):], Body=found["Body"].read(),
                          ContentType=found["ContentType"], Metadata=found["Metadata"])
            s3.delete_object(Bucket=bucket, Key=key)


@contextmanager
def local_job(spec: WorkflowSpec, store: Optional[Path], name: str, processes: int = 2,
              manifest_lines: Optional[list[str]] = None,
              prepare: Optional[Callable[[WorkflowSpec, Any], None]] = None) -> Iterator[LocalJob]:
    """The stack deployed to a fresh endpoint (kept in ``store``), pre-labeled, as the runner starts a job.
    ``prepare(spec, s3)`` runs after the deployment, before pre-labeling (to change what pre-labeling reads).

    A new ``store`` starts as a copy of one this session already pre-labeled for the same stack, manifest,
    ``prepare`` and pre-labeling function, when there is one (its job folder moved to ``name``): the job then
    resumes it, as the runner resumes a job, and pre-labeling runs only for objects without a task input.
    A ``store`` that exists is used as it is.
    """
    key = _pre_labeled_key(spec, manifest_lines, prepare) if store is not None and not store.exists() else None
    cached = _PRE_LABELED.get(key)
    if cached is not None:
        shutil.copytree(cached.store, store, symlinks=True)
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        if manifest_lines is not None:
            put_manifest(spec, s3, manifest_lines)
        if prepare is not None:
            prepare(spec, s3)
        if cached is not None and cached.job_name != name:
            _rename_job(s3, spec, cached.job_name, name)
        job = LocalJob(spec, s3, endpoint, name, store=store)
        try:
            job.pre_report = job.pre_label(processes=processes, progress=False)
            if key is not None and cached is None:
                _keep_pre_labeled(key, store, name)
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

    def __init__(self, args: list[str], log: Path, cwd: Path = REPO_ROOT, pre_labeled: bool = True) -> None:
        """Started, and (``pre_labeled``) every object pre-labeled: workers may label before, as tasks come."""
        self.log = log
        env = {**os.environ, **QUIET_NODE,
               "PYTHONPATH": os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, "-m", "local_ground_truth", *args, "--port", "0"],
                                        cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                        stderr=open(log, "ab"), start_new_session=True, preexec_fn=ctrl_c_stops)
        self.url = self._wait_for()
        if pre_labeled:
            self._wait_for(r"pre-labeling done: ")

    def _wait_for(self, line: str = r"Workers: open (http://127\.0\.0\.1:\d+)/", timeout: float = 180) -> str:
        """The log's first match of ``line`` (its first group, if it has one), once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(line, self.log.read_text(errors="replace"))
            if found:
                return found.group(1) if found.groups() else found.group(0)
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
        """Ctrl-C, as a user stops it (a runner still there after a minute fails the test and is killed)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise


def ctrl_c_stops() -> None:
    """In the runner's process: Ctrl-C as a terminal delivers it, however the tests were started (a shell starts
    a background job with SIGINT ignored, and a Python started so keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
