"""Benchmark (not a test): how soon lines added to a served job's data folder are tasks, against a restart.

    .venv/bin/python bench/bench_data_growth.py [--objects 6] [--added 3] [--rounds 3]

A served job (``run_local.sh --data FOLDER``, the welding sample data's first ``--objects`` runs) is running with
every object pre-labeled. Then ``--added`` lines are added at the end of the folder's manifest and the time is taken
until the runner says they are pre-labeled ("pre-labeling done: N objects for workers"), two ways in the same run:

- **while it runs** (``local_ground_truth.data_growth``): the runner takes the change itself;
- **restart** (the baseline, the only way before): Ctrl-C, then the same command, until it says the same.

The floor is the part both must do: synthesizing the app with the folder (``stack_reader.synthesize``, timed alone)
plus pre-labeling the new objects. Each round starts a job of its own; the best and the median of the rounds are
written to ``bench/results/data_growth.md``.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
from tree_runs import write_keeping_notes  # noqa: E402
from local_ground_truth.data_growth import POLL_SECONDS  # noqa: E402

DONE = r"pre-labeling done: {} objects for workers"


def start(folder: Path, state: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.Popen([str(REPO / ".venv/bin/python"), "-m", "local_ground_truth", "--workflow", "welding",
                             "--data", str(folder), "--state-dir", str(state), "--port", "0"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True)


def wait_for(log: Path, pattern: str, count: int = 1, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, log.read_text(errors="replace"))) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pattern!r} not said:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=120)


def one_round(objects: int, added: int, lines: list[str], work: Path) -> dict[str, float]:
    timings = {}
    for how in ("while it runs", "restart"):
        folder, state, log = work / f"{how}-data", work / f"{how}-job", work / f"{how}.log"
        shutil.copytree(REPO / "sample_data" / "welding", folder)
        (folder / "manifest.jsonl").write_text("\n".join(lines[:objects]) + "\n")
        runner = start(folder, state, log)
        try:
            wait_for(log, DONE.format(objects))
            time.sleep(3)  # past the watch's first polls: the runner is idle, as a job waiting on its workers is
            began = time.monotonic()
            (folder / "manifest.jsonl").write_text("\n".join(lines[:objects + added]) + "\n")
            if how == "restart":
                stop(runner)
                runner = start(folder, state, log)
            wait_for(log, DONE.format(objects + added))
            timings[how] = time.monotonic() - began
        finally:
            stop(runner)
    from local_ground_truth.stack_reader import synthesize

    with tempfile.TemporaryDirectory() as out:
        began = time.monotonic()
        synthesize(Path(out), "dev", data={"welding": str(work / "restart-data")})
        timings["synthesis alone"] = time.monotonic() - began
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=6)
    parser.add_argument("--added", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines = (REPO / "sample_data" / "welding" / "manifest.jsonl").read_text().splitlines()
    rounds = []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory() as work:
            rounds.append(one_round(args.objects, args.added, lines, Path(work)))
        print(f"round {number + 1}: " + ", ".join(f"{how} {seconds:.2f} s" for how, seconds in rounds[-1].items()))
    rows = []
    for how in ("while it runs", "restart", "synthesis alone"):
        values = [timing[how] for timing in rounds]
        rows.append(f"| {how} | {min(values):.2f} s | {statistics.median(values):.2f} s |")
    best = {how: min(timing[how] for timing in rounds) for how in rounds[0]}
    load = os.getloadavg()[0]
    text = f"""# More data for a served job: how soon added lines are tasks

Written by `bench/bench_data_growth.py`:

    .venv/bin/python bench/bench_data_growth.py --objects {args.objects} --added {args.added} --rounds {args.rounds}

{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average {load:.1f} at the end. A served welding job
on a data folder of {args.objects} runs, every object pre-labeled; {args.added} lines added at the end of the
folder's manifest; the time until the runner says they are pre-labeled (tasks for workers). Best and median of
{args.rounds} rounds, each with jobs of its own.

| how | best | median |
| --- | --- | --- |
{chr(10).join(rows)}

While it runs the new objects are tasks in {best['while it runs'] / best['restart']:.2f} of a restart's time (best of
each), and the server never stops (a restart leaves every worker's page without it for those seconds). Floor: synthesizing the app with the folder ({best['synthesis alone']:.2f} s, which both ways do)
plus pre-labeling the new runs; the watch adds at most two of its polls (one to see the change, one to see the file settled: {POLL_SECONDS} s each).
"""
    write_keeping_notes(REPO / "bench" / "results" / "data_growth.md", text)
    print(text)


if __name__ == "__main__":
    main()
