"""Answers recorded at the same time: each (object, worker) written once, others not kept waiting, and the
consolidation payload in submission order whatever order the writes finished in."""
from __future__ import annotations

import json
import threading

from local_ground_truth.job import LocalJob
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job

GOOD = {"WeldingClassification": {"label": "Good Weld"}}


def _at_once(calls) -> list:
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_simultaneous_submissions_write_each_worker_once_and_the_payload_keeps_submission_order(runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "answers")) as job:
        # The same worker submitting one object eight times at once (retries, tabs): one answer is written.
        same = _at_once([lambda: job.record_answer("0", "ana", GOOD)] * 8)
        assert sum(written for _, written in same) == 1
        assert len({key for key, _ in same}) == 1
        stored = [item["Key"] for item in job.s3.list_objects_v2(Bucket=job.bucket, Prefix=f"{job.answers_prefix}0/")["Contents"]]
        assert stored == [same[0][0]]
        # Eight workers on one object at once: all eight written and counted.
        workers = [f"w{number}" for number in range(8)]
        many = _at_once([lambda worker=worker: job.record_answer("1", worker, GOOD) for worker in workers])
        assert all(written for _, written in many)
        assert job.workers_of("1") == set(workers)
        # Counted once each, as a resumed run counts them from the bucket.
        assert job.progress()["answers"] == 9 == LocalJob(spec, job.s3, job.endpoint, job.job_name).progress()["answers"]
        job.consolidate()
        [payload_key] = [item["Key"] for item in job.s3.list_objects_v2(
            Bucket=job.bucket, Prefix=f"{job.root}annotations/consolidated-annotation/consolidation-request/")["Contents"]]
        payload = json.loads(job.s3.get_object(Bucket=job.bucket, Key=payload_key)["Body"].read())
        submitted = {a["workerId"]: a["submissionTime"] for a in job.answers()["1"]}
        [entry] = [e for e in payload if e["datasetObjectId"] == "1"]
        order = [a["workerId"] for a in entry["annotations"]]
        assert sorted(order) == sorted(workers)
        assert [submitted[w] for w in order] == sorted(submitted[w] for w in order)


def test_who_answered_what_is_kept_as_answers_come_and_read_back_the_same(runner_assembly, tmp_path):
    """A worker's requests read these instead of every answered object: they must say what the answers say, in
    the running job and in one resumed from the bucket."""
    spec = read_workflow(runner_assembly, "welding")
    needed = spec.workers_per_object
    workers = [f"w{number}" for number in range(needed + 1)]
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "kept")) as job:
        _at_once([lambda worker=worker: job.record_answer("0", worker, GOOD) for worker in workers[:needed]])
        job.record_answer("1", workers[0], GOOD)
        if needed > 1:
            job.record_answer("2", workers[1], GOOD)
        resumed = LocalJob(spec, job.s3, job.endpoint, job.job_name)
        for kept in (job, resumed):
            assert kept.full_object_ids() == {oid for oid, answers in kept.answers().items() if len(answers) >= needed}
            assert set(kept.in_flight_object_ids()) == set(kept.answers()) - kept.full_object_ids()
            assert "0" in kept.full_object_ids() and ("1" in kept.in_flight_object_ids()) == (needed > 1)
            for worker in workers:
                assert kept.answered_by(worker) == {oid for oid, answers in kept.answers().items()
                                                    if any(a["workerId"] == worker for a in answers)}
            files = kept.answer_files()
            assert kept.answer_counts() == {oid: len(by_worker) for oid, by_worker in files.items()}
            assert kept.worker_activity() == {  # the requester's table: answers and the latest submission
                worker: (sum(worker in by_worker for by_worker in files.values()),
                         max(by_worker[worker][1] for by_worker in files.values() if worker in by_worker))
                for worker in {w for by_worker in files.values() for w in by_worker}}
            assert kept.answer_files(["1", "nope"]) == {"1": files["1"]}
            assert kept.ready_objects() == sorted(kept.full_object_ids(), key=int)  # none consolidated yet
        job.consolidate()
        assert job.ready_objects() == [] and set(job.consolidated_labels()) == job.full_object_ids()
