"""Snapshot updates run in one test process: syrupy's processes each rewrite the whole ``.ambr`` file of the
snapshots they ran, so two updating one file at once lose each other's snapshots without a word."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args,
                           "tests/test_s3uri.py", "-k", "no_test_is_named_so"],
                          cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})


def test_an_update_in_two_test_processes_is_refused_and_in_one_it_runs():
    refused = pytest_run("-n", "2", "--snapshot-update")
    assert refused.returncode == 4  # pytest's usage error, before any test ran
    assert "--snapshot-update needs one test process: add -n 0" in refused.stderr
    assert pytest_run("-n", "0", "--snapshot-update").returncode == 5  # ran; no test selected


def test_the_test_command_runs_an_update_in_one_process():
    """scripts/test.sh's last lines (after the set-up, which is not run here) with ``exec`` as ``echo``."""
    script = (REPO_ROOT / "scripts" / "test.sh").read_text()
    how_it_runs = script[script.index("workers="):].replace("exec ", "echo ", 1)
    environment = {k: v for k, v in os.environ.items() if k != "TEST_WORKERS"}

    def command(*args: str) -> list[str]:
        return subprocess.run(["bash", "-c", how_it_runs, "test.sh", *args], capture_output=True, text=True,
                              check=True, env=environment).stdout.split()

    assert command("tests/test_workflow_stacks.py", "--snapshot-update")[3:5] == ["-n", "0"]
    assert command("tests/test_workflow_stacks.py")[3:5] == ["-n", "auto"]
