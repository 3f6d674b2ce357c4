"""Benchmark (not a test): what a consolidation batch reads of the job's earlier statistics.

    .venv/bin/python bench/bench_worker_memory.py [--no-write] [--previous 633dc95] [--batches 500]

In the same run, on the local runner's S3 endpoint (``local_ground_truth.local_s3``: moto's server,
conditional writes atomic), the whole consolidation Lambda of today (one snapshot per kind of
statistics, ``gt_common.job_state``) and of ``--previous`` (every batch lists and reads every earlier
batch's file), each in a child process of its own with the Lambda's S3 client instrumented (botocore
events): per batch, the requests that read the job's state (GetObject and ListObjectsV2 under
``consolidation-state/``), the bytes they returned, and the invocation's wall time.

1. **Read cost per batch, batch 2 to ``--batches``.** One welding job of ``--batches`` batches of 10
   objects x 3 workers (a pool of 6 at 0.8), every batch through today's Lambda. The code before is
   measured at sampled batches k: a job of its own whose state holds the k - 1 earlier batches' files
   (today's per-batch records, which are those files byte for byte: same format, same names),
   then batch k through the code before.
2. **The storage change leaves labels unchanged.** duck and face (../shared/data/crowd) and the welding
   simulation (30 seeds x 18 runs, 3 simulated workers at 0.8, as ``bench_calibration`` draws it), each
   in batches of 10 with the state carried, through both Lambdas: labels compared and confidences'
   largest difference; accuracy and ECE of each beside one batch of the whole job (today's Lambda).

Results: bench/results/worker_memory.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src"), str(REPO / "bench")]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

import numpy as np  # noqa: E402

import workflows  # noqa: E402
from gt_common.questions import QUESTIONS_ENV, questions_to_json  # noqa: E402
from previous_code import lambda_tree  # noqa: E402

RESULTS = REPO / "bench" / "results" / "worker_memory.md"
BUCKET = "bench-worker-memory"
BENCH_KEY = "bench-worker-memory"  # the access key this benchmark and its handlers sign with
QUESTION = workflows.definition("welding").questions[0]
BATCH, WORKERS, POOL, ACCURACY = 10, 3, 6, 0.8
STATE = "/consolidation-state/"

# The child: one Lambda tree's handler, its S3 client counting what each invocation reads of the state.
_CHILD = """
import importlib, json, logging, os, sys, time
from pathlib import Path

config = json.loads(Path(sys.argv[1]).read_text())
sys.path.insert(0, config["lambda_src"])
logging.disable(logging.WARNING)
os.environ.update(config["environment"])
handler = importlib.import_module("consolidation.handler")
assert handler.__file__.startswith(config["lambda_src"]), handler.__file__
client = handler.s3_client()
count = {}

def before(params, context, model, **_):
    where = params.get("url_path", "") + json.dumps(params.get("query_string", ""))
    context["bench_state"] = "/consolidation-state/" in where or "consolidation-state%2F" in where

def after(http_response, parsed, model, context, **_):
    if not context.get("bench_state") or model.name not in ("GetObject", "ListObjectsV2", "HeadObject"):
        return
    count["requests"] = count.get("requests", 0) + 1
    count[model.name] = count.get(model.name, 0) + 1
    if model.name == "GetObject" and http_response.status_code == 200:
        count["bytes"] = count.get("bytes", 0) + int(parsed.get("ContentLength", 0))
    else:
        count["bytes"] = count.get("bytes", 0) + len(http_response.content or b"")

client.meta.events.register("before-call.s3", before)
client.meta.events.register("after-call.s3", after)
runs = []
for event in config["events"]:
    count.clear()
    started = time.perf_counter()
    response = handler.lambda_handler(event, None)
    seconds = time.perf_counter() - started
    runs.append({"seconds": seconds, "reads": dict(count), "response": response if config["keep"] else None})
Path(sys.argv[2]).write_text(json.dumps(runs))
"""


def run_tree(tree: Path, question, events: list[dict], endpoint: str, keep: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        config, out = Path(folder) / "config.json", Path(folder) / "out.json"
        config.write_text(json.dumps({"lambda_src": str(tree), "events": events, "keep": keep,
                                      "environment": {QUESTIONS_ENV: questions_to_json([question]),
                                                      "CONSOLIDATION_METHOD": "dawid-skene"}}))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", QUESTIONS_ENV, "TASK_RECORDS_URI")}
        env["AWS_ENDPOINT_URL_S3"] = endpoint
        subprocess.run([sys.executable, "-c", _CHILD, str(config), str(out)], check=True, env=env,
                       cwd=tempfile.gettempdir())
        return json.loads(out.read_text())


def batch_name(k: int) -> str:
    return (datetime.datetime(2026, 1, 1) + datetime.timedelta(minutes=k)).strftime("%Y-%m-%d_%H:%M:%S")


def put_batch(s3, job: str, k: int, entries: list[dict]) -> dict:
    """Batch ``k`` of ``job`` stored as Ground Truth stores a payload; its event."""
    key = f"{job}/annotations/consolidated-annotation/consolidation-request/iteration-1/{batch_name(k)}.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(entries).encode())
    return {"version": "2018-10-06", "labelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{job}",
            "labelAttributeName": "label", "maxHumanWorkersPerDataObject": WORKERS,
            "payload": {"s3Uri": f"s3://{BUCKET}/{key}"}, "outputConfig": f"s3://{BUCKET}/{job}/annotations"}


def entries_of(rows: list[tuple[str, str, str]]) -> list[dict]:
    """Payload entries from ``(object, worker, label)`` rows, the form as the welding page submits it."""
    by_object: dict[str, list] = {}
    for object_id, worker, label in rows:
        by_object.setdefault(object_id, []).append(
            {"workerId": worker, "annotationData": {"content": json.dumps({QUESTION.name: {"label": label}})}})
    return [{"datasetObjectId": o, "dataObject": {"source-ref": f"s3://input/{o}"}, "annotations": a}
            for o, a in by_object.items()]


def simulated_batch(k: int, rng: random.Random) -> list[dict]:
    classes = [c for c in QUESTION.labels if c != QUESTION.abstain]
    rows = []
    for i in range(BATCH):
        truth = rng.choice(classes)
        for worker in rng.sample(range(POOL), WORKERS):
            label = truth if rng.random() < ACCURACY else rng.choice([c for c in classes if c != truth])
            rows.append((f"{k}-{i}", f"worker-{worker}", label))
    return entries_of(rows)


def read_cost(s3, endpoint: str, trees: dict[str, Path], batches: int, samples: list[int]) -> dict:
    """Per batch: today's on every batch of one job, the code before at the sampled batches."""
    rng = random.Random(11)
    payloads = [simulated_batch(k, rng) for k in range(1, batches + 1)]
    events = [put_batch(s3, "now", k, payload) for k, payload in enumerate(payloads, start=1)]
    now = run_tree(trees["now"], QUESTION, events, endpoint)
    before_events = []
    for k in samples:  # the state the code before would hold at batch k: the k - 1 earlier batches' files
        job = f"before-{k}"
        for kind in ("worker-model", f"quality-{QUESTION.name}"):
            for j in range(1, k):
                name = f"iteration-1-{batch_name(j).replace(':', '_')}.json"
                s3.copy_object(Bucket=BUCKET, Key=f"{job}/annotations/consolidation-state/{kind}/{name}",
                               CopySource={"Bucket": BUCKET, "Key": f"now/annotations/consolidation-state/{kind}/{name}"})
        before_events.append(put_batch(s3, job, k, payloads[k - 1]))
    before = run_tree(trees["before"], QUESTION, before_events, endpoint)
    return {"now": now, "before": dict(zip(samples, before))}


# -- labels unchanged by the storage --------------------------------------------------------------------
def jobs_of_data() -> dict[str, tuple]:
    """``{name: (question, [job rows], truth)}``: duck and face as one job each, the simulation as one job per seed."""
    from bench_calibration import simulation
    from bench_crowd_consolidation import load_crowd

    out = {}
    for name in ("duck", "face"):
        q, w, a, truth = load_crowd(name)
        labels = sorted(set(a) | set(truth.values()))
        question = dataclasses.replace(QUESTION, choices=tuple(labels), abstain=None)
        out[name] = (question, [list(zip(q, w, a))], truth)
    question, sims = simulation()
    out["simulation"] = (question, [list(zip(q, w, a)) for q, w, a, _ in sims],
                         {k: v for *_, t in sims for k, v in t.items()})
    return out


def labels_of(response: list[dict]) -> dict[str, tuple]:
    out = {}
    for item in response:
        value = item["consolidatedAnnotation"]["content"]["label"]
        decided = next(v for k, v in value.items() if k != "workers")
        out[item["datasetObjectId"]] = (decided["label"], decided["confidence"])
    return out


def metrics(decisions: dict[str, tuple], truth: dict[str, str]) -> dict:
    kept = [o for o in truth if o in decisions]
    confidence = np.array([decisions[o][1] for o in kept])
    right = np.array([decisions[o][0] == truth[o] for o in kept])
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(abs(confidence[bins == b].mean() - right[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    return {"accuracy": float(right.mean()), "ece": float(ece), "objects": len(kept)}


def unchanged(s3, endpoint: str, trees: dict[str, Path]) -> list[dict]:
    rows = []
    for name, (question, jobs, truth) in jobs_of_data().items():
        decided = {"now": {}, "before": {}, "one batch": {}}
        for code in ("now", "before"):
            events = []
            for j, job_rows in enumerate(jobs):
                objects = list(dict.fromkeys(r[0] for r in job_rows))
                for k in range(0, len(objects), BATCH):
                    chunk = set(objects[k:k + BATCH])
                    events.append(put_batch(s3, f"{name}-{code}-{j}", k // BATCH + 1,
                                            entries_of([r for r in job_rows if r[0] in chunk])))
            for run in run_tree(trees[code], question, events, endpoint, keep=True):
                decided[code].update(labels_of(run["response"]))
        events = [put_batch(s3, f"{name}-one-{j}", 1, entries_of(job_rows)) for j, job_rows in enumerate(jobs)]
        for run in run_tree(trees["now"], question, events, endpoint, keep=True):
            decided["one batch"].update(labels_of(run["response"]))
        same = sum(decided["now"][o][0] == decided["before"][o][0] for o in decided["now"])
        gap = max(abs(decided["now"][o][1] - decided["before"][o][1]) for o in decided["now"])
        rows.append({"data": name, "objects": len(decided["now"]), "same_labels": same, "max_confidence_gap": gap,
                     **{code: metrics(decided[code], truth) for code in decided}})
        print(rows[-1], flush=True)
    return rows


# -- report -----------------------------------------------------------------------------------------------
def table(cost: dict, samples: list[int]) -> list[str]:
    lines = ["| batch | today: state requests | today: state bytes read | today: seconds | before: state requests "
             "| before: state bytes read | before: seconds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for k in samples:
        now, before = cost["now"][k - 1], cost["before"][k]
        lines.append(f"| {k} | {now['reads'].get('requests', 0)} | {now['reads'].get('bytes', 0):,} | "
                     f"{now['seconds']:.3f} | {before['reads'].get('requests', 0)} | "
                     f"{before['reads'].get('bytes', 0):,} | {before['seconds']:.3f} |")
    return lines


def write(cost: dict, same: list[dict], samples: list[int], previous: str, revision: str, batches: int) -> str:
    now = cost["now"][1:]  # batch 2 on
    requests = [run["reads"].get("requests", 0) for run in now]
    sizes = [run["reads"].get("bytes", 0) for run in now]
    seconds = [run["seconds"] for run in now]
    first_tenth, last_tenth = seconds[:max(len(seconds) // 10, 1)], seconds[-max(len(seconds) // 10, 1):]
    flat = len(set(requests)) == 1
    # The snapshot holds a cell per worker, true class and answer seen: it fills in over the first batches
    # (then only its numbers grow a digit now and then), so bytes are compared from batch 10 on.
    settled = [run["reads"].get("bytes", 0) for run in cost["now"][9:]] or sizes
    bytes_flat = max(settled) <= 1.1 * min(settled)
    lines = [
        "# Worker memory: what a batch reads of the job's earlier statistics",
        "",
        "Written by `bench/bench_worker_memory.py`:",
        "",
        "    .venv/bin/python bench/bench_worker_memory.py",
        "",
        f"{datetime.date.today()}, 2 cores shared with other work. Today: {revision} (one snapshot per kind of "
        f"statistics, conditional writes). Before: `{previous}` (each batch lists and reads every earlier batch's "
        "file). Both through the whole consolidation Lambda, each in a child process of its own, on the local "
        "runner's S3 endpoint (moto's server, conditional writes atomic). \"State\" requests: GetObject and "
        "ListObjectsV2 under `consolidation-state/` (the worker memory and the quality statistics); bytes: what "
        "they returned.",
        "",
        f"## Read cost per batch: one welding job of {batches} batches of {BATCH} objects x {WORKERS} workers",
        "",
        "Today's Lambda ran every batch of the job in order; the code before ran the sampled batches, each on a job "
        "whose state held the earlier batches' files (today's per-batch records, the same files byte for byte).",
        "",
        *table(cost, samples),
        "",
        f"Today, batches 2 to {batches}: state requests per batch {min(requests)} to {max(requests)} "
        f"({'the same for every batch' if flat else 'NOT the same for every batch'}); bytes read "
        f"{min(sizes):,} to {max(sizes):,} (the snapshots hold a few numbers per worker, class and answer: {POOL} "
        f"workers here; they fill in over the first batches, then grow only as their sums gain digits); seconds "
        f"per batch (the whole invocation, on a machine shared with other work): median "
        f"{np.median(first_tenth):.3f} over the first tenth of the job, {np.median(last_tenth):.3f} over the last "
        f"tenth; the code before at batch {samples[-1]}: {cost['before'][samples[-1]]['seconds']:.3f}.",
        "",
        "Targets (issue 11):",
        "",
        f"- {'met' if flat and bytes_flat else 'MISSED'}: per-batch read cost flat from batch 2 to batch {batches}: "
        f"{min(requests)}-{max(requests)} state requests per batch, {min(settled):,}-{max(settled):,} bytes from "
        f"batch 10 on (within 10%; {sizes[0]:,} at batch 2, while the crowd's cells fill in); before: "
        f"{cost['before'][samples[0]]['reads'].get('requests', 0)} requests at batch {samples[0]}, "
        f"{cost['before'][samples[-1]]['reads'].get('requests', 0)} at batch {samples[-1]})",
    ]
    all_same = all(row["same_labels"] == row["objects"] for row in same)
    lines += [
        "",
        f"## The storage change leaves the labels alone: batches of {BATCH}, state carried",
        "",
        "| data | objects | same label today and before | largest confidence difference | accuracy today / before "
        "/ one batch | ECE today / before / one batch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in same:
        lines.append(
            f"| {row['data']} | {row['objects']} | {row['same_labels']} | {row['max_confidence_gap']:.4f} | "
            f"{row['now']['accuracy']:.3f} / {row['before']['accuracy']:.3f} / {row['one batch']['accuracy']:.3f} | "
            f"{row['now']['ece']:.3f} / {row['before']['ece']:.3f} / {row['one batch']['ece']:.3f} |")
    lines += [
        "",
        f"- {'met' if all_same else 'MISSED'}: every label the same with the snapshot as with per-batch files "
        "(confidences are published to 4 decimals; sums are rounded to 6 decimals in the snapshot, where the files "
        "were summed unrounded)",
    ]
    for row in same:
        ok = abs(row["now"]["accuracy"] - row["one batch"]["accuracy"]) <= 0.01 and \
            abs(row["now"]["ece"] - row["one batch"]["ece"]) <= 0.02
        lines.append(f"- {'met' if ok else 'MISSED'}: {row['data']}: batches of {BATCH} accuracy "
                     f"{row['now']['accuracy']:.3f} vs one batch {row['one batch']['accuracy']:.3f}, ECE "
                     f"{row['now']['ece']:.3f} vs {row['one batch']['ece']:.3f} (within 0.01 / 0.02; the model's, "
                     "unchanged by the storage: see bench/results/calibration.md)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--previous", default="633dc95", help="git revision of the code before the snapshots")
    parser.add_argument("--batches", type=int, default=500)
    args = parser.parse_args()
    import boto3

    from local_ground_truth.local_s3 import s3_endpoint

    previous = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.previous], check=True,
                              capture_output=True, text=True).stdout.strip()
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    samples = sorted({k for k in (2, 10, 50, 100, 200, 300, 400, args.batches) if 2 <= k <= args.batches})
    # The handlers' processes sign with this key (the environment's): the runner's endpoint answers only keys it
    # was given.
    os.environ.update(AWS_ACCESS_KEY_ID=BENCH_KEY, AWS_SECRET_ACCESS_KEY="local")
    with tempfile.TemporaryDirectory() as folder, s3_endpoint(clients=[BENCH_KEY]) as endpoint:
        trees = {"now": REPO / "lambda_src", "before": lambda_tree(previous, Path(folder))}
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        cost = read_cost(s3, endpoint, trees, args.batches, samples)
        print("\n".join(table(cost, samples)), flush=True)
        same = unchanged(s3, endpoint, trees)
    text = write(cost, same, samples, previous, revision, args.batches)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
