"""A job started by an earlier version of the runner resumes under this one with what it had: its folder is written
here by hand in the earlier layout, as that version left it."""
from __future__ import annotations

import json

from gt_common.task_record import RECORDS_ENV, data_object_of, job_folder, record_location, records_location
from local_ground_truth.job import LocalJob
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name, local_job

GOOD = {"WeldingClassification": {"label": "Good Weld"}}
GOLD = {"WeldingClassification": "Burn Through"}


def _first_line_gold(spec, s3):
    """The deployed manifest's first line carries a known answer (a gold object)."""
    manifest = spec.task.manifest
    lines = s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read().decode().splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "gold": GOLD})
    s3.put_object(Bucket=manifest.bucket, Key=manifest.key, Body=("\n".join(lines) + "\n").encode())


def test_task_records_kept_before_records_went_per_job_are_read_when_the_job_resumes(runner_assembly, tmp_path):
    """Until task records went into a folder per job (b947a91), pre-labeling wrote <TASK_RECORDS_URI><digest>.json.
    Resumed, such a job pre-labels nothing again: its gold object's known answer, kept only there, was lost to every
    later batch (no "gold", no gold-miss, nothing routed to an expert)."""
    spec = read_workflow(runner_assembly, "welding")
    store, name = tmp_path / "s3", job_name(tmp_path, "flat-records")
    folder = records_location(spec.consolidation.environment)
    assert folder is not None and RECORDS_ENV in spec.consolidation.environment
    with local_job(spec, store, name, prepare=_first_line_gold) as job:
        data_object = data_object_of(job.lines[0])
        ours, flat = record_location(folder, data_object, name), record_location(folder, data_object)
        assert json.loads(job.s3.get_object(Bucket=ours.bucket, Key=ours.key)["Body"].read())["gold"] == GOLD
        # The earlier layout: every record of the job in the records folder itself, none in a folder of the job's.
        listed = job.s3.list_objects_v2(Bucket=folder.bucket, Prefix=job_folder(folder, name).key)["Contents"]
        for key in [item["Key"] for item in listed]:
            job.s3.copy_object(Bucket=folder.bucket, Key=folder.key + key.rsplit("/", 1)[1],
                               CopySource={"Bucket": folder.bucket, "Key": key})
            job.s3.delete_object(Bucket=folder.bucket, Key=key)

        resumed = LocalJob(spec, job.s3, job.endpoint, name, store=store)
        try:
            resumed.record_answer("0", "w1", GOOD)
            resumed.consolidate()
            label = resumed.consolidated_labels()["0"]["label"]["WeldingClassification"]
        finally:
            resumed.close()
        assert label["label"] == "Good Weld"
        assert label["gold"] == "Burn Through" and label["gold-miss"] is True
        job.s3.head_object(Bucket=flat.bucket, Key=flat.key)  # the earlier file is left where it was
