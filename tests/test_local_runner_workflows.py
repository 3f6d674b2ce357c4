"""Which workflows the runner runs: every workflow stack of the synthesized app, read from its outputs.

The runner knows no workflow by name: it lists the stacks with the ``WorkflowName`` and
``LabelingJobRequest`` outputs, reads the task settings from the request (resolving its
CloudFormation intrinsics for this machine), and says clearly what it cannot run.
"""
from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from gt_common.questions import Checkbox, YesNo
import workflows
from local_ground_truth import __main__ as cli
from local_ground_truth.stack_reader import (
    FUNCTION_ARN_PREFIX, LOCAL_ACCOUNT, StackError, app_error, read_workflow, synthesize, workflow_stacks,
)
from tests.runner_helpers import RunnerProcess

RUNNER = Path(__file__).resolve().parent.parent / "local_ground_truth"
# Every workflow of this repository (a fork's new one too) and its stack in the dev app.
DEV_STACKS = {name: f"{definition.stack_name}-dev" for name, definition in sorted(workflows.definitions().items())}
CHOICES = ", ".join(DEV_STACKS)


def test_the_app_lists_its_workflow_stacks(runner_assembly, capsys):
    assert {"ner": "NerLabeling-dev", "welding": "WeldingLabeling-dev"}.items() <= DEV_STACKS.items()
    assert workflow_stacks(runner_assembly) == DEV_STACKS
    assert cli.main(["--list-workflows", "--cloud-assembly", str(runner_assembly)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}\t{stack}" for name, stack in DEV_STACKS.items()]


def test_an_app_without_workflow_stacks_is_said_when_listing_too(tmp_path, capsys):
    """--list-workflows on an empty cdk.out printed nothing and succeeded; --workflow said what was wrong."""
    (tmp_path / "manifest.json").write_text('{"version": "48.0.0", "artifacts": {}}')
    for argv in (["--list-workflows"], ["--workflow", "welding"]):
        with pytest.raises(SystemExit) as stopped:
            cli.main([*argv, "--cloud-assembly", str(tmp_path)])
        assert stopped.value.code == 2
        assert "the synthesized app has no workflow stack" in capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [
    (["--workflow", "triage"], f"no workflow 'triage' in the synthesized app; choose one of: {CHOICES}"),
    ([], f"--workflow is required; choose one of: {CHOICES}"),
])
def test_a_workflow_the_app_does_not_have_is_refused_naming_the_choices(runner_assembly, capsys, argv, said):
    with pytest.raises(SystemExit) as stopped:
        cli.main([*argv, "--cloud-assembly", str(runner_assembly)])
    assert stopped.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("name", ["my.job", "../escape", "-leading", "a" * 64, "with space"])
def test_a_job_name_the_functions_could_not_read_back_is_refused(runner_assembly, capsys, name):
    # The functions find the job's task records by the name in its ARN (gt_common.labeling_job.JOB_NAME).
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--workflow", "welding", f"--job-name={name}", "--cloud-assembly", str(runner_assembly)])
    assert stopped.value.code == 2 and f"job name {name!r}: use at most 63 letters" in capsys.readouterr().err


#: The workflows the repository ships, which the runner once knew by name. A fork's own words are not looked for:
#: they may be everyday ones ("text", "quality") that the runner's code holds in another sense.
SHIPPED_WORKFLOWS = ("welding", "ner")


def test_the_runners_code_names_no_workflow_and_no_label():
    code = "\n".join(path.read_text(encoding="utf-8") for path in sorted(RUNNER.rglob("*"))
                     if path.suffix in (".py", ".js"))
    fixed = {*YesNo(name="q").labels, *Checkbox(name="q").labels}  # the model's own labels, the same in every workflow
    for definition in map(workflows.definition, SHIPPED_WORKFLOWS):
        for word in (definition.name, definition.label_attribute_name, *(q.name for q in definition.questions),
                     *(label for q in definition.questions for label in q.labels if label not in fixed)):
            assert f'"{word}"' not in code and f"'{word}'" not in code, word


def test_the_task_settings_come_from_the_stacks_request(runner_assembly):
    spec = read_workflow(runner_assembly, "ner")
    definition = workflows.definition("ner")
    human = spec.request["HumanTaskConfig"]
    assert spec.task.label_attribute_name == definition.label_attribute_name == spec.request["LabelAttributeName"]
    assert spec.task.title == definition.title and spec.task.time_limit_seconds == definition.task_time_limit_seconds
    assert spec.task.manifest.bucket == spec.task.output_bucket == "data-bucket" and spec.task.output_prefix == "output/"
    assert spec.task.ui_template.key.endswith("/ner.liquid.html")
    # The functions are the ones the request names, found by their logical ids.
    assert human["PreHumanTaskLambdaArn"] == FUNCTION_ARN_PREFIX + spec.pre_labeling.logical_id
    assert spec.pre_labeling.handler == "ner_pre_labeling.handler.lambda_handler"
    assert spec.request["RoleArn"].startswith(f"arn:aws:iam::{LOCAL_ACCOUNT}:role/")
    assert spec.pre_labeling.environment["TASK_RECORDS_URI"] == "s3://data-bucket/derived/task-records/"
    assert "LabelingJobName" not in spec.request


# -- a hand-written app: every intrinsic the request may hold, and what the runner refuses -------------

FUNCTION = {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "asset.x"},
            "Properties": {"Handler": "pkg.handler.lambda_handler", "Timeout": 30}}


def request_value(**overrides):
    request = {"LabelAttributeName": "tickets",
               "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://@Data@/manifests/in.manifest"}}},
               "OutputConfig": {"S3OutputPath": "s3://@Data@"},
               "RoleArn": "@Role@",
               "HumanTaskConfig": {"WorkteamArn": "@Team@", "UiConfig": {"UiTemplateS3Uri": "s3://@Data@/t/x.html"},
                                   "PreHumanTaskLambdaArn": "@Pre@", "TaskTitle": "Say \"what\"", "TaskDescription": "d",
                                   "NumberOfHumanWorkersPerDataObject": 2, "TaskTimeLimitInSeconds": "300",
                                   "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": "@Post@"}}}
    request.update(overrides)
    text = json.dumps(request)
    intrinsics = {"@Data@": {"Ref": "DataBucket12345678"}, "@Role@": {"Fn::GetAtt": ["Role", "Arn"]},
                  "@Team@": {"Fn::ImportValue": "Workforce:TeamArn"}, "@Pre@": {"Fn::GetAtt": ["PreFn", "Arn"]},
                  "@Post@": {"Fn::GetAtt": "PostFn.Arn"}}
    parts: list = [text]
    for marker, value in intrinsics.items():
        parts = [piece for part in parts for piece in
                 (_split(part, marker, value) if isinstance(part, str) else [part])]
    return {"Fn::Join": ["", parts]}


def _split(text: str, marker: str, value):
    pieces = text.split(marker)
    out = [pieces[0]]
    for piece in pieces[1:]:
        out += [value, piece]
    return out


def write_app(folder: Path, stacks: dict[str, dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, template in stacks.items():
        (folder / f"{name}.template.json").write_text(json.dumps(template))
    return folder


def template(workflow: str = "tickets", request=None, environment=None) -> dict:
    return {"Resources": {
        "DataBucket12345678": {"Type": "AWS::S3::Bucket"}, "Role": {"Type": "AWS::IAM::Role"},
        "PreFn": {**FUNCTION, "Properties": {**FUNCTION["Properties"], "Environment": {"Variables": environment or {}},
                                             "MemorySize": 1024}},
        "PostFn": FUNCTION},
        "Outputs": {"WorkflowName": {"Value": workflow}, "LabelingJobRequest": {"Value": request or request_value()}}}


def test_every_intrinsic_of_the_request_and_environment_is_resolved_for_this_machine(tmp_path):
    environment = {
        "RECORDS": {"Fn::Join": ["", ["s3://", {"Ref": "DataBucket12345678"}, "/derived/"]]},
        "SUB": {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${B}/${AWS::Region}/${Role.Arn}", {"B": {"Ref": "DataBucket12345678"}}]},
        "FIRST": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
        "PLAIN": "x", "NUMBER": 7}
    app = write_app(tmp_path / "app", {"Tickets-dev": template(environment=environment), "Other": {"Resources": {}}})
    spec = read_workflow(app, "tickets")
    assert spec.task.title == 'Say "what"' and spec.task.workers_per_object == 2 and spec.task.time_limit_seconds == 300
    assert spec.task.manifest.bucket == "data-bucket" and spec.task.manifest.key == "manifests/in.manifest"
    assert (spec.task.output_bucket, spec.task.output_prefix) == ("data-bucket", "")  # S3OutputPath: a bare bucket
    assert spec.pre_labeling.logical_id == "PreFn" and spec.consolidation.logical_id == "PostFn"
    assert spec.pre_labeling.timeout_seconds == 30 and spec.pre_labeling.asset_dir == app / "asset.x"
    assert (spec.pre_labeling.memory_mb, spec.consolidation.memory_mb) == (1024, 128)  # 128: Lambda's default
    assert spec.request["HumanTaskConfig"]["WorkteamArn"] == "imported:Workforce:TeamArn"
    assert spec.pre_labeling.environment == {
        "RECORDS": "s3://data-bucket/derived/", "SUB": f"arn:aws:s3:::data-bucket/local/arn:aws:iam::{LOCAL_ACCOUNT}:role/Role",
        "FIRST": "b", "PLAIN": "x", "NUMBER": "7"}
    assert spec.buckets == {"DataBucket12345678": "data-bucket"}


@pytest.mark.parametrize("stack, problem", [
    (template(request=request_value(HumanTaskConfig={"PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:1:function:PRE-x"})),
     "has no HumanTaskConfig.TaskTitle"),
    (template(request=json.dumps({"LabelAttributeName": "x"})), "has no OutputConfig"),
    (template(request="{not json"), "its LabelingJobRequest output is not JSON"),
    (template(request=request_value(LabelAttributeName=3)), "LabelingJobRequest LabelAttributeName is not a string: 3"),
    (template(environment={"ZONE": {"Fn::GetAZs": ""}}), "function PreFn environment variable ZONE"),
    (template(request=request_value(InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": "https://x/y"}}})),
     "is not an S3 URI"),
])
def test_a_stack_the_runner_cannot_run_is_refused_saying_where(tmp_path, stack, problem):
    with pytest.raises(StackError, match=problem.replace(".", r"\.")):
        read_workflow(write_app(tmp_path / "app", {"Tickets-dev": stack}), "tickets")


def test_a_function_the_stack_does_not_hold_is_refused(tmp_path):
    request = request_value()  # Ground Truth's own pre-labeling function instead of the stack's
    parts = request["Fn::Join"][1]
    parts[parts.index({"Fn::GetAtt": ["PreFn", "Arn"]})] = "arn:aws:lambda:us-east-1:1:function:PRE-Classification"
    with pytest.raises(StackError, match="PreHumanTaskLambdaArn is 'arn:aws:lambda:us-east-1:1:function:PRE-Classification"
                                         "'.*not a function of this stack"):
        read_workflow(write_app(tmp_path / "app", {"Tickets-dev": template(request=request)}), "tickets")


def test_an_app_without_workflow_stacks_or_with_two_claiming_one_name_is_refused(tmp_path):
    with pytest.raises(StackError, match="has no workflow stack .* its stacks are: Workforce"):
        read_workflow(write_app(tmp_path / "none", {"Workforce": {"Resources": {}}}), "tickets")
    with pytest.raises(StackError, match="stacks A and B both say they are workflow 'tickets'"):
        workflow_stacks(write_app(tmp_path / "two", {"A": template(), "B": template()}))


def test_templates_the_assemblys_manifest_does_not_list_are_not_read(runner_assembly, tmp_path):
    """``cdk synth -c env=prod`` into a folder that held dev's app leaves dev's templates there, unlisted."""
    app = tmp_path / "app"
    shutil.copytree(runner_assembly, app, symlinks=True)
    shutil.copy(app / "WeldingLabeling-dev.template.json", app / "WeldingLabeling-old.template.json")
    assert workflow_stacks(app) == DEV_STACKS


# -- a workflow stack without a definition --------------------------------------------------------------

@pytest.fixture
def undefined_workflow(runner_assembly, tmp_path):
    """The app, with one workflow stack saying it is a workflow this repository does not define."""
    app = tmp_path / "app"
    shutil.copytree(runner_assembly, app, symlinks=True)
    path = app / "NerLabeling-dev.template.json"
    stack = json.loads(path.read_text())
    stack["Outputs"]["WorkflowName"]["Value"] = "mystery"
    path.write_text(json.dumps(stack))
    return app


def test_headless_mode_says_why_it_cannot_simulate_a_workflow_without_a_definition(undefined_workflow, tmp_path, capsys):
    argv = ["--workflow", "mystery", "--simulate-workers", "2", "--cloud-assembly", str(undefined_workflow),
            "--state-dir", str(tmp_path / "job")]
    assert cli.main(argv) == 2
    said = capsys.readouterr().err
    assert "cannot simulate workers for workflow 'mystery': no workflow is named 'mystery'" in said
    assert "runs with workers in a browser" in said
    assert not (tmp_path / "job").exists()  # refused before anything was started


def test_a_workflow_without_a_definition_still_runs_in_the_browser(undefined_workflow, tmp_path):
    runner = RunnerProcess(["--workflow", "mystery", "--cloud-assembly", str(undefined_workflow),
                            "--state-dir", str(tmp_path / "job"), "--processes", "2"], tmp_path / "runner.log")
    try:
        with urllib.request.urlopen(f"{runner.url}/worker/ana", timeout=30) as response:
            assert "You answered 0 of 12" in response.read().decode()
        with urllib.request.urlopen(f"{runner.url}/worker/ana/task/0", timeout=30) as response:
            page = response.read().decode()
        assert 'id="abstract-container"' in page and "/static/crowd-html-elements.js" in page
    finally:
        runner.stop()


@pytest.mark.parametrize("path, bucket, prefix", [
    ("s3://out", "out", ""), ("s3://out/", "out", ""), ("s3://out/jobs", "out", "jobs/"), ("s3://out/a/b/", "out", "a/b/"),
])
def test_the_output_path_may_name_a_bucket_or_a_folder(path, bucket, prefix):
    from local_ground_truth.stack_reader import _output_path

    assert _output_path(path, "S") == (bucket, prefix)
    with pytest.raises(StackError, match="S3OutputPath 'https://out' is not an S3 URI"):
        _output_path("https://out", "S")


def test_an_app_that_refuses_its_input_is_named_by_its_message_not_its_traceback(tmp_path):
    (tmp_path / "app.py").write_text(
        "import warnings\n"
        "warnings.warn('a deprecation CDK prints first')\n"
        "def build():\n"
        "    raise ValueError('manifest sample_data/welding/manifest.jsonl lines 2 and 182 name the same source\\n"
        "with different fields')\n"
        "build()\n")
    with pytest.raises(StackError) as raised:
        synthesize(tmp_path / "out", "dev", repo_root=tmp_path)
    assert str(raised.value) == (
        "synthesizing the app (dev) failed: ValueError: manifest sample_data/welding/manifest.jsonl lines 2 and 182 "
        "name the same source\nwith different fields\n(./scripts/synth.sh shows app.py's whole output)")


def test_an_app_that_fails_without_a_traceback_shows_what_it_wrote_last():
    assert app_error("node: not found\n\n") == "node: not found"


def test_env_with_an_assembly_already_synthesized_is_refused_not_ignored(capsys):
    from local_ground_truth import __main__ as cli

    with pytest.raises(SystemExit) as stopped:
        cli.parse_args(["--workflow", "welding", "--cloud-assembly", "cdk.out", "--env", "dev"])
    assert stopped.value.code == 2
    assert "--env dev with --cloud-assembly: an assembly holds the environment it was synthesized for" in \
        capsys.readouterr().err
    assert cli.parse_args(["--workflow", "welding"]).env == "dev"
