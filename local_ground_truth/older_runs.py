"""Jobs that older versions of the runner started, resumed by this one: the answers a runner kept at the top of the
job's folder (``import_mirrored_answers``), and who answered a job whose settings did not record it
(``infer_who_answered``)."""
from __future__ import annotations

import argparse

from gt_common.output_layout import WORKER_RESPONSES, worker_response_answers
from local_ground_truth import headless
from local_ground_truth.job import job_root
from local_ground_truth.job_settings import ANSWERS, BROWSER, SIMULATED, record_inferred, recorded
from local_ground_truth.stack_reader import WorkflowSpec
from local_ground_truth.terminal import say
from local_ground_truth.wording import counted


def import_mirrored_answers(args: argparse.Namespace, spec: WorkflowSpec, s3) -> int:
    """Answers a runner from before the job's bucket was kept in ``<state dir>/s3`` left in the job's folder,
    written into the job's bucket, where this runner reads a job's answers; the number imported.

    Such a runner (up to ec1e8c1) copied the job's files to the top of its ``--state-dir`` when it stopped
    (``annotations/worker-response/iteration-1/<object>/<file>.json`` and the rest) and back when it started. This one
    never looked there: the same command started the job afresh beside them, and workers were asked again for every
    answer they had given. Only the answers are taken, each file as it is and none twice (a file the bucket already
    holds is left); the objects they complete are consolidated again from them, since that runner's worker model and
    batches are of another format. Answers of simulated workers join only a simulated run, and others only a run of
    workers in a browser; otherwise nothing is taken and the run says so. The folder itself is left as it was."""
    mirror = args.state_dir / WORKER_RESPONSES
    if not mirror.is_dir():
        return 0
    prefix = job_root(spec, args.job_name) + WORKER_RESPONSES
    bucket = spec.task.output_bucket
    stored = {item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
              for item in page.get("Contents", [])}
    found: list[tuple[str, bytes]] = []
    workers: set[str] = set()
    for path in sorted(mirror.glob("*/*.json")):
        key = prefix + path.relative_to(mirror).as_posix()
        if key in stored or not path.is_file():
            continue
        body = path.read_bytes()
        try:
            workers.update(answer["workerId"] for answer in worker_response_answers(body))
        except ValueError as error:
            say(f"left out {path}: it {str(error)[:200]}")
            continue
        found.append((key, body))
    if not found:
        return 0
    simulated = all(headless.SIMULATED_WORKER.fullmatch(worker) for worker in workers)
    if simulated != (args.simulate_workers is not None):
        kind = "simulated workers" if simulated else "workers in a browser"
        say(f"{args.state_dir} holds {counted(len(found), 'answer file')} of {kind}, kept there by an earlier version "
             f"of this runner ({mirror}); this run is of {'simulated workers' if not simulated else 'workers in a browser'} "
             f"and leaves them as they are: run {'with' if simulated else 'without'} --simulate-workers to resume "
             "them, or give this job a --state-dir of its own.")
        return 0
    for key, body in found:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    say(f"imported {counted(len(found), 'answer file')} that an earlier version of this runner kept in {mirror} "
         "(the job's folder before its bucket was kept in s3/): the objects they complete are consolidated again from "
         "them in this run; that folder is left as it was")
    return len(found)


def infer_who_answered(args: argparse.Namespace, spec: WorkflowSpec, s3) -> None:
    """For a job recorded before its settings said who answers (``job_settings.LATER_SETTINGS``), record it from the
    workers who answered it, so that simulated answers never join real workers' job across an upgrade either.

    A runner before 4fd6cd6 ran a headless job under the browser job's own name (``local-<workflow>``, in
    ``.local-gt/local-<workflow>``), and one before 7b868e0 recorded no one: this runner resumed such a job, every answer
    of simulated workers, as real workers' job (a welding job of 54 simulated answers said "job complete" at once,
    nothing left for a worker). Every answer by a simulated worker's name (``simulated-<n>``): simulated workers; any
    other name: workers in a browser; no answer yet: nothing to keep apart, nothing recorded."""
    settings = recorded(args.state_dir, args.job_name)
    if settings is None or ANSWERS in settings:
        return
    prefix = job_root(spec, args.job_name) + WORKER_RESPONSES
    bucket, seen = spec.task.output_bucket, False
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            try:
                answers = worker_response_answers(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            except ValueError:
                continue  # left out when the job is read, as ever
            if any(not headless.SIMULATED_WORKER.fullmatch(answer["workerId"]) for answer in answers):
                record_inferred(args.state_dir, args.job_name, ANSWERS, BROWSER, "a worker's name that is not simulated")
                return
            seen = True
    if seen:
        record_inferred(args.state_dir, args.job_name, ANSWERS, SIMULATED, "every answer by a simulated worker")
