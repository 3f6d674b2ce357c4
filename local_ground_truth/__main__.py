"""`python -m local_ground_truth --workflow welding|ner ...`: a whole labeling job on this machine.

Synthesizes the app (or reads an already synthesized one), reads the workflow's stack, starts an
S3 endpoint on 127.0.0.1 that keeps the job's bucket on disk (or uses --endpoint), replays what the
stack deploys, runs the stack's pre-labeling Lambda for every manifest line, collects answers,
runs the consolidation Lambda, and writes the output manifest where Ground Truth would. Workers
answer in a browser at http://127.0.0.1:PORT, or, with --simulate-workers, simulated workers answer
from the sample data's truth (headless). Every answer is on disk before it is acknowledged; a
stopped or killed run resumes exactly where it was.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from local_ground_truth import headless, local_s3
from local_ground_truth.job import LocalJob
from local_ground_truth.quality import save_quality_reports
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import REPO_ROOT, STACKS, read_workflow, synthesize

STORE_FOLDER = "s3"  # <state dir>/s3/<bucket>/<key>: the job's buckets on disk


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_ground_truth", description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", choices=sorted(STACKS), required=True)
    parser.add_argument("--env", default="dev", help="cdk.json environment to synthesize (default: dev)")
    parser.add_argument("--cloud-assembly", type=Path, metavar="DIR",
                        help="an app already synthesized (e.g. by `cdk synth`) instead of synthesizing it again")
    parser.add_argument("--endpoint", help="an S3-compatible endpoint to use instead of the embedded one")
    parser.add_argument("--job-name", help="default: local-<workflow>")
    parser.add_argument("--state-dir", type=Path, help="the job's folder (default: .local-gt/<job>)")
    parser.add_argument("--simulate-workers", type=int, metavar="N",
                        help="headless: N simulated workers answer from the sample data's truth (default: serve the UI)")
    parser.add_argument("--port", type=int, default=8080, help="worker UI port on 127.0.0.1 (default 8080)")
    parser.add_argument("--accuracy", type=float, default=0.8, help="simulated workers' accuracy (default 0.8)")
    parser.add_argument("--truth", type=Path, help="default: sample_data/<workflow>/truth.json")
    parser.add_argument("--processes", type=int, help="pre-labeling processes (default: one per core)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 <= args.accuracy <= 1:
        parser.error("--accuracy must be between 0 and 1")
    if args.simulate_workers is not None and args.simulate_workers < 1:
        parser.error("--simulate-workers must be at least 1")
    args.job_name = args.job_name or f"local-{args.workflow}"
    args.state_dir = args.state_dir or REPO_ROOT / ".local-gt" / args.job_name
    return args


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def prepared_job(args: argparse.Namespace) -> Iterator[tuple[LocalJob, Path]]:
    """Synthesize, start S3 (resuming what is on disk), deploy and pre-label; the job, and its folder."""
    with ExitStack() as stack:
        assembly = args.cloud_assembly
        if assembly is None:
            _say(f"synthesizing the app ({args.env}) ...")
            assembly = synthesize(Path(stack.enter_context(tempfile.TemporaryDirectory())), args.env)
        spec = read_workflow(assembly, f"{STACKS[args.workflow]}-{args.env}")
        store = None if args.endpoint else args.state_dir / STORE_FOLDER
        endpoint = stack.enter_context(local_s3.s3_endpoint(args.endpoint, store))
        s3 = local_s3.client(endpoint)
        buckets = local_s3.bucket_names(spec)
        deployed = local_s3.deploy(spec, s3, buckets)
        job = LocalJob(spec, s3, endpoint, buckets[spec.task["InputBucket"]], args.job_name, store=store)
        stack.callback(job.close)
        progress = job.progress()
        kept = f"kept in {store}" if store else f"kept by {endpoint}"
        _say(f"S3 endpoint {endpoint}: {deployed} files of the stack deployed; the job's bucket is {kept} "
             f"({progress['answers']} answers and {progress['consolidated']} consolidated objects from earlier runs)")
        job.pre_report = job.pre_label(processes=args.processes)
        for object_id, error in sorted(job.pre_report.failed.items(), key=lambda item: int(item[0])):
            _say(f"pre-labeling failed for object {object_id}: {error}")
        yield job, args.state_dir


def _output_location(job: LocalJob) -> str:
    path = job.local_path(job.output_manifest_key)
    return str(path) if path else job.uri(job.output_manifest_key)


def run_headless(args: argparse.Namespace) -> dict:
    truth = headless.load_truth(args.truth or REPO_ROOT / "sample_data" / args.workflow / "truth.json")
    with prepared_job(args) as (job, state_dir):
        headless.simulate(job, truth, args.simulate_workers, args.accuracy, seed=args.seed)
        report = job.consolidate()
        for object_id, error in sorted(report.failed.items(), key=lambda item: int(item[0])):
            _say(f"consolidation failed for object {object_id}: {error}")
        summary = headless.summarize(job, truth, state_dir / f"{job.job_name}-summary.png")
        summary["quality_reports"] = report_quality(job, state_dir)
        summary.update(output_manifest=_output_location(job), pre_labeling_failures=len(job.pre_report.failed),
                       consolidation_failures=len(report.failed))
    return summary


def report_quality(job: LocalJob, state_dir: Path) -> dict:
    """Print the consolidation Lambda's quality reports and save them in the job's folder."""
    saved = save_quality_reports(job, state_dir, prefix=f"{job.job_name}-")
    for question, files in saved.items():
        _say(f"\n{files.pop('text')}\n(saved to {files['png']} and {files['json']})")
    return saved


def run_browser(args: argparse.Namespace) -> None:
    with prepared_job(args) as (job, state_dir):
        server = WorkerServer(WorkerSite(job), args.port)
        _say(f"\nWorkers: open {server.url}/ and sign in with a name ({job.spec.workers_per_object} worker(s) per "
             f"object, {len(job.object_ids())} objects). Every answer is written to {state_dir} before the "
             f"worker's page is told it was saved: Ctrl-C or a kill loses nothing, and running the same command "
             f"again resumes.\nOutput manifest: {_output_location(job)}")
        try:
            server.serve_forever()  # until Ctrl-C or SIGTERM: the normal way to stop serving
        finally:
            server.stop()
            report_quality(job, state_dir)
            if job.is_complete():
                _say(f"Job complete: every object is consolidated. Output manifest: {_output_location(job)}")
            else:
                progress = job.progress()
                _say(f"Stopped with {progress['consolidated']} of {progress['objects']} objects consolidated; every "
                     "answer so far is saved. Run the same command again to resume.")


def _stop_on_terminate(*_signal_args) -> None:
    raise KeyboardInterrupt  # `kill` stops the runner as Ctrl-C does (nothing is lost either way)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _stop_on_terminate)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("local_ground_truth").setLevel(logging.INFO)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" notes under a burst
    try:
        if args.simulate_workers is None:
            run_browser(args)
            return 0
        summary = run_headless(args)
    except KeyboardInterrupt:
        _say("stopped; every answer so far is saved. Run the same command again to resume.")
        return 130
    print(json.dumps(summary, indent=2))
    return 0 if not summary["pre_labeling_failures"] and not summary["consolidation_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
