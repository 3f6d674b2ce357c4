"""A local job through expert review in a real headless Chromium (system browser, Playwright): a worker
labels an object in the task page, its low confidence sends it to review, the requester sees it waiting,
a reviewer signs in, sees the worker's answer beside the crowd's label and confidence, picks another
label, and the final manifest records the reviewer's label with its provenance."""
from __future__ import annotations

import json

from playwright.sync_api import expect

from gt_common.review import ReviewSettings
from local_ground_truth.reviewer import PREVIEW_MESSAGE
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.worker_names import path_segment
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job
from tests.test_worker_pages_browser import CONTRAST, SMALL_TARGETS

QUESTION = "WeldingClassification"
LABEL = "welding-quality"
WORKER = "ana <b>bold</b>"  # shown as typed everywhere, never as markup
REVIEWER = "Dr. Okafor"
# Clicks inside the preview are DOM clicks (dispatch_event), not mouse clicks: headless Chromium gives a sandboxed
# frame a process of its own, and after a mouse click there the page's next mouse click is lost under Playwright
# (measured: a radio on the page stayed unchecked; with --disable-features=IsolateSandboxedIframes it was checked).
REACH_PARENT = "() => { try { return parent.document.title; } catch (error) { return 'refused'; } }"
REACH_STORAGE = "() => { try { return localStorage.length; } catch (error) { return 'refused'; } }"


def watched_page(browser, problems: list[str]):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.route("https://assets.crowd.aws/**", lambda route: route.abort())  # no network: never reached
    page.on("dialog", lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text else None)
    return page


def test_a_low_confidence_object_reaches_the_reviewer_and_the_decision_lands_in_the_final_manifest(
        browser, runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")  # dev: one worker per object; review turned on as --review does
    settings = ReviewSettings(enabled=True, threshold=spec.review.threshold)
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "revb")) as job:
        server = WorkerServer(WorkerSite(job, review=settings), port=0).start()
        try:
            problems: list[str] = []
            base = server.url
            # A worker labels object 0 in the task page; alone, with no history, the vote is worth about 0.8.
            worker = watched_page(browser, problems)
            worker.goto(f"{base}/")
            worker.fill("input[name=worker]", WORKER)
            worker.click("text=Start")
            worker.wait_for_url(f"{base}/worker/{path_segment(WORKER)}")
            worker.goto(f"{base}/worker/{path_segment(WORKER)}/task/0")
            worker.check("input[value='Burn Through']")
            worker.click("text=Submit")
            worker.wait_for_function("!location.pathname.endsWith('/task/0')")
            assert server.site.consolidator.wait_idle(timeout=120)
            crowd = job.consolidated_labels()["0"]["label"][QUESTION]
            assert crowd["label"] == "Burn Through" and crowd["confidence"] < settings.threshold

            # The requester sees it waiting and follows the link to the review page.
            requester = watched_page(browser, problems)
            requester.goto(f"{base}/requester")
            expect(requester.locator("#review-state")).to_contain_text("1 awaits review", timeout=30_000)
            expect(requester.locator("#object-0")).to_contain_text("awaiting review")
            requester.click("#review-link")
            requester.wait_for_url(f"{base}/review")

            # The reviewer signs in and opens the object from their queue.
            requester.fill("#reviewer-name", REVIEWER)
            requester.click("#sign-in button")
            requester.wait_for_url(f"{base}/review/Dr.%20Okafor")
            assert "1 for you" in requester.inner_text("#review-counts")
            requester.click("#start")
            requester.wait_for_url("**/object/0")
            review = requester
            row = review.locator("#answers tr.worker")
            expect(row).to_have_count(1)
            assert row.locator("td").nth(0).inner_text() == WORKER and review.locator("#answers b").count() == 0
            assert row.locator("td").nth(1).inner_text() == "Burn Through"
            assert f"Burn Through (confidence {crowd['confidence']:.2f})" in review.inner_text("#crowd-row")
            assert "confidence under the threshold" in review.inner_text("#reasons")
            assert review.is_checked("input[value='Burn Through']")  # the form starts at the crowd's label
            assert review.locator("input[value='Not sure']").count() == 0  # an expert decides; abstaining is not it
            # Below the form, the task as workers saw it: the weld's image and plots, loaded, and nothing to submit.
            task = review.frame_locator("#task-frame")
            expect(task.locator("#local-gt-preview")).to_contain_text("Preview of object 0")
            images = task.locator("classification-target img")
            expect(images.first).to_be_visible()
            assert review.evaluate("[scrollY, document.activeElement.tagName]") == [0, "BODY"]  # the frame takes no focus
            # On a wide screen the evidence is beside the answers and the decision, all in view without scrolling.
            frame_box, answers_box, decide_box = (review.locator(s).bounding_box()
                                                  for s in ("#task-frame", "#answers", "#decide"))
            assert frame_box["x"] + frame_box["width"] <= min(answers_box["x"], decide_box["x"])
            assert decide_box["y"] + decide_box["height"] <= 800 and frame_box["y"] < 200
            assert review.inner_text("#progress") == "1 awaits your decision, this one included"
            assert images.count() >= 4  # the camera image and the three plots
            images.first.scroll_into_view_if_needed()
            assert all(images.nth(i).evaluate("i => i.decode().then(() => i.naturalWidth > 0)")
                       for i in range(images.count()))
            # The template's scripts run sandboxed: they cannot reach the review page or its storage, and its
            # Submit sends nothing.
            frame = next(f for f in review.frames if f.url.endswith("/object/0/task"))
            assert frame.evaluate(REACH_PARENT) == "refused" and frame.evaluate(REACH_STORAGE) == "refused"
            # Drawn as workers see it: the runner's page around the template sets the font.
            assert frame.evaluate("getComputedStyle(document.body).fontFamily") == "system-ui, sans-serif"
            task.locator("button.local-gt-submit").dispatch_event("click")  # a DOM click (see above)
            expect(task.locator(".local-gt-status")).to_have_text(PREVIEW_MESSAGE)

            # The reviewer picks another label; the page goes on (nothing else awaits them).
            review.check("input[value='Lack of Fusion']")
            review.click("#decide")
            review.wait_for_url("**/review/Dr.%20Okafor?saved=0")
            assert review.inner_text("#notice") == (f"Saved your decision on object 0 ({QUESTION}: Lack of Fusion). "
                                                   "Nothing else awaits you. Thank you!")
            assert "Lack of Fusion" in review.inner_text("#decided")

            # The final manifest, linked from the requester's page, has the reviewer's label and provenance.
            requester = watched_page(browser, problems)
            requester.goto(f"{base}/requester")
            expect(requester.locator("#review-state")).to_contain_text("0 await review", timeout=30_000)
            expect(requester.locator("#object-0")).to_contain_text(f"decided by {REVIEWER}")
            # The object's row shows the final label: the expert's, the crowd's beside it.
            expect(requester.locator("#object-0")).to_contain_text(
                f"{QUESTION}: Lack of Fusion (expert; crowd: Burn Through ({crowd['confidence']:.2f}))")
            href = requester.get_attribute("#final-manifest", "href")
            manifest = requester.request.get(f"{base}{href}")
            assert manifest.ok
            lines = [json.loads(line) for line in manifest.text().splitlines()]
            assert len(lines) == len(job.lines)
            line = lines[0]
            assert line[LABEL][QUESTION]["label"] == "Lack of Fusion"
            assert line[f"{LABEL}-metadata"]["decided-by"] == "reviewer"
            assert line[f"{LABEL}-metadata"]["reviewer"] == REVIEWER
            assert line[f"{LABEL}-metadata"]["crowd"][QUESTION] == {"label": "Burn Through",
                                                                     "confidence": crowd["confidence"]}
            assert line[f"{LABEL}-metadata"]["review-reasons"] == ["low-confidence"]
            assert job.output_manifest()[0][LABEL][QUESTION]["label"] == "Burn Through"  # the crowd's output kept
            assert problems == []
        finally:
            server.stop()


def test_what_a_reviewer_does_in_the_ner_preview_never_holds_up_or_leaks_into_the_decision(
        browser, runner_assembly, tmp_path):
    """The NER template asks before leaving unsaved tags and keeps drafts in the browser: in the preview neither may
    happen (a decision stuck on "Saving..." behind a "Leave site?" dialog; one reviewer's tags shown to the next
    as the task workers saw)."""
    spec = read_workflow(runner_assembly, "ner")
    settings = ReviewSettings(enabled=True, threshold=spec.review.threshold)
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "revn")) as job:
        job.record_answer("0", "ana", {"abstract": {"entities": [{"label": "Background", "startOffset": 0,
                                                                 "endOffset": 5}]}, "isGoodAbstract": {"label": "Yes"}})
        job.consolidate()
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False, review=settings), port=0).start()
        try:
            problems: list[str] = []
            review = watched_page(browser, problems)
            review.set_viewport_size({"width": 390, "height": 844})  # a phone: the evidence comes before the decision
            review.goto(f"{server.url}/review/Rev/object/0")
            order = [review.locator(s).bounding_box()["y"] for s in ("#answers", "#task-frame", "#decide")]
            assert order == sorted(order)
            task = review.frame_locator("#task-frame")
            task.locator("input[name=isGoodAbstractChoice][value=No]").dispatch_event("click")  # a DOM click (see above)
            expect(task.locator("input[name=isGoodAbstractChoice][value=No]")).to_be_checked()  # unsaved work now
            frame = next(f for f in review.frames if f.url.endswith("/object/0/task"))
            assert frame.evaluate(REACH_PARENT) == "refused" and frame.evaluate(REACH_STORAGE) == "refused"
            # The server cannot be reached: the page says it cannot tell whether the decision was saved.
            review.route("**/decision", lambda route: route.abort())
            review.click("#accept-crowd")
            expect(review.locator("#review-notice")).to_contain_text("Could not reach the labeling server")
            review.unroute("**/decision")
            review.click("#accept-crowd")
            review.wait_for_url("**/review/Rev?saved=0")  # on, with no dialog in the way
            assert "Yes" in review.inner_text("#decided")
            assert problems == []
        finally:
            server.stop()


def test_a_reviewer_decides_with_the_keyboard_alone_and_reads_every_reason_at_768_px(browser, runner_assembly, tmp_path):
    """The reasons beside the crowd's label were #9a6700 on the routed cell's #fff4ce: 4.42:1, under WCAG AA's 4.5."""
    spec = read_workflow(runner_assembly, "welding")
    settings = ReviewSettings(enabled=True, threshold=spec.review.threshold)
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "revk")) as job:
        job.record_answer("0", "ana", {QUESTION: {"label": "Burn Through"}})
        job.consolidate()
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False, review=settings), port=0).start()
        try:
            problems: list[str] = []
            review = watched_page(browser, problems)
            review.set_viewport_size({"width": 768, "height": 1024})
            for path in ("", "/Kim", "/Kim/object/0"):
                review.goto(f"{server.url}/review{path}")
                assert review.get_by_role("main").count() == 1 and review.get_by_role("heading", level=1).count() == 1
                assert review.get_by_role("main").get_by_role("heading", level=2).count() >= 1
                assert review.evaluate(CONTRAST) == [], path
                assert review.evaluate("document.documentElement.scrollWidth") <= 768, path
            expect(review.locator("#crowd-row .reasons")).to_have_text("confidence under the threshold")
            decision = review.get_by_role("group", name=QUESTION)
            assert decision.get_by_role("radio").count() == 6
            assert review.get_by_role("button", name="Save this decision").count() == 1
            # From the top of the page: Tab to the crowd's label (past the preview's own controls), the arrow to the
            # next one, Tab past "Accept the crowd's labels" to Save, Enter.
            for _ in range(30):
                review.keyboard.press("Tab")
                if review.evaluate("document.activeElement.type") == "radio":
                    break
            assert review.evaluate("document.activeElement.value") == "Burn Through"
            review.keyboard.press("ArrowDown")
            assert review.is_checked("input[value='Contamination']")
            review.keyboard.press("Tab")
            review.keyboard.press("Tab")
            assert review.evaluate("document.activeElement.id") == "decide"
            review.keyboard.press("Enter")
            review.wait_for_url("**/review/Kim?saved=0")
            assert "Contamination" in review.inner_text("#decided")
            # The preview's own controls (a welding task's eight) sit before the form: the page's first link skips
            # them (it came after the header's "Requester's view", which Enter on the first Tab left the page by).
            review.goto(f"{server.url}/review/Kim/object/0")
            review.keyboard.press("Tab")
            assert review.evaluate("document.activeElement.id") == "skip-to-decision"
            assert review.locator("#skip-to-decision").is_visible()  # shown once it has the focus
            review.keyboard.press("Enter")
            review.keyboard.press("Tab")
            assert review.evaluate("[document.activeElement.type, document.activeElement.value]") == ["radio",
                                                                                                   "Contamination"]
            assert review.evaluate(CONTRAST) == []
            assert problems == []
        finally:
            server.stop()


def test_a_name_of_64_letters_without_a_space_keeps_every_page_inside_a_phones_width(browser, runner_assembly,
                                                                                        tmp_path):
    """Worker and reviewer names may be 64 characters with no space (``worker_names``): the worker's queue heading and
    the review header ran 1,900 px and 250 px off a 375 px phone, and the page scrolled sideways."""
    spec = read_workflow(runner_assembly, "welding")
    settings = ReviewSettings(enabled=True, threshold=spec.review.threshold)
    worker, reviewer = "W" * 64, "E" * 64
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "revw")) as job:
        job.record_answer("0", worker, {QUESTION: {"label": "Burn Through"}})
        job.consolidate()
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False, review=settings), port=0).start()
        try:
            page = watched_page(browser, [])
            page.set_viewport_size({"width": 375, "height": 740})
            for path in (f"/worker/{path_segment(worker)}", f"/review/{path_segment(reviewer)}",
                         f"/review/{path_segment(reviewer)}/object/0"):
                page.goto(f"{server.url}{path}")
                assert page.locator("h1").first.is_visible()
                assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
            assert worker in page.inner_text("#object").replace("\n", "")  # the answer's worker, wrapped in its cell
            # A class named with a long unbroken word (a scaffolded workflow's label) wraps in the decision's fieldset,
            # which is otherwise as wide as its longest line.
            page.evaluate("""() => { const label = document.querySelector('#decision-form fieldset label');
                label.lastChild.after(' ' + 'Unbroken'.repeat(12)); }""")
            assert page.evaluate("[document.documentElement.scrollWidth, (s => s.scrollWidth - s.clientWidth)("
                                 "document.getElementById('decision-section'))]") == [375, 0]
        finally:
            server.stop()


def test_on_a_tablet_every_control_of_the_review_fits_a_finger(browser, runner_assembly, tmp_path):
    """The name field was 21 px tall, Review 34, each class of the decision 21, Start with the first object 16."""
    spec = read_workflow(runner_assembly, "welding")
    settings = ReviewSettings(enabled=True, threshold=spec.review.threshold)
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "revt")) as job:
        job.record_answer("0", "ana", {QUESTION: {"label": "Burn Through"}})
        job.consolidate()
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False, review=settings), port=0).start()
        context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
        try:
            page = context.new_page()
            page.route("https://assets.crowd.aws/**", lambda route: route.abort())
            for path in ("", "/Kim", "/Kim/object/0"):
                page.goto(f"{server.url}/review{path}")
                assert page.evaluate(SMALL_TARGETS) == [], path
            assert page.locator("#decision-form input[type=radio]").count() == 6  # the decision's classes were measured
            page.tap("#decision-form label:has(input[value='Contamination'])")
            assert page.is_checked("input[value='Contamination']")
        finally:
            context.close()
            server.stop()
