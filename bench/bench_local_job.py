"""Benchmark (not a test): a 1,000-object welding job run locally with 3 simulated workers.

    .venv/bin/python bench/bench_local_job.py [--objects 1000] [--processes 2] [--cloud-assembly DIR]

The welding stack is synthesized (or read from ``--cloud-assembly``) and deployed to the runner's own
S3 endpoint, which keeps the job's bucket on disk (every write made durable before it is
acknowledged), as the runner does; then ``--objects`` distinct runs (a fresh sensor CSV each,
generated like the sample data, so no plot is skipped as already rendered) replace the sample
manifest. Timed: pre-labeling (the stack's Lambda in parallel processes), the simulated answers
(headless mode's, shaped as the page submits them), and consolidation (one batch, the stack's
Lambda). The accuracy is headless mode's score of the consolidated labels. Results go to
bench/results/local_job.md.
"""
from __future__ import annotations

import argparse
import dataclasses
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

import workflows  # noqa: E402
from local_ground_truth import headless, local_s3  # noqa: E402
from local_ground_truth.job import LocalJob  # noqa: E402
from local_ground_truth.stack_reader import read_workflow, synthesize  # noqa: E402

WORKFLOW = workflows.definition("welding")
[QUESTION] = WORKFLOW.questions


def generator():
    spec = importlib.util.spec_from_file_location("generate_welding_data", REPO / "scripts" / "generate_welding_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    parser.add_argument("--cloud-assembly", type=Path, help="an app already synthesized (default: synthesize it)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "local_job.md")
    args = parser.parse_args()
    gen = generator()
    classes = gen.classes()
    rng = np.random.default_rng(7)
    assembly = tempfile.TemporaryDirectory()  # the Lambdas are loaded from it: keep it to the end
    spec = read_workflow(args.cloud_assembly or synthesize(Path(assembly.name)), WORKFLOW.name)
    spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=3))
    store = Path(tempfile.mkdtemp(prefix="bench-local-job-")) / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        bucket = spec.task.manifest.bucket
        image = f"s3://{bucket}/{WORKFLOW.data_prefix}images/run-01.jpg"
        truth, lines = {}, []
        start = time.perf_counter()
        for number in range(args.objects):
            kind = classes[number % len(classes)]
            csv_key = f"bench/sensor/run-{number:05d}.csv"
            s3.put_object(Bucket=bucket, Key=csv_key, Body=gen.csv_text(gen.sensor_trace(kind, rng)[0]).encode())
            dataset_key = f"bench/datasets/bench-{number:05d}.json"
            s3.put_object(Bucket=bucket, Key=dataset_key, Body=json.dumps(
                {"image": {"s3Path": image}, "sensor_data": {"s3Path": f"s3://{bucket}/{csv_key}"}}).encode())
            lines.append(json.dumps({"source": f"s3://{bucket}/{dataset_key}"}))
            truth[f"bench-{number:05d}"] = {QUESTION.name: kind}
        manifest = spec.task.manifest
        s3.put_object(Bucket=manifest.bucket, Key=manifest.key, Body=("\n".join(lines) + "\n").encode())
        upload_s = time.perf_counter() - start
        job = LocalJob(spec, s3, endpoint, "bench-1000", store=store)
        start = time.perf_counter()
        pre = job.pre_label(processes=args.processes, progress=False)
        pre_s = time.perf_counter() - start
        start = time.perf_counter()
        simulation = headless.prepare(job, WORKFLOW, truth, "bench truth")
        headless.simulate(job, simulation, 3, 0.8, seed=1)
        answer_s = time.perf_counter() - start
        start = time.perf_counter()
        report = job.consolidate()
        consolidate_s = time.perf_counter() - start
        score = headless.summarize(job, simulation, store.parent / "summary.png")["questions"][QUESTION.name]
        job.close()
        accuracy = f"{score['accuracy']:.3f}" if score["accuracy"] is not None else "n/a"
        if score["malformed"]:
            print(f"note: {score['malformed']} consolidated labels are not in the consolidated label shape headless mode "
                  "scores; the accuracy counts the others")
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
        f"(failed {len(report.failed)}); consolidated accuracy (the stack's default method, Dawid-Skene) against the generator's truth: {accuracy}.",
        "",
    ]
    report_text = "\n".join(lines_out)
    print(report_text)
    args.out.write_text(
        "# A 1,000-object job on one machine\n\nWritten by `bench/bench_local_job.py`.\n\n" + report_text)


if __name__ == "__main__":
    random.seed(0)
    main()
