"""The local runner, headless: the stack's own Lambdas and data, simulated workers, Ground Truth's layout."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import workflows
from local_ground_truth import __main__ as cli
from local_ground_truth import answers_csv, function_grants, headless
from local_ground_truth import local_s3
from local_ground_truth.job import LocalJob, _check_response
from local_ground_truth.job_settings import appended_objects
from local_ground_truth.stack_reader import REPO_ROOT, read_workflow
from local_ground_truth.truth import TruthError
from tests.runner_helpers import app_with_pre_labeling, put_manifest

LABEL = "welding-quality"


@pytest.fixture(scope="module")
def welding_spec(runner_assembly):
    return read_workflow(runner_assembly, "welding")


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_the_stack_declares_what_the_runner_needs(runner_assembly):
    spec = read_workflow(runner_assembly, "welding")
    assert spec.workflow == "welding" and spec.stack_name == "WeldingLabeling-dev"
    assert spec.label_attribute_name == LABEL
    assert spec.pre_labeling.handler == "welding_pre_labeling.handler.lambda_handler"
    assert (spec.pre_labeling.asset_dir / "welding_pre_labeling" / "handler.py").is_file()
    assert spec.pre_labeling.environment["DERIVED_DATA_PREFIX"] == "plots/"
    assert spec.task.title == "Classify the quality of a weld"


def test_headless_welding_job_writes_every_object_and_resumes(tmp_path, capsys, runner_assembly):
    argv = ["--workflow", "welding", "--simulate-workers", "3", "--accuracy", "0.9", "--state-dir", str(tmp_path / "job"),
            "--processes", "2", "--cloud-assembly", str(runner_assembly)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    # The dev stack asks for 1 worker per object: the simulated job is one created with 3, under a name of its own.
    assert ("headless: 3 simulated workers answer each object, so the job runs with 3 workers per object (the "
            "stack's NumberOfHumanWorkersPerDataObject is 1)") in captured.err
    assert "more than the job's" not in captured.err and "not saved for later batches" not in captured.err
    score = summary["questions"]["WeldingClassification"]
    assert summary["objects"] == 18 and summary["skipped_objects"] == 0
    assert score["objects"] == 18 and score["malformed"] == 0 and score["accuracy"] >= 0.6
    # The job's bucket on disk, in Ground Truth's layout under <output prefix><job name>/.
    job_folder = tmp_path / "job" / "s3" / "data-bucket" / "output" / "local-welding-simulated"
    assert summary["output_manifest"] == str(job_folder / "manifests" / "output" / "output.manifest")
    rows = _rows(summary["output_manifest"])
    assert len(rows) == 18
    for row in rows:
        assert row["source"].startswith("s3://") and row[LABEL]["workers"] == 3
        assert row[LABEL]["WeldingClassification"]["label"] in workflows.definition("welding").questions[0].labels
        assert row[f"{LABEL}-metadata"]["type"] == "groundtruth/custom"
        assert row[f"{LABEL}-metadata"]["job-name"] == "local-welding-simulated"
        assert row[f"{LABEL}-metadata"]["human-annotated"] == "yes"
    responses = list((job_folder / "annotations" / "worker-response" / "iteration-1").rglob("*.json"))
    assert len(responses) == 54
    answer = json.loads(responses[0].read_text())["answers"][0]
    assert {"workerId", "acceptanceTime", "submissionTime", "timeSpentInSeconds", "workerMetadata", "answerContent"} <= set(answer)
    assert list((job_folder / "annotations" / "consolidated-annotation" / "consolidation-request").rglob("*.json"))
    assert (tmp_path / "job" / "local-welding-simulated-summary.png").read_bytes().startswith(b"\x89PNG")
    # Run again: everything is restored, nobody answers twice, nothing is consolidated twice.
    output_before = Path(summary["output_manifest"]).read_text()
    assert cli.main(argv) == 0
    assert len(list((job_folder / "annotations" / "worker-response" / "iteration-1").rglob("*.json"))) == 54
    assert len(list((job_folder / "annotations" / "consolidated-annotation").rglob("*.json"))) == 1
    assert Path(summary["output_manifest"]).read_text() == output_before


GATE = '''

import time as _time

import boto3 as _boto3

_handler = lambda_handler


def lambda_handler(event, context=None):  # this test's gate: the last object waits for a simulated worker's answer
    if "dataset-18." in str(event["dataObject"]):
        # It looks at the job's answers with the consolidation function's key: its own role does not grant them.
        s3 = _boto3.client("s3", aws_access_key_id={reader!r}, aws_secret_access_key="local")
        deadline = _time.monotonic() + 30
        while not s3.list_objects_v2(Bucket={bucket!r}, Prefix={answers!r}).get("KeyCount"):
            if _time.monotonic() > deadline:
                raise RuntimeError("no answer was written while pre-labeling went on")
            _time.sleep(0.05)
    return _handler(event, context)
'''


def test_simulated_workers_answer_while_pre_labeling_goes_on(tmp_path, capsys, runner_assembly, welding_spec):
    """The last object's pre-labeling waits until a simulated answer is in the bucket: headless workers answer what
    is stored while the rest is pre-labeled (as workers in browsers do), so the job gets there."""
    answers = f"{welding_spec.task.output_prefix}gated/annotations/worker-response/"
    reader = function_grants.access_key(welding_spec.consolidation.logical_id)  # of this run: the runner is in here
    app = app_with_pre_labeling(runner_assembly, tmp_path,
                                        GATE.format(bucket=welding_spec.task.output_bucket, answers=answers, reader=reader))
    argv = ["--workflow", "welding", "--simulate-workers", "2", "--state-dir", str(tmp_path / "job"),
            "--processes", "2", "--cloud-assembly", str(app), "--job-name", "gated"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["objects"] == 18 and summary["pre_labeling_failures"] == 0 and summary["pre_labeling_stopped"] is None
    assert len(_rows(summary["output_manifest"])) == 18


def test_the_stacks_consolidation_runs_and_its_quality_report_is_printed_and_saved(tmp_path, capsys, runner_assembly):
    """With the stack's own consolidation function (no stand-in): its quality report, beside the job's folder."""
    argv = ["--workflow", "welding", "--simulate-workers", "3", "--state-dir", str(tmp_path / "job"),
            "--processes", "2", "--cloud-assembly", str(runner_assembly)]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objects"] == 18 and summary["consolidation_failures"] == 0
    quality = summary["quality_reports"]["WeldingClassification"]
    assert Path(quality["png"]).read_bytes().startswith(b"\x89PNG")
    report = json.loads(Path(quality["json"]).read_text())
    assert report["objects"] == 18 and len(report["workers"]) == 3 and report["batches"] == 1
    assert quality["krippendorff_alpha"] is not None and 0 < quality["krippendorff_alpha"] <= 1


def test_a_failing_object_is_reported_and_the_rest_go_on(welding_spec):
    with local_s3.s3_endpoint() as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(welding_spec, s3)
        manifest = welding_spec.task.manifest
        lines = s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read().decode().splitlines()
        put_manifest(welding_spec, s3, lines[:3] + ['{"source": "s3://nowhere/missing.json"}'])
        job = LocalJob(welding_spec, s3, endpoint, "failing")
        report = job.pre_label(processes=2, progress=False)
        assert report.done == 3 and set(report.failed) == {"3"}
        assert "s3://nowhere/missing.json" in report.failed["3"]


def test_an_input_manifest_that_starts_with_a_byte_order_mark_is_read(welding_spec):
    """A requester's manifest saved by a Windows tool and uploaded over the stack's: its first line is an object."""
    with local_s3.s3_endpoint() as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(welding_spec, s3)
        manifest = welding_spec.task.manifest
        body = s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read()
        s3.put_object(Bucket=manifest.bucket, Key=manifest.key, Body=b"\xef\xbb\xbf" + body.replace(b"\n", b"\r\n"))
        job = LocalJob(welding_spec, s3, endpoint, "marked")
        try:
            assert job.lines == [json.loads(line) for line in body.decode().splitlines()]
        finally:
            job.close()


def test_consolidation_responses_are_checked_as_ground_truth_would():
    failed: dict[str, str] = {}
    labels = _check_response([
        {"datasetObjectId": "0", "consolidatedAnnotation": {"content": {LABEL: {"x": 1}}}},
        {"datasetObjectId": "1", "consolidatedAnnotation": {"content": {"other-label": {}}}},
        {"datasetObjectId": "0", "consolidatedAnnotation": {"content": {LABEL: {"x": 2}}}},  # twice: first counts
        {"datasetObjectId": "9", "consolidatedAnnotation": {"content": {LABEL: {"x": 3}}}},  # not in the batch
    ], LABEL, {"0", "1", "2"}, failed)
    assert labels == {"0": {"x": 1}}
    assert set(failed) == {"1", "2"}
    assert "no consolidation entry" in failed["2"]


def test_headless_ner_job_writes_every_object(tmp_path, capsys, runner_assembly):
    argv = ["--workflow", "ner", "--simulate-workers", "3", "--accuracy", "0.85", "--state-dir", str(tmp_path / "ner"),
            "--processes", "2", "--cloud-assembly", str(runner_assembly)]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    spans, judged = summary["questions"]["abstract"], summary["questions"]["isGoodAbstract"]
    assert summary["objects"] == 12 and spans["objects"] == 12 and spans["malformed"] == 0
    assert 0 < spans["span_f1"] <= 1 and 0.5 <= judged["accuracy"] <= 1
    assert "notes" not in summary["questions"]  # free text is kept, not scored
    rows = _rows(summary["output_manifest"])
    assert len(rows) == 12
    for row in rows:
        label = row["abstract-sections"]
        assert label["workers"] == 3 and label["abstract"]["entities"]
        assert label["isGoodAbstract"]["label"] in ("Yes", "No", None)
        assert row["abstract-sections-metadata"]["type"] == "groundtruth/custom"
    # The simulated answers are shaped as the page submits them: the template's hidden inputs hold JSON text.
    [answer] = json.loads(next((tmp_path / "ner").rglob("worker-response/iteration-1/0/*.json")).read_text())["answers"]
    content = answer["answerContent"]
    assert isinstance(content["abstract"], str) and "entities" in json.loads(content["abstract"])
    assert json.loads(content["isGoodAbstract"])["label"] in ("Yes", "No")


def test_objects_are_consolidated_once_in_the_batch_they_complete(welding_spec):
    """The browser flow consolidates as objects complete: each object in exactly one batch."""
    with local_s3.s3_endpoint() as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(welding_spec, s3)
        bucket = welding_spec.task.output_bucket
        job = LocalJob(welding_spec, s3, endpoint, "batches")
        job.pre_label(processes=1, progress=False)
        needed = welding_spec.workers_per_object

        def answer_all(object_id):
            for worker in range(needed):
                job.record_answer(object_id, f"w{worker}", {"WeldingClassification": {"label": "Burn Through"}},
                                  seconds=1.0)

        answer_all("0")
        assert job.consolidate().consolidated == 1
        assert job.consolidate().consolidated == 1  # nothing new: no second batch
        answer_all("1")
        assert job.consolidate().consolidated == 2
        payloads = job._keys(f"{job.root}annotations/consolidated-annotation/consolidation-request/")
        assert len(payloads) == 2
        sent = [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in sorted(payloads)]
        assert sorted([entry["datasetObjectId"] for entry in payload] for payload in sent) == [["0"], ["1"]]
        rows = job.output_manifest()
        assert [row[LABEL]["WeldingClassification"]["label"] for row in rows if LABEL in row] == ["Burn Through"] * 2
        assert len(rows) == 18 and all(row == line for row, line in zip(rows[2:], job.lines[2:]))  # not yet labeled


def test_quality_report_of_a_deployed_job_drawn_from_s3(s3, bucket, tmp_path, capsys):
    from local_ground_truth import quality

    report = {"classes": ["A", "B"], "objects": 2, "answers": 4,
              "workers": {"w1": {"answers": 2, "compared": 2, "agreement": 1.0, "confusion": [[1, 0], [0, 1]]},
                          "w2": {"answers": 2, "compared": 2, "agreement": 0.5, "confusion": [[1, 0], [1, 0]]}},
              "agreement": {"krippendorff_alpha": 0.25, "fleiss_kappa": 0.2}, "consolidated_label_counts": {"A": 1, "B": 1}}
    s3.put_object(Bucket=bucket, Key="out/job/quality-report/Q.json", Body=json.dumps(report).encode())
    png = tmp_path / "q.png"
    assert quality.main([f"s3://{bucket}/out/job/quality-report/Q.json", "--png", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    out = capsys.readouterr().out
    assert "w2" in out and out.index("w2") < out.index("w1")  # least agreeing first
    bad = tmp_path / "bad.json"
    for body, said in [("{nope", "invalid JSON"), ("[]", "its JSON is list, not an object"),
                       ('{"source-ref": "s3://b/a.json", "Q": {"label": "A"}}', 'no "workers" object'),
                       ('{"classes": "AB", "workers": {}}', 'no "classes" list of names'),
                       ('{"kind": "spans", "labels": ["X"], "workers": {}, "confusion": [[1]]}', "ValueError"),
                       (json.dumps({**report, "workers": {"w1": {"confusion": [[1]]}}}), "ValueError")]:
        bad.write_text(body)  # another file of the job, or a report of the wrong shape: named, no traceback
        assert quality.main([str(bad), "--png", str(tmp_path / "bad.png")]) == 2, body
        error = capsys.readouterr().err
        assert f"{bad} is not a quality report" in error and said in error, (body, error)
    assert not (tmp_path / "bad.png").exists()


def test_each_objects_simulated_answers_are_the_same_whatever_was_answered_before(welding_spec, tmp_path):
    """Each object's answers come from a generator of its own (the seed and the object): the same answers whatever
    order pre-labeling stores objects in, and a resumed run answers as the first would have."""
    import workflows
    from local_ground_truth import answers_csv, headless
    from local_ground_truth.truth import load_truth
    from tests.runner_helpers import job_name, local_job

    definition = workflows.definition("welding")
    truth = load_truth(definition.truth_path)

    def contents(job) -> dict[tuple[str, str], dict]:
        return {(object_id, answer["workerId"]): answer["answerContent"]
                for object_id, answers in job.answers().items() for answer in answers}

    with local_job(welding_spec, tmp_path / "whole", job_name(tmp_path, "whole")) as job:
        simulation = headless.prepare(job, definition, truth, "truth.json")
        assert headless.simulate(job, simulation, workers=3, accuracy=0.5, seed=11) == 54
        whole = contents(job)
    with local_job(welding_spec, tmp_path / "resumed", job_name(tmp_path, "resumed")) as job:
        # Answered before this run: one worker on three objects (with answers the simulation would not give).
        for object_id in ("2", "9", "17"):
            job.record_answer(object_id, "simulated-2", {"WeldingClassification": {"label": "Not sure"}})
        simulation = headless.prepare(job, definition, truth, "truth.json")
        assert headless.simulate(job, simulation, workers=3, accuracy=0.5, seed=11) == 51
        resumed = contents(job)
    kept = {(object_id, "simulated-2") for object_id in ("2", "9", "17")}
    assert {key: value for key, value in resumed.items() if key not in kept} == \
           {key: value for key, value in whole.items() if key not in kept}
    assert len({json.dumps(value, sort_keys=True) for value in whole.values()}) > 1  # the answers do differ


def test_a_pre_labeling_that_stops_fails_the_run_and_keeps_what_was_stored(tmp_path, capsys, runner_assembly,
                                                                            monkeypatch):
    """A write of pre-labeling responses the endpoint refuses stops pre-labeling: the objects stored before it are
    answered and consolidated, the run says why it stopped and exits 1, and the same command does the rest."""
    from local_ground_truth import job as job_module

    monkeypatch.setattr(job_module, "RESPONSES_PER_WRITE", 6)
    monkeypatch.setattr(job_module, "RESPONSES_WAIT_SECONDS", 3600)
    store = job_module.LocalJob._store_task_inputs
    groups: list[int] = []

    def refuse_the_second_group(job, responses):
        groups.append(len(responses))
        if len(groups) == 2:
            raise RuntimeError("the endpoint refused the write")
        return store(job, responses)

    monkeypatch.setattr(job_module.LocalJob, "_store_task_inputs", refuse_the_second_group)
    argv = ["--workflow", "welding", "--simulate-workers", "2", "--state-dir", str(tmp_path / "job"),
            "--processes", "2", "--cloud-assembly", str(runner_assembly), "--job-name", "refused"]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert "pre-labeling stopped: RuntimeError: the endpoint refused the write" in captured.err
    assert summary["pre_labeling_stopped"] == "RuntimeError: the endpoint refused the write"
    stored = summary["objects"]
    assert 6 <= stored < 18 and stored % 6 == 0  # the groups stored before (and beside) the refused one
    assert sum(LABEL in row for row in _rows(summary["output_manifest"])) == stored

    monkeypatch.setattr(job_module.LocalJob, "_store_task_inputs", store)
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objects"] == 18 and summary["pre_labeling_stopped"] is None


def _chosen(argv: list[str], assembly: Path):
    args = cli.parse_args(argv)
    cli.choose_workflow(args, assembly)
    return args


def test_simulated_answers_never_join_a_job_of_real_workers(tmp_path, capsys, runner_assembly):
    """Headless runs default to a job of their own (local-<workflow>-simulated), and one pointed at a browser job
    with fewer workers per object is refused before anything is written: its settings differ."""
    from local_ground_truth.job_settings import settings_path

    simulated = _chosen(["--workflow", "welding", "--simulate-workers", "3"], runner_assembly)
    assert simulated.job_name == "local-welding-simulated" and simulated.state_dir.name == "local-welding-simulated"
    assert _chosen(["--workflow", "welding"], runner_assembly).job_name == "local-welding"

    state = tmp_path / "job"
    argv = ["--workflow", "welding", "--state-dir", str(state), "--cloud-assembly", str(runner_assembly),
            "--job-name", "real"]
    spec = read_workflow(runner_assembly, "welding")
    with local_s3.s3_endpoint(store=state / "s3") as endpoint:  # a browser job of the dev stack was started here
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        cli.check_settings(_chosen(argv, runner_assembly), spec, s3)
    assert settings_path(state, "real").is_file()
    capsys.readouterr()
    assert cli.main(argv + ["--simulate-workers", "3", "--processes", "2"]) == 2
    said = capsys.readouterr().err
    assert "cannot resume job real" in said and "workers per object: 1 when the job started, 3 now" in said
    assert not list(state.rglob("worker-response/*/*/*.json"))  # nothing answered


def test_another_data_folder_of_the_same_name_does_not_resume_the_first_ones_job(tmp_path, runner_assembly):
    """Two folders named "photos" make one default job name: the second, of like files (IMG_0001.png, ...), resumed
    the first one's job, and the first folder's answers came back as the labels of its images."""
    from local_ground_truth.job_settings import SettingsChanged

    state, first, second = tmp_path / "job", tmp_path / "a" / "photos", tmp_path / "b" / "photos"
    argv = ["--workflow", "welding", "--state-dir", str(state), "--cloud-assembly", str(runner_assembly)]
    spec = read_workflow(runner_assembly, "welding")

    def on(folder: Path):
        args = _chosen(argv, runner_assembly)
        args.data = folder  # as --data gives it (the assembly stands for the app synthesized with it)
        return args

    with local_s3.s3_endpoint(store=state / "s3") as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        cli.check_settings(on(first), spec, s3)
        cli.check_settings(on(first), spec, s3)  # its own folder resumes it
        with pytest.raises(SettingsChanged) as refused:
            cli.check_settings(on(second), spec, s3)
    said = str(refused.value)
    assert f"data folder: {first} when the job started, {second} now" in said
    assert "a folder of the same name makes the same job name. Label this folder as a job of its own (--job-name)" \
        in said
    assert "input manifest" not in said  # the manifests are alike: it was not the manifest that changed


def test_simulated_answers_never_join_a_job_of_real_workers_of_as_many_workers(tmp_path, capsys, runner_assembly):
    """As many simulated workers per object as the browser job has (dev: 1): who answers differs, so the run is refused
    before anything is written, and a browser run pointed at a simulated job is refused too. A job recorded before
    who answers was recorded resumes as it did."""
    from local_ground_truth.job_settings import SettingsChanged, check_or_record, job_settings, settings_path

    state = tmp_path / "job"
    argv = ["--workflow", "welding", "--state-dir", str(state), "--cloud-assembly", str(runner_assembly)]
    spec = read_workflow(runner_assembly, "welding")
    assert spec.workers_per_object == 1
    with local_s3.s3_endpoint(store=state / "s3") as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        cli.check_settings(_chosen(argv + ["--job-name", "real"], runner_assembly), spec, s3)
        cli.check_settings(_chosen(argv + ["--job-name", "sim", "--simulate-workers", "1"], runner_assembly), spec, s3)
        with pytest.raises(SettingsChanged, match="answers: simulated workers when the job started, workers in a "
                                                  "browser now"):
            cli.check_settings(_chosen(argv + ["--job-name", "sim"], runner_assembly), spec, s3)
    capsys.readouterr()
    assert cli.main(argv + ["--job-name", "real", "--simulate-workers", "1", "--processes", "2"]) == 2
    said = capsys.readouterr().err
    assert "cannot resume job real" in said and "workers per object" not in said
    assert "answers: workers in a browser when the job started, simulated workers now" in said
    assert not list(state.rglob("worker-response/*/*/*.json"))  # nothing answered

    earlier = job_settings(spec, b"manifest", b"template")
    del earlier["answers"]
    assert check_or_record(tmp_path / "old", "old", earlier) is True
    assert "answers" not in json.loads(settings_path(tmp_path / "old", "old").read_text())["settings"]
    resumed = job_settings(spec, b"manifest", b"template", simulated=True)
    assert check_or_record(tmp_path / "old", "old", resumed) is False


NO_TEXT_FOR_THE_THIRD_ABSTRACT = '''

_handler = lambda_handler


def lambda_handler(event, context=None):  # this test's pre-labeling: the third abstract's task input has no text
    response = _handler(event, context)
    if event["dataObject"]["source-ref"].endswith("/abstract-03.jpg"):
        del response["taskInput"]["text"]
    return response
'''


@pytest.mark.parametrize("broken", ["a later object's task input", "the definition's span_text_input"])
def test_spans_cannot_be_simulated_without_the_text_to_tag_and_the_object_is_named(broken, tmp_path, capsys,
                                                                                  runner_assembly, monkeypatch):
    assembly, expected = runner_assembly, "object 2: its task input has no text under 'text'"
    if broken == "a later object's task input":  # the first object is fine: the check is made per object too
        assembly = app_with_pre_labeling(runner_assembly, tmp_path, NO_TEXT_FOR_THE_THIRD_ABSTRACT, workflow="ner")
    else:
        ner = workflows.definition("ner")
        monkeypatch.setattr(workflows, "definition", lambda name: replace(ner, span_text_input="abstract"))
        expected = "object 0: its task input has no text under 'abstract' (the definition's span_text_input)"
    argv = ["--workflow", "ner", "--simulate-workers", "2", "--state-dir", str(tmp_path / "ner"),
            "--processes", "1", "--cloud-assembly", str(assembly)]  # one environment: objects come in manifest order
    assert cli.main(argv) == 2
    assert expected in capsys.readouterr().err


def test_a_truth_span_past_the_end_of_its_text_is_named_with_the_object(tmp_path, capsys, runner_assembly):
    """Texts are known only once pre-labeled: a span beyond one was dropped by the simulation, scored as missed."""
    truth = json.loads(workflows.definition("ner").truth_path.read_text())
    truth["abstract-03"]["abstract"].append({"label": "Results", "startOffset": 10, "endOffset": 100_000})
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    argv = ["--workflow", "ner", "--simulate-workers", "2", "--state-dir", str(tmp_path / "ner"), "--processes", "1",
            "--cloud-assembly", str(runner_assembly), "--truth", str(tmp_path / "truth.json")]
    assert cli.main(argv) == 2
    said = capsys.readouterr().err
    assert ("object 2, question abstract: truth span {'label': 'Results', 'startOffset': 10, 'endOffset': 100000} "
            "ends past the end of the object's text (") in said and "1 of its 9 truth spans do): fix the truth file" in said


def test_with_review_on_the_complete_line_says_what_awaits_an_expert_and_where_the_final_manifest_is(
        runner_assembly, tmp_path, capsys):
    argv = ["--workflow", "welding", "--simulate-workers", "3", "--accuracy", "0.5", "--seed", "3", "--review",
            "--state-dir", str(tmp_path / "job"), "--cloud-assembly", str(runner_assembly), "--job-name", "reviewed"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    review = json.loads(captured.out)["review"]
    assert review["routed"] > 0 and review["awaiting"] == review["routed"]  # no expert answers headless
    [complete] = [line for line in captured.err.splitlines() if line.startswith("job complete: ")]
    assert complete.endswith(f"; expert review: {review['awaiting']} of {review['routed']} routed objects await an "
                             "expert, final manifest (the crowd's labels with the experts' decisions): "
                             f"{review['final_manifest']} (as a table: ./scripts/labels_csv.sh "
                             f"{review['final_manifest']} -o labels.csv)")
    assert (f"{review['awaiting']} routed objects await an expert: to decide them in the browser, run the same "
            "command with --serve-review") in captured.err
    # The command the line names for the answers as a table runs as given, and tables every answer.
    [folder] = re.findall(r"as a table: \./scripts/answers_csv\.sh (\S+) -o answers\.csv", complete)
    table = tmp_path / "answers.csv"
    assert answers_csv.main([folder, "-o", str(table)]) == 0
    assert len(table.read_text(encoding="utf-8-sig").splitlines()) == 1 + 18 * 3


class _Lines:
    """The part of a LocalJob that headless.prepare reads before pre-labeling has stored anything."""

    def __init__(self, lines):
        self.lines = lines


def test_two_objects_one_truth_entry_would_score_is_refused_naming_both():
    job = _Lines([{"source": "s3://b/datasets/dataset-01.json"}, {"source": "s3://b/datasets/dataset-02.json"},
                  {"source": "s3://b/datasets/dataset-01.json"},  # the same object again: its own entry is fine
                  {"source": "s3://b/datasets/extra/dataset-01.json"}])
    with pytest.raises(headless.CannotSimulate, match=re.escape(
            "objects 0 (s3://b/datasets/dataset-01.json) and 3 (s3://b/datasets/extra/dataset-01.json) would both "
            "take the truth entry 'dataset-01'")):
        headless.prepare(job, workflows.definition("welding"), {}, "truth.json")


def test_a_truth_entry_that_does_not_fit_is_named_before_pre_labeling_ends():
    def pre_labeling_ended():
        raise AssertionError("waited for pre-labeling before checking the entries there are")

    job = _Lines([{"source": "s3://b/datasets/run-1.json"}, {"source": "s3://b/datasets/run-2.json"}])
    truth = {"run-1": {"WeldingClassification": "Contaminaton"}}  # run-2 has no entry: pre-labeling may skip it
    with pytest.raises(TruthError, match="object 0 \\('run-1'\\), question WeldingClassification: 'Contaminaton' is not one of"):
        headless.prepare(job, workflows.definition("welding"), truth, "truth.json", pre_labeling_ended)


def test_the_simulation_answers_what_the_page_requires():
    from local_ground_truth.form_rules import rules_of

    page = ('<crowd-text-area name="note" required></crowd-text-area><crowd-input name="other"></crowd-input>'
            '<crowd-classifier-multi-select name="topics" categories=\'["a", "b"]\'></crowd-classifier-multi-select>'
            '<crowd-classifier name="kind" categories=\'["x", "y"]\'></crowd-classifier>')
    simulation = headless.Simulation(questions=(), truth={}, rules=rules_of(page))
    assert simulation.must_answer == {"note", "topics"}  # a classifier's choice is always made


def test_a_truth_file_saved_with_a_byte_order_mark_is_read_as_the_manifest_beside_it_is(tmp_path):
    """A requester's truth.json saved by a Windows tool was refused ("Unexpected UTF-8 BOM"), though the manifest
    written by the same tool is read."""
    from local_ground_truth.truth import TruthError, load_truth

    path = tmp_path / "truth.json"
    path.write_bytes('{"run-1": {"WeldingClassification": "Good Weld"}}'.encode("utf-8-sig"))
    assert load_truth(path) == {"run-1": {"WeldingClassification": "Good Weld"}}
    path.write_bytes('{"run-1": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(TruthError, match="truth.json is not JSON"):  # not UTF-8: named, as before
        load_truth(path)


def test_truth_entries_that_name_no_object_are_said(caplog):
    """A line with a source and an id is named by its source: an entry keyed by the id is never used."""
    def stop_here():  # the truth is checked; the next step would wait for pre-labeling
        raise headless.CannotSimulate("stopped by the test")

    job = _Lines([{"source": "s3://b/datasets/run-1.json", "id": "r07"}])
    with pytest.raises(headless.CannotSimulate, match="stopped by the test"):
        headless.prepare(job, workflows.definition("welding"),
                         {"run-1": {"WeldingClassification": "Good Weld"}, "r07": {}}, "truth.json", stop_here)
    assert "truth.json: 1 entry names no object of the manifest" in caplog.text and ": 'r07'" in caplog.text


def test_a_requesters_own_data_is_labeled_in_a_job_of_its_own_named_by_its_folder(tmp_path, capsys):
    """--data: a folder laid out as the sample data (here three runs of it and their truth) is what the stack
    deploys and the job labels; the job is named by the folder, and its known answers are the folder's."""
    folder = tmp_path / "My Welds"
    shutil.copytree(REPO_ROOT / "sample_data" / "welding", folder)
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    (folder / "manifest.jsonl").write_text("\n".join(lines[3:6]) + "\n")
    for hidden in (".DS_Store", "images/.DS_Store", ".text-sources.json"):  # a desktop's and a tool's: never uploaded
        (folder / hidden).write_bytes(b"\x00\x00\x00\x01Bud1")
    argv = ["--workflow", "welding", "--data", str(folder), "--simulate-workers", "2", "--processes", "2",
            "--state-dir", str(tmp_path / "job")]
    assert cli.main(argv) == 0
    assert not [path for path in (tmp_path / "job" / "s3").rglob("*") if path.name.startswith((".DS_Store", ".text"))]
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert f"data of welding: {folder}" in captured.err
    assert summary["objects"] == 3 and summary["questions"]["WeldingClassification"]["objects"] == 3
    rows = _rows(summary["output_manifest"])
    assert [row["source"].rsplit("/", 1)[1] for row in rows] == ["dataset-04.json", "dataset-05.json",
                                                                  "dataset-06.json"]
    assert {row[f"{LABEL}-metadata"]["job-name"] for row in rows} == {"local-welding-my-welds-simulated"}
    settings = json.loads((tmp_path / "job" / "local-welding-my-welds-simulated-settings.json").read_text())
    assert settings["started with"] == f"--env dev --data {folder}"
    # A folder without a manifest is refused before anything is synthesized.
    with pytest.raises(SystemExit):
        cli.parse_args(["--workflow", "welding", "--data", str(tmp_path)])
    said = capsys.readouterr().err
    assert f"--data {tmp_path}: not a folder with a manifest.jsonl" in said
    assert f"for a folder of images, ./scripts/folder_manifest.sh {tmp_path} writes it" in said
    with pytest.raises(SystemExit):
        cli.parse_args(["--workflow", "welding", "--data", str(folder), "--cloud-assembly", "cdk.out"])
    assert "an assembly holds the data it was synthesized with" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse_args(["--list-workflows", "--data", str(folder)])
    assert f"--data {folder}: name the workflow whose data it is (--workflow)" in capsys.readouterr().err


def welds_of_two_runs(tmp_path) -> tuple[Path, list[str], list[str]]:
    """A data folder of the sample welding data with the first two runs in its manifest: the folder, the sample
    manifest's lines, and the runner's arguments for one simulated worker on it."""
    folder = tmp_path / "welds"
    shutil.copytree(REPO_ROOT / "sample_data" / "welding", folder)
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    (folder / "manifest.jsonl").write_text("\n".join(lines[:2]) + "\n")
    return folder, lines, ["--workflow", "welding", "--data", str(folder), "--simulate-workers", "1", "--processes",
                           "1", "--state-dir", str(tmp_path / "job")]


def test_a_data_file_changed_or_removed_under_a_job_under_way_is_named_when_it_resumes(tmp_path, capsys):
    """The deploy of a resumed job puts the folder's files as they are now: a camera image deleted from the folder
    was deleted from the job's bucket, and an edited one replaced, without a word, though the objects' tasks (and
    answers) stay and show them. Each is named, with the way to label changed data."""
    folder, lines, argv = welds_of_two_runs(tmp_path)
    assert cli.main(argv) == 0
    assert "changed or removed" not in capsys.readouterr().err
    (folder / "images" / "run-02.jpg").write_bytes((folder / "images" / "run-01.jpg").read_bytes())
    (folder / "images" / "run-17.jpg").unlink()  # no object's here: named all the same
    assert cli.main(argv) == 0
    said = capsys.readouterr().err
    assert ("2 files of the stack's data changed or removed since the job's last run: "
            "s3://data-bucket/welding/images/run-02.jpg (changed); s3://data-bucket/welding/images/run-17.jpg "
            "(removed). Objects already pre-labeled keep their tasks") in said


def test_objects_appended_to_the_manifest_join_the_job_and_an_edited_line_is_refused(tmp_path, capsys):
    """More data for a job under way: lines added at the end of the folder's manifest are new objects of the same job
    (ids are line numbers, so the earlier ones keep theirs, with their answers and labels). A line edited or removed
    would renumber or change objects already answered: refused, naming the way out, and nothing deployed."""
    folder, lines, argv = welds_of_two_runs(tmp_path)
    assert cli.main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    rows_before = _rows(first["output_manifest"])
    (folder / "manifest.jsonl").write_text("\r\n".join(lines[:5]) + "\r\n")  # saved again by another editor, too
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "grew by 3 objects since the job's last run" in captured.err and "5 objects in all" in captured.err
    assert "changed or removed" not in captured.err
    summary = json.loads(captured.out)
    rows = _rows(summary["output_manifest"])
    assert summary["objects"] == 5 and len(rows) == 5
    assert rows[:2] == rows_before  # the earlier objects' labels as they were: not asked or consolidated again
    assert len(list((tmp_path / "job" / "s3" / "data-bucket").rglob("worker-response/iteration-1/*/*.json"))) == 5
    settings = json.loads((tmp_path / "job" / "local-welding-welds-simulated-settings.json").read_text())
    assert [growth["objects added"] for growth in settings["manifest growth"]] == [3]
    # Lines moved: refused before anything is deployed.
    deployed = tmp_path / "job" / "s3" / "data-bucket" / "manifests" / "input.manifest"
    grown = deployed.read_bytes()
    (folder / "manifest.jsonl").write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:5]]) + "\n")
    assert cli.main(argv) == 2
    said = capsys.readouterr().err
    assert "input manifest" in said and "lines added at its end would join the job" in said
    assert deployed.read_bytes() == grown


@pytest.mark.parametrize("before, after, added", [
    (b'{"a": 1}\n', b'{"a": 1}\n{"a": 2}\n', 1),
    (b'{"a": 1}\n{"a": 2}', b'\xef\xbb\xbf{"a":1}\r\n{"a": 2}\r\n{"a": 3}\r\n\r\n', 1),  # spacing, CRLF, a BOM
    (b'{"a": 1}\n{"a": 2}\n', b'{"a": 1}\n{"a": 2}\n', 0),  # the same
    (b'{"a": 1}\n{"a": 2}\n', b'{"a": 2}\n{"a": 1}\n{"a": 3}\n', 0),  # moved
    (b'{"a": 1}\n{"a": 2}\n', b'{"a": 1}\n{"a": 3}\n', 0),  # edited
    (b'{"a": 1}\n{"a": 2}\n', b'{"a": 1}\n', 0),  # removed
    (b'{"a": 1}\n', b'{"a": 1}\n{"a": \n', 0),  # not JSON
])
def test_a_manifest_only_grows_when_every_earlier_line_stays_as_it_was(before, after, added):
    assert appended_objects(before, after) == added


def test_a_job_folder_inside_its_data_folder_is_refused(tmp_path, runner_assembly, capsys):
    """The data folder is uploaded as the job's data: a job kept inside it went up with it at every run (its answers,
    settings and team keys into the labeling bucket, the bucket itself nested one level deeper each time)."""
    folder = tmp_path / "welds"
    folder.mkdir()
    (folder / "manifest.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit):
        _chosen(["--workflow", "welding", "--data", str(folder), "--state-dir", str(folder / "job")], runner_assembly)
    assert (f"the job's folder {folder / 'job'} is inside --data {folder}, which is uploaded as the job's data"
            in capsys.readouterr().err)
    beside = _chosen(["--workflow", "welding", "--data", str(folder), "--state-dir", str(tmp_path / "welds-job")],
                     runner_assembly)
    assert beside.state_dir == tmp_path / "welds-job"


def test_a_long_data_folders_name_is_cut_but_a_simulated_job_stays_one_of_its_own(tmp_path, runner_assembly):
    folder = tmp_path / ("Welds of the second line, " * 4).strip()
    folder.mkdir()
    (folder / "manifest.jsonl").write_text("{}\n")
    simulated = _chosen(["--workflow", "welding", "--data", str(folder), "--simulate-workers", "2"],
                        runner_assembly).job_name
    real = _chosen(["--workflow", "welding", "--data", str(folder)], runner_assembly).job_name
    assert len(simulated) <= 63 and simulated.endswith("-simulated") and simulated.startswith("local-welding-welds-of")
    assert real.startswith("local-welding-welds-of-the-second-line") and len(real) <= 63 and real != simulated
