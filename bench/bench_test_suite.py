"""Benchmark (not a test): the whole test suite, now and before issue 12's test-loop work, in one run.

    .venv/bin/python bench/bench_test_suite.py [--before 42dce18]

Each tree runs its whole suite the way its ``scripts/test.sh`` does once the machine is set up (the set-up
check itself is left out: it would install into the shared virtualenv): now (the last commit) ``python -m
pytest -n auto`` (a test process per core), before ``python -m pytest``. Both are checked out as git
worktrees beside this checkout (so ``../shared`` resolves as it does here, and the scaffold's tests find a
repository) and share this checkout's ``.venv``, ``node_modules`` and ``.runtime-python``. Reported per
tree: wall seconds, CPU seconds of the whole process tree (about what one core would need), tests passed and
failed, and the files that took longest (pytest's ``--durations``, summed per file). Target (issue 12):
under 45 s with nothing dropped. Results go to bench/results/test_suite.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEFORE = "42dce18"  # main before one Chromium / one CDK runtime per session and pytest-xdist
SHARED = (".venv", "node_modules", ".runtime-python")


def checkout(revision: str) -> Path:
    """``revision`` checked out beside this checkout (a git worktree: the scaffold's tests list the repository's
    files with git), sharing this checkout's virtualenv, CLI and runtime Python."""
    folder = Path(tempfile.mkdtemp(prefix=".bench-test-suite-", dir=REPO.parent))
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--quiet", "--detach", str(folder), revision],
                   check=True)
    for name in SHARED:
        (folder / name).symlink_to(REPO / name)
    return folder


def remove(folder: Path) -> None:
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_suite(tree: Path, parallel: bool) -> dict:
    command = [str(REPO / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--durations=0", "--durations-min=0.5"] + (["-n", "auto"] if parallel else [])
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop("PYTHONPATH", None)
    cpu, started = children_cpu(), time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-500:]
    counts = {kind: int(number) for number, kind in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}
    by_file: dict[str, float] = defaultdict(float)
    for seconds, path in re.findall(r"^([\d.]+)s \w+\s+(tests/[^:\s]+)", result.stdout, flags=re.MULTILINE):
        by_file[path] += float(seconds)
    return {"wall": wall, "cpu": cpu, "counts": counts, "summary": summary, "by_file": dict(by_file),
            "returncode": result.returncode}


def write_results(before: str, runs: dict[str, dict], load: float) -> Path:
    now, old = runs["now"], runs["before"]
    lines = [
        "# The test suite, now and before",
        "",
        "Written by `bench/bench_test_suite.py`:",
        "",
        "    .venv/bin/python bench/bench_test_suite.py",
        "",
        f"## Whole suite ({datetime.date.today()}, {os.cpu_count()} cores, load average {load:.1f} at the start)",
        "",
        "| | tests passed (failed) | wall seconds | CPU seconds (all processes) |",
        "| --- | --- | --- | --- |",
    ]
    for name, label in (("before", f"before (`{before}`, one process)"), ("now", "now (`-n auto`, a process per core)")):
        run = runs[name]
        counts = run["counts"]
        failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        lines.append(f"| {label} | {counts.get('passed', 0):,} ({failed}) "
                     f"| {run['wall']:.1f} | {run['cpu']:.1f} |")
    lines += [
        "",
        f"Target (issue 12): under 45 s, nothing dropped. Now / target: {now['wall'] / 45:.1f}x; before / now: "
        f"{old['wall'] / now['wall']:.2f}x in wall time. CPU per test passed: now "
        f"{now['cpu'] / max(1, now['counts'].get('passed', 1)) * 1000:.0f} ms, before "
        f"{old['cpu'] / max(1, old['counts'].get('passed', 1)) * 1000:.0f} ms.",
        "",
        "## Where the time goes now (pytest's durations of 0.5 s and more, summed per file; set-up included)",
        "",
        "| file | seconds |",
        "| --- | --- |",
    ]
    for path, seconds in sorted(now["by_file"].items(), key=lambda item: -item[1])[:15]:
        lines.append(f"| `{path}` | {seconds:.1f} |")
    lines += ["", f"Summary lines: now `{now['summary']}`; before `{old['summary']}`.", ""]
    out = REPO / "bench" / "results" / "test_suite.md"
    out.write_text("\n".join(lines))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=BEFORE)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    trees = {"before": checkout(args.before), "now": checkout("HEAD")}  # now: the last commit, not the work tree
    try:
        runs = {"before": run_suite(trees["before"], parallel=False), "now": run_suite(trees["now"], parallel=True)}
    finally:
        for tree in trees.values():
            remove(tree)
    for name, run in runs.items():
        print(f"{name}: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU, {run['summary']}", file=sys.stderr)
    print(write_results(args.before, runs, load))


if __name__ == "__main__":
    main()
