"""Benchmark (not a test): real crowds and a 100,000-object batch through the consolidation Lambda.

    .venv/bin/python bench/bench_consolidation_handler.py [--repeat 5] [--objects 100000] [--previous 3e8fc2f]

1. duck and face (../shared/data/crowd) become Ground Truth consolidation payloads (one annotation
   per worker answer, the form as a JSON string under the welding question's name, the class as a
   label name), stored on a local S3 endpoint (moto's server on 127.0.0.1), and go through the
   generic consolidation handler configured as the welding stack configures it (``WORKFLOW_QUESTIONS``
   from the welding definition, its question's labels replaced by the crowd's classes), with each
   method. Accuracy is measured on the handler's response against the gold labels; time is the whole
   invocation (payload read and parsed, answers checked, model fitted, worker memory and quality
   report written), best of ``--repeat``, each run a fresh job so no state carries over.
2. A synthetic batch of ``--objects`` objects x 3 workers (the largest payload here by far) goes
   through the same handler: wall time and the process's peak memory (VmHWM) against the memory and
   timeout the stack gives the generic function (``workflows.model.GENERIC_CONSOLIDATION``).

Each handler runs in a child process of its own (``previous_code.run_handler``). In the same run,
the welding consolidation package of ``--previous`` (the code before issue 9, its categories set
through ``LABEL_CATEGORIES``) gets the same payloads, so accuracy and time are compared on the same
machine at the same moment. Results go to bench/results/consolidation_handler.md. The algorithm
alone, against crowd-kit, is bench/bench_crowd_consolidation.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src"), str(REPO / "bench")]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

import boto3  # noqa: E402

import workflows  # noqa: E402
from bench_crowd_consolidation import load_crowd  # noqa: E402
from gt_common.questions import QUESTIONS_ENV, questions_to_json  # noqa: E402
from previous_code import BEFORE_ISSUE_9, lambda_tree, run_handler  # noqa: E402
from workflows.model import GENERIC_CONSOLIDATION  # noqa: E402

RESULTS = REPO / "bench" / "results" / "consolidation_handler.md"
WELDING = workflows.definition("welding")
QUESTION = WELDING.questions[0]
LABEL = "crowd"
METHODS = ("dawid-skene", "majority-vote")


def environment(method: str, question=None, labels: list[str] | None = None) -> dict[str, str]:
    """The function's environment: today's generic one from ``question``; the old welding package's
    with ``labels`` through LABEL_CATEGORIES (its own default categories without)."""
    if question is not None:
        return {QUESTIONS_ENV: questions_to_json([question]), "CONSOLIDATION_METHOD": method}
    return {"CONSOLIDATION_METHOD": method, **({"LABEL_CATEGORIES": json.dumps(labels)} if labels else {})}


def payload_entries(questions, workers, answers):
    by_object: dict[str, list] = {}
    for question, worker, answer in zip(questions, workers, answers):
        by_object.setdefault(question, []).append({
            "workerId": worker,
            "annotationData": {"content": json.dumps({QUESTION.name: {"label": f"class-{answer}"}})},
        })
    return [{"datasetObjectId": q, "dataObject": {"source-ref": f"s3://input/{q}.jpg"}, "annotations": a}
            for q, a in by_object.items()]


def put_event(s3, bucket: str, job: str, entries: list) -> dict:
    key = f"{job}/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    return {"version": "2018-10-06", "labelAttributeName": LABEL, "outputConfig": f"s3://{bucket}/{job}/annotations",
            "maxHumanWorkersPerDataObject": max(len(e["annotations"]) for e in entries),
            "payload": {"s3Uri": f"s3://{bucket}/{key}"}}


def labels_of(response: list) -> dict[str, str]:
    """Each object's label: today's ``{question: {"label": ...}}``, the old package's ``{question: label}``."""
    labels = {}
    for item in response:
        value = item["consolidatedAnnotation"]["content"][LABEL][QUESTION.name]
        labels[item["datasetObjectId"]] = value["label"] if isinstance(value, dict) else value
    return labels


def crowds(endpoint: str, repeat: int, previous_tree: Path | None = None) -> list[dict]:
    """One row per crowd and method: today's accuracy and time, and the previous code's when given."""
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="crowd")
    codes = {"now": (REPO / "lambda_src", "consolidation")}
    if previous_tree is not None:
        codes["previous"] = (previous_tree, "welding_consolidation")
    rows = []
    for name in ("duck", "face"):
        questions, workers, answers, truth = load_crowd(name)
        classes = sorted(set(answers) | set(truth.values()), key=int)
        labels = [f"class-{c}" for c in classes]
        entries = payload_entries(questions, workers, answers)
        for method in METHODS:
            row = {"dataset": name, "method": method, "objects": len(entries), "answers": len(questions)}
            for code, (tree, package) in codes.items():
                events = [put_event(s3, "crowd", f"{name}-{method}-{code}-{run}", entries) for run in range(repeat)]
                config = (environment(method, labels=labels) if code == "previous" else
                          environment(method, dataclasses.replace(QUESTION, choices=tuple(labels), abstain=None)))
                result = run_handler(tree, package, config, events, endpoint)
                got = labels_of(result["runs"][-1]["response"])
                row[f"{code}_accuracy"] = sum(got.get(q) == f"class-{t}" for q, t in truth.items()) / len(truth)
                row[f"{code}_seconds"] = min(run["seconds"] for run in result["runs"])
            row["accuracy"], row["seconds"] = row["now_accuracy"], row["now_seconds"]
            rows.append(row)
            print(row, flush=True)
    return rows


def large_payload(s3, objects: int) -> tuple[dict, dict, float]:
    """Upload a batch of ``objects`` x 3 simulated answers; returns the event, truth and payload MB."""
    s3.create_bucket(Bucket="large")
    rng = random.Random(3)
    categories = list(QUESTION.choices)
    real = [label for label in categories if label != QUESTION.abstain]
    skill = {f"worker-{w:03d}": rng.uniform(0.55, 0.95) for w in range(60)}
    pool = list(skill)
    entries, truth = [], {}
    for number in range(objects):
        true = rng.choice(real)
        truth[str(number)] = true
        annotations = []
        for worker in rng.sample(pool, 3):
            label = true if rng.random() < skill[worker] else rng.choice(categories)
            annotations.append({"workerId": worker, "annotationData": {
                "content": json.dumps({QUESTION.name: {"label": label}})}})
        entries.append({"datasetObjectId": str(number), "dataObject": {"source": f"s3://in/{number}.json"},
                        "annotations": annotations})
    body = json.dumps(entries).encode()
    key = "large-job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
    s3.put_object(Bucket="large", Key=key, Body=body)
    event = {"version": "2018-10-06", "labelAttributeName": LABEL, "outputConfig": "s3://large/large-job/annotations",
             "maxHumanWorkersPerDataObject": 3, "payload": {"s3Uri": f"s3://large/{key}"}}
    return event, truth, len(body) / 1e6


def large(endpoint: str, event: dict, truth: dict, tree: Path, package: str, previous: bool) -> dict:
    """The 100,000-object invocation alone, in a process of its own, as a Lambda runs it."""
    job = "large-previous" if previous else "large-now"  # its own state and report, so neither sees the other's
    event = {**event, "outputConfig": event["outputConfig"].replace("large-job", job)}
    config = environment("dawid-skene") if previous else environment("dawid-skene", QUESTION)
    result = run_handler(tree, package, config, [event], endpoint)
    (run,) = result["runs"]
    labels = labels_of(run["response"])
    return {"answered": len(run["response"]), "seconds": run["seconds"], "peak_rss_mb": result["peak_rss_mb"],
            "rss_before_mb": result["rss_before_mb"],
            "accuracy": sum(labels.get(k) == v for k, v in truth.items()) / len(truth),
            "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--previous", default=BEFORE_ISSUE_9, help="git revision of the welding package to compare")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            previous_tree = lambda_tree(args.previous, Path(folder))
            rows = crowds(endpoint, args.repeat, previous_tree)
            event, truth, payload_mb = large_payload(boto3.client("s3", endpoint_url=endpoint), args.objects)
            now = large(endpoint, event, truth, REPO / "lambda_src", "consolidation", previous=False)
            before = large(endpoint, event, truth, previous_tree, "welding_consolidation", previous=True)
    finally:
        server.stop()
    same_labels = sum(now["labels"][k] == before["labels"][k] for k in truth)
    print({key: value for key, value in now.items() if key != "labels"}, same_labels)
    memory, timeout = GENERIC_CONSOLIDATION.memory_mb, GENERIC_CONSOLIDATION.timeout_seconds
    lines = [
        "# Consolidation Lambda, end to end: real crowds and a 100,000-object batch",
        "",
        f"Written by `bench/bench_consolidation_handler.py --repeat {args.repeat} --objects {args.objects} "
        f"--previous {args.previous}` on {datetime.date.today().isoformat()} ({os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}; S3 is moto's server on 127.0.0.1; each handler in a child process of its own).",
        "",
        "## Real crowds through the generic consolidation handler, configured as the welding stack does",
        "",
        "Whole invocations (payload read and parsed, every answer checked, model fitted, worker memory and",
        "quality report written to S3), best of the repeats. \"Before issue 9\": the welding consolidation",
        f"package at `{args.previous}`, on the same payloads in the same run. The algorithm alone against",
        "crowd-kit: bench/results/crowd_consolidation.md.",
        "",
        "| dataset | objects / answers | method | accuracy vs gold | before issue 9 | seconds per invocation | "
        "before issue 9 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {r['dataset']} | {r['objects']} / {r['answers']} | {r['method']} | {r['now_accuracy']:.4f} | "
          f"{r['previous_accuracy']:.4f} | {r['now_seconds']:.3f} | {r['previous_seconds']:.3f} |" for r in rows],
        "",
        f"## {args.objects:,} objects x 3 workers in one batch (Dawid-Skene)",
        "",
        "| measure | now | before issue 9 | the stack's function |",
        "| --- | --- | --- | --- |",
        f"| payload | {payload_mb:.1f} MB | same | |",
        f"| wall time of the invocation | {now['seconds']:.1f} s | {before['seconds']:.1f} s | timeout {timeout} s |",
        f"| peak memory of the process running the handler (VmHWM; before the call: {now['rss_before_mb']:.0f} MB "
        f"now, {before['rss_before_mb']:.0f} MB before) | {now['peak_rss_mb']:.0f} MB | {before['peak_rss_mb']:.0f} MB "
        f"| memory {memory} MB |",
        f"| objects answered | {now['answered']:,} | {before['answered']:,} | |",
        f"| accuracy against the simulated truth | {now['accuracy']:.4f} | {before['accuracy']:.4f} | |",
        f"| objects given the same label by both | {same_labels:,} of {len(truth):,} | | |",
        "",
        "Ties: before issue 9 a tie between two labels went to the alphabetically first; now to the question's",
        "`tie` label, else the label listed first in the definition (after any non-abstain label). The crowds'",
        "classes are listed in alphabetical order, so only the synthetic batch (welding's own labels) can",
        "differ, and only on objects whose posteriors tie exactly.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
