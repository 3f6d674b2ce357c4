"""`python -m local_ground_truth --workflow welding|ner ...`: a whole labeling job on this machine.

Synthesizes the app, reads the workflow's stack, starts an S3 endpoint on 127.0.0.1 (or uses
--endpoint), uploads what the stack deploys, runs the stack's pre-labeling Lambda for every
manifest line, collects answers, runs the consolidation Lambda, and writes the output manifest
where Ground Truth would. Workers answer in a browser at http://127.0.0.1:PORT, or, with
--simulate-workers, simulated workers answer from the sample data's truth (headless). State is
mirrored under --state-dir so a stopped run resumes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from local_ground_truth import headless, local_s3, state
from local_ground_truth.quality import save_quality_reports
from local_ground_truth.job import LocalJob
from local_ground_truth.server import WorkerSite, serve
from local_ground_truth.stack_reader import REPO_ROOT, STACKS, read_workflow, synthesize


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_ground_truth", description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", choices=sorted(STACKS), required=True)
    parser.add_argument("--env", default="dev", help="cdk.json environment to synthesize (default: dev)")
    parser.add_argument("--endpoint", help="an S3-compatible endpoint to use instead of the embedded one")
    parser.add_argument("--job-name", help="default: local-<workflow>")
    parser.add_argument("--state-dir", type=Path, help="where the job's files are mirrored (default: .local-gt/<job>)")
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
    return args


@contextmanager
def prepared_job(args: argparse.Namespace) -> Iterator[tuple[LocalJob, Path]]:
    """Synthesize, start S3, deploy, restore earlier state and pre-label; save state on the way out."""
    job_name = args.job_name or f"local-{args.workflow}"
    state_dir = args.state_dir or REPO_ROOT / ".local-gt" / job_name
    with tempfile.TemporaryDirectory() as assembly:
        print(f"synthesizing the app ({args.env}) ...", file=sys.stderr)
        spec = read_workflow(synthesize(Path(assembly), args.env), f"{STACKS[args.workflow]}-{args.env}")
        with local_s3.s3_endpoint(args.endpoint) as endpoint:
            s3 = local_s3.client(endpoint)
            buckets = local_s3.bucket_names(spec)
            uploaded = local_s3.deploy(spec, s3, buckets)
            bucket = buckets[spec.task["InputBucket"]]
            job = LocalJob(spec, s3, endpoint, bucket, job_name)
            restored = state.restore(s3, bucket, job.root, state_dir)
            print(f"S3 endpoint {endpoint}: {uploaded} objects deployed, {restored} restored from {state_dir}",
                  file=sys.stderr)
            try:
                job.pre_report = job.pre_label(processes=args.processes)
                for object_id, error in sorted(job.pre_report.failed.items()):
                    print(f"pre-labeling failed for object {object_id}: {error}", file=sys.stderr)
                yield job, state_dir
            finally:  # also on Ctrl-C: nothing labeled is lost
                state.save(s3, bucket, job.root, state_dir)


def run_headless(args: argparse.Namespace) -> dict:
    truth = headless.load_truth(args.truth or REPO_ROOT / "sample_data" / args.workflow / "truth.json")
    with prepared_job(args) as (job, state_dir):
        headless.simulate(job, truth, args.simulate_workers, args.accuracy, seed=args.seed)
        report = job.consolidate()
        for object_id, error in sorted(report.failed.items()):
            print(f"consolidation failed for object {object_id}: {error}", file=sys.stderr)
        summary = headless.summarize(job, truth, state_dir.with_name(f"{job.job_name}-summary.png"))
        summary["quality_reports"] = report_quality(job, state_dir)
    summary.update(output_manifest=str(state_dir / "manifests" / "output" / "output.manifest"),
                   pre_labeling_failures=len(job.pre_report.failed), consolidation_failures=len(report.failed))
    return summary


def report_quality(job: LocalJob, state_dir: Path) -> dict:
    """Print the consolidation Lambda's quality reports and save them beside the job's folder."""
    saved = save_quality_reports(job, state_dir.parent, prefix=f"{job.job_name}-")
    for question, files in saved.items():
        print(f"\n{files.pop('text')}\n(saved to {files['png']} and {files['json']})", file=sys.stderr)
    return saved


def run_browser(args: argparse.Namespace) -> None:
    with prepared_job(args) as (job, state_dir):
        server = serve(WorkerSite(job), args.port)
        host, port = server.server_address[:2]
        print(f"\nWorkers: open http://{host}:{port}/ and sign in with a name "
              f"({job.spec.workers_per_object} worker(s) per object). Answers are saved to {state_dir}; "
              "Ctrl-C stops, running the same command again resumes.", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()
            report_quality(job, state_dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.simulate_workers is None:
            run_browser(args)
            return 0
        summary = run_headless(args)
    except KeyboardInterrupt:
        print("stopped; run the same command again to resume", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=2))
    return 0 if not summary["pre_labeling_failures"] and not summary["consolidation_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
