"""The runner's exit (``python -m local_ground_truth``): it leaves out the interpreter's teardown once everything is
written and closed, yet keeps what the exit must: the exit code, everything printed, threads still at work."""
from __future__ import annotations

import subprocess
import sys

from tests.runner_helpers import REPO_ROOT

PROGRAM = '''
import sys, threading, time
from local_ground_truth.__main__ import exit_without_teardown

print("x" * 200_000)  # stdout to a pipe is buffered: it must all come out
if sys.argv[1] == "busy":  # a thread that is not a daemon, still at work: the exit waits for it
    threading.Thread(target=lambda: (time.sleep(0.5), print("the thread finished", file=sys.stderr))).start()
exit_without_teardown(int(sys.argv[2]))
'''


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)


def test_the_exit_keeps_its_code_and_everything_printed():
    done = run("idle", "130")
    assert done.returncode == 130 and done.stdout == "x" * 200_000 + "\n"


def test_the_exit_waits_for_a_thread_still_at_work():
    done = run("busy", "1")
    assert done.returncode == 1 and done.stdout == "x" * 200_000 + "\n" and "the thread finished" in done.stderr
