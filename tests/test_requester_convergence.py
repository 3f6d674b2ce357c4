"""The worker model's convergence as the local runner shows it: in the terminal summary of each quality
report, as a warning line after a batch whose fit did not converge, and on the requester's page."""
from __future__ import annotations

import dataclasses
import json
import urllib.request

import pytest

from local_ground_truth.quality import convergence, save_quality_reports
from local_ground_truth.requester import PREFIX, RequesterLog
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job, worker_server

QUESTION = "WeldingClassification"
HOSTILE_BATCH = "<script>alert(1)</script>"


@pytest.fixture
def welding(runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")
    spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=2))
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "fit")) as job:
        job.folder = tmp_path
        yield job


def answered(job, labels):
    """The first objects answered by two workers each (their labels in turn), then one batch."""
    for object_id, label in zip(job.object_ids(), labels):
        for worker in ("ana", "bo"):
            job.record_answer(object_id, worker, {QUESTION: {"label": label}})
    job.consolidate()


def report_key(job):
    return f"{job.root}quality-report/{QUESTION}.json"


def rewrite_report(job, change):
    report = json.loads(job.s3.get_object(Bucket=job.bucket, Key=report_key(job))["Body"].read())
    change(report["convergence"])
    job.s3.put_object(Bucket=job.bucket, Key=report_key(job), Body=json.dumps(report).encode())
    return report


def not_converged(fit):
    fit["this_batch"].update(batch=HOSTILE_BATCH, iterations=500, converged=False)
    fit["job"].update(not_converged=1)


def test_each_report_summary_says_how_the_fit_went(welding, tmp_path):
    answered(welding, ["Good Weld", "Burn Through", "Good Weld"])
    saved = save_quality_reports(welding, tmp_path)[QUESTION]
    assert saved["convergence"]["warning"] is False
    line = saved["text"].splitlines()[-1]
    assert line.startswith("worker model, batch iteration-1-") and ": converged in " in line
    assert "; job: 1 fit, 0 not converged" in line and "WARNING" not in saved["text"]


def test_a_fit_that_did_not_converge_is_warned_about_after_its_batch(welding, tmp_path):
    said: list[str] = []
    log = RequesterLog(welding, said.append).attach()
    answered(welding, ["Good Weld", "Burn Through"])
    assert not any(line.startswith("warning:") for line in said)
    rewrite_report(welding, not_converged)  # as the Lambda writes it after a fit at its cap
    log.after_batch(type("Outcome", (), {"name": "x", "labeled": [], "failed": {}})())
    [warning] = [line for line in said if line.startswith("warning:")]
    assert warning.startswith(f"warning: {QUESTION}: worker model, batch {HOSTILE_BATCH}: did NOT converge")
    assert "500 iterations" in warning and "1 not converged" in warning and "may be off" in warning


def test_the_requester_page_shows_the_fit_escaped_and_a_warning_when_it_did_not_converge(welding):
    answered(welding, ["Good Weld", "Burn Through"])
    with worker_server(welding) as server:
        page = urllib.request.urlopen(f"{server.url}{PREFIX}", timeout=30).read().decode()
        assert '<span class="convergence">worker model, batch iteration-1-' in page and "converged in" in page
        rewrite_report(welding, not_converged)
        page = urllib.request.urlopen(f"{server.url}{PREFIX}/live", timeout=30).read().decode()
        assert '<span class="convergence warning">' in page and "did NOT converge" in page
        assert HOSTILE_BATCH not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("report", [{}, {"convergence": None}, {"convergence": {"this_batch": "x"}},
                                    {"convergence": []}])
def test_a_report_without_a_fit_shows_none(report):
    assert convergence(report) is None


def test_a_report_of_an_earlier_job_without_job_counts_still_shows_the_batch():
    shown = convergence({"convergence": {"this_batch": {"batch": "b", "iterations": 7, "converged": True,
                                                        "temperature": None}, "job": None}})
    assert shown == {"text": "worker model, batch b: converged in 7 iterations", "warning": False}
