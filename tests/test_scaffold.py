"""A newcomer adds a workflow: the scaffold, then only pre-labeling code, template markup and sample data.

In a temporary copy of the repository, as a user would: `python -m workflows.scaffold` for a
support-ticket triage workflow (three questions, one a checkbox), then the newcomer's own
pre-labeling (tickets with an empty body are skipped), template markup and sample data are written,
and nothing else. Beside it, an image workflow (`--data image`) exactly as the scaffold writes it.
The workflows' tests pass, the app synthesizes them, and they run in the local runner headless and
in a real browser. No shared file is edited: git shows only new files (and the new stacks' recorded
snapshots).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from stacks.node_runtime import QUIET_NODE
from tests.conftest import STACK_TEST_ENVIRONMENTS
from tests.runner_helpers import RunnerProcess
from tests.test_local_runner_browser import page_for

REPO_ROOT = Path(__file__).resolve().parent.parent
NAME = "ticket_triage"
QUESTIONS = ["classification:priority=Low,Medium,High", "checkbox:needs_reply", "free-text:summary"]
IMAGES = "photo_check"  # scaffolded with --data image, and left as written
IMAGE_QUESTIONS = ["classification:quality=Sharp,Blurry,Overexposed,Not sure", "yes-no:has_person"]
# The fork's own pytest runs alone: xdist's worker variables would make it act as a worker (and syrupy lock files).
ENV = {**{key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}, **QUIET_NODE}

# What the newcomer writes: their tickets have a subject and a body; an empty body is not worth a worker.
PRE_LABELING = '''\
"""Ticket triage pre-labeling: a ticket's subject and body for the worker; an empty body is skipped."""
from __future__ import annotations

from typing import Any

from gt_common.s3uri import InputError


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    ticket = event.get("dataObject") if isinstance(event, dict) else None
    if not isinstance(ticket, dict):
        raise InputError("dataObject is missing or not an object")
    body = ticket.get("source")
    if not isinstance(body, str):
        raise InputError(f"ticket {ticket.get('id')!r} has no body ('source')")
    task = {"subject": str(ticket.get("subject", "")), "body": body}
    return {"taskInput": task, "isHumanAnnotationRequired": "true" if body.strip() else "false"}
'''
TICKETS = [
    ("T-1", "Export broken", "The export button does nothing since this morning.", "High", True),
    ("T-2", "E-mail change", "How do I change my e-mail address?", "Low", False),
    ("T-3", "(no body)", "   ", None, None),
    ("T-4", "Double charge", "I was charged twice for March.", "High", True),
    ("T-5", "Feature idea", "A dark mode would be nice.", "Low", False),
    ("T-6", "Blank", "", None, None),
]


def _copy_repository(target: Path) -> None:
    """The tracked files, as a fresh clone holds them (nothing the working tree has on top)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"], cwd=target,
                   check=True)


def _run(root: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=root, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def forked(tmp_path_factory):
    """The repository copy with the ticket-triage workflow added the way the README says, and the app
    synthesized from it."""
    root = tmp_path_factory.mktemp("fork")
    _copy_repository(root)
    _run(root, "-m", "workflows.scaffold", NAME, *(arg for q in QUESTIONS for arg in ("--question", q)))
    _run(root, "-m", "workflows.scaffold", IMAGES, "--data", "image", "--abstain", "quality=Not sure",
         *(arg for q in IMAGE_QUESTIONS for arg in ("--question", q)))
    # The newcomer's own parts: pre-labeling code, template markup, sample data. Nothing else.
    (root / "lambda_src" / f"{NAME}_pre_labeling" / "handler.py").write_text(PRE_LABELING)
    template = root / "ui_templates" / f"{NAME}.liquid.html"
    markup = template.read_text().replace(
        '<div class="item" id="item-text">{{ task.input.text }}</div>',
        '<h3 id="subject">{{ task.input.subject }}</h3>\n  <div class="item" id="body">{{ task.input.body }}</div>')
    assert markup != template.read_text()
    template.write_text(markup)
    data = root / "sample_data" / NAME
    (data / "manifest.jsonl").write_text("".join(
        json.dumps({"source": body, "subject": subject, "id": key}) + "\n" for key, subject, body, _, _ in TICKETS))
    (data / "truth.json").write_text(json.dumps({key: {"priority": priority, "needs_reply": reply}
                                                 for key, _, _, priority, reply in TICKETS if priority}, indent=2))
    assembly = root / "cdk.out.local"
    _run(root, "-c", "import pathlib, sys; from local_ground_truth.stack_reader import synthesize; "
                     "synthesize(pathlib.Path(sys.argv[1]))", str(assembly))
    return root, assembly


def test_the_fork_touches_no_shared_file(forked):
    root, _ = forked
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    changed = sorted(line[3:] for line in status if not line.startswith("??"))
    added = sorted(line[3:] for line in status if line.startswith("??") and not line[3:].startswith("cdk.out.local/"))
    assert changed == ["tests/__snapshots__/test_workflow_stacks.ambr"]  # the new stacks' recorded snapshots
    assert added == sorted([path for name in (NAME, IMAGES) for path in (
        f"lambda_src/{name}_pre_labeling/__init__.py", f"lambda_src/{name}_pre_labeling/handler.py",
        f"sample_data/{name}/manifest.jsonl", f"sample_data/{name}/truth.json", f"tests/test_{name}_pre_labeling.py",
        f"ui_templates/{name}.liquid.html", f"workflows/{name}.py")]
        + [f"sample_data/{IMAGES}/images/{IMAGES}-0{n}.png" for n in range(1, 5)])


def test_the_scaffold_recorded_its_workflows_snapshots_and_changed_no_other(forked):
    """Each scaffold records its stack's snapshot in every environment by the tests' own ids: every other recorded
    snapshot stays as it was (a name matching another test's id re-recorded that one too, unreviewed)."""
    root, _ = forked
    snapshots = "tests/__snapshots__/test_workflow_stacks.ambr"

    def recorded(text: str) -> dict[str, str]:  # each snapshot's name and text
        return dict(re.findall(r"^# name: ([^\n]+)\n(.*?)^# ---$", text, re.M | re.S))

    before = recorded(subprocess.run(["git", "show", f"HEAD:{snapshots}"], cwd=root, capture_output=True, text=True,
                                     check=True).stdout)
    after = recorded((root / snapshots).read_text())
    assert before and {name: after.get(name) for name in before} == before
    assert sorted(set(after) - set(before)) == sorted(
        f"test_snapshot[{env}-{name}]" for env in STACK_TEST_ENVIRONMENTS for name in (NAME, IMAGES))


def test_its_tests_and_the_tests_every_workflow_gets_pass(forked):
    root, _ = forked
    result = _run(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/test_{NAME}_pre_labeling.py",
                  "tests/test_workflow_stacks.py", "tests/test_every_workflow.py",
                  "tests/test_consolidation_every_workflow.py", "tests/test_workflow_definitions.py",
                  "tests/test_local_runner_workflows.py", f"tests/test_{IMAGES}_pre_labeling.py", "-k",
                  f"{NAME} or {IMAGES} or definitions or every_registered or "
                  "all_together or lists_its_workflow_stacks or does_not_have", timeout=1800)
    assert re.search(r"\d+ passed", result.stdout) and " failed" not in result.stdout


def _job_args(assembly: Path, workflow: str, tmp_path: Path) -> list[str]:
    return ["--workflow", workflow, "--cloud-assembly", str(assembly), "--state-dir", str(tmp_path / "job"),
            "--processes", "2"]


def _headless_job(root: Path, assembly: Path, workflow: str, tmp_path: Path) -> dict:
    """The fork's workflow run headless by 3 simulated workers; the run's summary."""
    result = _run(root, "-m", "local_ground_truth", *_job_args(assembly, workflow, tmp_path), "--simulate-workers", "3",
                  "--accuracy", "0.9")
    return json.loads(result.stdout)


@contextmanager
def _served_in_browser(forked, browser, workflow: str, tmp_path: Path):  # noqa: F811
    """The fork's workflow served by the runner, a page of Chromium for a worker, and the job's store; the runner
    stopped after."""
    root, assembly = forked
    runner = RunnerProcess(_job_args(assembly, workflow, tmp_path), tmp_path / "runner.log", cwd=root)
    try:
        yield page_for(browser), runner.url, tmp_path / "job" / "s3"
    finally:
        runner.stop()


def _the_labelled_row(store: Path, attribute: str) -> dict:
    """The one output manifest row labelled under ``attribute``, once the runner has consolidated it."""
    deadline = time.monotonic() + 120
    rows = []
    while time.monotonic() < deadline:
        manifests = list(store.glob("*/output/*/manifests/output/output.manifest"))
        rows = [json.loads(line) for m in manifests for line in m.read_text().splitlines()]
        if any(attribute in row for row in rows):
            break
        time.sleep(0.3)
    [row] = [row for row in rows if attribute in row]
    return row


def test_it_runs_headless_in_the_local_runner(forked, tmp_path):
    root, assembly = forked
    summary = _headless_job(root, assembly, NAME, tmp_path)
    assert summary["objects"] == 4 and summary["skipped_objects"] == 2
    assert summary["pre_labeling_failures"] == 0 and summary["consolidation_failures"] == 0
    assert set(summary["questions"]) == {"priority", "needs_reply"}  # free text is not scored
    rows = [json.loads(line) for line in Path(summary["output_manifest"]).read_text().splitlines()]
    labelled = {row["id"]: row["ticket-triage"] for row in rows if "ticket-triage" in row}
    assert set(labelled) == {"T-1", "T-2", "T-4", "T-5"}  # the empty tickets are written unlabelled
    for label in labelled.values():
        assert label["priority"]["label"] in ("Low", "Medium", "High")
        assert label["needs_reply"]["label"] in ("checked", "unchecked") and label["workers"] == 3


def test_a_worker_triages_a_ticket_in_the_browser(forked, browser, tmp_path):  # noqa: F811
    with _served_in_browser(forked, browser, NAME, tmp_path) as (page, url, store):
        page.goto(f"{url}/worker/ana")
        assert page.eval_on_selector_all("#queue a", "links => links.length") == 4  # empty tickets go to nobody
        page.goto(f"{url}/worker/ana/task/0")  # T-1 (a worker's queue is in an order of their own)
        page.wait_for_selector("#subject")
        assert page.inner_text("#subject") == "Export broken"
        assert page.inner_text("crowd-form h2") == "Ticket triage"  # the definition's title, written only there
        # No priority chosen: the page itself asks for one (Ground Truth's crowd-radio-group would send the form
        # without), and nothing is sent.
        page.click(".local-gt-submit")
        page.wait_for_function("document.getElementById('unanswered').textContent !== ''")
        assert page.inner_text("#unanswered") == "Answer Priority before you submit." and "/task/" in page.url
        assert not [f for f in store.rglob("*") if "worker-response" in f.parts and f.is_file()]
        page.click("crowd-radio-button[value=High] >> text=High")
        assert page.evaluate("document.querySelector('crowd-radio-button[value=High]').checked")
        page.click("crowd-checkbox[name=needs_reply] >> text=Needs reply")
        page.fill("crowd-text-area[name=summary] textarea", "Export button broken after the update.")
        page.click(".local-gt-submit")
        page.wait_for_function("!location.pathname.endsWith('/task/0')")  # on to her next ticket
        row = _the_labelled_row(store, "ticket-triage")
        label = row["ticket-triage"]
        assert row["id"] == "T-1" and label["priority"]["label"] == "High"
        assert label["needs_reply"]["label"] == "checked"
        assert label["summary"] == [{"workerId": "ana", "text": "Export button broken after the update."}]


def test_the_image_workflow_runs_headless_as_scaffolded(forked, tmp_path):
    root, assembly = forked
    summary = _headless_job(root, assembly, IMAGES, tmp_path)
    assert summary["objects"] == 4 and summary["skipped_objects"] == 0 and summary["pre_labeling_failures"] == 0
    assert set(summary["questions"]) == {"quality", "has_person"}
    rows = [json.loads(line) for line in Path(summary["output_manifest"]).read_text().splitlines()]
    assert [row["source-ref"].rsplit("/", 1)[-1] for row in rows] == [f"{IMAGES}-0{n}.png" for n in range(1, 5)]
    assert all(row["photo-check"]["quality"]["label"] in ("Sharp", "Blurry", "Overexposed") for row in rows)


def test_a_worker_sees_the_image_and_labels_it_in_the_browser(forked, browser, tmp_path):  # noqa: F811
    with _served_in_browser(forked, browser, IMAGES, tmp_path) as (page, url, store):
        page.goto(f"{url}/worker/ana/task/0")
        page.wait_for_function("document.querySelector('#item-image img') && "
                               "document.querySelector('#item-image img').complete")
        # The image came through grant_read_access's signed link and decoded: 480 pixels wide, as the scaffold drew it.
        assert page.evaluate("document.querySelector('#item-image img').naturalWidth") == 480
        # A click on it opens it large in the image viewer (the part welding's and NER's pages have), through the
        # same signed link; 1 shows it at actual size, Esc closes it and no answer was picked on the way.
        page.click("#item-image img")
        page.wait_for_function("document.querySelector('dialog.image-viewer[open] img').naturalWidth === 480")
        assert page.evaluate("document.querySelector('dialog.image-viewer img').src === "
                             "document.querySelector('#item-image img').src")
        page.keyboard.press("1")
        assert page.inner_text(".iv-zoom") == "100%"
        page.keyboard.press("Escape")
        page.wait_for_function("!document.querySelector('dialog.image-viewer').open")
        assert not page.evaluate("Array.from(document.querySelectorAll('crowd-radio-button')).some(b => b.checked)")
        assert page.inner_text("crowd-form p") == "Look at the image and answer each question."
        page.click("crowd-radio-button[value=Blurry] >> text=Blurry")
        page.click("crowd-radio-button[value=No] >> text=No")
        page.click(".local-gt-submit")
        row = _the_labelled_row(store, "photo-check")
        assert row["id"] == f"{IMAGES}-01"
        assert row["photo-check"]["quality"]["label"] == "Blurry" and row["photo-check"]["has_person"]["label"] == "No"
