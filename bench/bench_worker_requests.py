"""Benchmark (not a test): what a worker's requests cost the local runner on a 100,000-object job.

    .venv/bin/python bench/bench_worker_requests.py [--objects 100000] [--cycles 20] [--late 99000]
                                                    [--before 7e22ca0] [--cloud-assembly DIR]

A welding job of ``--objects`` objects for workers (Ground Truth's limit per job), 3 workers per object,
300 of them (a sixth on a small job) already answered
by three other workers. One worker then works as the browser does, through
the runner's own web application (Flask's test client: every route, template and check, no socket):
her queue page, then ``--cycles`` times "next task" (leases one, redirects), the task page, and the
submission (the answer on disk; its reply names her next task); then the requester's page's live part (which
the page fetches every 2 s) 6 times. Measured: CPU per request, median over
the cycles (the first cycle apart: it builds her order). Pre-labeling is not what is measured: the
objects' pre-labeling responses are one real response (the stack's Lambda on the first sample object)
kept in the job for every object directly (``LocalJob._keep_task_input``, as the job does when it reads
them back); consolidation is off.

Late in the job (``--late``, a second run of each tree): that many objects answered by the three others as
well. Those answers are put in the job's memory directly, as it holds them after reading them back
(``LocalJob._answers``, and the bookkeeping this tree keeps beside it, if any): writing 297,000 answer
files through the endpoint would take most of an hour and is not what is measured.

Each tree (this one, and ``--before``, extracted from git) runs in a child process with only its own code
on the import path, against its own endpoint keeping the bucket on disk, in the same invocation. The
floor, measured beside them in the now tree: the same requests on a job of 18 objects.
Results go to bench/results/worker_requests.md.
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
from bench_local_job import extract  # noqa: E402

BEFORE = "7e22ca0"  # main before a worker's requests read only the objects they reach
HOST = "bench.local"
ANSWER = {"WeldingClassification": {"label": "Good Weld"}}


def run_child(tree: Path, assembly: Path, objects: int, cycles: int, late: int, out: Path) -> None:
    with tree_runs.welding_job_endpoint(tree, assembly, "bench-worker-requests-") as (spec, store, endpoint, s3):
        from local_ground_truth.job import LocalJob
        from local_ground_truth.server import WorkerSite, make_app

        sample_job = LocalJob(spec, s3, endpoint, "bench-sample", store=store)  # the stack's sample data
        sample_job.pre_label(progress=False)
        sample = {"taskInput": sample_job.task_input("0"), "isHumanAnnotationRequired": "true"}
        sample_job.close()
        tree_runs.put_large_manifest(spec, s3, objects)
        job = LocalJob(spec, s3, endpoint, "bench-requests", store=store)
        for number in range(objects):
            job._keep_task_input(str(number), sample)
        for number in range(min(300, objects // 6)):
            for worker in ("bo", "cy", "di"):
                job.record_answer(str(number), worker, ANSWER)
        for number in range(min(300, objects // 6), late):  # late in the job: held as a resumed job holds them
            for worker in ("bo", "cy", "di"):
                job._answers.setdefault(str(number), {})[worker] = {
                    "workerId": worker, "answerContent": ANSWER, "submissionTime": "2026-01-01T00:00:00.000Z",
                    "key": f"{job.answers_prefix}{number}/{worker}.json"}
                if hasattr(job, "_count_answer"):
                    job._count_answer(str(number), worker)
        site = WorkerSite(job, consolidate_in_background=False)
        client = make_app(site, {HOST}).test_client()
        headers = {"Host": HOST}
        costs: dict[str, list[float]] = {"queue page": [], "next task": [], "task page": [], "submission": [],
                                         "requester's live part": []}

        def timed(kind, call):
            started = time.process_time()
            response = call()
            costs[kind].append(time.process_time() - started)
            assert response.status_code in (200, 303), (kind, response.status_code, response.get_data()[:300])
            return response

        timed("queue page", lambda: client.get("/worker/ana", headers=headers))
        for _ in range(cycles):
            location = timed("next task", lambda: client.get("/worker/ana/next", headers=headers)).headers["Location"]
            path = location.split(HOST, 1)[-1]
            assert "/task/" in path, location
            timed("task page", lambda: client.get(path, headers=headers))
            timed("submission", lambda: client.post(f"{path}/submit", data=json.dumps(ANSWER), headers={
                **headers, "Origin": f"http://{HOST}", "Content-Type": "application/json"}))
        for _ in range(6):  # the requester's page fetches it every POLL_SECONDS while it is open
            timed("requester's live part", lambda: client.get("/requester/live", headers=headers))
        answered = len(job.answered_by("ana"))
        job.close()
    out.write_text(json.dumps({"costs": costs, "answered": answered}))


def in_child(tree: Path, assembly: Path, objects: int, cycles: int, late: int = 0) -> dict:
    return tree_runs.in_child(__file__, tree, [assembly, objects, cycles, late])


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.1f}"


def report(args, results: dict[str, dict]) -> str:
    lines = ["# A worker's requests on a 100,000-object local job", "", "Written by `bench/bench_worker_requests.py`:",
             "", f"    .venv/bin/python bench/bench_worker_requests.py --objects {args.objects} --cycles {args.cycles} "
             f"--late {args.late}", "",
             f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at "
             f"the end. CPU milliseconds of the runner per request (median over {args.cycles - 1} cycles after the "
             "first; the queue page once; the requester's live part over 5 fetches after the first), each tree in a "
             "child process of its own, same run.", "",
             f"| request | before (`{args.before}`), {args.objects:,} objects | now | floor (now, 18 objects) | "
             f"late ({args.late:,} answered by others): before | late: now | first cycle before / now |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    names = ("before", "now", "floor", "late before", "late now")
    for kind in ("queue page", "next task", "task page", "submission", "requester's live part"):
        row = [ms(results[name]["costs"][kind][1:] or results[name]["costs"][kind]) for name in names]
        first = " / ".join(f"{results[name]['costs'][kind][0] * 1000:,.1f}" for name in ("before", "now"))
        lines.append(f"| {kind} | {' | '.join(row)} | {first} |")
    lines += ["", "Tasks answered by the worker: " + ", ".join(f"{name} {results[name]['answered']}"
                                                          for name in names) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--late", type=int, default=99_000, help="objects answered by others, late in the job")
    tree_runs.add_tree_arguments(parser, BEFORE, "worker_requests.md", child_values=6)
    args = parser.parse_args()
    if args.child:
        tree, assembly, objects, cycles, late, out = args.child
        run_child(Path(tree), Path(assembly), int(objects), int(cycles), int(late), Path(out))
        return
    with tempfile.TemporaryDirectory() as folder:
        assembly = tree_runs.assembly(args.cloud_assembly, Path(folder))
        before_tree = extract(args.before, Path(folder) / "before")
        results = {"before": in_child(before_tree, assembly, args.objects, args.cycles),
                   "now": in_child(REPO, assembly, args.objects, args.cycles),
                   "floor": in_child(REPO, assembly, 18, min(args.cycles, 12)),
                   "late before": in_child(before_tree, assembly, args.objects, args.cycles, args.late),
                   "late now": in_child(REPO, assembly, args.objects, args.cycles, args.late)}
    text = report(args, results)
    print(text)
    tree_runs.write_keeping_notes(args.out, text)


if __name__ == "__main__":
    main()
