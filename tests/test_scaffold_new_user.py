"""What a new user following README "Adding a workflow" met, without synthesizing anything: the scaffold's test
commands select exactly the new workflow's tests (a workflow named ``prod`` re-recorded other workflows' snapshots),
and names, labels and titles that cannot work are refused before a file is written, each saying why."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import workflows
from gt_common.questions import FreeText
from workflows import scaffold
from workflows.model import REPO_ROOT, WorkflowDefinition

# Collects (never runs) the suite's tests with two more workflows defined, and writes each selected test's workflows:
# the values of its parameters that are a workflow (a name, or a definition), an environment's name aside.
COLLECTOR = '''
import json, os
import workflows
from workflows.model import WorkflowDefinition

workflows.__path__.append(os.environ["EXTRA_WORKFLOWS"])


def pytest_collection_finish(session):
    names = set(workflows.definitions())
    def workflows_of(item):
        params = getattr(getattr(item, "callspec", None), "params", {})
        return sorted(value.name if isinstance(value, WorkflowDefinition) else value for key, value in params.items()
                      if key != "env_name" and (isinstance(value, WorkflowDefinition) or value in names))
    with open(os.environ["COLLECTED"], "w") as out:
        json.dump({item.nodeid: workflows_of(item) for item in session.items}, out)
'''
RUN = subprocess.run  # (the tests replace scaffold.subprocess.run, which is this function)
NEW, LONGER = "prod", "prod2"  # "prod" is an environment's name too (cdk.json), in every stack test's id


def collected(tmp_path: Path, args: list[str]) -> dict[str, list[str]]:
    """The tests pytest selects with ``args`` in this repository, with the workflows NEW and LONGER defined too: each
    test's id and the workflows it is parametrized with."""
    extra = tmp_path / "extra_workflows"
    extra.mkdir(exist_ok=True)
    for name in (NEW, LONGER):
        (extra / f"{name}.py").write_text(
            "from workflows import WorkflowDefinition, YesNo\n"
            f"WORKFLOW = WorkflowDefinition(name={name!r}, title='t', description='d', label_attribute_name={name!r}, "
            "questions=(YesNo(name='ok'),))\n")
    (tmp_path / "workflow_collector.py").write_text(COLLECTOR)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}  # not as an xdist worker
    env.update(PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO_ROOT), env.get("PYTHONPATH", "")]),
               EXTRA_WORKFLOWS=str(extra), COLLECTED=str(tmp_path / "collected.json"))
    result = RUN([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:syrupy",
                  "-p", "workflow_collector", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((tmp_path / "collected.json").read_text())


@pytest.fixture(scope="module")
def every_test(tmp_path_factory) -> dict[str, list[str]]:
    """Every test of those every workflow gets (``scaffold.EVERY_WORKFLOW_TESTS``), as ``collected`` gives them."""
    return collected(tmp_path_factory.mktemp("every"), list(scaffold.EVERY_WORKFLOW_TESTS))


def test_a_workflow_named_like_an_environment_records_its_own_snapshots_and_no_others(monkeypatch, tmp_path,
                                                                                     every_test):
    """``-k "test_snapshot and prod"`` also selected test_snapshot[prod-welding] (and every other workflow's prod
    snapshot): the scaffold re-recorded them, unreviewed."""
    asked = []
    monkeypatch.setattr(scaffold.subprocess, "run",
                        lambda argv, **_: asked.append(argv) or subprocess.CompletedProcess(argv, 0, "", ""))
    scaffold.record_stack_snapshot(NEW, root=tmp_path)
    [argv] = asked
    assert argv[-1] == "--snapshot-update"
    selection = argv[argv.index("no:cacheprovider") + 1:-1]  # what pytest is asked to run
    snapshots = collected(tmp_path, selection)
    assert snapshots and all(test.startswith("tests/test_workflow_stacks.py::test_snapshot[") for test in snapshots)
    assert {test: names for test, names in snapshots.items() if names != [NEW]} == {}
    assert set(snapshots) == {test for test, names in every_test.items()  # one per environment
                              if names == [NEW] and "::test_snapshot[" in test}


def test_the_test_command_the_scaffold_prints_runs_the_new_workflows_tests_and_no_others(monkeypatch, tmp_path,
                                                                                         capsys, every_test):
    """It ended in a bare ``-k <name>``: prod's ran prod2's tests, and every other workflow's in the prod environment."""
    monkeypatch.setattr(scaffold, "scaffold", lambda *args, **kwargs: [])
    monkeypatch.setattr(scaffold, "record_stack_snapshot", lambda name, root: None)
    assert scaffold.main([NEW, "--question", "yes-no:ok"], root=tmp_path) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if "./scripts/test.sh" in line]
    command = shlex.split(line.split("./scripts/test.sh", 1)[1], comments=True)
    own = f"tests/test_{NEW}_pre_labeling.py"
    assert command[0] == own  # (not in this repository: the rest of the command is collected here)
    tests = collected(tmp_path, command[1:])
    assert {test: names for test, names in tests.items() if names not in ([], [NEW])} == {}
    assert [arg for arg in command[1:] if arg.startswith("tests/")] == list(scaffold.EVERY_WORKFLOW_TESTS)
    assert {test for test, names in every_test.items() if NEW in names} <= set(tests)
    # What is left: the few tests of the whole app in the environment named so (the new workflow's stack among them).
    assert all(re.search(rf"\[{NEW}\]$", test) for test, names in tests.items() if not names)


@pytest.mark.parametrize("name", ["image_ref", "x_metadata"])
def test_a_name_whose_label_attribute_ground_truth_reserves_is_refused_before_a_file_is_written(tmp_path, name):
    """It passed the README's rule, and was refused as "label_attribute_name 'image-ref' must not end in -metadata or
    -ref", a setting the user never gave."""
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            f"workflow {name}: a workflow name can't end in _metadata or _ref: Ground Truth reserves the endings "
            "-metadata and -ref of a label attribute, and the label attribute is named after the workflow")):
        scaffold.scaffold(name, ["yes-no:ok"], root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, what", [
    (["--question", "classification:kind={{ task.input.text }},Other"], "question kind's label '{{ task.input.text }}'"),
    (["--question", "yes-no:ok", "--title", "Check {% raw %} it"], "the title 'Check {% raw %} it'"),
    (["--question", "yes-no:ok", "--description", "Is {{ x }} ok?"], "the description 'Is {{ x }} ok?'"),
], ids=["label", "title", "description"])
def test_liquid_in_a_label_or_title_is_refused_at_once_in_a_line(monkeypatch, tmp_path, capsys, options, what):
    """It was refused only after the files were written and a 5 s synth had run, in a 3,000-character traceback."""
    def synthesize(name, root):
        raise AssertionError("the workflow was written and synthesized")

    monkeypatch.setattr(scaffold, "record_stack_snapshot", synthesize)
    assert scaffold.main(["liquid", *options], root=tmp_path) == 2
    error = capsys.readouterr().err
    assert error == (f"workflows.scaffold: workflow liquid: {what} holds '{{{{' or '{{%', which the worker page's "
                     "Liquid would run as template code rather than show: write it otherwise\n")
    assert list(tmp_path.iterdir()) == []


def test_a_stack_that_does_not_synthesize_is_named_by_its_error_not_a_traceback(monkeypatch, tmp_path):
    """The error was the last 3,000 characters of pytest's report: traceback lines, twice (once per environment)."""
    report = tmp_path / "test_report.py"
    report.write_text(
        "import pytest\n\n\n"
        "class DefinitionError(ValueError):\n    pass\n\n\n"
        "@pytest.fixture(scope='session')\ndef assemblies():\n"
        "    raise DefinitionError('workflow w: the template has no field for ok (fields: none)')\n\n\n"
        "@pytest.mark.parametrize('env_name', ['dev', 'prod'])\ndef test_snapshot(assemblies, env_name):\n    pass\n")
    monkeypatch.setattr(scaffold.subprocess, "run", lambda argv, **options: RUN(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(report)], **options))
    with pytest.raises(scaffold.ScaffoldError) as refused:
        scaffold.record_stack_snapshot("w", root=tmp_path)
    assert str(refused.value) == ("the w stack did not synthesize for its snapshot:\n"
                                  "  test_report.DefinitionError: workflow w: the template has no field for ok (fields: "
                                  "none)")


def test_a_name_whose_stack_differs_from_anothers_only_in_case_says_so(monkeypatch, tmp_path):
    """"would deploy as the stack TickettriageLabeling, as 'ticket_triage' does" read as a contradiction:
    ticket_triage deploys as TicketTriageLabeling."""
    def defined(*names):
        return {name: WorkflowDefinition(name=name, title="t", description="d", label_attribute_name="l",
                                         questions=(FreeText(name="n"),)) for name in names}

    monkeypatch.setattr(workflows, "definitions", lambda: defined("ticket_triage", "a1"))
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            "workflow 'tickettriage' would deploy as the stack TickettriageLabeling-<env>, whose name differs only in "
            "case from TicketTriageLabeling-<env>, the stack of 'ticket_triage', and their templates would be one "
            "file in cdk.out where the file system ignores case (macOS, Windows): choose another name (nothing was "
            "written)")):
        scaffold.scaffold("tickettriage", ["yes-no:ok"], root=tmp_path)
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            "workflow 'a_1' would deploy as the stack A1Labeling-<env>, as 'a1' does: choose another name (nothing was "
            "written)")):
        scaffold.scaffold("a_1", ["yes-no:ok"], root=tmp_path)
    assert list(tmp_path.iterdir()) == []
