"""The requester's page in a real headless Chromium (system browser, driven by Playwright): progress as
workers answer, the quality report drawn, any worker name shown as typed, then "Job complete"."""
from __future__ import annotations

import csv
import http.client
import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from local_ground_truth import requester
from local_ground_truth.requester import PREFIX
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job, worker_server
from tests.test_worker_pages_browser import CONTRAST

QUESTION = "WeldingClassification"
UNICODE_NAME = "José 李雷 <b onmouseover=alert(1)>O'Brien</b>"


def answer_over_http(port: int, worker: str, object_id: str, label: str) -> None:
    """As a worker's page does: open the task (a lease), submit the category."""
    for method, path, body in (("GET", f"/worker/{worker}/task/{object_id}", None),
                               ("POST", f"/worker/{worker}/task/{object_id}/submit",
                                json.dumps({QUESTION: {"label": label}}))):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 200, (method, path, response.status)


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch):
    """The requester page looks for news every 0.25 s instead of every requester.POLL_SECONDS (2 s): each step
    of these tests that waits for the page to look again waits less."""
    monkeypatch.setattr(requester, "POLL_SECONDS", 0.25)


def test_the_requester_page_shows_progress_as_workers_answer_then_job_complete(browser, runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")  # dev: one worker per object
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "reqb")) as job, worker_server(job) as server:
        ids = job.object_ids()
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        problems: list[str] = []
        page.on("dialog", lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss()))
        page.on("console", lambda message: problems.append(message.text)
                if message.type == "error" and "Failed to load resource" not in message.text else None)
        page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
                if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
        page.goto(f"{server.url}{PREFIX}")
        assert page.inner_text("#job-state") == "In progress"
        assert f"0 of {len(ids)}" in page.inner_text("#progress")
        assert "No report yet" in page.inner_text("#quality")

        # Five objects answered (one by a worker whose name is any Unicode string): the page follows.
        job.record_answer(ids[0], UNICODE_NAME, {QUESTION: {"label": "Good Weld"}})
        for object_id in ids[1:5]:
            answer_over_http(server.port, "ana", object_id, "Burn Through")
        server.site.consolidator.notify()
        assert server.site.consolidator.wait_idle(timeout=120)
        # (The page allows only its own scripts, so the waits are Playwright's own, not evaluated strings.)
        expect(page.locator("#progress")).to_contain_text(f"5 of {len(ids)}", timeout=30_000)
        picture = page.locator("#quality img")
        expect(picture).to_have_count(1, timeout=30_000)
        expect(picture).to_have_js_property("complete", True, timeout=30_000)
        assert picture.evaluate("image => image.naturalWidth") > 0
        assert page.inner_text("#job-state") == "In progress"
        names = page.eval_on_selector_all("#workers tbody tr td:first-child", "cells => cells.map(c => c.textContent)")
        assert sorted(names) == sorted([UNICODE_NAME, "ana"])  # shown as typed, never as markup
        assert page.locator("#workers b").count() == 0
        # Each object's row: its answers (by whom) and its state and label, as the job has them.
        label = job.consolidated_labels()[ids[0]]["label"][QUESTION]["label"]
        row = page.inner_text(f"#object-{ids[0]}")
        assert f"1: {UNICODE_NAME}" in row and "consolidated" in row and f"{QUESTION}: {label}" in row
        assert page.get_attribute(f"#object-{ids[5]}", "class") == "state-waiting"

        # The output manifest is one click away and holds the labels so far.
        href = page.get_attribute("#output-manifest", "href")
        manifest = page.request.get(server.url + href).text()
        assert sum("welding-quality" in line for line in manifest.splitlines()) == 5
        # ... and as a table a spreadsheet opens: a click downloads it.
        with page.expect_download() as download:
            page.click("#output-csv")
        assert download.value.failure() is None and download.value.suggested_filename.endswith("-output-labels.csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        assert len(rows) == len(ids) and sum(bool(row[QUESTION]) for row in rows) == 5

        # The rest answered: "Job complete", with where everything is. The keyboard focus stays on the link it
        # was on while the page redraws itself.
        page.focus("#output-manifest")
        for object_id in ids[5:]:
            answer_over_http(server.port, "bo", object_id, "Contamination")
        assert server.site.consolidator.wait_idle(timeout=120)
        expect(page.locator("#job-state")).to_have_text("Job complete", timeout=30_000)
        assert page.evaluate("() => document.activeElement.id") == "output-manifest"
        assert f"{len(ids)} of {len(ids)}" in page.inner_text("#progress")
        assert "complete" in page.get_attribute("#state", "class")
        where = page.inner_text("#where")
        assert str(job.local_path(job.output_manifest_key)) in where and f"{QUESTION}: JSON" in where
        assert problems == []
        page.close()


def test_the_page_names_what_workers_hold_waits_for_a_selection_and_says_when_the_runner_is_gone(
        browser, runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "reqc")) as job, worker_server(job) as server:
        ids = job.object_ids()
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        looks: list[str] = []  # the page's requests for the live part, as it makes them
        page.on("request", lambda request: looks.append(request.url) if "/requester/live" in request.url else None)
        page.goto(f"{server.url}{PREFIX}")
        # A worker with a task open: how many, and which objects (links to their rows), not bare ids.
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("GET", f"/worker/cy/task/{ids[3]}")
        assert connection.getresponse().status == 200
        connection.close()
        held = page.locator("#workers tbody tr", has_text="cy")
        expect(held).to_contain_text(f"1: object {ids[3]}", timeout=30_000)
        assert held.locator("a").get_attribute("href") == f"#object-{ids[3]}"

        # While the reader has text of the page selected (to copy a path), the page does not redraw under it.
        page.evaluate("""() => { const code = document.querySelector('#where code'); const range = document.createRange();
                                 range.selectNodeContents(code); getSelection().removeAllRanges(); getSelection().addRange(range); }""")
        selected = page.evaluate("() => getSelection().toString()")
        assert selected
        answer_over_http(server.port, "ana", ids[0], "Good Weld")
        server.site.consolidator.notify()
        assert server.site.consolidator.wait_idle(timeout=120)
        # Two looks made since it was consolidated, and handled (the page asks again only once it handled an answer).
        seen = len(looks)
        while len(looks) < seen + 3:
            page.wait_for_timeout(50)
        assert f"0 of {len(ids)}" in page.inner_text("#progress") and page.evaluate("() => getSelection().toString()") == selected
        page.evaluate("() => getSelection().removeAllRanges()")
        expect(page.locator("#progress")).to_contain_text(f"1 of {len(ids)}", timeout=30_000)

        # The runner stops answering: the page says its figures are from before, and clears that once it is back.
        assert page.locator("#connection").is_hidden()
        page.route("**/requester/live*", lambda route: route.abort())
        expect(page.locator("#connection")).to_contain_text("The runner does not answer", timeout=30_000)
        page.unroute("**/requester/live*")
        page.route("**/requester/live*", lambda route: route.fulfill(status=503, body="busy"))
        page.reload()
        expect(page.locator("#connection")).to_contain_text("HTTP 503", timeout=30_000)
        page.unroute("**/requester/live*")
        expect(page.locator("#connection")).to_be_hidden(timeout=30_000)
        page.close()


def test_what_changed_before_the_pages_first_look_is_shown(browser, runner_assembly, tmp_path):
    """The page kept its first look's answer as "shown" without drawing it: a task taken between the page's rendering
    and that first look was never shown, every later look answering the same."""
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "reqd")) as job, worker_server(job) as server:
        ids = job.object_ids()
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        looks, held = [], []

        def first_look_after_a_task_is_taken(route):
            looks.append(route.request.url)
            if len(looks) == 1:  # the page's first look: a worker takes a task just before it
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                connection.request("GET", f"/worker/dee/task/{ids[2]}")
                assert connection.getresponse().status == 200
                connection.close()
                held.append(route)  # answered once the page as rendered has been read
                return
            route.continue_()

        page.route("**/requester/live*", first_look_after_a_task_is_taken)
        page.goto(f"{server.url}{PREFIX}")
        assert "No worker holds a task" in page.inner_text("#workers")  # as the page was rendered
        while not held:
            page.wait_for_timeout(50)
        held[0].continue_()
        expect(page.locator("#workers tbody tr", has_text="dee")).to_contain_text(f"1: object {ids[2]}",
                                                                                   timeout=30_000)
        page.close()


def test_a_screen_reader_hears_the_progress_once_as_it_changes_not_each_redrawn_table(browser, runner_assembly, tmp_path):
    """The job's state was a polite live region inside the part the page swaps out when anything changed (a lease, a
    worker's last answer): each redraw put a new region in place of the one a screen reader watched, so progress was
    announced unreliably, or as the whole section. Now one status region outside it says the state and count once
    they change; the page has its main region and headings, AA contrast, and no sideways scroll at 768 px."""
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "reqa")) as job, worker_server(job) as server:
        ids = job.object_ids()
        page = browser.new_page(viewport={"width": 768, "height": 1024})
        page.goto(f"{server.url}{PREFIX}")
        main = page.get_by_role("main")
        assert main.get_by_role("heading", level=2, name="In progress").count() == 1
        assert page.get_by_role("heading", level=1).count() == 1
        assert page.locator("#live [aria-live], #live [role=status]").count() == 0  # nothing announced is redrawn
        status = page.locator("#announce")
        assert status.get_attribute("role") == "status" and status.inner_text() == ""
        assert page.evaluate(CONTRAST) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 768

        # A worker opens a task: the workers' table is redrawn, nothing is said.
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("GET", f"/worker/cy/task/{ids[3]}")
        assert connection.getresponse().status == 200
        connection.close()
        expect(page.locator("#workers tbody tr", has_text="cy")).to_contain_text(f"1: object {ids[3]}", timeout=30_000)
        assert status.inner_text() == ""

        # Two objects consolidated: said once, in the region that was there from the start.
        page.evaluate("document.getElementById('announce').dataset.kept = 'yes'")
        for object_id in ids[:2]:
            answer_over_http(server.port, "ana", object_id, "Good Weld")
        server.site.consolidator.notify()
        assert server.site.consolidator.wait_idle(timeout=120)
        expect(status).to_have_text(f"In progress; 2 of {len(ids)} objects consolidated.", timeout=30_000)
        assert status.get_attribute("data-kept") == "yes"
        assert page.evaluate(CONTRAST) == [] and page.evaluate("document.documentElement.scrollWidth") <= 768
        page.close()
