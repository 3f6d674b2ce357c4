"""Benchmark (not a test): real crowds and batches at Ground Truth's limit through the consolidation Lambda.

    .venv/bin/python bench/bench_consolidation_handler.py [--repeat 5] [--large-repeat 2] [--objects 100000]
        [--previous 42dce18] [--sizes 25000x9,50000x9,100000x3,100000x6,100000x9]

Everything runs against a local S3 endpoint (moto's server on 127.0.0.1), each handler in a child
process of its own (``previous_code.run_handler``: a warm Lambda, its S3 client made before the
measured calls), and the generic consolidation package of ``--previous`` (extracted from git) gets
the same payloads in the same run, configured the same way:

1. duck and face (../shared/data/crowd) become Ground Truth consolidation payloads (one annotation
   per worker answer, the form as a JSON string under the welding question's name, the class as a
   label name) and go through the handler configured as the welding stack configures it
   (``WORKFLOW_QUESTIONS`` from the welding definition, its question's labels replaced by the
   crowd's classes), with each method. Accuracy against the gold labels; time is the whole
   invocation, best of ``--repeat``, each run a fresh job; "same outputs": the responses (labels,
   confidences, votes) and every state file and report written (worker memory, quality report) are
   byte for byte those of ``--previous``.
2. ``--objects`` objects x 3 workers, and x 9 (Ground Truth's most workers per object), simulated
   (60 workers of accuracy 0.55-0.95, welding's labels): wall and CPU time and the process's peak
   memory (VmHWM) against the function's memory and timeout (``workflows.model.GENERIC_CONSOLIDATION``),
   beside two floors measured in the same kind of child: the payload read from S3 and parsed by
   ``json.loads`` whole, and read and parsed entry by entry (nothing kept).
3. The peak memory of today's handler against the batch's size (``--sizes``: objects x workers), and
   a least-squares line through it: the largest batch the function's memory covers.

Results go to bench/results/consolidation_handler.md. The algorithm alone, against crowd-kit, is
bench/bench_crowd_consolidation.py.
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

import boto3  # noqa: E402
import numpy as np  # noqa: E402

import workflows  # noqa: E402
from bench_crowd_consolidation import load_crowd  # noqa: E402
from gt_common.questions import QUESTIONS_ENV, questions_to_json  # noqa: E402
from previous_code import lambda_tree, run_handler  # noqa: E402
from workflows.model import GENERIC_CONSOLIDATION  # noqa: E402

RESULTS = REPO / "bench" / "results" / "consolidation_handler.md"
#: The handler before issue 12's compact reading, with the worker model it ships beside (issue 11's
#: small-job change), so outputs must be equal byte for byte. 42dce18 is the same reading with the model before.
BEFORE_ISSUE_12 = "9013338"
WELDING = workflows.definition("welding")
QUESTION = WELDING.questions[0]
LABEL = "crowd"
METHODS = ("dawid-skene", "majority-vote")
PACKAGE = GENERIC_CONSOLIDATION.package
PAYLOAD_NAME = "annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"


def environment(method: str, question) -> dict[str, str]:
    """The function's environment as the stack sets it for ``question``."""
    return {QUESTIONS_ENV: questions_to_json([question]), "CONSOLIDATION_METHOD": method}


def payload_entries(questions, workers, answers):
    by_object: dict[str, list] = {}
    for question, worker, answer in zip(questions, workers, answers):
        by_object.setdefault(question, []).append({
            "workerId": worker,
            "annotationData": {"content": json.dumps({QUESTION.name: {"label": f"class-{answer}"}})}})
    return [{"datasetObjectId": q, "dataObject": {"source-ref": f"s3://input/{q}.jpg"}, "annotations": a}
            for q, a in by_object.items()]


def put_payload(s3, bucket: str, key: str, body: bytes, workers: int) -> dict:
    """The payload stored at ``key``; the event of a job whose output folder is given later (``for_job``)."""
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {"version": "2018-10-06", "labelAttributeName": LABEL, "maxHumanWorkersPerDataObject": workers,
            "payload": {"s3Uri": f"s3://{bucket}/{key}"}}


def for_job(event: dict, bucket: str, job: str) -> dict:
    """``event`` for a fresh job of its own (its state and reports in ``job``'s folder)."""
    return {**event, "outputConfig": f"s3://{bucket}/{job}/annotations"}


def labels_of(response: list) -> dict[str, str]:
    return {item["datasetObjectId"]: item["consolidatedAnnotation"]["content"][LABEL][QUESTION.name]["label"]
            for item in response}


def written(s3, bucket: str, job: str) -> dict[str, bytes]:
    """Every object a job's consolidation wrote (state, worker memory, quality reports), by key within the job."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{job}/"):
        for item in page.get("Contents", []):
            found[item["Key"][len(job) + 1:]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def same_outputs(s3, bucket: str, now: dict, before: dict, now_job: str, before_job: str) -> bool:
    """Whether two runs answered alike (labels, confidences, votes, workers) and wrote the same files. The
    ``evidence`` a value keeps for the job's confidence (``gt_common.job_confidence``) is new since the code
    compared, so it is left out of the comparison."""
    return (_without_evidence(now["response"]) == _without_evidence(before["response"])
            and written(s3, bucket, now_job) == written(s3, bucket, before_job))


def _without_evidence(value):
    from gt_common.job_confidence import EVIDENCE_KEY

    if isinstance(value, dict):
        return {key: _without_evidence(item) for key, item in value.items() if key != EVIDENCE_KEY}
    if isinstance(value, list):
        return [_without_evidence(item) for item in value]
    return value


def crowds(s3, endpoint: str, repeat: int, trees: dict[str, Path]) -> list[dict]:
    """One row per crowd and method: accuracy, time and whether now's outputs are the previous code's."""
    s3.create_bucket(Bucket="crowd")
    rows = []
    for name in ("duck", "face"):
        questions, workers, answers, truth = load_crowd(name)
        classes = sorted(set(answers) | set(truth.values()), key=int)
        question = dataclasses.replace(QUESTION, choices=tuple(f"class-{c}" for c in classes), abstain=None)
        entries = payload_entries(questions, workers, answers)
        event = put_payload(s3, "crowd", f"payloads/{name}.json", json.dumps(entries).encode(),
                            max(len(e["annotations"]) for e in entries))
        for method in METHODS:
            row = {"dataset": name, "method": method, "objects": len(entries), "answers": len(questions)}
            runs = {}
            for code, tree in trees.items():
                jobs = [f"{name}-{method}-{code}-{run}" for run in range(repeat)]
                result = run_handler(tree, PACKAGE, environment(method, question),
                                     [for_job(event, "crowd", job) for job in jobs], endpoint)
                runs[code] = (result["runs"][-1], jobs[-1])
                got = labels_of(result["runs"][-1]["response"])
                row[f"{code}_accuracy"] = sum(got.get(q) == f"class-{t}" for q, t in truth.items()) / len(truth)
                row[f"{code}_seconds"] = min(run["seconds"] for run in result["runs"])
                row[f"{code}_cpu"] = min(run["cpu"] for run in result["runs"])
            row["same"] = same_outputs(s3, "crowd", runs["now"][0], runs["before"][0], runs["now"][1], runs["before"][1])
            rows.append(row)
            print({k: v for k, v in row.items()}, flush=True)
    return rows


def large_payload(objects: int, workers: int) -> tuple[bytes, dict]:
    """``objects`` x ``workers`` simulated answers (the payload, and each object's true label)."""
    rng = random.Random(3)
    categories = list(QUESTION.choices)
    real = [label for label in categories if label != QUESTION.abstain]
    skill = {f"worker-{w:03d}": rng.uniform(0.55, 0.95) for w in range(60)}
    pool = list(skill)
    parts, truth = [], {}
    for number in range(objects):
        true = rng.choice(real)
        truth[str(number)] = true
        annotations = []
        for worker in rng.sample(pool, workers):
            label = true if rng.random() < skill[worker] else rng.choice(categories)
            annotations.append({"workerId": worker, "annotationData": {
                "content": json.dumps({QUESTION.name: {"label": label}})}})
        parts.append(json.dumps({"datasetObjectId": str(number), "dataObject": {"source": f"s3://in/{number}.json"},
                                 "annotations": annotations}))
    return ("[" + ", ".join(parts) + "]").encode(), truth


_FLOOR = """
import json, sys, time
from pathlib import Path
import boto3

def peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

bucket, key, how, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s3 = boto3.client("s3")
decoder, skip = json.JSONDecoder(), __import__("re").compile(r"[ \\t\\n\\r]*").match
before, runs = peak_mb(), []
for _ in range(repeat):
    started, cpu = time.perf_counter(), time.process_time()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if how == "whole":
        entries = json.loads(body)
        count = len(entries)
        del entries
    else:  # entry by entry, nothing kept
        text = body.decode()
        del body
        position, count = skip(text, 1).end(), 0
        while text[position] != "]":
            _, position = decoder.raw_decode(text, position)
            count += 1
            position = skip(text, position).end()
            if text[position] == ",":
                position = skip(text, position + 1).end()
    runs.append({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "entries": count})
    body = text = None
print(json.dumps({"runs": runs, "rss_before_mb": before, "peak_rss_mb": peak_mb()}))
"""


def floor(endpoint: str, bucket: str, key: str, how: str, repeat: int) -> dict:
    """The payload read from S3 and parsed (``how``: ``whole`` or ``entries``), in a child like the handler's."""
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": endpoint}
    out = subprocess.run([sys.executable, "-c", _FLOOR, bucket, key, how, str(repeat)], check=True, env=env,
                         capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout
    result = json.loads(out)
    return {"seconds": min(r["seconds"] for r in result["runs"]), "cpu": min(r["cpu"] for r in result["runs"]),
            "peak_rss_mb": result["peak_rss_mb"], "rss_before_mb": result["rss_before_mb"]}


def large(s3, endpoint: str, trees: dict[str, Path], objects: int, workers: int, repeat: int) -> dict:
    """One batch of ``objects`` x ``workers`` through each code and the floors; figures per code."""
    body, truth = large_payload(objects, workers)
    bucket = "large"
    key = f"payloads/{objects}x{workers}.json"
    event = put_payload(s3, bucket, key, body, workers)
    found = {"payload_mb": len(body) / 1e6, "objects": objects, "workers": workers, "answers": objects * workers}
    del body
    for how in ("whole", "entries"):
        found[f"floor_{how}"] = floor(endpoint, bucket, key, how, repeat)
    last_jobs = {}
    for code, tree in trees.items():
        runs = repeat if code == "now" else max(1, repeat // 2)  # the code before takes far longer
        seconds, cpu, peak = [], [], []
        for run in range(runs):  # a process per run: its peak memory is that run's alone
            job = last_jobs[code] = f"{objects}x{workers}-{code}-{run}"
            result = run_handler(tree, PACKAGE, environment("dawid-skene", QUESTION), [for_job(event, bucket, job)],
                                 endpoint)
            (last,) = result["runs"]
            seconds.append(last["seconds"])
            cpu.append(last["cpu"])
            peak.append(result["peak_rss_mb"])
        labels = labels_of(last["response"])
        report = json.loads(s3.get_object(Bucket=bucket, Key=f"{job}/quality-report/{QUESTION.name}.json")["Body"].read())
        found[code] = {"seconds": min(seconds), "cpu": min(cpu), "peak_rss_mb": max(peak),
                       "rss_before_mb": result["rss_before_mb"], "answered": len(last["response"]),
                       "refused": last.get("refused"),
                       "accuracy": sum(labels.get(k) == v for k, v in truth.items()) / len(truth), "run": last,
                       "fit": report.get("convergence", {}).get("this_batch", {})}
        print(code, objects, workers, {k: v for k, v in found[code].items() if k != "run"}, flush=True)
    if "before" in found:
        found["same"] = same_outputs(s3, bucket, found["now"]["run"], found["before"]["run"], last_jobs["now"],
                                     last_jobs["before"])
    for code in trees:
        del found[code]["run"]
    return found


def memory_line(points: list[dict]) -> tuple[float, float, float]:
    """Least squares ``peak MB = a + b x objects + c x answers`` through the measured batches."""
    design = np.array([[1.0, p["objects"], p["answers"]] for p in points])
    peaks = np.array([p["now"]["peak_rss_mb"] for p in points])
    (a, b, c), *_ = np.linalg.lstsq(design, peaks, rcond=None)
    return float(a), float(b), float(c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--large-repeat", type=int, default=2)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--previous", default=BEFORE_ISSUE_12, help="git revision of the code to compare")
    parser.add_argument("--sizes", default="25000x9,50000x9,100000x3,100000x6,100000x9",
                        help="batches (objects x workers) whose peak memory is measured")
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes.split(",")]
    from moto.server import ThreadedMotoServer
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="large")
    try:
        with tempfile.TemporaryDirectory() as folder:
            trees = {"now": REPO / "lambda_src", "before": lambda_tree(args.previous, Path(folder))}
            rows = crowds(s3, endpoint, args.repeat, trees)
            limit = {workers: large(s3, endpoint, trees, args.objects, workers, args.large_repeat)
                     for workers in (3, 9)}
            grid = []
            for objects, workers in sizes:
                known = limit.get(workers) if objects == args.objects else None
                grid.append(known or large(s3, endpoint, {"now": trees["now"]}, objects, workers, 1))
    finally:
        server.stop()
    memory, timeout = GENERIC_CONSOLIDATION.memory_mb, GENERIC_CONSOLIDATION.timeout_seconds
    a, b, c = memory_line(grid)
    covered = (memory - a - b * args.objects) / c  # answers at --objects objects within the function's memory
    write(args, rows, limit, grid, (a, b, c), covered, memory, timeout)


def write(args, rows, limit, grid, line, covered, memory, timeout) -> None:
    a, b, c = line
    three, nine = limit[3], limit[9]

    def times(found: dict) -> str:
        return f"{found['seconds']:.2f} s wall, {found['cpu']:.2f} s CPU"

    def fit(found: dict) -> str:
        this = found["fit"]
        return (f"{'converged' if this.get('converged') else 'did not converge'} in {this.get('iterations')} "
                f"iterations, temperature {this.get('temperature')}")

    def large_rows(found: dict) -> list[str]:
        now, before = found["now"], found["before"]
        whole, entries = found["floor_whole"], found["floor_entries"]
        return [
            f"| payload | {found['payload_mb']:.1f} MB, {found['answers']:,} answers | same | | | |",
            f"| time of the invocation (best of the runs, each in a process of its own) | **{times(now)}** | {times(before)} | {times(whole)} "
            f"| {times(entries)} | timeout {timeout} s |",
            f"| peak memory of the process (VmHWM; before the call {now['rss_before_mb']:.0f} MB) | "
            f"**{now['peak_rss_mb']:.0f} MB** | {before['peak_rss_mb']:.0f} MB | {whole['peak_rss_mb']:.0f} MB | "
            f"{entries['peak_rss_mb']:.0f} MB | memory {memory} MB |",
            f"| objects answered | {now['answered']:,} | {before['answered']:,} | | | |",
            f"| the worker model's fit (quality report's `convergence`) | {fit(now)} | {fit(before)} | | | |",
            f"| accuracy against the simulated truth | {now['accuracy']:.4f} | {before['accuracy']:.4f} | | | |",
            f"| same outputs as before (response: labels, confidences, votes; worker memory; quality report) | "
            f"{'yes' if found['same'] else '**no**'} | | | | |",
        ]

    header = ("| measure | now | before (`{0}`) | floor: S3 read + `json.loads` whole | floor: S3 read + parsed entry "
              "by entry | the stack's function |").format(args.previous)
    lines = [
        "# Consolidation Lambda, end to end: real crowds and batches at Ground Truth's limit",
        "",
        f"Written by `bench/bench_consolidation_handler.py --repeat {args.repeat} --large-repeat {args.large_repeat} "
        f"--objects {args.objects} --previous {args.previous} --sizes {args.sizes}` on "
        f"{datetime.date.today().isoformat()} ({os.cpu_count()} cores shared with other work, Python "
        f"{sys.version.split()[0]}; S3 is moto's server on 127.0.0.1, in the benchmark's process; each handler "
        "and each floor in a child process of its own). \"Before\": the generic consolidation package at "
        f"`{args.previous}` (before issue 12's compact reading), on the same payloads in the same run.",
        "",
        "## Real crowds through the generic consolidation handler, configured as the welding stack does",
        "",
        "Whole invocations (payload read and parsed, every answer checked, model fitted, worker memory and",
        "quality report written to S3), best of the repeats. \"Same outputs\": the response (labels, confidences,",
        "votes) and every file the invocation wrote (worker memory, quality statistics and report) are byte",
        "for byte the previous code's. The algorithm alone against crowd-kit: bench/results/crowd_consolidation.md.",
        "",
        "| dataset | objects / answers | method | accuracy vs gold | before | seconds per invocation (wall / CPU) | "
        "before | same outputs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {r['dataset']} | {r['objects']} / {r['answers']} | {r['method']} | {r['now_accuracy']:.4f} | "
          f"{r['before_accuracy']:.4f} | {r['now_seconds']:.3f} / {r['now_cpu']:.3f} | {r['before_seconds']:.3f} / "
          f"{r['before_cpu']:.3f} | {'yes' if r['same'] else '**no**'} |" for r in rows],
        "",
        f"## {args.objects:,} objects x 3 workers in one batch (Dawid-Skene)",
        "",
        "Wall time includes the S3 reads and writes to moto's server, which runs in the benchmark's own process",
        "on the same 2 cores; CPU time is the handler's process alone. The floors read the same payload from",
        "the same endpoint and parse it, nothing else.",
        "",
        header,
        "| --- | --- | --- | --- | --- | --- |",
        *large_rows(three),
        "",
        f"## {args.objects:,} objects x 9 workers in one batch (Ground Truth's limit; Dawid-Skene)",
        "",
        header,
        "| --- | --- | --- | --- | --- | --- |",
        *large_rows(nine),
        "",
        "## Peak memory against the batch's size (today's handler)",
        "",
        "| objects x workers | answers | payload | peak memory (VmHWM) | wall | CPU |",
        "| --- | --- | --- | --- | --- | --- |",
        *[f"| {p['objects']:,} x {p['workers']} | {p['answers']:,} | {p['payload_mb']:.1f} MB | "
          f"{p['now']['peak_rss_mb']:.0f} MB | {p['now']['seconds']:.2f} s | {p['now']['cpu']:.2f} s |" for p in grid],
        "",
        f"Least squares through these: peak ≈ {a:.0f} MB + {b * 1e3:.2f} MB per 1,000 objects + {c * 1e3:.3f} MB "
        f"per 1,000 answers (answers of ~{grid[-1]['payload_mb'] * 1e6 / grid[-1]['answers']:.0f} payload bytes "
        f"each, a classification's). Ground Truth's largest batch, {args.objects:,} objects x 9 workers, peaks at "
        f"{nine['now']['peak_rss_mb']:.0f} MB, {100 * nine['now']['peak_rss_mb'] / memory:.0f}% of the function's "
        f"{memory} MB; the line reaches {memory} MB only at about {covered:,.0f} answers in a batch of "
        f"{args.objects:,} objects ({covered / args.objects:.0f} per object), an extrapolation far past anything "
        "Ground Truth sends.",
        "",
        *[f"Lambda could not return the labels of {p['objects']:,} x {p['workers']} (its responses are at most 6 MB, "
          f"`gt_common.response_size`): {p['now']['refused']}." for p in grid if p["now"].get("refused")],
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
