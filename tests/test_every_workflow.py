"""What every workflow of ``workflows/`` gets for free, with nothing written for it here.

For each definition: its stack is in the synthesized app; its template renders for every sample object
with the task input its own pre-labeling Lambda produces (the stack deployed to a local S3 endpoint,
the function run as the runner runs it) and asks every question under the question's name; in headless
Chromium, through the offline crowd elements and the runner's worker server, its page submits an answer
that consolidation reads for every question; and a short headless job runs through the runner end to end.
"""
from __future__ import annotations

import json
import random

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import workflows
from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, Spans, YesNo
from local_ground_truth import __main__ as cli
from local_ground_truth.form_rules import (
    CHECKBOX, CLASSIFIER, ENTITY_ANNOTATION, INPUT, MULTI_SELECT, RADIO_BUTTON, TEXT_AREA, question_field, rules_of,
)
from local_ground_truth.headless import prepare
from local_ground_truth.simulated_workers import answer_values
from local_ground_truth.stack_reader import read_workflow, workflow_stacks
from local_ground_truth.truth import load_truth
from tests.runner_helpers import job_name, local_job, worker_server
from tests.test_local_runner_browser import page_for

NAMES = sorted(workflows.definitions())


@pytest.fixture(scope="module", params=NAMES)
def served(request, runner_assembly, tmp_path_factory):
    """One workflow's stack deployed, pre-labeled (its own Lambda), and served to workers."""
    definition = workflows.definition(request.param)
    folder = tmp_path_factory.mktemp(request.param)
    spec = read_workflow(runner_assembly, definition.name)
    with local_job(spec, folder / "s3", job_name(folder, definition.name)) as job, worker_server(job) as server:
        assert not job.pre_report.failed, job.pre_report.failed
        yield definition, job, server


def test_every_workflow_has_its_stack_in_the_app(runner_assembly):
    assert sorted(workflow_stacks(runner_assembly)) == NAMES


def test_the_template_renders_for_every_object_and_asks_every_question(served):
    definition, job, server = served
    assert job.object_ids(), "the sample data gives workers nothing to label"
    for object_id in job.object_ids():
        fields = rules_of(server.site.page(object_id)).fields  # rendered with the Lambda's own task input
        # The server shows what a task input lacks empty, as Ground Truth does: here every variable must be there.
        assert not server.site.undefined_reads, f"object {object_id}: {server.site.undefined_reads}"
        missing = [q.name for q in definition.questions if question_field(fields, q.name) is None]
        assert not missing, f"object {object_id}: the page asks nothing under {missing}"


def _drive(page, question, value, field, text: str) -> None:
    """Answer one question on the page as a worker would, through its crowd element."""
    scope = f'[name="{question.name}"]'
    if field.element == CLASSIFIER:
        page.check(f'crowd-classifier{scope} input[value="{value}"]')
    elif field.element == MULTI_SELECT:
        for label in value:
            page.check(f'crowd-classifier-multi-select{scope} input[value="{label}"]')
    elif field.element in (CHECKBOX, RADIO_BUTTON):
        chosen = {question.value} if isinstance(question, Checkbox) and value else (
            set(value) if isinstance(question, MultiSelect) else {str(value)})
        for box in chosen:  # a question's buttons each have a name of their own (<question>:<label>)
            named = f'[name="{field.buttons[box][0]}"]' if box in field.buttons else f'{scope}[value="{box}"]'
            page.check(f'{field.element}{named} input')
    elif field.element in (INPUT, TEXT_AREA) and value:
        page.fill(f"{field.element}{scope} input, {field.element}{scope} textarea", str(value))
    elif field.element == ENTITY_ANNOTATION and value:
        first = value[0]
        start, end = (len(text[:offset].encode("utf-16-le")) // 2 for offset in (first["startOffset"], first["endOffset"]))
        page.evaluate("""([start, end]) => {
            const walker = document.createTreeWalker(document.querySelector('.local-gt-entity-text'), NodeFilter.SHOW_TEXT);
            let node, seen = 0, range = document.createRange(), started = false;
            while ((node = walker.nextNode())) {
                if (!started && start < seen + node.data.length) { range.setStart(node, start - seen); started = true; }
                if (started && end <= seen + node.data.length) { range.setEnd(node, end - seen); break; }
                seen += node.data.length;
            }
            window.getSelection().removeAllRanges(); window.getSelection().addRange(range);
        }""", [start, end])
        page.click(f'crowd-entity-annotation{scope} button[data-label="{first["label"]}"]')


def test_the_page_submits_an_answer_every_question_reads(browser, served):  # noqa: F811
    definition, job, server = served
    simulation = prepare(job, definition, load_truth(definition.truth_path), "truth.json")
    object_id = job.object_ids()[0]
    text = job.task_input(object_id).get(definition.span_text_input) or ""
    values = answer_values(definition.questions, simulation.truth[object_id], 1.0, random.Random(0), text,
                           simulation.must_answer)
    page = page_for(browser)
    page.goto(f"{server.url}/worker/tester/task/{object_id}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(100)  # the crowd elements build themselves once the page is parsed
    for question in definition.questions:
        _drive(page, question, values[question.name], question_field(simulation.rules.fields, question.name), text)
    # A page's own controls (a template's radios that fill a hidden answer): a worker picks one of each.
    page.evaluate("""() => {
        const groups = new Set(Array.from(document.querySelectorAll('input[type=radio]'))
            .filter(r => !r.closest('crowd-classifier, crowd-radio-button')).map(r => r.name));
        groups.forEach(name => { const first = document.querySelector(`input[type=radio][name="${CSS.escape(name)}"]`);
                                 first.click(); });
    }""")
    page.click(".local-gt-submit")
    moved_on = "id => !location.pathname.endsWith('/task/' + id)"
    try:
        page.wait_for_function(moved_on, arg=object_id, timeout=5_000)  # on to the next
    except PlaywrightTimeout:  # a page may ask once before it sends (NER: "no span is tagged"): Submit again
        page.click(".local-gt-submit")
        page.wait_for_function(moved_on, arg=object_id)
    [recorded] = job.answers()[object_id]
    assert recorded["workerId"] == "tester"
    assert server.site.rules(object_id).problems(recorded["answerContent"]) == []
    assert server.site.consolidator.wait_idle(timeout=120)
    label = job.consolidated_labels()[object_id]["label"]
    assert label["workers"] == 1
    for question in definition.questions:  # consolidation read an answer to every question
        result = label[question.name]
        if isinstance(question, (Classification, YesNo)):
            assert result["label"] in question.labels, (question.name, result)
        elif isinstance(question, Checkbox):
            assert result["label"] in ("checked", "unchecked"), (question.name, result)
        elif isinstance(question, MultiSelect):
            assert set(result["labels"]) <= set(question.choices), (question.name, result)
        elif isinstance(question, Spans):
            assert isinstance(result["entities"], list), (question.name, result)
        elif isinstance(question, FreeText) and values[question.name]:
            assert result == [{"workerId": "tester", "text": values[question.name]}], (question.name, result)


@pytest.mark.parametrize("name", NAMES)
def test_a_short_headless_job_runs_through_the_runner(name, runner_assembly, tmp_path, capsys):
    argv = ["--workflow", name, "--simulate-workers", "2", "--accuracy", "0.9", "--state-dir", str(tmp_path / "job"),
            "--processes", "2", "--cloud-assembly", str(runner_assembly)]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    definition = workflows.definition(name)
    assert summary["objects"] > 0 and summary["consolidation_failures"] == 0
    scored = [q.name for q in definition.questions if not isinstance(q, FreeText)]
    assert sorted(summary["questions"]) == sorted(scored)
    for question in scored:
        score = summary["questions"][question]
        assert score["objects"] == summary["objects"] and score["malformed"] == 0, (question, score)
