"""The local runner's worker UI in a real headless Chromium (system browser, driven by Playwright).

A missing browser fails these tests: scripts/test.sh installs Debian's chromium.
"""
from __future__ import annotations

import json

import pytest

from local_ground_truth.server import STAND_IN
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job, worker_server



@pytest.fixture
def welding_site(runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "ui")) as job, worker_server(job) as server:
        yield job, server


def page_for(browser):
    page = browser.new_page()
    page.route("https://assets.crowd.aws/**", lambda route: route.abort())  # no network: never reached
    return page


def open_task_page(page, html: str, url: str, submit_url: str, done_url: str) -> list[bytes]:
    """Open ``html`` at ``url`` with the offline crowd elements in place of Ground Truth's; the list it returns
    collects each body the page submits (to ``submit_url``, answered as the runner's server does, then ``done_url``).
    Routes of the page's own files are added before calling this."""
    posted: list[bytes] = []

    def record(route) -> None:
        posted.append(route.request.post_data_buffer)
        route.fulfill(body=json.dumps({"next": done_url, "recorded": True}), content_type="application/json")

    page.route("https://assets.crowd.aws/crowd-html-elements.js",
               lambda route: route.fulfill(path=str(STAND_IN), content_type="application/javascript"))
    page.route(url, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
    page.route(submit_url, record)
    page.route(done_url, lambda route: route.fulfill(body="done", content_type="text/plain"))
    page.add_init_script(f"window.LOCAL_GT_SUBMIT_URL = {json.dumps(submit_url)};")
    page.goto(url)
    page.wait_for_load_state("load")
    return posted


def test_welding_worker_labels_an_object_and_it_reaches_the_output_manifest(browser, welding_site):
    job, server = welding_site
    base = server.url
    page = page_for(browser)
    page.goto(f"{base}/")
    page.fill("input[name=worker]", "ana")
    page.click("text=Start")
    page.wait_for_url(f"{base}/worker/ana")
    assert "You answered 0 of 18" in page.inner_text("#progress")
    page.goto(f"{base}/worker/ana/task/0")
    page.wait_for_function("Array.from(document.images).filter(i => i.src.includes('127.0.0.1')).length === 4")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    widths = page.eval_on_selector_all("classification-target img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 4 and all(width > 0 for width in widths)
    assert page.evaluate("document.compatMode") == "CSS1Compat"  # a doctype: standards mode
    assert "Signed in as ana" in page.inner_text("#local-gt-bar")
    # As crowd-form does, the page refuses to submit without a category: nothing reaches the server.
    page.click("text=Submit")
    assert "Choose a category" in page.inner_text(".local-gt-status")
    assert page.url.endswith("/task/0") and "0" not in job.answers()
    page.check("input[value='Burn Through']")
    page.reload()  # her choice is kept in the browser until the answer is accepted
    page.wait_for_function("document.querySelector(\"input[value='Burn Through']\").checked")
    page.click("text=Submit")
    page.wait_for_function("!location.pathname.endsWith('/task/0')")  # Submit opens her next task
    assert "/worker/ana/task/" in page.url
    assert "1 answered" in page.inner_text("#local-gt-progress")
    assert server.site.consolidator.wait_idle(timeout=60)
    [row] = [r for r in job.output_manifest() if r["source"].endswith("dataset-01.json")]
    label = row["welding-quality"]
    assert label["WeldingClassification"]["label"] == "Burn Through" and label["workers"] == 1
    answers = job.answers()["0"]
    assert answers[0]["workerId"] == "ana" and answers[0]["answerContent"] == {"WeldingClassification": {"label": "Burn Through"}}


def test_a_worker_never_gets_the_same_object_twice(browser, welding_site):
    job, server = welding_site
    job.record_answer("3", "bo", {"WeldingClassification": {"label": "Good Weld"}})
    page = page_for(browser)
    page.goto(f"{server.url}/worker/bo")
    links = page.eval_on_selector_all("#queue a", "as => as.map(a => a.getAttribute('href'))")
    assert "/worker/bo/task/3" not in links and len(links) == 17
    page.goto(f"{server.url}/worker/bo/task/3")  # answered already: back to the queue, told why
    assert page.url.startswith(f"{server.url}/worker/bo?")
    assert "You already answered that task" in page.inner_text(".notice")


def test_an_object_someone_holds_sends_the_next_worker_to_the_next_free_one(browser, welding_site):
    job, server = welding_site
    ana, bo = page_for(browser), page_for(browser)
    ana.goto(f"{server.url}/worker/ana/task/0")  # ana holds object 0 (one worker per object in dev)
    bo.goto(f"{server.url}/worker/bo")
    assert "/worker/bo/task/0" not in bo.eval_on_selector_all("#queue a", "as => as.map(a => a.getAttribute('href'))")
    bo.goto(f"{server.url}/worker/bo/task/0")
    assert "/worker/bo/task/" in bo.url and not bo.url.endswith("/task/0")
    assert "That task is being labeled by others" in bo.inner_text("#local-gt-bar")


def test_a_refused_answer_says_why_and_links_back_to_the_queue(browser, welding_site):
    job, server = welding_site
    page = page_for(browser)
    page.goto(f"{server.url}/worker/ana/task/2")
    job.record_answer("2", "carl", {"WeldingClassification": {"label": "Good Weld"}})  # the object is now full
    page.check("input[value='Contamination']")
    page.click("text=Submit")
    page.wait_for_function("document.querySelector('.local-gt-status a')")
    assert "already has all the answers it needs" in page.inner_text(".local-gt-status")
    page.click(".local-gt-status a")
    page.wait_for_url(f"{server.url}/worker/ana")
    assert [a["workerId"] for a in job.answers()["2"]] == ["carl"]
