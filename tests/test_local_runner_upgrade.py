"""A job started by an earlier version of the runner resumes under this one with what it had: its folder is written
here by hand in the earlier layout, as that version left it."""
from __future__ import annotations

import json

import pytest

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

        # ... and, as welding's pre-labeling did for an object without gold, an empty record of another object.
        plain = data_object_of(job.lines[1])
        empty, absent = record_location(folder, plain), record_location(folder, plain, name)
        job.s3.put_object(Bucket=empty.bucket, Key=empty.key, Body=b"{}")

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
        listed = job.s3.list_objects_v2(Bucket=absent.bucket, Prefix=absent.key).get("Contents", [])
        assert listed == []  # nothing kept, so nothing copied: no empty record is written any more


def _mirrored_answer(folder, object_id: str, worker: str, label: str) -> None:
    """An answer file where a runner before the job's bucket was kept in s3/ left it: the top of --state-dir."""
    path = folder / "annotations" / "worker-response" / "iteration-1" / object_id / f"2026-11-25T10-00-0{object_id}.000Z-0a1b2c3d.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"answers": [{
        "acceptanceTime": "2026-11-25T09:59:00.000Z", "answerContent": {"WeldingClassification": {"label": label}},
        "submissionTime": f"2026-11-25T10:00:0{object_id}.000Z", "timeSpentInSeconds": 60.0, "workerId": worker,
        "workerMetadata": {"identityData": {"identityProviderType": "Local", "issuer": "local_ground_truth",
                                            "sub": worker}}}]}))


def test_answers_an_earlier_runner_kept_at_the_top_of_the_job_folder_are_resumed(tmp_path, capsys, runner_assembly):
    """Up to ec1e8c1 the runner copied a job's files to the top of --state-dir (annotations/worker-response/...) and
    back into its endpoint at the next start. This one keeps them in <state dir>/s3 and never looked there: the same
    command started the job afresh beside them ("0 answers ... from earlier runs"), asking again for every answer."""
    from local_ground_truth import __main__ as cli

    state = tmp_path / "job"
    for object_id in ("0", "1", "2"):
        _mirrored_answer(state, object_id, "simulated-1", "Not sure")
    kept = sorted(p.read_bytes() for p in (state / "annotations").rglob("*.json"))
    argv = ["--workflow", "welding", "--simulate-workers", "3", "--state-dir", str(state), "--processes", "2",
            "--cloud-assembly", str(runner_assembly)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "imported 3 answer files that an earlier version of this runner kept in" in err
    assert "(3 answers and 0 consolidated objects from earlier runs)" in err
    answers = state / "s3" / "data-bucket" / "output" / "local-welding-simulated" / "annotations" / "worker-response"
    assert len(list(answers.rglob("*.json"))) == 54  # simulated-1 was not asked again for objects 0, 1 and 2
    for object_id in ("0", "1", "2"):
        stored = [json.loads(p.read_text())["answers"][0] for p in (answers / "iteration-1" / object_id).glob("*.json")]
        mine = [a for a in stored if a["workerId"] == "simulated-1"]
        assert len(mine) == 1 and mine[0]["answerContent"]["WeldingClassification"]["label"] == "Not sure"
    assert sorted(p.read_bytes() for p in (state / "annotations").rglob("*.json")) == kept  # left as it was
    assert cli.main(argv) == 0  # imported once: the next run finds them in the bucket
    assert "imported" not in capsys.readouterr().err
    assert len(list(answers.rglob("*.json"))) == 54

    # Real workers' answers never join a simulated job: named, and left where they are.
    other = tmp_path / "browser-job"
    _mirrored_answer(other, "0", "ana", "Good Weld")
    assert cli.main([*argv[:5], str(other), *argv[6:]]) == 0
    err = capsys.readouterr().err
    assert "holds 1 answer file of workers in a browser" in err and "run without --simulate-workers" in err
    assert (other / "annotations" / "worker-response" / "iteration-1" / "0").is_dir()


def _legacy_job(state, runner_assembly, job: str, workers: list[str]) -> None:
    """A job recorded before its settings said who answers (no "answers"), answered by ``workers`` (object i by the
    i-th), in ``state``."""
    from local_ground_truth import __main__ as cli
    from local_ground_truth import local_s3
    from local_ground_truth.job_settings import settings_path

    spec = read_workflow(runner_assembly, "welding")
    with local_s3.s3_endpoint(store=state / "s3") as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        args = cli.parse_args(["--workflow", "welding", "--state-dir", str(state), "--cloud-assembly",
                               str(runner_assembly), "--job-name", job])
        cli.check_settings(args, spec, s3)
        for index, worker in enumerate(workers):
            s3.put_object(Bucket=spec.task.output_bucket,
                          Key=f"{spec.task.output_prefix}{job}/annotations/worker-response/iteration-1/{index}/a.json",
                          Body=json.dumps({"answers": [{"workerId": worker, "answerContent": GOOD,
                                                        "submissionTime": "2026-11-28T08:00:00.000Z"}]}).encode())
    path = settings_path(state, job)
    record = json.loads(path.read_text())
    del record["settings"]["answers"]
    path.write_text(json.dumps(record))


def test_a_job_recorded_before_who_answers_was_recorded_keeps_simulated_and_real_answers_apart(tmp_path, capsys,
                                                                                               runner_assembly):
    """Before 4fd6cd6 a headless job ran under the browser job's name (local-welding), and before 7b868e0 no record
    said who answered: a browser run resumed such a job of simulated answers as real workers' job ('job complete' at
    once, nothing left for a worker). Who answered is now read from the answers' workers and recorded."""
    from local_ground_truth import __main__ as cli
    from local_ground_truth import local_s3
    from local_ground_truth.job_settings import SettingsChanged, settings_path

    state = tmp_path / "simulated"
    _legacy_job(state, runner_assembly, "local-welding", ["simulated-1", "simulated-2", "simulated-3"])
    argv = ["--workflow", "welding", "--state-dir", str(state), "--cloud-assembly", str(runner_assembly),
            "--job-name", "local-welding"]
    spec = read_workflow(runner_assembly, "welding")
    with local_s3.s3_endpoint(store=state / "s3") as endpoint:  # the browser run's check, as it starts
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        with pytest.raises(SettingsChanged) as refused:
            cli.check_settings(cli.parse_args(argv), spec, s3)
    said = str(refused.value)
    assert "cannot resume job local-welding" in said
    assert "answers: simulated workers when the job started, workers in a browser now" in said
    assert "a job of simulated workers resumes with --simulate-workers" in said
    record = json.loads(settings_path(state, "local-welding").read_text())
    assert record["settings"]["answers"] == "simulated workers"
    assert record["inferred"] == {"answers": "every answer by a simulated worker"}
    assert len(list((state / "s3").rglob("worker-response/*/*/*.json"))) == 3  # nothing written, nothing lost

    real = tmp_path / "real"
    _legacy_job(real, runner_assembly, "team", ["ana", "simulated-1"])
    capsys.readouterr()
    assert cli.main(["--workflow", "welding", "--state-dir", str(real), "--cloud-assembly", str(runner_assembly),
                     "--job-name", "team", "--simulate-workers", "1", "--processes", "2"]) == 2
    said = capsys.readouterr().err
    assert "answers: workers in a browser when the job started, simulated workers now" in said
    assert len(list((real / "s3").rglob("worker-response/*/*/*.json"))) == 2
