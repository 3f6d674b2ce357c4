"""A team on other machines, in a real headless Chromium: the server listens on an address other than 127.0.0.1 with
the job's links; a worker opens the workers' link, labels a task whose images come through the server's signed
links, an expert opens the experts' link and sees the task's images in the review page's sandboxed preview, and
neither gets into a part of the server their link is not for."""
from __future__ import annotations

from playwright.sync_api import expect

from gt_common.review import ReviewSettings
from local_ground_truth.__main__ import team_links
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import read_workflow
from local_ground_truth.team_access import EXPERT, REQUESTER, WORKER, TeamKeys
from tests.runner_helpers import job_name, local_job
from tests.test_review_browser import watched_page

TEAM_HOST = "127.0.0.2"  # not the default address: the server serves as it does on a network, with links


def test_a_worker_and_an_expert_work_through_their_links_and_only_there(browser, runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")  # dev: one worker per object, so each answer is routed
    keys = TeamKeys.kept_in(tmp_path / "keys.json")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "team")) as job:
        site = WorkerSite(job, review=ReviewSettings(enabled=True, threshold=spec.review.threshold))
        server = WorkerServer(site, port=0, host=TEAM_HOST, team=keys).start()
        try:
            links = team_links(server, keys)
            problems: list[str] = []
            stranger = watched_page(browser, problems)
            stranger.goto(f"{server.url}/worker/ana/next")
            assert "open to its team only" in stranger.inner_text("body")  # no link, no task
            assert job.workers_of("0") == set()

            worker = watched_page(browser, problems)
            worker.goto(links[WORKER])
            assert worker.url == f"{server.url}/"  # the key is out of the address once the cookie holds it
            worker.fill("input[name=worker]", "ana")
            worker.click("text=Start")
            worker.click("#start")
            worker.wait_for_url("**/task/*")
            images = worker.locator("classification-target img")
            expect(images).to_have_count(4)
            assert all(src.startswith(f"{server.url}/media/") for src in images.evaluate_all("is => is.map(i => i.src)"))
            assert images.evaluate_all("is => Promise.all(is.map(i => i.decode().then(() => i.naturalWidth > 0)))") \
                == [True] * 4
            object_id = worker.url.rsplit("/task/", 1)[1]
            worker.keyboard.press("2")
            worker.keyboard.press("Enter")
            worker.wait_for_function(f"!location.pathname.endsWith('/task/{object_id}')")
            assert job.answer_of(object_id, "ana") is not None
            assert site.consolidator.wait_idle(timeout=120)
            worker.goto(f"{server.url}/requester")
            assert "the requester's link" in worker.inner_text("body")  # a worker's link opens no more

            expert = watched_page(browser, problems)
            expert.goto(links[EXPERT])
            assert expert.url == f"{server.url}/review"
            expert.fill("#reviewer-name", "Dr. Okafor")
            expert.click("#sign-in button")
            expert.click("#start")
            expert.wait_for_url(f"**/object/{object_id}")
            preview = expert.frame_locator("#task-frame").locator("classification-target img")
            expect(preview).to_have_count(4)
            assert preview.evaluate_all("is => Promise.all(is.map(i => i.decode().then(() => i.naturalWidth > 0)))") \
                == [True] * 4  # the sandboxed frame sends no cookie: its images come by their signed links alone
            expert.goto(f"{server.url}/worker/ana")
            assert "the workers' link" in expert.inner_text("body")

            requester = watched_page(browser, problems)
            requester.goto(links[REQUESTER])
            expect(requester.get_by_role("main").locator("#team-links")).to_contain_text(links[WORKER])  # in the main
            expect(requester.locator("#review-state")).to_contain_text("1 await review")
            assert not [p for p in problems if "403" not in p], problems
        finally:
            server.stop()
