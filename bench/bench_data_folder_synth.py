"""Benchmark (not a test): synthesizing a ManifestBucket over a requester's data folder of N welding runs, each a
dataset file naming ``${DATA_PREFIX_URI}``, today and before (``--before``: the code before the data went up as
folders of links), in the same run.

    .venv/bin/python bench/bench_data_folder_synth.py [--before b55d616] [--previous REV] [--runs 200 800 2000]
        [--large 20000]

Each measurement is a fresh child process of this machine's Python with one revision's tree (git archive) first on
its path: a CDK app with one stack holding one ManifestBucket over the folder, from ``App()`` to ``app.synth()``
(imports left out), wall time, and the stack's template size (CloudFormation takes at most 1 MB from S3). The floor
is the same app over a folder of one run, measured today. Before is not run past ``--timeout`` (its time grows with
the square of the runs); ``--large`` runs today's code (and ``--previous``'s) only. ``--previous``: a recent revision
measured beside today's on every row. The bucket excludes ``truth.json`` and hidden files, as the workflow stack's
does. Writes bench/results/data_folder_synth.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from bench_local_job import extract  # a revision's tree, from git

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "data_folder_synth.md"
#: The last revision before a data folder went up as folders of links (each filled-in file a Source.data).
BEFORE = "b55d616"

_CHILD = """
import json, sys, time
from pathlib import Path
tree, folder, out = sys.argv[1:4]
sys.path.insert(0, tree)
import aws_cdk as cdk
from labeling_constructs import ManifestBucket
started = time.perf_counter()
app = cdk.App(outdir=out, context={"aws:cdk:bundling-stacks": []})
stack = cdk.Stack(app, "Data")
ManifestBucket(stack, "Data", sample_data_dir=folder, exclude=["truth.json", ".*"])  # as the workflow stack does
app.synth()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "template_bytes": (Path(out) / "Data.template.json").stat().st_size}))
"""


def data_folder(runs: int, into: Path) -> Path:
    """A welding-like data folder: ``runs`` dataset files naming a shared image and CSV by ``${DATA_PREFIX_URI}``,
    and a manifest line naming each."""
    folder = into / f"runs-{runs}"
    (folder / "datasets").mkdir(parents=True)
    (folder / "media").mkdir()
    (folder / "media" / "weld.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(4096))
    (folder / "media" / "sensors.csv").write_text("time,current,position,voltage\n0,150,0,22\n")
    for run in range(runs):
        (folder / "datasets" / f"run-{run:05d}.json").write_text(json.dumps(
            {"image": "${DATA_PREFIX_URI}/media/weld.jpg", "sensors": "${DATA_PREFIX_URI}/media/sensors.csv"}))
    (folder / "manifest.jsonl").write_text("".join(
        json.dumps({"source-ref": f"${{DATA_PREFIX_URI}}/datasets/run-{run:05d}.json"}) + "\n" for run in range(runs)))
    return folder


def synth(tree: Path, folder: Path, out: Path, timeout: float) -> Optional[dict]:
    """The child's figures, or None when it ran past ``timeout``."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    try:
        result = subprocess.run([sys.executable, "-c", _CHILD, str(tree), str(folder), str(out)], cwd=tree, env=env,
                                capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"synth in {tree} failed:\n{error.stderr[-3000:]}") from None
    return json.loads(result.stdout.strip().splitlines()[-1])


def shown(figures: Optional[dict], timeout: float) -> str:
    if figures is None:
        return f"not done in {timeout:.0f} s"
    return f"{figures['seconds']:.1f} s, {figures['template_bytes'] / 1024:,.0f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help="git revision of the code before (default: %(default)s)")
    parser.add_argument("--previous", help="git revision measured beside today's on every row")
    parser.add_argument("--runs", type=int, nargs="+", default=[200, 800, 2000])
    parser.add_argument("--large", type=int, default=20_000, help="runs synthesized by today's code only")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a synth may take")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    now_rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=True,
                             capture_output=True, text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-data-synth-") as scratch:
        scratch = Path(scratch)
        before_tree = extract(args.before, scratch / "before")
        previous_tree = extract(args.previous, scratch / "previous") if args.previous else None
        floor = synth(REPO, data_folder(1, scratch / "data"), scratch / "out-floor", args.timeout)
        print(f"floor (1 run, today): {shown(floor, args.timeout)}", flush=True)
        for runs in [*args.runs, args.large]:
            folder = data_folder(runs, scratch / "data")
            now = synth(REPO, folder, scratch / f"out-now-{runs}", args.timeout)
            before = synth(before_tree, folder, scratch / f"out-before-{runs}", args.timeout) \
                if runs != args.large else "not run"
            previous = synth(previous_tree, folder, scratch / f"out-previous-{runs}", args.timeout) \
                if previous_tree else None
            print(f"{runs:,} runs: today {shown(now, args.timeout)}; before "
                  f"{before if isinstance(before, str) else shown(before, args.timeout)}"
                  + (f"; previous {shown(previous, args.timeout)}" if previous_tree else ""), flush=True)
            rows.append((runs, now, before, previous))
    if args.no_write:
        return
    load = os.getloadavg()[0]
    lines = [
        "# Synthesizing a requester's data folder", "",
        "Written by `bench/bench_data_folder_synth.py`:", "",
        "    .venv/bin/python bench/bench_data_folder_synth.py" + (f" --previous {args.previous}" if args.previous else ""),
        "",
        f"{datetime.date.today()}, {os.cpu_count()} cores, load average {load:.1f} at the end. A CDK app with one "
        "ManifestBucket over a welding-like data folder (a dataset file per run naming `${DATA_PREFIX_URI}`, a "
        "manifest line per run), from `App()` to `app.synth()` in a fresh process (imports left out), wall time, "
        f"and the stack's template size; the bucket excludes `truth.json` and hidden files, as the workflow stack's "
        f"does. Today: `{now_rev}`; before: `{args.before}` (each file naming the "
        "placeholder a `Source.data` of its own, left out of the folder's asset by a pattern each)"
        + (f"; previous: `{args.previous}`" if args.previous else "") + ".", "",
        f"Floor (one run, today's code): {shown(floor, args.timeout)}.", "",
        "| runs | today |" + (" previous |" if args.previous else "") + " before |",
        "| --- | --- |" + (" --- |" if args.previous else "") + " --- |",
    ]
    for runs, now, before, previous in rows:
        lines.append(f"| {runs:,} | {shown(now, args.timeout)} | "
                     + (f"{shown(previous, args.timeout)} | " if args.previous else "")
                     + f"{before if isinstance(before, str) else shown(before, args.timeout)} |")
    lines += ["", "CloudFormation takes a template of at most 1 MB (from S3); before, the template grew by some 445 bytes "
              "a run."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
