"""Screenshots of the local runner's requester page and an expert's review page at 1280x720:
docs/screenshots/requester.png and docs/screenshots/expert-review.png.

    .venv/bin/python scripts/screenshot_requester.py [--cloud-assembly DIR] [--out PATH] [--review-out PATH]

Runs the welding workflow's stack with the runner's own parts (its S3 endpoint keeping the job in
``<temp>/local-gt-screenshot/local-welding``, emptied first so the paths shown are always the same;
its Lambdas; its worker server on a free port), as a job of 3 workers per object (the setting of an
environment with ``workersPerObject: 3``) half way through: four workers answer over HTTP as the
page would (from the sample data's truth, each wrong now and then, seeded), 12 objects complete and
consolidated in one batch, two more partly answered, two tasks held open. Then the system's Chromium
opens the requester page and saves what shows in a 1280x720 window. Expert review is on (at a
threshold 0.98 here, above what this small job's two-to-one splits get), so those await an expert: an
expert opens the first of their queue, and that page is the second screenshot. Deterministic apart from the answers' times.
"""
from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src")]

import workflows  # noqa: E402
from local_ground_truth import local_s3  # noqa: E402
from local_ground_truth.job import LocalJob  # noqa: E402
from gt_common.review import ReviewSettings  # noqa: E402
from local_ground_truth.requester import PREFIX, RequesterLog  # noqa: E402
from local_ground_truth.reviewer import reviewer_base  # noqa: E402
from local_ground_truth.server import WorkerServer, WorkerSite  # noqa: E402
from local_ground_truth.stack_reader import read_workflow, synthesize  # noqa: E402
from local_ground_truth.truth import load_truth  # noqa: E402
from workflows.model import truth_key  # noqa: E402
from scripts.chromium import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402

WORKFLOW = "welding"
WORKERS_PER_OBJECT = 3
WORKERS = {"ana": 0.95, "bo": 0.9, "chen": 0.8, "dia": 0.55}  # name -> how often right
COMPLETE, PARTLY = 12, 2  # objects answered by every worker they need, and by one
EXPERT = "Dr. Okafor"
REVIEW_THRESHOLD = 0.98  # over this job's two-to-one splits (about 0.97), so that they await an expert


def request(port: int, method: str, path: str, body: dict | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Content-Type": "application/json"})
    status = connection.getresponse().status
    connection.close()
    return status


def answer_half(job: LocalJob, server: WorkerServer) -> None:
    """Answers as workers send them: open the task (a lease), submit the category."""
    definition = workflows.definition(WORKFLOW)
    question = definition.questions[0]
    truth = load_truth(definition.truth_path)
    rng = random.Random(7)
    names = list(WORKERS)
    for number, object_id in enumerate(job.object_ids()[:COMPLETE + PARTLY]):
        right = truth[truth_key(job.lines[int(object_id)], int(object_id))][question.name]
        who = [names[(number + k) % len(names)] for k in range(WORKERS_PER_OBJECT if number < COMPLETE else 1)]
        for worker in who:
            label = right if rng.random() < WORKERS[worker] else rng.choice([c for c in question.labels if c != right])
            assert request(server.port, "GET", f"/worker/{worker}/task/{object_id}") == 200
            assert request(server.port, "POST", f"/worker/{worker}/task/{object_id}/submit",
                           {question.name: {"label": label}}) == 200
    for worker, object_id in zip(("chen", "dia"), job.object_ids()[COMPLETE + PARTLY:]):
        assert request(server.port, "GET", f"/worker/{worker}/task/{object_id}") == 200  # held open


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud-assembly", type=Path, help="an app synthesized already (default: synthesize it)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "requester.png")
    parser.add_argument("--review-out", type=Path, default=REPO / "docs" / "screenshots" / "expert-review.png")
    args = parser.parse_args(argv)
    from playwright.sync_api import expect, sync_playwright

    folder = Path(tempfile.gettempdir()) / "local-gt-screenshot"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        assembly = args.cloud_assembly or synthesize(folder / "assembly")
        spec = read_workflow(assembly, WORKFLOW)
        spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=WORKERS_PER_OBJECT))
        store = folder / "local-welding" / "s3"
        with local_s3.s3_endpoint(store=store) as endpoint:
            s3 = local_s3.client(endpoint)
            local_s3.deploy(spec, s3)
            job = LocalJob(spec, s3, endpoint, "local-welding", store=store)
            try:
                job.pre_label(processes=2, progress=False)
                RequesterLog(job, lambda line: print(line, file=sys.stderr)).attach()
                # Consolidated once, after every answer: one batch, as on every run of this script.
                review = ReviewSettings(enabled=True, threshold=REVIEW_THRESHOLD)
                site = WorkerSite(job, consolidate_in_background=False, review=review)
                server = WorkerServer(site, port=0).start()
                try:
                    answer_half(job, server)
                    job.consolidate()
                    with sync_playwright() as playwright:
                        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                        page = browser.new_page(viewport=VIEWPORT)
                        page.goto(f"{server.url}{PREFIX}")
                        picture = page.locator("#quality img")  # the page allows only its own scripts: no
                        expect(picture).to_have_js_property("complete", True, timeout=60_000)  # evaluated waits
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(args.out))
                        first = site.review.queue(EXPERT)[0]
                        page.goto(f"{server.url}{reviewer_base(EXPERT)}/object/{first}")
                        images = page.frame_locator("#task-frame").locator("classification-target img")
                        for number in range(4):  # the camera image and the three plots, drawn
                            expect(images.nth(number)).to_have_js_property("complete", True, timeout=60_000)
                        args.review_out.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(args.review_out))
                        browser.close()
                finally:
                    server.stop()
            finally:
                job.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"saved {args.out} and {args.review_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
