"""The reviewer's side of the worker server: what awaits review, decisions checked, durable, replaced,
read back after a restart, and the final manifest with who decided what."""
from __future__ import annotations

import dataclasses
import http.client
import json
import logging
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from markupsafe import escape

from gt_common.questions import Classification, Spans, YesNo
from gt_common.review import ReviewSettings, final_manifest_key
from local_ground_truth.requester import snapshot
from local_ground_truth.review_desk import (
    DECISIONS_FOLDER, SHOWN_SPAN_CHARACTERS, SHOWN_TEXT_CHARACTERS, ReviewDesk, _shown_answer,
)
from local_ground_truth.reviewer import PREVIEW_POLICY, reason_text, routing_rule
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import read_workflow
from local_ground_truth.wording import shown_confidence
from tests.runner_helpers import job_name, local_job

QUESTION = "WeldingClassification"
LABEL = "welding-quality"
ON = ReviewSettings(enabled=True, threshold=0.9)


@contextmanager
def reviewed_job(spec, store, name, settings=ON):
    """A welding job (dev: one worker per object) with four objects answered and consolidated: one vote
    and no history is worth about the prior, 0.8, so each is under the threshold and routed."""
    with local_job(spec, store, name) as job:
        for object_id, worker, label in (("0", "ana", "Good Weld"), ("1", "ben", "Burn Through"),
                                         ("2", "ana", "Not sure"), ("3", "ben", "Contamination")):
            if object_id not in job.consolidated_labels():
                job.record_answer(object_id, worker, {QUESTION: {"label": label}})
        job.consolidate()
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False, review=settings), port=0).start()
        try:
            yield job, server
        finally:
            server.stop()


def call(server, method: str, path: str, body=None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload


def decide(server, reviewer: str, object_id: str, decision, headers: dict | None = None):
    status, payload = call(server, "POST", f"/review/{quote(reviewer, safe='')}/object/{object_id}/decision",
                           {"decision": decision} if not isinstance(decision, bytes) else decision, headers)
    return status, json.loads(payload) if payload.startswith(b"{") else payload


def final_manifest(job) -> list[dict]:
    # A rewrite that took over 0.1 s (a loaded machine) puts the next one off (spaced_rewrite): a reader flushes.
    job.flush_rewrites()
    body = job.s3.get_object(Bucket=job.bucket, Key=final_manifest_key(job.root))["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def decision_files(job) -> list[str]:
    listed = job.s3.list_objects_v2(Bucket=job.bucket, Prefix=f"{job.root}{DECISIONS_FOLDER}")
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture(scope="module")
def served(runner_assembly, tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, folder / "s3", job_name(folder, "review")) as (job, server):
        yield job, server


def test_routed_objects_await_review_and_the_requester_sees_how_many(served):
    job, server = served
    desk = server.site.review
    assert desk.routed() == ["0", "1", "2", "3"]
    assert desk.reasons("2") == {QUESTION: ["low-confidence", "abstained"]}
    status, page = call(server, "GET", "/review/carla")
    assert status == 200 and b"Object 0" in page and b"Object 3" in page
    assert desk.queue("ana") == [oid for oid in desk.awaiting() if oid not in ("0", "2")]  # not her own answers
    live = snapshot(job, server.site.leases, review=desk)
    assert live["review"]["awaiting"] == len(desk.awaiting()) and live["review"]["routed"] == 4
    status, requester = call(server, "GET", "/requester")
    assert status == 200 and b'id="review-state"' in requester and b'href="/review"' in requester


def test_the_object_page_shows_every_answer_the_crowds_label_and_why(served):
    job, server = served
    status, page = call(server, "GET", "/review/carla/object/2")
    text = page.decode()
    assert status == 200
    assert "ana" in text and "Not sure" in text and "the crowd could not tell" in text
    assert "confidence under the threshold" in text
    assert 'id="accept-crowd" disabled aria-describedby="accept-why"' in text  # the crowd abstained: no label
    assert 'id="accept-why">The crowd\'s answer to a question is no label (its workers could not tell' in text
    awaiting = [oid for oid in server.site.review.queue("carla")]
    assert f'id="progress">{len(awaiting)} await your decision, this one included' in text and "2" in awaiting
    for missing in ("99", "abc"):  # no such object: said as such, not "not for review"
        status, page = call(server, "GET", f"/review/carla/object/{missing}")
        assert status == 404 and f"There is no object {missing} in this job" in page.decode()
    status, page = call(server, "GET", "/review/carla/object/0")
    confidence = job.consolidated_labels()["0"]["label"][QUESTION]["confidence"]
    assert confidence < ON.threshold and f"Good Weld (confidence {confidence:.2f})" in page.decode()


def test_a_named_worker_who_reviews_under_another_name_is_still_kept_from_their_own_answers(served):
    """ben's browser, signed in by his own link, opened the experts' link as "Reviewer B": he was given the object
    he had answered. The browser says who he is, whatever name he types."""
    from local_ground_truth.team_access import EXPERT, REQUESTER, WORKER, TeamKeys, cookie_name

    job, server = served
    keys = TeamKeys("w" * 20, "e" * 20, "r" * 20, {"ben": "b" * 20, "ann": "a" * 20})
    ben = {"Cookie": f"{cookie_name(WORKER, server.port)}={'b' * 20}; {cookie_name(EXPERT, server.port)}={'e' * 20}"}
    assert "ben" in job.workers_of("1")
    server.site.team = keys
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/review/Reviewer%20B/object/1", headers=ben)
        response = connection.getresponse()
        response.read()
        assert response.status == 303  # sent back to the queue, which says another reviewer decides it
        status, page = call(server, "GET", response.getheader("Location"), headers=ben)
        assert status == 200 and "You answered object 1 as a worker; another reviewer decides it." in page.decode()
        expert_only = {"Cookie": f"{cookie_name(EXPERT, server.port)}={'e' * 20}"}  # a browser that is not ben's
        status, page = call(server, "GET", response.getheader("Location"), headers=expert_only)
        assert status == 200 and 'id="notice"' not in page.decode()
        assert 'href="/requester"' not in page.decode()  # the experts' key does not open the requester's page
        requester = {"Cookie": f"{cookie_name(REQUESTER, server.port)}={'r' * 20}"}
        assert 'href="/requester"' in call(server, "GET", "/review/Reviewer%20B", headers=requester)[1].decode()
        status, refused = decide(server, "Reviewer B", "1", {QUESTION: "Good Weld"}, ben)
        assert status == 403 and "You answered object 1 as a worker" in refused["error"]
        assert "1" not in server.site.review.queue("Reviewer B", also="ben")
        assert "1" in server.site.review.queue("Reviewer B")  # a browser that is not ben's may
    finally:
        server.site.team = None


def test_a_complete_job_with_objects_awaiting_review_is_not_called_complete(served):
    """The requester's page said "Job complete... final" above "15 await review of 17 routed"."""
    from flask import Flask, render_template_string

    from local_ground_truth import requester

    job, server = served
    live = {**snapshot(job, server.site.leases, review=server.site.review), "complete": True}
    with Flask(__name__).app_context():
        page = render_template_string(requester._LIVE, s=live)
    assert "Crowd labeling complete, expert review in progress" in page and "Job complete" not in page
    assert "the final manifest, with the\nexperts' decisions, is complete once they have decided" in page
    live["review"] = {**live["review"], "awaiting": 0}
    with Flask(__name__).app_context():
        assert "Job complete" in render_template_string(requester._LIVE, s=live)


def test_two_experts_at_once_are_each_offered_another_object(served):
    """Both were sent to the same next object, and the second one's decision was refused at every step."""
    job, server = served
    desk = server.site.review
    first = desk.queue("dr-kim")[0]
    assert call(server, "GET", f"/review/dr-kim/object/{first}")[0] == 200  # Kim opens it
    lee = desk.queue("dr-lee")
    assert lee[0] != first and first in lee[1:]  # Lee is offered another; Kim's is still there, after it
    assert desk.queue("dr-kim")[0] == first  # Kim's own opening does not move it for her
    status, page = call(server, "GET", "/review/dr-lee")
    assert status == 200 and f'/review/dr-lee/object/{lee[0]}"'.encode() in page


def test_a_bad_label_is_refused_and_nothing_is_recorded(served):
    job, server = served
    before = final_manifest(job)
    for decision, status, reason in [
        ({QUESTION: "Excellent"}, 422, '"Excellent" is not a label of question WeldingClassification'),
        ({QUESTION: "Not sure"}, 422, "is not a label of question"),
        ({"other": "Good Weld"}, 422, "'other' is not a question an expert decides"),
        ({}, 422, "a decision names at least one question"),
        (b'{"decision": {"WeldingClassification": NaN}}', 400, "not a JSON number"),
        (b"[" * 50 + b"]" * 50, 400, "nested"),
        (b'{"decision": {}, "more": 1}', 400, 'Send {"decision"'),
    ]:
        got, answer = decide(server, "carla", "1", decision)
        assert got == status and reason in answer["error"], (decision, got, answer)
    assert decide(server, "carla", "1", {QUESTION: "Good Weld"}, {"Origin": "http://attacker.example"})[0] == 403
    assert decide(server, "carla", "1", {QUESTION: "Good Weld"}, {"Content-Type": "text/plain"})[0] == 415
    assert decide(server, "ben", "1", {QUESTION: "Good Weld"})[0] == 403  # ben answered it as a worker
    assert decide(server, "BEN", "1", {QUESTION: "Good Weld"})[0] == 403  # ... and Ben is ben
    assert decide(server, "carla", "99", {QUESTION: "Good Weld"})[0] == 404
    assert decision_files(job) == [] and final_manifest(job) == before


def test_a_decision_the_store_cannot_save_is_refused_in_words_and_not_kept(served, monkeypatch):
    """A full disk was a bare HTTP 500 and a traceback in the log; the expert was not told their decision was lost."""
    from botocore.exceptions import ClientError

    job, server = served
    before = final_manifest(job)
    saving = job.s3.put_object

    def full_disk(**request):
        if DECISIONS_FOLDER in request["Key"]:
            raise ClientError({"Error": {"Code": "InsufficientStorage", "Message": "the local store could not keep "
                                         "the object on disk: [Errno 28] No space left on device"}}, "PutObject")
        return saving(**request)

    monkeypatch.setattr(job.s3, "put_object", full_disk)
    status, answer = decide(server, "carla", "1", {QUESTION: "Good Weld"})
    assert status == 503 and "Your decision could not be saved" in answer["error"]
    assert "the disk the job is kept on is full" in answer["error"] and "nothing was recorded" in answer["error"]
    assert "Errno" not in answer["error"]  # the store's own message stays in the runner's log
    monkeypatch.undo()
    assert decision_files(job) == [] and final_manifest(job) == before
    assert server.site.review.decision("1") is None


def test_a_decision_lands_in_the_final_manifest_and_a_second_one_replaces_it(served):
    job, server = served
    reviewer = "Dr. O'Brien/李"  # any name, "/" included, travels as one segment
    status, answer = decide(server, reviewer, "3", {QUESTION: "Lack of Fusion"})
    assert status == 200 and answer["recorded"]["reviewer"] == reviewer
    assert answer["next"].startswith(f"/review/{quote(reviewer, safe='')}") and answer["next"].endswith("?saved=3")
    status, page = call(server, "GET", answer["next"])  # the page the reviewer lands on says it was saved
    assert status == 200 and "Saved your decision on object 3 (WeldingClassification: Lack of Fusion)." in page.decode()
    line = final_manifest(job)[3]
    assert line[LABEL][QUESTION]["label"] == "Lack of Fusion"
    assert line[f"{LABEL}-metadata"]["decided-by"] == "reviewer"
    assert line[f"{LABEL}-metadata"]["reviewer"] == reviewer
    crowd = job.consolidated_labels()["3"]["label"][QUESTION]
    assert line[f"{LABEL}-metadata"]["crowd"] == {QUESTION: {"label": "Contamination", "confidence": crowd["confidence"]}}
    assert job.output_manifest()[3][LABEL][QUESTION]["label"] == "Contamination"  # the crowd's output is kept

    assert decide(server, "dana", "3", {QUESTION: "Contamination"})[0] == 200  # accepts the crowd's label
    line = final_manifest(job)[3]
    assert line[LABEL][QUESTION]["label"] == "Contamination"
    assert line[f"{LABEL}-metadata"]["reviewer"] == "dana"
    assert len([key for key in decision_files(job) if f"/{DECISIONS_FOLDER}3/" in key]) == 2  # both on record
    assert "3" not in server.site.review.awaiting()
    status, page = call(server, "GET", f"/review/{quote(reviewer, safe='')}")
    assert status == 200 and "dana" in page.decode()
    # The notice is the server's, from what it recorded: the decision on 3 is dana's now, and an address carries no
    # words of its own onto the page.
    status, page = call(server, "GET", f"/review/{quote(reviewer, safe='')}?saved=3&notice=Sign%20in%20at%20evil")
    assert status == 200 and 'id="notice"' not in page.decode() and "evil" not in page.decode()
    status, page = call(server, "GET", "/review/dana?saved=3")
    assert "Saved your decision on object 3 (WeldingClassification: Contamination)." in page.decode()


def test_objects_not_routed_pass_through_as_crowd(served):
    job, server = served
    lines = final_manifest(job)
    assert len(lines) == len(job.lines)
    for index, line in enumerate(lines):
        if str(index) not in job.consolidated_labels():
            assert line == job.lines[index]  # not labeled yet: as it came
    status, page = call(server, "GET", "/review/carla/object/7")
    assert status == 404 and b"not for review" in page


def test_decisions_survive_a_restart_and_a_corrupt_file_is_left_out(runner_assembly, tmp_path, caplog):
    spec = read_workflow(runner_assembly, "welding")
    store, name = tmp_path / "s3", job_name(tmp_path, "restart")
    with reviewed_job(spec, store, name) as (job, server):
        assert decide(server, "carla", "1", {QUESTION: "Good Weld"})[0] == 200
        assert decide(server, "carla", "0", {QUESTION: "Burn Through"})[0] == 200
        assert decide(server, "dana", "0", {QUESTION: "Lack of Fusion"})[0] == 200
        job.s3.put_object(Bucket=job.bucket, Key=f"{job.root}{DECISIONS_FOLDER}2/2026-x.json", Body=b"{not json")
        job.s3.put_object(Bucket=job.bucket, Key=f"{job.root}{DECISIONS_FOLDER}3/2026-y.json",
                          Body=json.dumps({"objectId": "3", "reviewer": "eve", "decidedAt": "2026-01-01T00:00:00Z",
                                           "decision": {QUESTION: "<script>"}}).encode())
    with caplog.at_level(logging.ERROR), reviewed_job(spec, store, name) as (job, server):
        desk = server.site.review
        assert desk.decision("0").reviewer == "dana" and desk.decision("0").decision == {QUESTION: "Lack of Fusion"}
        assert desk.decision("1").reviewer == "carla"
        assert desk.decision("2") is None and desk.decision("3") is None
        assert any("2026-x.json is left out" in m for m in caplog.messages)
        assert any("2026-y.json is left out" in m and '"<script>" is not a label' in m for m in caplog.messages)
        lines = final_manifest(job)
        assert lines[0][LABEL][QUESTION]["label"] == "Lack of Fusion"
        assert lines[1][f"{LABEL}-metadata"]["reviewer"] == "carla"
        assert lines[2][f"{LABEL}-metadata"] == {**lines[2][f"{LABEL}-metadata"], "decided-by": "crowd",
                                                 "review-reasons": ["low-confidence", "abstained"]}


def test_with_review_off_nothing_is_routed_and_decisions_are_refused(runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")  # dev: review off
    assert spec.review == ReviewSettings(enabled=False)
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "off"), settings=spec.review) as (job, server):
        status, page = call(server, "GET", "/review")
        assert status == 200 and b'id="review-off"' in page
        assert decide(server, "carla", "0", {QUESTION: "Good Weld"})[0] == 409
        assert snapshot(job, server.site.leases, review=server.site.review)["review"] is None
        assert not job.s3.list_objects_v2(Bucket=job.bucket, Prefix=f"{job.root}manifests/output/final").get("Contents")


def test_names_and_pages_are_escaped_and_the_preview_records_nothing(served):
    job, server = served
    hostile = "<img src=x onerror=alert(1)>"
    status, page = call(server, "GET", f"/review/{quote(hostile, safe='')}")
    assert status == 200 and b"<img src=x" not in page and b"&lt;img src=x onerror=alert(1)&gt;" in page
    assert call(server, "GET", "/review/%20ana%20")[0] == 303  # not a name as kept: back to sign-in
    status, page = call(server, "GET", "/review/carla/object/1")
    assert status == 200 and "default-src 'none'" in _policy(server, "/review/carla/object/1")
    status, preview = call(server, "GET", "/review/carla/object/1/task")
    assert status == 200 and b"nothing is recorded" in preview and b"/review/-/preview-submit" in preview
    assert b"window.LOCAL_GT_PREVIEW" in preview  # the crowd elements send nothing from it
    # The template's scripts run in an opaque origin, and only the review page may frame it.
    assert _policy(server, "/review/carla/object/1/task") == PREVIEW_POLICY
    assert PREVIEW_POLICY.startswith("sandbox allow-scripts ") and "allow-same-origin" not in PREVIEW_POLICY
    assert "frame-ancestors 'self'" in PREVIEW_POLICY
    status, answer = call(server, "POST", "/review/-/preview-submit", {QUESTION: {"label": "Good Weld"}})
    assert status == 403 and b"preview" in answer
    assert job.workers_of("1") == {"ben"}


def _policy(server, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.getheader("Content-Security-Policy") or ""


def test_a_span_is_quoted_by_whole_characters_on_one_line_and_by_offsets_alone_without_its_text():
    """A reviewer saw "Background 3-10" and had to count characters in the preview to know what was tagged."""
    from gt_common.span_clustering import Span

    question = Spans(name="abstract", span_labels=("Background", "Methods"))
    text = "We 𝛼-test\nit \u202eon " + "x" * 100  # 𝛼: one code point, two UTF-16 units
    spans = [Span("ana", "Background", 0, 9), Span("ana", "Methods", 10, 18), Span("ana", "Methods", 18, len(text))]
    shown = _shown_answer(question, spans, text)
    assert shown.startswith("3 spans: Background 0-9 \u201cWe 𝛼-test\u201d, Methods 10-18 \u201cit [U+202E]on "
                            "x\u201d, Methods 18-")
    assert shown.endswith("\u201c" + "x" * SHOWN_SPAN_CHARACTERS + "\u2026\u201d")
    assert _shown_answer(question, spans, None).startswith("3 spans: Background 0-9, Methods 10-18")
    assert _shown_answer(question, [Span("ana", "Methods", 0, 500)], "short") == "1 span: Methods 0-500"  # past it


def test_a_ner_object_shows_spans_and_notes_and_only_its_yes_no_is_decided(runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "ner")
    spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=2))
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "ner")) as job:
        job.record_answer("0", "ana", {"abstract": {"entities": [{"label": "Background", "startOffset": 0,
                                                                 "endOffset": 5}]},
                                       "isGoodAbstract": {"label": "Yes"}, "notes": "<i>unclear</i> ending"})
        # A note with a right-to-left override would show its words reversed; a long one pushed the form far down.
        job.record_answer("0", "bo", {"abstract": {"entities": []}, "isGoodAbstract": {"label": "No"},
                                      "notes": "\u202eLTR" + "x" * 5000})
        job.consolidate()
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False, review=ON), port=0).start()
        try:
            assert server.site.review.reasons("0") == {"isGoodAbstract": ["low-confidence"]}  # spans never route
            status, page = call(server, "GET", "/review/carla/object/0")
            text = page.decode()
            assert status == 200 and "&lt;i&gt;unclear&lt;/i&gt; ending" in text
            # Each span's own words beside its offsets (from the text workers tagged), escaped.
            words = str(escape(" ".join(job.task_input("0")["text"][:5].split())))
            assert f"1 span: Background 0-5 \u201c{words}\u201d" in text
            assert "no span" in text and "\u202e" not in text
            assert "[U+202E]LTR" + "x" * (SHOWN_TEXT_CHARACTERS - 4) + "... (5,004 characters in all)" in text
            assert "2 texts\n" in text and "1 spans" not in text  # the crowd's notes
            assert 'data-question="isGoodAbstract"' in text and 'data-question="abstract"' not in text
            status, answer = decide(server, "carla", "0", {"abstract": "Background"})
            assert status == 422 and "'abstract' is not a question an expert decides" in answer["error"]
            assert decide(server, "carla", "0", {"isGoodAbstract": "No"})[0] == 200
            line = final_manifest(job)[0]
            assert line["abstract-sections"]["isGoodAbstract"]["label"] == "No"
            assert line["abstract-sections"]["abstract"] == job.output_manifest()[0]["abstract-sections"]["abstract"]
            assert line["abstract-sections-metadata"]["decided-by"] == "reviewer"
        finally:
            server.stop()


def test_the_runner_reads_review_settings_from_the_stacks_output_and_refuses_bad_ones_by_name():
    from local_ground_truth.stack_reader import StackError, _review_settings

    assert _review_settings({"Outputs": {}}, "S") == ReviewSettings()
    output = {"Outputs": {"ReviewSettings": {"Value": '{"enabled": true, "threshold": 0.75}'}}}
    assert _review_settings(output, "S") == ReviewSettings(True, 0.75)
    for value, named in [("{not json", "its ReviewSettings output is not JSON"),
                         ('{"enabled": "yes"}', "'enabled' must be true or false"),
                         ('{"threshold": 2}', "'threshold' must be a number above 0 and at most 1")]:
        with pytest.raises(StackError) as raised:
            _review_settings({"Outputs": {"ReviewSettings": {"Value": value}}}, "WeldingLabeling-dev")
        assert "stack WeldingLabeling-dev" in str(raised.value) and named in str(raised.value), raised.value


def test_an_abstention_routes_through_the_confidence_unless_the_settings_route_any(runner_assembly, tmp_path):
    """Object 4: two workers agree, one is not sure; object 5: all three agree. Off (the default), the
    abstention counts only through the confidence it lowers; on, it routes object 4 as abstained."""
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "abstain")) as (job, server):
        for object_id, answers in (("4", ("Good Weld", "Good Weld", "Not sure")), ("5", ("Good Weld",) * 3)):
            for worker, label in zip(("ana", "ben", "cy"), answers):
                job.record_answer(object_id, worker, {QUESTION: {"label": label}})
        job.consolidate()
        labels = job.consolidated_labels()
        assert labels["4"]["label"][QUESTION]["label"] == "Good Weld"  # one abstention of three: not the label
        assert labels["4"]["label"][QUESTION]["confidence"] < labels["5"]["label"][QUESTION]["confidence"]
        routed_any = ReviewDesk(job, server.site.questions, ReviewSettings(True, ON.threshold, route_any_abstention=True))
        default = server.site.review
        assert "abstained" not in default.reasons("4").get(QUESTION, [])
        assert routed_any.reasons("4")[QUESTION][-1] == "abstained"
        for desk in (default, routed_any):
            assert "abstained" not in desk.reasons("5").get(QUESTION, [])
            assert "abstained" in desk.reasons("2")[QUESTION]  # "Not sure" is object 2's label: routed either way
        final = {desk: desk.final_lines()[4][f"{LABEL}-metadata"].get("review-reasons", []) for desk in (default, routed_any)}
        assert "abstained" not in final[default] and "abstained" in final[routed_any]


def test_a_decision_made_after_the_page_was_opened_is_not_overwritten_unknowingly(runner_assembly, tmp_path):
    """Two experts open one object; the second to save is told the first decided meanwhile, and saves over it only
    after seeing it (the page sends the decision it showed)."""
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "race")) as (job, server):
        desk = server.site.review
        page = call(server, "GET", "/review/ortiz/object/1")[1].decode()
        assert 'data-replaces=""' in page  # nothing decided when Dr Ortiz opened it
        status, _ = call(server, "POST", "/review/kim/object/1/decision",
                         {"decision": {QUESTION: "Burn Through"}, "replaces": ""})
        assert status == 200
        kims = desk.decision("1")
        status, refusal = call(server, "POST", "/review/ortiz/object/1/decision",
                               {"decision": {QUESTION: "Good Weld"}, "replaces": ""})
        message = json.loads(refusal)["error"]
        assert status == 409 and "kim decided object 1 (WeldingClassification: Burn Through) after you opened it" in message
        assert desk.decision("1") == kims and len(decision_files(job)) == 1  # nothing saved
        reloaded = call(server, "GET", "/review/ortiz/object/1")[1].decode()
        assert f'data-replaces="{kims.key}"' in reloaded and "Decided by <strong>kim</strong>" in reloaded
        status, _ = call(server, "POST", "/review/ortiz/object/1/decision",
                         {"decision": {QUESTION: "Good Weld"}, "replaces": kims.key})
        assert status == 200 and desk.decision("1").reviewer == "ortiz"
        line = final_manifest(job)[1]
        assert line[f"{LABEL}-metadata"]["reviewer"] == "ortiz" and line[LABEL][QUESTION]["label"] == "Good Weld"


def test_a_decision_sent_again_after_its_answer_was_lost_is_saved_once_and_called_saved(runner_assembly, tmp_path):
    """The first POST was saved but its answer never reached the page; Save again said another expert ("ivy")
    decided after the page was opened, and that the decision was not saved."""
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "again")) as (job, server):
        desk = server.site.review
        sent = {"decision": {QUESTION: "Burn Through"}, "replaces": ""}
        assert call(server, "POST", "/review/ivy/object/1/decision", sent)[0] == 200
        first = desk.decision("1")
        status, answer = call(server, "POST", "/review/IVY/object/1/decision", sent)  # the same person, retrying
        assert status == 200 and json.loads(answer)["recorded"]["decidedAt"] == first.decided_at
        assert desk.decision("1") == first and len(decision_files(job)) == 1
        status, refusal = call(server, "POST", "/review/ivy/object/1/decision",  # another decision: still refused
                               {"decision": {QUESTION: "Good Weld"}, "replaces": ""})
        assert status == 409 and "ivy decided object 1" in json.loads(refusal)["error"]
        # A name is one reviewer whatever its case, spelled as their first decision spells it.
        assert call(server, "POST", "/review/IVY/object/3/decision", {"decision": {QUESTION: "Good Weld"}})[0] == 200
        assert desk.decision("3").reviewer == "ivy"


def test_a_run_with_review_off_says_how_many_objects_experts_decided_before(runner_assembly, tmp_path):
    """--no-review on a job with decisions hid them: the requester's page and the last line named neither."""
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "off")) as (job, server):
        assert server.site.review.objects_decided_before() == 0  # review on: it says its decisions itself
        for object_id, label in (("1", "Good Weld"), ("1", "Burn Through"), ("3", "Good Weld")):
            assert decide(server, "kim", object_id, {QUESTION: label})[0] == 200
        off = ReviewDesk(job, server.site.review.questions, ReviewSettings(enabled=False))
        assert off.objects_decided_before() == 2


def test_an_object_id_of_other_digits_is_no_object_not_a_server_error(served):
    """"²" and "①" are digits to str.isdigit, not to int(): the review pages answered 500 for them."""
    job, server = served
    for odd in ("\u00b2", "\u2460", "\u0663", "\uff11"):  # superscript two, circled one, Arabic-Indic three, fullwidth one
        assert not job.is_object(odd)
        encoded = quote(odd, safe="")
        status, page = call(server, "GET", f"/review/gus/object/{encoded}")
        assert status == 404 and "There is no object" in page.decode()
        status, refusal = decide(server, "gus", encoded, {QUESTION: "Good Weld"})
        assert status == 404 and refusal["error"] == f"There is no object {odd} in this job."
        status, _page = call(server, "GET", f"/review/gus?answered={encoded}")
        assert status == 200


def test_a_decision_on_no_object_or_with_a_key_never_shown_says_so(served):
    job, server = served
    status, refusal = decide(server, "gus", "999", {QUESTION: "Good Weld"})
    assert status == 404 and refusal["error"] == "There is no object 999 in this job."
    undecided = next(oid for oid in server.site.review.awaiting())
    status, refusal = call(server, "POST", f"/review/gus/object/{undecided}/decision",
                           {"decision": {QUESTION: "Good Weld"}, "replaces": "made-up"})
    assert status == 409 and json.loads(refusal)["error"] == (f"The decision your page showed on object {undecided} is "
                                                              "not on record; yours was not saved. Reload the page.")


def test_a_reviewer_name_that_is_refused_says_why_beside_the_field(served):
    _, server = served
    status, page = call(server, "GET", "/review?reviewer=..")
    text = page.decode()
    assert status == 400 and 'aria-invalid="true"' in text and 'aria-describedby="name-error name-rule"' in text
    assert 'id="name-error" class="notice" role="alert"' in text and "browsers drop it" in text
    assert "up to\n64 characters" in text  # the rule, as the workers' sign-in gives it


def test_the_quality_reports_compare_workers_with_the_experts_decisions(runner_assembly, tmp_path):
    """Object 6: the three workers differ. The expert sides with ana: the requester's report (page, JSON, PNG and the
    files saved in the job's folder) counts ana's answer as agreeing and the crowd's as not, while the Lambda's own
    report stays the crowd's."""
    from local_ground_truth.quality import read_report, report_versions
    from local_ground_truth.requester import RequesterLog

    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "quality")) as (job, server):
        answers = {"ana": "Burn Through", "ben": "Good Weld", "cy": "Contamination"}
        for worker, label in answers.items():
            job.record_answer("6", worker, {QUESTION: {"label": label}})
        job.consolidate()
        desk = server.site.review
        crowd = job.consolidated_labels()["6"]["label"][QUESTION]["label"]
        assert "6" in desk.routed() and crowd != "Burn Through"
        log = RequesterLog(job, say=lambda _line: None)
        log.review = desk
        png_path, json_path = log.files.paths(QUESTION)
        log.save_reports()
        before = json.loads(json_path.read_text())
        assert "decided_objects" not in before
        page_before = call(server, "GET", "/requester/live")[1].decode()
        assert "compared with the final labels" not in page_before

        assert decide(server, "ortiz", "6", {QUESTION: "Burn Through"})[0] == 200
        assert [(d.crowd, d.expert, dict(d.answers)) for d in desk.expert_decisions(QUESTION)] == [
            (crowd, "Burn Through", answers)]
        saved = json.loads(json_path.read_text())  # saved again on the decision, without waiting for a batch
        assert saved["decided_objects"] == 1 and saved["changed_objects"] == 1
        ana, crowds = saved["workers"]["ana"], next(w for n, w in saved["workers"].items() if answers[n] == crowd)
        assert (ana["expert_answers"], ana["expert_agreed"]) == (1, 1)
        assert ana["agreement"] > before["workers"]["ana"]["agreement"]
        assert crowds["agreement"] < before["workers"][next(n for n in answers if answers[n] == crowd)]["agreement"]

        page = call(server, "GET", "/requester/live")[1].decode()
        assert ("workers compared with the final labels: 1 object decided by experts, 1 otherwise than the crowd"
                in page)
        served_json = json.loads(call(server, "GET", f"/requester/quality/{QUESTION}.json")[1])
        assert served_json["workers"] == saved["workers"]
        in_bucket = json.loads(job.s3.get_object(Bucket=job.bucket, Key=f"{job.root}final-quality-report/{QUESTION}.json")
                               ["Body"].read())
        assert in_bucket["workers"] == saved["workers"]  # where the merge on AWS writes it
        lambdas = read_report(job, report_versions(job)[QUESTION][0])
        assert "decided_objects" not in lambdas  # the consolidation function's report is the crowd's
        assert lambdas["workers"]["ana"]["agreement"] == before["workers"]["ana"]["agreement"]
        status, png = call(server, "GET", f"/requester/quality/{QUESTION}.png")
        assert status == 200 and png.startswith(b"\x89PNG")
        assert png_path.is_file()


def test_a_multi_select_choice_shows_the_confidence_of_the_yes_or_no_beside_it():
    """A choice's consolidated confidence is the probability that it applies: beside a "no" it is shown as the
    confidence of that no (the crowd sure a stain is absent read "Stain no (0.00)", an unsure-looking no)."""
    from gt_common.questions import MultiSelect
    from local_ground_truth.review_desk import _shown_crowd

    defects = MultiSelect(name="defects", choices=("Dent", "Stain", "Scratch"))
    crowd = {"labels": ["Scratch"], "confidence": {"Dent": 0.34, "Stain": 0.0001, "Scratch": 0.9}}
    assert _shown_crowd(defects, crowd) == ("Dent no (confidence 0.66); Stain no (confidence 0.99); "
                                            "Scratch yes (confidence 0.90)")
    assert _shown_crowd(defects, {"labels": []}) == "Dent no; Stain no; Scratch no"  # majority vote: no confidences
    # Read with the job's confidence, a choice whose batch said otherwise shows both, each as its yes or no's.
    revised = {**crowd, "confidence": {"Dent": 0.34, "Stain": 0.0001, "Scratch": 0.8},
               "batch-confidence": {"Dent": 0.34, "Stain": 0.0001, "Scratch": 0.9}}
    assert _shown_crowd(defects, revised) == ("Dent no (confidence 0.66); Stain no (confidence 0.99); "
                                              "Scratch yes (confidence 0.80; its batch said 0.90)")
    revised["confidence"]["Dent"] = 0.1
    assert _shown_crowd(defects, revised).startswith("Dent no (confidence 0.90; its batch said 0.66); ")


def settled_alike(job) -> dict:
    """Object 5 answered alike by three workers and consolidated: the job's labels."""
    for worker in ("ana", "ben", "cy"):
        job.record_answer("5", worker, {QUESTION: {"label": "Good Weld"}})
    job.consolidate()
    return job.consolidated_labels()


def at_temperature(label: dict, temperature: float, times_the_answers: int) -> dict:
    """``label`` as a later batch's would carry the job's evidence: its temperature, and more answers counted."""
    later = json.loads(json.dumps(label))
    evidence = later["label"][QUESTION]["evidence"]
    evidence.update(temperature=temperature, answers=evidence["answers"] * times_the_answers)
    return later


def test_an_object_comes_to_need_an_expert_when_a_later_batch_revises_the_jobs_confidence(runner_assembly, tmp_path,
                                                                                        monkeypatch):
    """Object 5, three workers alike, is settled by its batch. A later batch that had counted many more answers
    chose a high temperature (workers who err together): read with it, object 5's answers no longer settle it, so
    it awaits an expert, and the final manifest gives the job's confidence beside its batch's."""
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "revised")) as (job, server):
        desk = server.site.review
        labels = settled_alike(job)
        assert desk.reasons("5") == {} and "5" not in desk.awaiting()
        published = labels["5"]["label"][QUESTION]
        later = at_temperature(labels["5"], 16.0, 100)
        monkeypatch.setattr(job, "consolidated_labels", lambda: {**labels, "6": later})

        assert desk.reasons("5") == {QUESTION: ["low-confidence"]} and "5" in desk.awaiting()
        shown = next(q for q in desk.view("5")["questions"] if q["name"] == QUESTION)["crowd"]
        assert shown.startswith("Good Weld (confidence 0.")
        assert f"its batch said {shown_confidence(published['confidence'])})" in shown
        line = desk.final_lines()[5]
        assert line[LABEL][QUESTION]["label"] == "Good Weld"
        assert line[LABEL][QUESTION]["confidence"] < ON.threshold < published["confidence"]
        assert line[LABEL][QUESTION]["batch-confidence"] == published["confidence"]
        assert line[f"{LABEL}-metadata"]["review-reasons"] == ["low-confidence"]


def test_a_decided_object_that_a_later_batch_no_longer_routes_stays_decided_counted_and_changeable(
        runner_assembly, tmp_path, monkeypatch):
    """Object 5 was routed by the job's revised confidence and an expert decided it; a later batch's revision no
    longer routed it. The final manifest kept the decision, yet the counts said "0 decided", the reviewer's "Decided"
    table lost it, and changing it was refused "the crowd settled it"."""
    spec = read_workflow(runner_assembly, "welding")
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "unrouted")) as (job, server):
        desk = server.site.review
        labels = settled_alike(job)
        later = at_temperature(labels["5"], 16.0, 100)
        monkeypatch.setattr(job, "consolidated_labels", lambda: {**labels, "6": later})
        assert "5" in desk.awaiting()
        first = desk.decide("5", "carla", {QUESTION: "Burn Through"})
        before = desk.counts()

        settled = at_temperature(labels["5"], 1.0, 1000)  # a later batch, having counted more: temperature 1 again
        monkeypatch.setattr(job, "consolidated_labels", lambda: {**labels, "6": later, "7": settled})
        assert desk.reasons("5") == {} and "5" not in desk.routed()
        counts = desk.counts()  # still counted under review and decided: not "0 decided"
        assert before["decided"] == counts["decided"] == 1 and counts["routed"] == counts["awaiting"] + 1
        assert "5" in desk.under_review() and "5" not in desk.awaiting()
        status, queue_page = call(server, "GET", "/review/dora")
        assert status == 200 and b'href="/review/dora/object/5"' in queue_page  # in the "Decided" table
        changed = desk.decide("5", "dora", {QUESTION: "Good Weld"}, replaces=first.key)
        assert desk.decision("5") == changed and desk.final_lines()[5][LABEL][QUESTION]["label"] == "Good Weld"


def test_the_reasons_are_worded_as_the_settings_route():
    """With routeAnyAbstention an object the crowd settled (two votes and one "Not sure") was said to be there because
    "the crowd could not tell"; a workflow that cannot abstain (NER) was told abstaining routes objects."""
    from gt_common.review import ABSTAINED

    most, any_one = ReviewSettings(enabled=True, threshold=0.9), ReviewSettings(enabled=True, threshold=0.9,
                                                                               route_any_abstention=True)
    assert reason_text(most)[ABSTAINED] == "the crowd could not tell"
    assert reason_text(any_one)[ABSTAINED] == "a worker could not tell"
    abstains = (Classification(name="q", choices=("A", "B", "Not sure"), abstain="Not sure"),)
    assert "any worker could not tell" in routing_rule(any_one, abstains)
    assert routing_rule(most, (YesNo(name="ok"), Spans(name="s", span_labels=("X",)))) == (
        "a question's confidence is under 0.9 or a gold item was missed")
