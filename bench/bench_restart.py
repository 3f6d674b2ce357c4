"""Benchmark (not a test): how long the runner takes to resume a large job, now and before, beside its floor.

    .venv/bin/python bench/bench_restart.py [--objects 3400] [--rounds 2] [--before 6379241]

**The job**: a data folder of ``--objects`` welding runs (a dataset file each, naming one of the 18 sample runs'
image and sensor CSV), labeled to the end once by this tree's runner with 3 simulated workers (the staging
environment: 3 workers per object), so its job folder holds 3 answers, a task input and a label per object.

**Timed**: the same command run again on a fresh copy of that job folder, as a user resumes a job
(``python -m local_ground_truth --env staging --data FOLDER --state-dir COPY --simulate-workers 3``), by this tree
and by ``--before`` (extracted from git, run with only its own code importable): the seconds until the runner says
what it read back ("S3 endpoint ...: N answers and M consolidated objects from earlier runs"; the worker server
starts then, in a run that serves workers), and until it exits. Rounds alternate the trees.

**Floor**, measured in the same run: synthesizing the app with the folder (``stack_reader.synthesize``, which every
resume does) plus reading every file of the job folder's bucket once from the disk. Results go to
``bench/results/restart.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from tree_runs import extract, write_keeping_notes  # noqa: E402

BEFORE = "6379241"  # main before the endpoint loaded the store during the synthesis and the plan read the folder
SAMPLE = REPO / "sample_data" / "welding"
LOADED = "S3 endpoint "


def make_data(objects: int, folder: Path) -> Path:
    """A welding data folder of ``objects`` runs, each naming one of the sample runs' files (in turn), and its truth."""
    shutil.copytree(SAMPLE / "images", folder / "images")
    shutil.copytree(SAMPLE / "sensor", folder / "sensor")
    (folder / "datasets").mkdir()
    truth = json.loads((SAMPLE / "truth.json").read_text())
    samples = sorted(truth)
    lines, known = [], {}
    for number in range(objects):
        sample = samples[number % len(samples)]
        name = f"d-{number:05d}"
        shutil.copyfile(SAMPLE / "datasets" / f"{sample}.json", folder / "datasets" / f"{name}.json")
        lines.append(json.dumps({"source": f"${{DATA_PREFIX_URI}}/datasets/{name}.json"}))
        known[name] = truth[sample]
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "truth.json").write_text(json.dumps(known))
    return folder


def runner_command(data: Path, state: Path) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "python"), "-m", "local_ground_truth", "--workflow", "welding", "--env",
            "staging", "--data", str(data), "--state-dir", str(state), "--simulate-workers", "3", "--processes", "2"]


def environment() -> dict[str, str]:
    return {**{key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def resume(tree: Path, data: Path, state: Path) -> dict:
    """The runner of ``tree`` resuming the job in ``state``: seconds until it said what it read back, and to its exit."""
    started = time.monotonic()
    process = subprocess.Popen(runner_command(data, state), cwd=tree, env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    loaded, said = None, ""
    for line in process.stderr:
        if loaded is None and line.startswith(LOADED):
            loaded, said = time.monotonic() - started, line.strip()
    code = process.wait()
    if code != 0 or loaded is None:
        raise SystemExit(f"{tree}: the runner exited with {code} before saying {LOADED!r}")
    return {"loaded": loaded, "exited": time.monotonic() - started, "said": said}


def tree_of(revision: str, into: Path) -> Path:
    """``revision``'s tree, with what bootstrap.sh installed here linked into it (its runner runs from there)."""
    extract(revision, into)
    for installed in ("node_modules", ".venv", ".runtime-python"):
        if (REPO / installed).exists():
            (into / installed).symlink_to(REPO / installed)
    return into


def synthesis_seconds(data: Path, folder: Path) -> float:
    """Synthesizing the app with the folder, as the runner does at every start (this tree's code)."""
    sys.path.insert(0, str(REPO))
    from local_ground_truth.stack_reader import synthesize

    started = time.monotonic()
    synthesize(folder, "staging", data={"welding": str(data)})
    return time.monotonic() - started


def reading_seconds(store: Path) -> tuple[float, int]:
    """Every file of the job folder's bucket read once from the disk; the seconds and the number of files."""
    started, files = time.monotonic(), 0
    for path in (store / "data-bucket").rglob("*"):
        if path.is_file():
            path.read_bytes()
            files += 1
    return time.monotonic() - started, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=3400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", default=BEFORE)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    try:
        data = make_data(args.objects, work / "welds")
        built = work / "built"
        started = time.monotonic()
        subprocess.run(runner_command(data, built), cwd=REPO, env=environment(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        labeled = time.monotonic() - started
        before = tree_of(args.before, work / "before")
        trees = {"now": REPO, "before": before}
        runs: dict[str, list[dict]] = {"now": [], "before": []}
        floors = []
        for number in range(args.rounds):
            order = ["now", "before"] if number % 2 == 0 else ["before", "now"]
            for name in order:
                state = work / f"state-{name}-{number}"
                shutil.copytree(built, state, symlinks=True)
                runs[name].append(resume(trees[name], data, state))
                print(name, number, runs[name][-1], flush=True)
                shutil.rmtree(state)
            synthesized = synthesis_seconds(data, work / f"cdk.out-{number}")
            read, files = reading_seconds(built / "s3")
            floors.append((synthesized, read, files))
            print("floor", floors[-1], flush=True)
        write_results(args, runs, floors, labeled)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_results(args: argparse.Namespace, runs: dict[str, list[dict]], floors: list[tuple[float, float, int]],
                  labeled: float) -> None:
    def best(name: str, key: str) -> float:
        return min(run[key] for run in runs[name])

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    floor = min(synthesized + read for synthesized, read, _ in floors)
    synthesized = min(synthesized for synthesized, _, _ in floors)
    read = min(read for _, read, _ in floors)
    files = floors[0][2]
    load = os.getloadavg()[0]
    said = runs["now"][0]["said"]
    rows = "\n".join(
        f"| {what} | {best('now', key):.1f} s (median {median('now', key):.1f}) | "
        f"{best('before', key):.1f} s (median {median('before', key):.1f}) | {best('before', key) / best('now', key):.2f}x |"
        for what, key in (("until the job is read back (a served job's workers can start)", "loaded"),
                          ("until the resumed run exits (the job was complete: reports written again)", "exited")))
    text = f"""# Resuming a large job

Written by `bench/bench_restart.py`:

    .venv/bin/python bench/bench_restart.py --objects {args.objects} --rounds {args.rounds}

{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average {load:.1f} at the end. A welding job of
{args.objects:,} objects labeled to the end by 3 simulated workers (staging: 3 per object; labeling it took
{labeled:.0f} s), its job folder then resumed by the same command, now and before (`{args.before}`), {args.rounds}
round(s) alternating, each on a fresh copy of the folder. The runner said: "{said[:160]}..."

| resumed job, wall seconds from the command | now (best) | before (best) | before / now |
| --- | --- | --- | --- |
{rows}

Floor, same run: synthesizing the app with the folder, {synthesized:.1f} s (best of {len(floors)}), plus reading every
file of the job's bucket once from the disk ({files:,} files), {read:.1f} s: **{floor:.1f} s**. Now / floor (read back):
{best('now', 'loaded') / floor:.2f}x.

Every round (read back / exited, seconds): now {', '.join(f"{r['loaded']:.1f} / {r['exited']:.1f}" for r in runs['now'])};
before {', '.join(f"{r['loaded']:.1f} / {r['exited']:.1f}" for r in runs['before'])}.
"""
    write_keeping_notes(REPO / "bench" / "results" / "restart.md", text)
    print(text)


if __name__ == "__main__":
    main()
