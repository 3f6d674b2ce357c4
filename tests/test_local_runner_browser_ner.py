"""The NER worker UI through the local runner in a real headless Chromium: tag a span, answer, submit.

Also: an abstract containing markup and script shows as text and runs nothing.
"""
from __future__ import annotations

import json

import pytest

from local_ground_truth.stack_reader import read_workflow
import workflows
from tests.runner_helpers import job_name, local_job, worker_server
from tests.test_local_runner_browser import page_for

NER = workflows.definition("ner")
TRUTH = json.loads(NER.truth_path.read_text())
HOSTILE = 'Results <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script> end.'


@pytest.fixture(scope="module")
def ner_spec(runner_assembly, tmp_path_factory):
    return read_workflow(runner_assembly, "ner")


def hostile_second_abstract(spec, s3) -> None:
    """The second abstract's text becomes hostile before pre-labeling reads it."""
    s3.put_object(Bucket=spec.task.manifest.bucket, Key="ner/abstracts/abstract-02.txt", Body=HOSTILE.encode())


@pytest.fixture
def ner_site(ner_spec, tmp_path):
    with local_job(ner_spec, tmp_path / "s3", job_name(tmp_path, "ner"), prepare=hostile_second_abstract) as job:
        assert not job.pre_report.failed
        with worker_server(job) as server:
            yield job, server


def select(page, start: int, end: int) -> None:
    """Select [start, end) (UTF-16 indexes) of the abstract's text, as a mouse drag would."""
    page.evaluate("""([start, end]) => {
        const container = document.getElementById('abstract-container');
        const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
        let node, seen = 0, range = document.createRange(), started = false;
        while ((node = walker.nextNode())) {
            const length = node.data.length;
            if (!started && start < seen + length) { range.setStart(node, start - seen); started = true; }
            if (started && end <= seen + length) { range.setEnd(node, end - seen); break; }
            seen += length;
        }
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    }""", [start, end])


def test_tag_a_methods_span_answer_yes_and_it_reaches_the_output_manifest(browser, ner_site):  # noqa: F811
    job, server = ner_site
    base = server.url
    text = job.task_input("0")["text"]
    [methods] = [e for e in TRUTH["abstract-01"]["abstract"] if e["label"] == "Methods"]
    utf16 = lambda offset: len(text[:offset].encode("utf-16-le")) // 2  # noqa: E731
    page = page_for(browser)
    page.goto(f"{base}/worker/ana/task/0")
    page.wait_for_selector("#abstract-container")
    assert page.inner_text("#abstract-container").strip() == text.strip()
    select(page, utf16(methods["startOffset"]), utf16(methods["endOffset"]))
    page.click("button[data-label=Methods]")
    page.click("text=Submit")  # no Yes/No yet: refused
    assert page.url.endswith("/task/0") and page.inner_text("#good-error")
    # The question is marked invalid, described by the error, and focused, where the answer goes.
    assert page.get_attribute("#good-group", "aria-invalid") == "true"
    assert page.get_attribute("#good-group", "aria-describedby") == "good-error"
    assert page.evaluate("document.activeElement.name") == "isGoodAbstractChoice"
    page.check("input[name=isGoodAbstractChoice][value=Yes]")
    assert page.get_attribute("#good-group", "aria-invalid") is None
    page.click("text=Submit")
    page.wait_for_function("!location.pathname.endsWith('/task/0')")  # Submit opens her next task
    assert "/worker/ana/task/" in page.url
    assert server.site.consolidator.wait_idle(timeout=60)
    [row] = [r for r in job.output_manifest() if r["source-ref"].endswith("abstract-01.jpg")]
    label = row["abstract-sections"]
    assert label["abstract"]["entities"] == [{"label": "Methods", "startOffset": methods["startOffset"],
                                              "endOffset": methods["endOffset"], "confidence": pytest.approx(1.0)}]
    assert label["isGoodAbstract"]["label"] == "Yes"
    # The section buttons are the definition's labels, built by the page's script.
    page.goto(f"{base}/worker/ana/task/2")
    assert page.eval_on_selector_all("#label-buttons button", "bs => bs.map(b => b.dataset.label)") == list(
        NER.questions[0].span_labels)


def test_markup_in_an_abstract_is_shown_as_text_and_runs_nothing(browser, ner_site):  # noqa: F811
    job, server = ner_site
    base = server.url
    page = page_for(browser)
    page.goto(f"{base}/worker/ana/task/1")
    page.wait_for_selector("#abstract-container")
    page.wait_for_timeout(300)
    assert page.inner_text("#abstract-container").strip() == HOSTILE
    assert page.evaluate("window.__pwned") is None
    assert page.eval_on_selector_all("#abstract-container img, #abstract-container script", "els => els.length") == 0


def test_the_server_refuses_an_answer_without_the_yes_no_judgement(ner_site):
    """The page's script demands Yes/No; a request that bypasses the page meets the same rule."""
    import http.client

    job, server = ner_site
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/worker/eve/task/2/submit", body=json.dumps({"abstract": '{"entities": []}'}),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 422 and "isGoodAbstract is required" in json.loads(response.read())["error"]
    assert "eve" not in job.workers_of("2")


def test_the_server_reads_an_answer_as_consolidation_will_and_refuses_an_unusable_required_one(ner_site):
    """The page's rules see a value; the workflow's questions (its consolidation configuration) see no Yes/No."""
    import http.client

    job, server = ner_site
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/worker/eve/task/3/submit", headers={"Content-Type": "application/json"},
                       body=json.dumps({"abstract": '{"entities": []}', "isGoodAbstract": '{"label": "Maybe"}'}))
    response = connection.getresponse()
    error = json.loads(response.read())["error"]  # what is wrong with it, not only which question
    assert response.status == 422 and "isGoodAbstract label 'Maybe' is not one of Yes, No" in error
    assert "eve" not in job.workers_of("3")
    # A Yes/No group with nothing on is no answer: the worker is asked to give one.
    connection.request("POST", "/worker/eve/task/3/submit", headers={"Content-Type": "application/json"},
                       body=json.dumps({"abstract": '{"entities": []}',
                                        "isGoodAbstract": {"Yes": False, "No": False}}))
    response = connection.getresponse()
    error = json.loads(response.read())["error"]
    assert response.status == 422 and "answer isGoodAbstract" in error and "radio" not in error
    assert "eve" not in job.workers_of("3")


def test_a_span_past_the_end_of_the_text_the_worker_was_shown_is_refused(ner_site):
    """It was accepted (checked only against the longest text there can be) and then left out by consolidation: the
    worker counted as answering, their spans lost."""
    import http.client

    job, server = ner_site
    shown = len(job.task_input("4")["text"])  # code points

    def submit(worker: str, start: int, end: int):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        entities = {"entities": [{"label": "Methods", "startOffset": start, "endOffset": end}]}
        connection.request("POST", f"/worker/{worker}/task/4/submit", headers={"Content-Type": "application/json"},
                           body=json.dumps({"abstract": json.dumps(entities), "isGoodAbstract": '{"label": "No"}'}))
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    status, refused = submit("eve", shown - 3, shown + 1)
    assert status == 422 and (f"abstract.entities[0]: offsets [{shown - 3}, {shown + 1}) reach past the end of the "
                              f"text ({shown} code points)") in refused["error"]
    assert "eve" not in job.workers_of("4")
    status, _ = submit("eve", shown - 3, shown)  # ending where the text ends
    assert status == 200 and "eve" in job.workers_of("4")


def test_a_refused_answer_names_each_problem_once_and_fields_the_page_lacks(ner_site):
    """The page's rules and consolidation's reading both said a note that is no text ("notes must be text; notes is
    not text"); a field the page does not have was recorded (and made a column of the answers table)."""
    from tests.test_local_runner_server import submit

    job, server = ner_site
    answer = {"abstract": {"entities": []}, "isGoodAbstract": {"label": "Yes"}, "notes": 7}
    status, result = submit(server, "eve", "0", answer)
    assert status == 422 and result["error"].count("notes") == 1 and "notes must be text" in result["error"]
    status, result = submit(server, "eve", "0", {**answer, "notes": "fine", "extra": 1})
    assert status == 422 and "the page has no field 'extra'" in result["error"]
    assert "eve" not in job.workers_of("0")
