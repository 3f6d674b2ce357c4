"""The requester's view of a local job: the lines it prints, the files it keeps as objects complete, its
page (escaped, serving only the job's own files), and a job refused when resumed under other settings."""
from __future__ import annotations

import argparse
import csv
import dataclasses
import html
import http.client
import io
import json
import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import workflows
from local_ground_truth import __main__ as runner
from local_ground_truth import local_s3
from local_ground_truth.job_settings import SettingsChanged, check_or_record, job_settings, settings_path
from local_ground_truth.requester import PREFIX, RequesterLog, shown_name
from local_ground_truth.reviewer import routing_rule
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import RunnerProcess, job_name, local_job, put_manifest, worker_server

QUESTION = "WeldingClassification"
HOSTILE = "<img src=x onerror=alert(1)> 李雷 \"O'Brien\" &amp;"


def answer(label: str) -> dict:
    return {QUESTION: {"label": label}}


def with_workers(spec, workers: int):
    return dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=workers))


@pytest.fixture
def welding(runner_assembly, tmp_path):
    """A pre-labeled welding job of 2 workers per object whose folder is ``tmp_path`` (as the runner's)."""
    spec = with_workers(read_workflow(runner_assembly, "welding"), 2)
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "req")) as job:
        job.folder = tmp_path
        yield job


def get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# -- the terminal and the files -------------------------------------------------------------------

def test_answers_recorded_at_once_are_said_with_their_counts_in_order(welding):
    """Each answer line counts the job's answers when it is said: lines of answers recorded by several workers at
    once came out of order ("45 of 54" before "44 of 54") when a line was counted, then said after another's."""
    said: list[str] = []

    def slow_terminal(line: str) -> None:
        time.sleep(0.01 if '"ana"' in line else 0)  # one worker's lines take their time to reach the terminal
        said.append(line)

    RequesterLog(welding, slow_terminal).attach()
    labels = workflows.definition("welding").questions[0].labels
    ids = welding.object_ids()

    def work(worker: str) -> None:
        for object_id in ids:
            welding.record_answer(object_id, worker, answer(labels[0]))

    threads = [threading.Thread(target=work, args=(worker,)) for worker in ("ana", "bo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = [int(line.rsplit("; ", 1)[1].split(" of ")[0]) for line in said]
    assert len(counts) == 2 * len(ids) and counts == sorted(counts) and counts[-1] == 2 * len(ids)


def test_a_batch_while_pre_labeling_goes_on_counts_against_the_manifest_not_the_objects_stored_so_far(welding):
    """Answers kept from an earlier run can complete more objects than this run has pre-labeled yet: the batch line
    never says "8 of 5 objects done"."""
    job = welding
    said: list[str] = []
    RequesterLog(job, said.append).attach()
    labels = workflows.definition("welding").questions[0].labels
    stored = len(job.object_ids())
    job.lines.append({"source": "s3://data-bucket/welding/datasets/not-pre-labeled-yet.json"})
    for object_id in job.object_ids()[:3]:
        for worker in ("ana", "bo"):
            job.record_answer(object_id, worker, answer(labels[0]))
    job.consolidate()
    [batch] = [line for line in said if line.startswith("batch ")]
    assert f"3 objects consolidated; 3 objects done ({stored} of the manifest's {stored + 1} pre-labeled so far)" in batch


@pytest.mark.parametrize("fails", ["images", "reports"])
def test_a_full_disk_under_the_quality_reports_is_said_in_a_line_and_the_batch_goes_on(welding, monkeypatch, caplog,
                                                                                      fails):
    """The reports' images, drawn after a batch, met a full disk: a traceback headed "after batch ...: <bound method
    RequesterLog.after_batch ...> failed", which did not say the disk was full, and the batch's line went unsaid."""
    import errno

    from local_ground_truth import quality

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(quality.QualityReportFiles, "draw_pending" if fails == "images" else "update", disk_full)
    job, said = welding, []
    RequesterLog(job, said.append).attach()
    labels = workflows.definition("welding").questions[0].labels
    for object_id in job.object_ids()[:2]:
        for worker in ("ana", "bo"):
            job.record_answer(object_id, worker, answer(labels[0]))
    job.consolidate()
    assert any(line.startswith("batch ") and "2 objects consolidated" in line for line in said)
    errors = [record for record in caplog.records if record.levelname == "ERROR"]  # (the images are tried twice)
    assert errors and all(record.exc_info is None and "No space left on device" in record.getMessage()
                          for record in errors)
    assert "could not be saved in" in errors[0].getMessage()


def test_a_file_that_cannot_be_written_keeps_the_others_from_none(welding, caplog):
    """A rewrite that met a full disk raised out of flush_rewrites: the files after it (the output manifest among
    them) were not written, and the runner's stop ended in a traceback."""
    import errno

    from local_ground_truth.spaced_rewrite import SpacedRewrite

    def disk_full():
        raise OSError(errno.ENOSPC, "No space left on device")

    job = welding
    stuck = SpacedRewrite(disk_full, "stuck file")
    job.rewrites.insert(0, stuck)
    labels = workflows.definition("welding").questions[0].labels
    for worker in ("ana", "bo"):
        job.record_answer(job.object_ids()[0], worker, answer(labels[0]))
    stuck.changed_unwritten()
    job.consolidate()  # flushes every rewrite
    written = [json.loads(line) for line in job.local_path(job.output_manifest_key).read_text().splitlines()]
    assert sum("welding-quality" in row for row in written) == 1
    assert any("the stuck file could not be written ([Errno 28] No space left on device)" in record.getMessage()
               for record in caplog.records)


def test_a_line_per_answer_and_per_batch_files_as_objects_complete_and_one_job_complete_line(welding, tmp_path):
    job = welding
    said: list[str] = []
    log = RequesterLog(job, said.append).attach()
    labels = workflows.definition("welding").questions[0].labels
    ids = job.object_ids()

    for object_id in ids[:4]:  # four objects answered by both workers, then a batch
        for worker in ("ana", HOSTILE):
            job.record_answer(object_id, worker, answer(labels[int(object_id) % len(labels)]))
    job.record_answer(ids[4], "ana", answer(labels[0]))  # half answered: not in the batch
    assert said[0] == f'answer: worker "ana" on object {ids[0]} (1 of 2); 1 of {2 * len(ids)} answers in the job'
    assert said[1].startswith(f"answer: worker {shown_name(HOSTILE)} on object {ids[0]} (2 of 2); 2 of ")
    assert '\\"O\'Brien\\"' in said[1]
    job.consolidate()
    [batch] = [line for line in said if line.startswith("batch ")]
    assert f"4 objects consolidated; 4 of {len(ids)} objects done; quality reports saved: " in batch
    assert not any(line.startswith("job complete") for line in said)

    # Written as the objects completed, not at exit: the output manifest with their labels, the report files.
    manifest = [json.loads(line) for line in job.local_path(job.output_manifest_key).read_text().splitlines()]
    assert sum("welding-quality" in row for row in manifest) == 4
    png = tmp_path / f"{job.job_name}-quality-{QUESTION}.png"
    report = json.loads((tmp_path / f"{job.job_name}-quality-{QUESTION}.json").read_text())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and report["objects"] == 4 and str(png) in batch
    assert not list((tmp_path / ".partial").iterdir())  # nothing half written left behind

    for object_id in ids[4:]:
        for worker in ("ana", "bo"):
            if worker not in job.workers_of(object_id):
                job.record_answer(object_id, worker, answer(labels[0]))
    job.consolidate()
    complete = [line for line in said if line.startswith("job complete: ")]
    assert complete == [said[-1]]  # said once, last
    assert f"{len(ids)} of {len(ids)} objects consolidated" in complete[0]
    assert str(job.local_path(job.output_manifest_key)) in complete[0] and str(png) in complete[0]
    assert str(job.local_path(job.answers_prefix.rstrip("/"))) in complete[0]
    assert complete[0].endswith("; the labels with the whole job's confidences (review is off): "
                                f"./scripts/job_confidence.sh {job.local_path(job.output_manifest_key)}")
    assert json.loads((tmp_path / f"{job.job_name}-quality-{QUESTION}.json").read_text())["objects"] == len(ids)
    manifest = job.local_path(job.output_manifest_key)
    assert f"Output manifest: {manifest} (as a table: ./scripts/labels_csv.sh {manifest} -o labels.csv); " in complete[0]
    assert not log.tell_if_complete() and said[-1] == complete[0]  # never said twice
    assert sum(line.startswith("answer: ") for line in said) == 2 * len(ids)



def test_the_job_complete_line_counts_objects_that_failed_pre_labeling(welding):
    """73 lines, 26 failed pre-labeling: "47 of 47 objects consolidated (0 failed ...)" alone hid the 26."""
    from local_ground_truth.requester import complete_summary

    assert "failed pre-labeling" not in complete_summary(welding)
    welding.pre_report.failed.update({"3": "InputError: sensor CSV ... is empty", "7": "InputError: image ... is empty"})
    said = complete_summary(welding)
    assert "; 2 objects of the manifest failed pre-labeling and were never tasks: fix them and run the same " in said

def test_more_answers_than_the_job_asks_for_are_said_as_such(welding):
    """A job whose answers were written by other means may hold more than it asks for: the line says so rather
    than "3 of 2"."""
    job, said = welding, []
    RequesterLog(job, said.append).attach()
    labels = workflows.definition("welding").questions[0].labels
    [first, *rest] = job.object_ids()
    for worker in ("ana", "bo", "cy"):
        job.record_answer(first, worker, answer(labels[0]))
    assert said[1] == f'answer: worker "bo" on object {first} (2 of 2); 2 of {2 * (len(rest) + 1)} answers in the job'
    assert said[2] == (f'answer: worker "cy" on object {first} (3; the job asks for 2); 3 of {2 * (len(rest) + 1)} '
                       "answers in the job")
    for object_id in rest:
        for worker in ("ana", "bo", "cy"):
            job.record_answer(object_id, worker, answer(labels[0]))
    asked = 2 * (len(rest) + 1)
    assert said[-1].endswith(f"; {3 * (len(rest) + 1)} answers ({asked} asked for) in the job")


def test_a_worker_name_never_reaches_the_terminal_as_a_control_sequence():
    assert shown_name("ana") == '"ana"'
    assert shown_name("José 李雷") == '"José 李雷"'
    assert shown_name('a"b\\c') == '"a\\"b\\\\c"'
    shown = shown_name("x\x1b[2Jy\u202ez\n")
    assert "\x1b" not in shown and "\u202e" not in shown and "\n" not in shown and "\\x1b[2J" in shown


# -- the page -------------------------------------------------------------------------------------

def test_the_page_escapes_worker_names_and_shows_progress_links_and_reports(welding):
    job = welding
    ids = job.object_ids()
    with worker_server(job) as server:
        job.record_answer(ids[0], HOSTILE, answer("Good Weld"))
        job.record_answer(ids[0], "ana", answer("Good Weld"))
        job.record_answer(ids[1], "ana", answer("Burn Through"))
        job.consolidate()
        status, headers, body = get(f"{server.url}{PREFIX}")
        page = body.decode()
        assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; 李雷" in page
        assert "&amp;amp;" in page  # the name's own "&amp;" shown as typed
        assert "1 of 18</strong> objects consolidated" in page and "3 of 36 answers" in page
        assert 'id="object-1" class="state-in-progress"' in page
        label = job.consolidated_labels()[ids[0]]["label"][QUESTION]["label"]
        assert f"{QUESTION}: {label}" in page
        # The live part the page polls is the same, escaped.
        _status, _headers, live = get(f"{server.url}{PREFIX}/live")
        assert "&lt;img src=x" in live.decode() and "<img src=x" not in live.decode()

        # Links: the output manifest, each answer, the report's JSON and PNG.
        _s, headers, manifest = get(f"{server.url}{PREFIX}/files/manifests/output/output.manifest")
        assert headers["Content-Type"].startswith("text/plain") and headers["X-Content-Type-Options"] == "nosniff"
        assert len(manifest.decode().splitlines()) == len(job.lines)
        key, _submitted = job.answer_files()[ids[0]][HOSTILE]
        href = f"{PREFIX}/files/" + urllib.parse.quote(key.removeprefix(job.root), safe="/")
        assert href in page
        _s, headers, data = get(server.url + href)
        assert headers["Content-Type"] == "application/json" and "sandbox" in headers["Content-Security-Policy"]
        assert json.loads(data)["answers"][0]["workerId"] == HOSTILE
        _s, headers, png = get(f"{server.url}{PREFIX}/quality/{QUESTION}.png")
        assert headers["Content-Type"] == "image/png" and png[:4] == b"\x89PNG"
        _s, _h, report = get(f"{server.url}{PREFIX}/files/quality-report/{QUESTION}.json")
        assert json.loads(report)["objects"] == 1


def test_each_objects_source_file_opens_from_the_page_through_a_signed_link(welding):
    """A requester checks a label against what it labels: an object's source file in the job's store (the weld's
    description here, an image in an image workflow) is a link of this run's signed links; inline text is not."""
    job = welding
    job.lines[1] = {"source": "An inline text <b>, as a text workflow's line holds it"}
    with worker_server(job) as server:
        page = get(f"{server.url}{PREFIX}")[2].decode()
        source = job.lines[0]["source"]
        [href] = re.findall(r'<td title="' + re.escape(source) + r'"><a href="([^"]+)"', page)
        assert href.startswith(f"{server.url}/media/")
        status, headers, body = get(html.unescape(href))
        bucket, key = source.removeprefix("s3://").split("/", 1)
        assert status == 200 and body == job.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert headers["Content-Security-Policy"] == "sandbox" and headers["X-Content-Type-Options"] == "nosniff"
        [inline] = re.findall(r'<tr id="object-1"[^>]*><td>1</td>\n<td title="[^"]*">(.*?)</td>', page)
        assert inline == "An inline text &lt;b&gt;, as a text workflow&#39;s line holds it"


def test_the_table_finds_objects_by_id_or_part_of_their_source_and_its_links_keep_the_search(welding):
    """At thousands of objects a requester checking one file finds it by name (any case) or its object id, and the
    table's other views and pages keep what they look for; what they typed comes back escaped."""
    job = welding
    with worker_server(job) as server:
        def rows(query: str) -> tuple[list[str], str]:
            page = get(f"{server.url}{PREFIX}/live?{query}")[2].decode()
            return re.findall(r'<tr id="object-(\d+)"', page), page

        source = job.lines[7]["source"]
        name = source.rsplit("/", 1)[1]  # "dataset-08.json"
        assert rows("find=" + urllib.parse.quote(name.upper()))[0] == ["7"]
        # An object's id is found whole (not "17" for "7"), and beside it what has "7" in its source.
        assert rows("find=7")[0] == [str(index) for index, line in enumerate(job.lines)
                                     if index == 7 or "7" in line["source"]]
        assert "7" in rows("find=7")[0] and "17" not in rows("find=7")[0]
        found, page = rows("find=dataset-1")
        assert found == [str(index) for index, line in enumerate(job.lines) if "dataset-1" in line["source"]]
        assert '<a href="?show=done&amp;find=dataset-1#objects">done</a>' in page
        assert f'{len(found)} found for "dataset-1"' in page and '<a href="?show=all#objects">every object</a>' in page
        assert rows("show=done&find=dataset-1")[0] == []  # nothing is consolidated yet
        found, page = rows("find=" + urllib.parse.quote(HOSTILE))
        assert found == [] and "<img src=x" not in page and "No object in this view is" in page
        full = get(f"{server.url}{PREFIX}?find=" + urllib.parse.quote(HOSTILE))[2].decode()
        assert 'value="&lt;img src=x onerror=alert(1)&gt; 李雷 &#34;O&#39;Brien&#34; &amp;amp;"' in full
        assert 'action="/requester#objects"' in full and "every object</a>" in full
        assert len(rows("find=" + "x" * 5000)[1]) < 200_000  # a long search is cut to its first 200 characters


def test_the_page_lists_each_reports_flagged_workers_escaped(welding, monkeypatch):
    """What a report flags (``quality_plots.worker_flags``: spam, colluding pairs, gold misses) is on the page under
    its report, as text: a worker's name in it is never markup."""
    from local_ground_truth import requester as requester_module

    job = welding
    ids = job.object_ids()
    seen = []

    def flags(report):
        seen.append(report)
        return ["answers that carry no information (...): <img src=x onerror=alert(1)> (kappa 0.01)"]

    monkeypatch.setattr(requester_module, "worker_flags", flags)
    with worker_server(job) as server:
        for worker in ("ana", "bo"):
            job.record_answer(ids[0], worker, answer("Good Weld"))
        job.consolidate()
        page = get(f"{server.url}{PREFIX}/live")[2].decode()
    assert seen and seen[0]["objects"] == 1  # the question's report, as the page shows it
    assert f'aria-label="Flagged workers of {QUESTION}"' in page
    assert "&lt;img src=x onerror=alert(1)&gt; (kappa 0.01)</li>" in page and "<img src=x" not in page


def test_the_labels_download_as_csv_a_row_per_object(welding):
    job = welding
    ids = job.object_ids()
    with worker_server(job) as server:
        before = get(f"{server.url}{PREFIX}/labels.csv")[2].decode("utf-8-sig").splitlines()
        assert before[0] == "object,source" and len(before) == 1 + len(job.lines)  # nothing labeled yet
        for worker in (HOSTILE, "ana"):
            job.record_answer(ids[0], worker, answer("Good Weld"))
        job.consolidate()
        [href] = re.findall(r'id="output-csv" href="([^"]+)"', get(f"{server.url}{PREFIX}/live")[2].decode())
        assert href == f"{PREFIX}/labels.csv?manifest=output"  # the link the page shows, followed as a browser would
        status, headers, body = get(server.url + html.unescape(href))
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert headers["Content-Disposition"] == f'attachment; filename="{job.job_name}-output-labels.csv"'
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert len(rows) == len(job.lines) and rows[0]["object"] == ids[0]
        assert rows[0][QUESTION] == "Good Weld" and 0 < float(rows[0][f"{QUESTION} confidence"]) <= 1
        assert rows[0]["workers"] == "2" and rows[1][QUESTION] == ""
        # A misspelt table is named back, never answered with the other one; a final one only where experts review.
        status, _, body = get(f"{server.url}{PREFIX}/labels.csv?manifest=<b>fnal")
        assert status == 400 and body.decode() == "No manifest called '<b>fnal': ask for manifest=output or manifest=final."
        status, _, body = get(f"{server.url}{PREFIX}/labels.csv?manifest=final")
        assert status == 404 and b"no expert review, so no final manifest" in body


def test_every_answer_downloads_as_csv_a_row_per_worker_and_object(welding):
    """What each worker said, beside the crowd's labels: the page's "all as CSV" is the answers recorded so far, a
    row each, and a formula a worker typed as a name stays text."""
    job = welding
    ids = job.object_ids()
    with worker_server(job) as server:
        job.record_answer(ids[1], "=HYPERLINK(1)", answer("Burn Through"))
        job.record_answer(ids[0], "ana", answer("Good Weld"))
        job.record_answer(ids[0], "bo", answer("Contamination"))
        [href] = re.findall(r'id="answers-csv" href="([^"]+)"', get(f"{server.url}{PREFIX}/live")[2].decode())
        status, headers, body = get(server.url + html.unescape(href))
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert headers["Content-Disposition"] == f'attachment; filename="{job.job_name}-answers.csv"'
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert [(row["object"], row["worker"], row[f"answer: {QUESTION}"]) for row in rows] == [
            (ids[0], "ana", "Good Weld"), (ids[0], "bo", "Contamination"), (ids[1], "'=HYPERLINK(1)", "Burn Through")]
        assert all(row["submitted"].endswith("Z") and float(row["seconds"]) >= 0 for row in rows)


@pytest.mark.parametrize("path", ["../../etc/passwd", "%2e%2e/%2e%2e/x", "a//b", "./manifests/output/output.manifest",
                                  "manifests/output/%00x", "nothing-here.json", "..%2fother-job%2fx.json"])
def test_the_page_serves_no_file_outside_the_jobs_folder(welding, path):
    with worker_server(welding) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", f"{PREFIX}/files/{path}")
        response = connection.getresponse()
        assert response.status == 404 and b"root:" not in response.read()
        connection.close()


def test_an_unknown_report_picture_is_not_found(welding):
    with worker_server(welding) as server:
        assert get(f"{server.url}{PREFIX}/quality/nothing.png")[0] == 404


# -- the runner, as a user runs it ----------------------------------------------------------------

def test_a_finished_browser_job_ends_with_job_complete_and_where_everything_is(runner_assembly, tmp_path):
    state = tmp_path / "job"
    runner_process = RunnerProcess(["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir",
                                    str(state), "--processes", "2", "--job-name", "finished", "--review"],
                                   tmp_path / "runner.log")
    log = tmp_path / "runner.log"
    first = log.read_text()
    assert f"Requester: open {runner_process.url}{PREFIX}" in first and "output.manifest" in first
    [experts] = [line for line in first.splitlines() if line.startswith("Experts: open")]
    assert f"(where {routing_rule(read_workflow(runner_assembly, 'welding').review)})" in experts  # the page's words

    def work(worker: str) -> None:
        while True:
            with urllib.request.urlopen(f"{runner_process.url}/worker/{worker}/next", timeout=30) as response:
                landed = response.geturl()
            if "/task/" not in landed:
                return
            object_id = landed.split("/task/")[1].split("?")[0]
            request = urllib.request.Request(f"{runner_process.url}/worker/{worker}/task/{object_id}/submit",
                                             data=json.dumps(answer("Good Weld")).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=30).read()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("ana", "bo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    deadline = time.monotonic() + 120
    while "job complete: " not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    [said] = [line for line in log.read_text().splitlines() if line.startswith("job complete: ")]
    assert "expert review: 18 of 18 routed objects await an expert" in said  # dev: one vote each, under 0.9
    # The expert decides every routed object after the job is complete; the last line says so when it stops.
    for object_id in range(18):
        request = urllib.request.Request(f"{runner_process.url}/review/Dr.%20Ng/object/{object_id}/decision",
                                         data=json.dumps({"decision": {QUESTION: "Good Weld"}}).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()
    runner_process.stop()

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert sum(line.startswith("answer: worker ") for line in lines) == 18
    assert any(line.startswith("batch ") for line in lines)
    assert lines[-1].startswith("job complete: 18 of 18 objects consolidated")
    assert "expert review: 0 of 18 routed objects await an expert" in lines[-1]
    assert "output.manifest" in lines[-1] and f"finished-quality-{QUESTION}.png" in lines[-1]
    assert not any("Run the same command again" in line for line in lines)
    assert (state / f"finished-quality-{QUESTION}.png").is_file()


def test_resuming_under_other_settings_is_refused_naming_each_setting(runner_assembly, tmp_path, monkeypatch, capsys):
    spec = read_workflow(runner_assembly, "welding")
    state = tmp_path / "job"
    # The job was started under dev (one worker per object): its settings are recorded.
    with local_s3.s3_endpoint() as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        started = argparse.Namespace(state_dir=state, job_name="moved", cloud_assembly=None, env="dev", data=None,
                                     accept_template=False)
        runner.check_settings(started, spec, s3)
    recorded = json.loads(settings_path(state, "moved").read_text())
    assert recorded["settings"]["workers per object"] == 1 and recorded["started with"] == "--env dev"

    # The same job run again from an environment of three workers per object is refused before anything runs.
    monkeypatch.setattr(runner, "read_workflow", lambda _assembly, _name: with_workers(spec, 3))
    code = runner.main(["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir", str(state),
                        "--job-name", "moved", "--simulate-workers", "3", "--processes", "1"])
    said = capsys.readouterr().err
    assert code == 2
    assert "cannot resume job moved" in said and "workers per object: 1 when the job started, 3 now" in said
    assert "(--env dev)" in said and "--job-name moved-2" in said
    assert not list((state / "s3").rglob("worker-response/*"))  # nothing of the job was run


def test_a_data_folders_job_refused_for_its_changed_manifest_names_the_manifest(runner_assembly, tmp_path):
    """With --data the command is the same as ever: "run it with the settings it was started with (--env dev --data
    FOLDER)" named nothing to undo. What changed is the folder's manifest.jsonl, and the refusal says so."""
    spec = read_workflow(runner_assembly, "welding")
    folder = tmp_path / "my-welds"
    args = argparse.Namespace(state_dir=tmp_path / "job", job_name="mine", cloud_assembly=None, env="dev", data=folder,
                              accept_template=False)
    with local_s3.s3_endpoint() as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        runner.check_settings(args, spec, s3)
        put_manifest(spec, s3, ['{"source": "s3://data-bucket/welding/datasets/dataset-01.json"}'])  # lines removed
        with pytest.raises(SettingsChanged) as changed:
            runner.check_settings(args, spec, s3)
    assert "input manifest: " in str(changed.value)
    assert (f"The input manifest is {folder / 'manifest.jsonl'}, which changed since the job started (a line removed, "
            "moved or edited: lines added at its end would join the job): put it back as it was") in str(changed.value)


def test_a_refused_resume_leaves_the_jobs_data_as_its_tasks_were_made_from(runner_assembly, tmp_path, monkeypatch,
                                                                           capsys):
    """The check came after the deploy: a resume refused for a changed manifest had already put the changed
    manifest and data in the job's bucket, under tasks made (and answered) from the old ones."""
    spec = read_workflow(runner_assembly, "welding")
    copies = []  # the stack's deployments from a copy of their assets, edited below as a data folder would be
    for number, deployment in enumerate(spec.deployments):
        dirs = [shutil.copytree(folder, tmp_path / "assets" / f"{number}-{i}")
                for i, folder in enumerate(deployment.asset_dirs)]
        copies.append(dataclasses.replace(deployment, asset_dirs=dirs))
    spec = dataclasses.replace(spec, deployments=copies)
    state = tmp_path / "job"
    started = argparse.Namespace(state_dir=state, job_name="mine", cloud_assembly=runner_assembly, env=None,
                                 data=None, accept_template=False)
    manifest = (spec.task.manifest.bucket, spec.task.manifest.key)

    def bucket() -> dict[tuple[str, str], bytes]:
        with local_s3.s3_endpoint(store=state / "s3") as endpoint:
            s3 = local_s3.client(endpoint)
            return {(d.bucket, item["Key"]): s3.get_object(Bucket=d.bucket, Key=item["Key"])["Body"].read()
                    for d in spec.deployments
                    for item in s3.list_objects_v2(Bucket=d.bucket, Prefix=d.prefix).get("Contents", [])}

    with local_s3.s3_endpoint(store=state / "s3") as endpoint:
        s3 = local_s3.client(endpoint)
        plan = local_s3.plan_deployment(spec, s3)
        runner.check_settings(started, spec, s3, plan)
        plan.apply(s3)
    before = bucket()
    assert manifest in before
    [image] = [path for folder in copies for d in folder.asset_dirs for path in d.rglob("*.jpg")][:1]
    image.write_bytes(image.read_bytes()[:-100] + b"edited")
    [listed] = [path for folder in copies for d in folder.asset_dirs for path in d.rglob("*")
                if path.is_file() and path.name == Path(spec.task.manifest.key).name]
    listed.write_text("".join(listed.read_text().splitlines(keepends=True)[:2]))  # lines removed

    monkeypatch.setattr(runner, "read_workflow", lambda _assembly, _name: spec)
    code = runner.main(["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir", str(state),
                        "--job-name", "mine", "--processes", "1"])
    assert code == 2 and "input manifest: " in capsys.readouterr().err
    assert bucket() == before  # the manifest and the image as the job's tasks were made from them


def test_settings_that_do_not_decide_labels_may_change_and_an_unreadable_record_is_refused(tmp_path):
    settings = {"workflow": "welding", "workers per object": 1, "questions": [{"name": "q"}]}
    assert check_or_record(tmp_path, "j", settings) is True
    assert check_or_record(tmp_path, "j", dict(settings)) is False
    with pytest.raises(SettingsChanged) as changed:
        check_or_record(tmp_path, "j", {**settings, "questions": [{"name": "other"}], "workers per object": 2})
    message = str(changed.value)
    assert "workers per object: 1 when the job started, 2 now" in message
    assert 'questions: [{"name": "q"}] when the job started, [{"name": "other"}] now' in message
    assert check_or_record(tmp_path, "j-2", {**settings, "workers per object": 2}) is True  # another job, same folder
    settings_path(tmp_path, "j").write_text("{not json")
    with pytest.raises(SettingsChanged, match="j-settings.json is unreadable"):
        check_or_record(tmp_path, "j", settings)


def test_a_long_setting_that_changed_is_shown_where_it_changed(tmp_path):
    """A label added to a workflow's second question: the questions were cut at 200 characters, before the change,
    so the refusal showed two identical texts ("...{"choices": ["Price"... when the job started, ... the same now)."""
    first = {"abstain": "Not sure", "choices": ["Positive", "Neutral", "Negative", "Not sure"], "kind": "classification",
             "method": None, "name": "sentiment", "required": True, "tie": None}
    topics = {"choices": ["Price", "Quality", "Shipping", "Customer service", "Packaging"], "kind": "multi-select",
              "method": None, "name": "topics", "required": True}
    settings = {"workflow": "product_review", "questions": [first, topics]}
    assert check_or_record(tmp_path, "j", settings) is True
    edited = {**settings, "questions": [first, {**topics, "choices": [*topics["choices"], "Size"]}]}
    with pytest.raises(SettingsChanged) as changed:
        check_or_record(tmp_path, "j", edited)
    [line] = [line for line in str(changed.value).splitlines() if line.startswith("  - questions: ")]
    was, now = line.removeprefix("  - questions: ").removesuffix(" now").split(" when the job started, ")
    assert was != now
    assert '"Packaging"]' in was and '"Packaging", "Size"]' in now
    assert len(line) < 600


def test_a_template_that_alone_changed_is_accepted_when_the_run_says_so(tmp_path):
    """A newer version of the project wrote the same page otherwise (its buttons named apart): every NER job and
    every scaffolded job was refused on resuming, with advice (the environment) that did not apply."""
    settings = {"workflow": "ner", "workers per object": 3, "UI template": "s3://b/t.html (sha256 aaaa)"}
    assert check_or_record(tmp_path, "j", settings) is True
    upgraded = {**settings, "UI template": "s3://b/t.html (sha256 bbbb)"}
    with pytest.raises(SettingsChanged, match="Only the template changed .* --accept-template resumes the job"):
        check_or_record(tmp_path, "j", upgraded)
    with pytest.raises(SettingsChanged) as changed:  # with another setting changed too: no such way out
        check_or_record(tmp_path, "j", {**upgraded, "workers per object": 1}, accept_template=True)
    assert "--accept-template" not in str(changed.value)
    assert check_or_record(tmp_path, "j", upgraded, accept_template=True) is False
    record = json.loads(settings_path(tmp_path, "j").read_text())
    assert record["settings"] == upgraded and record["template changes"] == [
        {"from": "s3://b/t.html (sha256 aaaa)", "to": "s3://b/t.html (sha256 bbbb)"}]
    assert check_or_record(tmp_path, "j", upgraded) is False  # from now on the new template is the job's


def test_the_runner_takes_accept_template(runner_assembly, tmp_path, capsys):
    state, job = tmp_path / "job", "upgraded"
    args = ["--workflow", "welding", "--cloud-assembly", str(runner_assembly), "--state-dir", str(state),
            "--job-name", job, "--simulate-workers", "1", "--processes", "1"]
    assert runner.main(args) == 0
    path = settings_path(state, job)
    record = json.loads(path.read_text())
    record["settings"]["UI template"] = "s3://b/t.html (sha256 0000)"  # as the job's earlier version had it
    path.write_text(json.dumps(record))
    assert runner.main(args) == 2 and "--accept-template resumes the job" in capsys.readouterr().err
    assert runner.main([*args, "--accept-template"]) == 0
    assert json.loads(path.read_text())["template changes"][0]["from"] == "s3://b/t.html (sha256 0000)"


def test_the_job_settings_compare_the_deployed_manifest_and_template_by_content(runner_assembly):
    spec = read_workflow(runner_assembly, "welding")
    one = job_settings(spec, b"manifest", b"template")
    assert one == job_settings(spec, b"manifest", b"template")
    assert one["input manifest"] != job_settings(spec, b"other", b"template")["input manifest"]
    assert one["UI template"] != job_settings(spec, b"manifest", b"other")["UI template"]
    assert job_settings(with_workers(spec, 3), b"manifest", b"template")["workers per object"] == 3


def test_a_multi_select_report_is_shown_as_such_and_drawn(welding):
    """A report of a MultiSelect question beside the choice question's: named for what it measures, and drawn."""
    import random

    from gt_common.multi_select_quality import multi_select_report_from_statistics
    from gt_common.output_layout import QUALITY_REPORTS
    from tests.test_multi_select_quality import random_batch, statistics

    job = welding
    report = {"question": "tags", "batches": 1,
              **multi_select_report_from_statistics(statistics(*random_batch(random.Random(5), 0, 8)))}
    job.s3.put_object(Bucket=job.bucket, Key=f"{job.root}{QUALITY_REPORTS}tags.json", Body=json.dumps(report).encode())
    with worker_server(job) as server:
        _status, _headers, body = get(f"{server.url}{PREFIX}")
        assert "<strong>tags</strong> (multi-select, every choice as a yes/no," in body.decode()
        _s, headers, png = get(f"{server.url}{PREFIX}/quality/tags.png")
        assert headers["Content-Type"] == "image/png" and png[:4] == b"\x89PNG"


def test_a_confidence_is_shown_cut_to_two_places_so_one_under_a_threshold_never_reads_as_it():
    """0.8961, routed under the threshold 0.9, read "Burn Through (0.90) · awaiting review"."""
    from local_ground_truth.wording import shown_confidence

    assert [shown_confidence(p) for p in (0.8961, 0.8999, 0.9, 0.29, 0.5437, 1.0, 0.0)] == [
        "0.89", "0.89", "0.90", "0.29", "0.54", "1.00", "0.00"]
