"""The worker server under hostile and heavy use: what it refuses, how it says so, what it never records."""
from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_ground_truth.server import MAX_ANSWER_BYTES, Refused, WorkerServer, WorkerSite
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job

GOOD = {"WeldingClassification": {"label": "Good Weld"}}


@pytest.fixture(scope="module")
def served(runner_assembly, tmp_path_factory):
    """One pre-labeled welding job (dev: one worker per object) and its server, shared by this module."""
    folder = tmp_path_factory.mktemp("server")
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, folder / "s3", job_name(folder, "server")) as job:
        server = WorkerServer(WorkerSite(job), port=0, body_timeout=2).start()
        yield job, server
        server.stop()


def request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def submit(server, worker: str, object_id: str, answer, headers: dict | None = None):
    body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    status, data = request(server, "POST", f"/worker/{worker}/task/{object_id}/submit", body, headers)
    return status, (json.loads(data) if data.startswith(b"{") else data)


def test_only_requests_addressed_to_this_server_are_answered(served):
    _, server = served
    assert request(server, "GET", "/", headers={"Host": "attacker.example:80"})[0] == 421
    assert request(server, "GET", "/", headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_a_cross_site_post_is_refused_and_not_recorded(served):
    job, server = served
    text_plain = {"Content-Type": "text/plain", "Origin": "http://attacker.example"}
    assert submit(server, "mallory", "0", GOOD, text_plain)[0] == 403
    assert submit(server, "mallory", "0", GOOD, {"Content-Type": "text/plain"})[0] == 415
    assert submit(server, "mallory", "0", GOOD, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert "mallory" not in job.workers_of("0")


@pytest.mark.parametrize("body, reason", [
    (b'{"WeldingClassification": {"label": NaN}}', "not a JSON number"),
    (b'{"WeldingClassification": {"label": "Good Weld", "x": Infinity}}', "not a JSON number"),
    (b'{"WeldingClassification": {"label": "Good Weld", "x": 1e999}}', "out of range"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}", "nested more than 32 levels"),  # deep, yet inside json's own limit
    (b'["Good Weld"]', "not a JSON object"),
    (b'{"note": "\xff\xfe"}', "not UTF-8"),
    (b"{}", "no category is chosen"),
    (b'{"WeldingClassification": {"label": "Good Weld"}, "WeldingClassification": {"label": "Burn Through"}}',
     "names 'WeldingClassification' twice in one object"),  # the first value was dropped without a word
    (b'{"WeldingClassification": {"label": "Excellent"}}', "not one of the categories"),
])
def test_malformed_and_incomplete_answers_are_refused_with_the_reason(served, body, reason):
    job, server = served
    status, result = submit(server, "eve", "1", body)
    assert status in (400, 422) and reason in result["error"] and result["back"] == "/worker/eve"
    assert "eve" not in job.workers_of("1")


def test_an_answer_over_the_size_limit_is_refused_before_it_is_read(served):
    job, server = served
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    raw.sendall(f"POST /worker/eve/task/1/submit HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {MAX_ANSWER_BYTES + 1}\r\n\r\n".encode())
    raw.sendall(b'{"x": "' + b"a" * 65536)  # the first of 2 MB: the refusal comes without the rest
    reply = raw.recv(1000)
    raw.close()
    assert reply.startswith(b"HTTP/1.1 413") and "eve" not in job.workers_of("1")


def test_a_body_shorter_than_its_length_times_out_without_holding_the_server(served):
    job, server = served
    hanging = socket.create_connection(("127.0.0.1", server.port))
    hanging.sendall(f"POST /worker/eve/task/2/submit HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}".encode())
    started = time.monotonic()
    assert request(server, "GET", "/worker/ana")[0] == 200  # served meanwhile
    hanging.settimeout(10)
    assert hanging.recv(1000) == b""  # closed by the server after its read timeout
    assert time.monotonic() - started < 10
    hanging.close()
    assert "eve" not in job.workers_of("2")


def test_a_body_longer_than_its_length_is_not_read_as_a_shorter_answer(served):
    job, server = served
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    body = b"{}" + json.dumps(GOOD).encode()  # Content-Length covers "{}" only
    raw.sendall(f"POST /worker/eve/task/2/submit HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n".encode() + body)
    reply = b""
    while chunk := raw.recv(65536):
        reply += chunk
    raw.close()
    assert reply.startswith(b"HTTP/1.1 422") and b"no category is chosen" in reply  # "{}" only: incomplete
    assert "eve" not in job.workers_of("2")


def test_a_retried_submission_is_recorded_once(served):
    job, server = served
    status, first = submit(server, "ana", "3", GOOD)
    assert status == 200 and first["recorded"] is True
    assert first["next"].startswith("/worker/ana/task/") and first["next"] != "/worker/ana/task/3"  # her next task
    assert submit(server, "ana", "3", GOOD) == (200, {**first, "recorded": False})
    assert [a["workerId"] for a in job.answers()["3"]] == ["ana"]


def test_an_unknown_object_is_refused(served):
    _, server = served
    assert submit(server, "ana", "999", GOOD)[0] == 404


def test_a_page_says_only_the_servers_own_notices(served):
    """A link someone sends (``?notice=Your session expired: sign in at ...``) cannot make a job's page say it."""
    _, server = served
    forged = "/worker/ana?notice=Your%20session%20expired%3A%20sign%20in%20at%20evil.example"
    for path in (forged, forged.replace("/worker/ana?", "/worker/ana/task/1?")):
        status, page = request(server, "GET", path)
        assert status == 200 and b"evil.example" not in page and b"session expired" not in page
    status, page = request(server, "GET", "/worker/ana?notice=answered")
    assert status == 200 and b'<p class="notice" role="status">You already answered that task.</p>' in page
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/worker/ana/next?notice=Sign%20in%20elsewhere")  # not passed on to the task page
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 303 and "notice" not in response.getheader("Location")


def test_two_workers_never_hold_one_lease(served):
    job, server = served
    workers = [f"racer{number}" for number in range(16)]

    def open_task(worker: str) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", f"/worker/{worker}/task/4")
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.getheader("Location") or "task page"

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        landed = list(pool.map(open_task, workers))
    assert landed.count("task page") == 1  # one slot per object in dev
    [holder] = server.site.leases.holders("4")
    assert all("/next?notice=" in where for where, worker in zip(landed, workers) if worker != holder)
    # The others cannot submit for object 4 either; the holder can.
    others = [worker for worker in workers if worker != holder]
    assert submit(server, others[0], "4", GOOD)[0] == 409
    assert submit(server, holder, "4", GOOD)[0] == 200
    assert job.workers_of("4") == {holder}


def test_fifty_parallel_submissions_all_get_an_answer(served):
    job, server = served
    objects = [str(number) for number in range(5, 18)]

    def post(number: int):
        return submit(server, f"burst{number}", objects[number % len(objects)], GOOD)[0]

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(post, range(50)))
    assert len(statuses) == 50 and set(statuses) <= {200, 409}  # every connection answered, none reset
    assert all(len(job.workers_of(object_id)) == 1 for object_id in objects)  # one answer each, as dev needs
    assert statuses.count(200) == len(objects)


@pytest.fixture
def fresh(runner_assembly, tmp_path):
    """A job and server of the test's own (what it leases and answers is no other test's)."""
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "fresh")) as job:
        server = WorkerServer(WorkerSite(job), port=0, body_timeout=2).start()
        yield job, server
        server.stop()


def test_an_answer_under_way_when_the_server_stops_is_answered(runner_assembly, tmp_path, caplog):
    """SIGTERM while a submit was being handled closed every connection under it: its thread wrote to a closed
    descriptor (a traceback in the log) and the worker never heard that the answer was recorded."""
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "stopping")) as job:
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False), port=0, body_timeout=2).start()
        recording, record_answer = threading.Event(), job.record_answer

        def slow_record(*args, **kwargs):
            recording.set()
            time.sleep(1.0)  # the stop comes while the answer is being written
            return record_answer(*args, **kwargs)

        job.record_answer = slow_record
        assert request(server, "GET", "/worker/ada/task/3")[0] == 200
        with ThreadPoolExecutor(max_workers=1) as pool, caplog.at_level(logging.ERROR):
            sent = pool.submit(submit, server, "ada", "3", GOOD)
            assert recording.wait(30)
            server.stop()
            status, result = sent.result(timeout=30)
        assert status == 200 and result["recorded"] is True and job.workers_of("3") == {"ada"}
        assert not [r for r in caplog.records if "Exception" in r.getMessage()], caplog.text
        with pytest.raises(OSError):  # and no new connection is taken
            socket.create_connection(("127.0.0.1", server.port), timeout=2).sendall(b"GET / HTTP/1.1\r\n\r\n")


def test_a_task_open_across_a_restart_stays_its_workers(fresh):
    """The runner stops and starts again while Ada's page is open: her task is not given to another worker, and
    her answer is taken."""
    job, server = fresh
    assert request(server, "GET", "/worker/ada/task/8")[0] == 200
    server.stop()
    again = WorkerServer(WorkerSite(job), port=0, body_timeout=2).start()
    try:
        assert again.site.leases.holders("8") == {"ada"}
        status, _ = request(again, "GET", "/worker/ivy/task/8")
        assert status == 303  # sent on: the task is Ada's
        assert submit(again, "ada", "8", GOOD)[0] == 200 and job.workers_of("8") == {"ada"}
    finally:
        again.stop()


def test_tasks_held_before_a_restart_go_back_when_their_pages_are_silent_or_leave(fresh, monkeypatch):
    """A page closed while the runner was down never speaks again: its task stayed held for its whole time limit
    after the restart, and one left for the queue after the restart too (its page's token was unknown)."""
    from local_ground_truth import worker_pages

    job, server = fresh
    tokens = {worker: open_page(server, worker, object_id) for worker, object_id in
              (("gone", "3"), ("open", "4"), ("leaving", "5"))}
    server.stop()
    monkeypatch.setattr(worker_pages, "SILENT_SECONDS", 0.8)
    again = WorkerServer(WorkerSite(job), port=0, body_timeout=2).start()
    try:
        assert {oid: again.site.leases.holders(oid) for oid in "345"} == {"3": {"gone"}, "4": {"open"}, "5": {"leaving"}}
        assert leave(again, "leaving", "5", {"page": tokens["leaving"]})[0] == 204  # left for the queue
        assert again.site.leases.holders("5") == set()
        for _ in range(5):  # the page open across the restart says so; the closed one says nothing
            time.sleep(0.25)
            assert again.site.alive("open", "4", tokens["open"]) == "open"
        assert again.site.give_back_silent() == [("gone", "3")]
        assert again.site.leases.holders("3") == set() and again.site.leases.holders("4") == {"open"}
        assert submit(again, "open", "4", GOOD)[0] == 200
    finally:
        again.stop()


def test_a_head_request_leases_nothing(fresh):
    """HEAD is answered as GET is, but probing every task page must not take every task from the workers."""
    job, server = fresh
    for object_id in job.object_id_tuple():
        assert request(server, "HEAD", f"/worker/hog/task/{object_id}")[0] == 200
    assert request(server, "HEAD", "/worker/hog/next")[0] == 303
    assert all(server.site.leases.holders(object_id) == set() for object_id in job.object_id_tuple())
    assert server.site.next_for("carol") is not None  # a worker still gets a task


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_another_sites_page_takes_no_task_and_skips_none(fresh, site):
    """An image or a link on another site's page (another port of this host is same-site) that names /next, a task
    or its skip: each took a task, so a page of 20 images left the workers nothing to label. The browser says where
    such a request comes from; it lands on the queue, and only the worker's own navigation takes a task."""
    job, server = fresh
    elsewhere = {"Sec-Fetch-Site": site, "Sec-Fetch-Dest": "image"}
    for n in range(len(job.object_id_tuple()) + 2):
        status, _ = request(server, "GET", f"/worker/mallory{n}/next", headers=elsewhere)
        assert status == 303
    assert request(server, "GET", "/worker/mallory/task/0", headers=elsewhere)[0] == 303
    assert all(server.site.leases.holders(object_id) == set() for object_id in job.object_id_tuple())
    own = server.site.next_for("dana")
    assert request(server, "GET", f"/worker/dana/task/{own}/skip", headers=elsewhere)[0] == 303
    assert server.site.leases.holders(own) == {"dana"}  # not given back
    for how in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):  # a page's link, a bookmark
        taker = f"eve{len(how)}{how.get('Sec-Fetch-Site', '')}"
        assert request(server, "GET", f"/worker/{taker}/next", headers=how)[0] == 303
        assert any(taker in server.site.leases.holders(object_id) for object_id in job.object_id_tuple())


def test_worker_pages_are_framed_by_no_other_site(fresh):
    """A page of another site could frame the queue or a task and lay its own buttons over Submit or Skip."""
    job, server = fresh
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for path in ("/", "/worker/frank", f"/worker/frank/task/{job.object_id_tuple()[0]}"):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, path
        assert response.getheader("Content-Security-Policy") == "frame-ancestors 'self'", path
        assert response.getheader("X-Frame-Options") == "SAMEORIGIN", path
    connection.close()


def test_a_changed_answer_after_one_was_saved_is_refused_and_the_first_kept(fresh):
    job, server = fresh
    assert submit(server, "bea", "2", GOOD) == (200, {"next": submit(server, "bea", "2", GOOD)[1]["next"],
                                                      "recorded": True})
    changed = {"WeldingClassification": {"label": "Burn Through"}}
    status, refusal = submit(server, "bea", "2", changed)
    assert status == 409 and "You already answered object 2" in refusal["error"]
    assert "your first answer is kept" in refusal["error"]
    assert job.answer_of("2", "bea") == GOOD and [a["workerId"] for a in job.answers()["2"]] == ["bea"]


def test_an_answer_the_store_refuses_gets_the_reason_as_json_and_nothing_is_recorded(fresh, tmp_path):
    """A file where the object's answer folder goes (the local store cannot hold both): the worker hears why, and
    can submit again once it is gone."""
    job, server = fresh
    stray = f"{job.answers_prefix}6"
    job.s3.put_object(Bucket=job.bucket, Key=stray, Body=b"x")
    status, refusal = submit(server, "cem", "6", GOOD)
    assert status == 503 and "could not be saved" in refusal["error"] and "nothing was recorded" in refusal["error"]
    # in words, never the store's own message: it names the runner's files, and a team's worker is elsewhere
    assert "the job's store cannot keep it where it goes" in refusal["error"]
    assert str(tmp_path) not in refusal["error"] and "/" not in refusal["error"].split("(", 1)[1].split(")")[0]
    assert "cem" not in job.workers_of("6")
    job.s3.delete_object(Bucket=job.bucket, Key=stray)
    assert submit(server, "cem", "6", GOOD)[0] == 200 and job.workers_of("6") == {"cem"}


def test_a_request_id_cannot_forge_a_line_of_the_runners_log(fresh, caplog):
    from local_ground_truth.__main__ import PrintableFormatter

    caplog.set_level(logging.INFO, logger="local_ground_truth")
    _, server = fresh
    forged = "1%0Ajob%20complete%3A%20FORGED%1B%5B31m"
    assert submit(server, "x", forged, GOOD)[0] == 404
    [record] = [r for r in caplog.records if "refused an answer" in r.getMessage()]
    line = PrintableFormatter("%(message)s").format(record)
    assert "\n" not in line and "\x1b" not in line
    assert "1\\njob complete: FORGED\\x1b[31m" in line
    from local_ground_truth.__main__ import printable

    assert printable("José\u200d\t李") == "José\\u200d\\t李"  # non-ASCII text stays as it is


def test_the_icon_browsers_ask_for_is_an_empty_answer_not_a_missing_page(served):
    _, server = served
    status, body = request(server, "GET", "/favicon.ico")
    assert status == 204 and body == b""


def test_an_answer_records_when_the_worker_took_the_task(fresh):
    """As Ground Truth's worker-response files: acceptanceTime is when the task was opened, submissionTime when it
    was answered, timeSpentInSeconds between them (acceptanceTime was always the submission time)."""
    import datetime

    job, server = fresh
    assert request(server, "GET", "/worker/dora/task/8")[0] == 200  # opening the task takes it
    time.sleep(1.2)
    assert submit(server, "dora", "8", GOOD)[0] == 200
    [answer] = job.answers()["8"]
    accepted, submitted = (datetime.datetime.fromisoformat(answer[key].replace("Z", "+00:00"))
                           for key in ("acceptanceTime", "submissionTime"))
    assert answer["timeSpentInSeconds"] >= 1.2
    assert abs((submitted - accepted).total_seconds() - answer["timeSpentInSeconds"]) < 0.05


def test_a_worker_whose_tasks_left_are_held_by_others_is_told_so_and_the_queue_looks_again(fresh):
    """Not "Nothing left for you" while others hold the rest (workers who closed their tab hold a task until its
    time limit): the queue says so and reloads itself."""
    job, server = fresh
    for object_id in job.object_id_tuple():
        assert request(server, "GET", f"/worker/hog/task/{object_id}")[0] == 200  # opening a task takes it
    status, page = request(server, "GET", "/worker/late")
    text = page.decode()
    assert status == 200 and 'id="held"' in text and 'id="done"' not in text
    assert f"{len(job.object_id_tuple())} tasks are\nbeing labeled by others right now" in text
    assert "setTimeout(reloadQueue," in text
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/worker/late/next")
    response = connection.getresponse()
    assert response.status == 303 and response.getheader("Location") == "/worker/late?notice=held"
    connection.close()
    assert "being labeled by others right now" in request(server, "GET", "/worker/late?notice=held")[1].decode()
    assert request(server, "GET", "/worker/hog/task/0/skip")[0] == 303  # one comes back
    assert 'href="/worker/late/task/0"' in request(server, "GET", "/worker/late")[1].decode()



def test_why_the_queue_was_empty_is_not_said_once_tasks_have_come(fresh):
    """A worker sent to an empty queue ("?notice=held") whose page looked again after a task came back saw
    "Nothing is left for you" (or "held") above the task: the notice is said only while the queue is empty."""
    job, server = fresh
    for object_id in job.object_id_tuple():
        assert request(server, "GET", f"/worker/hog/task/{object_id}")[0] == 200
    for notice in ("held", "done", "preparing"):
        assert 'class="notice"' in request(server, "GET", f"/worker/late?notice={notice}")[1].decode()
    assert request(server, "GET", "/worker/hog/task/0/skip")[0] == 303  # one comes back
    for notice in ("held", "done", "preparing"):
        text = request(server, "GET", f"/worker/late?notice={notice}")[1].decode()
        assert 'href="/worker/late/task/0"' in text and 'class="notice"' not in text
    # a notice about what the worker did still shows above their tasks
    assert "You already answered that task." in request(server, "GET", "/worker/late?notice=answered")[1].decode()


def test_an_answer_to_the_last_free_task_while_others_hold_the_rest_leads_to_why_there_is_none(fresh):
    """Not "Nothing is left for you" above "2 tasks are being labeled by others": the page after the answer is
    /next, which says which it is."""
    job, server = fresh
    *held, last = job.object_id_tuple()
    for object_id in held:
        assert request(server, "GET", f"/worker/hog/task/{object_id}")[0] == 200
    assert request(server, "GET", f"/worker/late/task/{last}")[0] == 200
    status, result = submit(server, "late", last, GOOD)
    assert status == 200 and result["next"] == "/worker/late/next"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", result["next"])
    response = connection.getresponse()
    assert response.status == 303 and response.getheader("Location") == "/worker/late?notice=held"  # not "done"
    connection.close()


def test_names_that_differ_only_in_case_are_one_worker_spelled_as_their_first_answer(fresh):
    """"Carol" on Monday and "carol" on Tuesday are one person: never two workers answering one object, and the
    answers and report are hers under one name."""
    job, server = fresh
    assert request(server, "GET", "/worker/Carol/task/2")[0] == 200
    assert submit(server, "Carol", "2", GOOD)[0] == 200
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/?worker=" + "cAROL")
    response = connection.getresponse()
    assert response.status == 303 and response.getheader("Location") == "/worker/Carol"
    connection.close()
    status, page = request(server, "GET", "/worker/CAROL")
    assert status == 200 and 'id="queue-worker">Carol<' in page.decode() and "You answered 1 of" in page.decode()
    assert 'href="/worker/CAROL' not in page.decode() and 'href="/worker/carol' not in page.decode()
    status, refusal = submit(server, "carol", "2", {"WeldingClassification": {"label": "Burn Through"}})
    assert status == 409 and "You already answered object 2" in refusal["error"]
    assert [a["workerId"] for a in job.answers()["2"]] == ["Carol"]
    assert submit(server, "CAROL", "3", GOOD)[0] == 200 and [a["workerId"] for a in job.answers()["3"]] == ["Carol"]
    # A new spelling of nobody who answered yet is kept as typed; and the first answer's spelling survives a restart.
    assert submit(server, "Dora", "4", GOOD)[0] == 200 and job.answers()["4"][0]["workerId"] == "Dora"
    assert WorkerSite(job, consolidate_in_background=False).spelling("carol") == "Carol"

def test_two_spellings_of_one_name_submitting_at_once_give_one_answer(runner_assembly, tmp_path):
    """"Lee" and "lee" opened object 8 before either had answered, and submitted at once: each had looked the name up
    before the other's answer was recorded, so one person gave object 8 two of its three answers."""
    spec = read_workflow(runner_assembly, "welding")
    spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=3))
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "spellings")) as job:
        site = WorkerSite(job, consolidate_in_background=False)
        assert site.leases.acquire("8", "Lee") and site.leases.acquire("8", "lee")  # both pages open
        assert site.submit("Lee", "8", GOOD)
        with pytest.raises(Refused) as refused:  # "lee" as the request named it, before Lee's answer was recorded
            site.submit("lee", "8", {"WeldingClassification": {"label": "Burn Through"}})
        assert refused.value.status == 409 and "You already answered object 8" in refused.value.reason
        assert [a["workerId"] for a in job.answers()["8"]] == ["Lee"]
        # lee's open page on another object answers as Lee, the lease taken as "lee" ending with it
        assert site.leases.acquire("9", "lee") and site.submit("lee", "9", GOOD)
        assert [a["workerId"] for a in job.answers()["9"]] == ["Lee"] and site.leases.holders("9") == set()
        # and neither spelling is offered an object the person answered (a job kept by an earlier version may hold
        # one person under two spellings)
        job.record_answer("10", "LEE", GOOD)
        assert not site.leases.can_take("10", "Lee") and not site.leases.can_take("10", "lee")
        assert site.leases.can_take("10", "Ivy")


def open_page(server, worker: str, object_id: str) -> str | None:
    """GET a task page as a worker's browser does: the page's token (what it sends when it is left), or None when
    the worker is sent on (no free slot)."""
    status, data = request(server, "GET", f"/worker/{worker}/task/{object_id}")
    if status == 303:
        return None
    assert status == 200, data[:200]
    [token] = re.findall(r'window\.LOCAL_GT_PAGE_TOKEN = "([^"]+)"', data.decode())
    return token


def leave(server, worker: str, object_id: str, body, headers: dict | None = None):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request(server, "POST", f"/worker/{worker}/task/{object_id}/leave", body, headers)


def test_a_task_page_left_unanswered_gives_its_task_back_at_once(fresh):
    """dev: one slot per object. Closing the tab must not hold the task for its ten-minute time limit."""
    job, server = fresh
    token = open_page(server, "ana", "3")
    assert server.site.leases.holders("3") == {"ana"}
    assert leave(server, "ana", "3", {"page": token})[0] == 204
    assert server.site.leases.holders("3") == set()
    assert open_page(server, "bo", "3")  # another worker takes it
    assert server.site.leases.holders("3") == {"bo"}
    status, refusal = submit(server, "ana", "3", GOOD)  # ana's page had gone: her answer is refused, and says why
    assert status == 409 and "its page was left" in refusal["error"] and job.workers_of("3") == set()


def test_a_task_whose_page_went_silent_is_given_back_and_one_that_speaks_is_kept(fresh, monkeypatch):
    """A browser that crashed or sleeps sends no leave: its task stayed held until its time limit. An open page says
    it is open now and then; one not heard of for SILENT_SECONDS gives its task back when another worker asks for
    work, and its worker's answer is still taken while the slot stays free."""
    from local_ground_truth import worker_pages

    job, server = fresh
    monkeypatch.setattr(worker_pages, "SILENT_SECONDS", 0.6)
    assert open_page(server, "ana", "3")
    speaking = open_page(server, "bo", "4")
    for _ in range(6):  # bo's page beats; ana's says nothing
        time.sleep(0.2)
        assert request(server, "POST", "/worker/bo/task/4/alive", json.dumps({"page": speaking}).encode()) == \
            (200, b'{"state": "open"}')
    assert open_page(server, "cy", "4") is None and server.site.leases.holders("4") == {"bo"}  # kept
    assert open_page(server, "cy", "3") and server.site.leases.holders("3") == {"cy"}  # given back, taken
    status, refusal = submit(server, "ana", "3", GOOD)  # cy has the slot now: ana's answer is refused, saying why
    assert status == 409 and job.workers_of("3") == set()
    # A page that went silent on a task nobody took: its worker's answer is still taken.
    assert open_page(server, "dee", "5")
    time.sleep(0.8)
    assert ("dee", "5") in server.site.give_back_silent() and server.site.leases.holders("5") == set()
    assert submit(server, "dee", "5", GOOD)[0] == 200
    # An alive from a page that is not the worker's on the task changes nothing; a malformed one is refused.
    mine = open_page(server, "bo", "6")
    assert request(server, "POST", "/worker/cy/task/6/alive", json.dumps({"page": mine}).encode()) == \
        (200, b'{"state": "released"}')
    assert server.site.leases.holders("6") == {"bo"} and server.site.alive("cy", "6", mine) == "released"
    # The page is told when its task is no longer its own: answered in another tab, or given back.
    assert server.site.alive("dee", "5", "a page of dee's") == "answered"
    server.site.take_back("bo", "6")
    assert server.site.alive("bo", "6", mine) == "released"
    # A page the server does not know (opened before a restart) is adopted while its worker holds the task.
    assert open_page(server, "eve", "7") and server.site.alive("eve", "7", "opened before a restart") == "open"
    assert "opened before a restart" in server.site._open_pages[("eve", "7")]
    assert request(server, "POST", "/worker/bo/task/4/alive", b'{"page": 1}')[0] == 400


@pytest.mark.parametrize("first_to_go", ["older", "newer"])
def test_the_task_is_kept_while_any_of_the_workers_pages_on_it_is_open(fresh, first_to_go):
    """A reload shows a new page before the old one goes away; two tabs may close in either order. Only the last
    page to go gives the task back, and the answer from a page still open is recorded."""
    job, server = fresh
    older = open_page(server, "ana", "4")
    newer = open_page(server, "ana", "4")
    assert older != newer
    first, last = (older, newer) if first_to_go == "older" else (newer, older)
    assert leave(server, "ana", "4", {"page": first})[0] == 204
    assert server.site.leases.holders("4") == {"ana"}  # the other page still holds it
    assert open_page(server, "bo", "4") is None  # so nobody else gets it (dev: one slot)
    assert submit(server, "ana", "4", GOOD)[0] == 200 and job.workers_of("4") == {"ana"}
    assert leave(server, "ana", "4", {"page": last})[0] == 204  # the answered page goes: nothing to give back
    assert server.site.leases.holders("4") == set()


def test_the_last_page_to_go_gives_the_task_back(fresh):
    job, server = fresh
    pages = [open_page(server, "ana", "8") for _ in range(3)]
    for token in pages[:-1]:
        assert leave(server, "ana", "8", {"page": token})[0] == 204
        assert server.site.leases.holders("8") == {"ana"}
    assert leave(server, "ana", "8", {"page": pages[0]})[0] == 204  # a token already spent counts once
    assert server.site.leases.holders("8") == {"ana"}
    assert leave(server, "ana", "8", {"page": pages[-1]})[0] == 204
    assert server.site.leases.holders("8") == set()


def test_leaving_after_an_answer_or_with_another_workers_token_changes_nothing(fresh):
    job, server = fresh
    token = open_page(server, "ana", "5")
    assert leave(server, "bo", "5", {"page": token})[0] == 204  # bo's name, ana's token: not bo's page
    assert server.site.leases.holders("5") == {"ana"}
    assert submit(server, "ana", "5", GOOD)[0] == 200
    assert leave(server, "ana", "5", {"page": token})[0] == 204  # the page goes away after its answer
    assert job.workers_of("5") == {"ana"} and server.site.leases.holders("5") == set()
    bo = open_page(server, "bo", "6")
    assert submit(server, "bo", "6", GOOD)[0] == 200  # after the answer the token is spent
    assert leave(server, "bo", "6", {"page": bo})[0] == 204 and job.workers_of("6") == {"bo"}


@pytest.mark.parametrize("body, headers, status, reason", [
    (b"not json", None, 400, "The request"),
    ({"page": 7}, None, 400, '{"page": <the page token>}'),
    ([1], None, 400, '{"page": <the page token>}'),
    ({"page": "x"}, {"Origin": "http://attacker.example"}, 403, "this server's own pages"),
    ({"page": "x"}, {"Content-Type": "text/plain"}, 415, "application/json"),
])
def test_a_leave_that_is_not_the_pages_own_is_refused_with_the_reason(fresh, body, headers, status, reason):
    job, server = fresh
    open_page(server, "ana", "7")
    answered, data = leave(server, "ana", "7", body, headers)
    assert answered == status and reason in json.loads(data)["error"]
    assert server.site.leases.holders("7") == {"ana"}


@pytest.fixture
def guarded(runner_assembly, tmp_path):
    """A server whose limits on slow and crowding clients are small enough to reach in a test: a request must arrive
    within 2 s of its first byte, one address may hold 3 connections (silent ones close after 4 s, checked every 2 s)."""
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "guarded")) as job:
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False), port=0, body_timeout=4,
                              request_seconds=2, per_address=3).start()
        yield job, server
        server.stop()


def test_a_request_sent_a_byte_at_a_time_is_closed_while_others_are_served(guarded):
    """Never silent, so waitress's own timeout never fires: the request's deadline closes it."""
    _job, server = guarded
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=1)
    header = f"GET /worker/ana HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: {'a' * 40}\r\n\r\n".encode()
    started, closed = time.monotonic(), False
    for byte in header:
        try:
            slow.sendall(bytes([byte]))
            if slow.recv(100) == b"":
                closed = True
                break
        except socket.timeout:
            pass  # nothing to read yet: send on, one byte a second
        except OSError:
            closed = True
            break
        assert request(server, "GET", "/worker/bo")[0] == 200  # others served meanwhile
    slow.close()
    assert closed and time.monotonic() - started < 12


def test_one_address_holds_at_most_its_share_of_the_connections(guarded):
    _job, server = guarded
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    extra.sendall(f"GET /worker/ana HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    try:
        assert extra.recv(100) == b""  # closed without an answer
    except ConnectionResetError:
        pass
    extra.close()
    for connection in held:  # the first three are served
        connection.sendall(f"GET /worker/ana HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        assert connection.recv(100).startswith(b"HTTP/1.1 200")
    held.pop().close()
    time.sleep(0.5)
    assert request(server, "GET", "/worker/ana")[0] == 200  # a slot given back is free again
    for connection in held:
        connection.close()


def test_each_address_has_its_own_share_of_the_connections(guarded):
    """Every connection was counted under one address (None, waitress sets ``addr`` after registering the channel),
    so one machine holding its share shut every other machine out."""
    _job, server = guarded
    hello = f"GET /worker/ana HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=("127.0.0.2", 0))
            for _ in range(3)]
    try:
        for connection in held:  # the other machine's share, each served
            connection.sendall(hello)
            assert connection.recv(100).startswith(b"HTTP/1.1 200")
        assert request(server, "GET", "/worker/ana")[0] == 200  # this machine's connection is its own first
        fourth = socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=("127.0.0.2", 0))
        fourth.sendall(hello)
        try:  # while the other machine's fourth is still refused
            assert fourth.recv(100) == b""
        except ConnectionResetError:
            pass
        fourth.close()
    finally:
        for connection in held:
            connection.close()


def test_the_task_bar_says_how_long_the_task_stays_the_workers(fresh):
    """A worker who left a page open past the time limit heard of it only when Submit was refused."""
    job, server = fresh
    status, page = request(server, "GET", "/worker/dee/task/2")
    found = re.search(r'id="local-gt-time" data-seconds-left="(\d+)"', page.decode())
    assert status == 200 and found and job.spec.task.time_limit_seconds - 30 < int(found.group(1)) <= \
        job.spec.task.time_limit_seconds
    assert "left: submit soon" in page.decode()  # the bar's words for the last minute, in the page's script


def test_the_task_bar_names_the_object_as_the_requester_sees_it(fresh):
    """Workers' task numbers are their own order: "Task 5 has a bad image" named nothing the requester could find."""
    _job, server = fresh
    page = request(server, "GET", "/worker/dee/task/7")[1].decode()
    assert re.search(r'<span class="local-gt-object"[^>]*>\(object 7\)</span>', page)


def test_the_requester_gives_back_a_task_a_dead_browser_holds(fresh):
    """A closed browser's task stayed held for its whole time limit, and the requester could do nothing about it."""
    _job, server = fresh
    assert request(server, "GET", "/worker/dee/task/5")[0] == 200 and server.site.leases.holders("5") == {"dee"}
    body = json.dumps({"worker": "dee", "object": "5"}).encode()
    status, _ = request(server, "POST", "/requester/give-back", body, {"Origin": "http://attacker.example"})
    assert status == 403 and server.site.leases.holders("5") == {"dee"}  # another site cannot
    status, answer = request(server, "POST", "/requester/give-back", body)
    assert status == 200 and json.loads(answer) == {"given_back": True} and server.site.leases.holders("5") == set()
    assert request(server, "GET", "/worker/ivy/task/5")[0] == 200  # another worker takes it
    assert json.loads(request(server, "POST", "/requester/give-back", body)[1]) == {"given_back": False}
    assert request(server, "POST", "/requester/give-back", b'{"worker": 1}')[0] == 400
    # The worker's name in any case is the worker; an object that is no task is said to be none.
    status, answer = request(server, "POST", "/requester/give-back", json.dumps({"worker": "IVY", "object": "5"}).encode())
    assert status == 200 and json.loads(answer) == {"given_back": True} and server.site.leases.holders("5") == set()
    status, answer = request(server, "POST", "/requester/give-back", json.dumps({"worker": "ivy", "object": "999"}).encode())
    assert status == 404 and json.loads(answer) == {"error": "There is no task 999 in this job."}
    assert request(server, "GET", "/worker/ivy/task/5")[0] == 200
    page = request(server, "GET", "/requester")[1].decode()
    assert 'class="give-back"' in page and 'data-worker="ivy" data-object="5"' in page


def test_a_variable_a_task_input_lacks_is_shown_empty_as_ground_truth_shows_it_and_said_once(fresh, caplog):
    """The page of an object whose task input lacks a key the template reads answered 500 and held the task (the
    worker was sent back to it); Ground Truth renders the variable empty. The tests render every sample object
    strictly (tests/test_every_workflow.py)."""
    job, server = fresh
    server.site.template = "<p id='odd'>[{{ task.input.not_sent }}]</p>" + server.site.template
    caplog.set_level(logging.WARNING, logger="local_ground_truth.server")
    for object_id in job.object_ids()[:2]:
        status, page = request(server, "GET", f"/worker/ana/task/{object_id}")
        assert status == 200 and b"<p id='odd'>[]</p>" in page
    said = [r.getMessage() for r in caplog.records if "task.input.not_sent is undefined" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"object {job.object_ids()[0]} (said once")
    assert server.site.undefined_reads == {"task.input.not_sent is undefined": job.object_ids()[0]}


def test_a_page_the_template_cannot_draw_for_one_object_sends_its_worker_on_to_the_next(fresh, caplog):
    """A template error on one object's data (a filter given what it cannot take) answered 500 and kept the task
    held: the worker, sent back to it, could label nothing else."""
    job, server = fresh
    first = job.object_ids()[0]
    image = job.task_input(first)["image"]["file"]
    server.site.template = ("{% if task.input.image.file == '" + image + "' %}{{ 'not an s3 uri' | grant_read_access }}"
                            "{% endif %}" + server.site.template)
    caplog.set_level(logging.ERROR, logger="local_ground_truth.server")
    status, page = request(server, "GET", f"/worker/bo/task/{first}")
    assert status == 500 and b"could not be drawn (the template, on this task's data)" in page and b"grant_read_access" in page
    [second] = re.findall(rb'href="/worker/bo/task/([0-9]+)"', page)  # on to the next (bo's order is bo's own)
    second = second.decode()
    assert second != first
    assert any(f"object {first}: the worker template could not be drawn" in r.getMessage() for r in caplog.records)
    assert not server.site.leases.held_by("bo")  # given back: another worker may have it, bo has others
    status, page = request(server, "GET", f"/worker/bo/task/{second}")
    assert status == 200
