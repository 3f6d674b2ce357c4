"""Worker names: any printable Unicode name signs in, is shown as text and travels safely in addresses;
what cannot be a name is refused with the reason. Hostile names included."""
from __future__ import annotations

import http.client
import json
from urllib.parse import quote

import pytest
from markupsafe import escape

from local_ground_truth import worker_names
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import read_workflow
from local_ground_truth.worker_names import BadName, canonical, from_path_segment, path_segment
from tests.runner_helpers import job_name, local_job

GOOD_NAMES = ["José", "李雷", "O'Brien", "alice smith", "AC/DC", "100%", "a?b#c", "..x", "<b>bold</b>",
              "\"quoted\" & 'single'", "Ünïcödé 🦊", "%2e%2e", "../../etc/passwd", "x" * worker_names.MAX_CHARACTERS]
BAD_NAMES = {
    "": "Enter a name",
    "   ": "Enter a name",
    ".": "browsers drop it",
    "..": "browsers drop it",
    " .. ": "browsers drop it",
    "a\u0000b": "U+0000",
    "tab\there": "U+0009",
    "line\nbreak": "U+000A",
    "\u202eevil": "U+202E",  # right-to-left override: shows another name than it is
    "zero\u200bwidth": "U+200B",
    "nbsp\u00a0name": "U+00A0",
    "x" * (worker_names.MAX_CHARACTERS + 1): "at most",
}


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_a_printable_name_is_kept_and_survives_its_address(name):
    assert canonical(name) == name
    segment = path_segment(name)
    assert "/" not in segment and segment not in (".", "..") and segment.isascii()
    assert from_path_segment(segment) == name


@pytest.mark.parametrize("typed, reason", list(BAD_NAMES.items()))
def test_what_cannot_be_a_name_is_refused_with_the_reason(typed, reason):
    with pytest.raises(BadName, match=reason.replace("+", r"\+")):
        canonical(typed)


def test_one_name_typed_two_ways_is_one_worker():
    assert canonical("Jose\u0301") == canonical(" José ") == "José"


def test_an_address_that_is_not_utf8_spells_no_name():
    with pytest.raises(BadName, match="UTF-8"):
        from_path_segment("%ff%fe")


# -- through the server -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(runner_assembly, tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, folder / "s3", job_name(folder, "names")) as job:
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False), port=0).start()
        yield job, server
        server.stop()


def get(server, path: str) -> tuple[int, str, str]:
    """(status, Location, body) of a GET sent exactly as written (no client-side normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, response.getheader("Location") or "", body


@pytest.mark.parametrize("name", ["李雷", "AC/DC", "<b>bold</b>", "../../etc/passwd", "%2e%2e", "O'Brien"])
def test_a_name_signs_in_has_a_queue_and_a_task_page_showing_it_escaped(served, name):
    job, server = served
    status, location, _ = get(server, "/?worker=" + quote(name, safe=""))
    assert status == 303 and location.endswith("/worker/" + quote(name, safe=""))
    status, _, body = get(server, "/worker/" + quote(name, safe=""))
    assert status == 200 and escape(name) in body
    if "<" in name:
        assert name not in body  # never as markup
    status, location, _ = get(server, "/worker/" + quote(name, safe="") + "/next")
    assert status == 303 and "/task/" in location
    status, _, body = get(server, location.split(f":{server.port}", 1)[-1])
    assert status == 200 and f"<strong>{escape(name)}</strong>" in body
    object_id = location.rsplit("/task/", 1)[1]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", f"/worker/{quote(name, safe='')}/task/{object_id}/submit",
                       body=json.dumps({"WeldingClassification": {"label": "Good Weld"}}),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    result = json.loads(response.read())
    connection.close()
    assert response.status == 200 and result["recorded"]
    assert name in job.workers_of(object_id)
    key, written = job.record_answer(object_id, name, {"WeldingClassification": {"label": "Good Weld"}})
    assert not written and name not in key and path_segment(name) not in key  # a name never makes an S3 key


@pytest.mark.parametrize("typed", [".", "..", "a\u0000b", "\u202eevil", "x" * 65, " "])
def test_a_bad_name_gets_the_sign_in_page_with_the_reason_not_not_found(served, typed):
    _, server = served
    status, _, body = get(server, "/?worker=" + quote(typed, safe=""))
    assert status == 400 and 'id="name-error" class="notice" role="alert"' in body and "Not found" not in body
    assert 'aria-invalid="true"' in body
    assert 'pattern="' not in body  # no browser-side rule that could disagree with the server's


@pytest.mark.parametrize("segment", ["%2e", "%2E%2e", "%ff", "a%00b", "%E2%80%AEevil", "Jose%CC%81"])
def test_an_address_naming_no_kept_name_goes_to_sign_in(served, segment):
    _, server = served
    status, location, _ = get(server, f"/worker/{segment}")
    assert status == 303 and location.split(f":{server.port}", 1)[-1].startswith("/?worker=")
    status, location, _ = get(server, f"/worker/{segment}/task/0")
    assert status == 303 and "/?worker=" in location


def test_a_slash_in_a_name_never_reaches_another_route(served):
    job, server = served
    status, _, body = get(server, "/worker/" + quote("ana/task/0", safe=""))
    assert status == 200 and "ana/task/0" in body and "your tasks" in body  # the queue of "ana/task/0"
    assert "ana" not in job.workers_of("0")
