"""Benchmark (not a test): consolidation in the background of a 100,000-line local job as workers answer.

    .venv/bin/python bench/bench_large_job_batches.py [--lines 100000] [--seconds 60] [--rate 2]
                                                      [--before b9b8eb5] [--cloud-assembly DIR]

A welding job whose manifest has ``--lines`` lines (Ground Truth's limit is 100,000 objects per job), 3
workers per object. For ``--seconds`` a thread records the 3 answers of one more object ``--rate`` times
a second through the runner's answer path (each on disk before it counts) and wakes the runner's
background consolidation (``local_ground_truth.consolidator.Consolidator``), as workers in browsers do,
with the requester's log attached as the runner attaches it (a line per answer and batch, the quality report
saved in the job's folder); then the consolidation is stopped as the runner stops it. Measured per tree: the CPU of the runner's
process and of its S3 endpoint over that time, the batches run, the output manifest's rewrites, how long
an object waited from its last answer until its label was consolidated, and how long stopping took.

Each tree (this one, and ``--before``, extracted from git) runs in a child process with only its own code
on the import path, against its own endpoint keeping the bucket on disk, in the same invocation. Their
final output manifests must hold the same labels, line by line. The floor, measured in the same run: this
tree with the output manifest never rewritten and no requester's log (what the batches cost alone).
Results go to bench/results/large_job_batches.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import tree_runs  # noqa: E402
from bench_local_job import endpoint_pid, extract, process_cpu  # noqa: E402

BEFORE = "b9b8eb5"  # main before the manifests' rewrites were spaced by their cost
LABELS = ("Good Weld", "Burn Through", "Contamination")


def descendants_cpu(exclude: int | None) -> dict[int, float]:
    """CPU seconds of each process below this one (its Lambda processes), but ``exclude`` (the endpoint)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    found, frontier = {}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid != exclude:
                try:
                    found[pid] = process_cpu(pid)
                except OSError:
                    continue
                frontier.append(pid)
    return found


def run_child(tree: Path, assembly: Path, lines: int, seconds: float, rate: float, floor: bool, out: Path) -> None:
    with tree_runs.welding_job_endpoint(tree, assembly, "bench-large-job-") as (spec, store, endpoint, s3):
        from local_ground_truth.consolidator import Consolidator
        from local_ground_truth.job import LocalJob

        server = endpoint_pid()
        tree_runs.put_large_manifest(spec, s3, lines)
        from local_ground_truth.requester import RequesterLog

        job = LocalJob(spec, s3, endpoint, "bench-large", store=store)
        if not floor:  # as the runner does: its lines, the quality report files
            RequesterLog(job, lambda line: None).attach()
        rewrites, began = [], []  # seconds per rewrite: its lines built and encoded, then written
        # What a rewrite starts with: the manifest's bytes (a tree that keeps each line's text), else its lines.
        build = "output_manifest_body" if hasattr(job, "output_manifest_body") else "output_lines"
        put, built = job.s3.put_object, getattr(job, build)

        def timed_lines():
            began.append(time.perf_counter())
            if floor:  # nothing to build, encode or write
                return b"" if build == "output_manifest_body" else []
            return built()

        def counting_put(**kwargs):
            if kwargs.get("Key") != job.output_manifest_key:
                return put(**kwargs)
            if floor:
                return None
            result = put(**kwargs)
            rewrites.append(time.perf_counter() - began[-1])
            return result

        job.write_output_manifest()  # as pre-labeling's end does
        job.s3.put_object = counting_put
        setattr(job, build, timed_lines)
        answered: dict[str, float] = {}
        consolidated: dict[str, float] = {}
        job.on_consolidated.append(lambda outcome: consolidated.update(
            {object_id: time.perf_counter() for object_id in outcome.labeled}))
        batches = []
        job.on_consolidated.append(lambda outcome: batches.append(len(outcome.labeled)))
        consolidator = Consolidator(job).start()
        cpu_client, cpu_server, cpu_lambdas = time.process_time(), process_cpu(server), descendants_cpu(server)
        started = time.perf_counter()
        number = 0
        while time.perf_counter() - started < seconds:
            object_id = str(number)
            for worker in ("w1", "w2", "w3"):
                job.record_answer(object_id, worker, {"WeldingClassification": {"label": LABELS[number % 3]}})
            answered[object_id] = time.perf_counter()
            consolidator.notify()
            number += 1
            time.sleep(max(0.0, started + number / rate - time.perf_counter()))
        answering = time.perf_counter() - started
        lambdas = descendants_cpu(server)
        stop_started = time.perf_counter()
        consolidator.stop(timeout=600)
        stopping = time.perf_counter() - stop_started
        cpu_client, cpu_server = time.process_time() - cpu_client, process_cpu(server) - cpu_server
        cpu_client += sum(cpu - cpu_lambdas.get(pid, 0.0) for pid, cpu in lambdas.items())
        waited = [consolidated[o] - answered[o] for o in answered if o in consolidated]
        job.s3.put_object = put
        setattr(job, build, built)
        if floor:
            job.write_output_manifest()
        labels = [row.get(spec.label_attribute_name) for row in job.output_manifest()]
        job.close()
    out.write_text(json.dumps({
        "objects": number, "answering": answering, "stopping": stopping, "cpu_runner": cpu_client,
        "cpu_endpoint": cpu_server, "batches": len(batches), "rewrites": len(rewrites),
        "rewrite_seconds": statistics.median(rewrites) if rewrites else 0.0,
        "consolidated": len(consolidated), "waited_median": statistics.median(waited) if waited else None,
        "waited_max": max(waited) if waited else None, "labels": labels}))


def in_child(tree: Path, assembly: Path, args, floor: bool = False) -> dict:
    return tree_runs.in_child(__file__, tree, [assembly, args.lines, args.seconds, args.rate, "1" if floor else "0"])


def comparable(labels: list) -> list:
    """Labels without their confidence's last digits (the worker model sees the same answers either way)."""
    return [json.dumps(label, sort_keys=True) if label else None for label in labels]


def report(args, results: dict[str, dict]) -> str:
    now, before, floor = results["now"], results["before"], results["floor"]
    same = comparable(now.pop("labels")) == comparable(before.pop("labels"))
    floor.pop("labels")
    rows = [("objects answered (3 answers each)", "objects", "{:,}"),
            ("CPU of the runner's process and its Lambda processes (s)", "cpu_runner", "{:.1f}"),
            ("CPU of the S3 endpoint (s)", "cpu_endpoint", "{:.1f}"),
            ("batches run", "batches", "{:,}"),
            ("output manifest rewrites while answering", "rewrites", "{:,}"),
            ("one rewrite (lines built, encoded, written), median (s)", "rewrite_seconds", "{:.2f}"),
            ("last answer to label consolidated, median (s)", "waited_median", "{:.2f}"),
            ("last answer to label consolidated, longest (s)", "waited_max", "{:.2f}"),
            ("stopping (last batch, manifests written) (s)", "stopping", "{:.2f}")]
    lines = ["# Consolidation in the background of a 100,000-line local job", "",
             "Written by `bench/bench_large_job_batches.py`:", "",
             f"    .venv/bin/python bench/bench_large_job_batches.py --lines {args.lines} --seconds {args.seconds:g} "
             f"--rate {args.rate:g}", "",
             f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average "
             f"{os.getloadavg()[0]:.1f} at the end. A welding job of {args.lines:,} manifest lines, 3 workers per "
             f"object; for {args.seconds:g} s one more object's 3 answers every {1 / args.rate:g} s through the "
             "runner's answer path, consolidated in the background as the runner does, then stopped as the runner "
             "stops. Each tree in a child process of its own with its own endpoint (bucket kept on disk).", "",
             f"| | before (`{args.before}`) | now | floor (now, the batches alone: no manifest rewritten, no "
             "quality report saved) |", "| --- | --- | --- | --- |"]
    for title, key, form in rows:
        cell = lambda r: "-" if r.get(key) is None else form.format(r[key])  # noqa: E731
        lines.append(f"| {title} | {cell(before)} | {cell(now)} | {cell(floor)} |")
    lines += ["", f"Final output manifests, label by label: {'the same' if same else 'DIFFERENT'} before and now "
                  f"({args.lines:,} lines each)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=2.0, help="objects answered per second (default 2)")
    tree_runs.add_tree_arguments(parser, BEFORE, "large_job_batches.md", child_values=7)
    args = parser.parse_args()
    if args.child:
        tree, assembly, lines, seconds, rate, floor, out = args.child
        run_child(Path(tree), Path(assembly), int(lines), float(seconds), float(rate), floor == "1", Path(out))
        return
    with tempfile.TemporaryDirectory() as folder:
        assembly = tree_runs.assembly(args.cloud_assembly, Path(folder))
        before_tree = extract(args.before, Path(folder) / "before")
        results = {"before": in_child(before_tree, assembly, args), "now": in_child(REPO, assembly, args),
                   "floor": in_child(REPO, assembly, args, floor=True)}
    text = report(args, results)
    print(text)
    tree_runs.write_keeping_notes(args.out, text)


if __name__ == "__main__":
    main()
