"""Benchmark (not a test): a job's labels as CSV (``local_ground_truth.labels_csv``) at Ground Truth's limit.

    .venv/bin/python bench/bench_labels_csv.py [--objects 100000] [--rounds 3] [--before 84d81fb]

An output manifest of ``--objects`` welding objects, each line as the consolidation writes it (label, confidence,
votes, the worker model's evidence, metadata; a real line of a simulated sample job, its source numbered), turned
into the CSV the requester downloads. Each tree (this one and ``--before``, the first version of the table,
extracted from git) runs in a child process of its own with only its own code importable, so its peak memory is its
own; the floor, measured beside them: the least any such table costs, parsing every line with the C JSON parser
and writing one row of five cells per line with ``csv``. CPU time, and how far the process's resident set rose above
what it held with the manifest's bytes in memory (its peak reset there: Linux's ``/proc/self/clear_refs``); the best
of ``--rounds`` rounds each.
Results go to bench/results/labels_csv.md.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import tree_runs  # noqa: E402
from bench_local_job import extract  # noqa: E402

BEFORE = "84d81fb"  # the table's first version: strict JSON parser, every parsed line held
LABEL = "welding-quality"
#: A welding output line as the consolidation writes it (from a simulated job of the sample data).
LINE = {"source": "s3://data-bucket/welding/datasets/dataset-01.json", LABEL: {"WeldingClassification": {
    "label": "Good Weld", "confidence": 0.9716, "votes": {"Good Weld": 3}, "evidence": {
        "temperature": 1.0, "answers": 2.6, "classes": {name: [0.0, -2.996] for name in (
            "Burn Through", "Contamination", "Lack of Fusion", "Lack of Shielding Gas", "High Travel Speed")}}},
    "workers": 3}, f"{LABEL}-metadata": {"type": "groundtruth/custom", "job-name": "bench", "human-annotated": "yes",
                                         "creation-date": "2026-11-30T12:32:35.184Z"}}


def manifest(objects: int) -> bytes:
    lines = []
    for number in range(objects):
        LINE["source"] = f"s3://data-bucket/welding/datasets/run-{number:06d}.json"
        lines.append(json.dumps(LINE))
    return ("\n".join(lines) + "\n").encode()


def status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, from /proc (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> float:
    """Make the peak resident set the present one (Linux's clear_refs 5), so the manifest's own making does not
    count; the resident set now."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return status_mb("VmRSS")


def child(tree: str, objects: int, mode: str, out: str) -> None:
    body = manifest(int(objects))
    base = reset_peak()
    start = time.process_time()
    if mode == "floor":
        import csv

        table = io.StringIO()
        writer = csv.writer(table)
        for text in body.decode().split("\n"):
            if text:
                line = json.loads(text)
                value = line[LABEL]["WeldingClassification"]
                writer.writerow([0, line["source"], value["label"], value["confidence"], line[LABEL]["workers"]])
    else:
        sys.path[:0] = [tree, str(Path(tree) / "lambda_src")]
        from local_ground_truth import labels_csv

        assert Path(labels_csv.__file__).is_relative_to(tree), labels_csv.__file__
        table = io.StringIO()
        labels_csv.write_csv(labels_csv.read_manifest(body, "bench"), table, LABEL)
    cpu = time.process_time() - start
    Path(out).write_text(json.dumps({"cpu": cpu, "peak_mb": status_mb("VmHWM") - base, "bytes": len(table.getvalue())}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "labels_csv.md")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        before = extract(args.before, Path(folder) / "before")
        runs: dict[str, list[dict]] = {"now": [], "before": [], "floor": []}
        for _ in range(args.rounds):  # alternating, so load on the machine falls on each alike
            for name, tree, mode in (("now", REPO, "table"), ("before", before, "table"), ("floor", REPO, "floor")):
                runs[name].append(tree_runs.in_child(__file__, tree, [args.objects, mode]))
    best = {name: min(results, key=lambda result: result["cpu"]) for name, results in runs.items()}
    peak = {name: min(result["peak_mb"] for result in results) for name, results in runs.items()}
    size = len(manifest(args.objects))
    text = (f"# A job's labels as CSV\n\nWritten by `bench/bench_labels_csv.py`:\n\n"
            f"    .venv/bin/python bench/bench_labels_csv.py --objects {args.objects} --rounds {args.rounds}\n\n"
            f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f}. An output manifest of {args.objects:,} welding objects ({size / 1e6:.1f} MB, "
            "each line as the consolidation writes it) as the CSV the requester downloads; best of "
            f"{args.rounds} alternating rounds, each tree in a child process of its own.\n\n"
            "| what | CPU | peak memory over the manifest's bytes | CSV |\n| --- | --- | --- | --- |\n"
            + "".join(f"| {title} | {best[name]['cpu']:.2f} s | {peak[name]:.0f} MB | "
                      f"{best[name]['bytes'] / 1e6:.1f} MB |\n"
                      for name, title in (("now", "now (`labels_csv`: C JSON parser, a line's cells kept, not the line)"),
                                          ("before", f"before ({args.before}: strict parser, every parsed line held)"),
                                          ("floor", "floor: every line parsed by the C parser, five cells written")))
            + f"\nNow vs floor: {best['now']['cpu'] / best['floor']['cpu']:.2f}x CPU; now vs before: "
            f"{best['before']['cpu'] / best['now']['cpu']:.1f}x less CPU, "
            f"{peak['before'] / max(peak['now'], 1):.1f}x less memory.\n")
    tree_runs.write_keeping_notes(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
