"""Benchmark (not a test): real crowds and a 100,000-object batch through the consolidation Lambda.

    .venv/bin/python bench/bench_consolidation_handler.py [--repeat 5] [--objects 100000]

1. duck and face (../shared/data/crowd) become Ground Truth consolidation payloads (one
   annotation per worker answer, the form as a JSON string, the class as a category name set
   through ``LABEL_CATEGORIES``), stored on a local S3 endpoint (moto's server on 127.0.0.1), and
   go through the welding consolidation handler, with each method. Accuracy is measured on the
   handler's response against the gold labels; time is the whole invocation (payload read and
   parsed, answers checked, model fitted, worker model and quality report written), best of
   ``--repeat``, each run a fresh job so no state carries over.
2. A synthetic batch of ``--objects`` objects x 3 workers (the largest payload here by far) goes
   through the same handler in a child process: wall time and the process's peak memory
   (VmHWM) against the memory and timeout the welding stack gives the function.

Results go to bench/results/consolidation_handler.md. The algorithm alone, against crowd-kit,
is bench/bench_crowd_consolidation.py.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src"), str(REPO / "bench")]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

import boto3  # noqa: E402

from bench_crowd_consolidation import load_crowd  # noqa: E402

RESULTS = REPO / "bench" / "results" / "consolidation_handler.md"
LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_S = 1024, 300  # stacks/welding_stack.py


def payload_entries(questions, workers, answers):
    by_object: dict[str, list] = {}
    for question, worker, answer in zip(questions, workers, answers):
        by_object.setdefault(question, []).append({
            "workerId": worker,
            "annotationData": {"content": json.dumps({"WeldingClassification": {"label": f"class-{answer}"}})},
        })
    return [{"datasetObjectId": q, "dataObject": {"source-ref": f"s3://input/{q}.jpg"}, "annotations": a}
            for q, a in by_object.items()]


def invoke(handler, s3, bucket, job, entries):
    os.environ["AWS_ENDPOINT_URL_S3"] = s3.meta.endpoint_url  # the handler's own client reads it
    key = f"{job}/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    event = {"version": "2018-10-06", "labelAttributeName": "crowd", "outputConfig": f"s3://{bucket}/{job}/annotations",
             "payload": {"s3Uri": f"s3://{bucket}/{key}"}}
    start = time.perf_counter()
    response = handler.lambda_handler(event, None)
    return time.perf_counter() - start, response


def crowds(endpoint: str, repeat: int) -> list[dict]:
    from welding_consolidation import handler

    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="crowd")
    rows = []
    for name in ("duck", "face"):
        questions, workers, answers, truth = load_crowd(name)
        classes = sorted(set(answers) | set(truth.values()), key=int)
        os.environ["LABEL_CATEGORIES"] = json.dumps([f"class-{c}" for c in classes])
        entries = payload_entries(questions, workers, answers)
        for method in ("dawid-skene", "majority-vote"):
            os.environ["CONSOLIDATION_METHOD"] = method
            best, response = float("inf"), None
            for run in range(repeat):
                seconds, response = invoke(handler, s3, "crowd", f"{name}-{method}-{run}", entries)
                best = min(best, seconds)
            labels = {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"]["crowd"]["WeldingClassification"]
                      for r in response}
            right = sum(labels.get(q) == f"class-{t}" for q, t in truth.items())
            rows.append({"dataset": name, "method": method, "objects": len(entries), "answers": len(questions),
                         "accuracy": right / len(truth), "seconds": best})
            print(rows[-1], flush=True)
    return rows


def large_payload(s3, objects: int) -> tuple[dict, dict, float]:
    """Upload a batch of ``objects`` x 3 simulated answers; returns the event, truth and payload MB."""
    s3.create_bucket(Bucket="large")
    rng = random.Random(3)
    categories = ["Good Weld", "Burn Through", "Contamination", "Lack of Fusion", "Lack of Shielding Gas",
                  "High Travel Speed", "Not sure"]
    skill = {f"worker-{w:03d}": rng.uniform(0.55, 0.95) for w in range(60)}
    pool = list(skill)
    entries, truth = [], {}
    for number in range(objects):
        true = rng.choice(categories[:-1])
        truth[str(number)] = true
        annotations = []
        for worker in rng.sample(pool, 3):
            label = true if rng.random() < skill[worker] else rng.choice(categories)
            annotations.append({"workerId": worker, "annotationData": {
                "content": json.dumps({"WeldingClassification": {"label": label}})}})
        entries.append({"datasetObjectId": str(number), "dataObject": {"source": f"s3://in/{number}.json"},
                        "annotations": annotations})
    body = json.dumps(entries).encode()
    key = "large-job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
    s3.put_object(Bucket="large", Key=key, Body=body)
    event = {"version": "2018-10-06", "labelAttributeName": "crowd", "outputConfig": "s3://large/large-job/annotations",
             "payload": {"s3Uri": f"s3://large/{key}"}}
    return event, truth, len(body) / 1e6


def peak_rss_mb() -> float:
    """VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def large_child(endpoint: str, event_json: str) -> None:
    """The invocation alone, in a process of its own, as a Lambda runs it: VmHWM is its peak."""
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    os.environ.pop("LABEL_CATEGORIES", None)
    os.environ["CONSOLIDATION_METHOD"] = "dawid-skene"
    from welding_consolidation import handler

    handler.s3_client()  # the client exists before the measured call, as in a warm Lambda
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    response = handler.lambda_handler(json.loads(event_json), None)
    seconds = time.perf_counter() - start
    rss_after = peak_rss_mb()
    labels = {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"]["crowd"]["WeldingClassification"]
              for r in response}
    print(json.dumps({"answered": len(response), "seconds": seconds, "peak_rss_mb": rss_after,
                      "rss_before_mb": rss_before, "labels": labels}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--child-large", nargs=2, metavar=("ENDPOINT", "EVENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_large:
        large_child(*args.child_large)
        return
    from moto.server import ThreadedMotoServer
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        rows = crowds(endpoint, args.repeat)
        event, truth, payload_mb = large_payload(boto3.client("s3", endpoint_url=endpoint), args.objects)
        child = subprocess.run([sys.executable, __file__, "--child-large", endpoint, json.dumps(event)],
                               capture_output=True, text=True, check=True)
        large = json.loads(child.stdout.strip().splitlines()[-1])
        labels = large.pop("labels")
        large.update(objects=args.objects, payload_mb=payload_mb,
                     accuracy=sum(labels.get(k) == v for k, v in truth.items()) / len(truth))
        print(large)
    finally:
        server.stop()
    lines = [
        "# Consolidation Lambda, end to end: real crowds and a 100,000-object batch",
        "",
        f"Written by `bench/bench_consolidation_handler.py --repeat {args.repeat} --objects {args.objects}` on "
        f"{datetime.date.today().isoformat()} ({os.cpu_count()} cores, Python {sys.version.split()[0]}; S3 is moto's "
        "server on 127.0.0.1, in the same process for the crowds).",
        "",
        "## Real crowds through the welding consolidation handler",
        "",
        "Whole invocations (payload read and parsed, every answer checked, model fitted, worker model and",
        "quality report written to S3), best of the repeats. The algorithm alone against crowd-kit:",
        "bench/results/crowd_consolidation.md.",
        "",
        "| dataset | objects / answers | method | accuracy vs gold | seconds per invocation |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {r['dataset']} | {r['objects']} / {r['answers']} | {r['method']} | {r['accuracy']:.4f} | {r['seconds']:.3f} |"
          for r in rows],
        "",
        f"## {large['objects']:,} objects x 3 workers in one batch (Dawid-Skene)",
        "",
        "| measure | value | the stack's function |",
        "| --- | --- | --- |",
        f"| payload | {large['payload_mb']:.1f} MB | |",
        f"| wall time of the invocation | {large['seconds']:.1f} s | timeout {LAMBDA_TIMEOUT_S} s |",
        f"| peak memory of the process running the handler (VmHWM; {large['rss_before_mb']:.0f} MB before the call) "
        f"| {large['peak_rss_mb']:.0f} MB | memory {LAMBDA_MEMORY_MB} MB |",
        f"| objects answered | {large['answered']:,} | |",
        f"| accuracy against the simulated truth | {large['accuracy']:.3f} | |",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
