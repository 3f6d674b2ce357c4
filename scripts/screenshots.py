"""Screenshots of the worker pages at 1280x720, from the sample data, through the local runner.

    .venv/bin/python scripts/screenshots.py                       # synthesizes the app first (about 30 s)
    .venv/bin/python scripts/screenshots.py --cloud-assembly cdk.out --out docs/screenshots

For each workflow the stack is deployed to a throwaway local S3 endpoint, pre-labeled by its own
Lambda and served by the runner's worker server; headless Chromium (the system's, as the tests use)
signs a worker in and takes the first task of their queue. Writes, into --out:

- ``welding-worker.png``: a welding task, a category chosen with its number key;
- ``welding-zoom.png``: the current plot opened in the image viewer and zoomed in;
- ``ner-worker.png``: an abstract with two sections tagged from the keyboard and the Yes/No answered.

``--serve`` keeps the servers running afterwards (Ctrl-C ends them), to look at the pages by hand.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from local_ground_truth import local_s3  # noqa: E402
from local_ground_truth.job import LocalJob  # noqa: E402
from local_ground_truth.server import WorkerServer, WorkerSite  # noqa: E402
from local_ground_truth.stack_reader import read_workflow, synthesize  # noqa: E402
import workflows  # noqa: E402
from gt_common.questions import YesNo  # noqa: E402
from scripts.chromium import CHROMIUM, VIEWPORT  # noqa: E402

WORKER = "José Álvarez"


@contextmanager
def served(assembly: Path, workflow: str) -> Iterator[tuple[LocalJob, WorkerServer]]:
    """The workflow's stack on a throwaway endpoint, pre-labeled, and its worker server."""
    spec = read_workflow(assembly, workflow)
    with local_s3.s3_endpoint() as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        job = LocalJob(spec, s3, endpoint, f"screenshots-{workflow}")
        try:
            report = job.pre_label(processes=2, progress=False)
            if report.failed:
                raise SystemExit(f"pre-labeling failed for {workflow}: {report.failed}")
            server = WorkerServer(WorkerSite(job, consolidate_in_background=False), port=0).start()
            try:
                yield job, server
            finally:
                server.stop()
        finally:
            job.close()


def first_task(page, server: WorkerServer) -> str:
    """Sign in as WORKER and open the first task of their queue; its object id."""
    page.goto(f"{server.url}/")
    page.fill("input[name=worker]", WORKER)
    page.click("text=Start")
    page.click("#start")
    page.wait_for_url("**/task/**")
    page.wait_for_load_state("load")
    page.wait_for_function("Array.from(document.images).filter(i => i.getAttribute('src'))"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    return page.url.rsplit("/task/", 1)[1].split("?")[0]


def welding(browser, job: LocalJob, server: WorkerServer, out: Path) -> list[Path]:
    definition = workflows.definition("welding")
    truth = json.loads(definition.truth_path.read_text())
    page = browser.new_page(viewport=VIEWPORT)
    object_id = first_task(page, server)
    name = Path(job.lines[int(object_id)]["source"]).stem
    question = definition.questions[0]
    page.keyboard.press(str(list(question.labels).index(truth[name][question.name]) + 1))
    page.mouse.move(0, 0)
    shots = [out / "welding-worker.png", out / "welding-zoom.png"]
    page.screenshot(path=str(shots[0]))
    page.click("figure:has(figcaption) >> nth=1 >> img")  # the first plot: the current
    page.wait_for_function("document.querySelector('dialog.image-viewer[open] img').naturalWidth > 0")
    for _ in range(3):
        page.keyboard.press("+")
    page.screenshot(path=str(shots[1]))
    page.close()
    return shots


def ner(browser, job: LocalJob, server: WorkerServer, out: Path) -> list[Path]:
    definition = workflows.definition("ner")
    truth = json.loads(definition.truth_path.read_text())
    page = browser.new_page(viewport=VIEWPORT)
    object_id = first_task(page, server)
    name = Path(job.lines[int(object_id)]["source-ref"]).stem
    text = job.task_input(object_id)["text"]
    spans = definition.questions[0]
    labels = list(spans.span_labels)
    for entity in truth[name][spans.name][:2]:
        start, end = (len(text[:offset].encode("utf-16-le")) // 2 for offset in (entity["startOffset"], entity["endOffset"]))
        page.evaluate("""([start, end]) => {
            const container = document.getElementById('abstract-container');
            const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
            let node, seen = 0, range = document.createRange(), started = false;
            while ((node = walker.nextNode())) {
                if (!started && start < seen + node.data.length) { range.setStart(node, start - seen); started = true; }
                if (started && end <= seen + node.data.length) { range.setEnd(node, end - seen); break; }
                seen += node.data.length;
            }
            container.focus();
            getSelection().removeAllRanges(); getSelection().addRange(range);
        }""", [start, end])
        page.keyboard.press(str(labels.index(entity["label"]) + 1))
    yes_no = next(q for q in definition.questions if isinstance(q, YesNo))
    page.check(f"input[name={yes_no.name}Choice][value=Yes]")  # the template's radio for the yes/no answer
    page.mouse.move(0, 0)
    shot = out / "ner-worker.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot))
    page.close()
    return [shot]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cloud-assembly", type=Path, help="a synthesized app (default: synthesize it now)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--serve", action="store_true", help="keep serving afterwards, until Ctrl-C")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with ExitStack() as stack:
        assembly = args.cloud_assembly
        if assembly is None:
            print("synthesizing the app ...", file=sys.stderr)
            assembly = synthesize(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        sites = {name: stack.enter_context(served(assembly, name)) for name in ("welding", "ner")}
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        stack.callback(browser.close)
        for shot in welding(browser, *sites["welding"], args.out) + ner(browser, *sites["ner"], args.out):
            print(f"wrote {shot}")
        if args.serve:
            for name, (_, server) in sites.items():
                print(f"{name}: {server.url}/")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
