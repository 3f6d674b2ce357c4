"""One final manifest, one layout: the local runner's reviewer and the merge on AWS write it at the same
place relative to the job's output folder (beside Ground Truth's ``output.manifest``) and with the same
lines for the same crowd output and the same decision; only the reviewer's id differs (a name locally,
a worker id on AWS)."""
from __future__ import annotations

import json

import workflows
from expert_review import layout, merge, start
from expert_review.manifests import parse_lines
from gt_common.questions import QUESTIONS_ENV, questions_to_json
from gt_common.review import (
    BY_CROWD, BY_REVIEWER, DECIDED_BY, FINAL_MANIFEST, REASONS_KEY, REVIEWER_KEY, final_manifest_key, job_output_folder,
)
from local_ground_truth.stack_reader import read_workflow
from tests.runner_helpers import job_name
from tests.test_expert_review_lambdas import (  # noqa: F401 - configured and sagemaker are fixtures
    CROWD_JOB, FINAL_KEY, REVIEW_JOB, configured, crowd_output_key, described, put_manifest, read_lines, review_output,
    sagemaker, state_change,
)
from tests.test_review_server import ON, QUESTION, reviewed_job

WELDING = workflows.definition("welding")
AWS_EXPERT = "private.us-east-1.a1b2c3d4-carla"


def without_reviewer(line: dict, label: str) -> dict:
    metadata = dict(line.get(f"{label}-metadata", {}))
    metadata.pop(REVIEWER_KEY, None)
    return {**line, f"{label}-metadata": metadata}


def test_the_local_runner_and_the_aws_merge_write_the_same_final_manifest(
        runner_assembly, tmp_path, configured, s3, sagemaker, monkeypatch):  # noqa: F811
    spec = read_workflow(runner_assembly, "welding")
    label = spec.label_attribute_name
    # -- locally: four objects, one vote each, all routed; the expert decides object 1 ---------------------
    with reviewed_job(spec, tmp_path / "s3", job_name(tmp_path, "paths")) as (job, server):
        desk = server.site.review
        desk.decide("1", "carla", {QUESTION: "Good Weld"})
        assert desk.final_manifest_key == final_manifest_key(job_output_folder(spec.task.output_prefix, job.job_name))
        assert desk.final_manifest_key == f"{job.root}{FINAL_MANIFEST}"
        assert desk.final_manifest_key.rsplit("/", 1)[0] == job.output_manifest_key.rsplit("/", 1)[0]
        local = [json.loads(line) for line in job.s3.get_object(
            Bucket=job.bucket, Key=desk.final_manifest_key)["Body"].read().decode().splitlines()]
        crowd_output = job.output_manifest()

    # -- on AWS: the same crowd output; the start function's review manifest; the same decision ----------
    monkeypatch.setenv(QUESTIONS_ENV, questions_to_json(WELDING.questions))
    bucket = configured
    put_manifest(s3, bucket, crowd_output_key(), crowd_output)
    lines = parse_lines("".join(json.dumps(line) + "\n" for line in crowd_output), "output manifest")
    review_lines = start.select(lines, label, WELDING.questions, ON.threshold)
    assert [line[layout.REVIEW_FIELD]["object"] for line in review_lines] == [0, 1, 2, 3]
    answered = [{**line, "expert-review": {"decision": {QUESTION: "Good Weld"}, "reviewer": AWS_EXPERT}}
                if line[layout.REVIEW_FIELD]["object"] == 1 else line for line in review_lines]
    review_output(bucket, s3, answered)
    sagemaker.add_response("describe_labeling_job", described(REVIEW_JOB, bucket, label="expert-review"),
                           {"LabelingJobName": REVIEW_JOB})
    sagemaker.add_response("describe_labeling_job", {**described(CROWD_JOB, bucket), "LabelAttributeName": label},
                           {"LabelingJobName": CROWD_JOB})

    result = merge.lambda_handler(state_change(REVIEW_JOB))

    assert FINAL_KEY == final_manifest_key(job_output_folder("output/", CROWD_JOB))
    assert result["finalManifest"] == f"s3://{bucket}/{FINAL_KEY}"
    on_aws = read_lines(s3, bucket, FINAL_KEY)
    # The same place in the job's output folder, the same lines but the reviewer's id.
    assert FINAL_KEY.removeprefix(job_output_folder("output/", CROWD_JOB)) == FINAL_MANIFEST
    assert [without_reviewer(line, label) for line in on_aws] == [without_reviewer(line, label) for line in local]
    decided = on_aws[1][f"{label}-metadata"]
    assert (decided[DECIDED_BY], decided[REVIEWER_KEY]) == (BY_REVIEWER, AWS_EXPERT)
    assert local[1][f"{label}-metadata"][REVIEWER_KEY] == "carla"
    assert on_aws[1][label][QUESTION]["label"] == "Good Weld" and "confidence" not in on_aws[1][label][QUESTION]
    assert decided["crowd"][QUESTION] == {"label": crowd_output[1][label][QUESTION]["label"],
                                          "confidence": crowd_output[1][label][QUESTION]["confidence"]}
    for line in (on_aws[0], on_aws[2], on_aws[3]):  # routed, not decided yet: the crowd's, with its reasons
        assert line[f"{label}-metadata"][DECIDED_BY] == BY_CROWD and line[f"{label}-metadata"][REASONS_KEY]
    assert all(label not in line for line in on_aws[4:]) and len(on_aws) == len(crowd_output)  # not labeled yet


def test_a_line_separator_inside_a_string_is_not_a_line_break():
    """U+2028 and U+0085 inside a JSON string are JSON (str.splitlines split there, and every later line's number,
    by which the review matches answers to objects, moved by one)."""
    rows = [{"source": "a", "note": "one\u2028two"}, {"source": "b", "note": "x\u0085y"}, {"source": "c"}]
    text = "".join(json.dumps(row, ensure_ascii=False) + "\r\n" for row in rows)
    lines = parse_lines(text, "output manifest")
    assert [(line.number, line.value) for line in lines] == list(enumerate(rows))
    assert all(line.problem is None for line in lines)
