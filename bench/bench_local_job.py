"""Benchmark (not a test): a 1,000-object welding job run locally with 3 simulated workers.

    .venv/bin/python bench/bench_local_job.py [--objects 1000] [--processes 2]

The welding stack is synthesized and deployed to the runner's own S3 endpoint, which keeps the job's
bucket on disk (every write made durable before it is acknowledged), as the runner does; then
``--objects`` distinct runs (a fresh sensor CSV each, generated like the sample data, so no plot is
skipped as already rendered) replace the sample manifest. Timed: pre-labeling (the stack's Lambda in
parallel processes), the simulated answers, and consolidation (one batch, the stack's Lambda).
Results go to bench/results/local_job.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from local_ground_truth import headless, local_s3  # noqa: E402
from local_ground_truth.job import LocalJob  # noqa: E402
from local_ground_truth.stack_reader import read_workflow, synthesize  # noqa: E402


def generator():
    spec = importlib.util.spec_from_file_location("gen", REPO / "scripts" / "generate_welding_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    args = parser.parse_args()
    gen = generator()
    rng = np.random.default_rng(7)
    assembly = tempfile.TemporaryDirectory()  # the Lambdas are loaded from it: keep it to the end
    spec = read_workflow(synthesize(Path(assembly.name)), "WeldingLabeling-dev")
    spec = spec.__class__(**{**spec.__dict__, "task": {**spec.task, "NumberOfHumanWorkersPerDataObject": 3}})
    store = Path(tempfile.mkdtemp(prefix="bench-local-job-")) / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        buckets = local_s3.bucket_names(spec)
        local_s3.deploy(spec, s3, buckets)
        bucket = buckets[spec.task["InputBucket"]]
        image = f"s3://{bucket}/welding/images/run-01.jpg"
        truth, lines = {}, []
        start = time.perf_counter()
        for number in range(args.objects):
            kind = gen.CLASSES[number % len(gen.CLASSES)]
            csv_key = f"bench/sensor/run-{number:05d}.csv"
            s3.put_object(Bucket=bucket, Key=csv_key, Body=gen.csv_text(gen.sensor_trace(kind, rng)).encode())
            dataset_key = f"bench/datasets/bench-{number:05d}.json"
            s3.put_object(Bucket=bucket, Key=dataset_key, Body=json.dumps(
                {"image": {"s3Path": image}, "sensor_data": {"s3Path": f"s3://{bucket}/{csv_key}"}}).encode())
            lines.append(json.dumps({"source": f"s3://{bucket}/{dataset_key}"}))
            truth[f"bench-{number:05d}"] = kind
        s3.put_object(Bucket=bucket, Key=spec.task["ManifestKey"], Body=("\n".join(lines) + "\n").encode())
        upload_s = time.perf_counter() - start
        job = LocalJob(spec, s3, endpoint, bucket, "bench-1000", store=store)
        start = time.perf_counter()
        pre = job.pre_label(processes=args.processes, progress=False)
        pre_s = time.perf_counter() - start
        start = time.perf_counter()
        headless.simulate(job, truth, 3, 0.8, seed=1)
        answer_s = time.perf_counter() - start
        start = time.perf_counter()
        report = job.consolidate()
        consolidate_s = time.perf_counter() - start
        rows = job.output_manifest()
        job.close()
        accuracy = sum(r["welding-quality"]["WeldingClassification"] == truth[headless.truth_key(r)] for r in rows) / len(rows)
    lines_out = [
        f"## {args.objects:,}-object welding job, 3 simulated workers (accuracy 0.8), {args.processes} processes "
        f"({datetime.date.today()}, {os.cpu_count()} cores)",
        "",
        "| step | seconds |",
        "| --- | --- |",
        f"| upload {args.objects:,} distinct CSVs and datasets (bench set-up, not part of a job) | {upload_s:.1f} |",
        f"| pre-labeling: the stack's Lambda, {args.objects:,} objects, three plots each | {pre_s:.1f} |",
        f"| {3 * args.objects:,} simulated answers written in Ground Truth's layout | {answer_s:.1f} |",
        f"| consolidation: payload, the stack's Lambda, response check, output manifest | {consolidate_s:.1f} |",
        f"| **pre-labeling + consolidation (target under 120 s on 2 cores)** | **{pre_s + consolidate_s:.1f}** |",
        "",
        f"Objects pre-labeled: {pre.done:,} (failed {len(pre.failed)}); consolidated: {report.consolidated:,} "
        f"(failed {len(report.failed)}); consolidated accuracy (the stack's default method, Dawid-Skene) against the generator's truth: {accuracy:.3f}.",
        "",
    ]
    report_text = "\n".join(lines_out)
    print(report_text)
    (REPO / "bench" / "results" / "local_job.md").write_text(
        "# A 1,000-object job on one machine\n\nWritten by `bench/bench_local_job.py`.\n\n" + report_text)


if __name__ == "__main__":
    random.seed(0)
    main()
