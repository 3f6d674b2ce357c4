"""One runner per job folder: a second one is refused naming the first (two served one job, and one worker
answered an object on both), and a port another program holds is said in a line, not a traceback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from local_ground_truth.run_lock import InUse, job_lock, port_in_use

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from local_ground_truth.run_lock import job_lock
    with job_lock(Path(sys.argv[1]), "local-welding"):
        print("holding", flush=True)
        time.sleep(600)
""")


def test_a_second_runner_of_one_job_is_refused_naming_the_first_and_a_kill_frees_the_job(tmp_path):
    from tests.conftest import REPO_ROOT

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO_ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(InUse, match=rf"^job local-welding is being run by another runner \(process {holder.pid}\) "
                                        rf"from {tmp_path}: stop that one first"):
            with job_lock(tmp_path, "local-welding"):
                pass
        # Another job in the same folder shares its S3 store: the two overwrote each other's input manifest on disk,
        # and the second's endpoint cleared the first's temporary files as it started.
        with pytest.raises(InUse, match=rf"^another runner \(process {holder.pid}, job local-welding\) is using "
                                        rf"{tmp_path}: the jobs of one --state-dir share its S3 store"):
            with job_lock(tmp_path, "local-ner"):
                pass
    finally:
        holder.kill()  # as kill -9: nothing is left to clean up
        holder.wait()
    with job_lock(tmp_path, "local-welding"):
        assert (tmp_path / "local-welding.lock").read_text().strip().isdigit()
    with job_lock(tmp_path, "local-ner"):  # once the first has stopped, another job runs in the folder
        assert (tmp_path / ".runner.lock").read_text().split() == [str(os.getpid()), "local-ner"]


def test_a_job_folder_the_runner_makes_is_its_owners_alone(tmp_path):
    """Other accounts of the machine read every answer in a folder made with the usual 0755."""
    with job_lock(tmp_path / ".local-gt" / "local-welding", "local-welding"):
        assert (tmp_path / ".local-gt" / "local-welding").stat().st_mode & 0o777 == 0o700


def test_the_runners_own_job_folder_an_earlier_version_made_open_is_made_its_owners_alone_and_said(tmp_path):
    """Folders made before the runner made them 0700 keep every answer readable by other accounts: the runner's
    default folder is tightened and said in a line; a folder the user gave keeps its mode."""
    older = tmp_path / ".local-gt" / "local-welding"
    older.mkdir(parents=True)
    older.chmod(0o755)
    told: list[str] = []
    with job_lock(older, "local-welding", runners_own=True, say=told.append):
        assert older.stat().st_mode & 0o777 == 0o700
    assert told == [f"job folder {older}: other accounts of this machine could read it (mode 755, as an earlier "
                    "version made it); it is now its owner's alone (700), as a new one is"]
    with job_lock(older, "local-welding", runners_own=True, say=told.append):  # said once: now it is
        pass
    assert len(told) == 1
    given = tmp_path / "shared-with-my-group"
    given.mkdir()
    given.chmod(0o750)
    for _ in range(2):
        with job_lock(given, "local-welding", say=told.append):
            assert given.stat().st_mode & 0o777 == 0o750
    assert len(told) == 1


def test_a_port_in_use_is_said_in_a_line():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(OSError) as raised, socket.socket() as second:
            second.bind(("127.0.0.1", port))  # what the worker server's bind meets
        assert str(port_in_use(raised.value, "127.0.0.1", port)) == (
            f"port {port} on 127.0.0.1 is in use (another program, or another job's runner, listens on it): give "
            "this one another --port")
        assert port_in_use(OSError(13, "Permission denied"), "127.0.0.1", 80) is None
    finally:
        taken.close()


def test_a_port_in_use_is_refused_before_anything_is_synthesized_or_written(tmp_path, capsys):
    """The server binds its port once the job is ready (after synthesis, deployment and the start of pre-labeling):
    a port another program held was said only then, and left a job folder behind."""
    from local_ground_truth.__main__ import main
    from local_ground_truth.run_lock import refuse_port_in_use

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(InUse, match=rf"^port {port} on 127.0.0.1 is in use"):
            refuse_port_in_use("127.0.0.1", port)
        # --cloud-assembly names a folder that does not exist: reading it would fail after the port's check
        state = tmp_path / "state"
        assert main(["--port", str(port), "--state-dir", str(state), "--cloud-assembly", str(tmp_path / "none")]) == 2
        assert capsys.readouterr().err.strip().endswith(
            f"error: port {port} on 127.0.0.1 is in use (another program, or another job's runner, listens on it): "
            "give this one another --port")
        assert not state.exists()
    finally:
        taken.close()
    refuse_port_in_use("127.0.0.1", port)  # free again: nothing said
    refuse_port_in_use("127.0.0.1", 0)  # any free port: nothing to check


def test_a_resumed_jobs_second_runner_is_refused_before_the_app_is_synthesized(tmp_path, capsys):
    """A resumed job's lock is taken before the synthesis (its endpoint loads the job's store meanwhile): a second
    runner of it was refused only after synthesizing the app, tens of seconds later."""
    from local_ground_truth.__main__ import main
    from tests.conftest import REPO_ROOT

    state = tmp_path / "state"
    (state / "s3").mkdir(parents=True)  # a job run before: its store and its recorded settings
    (state / "local-welding-settings.json").write_text("{}")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(state)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO_ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        # --cloud-assembly names a folder that does not exist: reading it would fail after the lock's check
        argv = ["--workflow", "welding", "--port", "0", "--state-dir", str(state), "--cloud-assembly",
                str(tmp_path / "none")]
        assert main(argv) == 2
        assert f"error: job local-welding is being run by another runner (process {holder.pid})" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_a_workflow_not_in_the_app_ends_the_endpoint_started_for_its_folder_and_frees_the_job(tmp_path, capsys,
                                                                                             runner_assembly):
    from local_ground_truth.__main__ import main
    from tests.runner_helpers import endpoint_pids

    state = tmp_path / "state"
    (state / "s3").mkdir(parents=True)
    (state / "local-nosuch-settings.json").write_text("{}")  # as if a job of that name had run in the folder
    with pytest.raises(SystemExit) as exited:
        main(["--workflow", "nosuch", "--port", "0", "--state-dir", str(state), "--cloud-assembly", str(runner_assembly)])
    assert exited.value.code == 2
    assert "no workflow 'nosuch' in the synthesized app; choose one of: " in capsys.readouterr().err
    assert endpoint_pids(state / "s3") == []
    with job_lock(state, "local-nosuch"):
        pass
