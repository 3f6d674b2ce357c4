"""Benchmark (not a test): NER span clustering at 10,000 spans per worker, against the code before issue 8.

    .venv/bin/python bench/bench_ner_clustering.py [--baseline 7a53c2f] [--repeat 3] [--scaling 50000]

One object whose text holds 10,000 true sections; each simulated worker tags them as the
template lets a worker do it (no two of their spans overlap): a section missed with probability
0.1, mislabelled with probability 0.1, a boundary moved by up to 3 code points with probability
0.3. Two sizes: 1 worker x 10,000 spans and 3 workers x 10,000 spans. For each, in the same run:

- **clustering**: ``span_clustering.consolidate_spans`` of today's code against the baseline's
  (its ``span_clustering.py`` loaded from git into a temporary module), and whether both give the
  same entities (labels, boundaries, confidences);
- **whole handler**: one consolidation Lambda invocation (payload and task record on a local S3
  endpoint, moto's server on 127.0.0.1; default method, so spans are clustered twice with learned
  worker weights, and state and quality report are written), today's ``lambda_src`` against the
  baseline's (``git archive`` into a temporary folder), each in a fresh child process, and whether
  both responses are the same.

``--scaling N`` adds today's code alone at 3 x N spans (shorter spans, so the text stays within
``MAX_TEXT_BYTES``). Results go to bench/results/ner_clustering.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import io
import json
import logging
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src")]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

from gt_common.limits import MAX_TEXT_BYTES  # noqa: E402
from ner_consolidation import span_clustering  # noqa: E402
from ner_consolidation.answers import Span  # noqa: E402
from ner_consolidation.sections import SECTION_LABELS  # noqa: E402

RESULTS = REPO / "bench" / "results" / "ner_clustering.md"
LAMBDA_TIMEOUT_S = 300  # stacks/ner_stack.py
LABEL = "abstract-sections"
BUCKET = "bench-ner"


def simulated_answers(spans: int, workers: int, seed: int = 8) -> tuple[int, list[list[dict]]]:
    """(text length, each worker's entities): ``spans`` true sections, workers as described above."""
    rng = random.Random(seed)
    mean = max(4, min(50, int(0.9 * MAX_TEXT_BYTES / spans) - 3))
    truth, position = [], 0
    for _ in range(spans):
        length = rng.randint(mean // 2, mean + mean // 2)
        truth.append((rng.choice(SECTION_LABELS), position, position + length))
        position += length + rng.randint(1, 3)
    text_length = position
    answers = []
    for _ in range(workers):
        entities, previous_end = [], 0
        for index, (label, start, end) in enumerate(truth):
            if rng.random() < 0.1:
                continue
            if rng.random() < 0.1:
                label = rng.choice([other for other in SECTION_LABELS if other != label])
            next_start = truth[index + 1][1] if index + 1 < len(truth) else text_length
            if rng.random() < 0.3:
                start = max(previous_end, start + rng.randint(-3, 3))
            if rng.random() < 0.3:
                end = min(next_start, end + rng.randint(-3, 3))
            if end > start:
                entities.append({"label": label, "startOffset": start, "endOffset": end})
                previous_end = end
        answers.append(entities)
    return text_length, answers


def as_spans(answers: list[list[dict]]) -> tuple[list[Span], list[str]]:
    workers = [f"w{i}" for i in range(len(answers))]
    return ([Span(w, e["label"], e["startOffset"], e["endOffset"]) for w, entities in zip(workers, answers)
             for e in entities], workers)


def baseline_tree(revision: str, into: Path) -> Path:
    """The baseline's lambda_src, extracted from git into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "lambda_src"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "lambda_src"


def baseline_clustering(revision: str):
    """The baseline's span_clustering as a temporary module of today's package (same Span type)."""
    path = f"{revision}:lambda_src/ner_consolidation/span_clustering.py"
    source = subprocess.run(["git", "-C", str(REPO), "show", path], check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader(f"ner_consolidation._span_clustering_{revision}", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "ner_consolidation"
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:span_clustering.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def as_tuples(entities) -> list[tuple]:
    """Entities of either version, comparable: (label, start, end, confidence)."""
    return [(e.label, e.start, e.end, e.confidence) for e in entities]


def best_time(function, repeat: int) -> tuple[tuple[float, float], object]:
    """((wall seconds, CPU seconds) of the fastest of ``repeat`` runs, its result)."""
    best, result = (float("inf"), float("inf")), None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = function()
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best, result


def put_job(s3, job: str, text_length: int, answers: list[list[dict]]) -> dict:
    """The payload and task record of a one-object batch; the Lambda event naming them."""
    from gt_common.task_record import write_record

    source = f"s3://{BUCKET}/{job}/pages/0.jpg"
    write_record(s3, {"source-ref": source}, {"textLength": text_length},
                 environ={"TASK_RECORDS_URI": f"s3://{BUCKET}/task-records/"})
    entry = {"datasetObjectId": "0", "dataObject": {"s3Uri": source}, "annotations": [
        {"workerId": f"w{i}", "annotationData": {"content": json.dumps({
            "abstract": json.dumps({"entities": entities}), "isGoodAbstract": json.dumps({"label": "Yes"})})}}
        for i, entities in enumerate(answers)]}
    key = f"{job}/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps([entry]).encode())
    return {"version": "2018-10-06", "labelAttributeName": LABEL, "outputConfig": f"s3://{BUCKET}/{job}/annotations",
            "payload": {"s3Uri": f"s3://{BUCKET}/{key}"}}


# One invocation in a fresh process whose only Lambda code is argv[1]'s (this file imports today's).
HANDLER_CHILD = """
import json, logging, sys, time
from pathlib import Path
lambda_src, event_json, out = sys.argv[1:4]
sys.path.insert(0, lambda_src)
logging.disable(logging.WARNING)
from ner_consolidation import handler
assert handler.__file__.startswith(lambda_src), handler.__file__
handler.s3_client()  # the client exists before the measured call, as in a warm Lambda
started, cpu = time.perf_counter(), time.process_time()
response = handler.lambda_handler(json.loads(event_json), None)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
Path(out).write_text(json.dumps({"seconds": seconds, "cpu": cpu, "response": response}))
"""


def run_handler(lambda_src: Path, endpoint: str, event: dict) -> tuple[tuple[float, float], list]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "AWS_ENDPOINT_URL_S3": endpoint, "TASK_RECORDS_URI": f"s3://{BUCKET}/task-records/"}
        env.pop("CONSOLIDATION_METHOD", None)  # the default: worker weights, two clustering passes
        env.pop("PYTHONPATH", None)
        subprocess.run([sys.executable, "-c", HANDLER_CHILD, str(lambda_src), json.dumps(event), out.name],
                       check=True, env=env, cwd=tempfile.gettempdir())
        result = json.loads(Path(out.name).read_text())
    return (result["seconds"], result["cpu"]), result["response"]


def entities_of(response: list) -> list:
    return [item["consolidatedAnnotation"]["content"][LABEL]["entities"] for item in response]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="7a53c2f", help="git revision of the code before issue 8")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of today's clustering")
    parser.add_argument("--scaling", type=int, default=50_000, help="spans per worker of today's code alone (0: skip)")
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    old_clustering = baseline_clustering(args.baseline)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            old_tree = baseline_tree(args.baseline, Path(folder))
            for workers, spans in ((1, 10_000), (3, 10_000)):
                text_length, answers = simulated_answers(spans, workers)
                span_list, worker_ids = as_spans(answers)
                new_s, new_entities = best_time(lambda: span_clustering.consolidate_spans(span_list, worker_ids),
                                                args.repeat)
                old_s, old_entities = best_time(lambda: old_clustering.consolidate_spans(span_list, worker_ids), 1)
                size = f"{workers} x {spans:,}"
                rows.append((size, "clustering (`consolidate_spans`)", old_s, new_s,
                             as_tuples(new_entities) == as_tuples(old_entities),
                             len(new_entities)))
                print(rows[-1], flush=True)
                new_h, new_response = run_handler(REPO / "lambda_src", endpoint,
                                                  put_job(s3, f"new-{workers}", text_length, answers))
                old_h, old_response = run_handler(old_tree, endpoint,
                                                  put_job(s3, f"old-{workers}", text_length, answers))
                rows.append((size, "whole handler invocation", old_h, new_h,
                             entities_of(new_response) == entities_of(old_response), len(entities_of(new_response)[0])))
                print(rows[-1], flush=True)
            if args.scaling:
                text_length, answers = simulated_answers(args.scaling, 3)
                span_list, worker_ids = as_spans(answers)
                new_s, new_entities = best_time(lambda: span_clustering.consolidate_spans(span_list, worker_ids),
                                                args.repeat)
                size = f"3 x {args.scaling:,}"
                rows.append((size, "clustering (`consolidate_spans`)", None, new_s, None, len(new_entities)))
                new_h, new_response = run_handler(REPO / "lambda_src", endpoint,
                                                  put_job(s3, "scaling", text_length, answers))
                rows.append((size, "whole handler invocation", None, new_h, None, len(entities_of(new_response)[0])))
                print(rows[-2:], flush=True)
    finally:
        server.stop()

    def seconds(value):
        return "not run" if value is None else f"{value[0]:.2f} s ({value[1]:.2f} s CPU)"

    def speed_up(old, new):
        return "" if old is None else f"{old[1] / new[1]:,.0f}x"

    def agreed(same):
        return "" if same is None else ("yes" if same else "NO")

    table = [f"| {size} | {what} | {seconds(old)} | **{seconds(new)}** | {speed_up(old, new)} | {agreed(same)} | "
             f"{entities:,} |" for size, what, old, new, same, entities in rows]
    text = "\n".join([
        "# NER span clustering: 10,000 spans per worker, before and after issue 8",
        "",
        f"Written by `bench/bench_ner_clustering.py --baseline {args.baseline} --repeat {args.repeat} "
        f"--scaling {args.scaling}` on {datetime.date.today().isoformat()} ({os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}).",
        "",
        "One object; each simulated worker tags 10,000 true sections as the template allows (no two of a",
        "worker's spans overlap; 10% missed, 10% mislabelled, boundaries moved by up to 3 code points 30% of",
        f"the time). Baseline: the code at `{args.baseline}` (clustering compared every span with every",
        "cluster; worker scoring compared every span with every entity), in the same run. Clustering:",
        f"best of {args.repeat} runs today, one run of the baseline. Whole handler: one invocation in a fresh",
        "process (payload and task record on moto's S3 server on 127.0.0.1; default method: clustered twice",
        "with learned worker weights, state and quality report written); the function's timeout is "
        f"{LAMBDA_TIMEOUT_S} s.",
        "Times are wall clock with the process's CPU time in brackets (the machine is shared, so wall",
        "times vary with its load; the speed-up is of CPU time). \"Same result\": identical entities (labels,",
        "boundaries, confidences) from both. The handler's entity count differs from plain clustering's",
        "because it weighs workers by their learned reliability. The last size runs today's code alone, with",
        "shorter spans so that the text stays within MAX_TEXT_BYTES.",
        "",
        f"| spans per object | what | before ({args.baseline}) | now | speed-up (CPU) | same result | entities |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *table,
        "",
    ])
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
