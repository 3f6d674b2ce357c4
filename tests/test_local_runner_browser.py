"""The local runner's worker UI in a real headless Chromium (system browser, driven by Playwright).

A missing browser fails these tests: scripts/test.sh installs Debian's chromium.
"""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import sync_playwright

from local_ground_truth.__main__ import parse_args, prepared_job
from local_ground_truth.server import WorkerSite, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def welding_site(tmp_path):
    args = parse_args(["--workflow", "welding", "--port", "0", "--state-dir", str(tmp_path / "job"), "--processes", "2",
                       "--job-name", f"ui-{tmp_path.name[-20:]}".replace("_", "-")])
    with prepared_job(args) as (job, _):
        server = serve(WorkerSite(job), 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield job, f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        server.server_close()


def page_for(browser):
    page = browser.new_page()
    page.route("https://assets.crowd.aws/**", lambda route: route.abort())  # no network: never reached
    return page


def test_welding_worker_labels_an_object_and_it_reaches_the_output_manifest(browser, welding_site):
    job, base = welding_site
    page = page_for(browser)
    page.goto(f"{base}/")
    page.fill("input[name=worker]", "ana")
    page.click("text=Start")
    page.wait_for_url(f"{base}/worker/ana")
    assert "You answered 0 of 18" in page.inner_text("#progress")
    page.click("text=Object 0")
    page.wait_for_function("Array.from(document.images).filter(i => i.src.includes('127.0.0.1')).length === 4")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 4 and all(width > 0 for width in widths)
    page.check("input[value='Burn Through']")
    page.click("text=Submit")
    page.wait_for_url(f"{base}/worker/ana")
    assert "You answered 1 of 18" in page.inner_text("#progress")
    [row] = [r for r in job.output_manifest() if r["source"].endswith("dataset-01.json")]
    label = row["welding-quality"]
    assert label["WeldingClassification"] == "Burn Through" and label["workers"] == 1
    answers = job.answers()["0"]
    assert answers[0]["workerId"] == "ana" and answers[0]["answerContent"] == {"WeldingClassification": {"label": "Burn Through"}}


def test_a_worker_never_gets_the_same_object_twice(browser, welding_site):
    job, base = welding_site
    job.record_answer("3", "bo", {"WeldingClassification": {"label": "Good Weld"}})
    page = page_for(browser)
    page.goto(f"{base}/worker/bo")
    links = page.eval_on_selector_all("#queue a", "as => as.map(a => a.textContent)")
    assert "Object 3" not in links and len(links) == 17
    page.goto(f"{base}/worker/bo/task/3")  # answered already (and full): back to the queue
    assert page.url == f"{base}/worker/bo"
