"""The review page on AWS as an expert meets it, in a real headless Chromium (system browser, Playwright).

The whole chain runs on real parts: three crowd workers' answers (one of them hostile, in its worker id and
its note) go through the generic consolidation function; the crowd job's output line goes through the start
function's selection into a review manifest line; the review job's pre-labeling function builds the task
input; ``ui_templates/expert_review.liquid.html`` is rendered by the Liquid engine with it and opened with
the offline crowd elements (Ground Truth's are not reachable offline: the runner's stand-in is served in
their place, as every browser test does). The expert reads the crowd's answers and label, decides, and
submits; what the form posts goes through the review consolidation function as Ground Truth would send it,
and its result through the merge function into the final manifest, with the expert's provenance.
"""
from __future__ import annotations

import json

import pytest

from consolidation import handler as consolidation
from expert_review import decision, layout, merge, start, task
from expert_review.manifests import parse_lines
from gt_common.questions import QUESTIONS_ENV, Classification, FreeText, MultiSelect, questions_to_json
from gt_common.review import BY_REVIEWER, DECIDED_BY, REASONS_KEY, REVIEWER_KEY
from gt_common.task_record import RECORDS_ENV
from local_ground_truth.liquid import render_source
from tests.consolidation_helpers import answered_by, configure, run
from tests.test_expert_review_lambdas import (  # noqa: F401 - configured and sagemaker are fixtures
    CROWD_JOB, FINAL_KEY, REVIEW_JOB, configured, consolidation_event, crowd_output_key, described, expert,
    put_manifest, read_lines, review_output, sagemaker, state_change,
)
from tests.test_local_runner_browser import open_task_page, page_for
from workflows.model import REPO_ROOT

LABEL = "weld-quality"  # the crowd job's label attribute (described() answers with it)
DEFECT = Classification(name="defect", choices=("Good", "Burn Through", "Porosity", "Not sure"), abstain="Not sure")
FLAWS = MultiSelect(name="flaws", choices=("crack", "pore", "spatter"))
NOTE = FreeText(name="note")
QUESTIONS = (DEFECT, FLAWS, NOTE)
HOSTILE_WORKER = "<img src=x onerror=window.__pwned=1>"
HOSTILE_NOTE = "</code><img src=x onerror=window.__pwned=2><script>window.__pwned=3</script>"
TEMPLATE = REPO_ROOT / "ui_templates" / "expert_review.liquid.html"
PAGE_URL = "https://review.test/task"
SUBMIT_URL = "https://review.test/submit"
DONE_URL = "https://review.test/done"
SIGNED = "https://signed.test/"
EXPERT_ID = "private.us-east-1.5f0e2c7a-expert"
PNG = REPO_ROOT / "docs" / "screenshots" / "welding-worker.png"  # any real image


@pytest.fixture
def crowd_output(configured, s3, monkeypatch):
    """The crowd job's output manifest line of one weld run, as Ground Truth writes it from the generic
    consolidation function's label (majority vote: the vote share is the confidence, plain to check)."""
    bucket = configured
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    configure(monkeypatch, QUESTIONS, "majority-vote")
    dataset = {"image": {"s3Path": f"s3://{bucket}/data/images/run-7.png"},
               "sensor_data": {"s3Path": f"s3://{bucket}/data/sensor/run-7.csv"}}
    s3.put_object(Bucket=bucket, Key="data/datasets/run-7.json", Body=json.dumps(dataset).encode())
    line = {"source-ref": f"s3://{bucket}/data/datasets/run-7.json"}
    labels = run(s3, bucket, [answered_by(0, {
        "private.us-east-1.ana": {"defect": {"label": "Burn Through"}, "flaws": {"labels": ["crack"]},
                                  "note": "edge looks burnt"},
        HOSTILE_WORKER: {"defect": {"label": "Porosity"}, "flaws": {"labels": ["crack", "pore"]}, "note": HOSTILE_NOTE},
        "private.us-east-1.bo": {"defect": {"label": "Burn Through"}, "flaws": {"labels": ["crack"]}},
    }, line)], label=LABEL)
    consolidation.s3_client.cache_clear()
    monkeypatch.setenv(QUESTIONS_ENV, questions_to_json(QUESTIONS))  # the review functions' own questions
    return {**line, LABEL: labels["0"],
            f"{LABEL}-metadata": {"job-name": f"labeling-job/{CROWD_JOB}", "type": "groundtruth/custom",
                                  "human-annotated": "yes", "creation-date": "2026-11-28T06:00:00"}}


class ReviewPage:
    """The rendered review page in Chromium, the crowd elements' stand-in in place of Ground Truth's."""

    def __init__(self, browser, html: str, files: dict[str, tuple[bytes, str]]) -> None:  # noqa: F811
        self.page = page_for(browser)
        self.page.route(f"{SIGNED}**", lambda route: route.fulfill(
            body=files[route.request.url][0], content_type=files[route.request.url][1]))
        self.posted = open_task_page(self.page, html, PAGE_URL, SUBMIT_URL, DONE_URL)


def test_an_expert_decides_on_the_review_page_and_the_decision_reaches_the_final_manifest(
        browser, configured, s3, sagemaker, crowd_output):  # noqa: F811
    bucket = configured
    crowd = crowd_output[LABEL]
    assert (crowd["defect"]["label"], crowd["defect"]["votes"]) == ("Burn Through", {"Burn Through": 2, "Porosity": 1})
    assert HOSTILE_WORKER in json.dumps(crowd["note"])  # the consolidation kept the worker id as it came

    # -- the start function routes it; the review job's pre-labeling builds the page's input ---------------
    [routed] = start.select(parse_lines(json.dumps(crowd_output) + "\n", "output manifest"), LABEL, QUESTIONS, 0.9)
    assert routed[layout.REVIEW_FIELD]["reasons"] == ["low-confidence"]
    response = task.lambda_handler({"version": "2018-10-06", "labelingJobArn": f"arn:{REVIEW_JOB}",
                                    "dataObject": routed}, None)
    shown = response["taskInput"]
    html = render_source(TEMPLATE.read_text(), shown, lambda uri: SIGNED + uri.removeprefix(f"s3://{bucket}/"))
    files = {f"{SIGNED}data/images/run-7.png": (PNG.read_bytes(), "image/png"),
             f"{SIGNED}data/sensor/run-7.csv": (b"t,current\n0,120\n", "text/csv"),
             f"{SIGNED}data/datasets/run-7.json": (b"{}", "application/json")}

    page = ReviewPage(browser, html, files)
    view = page.page

    # -- what the expert sees: the object, the crowd's answers and label, why it is here, all escaped -------
    view.wait_for_function("Array.from(document.querySelectorAll('.review-object img'))"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    assert view.locator(".review-object img").count() == 1
    assert view.locator(".review-object a", has_text="Open run-7.csv").count() == 1
    text = view.inner_text("crowd-form")
    assert "Sent to review because: low-confidence" in text and "(3 crowd workers answered)" in text
    defect, flaws, others = view.locator("section.review-question").all()
    assert "The crowd's label: Burn Through" in defect.inner_text()
    assert f"confidence {crowd['defect']['confidence']}" in defect.inner_text()
    assert view.eval_on_selector_all("section.review-question:nth-of-type(1) .review-votes tr",
                                     "rows => rows.map(r => r.innerText.replace(/\\s+/g, ' ').trim())") == [
        "label crowd votes", "Burn Through 2", "Porosity 1"]
    assert crowd["flaws"]["labels"] == ["crack"] and "The crowd's label: crack (" in flaws.inner_text()
    # The hostile worker id and note are text on the page, never markup: no image, no script ran.
    assert HOSTILE_WORKER in others.inner_text() and HOSTILE_NOTE in others.inner_text()
    assert view.locator("img[src='x']").count() == 0 and view.locator("crowd-form script").count() == 0
    assert view.evaluate("window.__pwned") is None
    # One choice per decidable label; "Not sure" is no decision.
    assert view.eval_on_selector_all("crowd-radio-button[name^='defect:']", "els => els.map(e => e.getAttribute('value'))") == [
        "Good", "Burn Through", "Porosity"]
    checked = view.eval_on_selector_all("crowd-checkbox[name^='flaws:'] input", "els => els.map(e => e.checked)")
    assert checked == [choice in crowd["flaws"]["labels"] for choice in FLAWS.choices]  # the crowd's choices

    # -- the expert decides: Porosity, and the flaws crack and spatter ------------------------------------
    view.click("crowd-radio-button[value='Porosity']")
    for choice in FLAWS.choices:
        box = view.locator(f"crowd-checkbox[value='{choice}'] input")
        if box.is_checked() != (choice in ("crack", "spatter")):
            view.click(f"crowd-checkbox[value='{choice}']")
    view.click(".local-gt-submit")
    view.wait_for_url(DONE_URL)
    [body] = page.posted
    form = json.loads(body)
    # crowd-form's answer: each radio button and each checkbox under its own name, {"<name>": {"<value>": true|false}}.
    assert form == {"defect:Good": {"Good": False}, "defect:Burn Through": {"Burn Through": False},
                    "defect:Porosity": {"Porosity": True}, "flaws:crack": {"crack": True},
                    "flaws:pore": {"pore": False}, "flaws:spatter": {"spatter": True}}

    # -- the review job's consolidation reads it as Ground Truth delivers it (the form as a JSON string) ---
    event = consolidation_event(s3, bucket, [{"datasetObjectId": "0", "dataObject": {"source-ref": routed["source-ref"]},
                                              "annotations": [expert(EXPERT_ID, body.decode())]}])
    [entry] = decision.lambda_handler(event)
    label = entry["consolidatedAnnotation"]["content"]["expert-review"]
    assert label == {"decision": {"defect": "Porosity", "flaws": ["crack", "spatter"]}, "reviewer": EXPERT_ID}

    # -- the review job completes: the merge writes the final manifest -------------------------------------
    put_manifest(s3, bucket, crowd_output_key(), [crowd_output])
    review_output(bucket, s3, [{**routed, "expert-review": label}])
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", described(CROWD_JOB, bucket), {"LabelingJobName": CROWD_JOB})
    assert merge.lambda_handler(state_change(REVIEW_JOB))["decided"] == 1
    [final] = read_lines(s3, bucket, FINAL_KEY)
    assert final["source-ref"] == crowd_output["source-ref"]
    assert final[LABEL]["defect"] == {"label": "Porosity", "votes": crowd["defect"]["votes"]}
    assert final[LABEL]["flaws"]["labels"] == ["crack", "spatter"] and "confidence" not in final[LABEL]["flaws"]
    assert final[LABEL]["note"] == crowd["note"]  # the crowd's other answers, kept as they are
    metadata = final[f"{LABEL}-metadata"]
    assert (metadata[DECIDED_BY], metadata[REVIEWER_KEY], metadata[REASONS_KEY]) == (
        BY_REVIEWER, EXPERT_ID, ["low-confidence"])
    assert metadata["crowd"] == {
        "defect": {"label": "Burn Through", "confidence": crowd["defect"]["confidence"]},
        "flaws": {"labels": crowd["flaws"]["labels"], "confidence": crowd["flaws"]["confidence"]}}


def test_long_unbroken_input_wraps_and_the_review_page_keeps_its_width(browser):  # noqa: F811
    """A file's S3 URI, a URL in an inline text, a label of one long word and a worker's note of one ran the page to
    2,356 px at 375 px and at 1280 px: the expert scrolled sideways to read the crowd's answers."""
    word = "Unbroken" * 12
    labels = ["Category with a rather long descriptive name number one", word]
    task_input = {
        "source": "Data at https://example.org/" + "a/b" * 100 + " .", "sourceIsS3": False,
        "files": [{"name": "s3://bucket/" + "x" * 180 + ".json", "uri": "s3://bucket/x.json", "isImage": False}],
        "reasons": ["low-confidence"], "workers": 3,
        "questions": [{"name": "kind", "reasons": ["low-confidence"], "multi": False, "labels": labels,
                       "buttons": [{"name": f"kind:{label}", "label": label, "checked": False} for label in labels],
                       "crowdLabel": word, "confidence": 0.5, "votes": [{"label": label, "count": 1}
                                                                         for label in labels]}],
        "otherAnswers": [{"name": "note", "value": "x" * 300}]}
    page = page_for(browser)
    open_task_page(page, render_source(TEMPLATE.read_text(), task_input, lambda uri: SIGNED + "x"), PAGE_URL,
                   SUBMIT_URL, DONE_URL)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.inner_text(".review-votes th >> nth=1") == "crowd votes"  # a heading's words kept whole
    assert page.inner_text(".review-object pre") == task_input["source"]
