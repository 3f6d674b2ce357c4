"""The scaffold's own checks, without synthesizing anything: a name that would deploy as another workflow's
stack is refused before a file is written, and a scaffold whose stack does not synthesize is taken back whole
(half a workflow would break every synth). The whole scaffold, run as a newcomer runs it: tests/test_scaffold.py."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import workflows
from workflows import scaffold
from workflows.model import REPO_ROOT, WorkflowDefinition
from gt_common.questions import FreeText


def test_a_name_that_would_deploy_as_another_workflows_stack_is_refused_and_nothing_written(monkeypatch, tmp_path):
    existing = WorkflowDefinition(name="a1", title="t", description="d", label_attribute_name="l",
                                  questions=(FreeText(name="n"),))
    monkeypatch.setattr(workflows, "definitions", lambda: {"a1": existing})
    with pytest.raises(scaffold.ScaffoldError, match="'a_1' would deploy as the stack A1Labeling-<env>, as 'a1' does"):
        scaffold.scaffold("a_1", ["yes-no:ok"], root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, refusal", [
    ("output", "workflow output: its data prefix 'output/' and the output prefix 'output/' overlap in its bucket"),
    ("templates", "its data prefix 'templates/' and the template prefix 'templates/' overlap"),
    ("derived", "its data prefix 'derived/' and its derived_data_prefix 'derived/' overlap"),
    ("review", "its data prefix 'review/' and the review prefix 'review/' overlap"),
    ("manifests", "its data prefix 'manifests/' and the manifest 'manifests/input.manifest' overlap"),
    ("model", "'model' is a module of the workflows package (model, scaffold), not a workflow"),
])
def test_a_name_whose_data_would_land_on_another_part_of_the_bucket_is_refused(tmp_path, name, refusal):
    """A workflow named "output" deployed its sample data, pruned, over the job's output: a later deploy that changed
    the data would have deleted every answer and manifest of its jobs."""
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(refusal)):
        scaffold.scaffold(name, ["yes-no:ok"], root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_name_whose_files_are_the_projects_own_says_so_and_writes_nothing(tmp_path):
    """expert_review was refused as "these files exist already: ui_templates/expert_review.liquid.html", as if a
    newcomer's own file were in the way."""
    (tmp_path / "ui_templates").mkdir()
    (tmp_path / "ui_templates" / "expert_review.liquid.html").write_text("<p>the review page</p>")
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            "these files exist already (they are the project's own, so expert_review cannot name a workflow; nothing "
            "was written): ui_templates/expert_review.liquid.html")):
        scaffold.scaffold("expert_review", ["yes-no:ok"], root=tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["expert_review.liquid.html", "ui_templates"]


def test_a_scaffold_whose_stack_does_not_synthesize_is_taken_back(monkeypatch, tmp_path, capsys):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_other.py").write_text("# someone else's\n")

    def fails(name, root):
        raise scaffold.ScaffoldError(f"the {name} stack did not synthesize for its snapshot:\nRuntimeError: boom")
    monkeypatch.setattr(scaffold, "record_stack_snapshot", fails)
    assert scaffold.main(["review_sentiment", "--question", "classification:sentiment=Good,Bad"], root=tmp_path) == 2
    said = capsys.readouterr().err
    assert "did not synthesize" in said and "the files written were removed again" in said
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["tests", "tests/test_other.py"]  # its own files and folders gone, nothing else touched


# A scaffold stopped during its synth (the stack's snapshot is recorded in a pytest of its own, some 17 s).
INTERRUPTED = """
import signal, sys, time
from pathlib import Path
from workflows import scaffold

signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal (a background job ignores it)


def synthesizing(name, root):
    print("synthesizing", flush=True)
    time.sleep(60)


scaffold.record_stack_snapshot = synthesizing
sys.exit(scaffold.main(["half_done", "--question", "yes-no:ok"], root=Path(sys.argv[1])))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_scaffold_interrupted_during_its_synth_takes_back_what_it_wrote(tmp_path, signum):
    """Ctrl-C (or TERM) while the stack synthesized left the workflow's files without its snapshot, and a rerun
    was refused because a workflow of that name had them."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_other.py").write_text("# someone else's\n")
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(tmp_path)], cwd=REPO_ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.readline() == "synthesizing\n"
        assert (tmp_path / "workflows" / "half_done.py").exists()
        child.send_signal(signum)
        _, said = child.communicate(timeout=60)
    finally:
        child.kill()  # (no-op once it has ended)
    assert child.returncode == 130, said
    assert said.endswith("workflows.scaffold: interrupted; what was written was removed again\n")
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["tests", "tests/test_other.py"]


def test_a_scaffold_interrupted_while_it_writes_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    real_write, calls = scaffold.Path.write_text, []

    def interrupted_at_the_third(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write(path, *args, **kwargs)
    monkeypatch.setattr(scaffold.Path, "write_text", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        scaffold.scaffold("half_done", ["yes-no:ok"], root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_files_a_workflow_of_that_name_left_are_named_with_the_command_that_removes_them(tmp_path, monkeypatch):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    scaffold.scaffold("half_done", ["yes-no:ok"], root=tmp_path)  # then killed (-9) before its snapshot was recorded
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            "these files exist already (a workflow named half_done has them, perhaps left by an interrupted scaffold: "
            "./scripts/new_workflow.sh half_done --remove takes it away; nothing was written): workflows/half_done.py,")):
        scaffold.scaffold("half_done", ["yes-no:ok"], root=tmp_path)


def test_the_name_of_a_workflow_that_exists_is_refused_without_advice_to_delete_it(tmp_path):
    """`new_workflow.sh ner` was answered "ner has these files ... --remove takes it away": a newcomer told to delete
    the workflow the project ships."""
    with pytest.raises(scaffold.ScaffoldError) as refused:
        scaffold.scaffold("ner", ["checkbox:x"], root=tmp_path)
    assert str(refused.value).startswith("a workflow named 'ner' exists already (workflows/ner.py): choose another "
                                         "name (nothing was written)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argument", ["name", "question", "abstain", "title", "description"])
def test_an_argument_that_is_not_utf8_is_refused_by_name(tmp_path, argument):
    """Bytes a terminal sent in another encoding reach Python as lone surrogates: writing the definition failed with
    a traceback (a title was refused as holding a character outside the Basic Multilingual Plane)."""
    latin1 = b"caf\xe9".decode("utf-8", "surrogateescape")
    options = {"name": "cafe", "questions": ["classification:p=A,B"], "abstain": (), "title": None, "description": None}
    if argument == "question":
        options["questions"] = [f"classification:p={latin1},B"]
    elif argument == "abstain":
        options["abstain"] = [f"p={latin1}"]
    elif argument in ("title", "description"):
        options[argument] = latin1
    else:
        options["name"] = latin1
    flag = "the name" if argument == "name" else f"--{argument}"
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(f"{flag} ") + ".*is not UTF-8 text"):
        scaffold.scaffold(options.pop("name"), options.pop("questions"), root=tmp_path, **options)
    assert list(tmp_path.iterdir()) == []


def test_an_abstain_label_is_written_into_the_definition_and_kept_out_of_the_truth(tmp_path, monkeypatch):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    written = scaffold.scaffold("weld_check", ["classification:verdict=Good,Bad,Not sure", "yes-no:ok"],
                                root=tmp_path, abstain=["verdict=Not sure"])
    [module] = [path for path in written if path.name == "weld_check.py"]
    namespace = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)  # the definition as the app imports it
    verdict = namespace["WORKFLOW"].questions[0]
    assert verdict.abstain == "Not sure" and verdict.choices == ("Good", "Bad", "Not sure")
    truth = json.loads((tmp_path / "sample_data" / "weld_check" / "truth.json").read_text())
    assert {entry["verdict"] for entry in truth.values()} <= {"Good", "Bad"}  # a known answer is never "cannot tell"


@pytest.mark.parametrize("spec, position", [
    ("classification:size=Small,,Large", 2), ("classification:size=Small,Large,", 3), ("multi-select:size= ,Small", 1),
])
def test_an_empty_label_on_the_command_line_is_refused_by_its_position(tmp_path, monkeypatch, spec, position):
    """The labels "Small,,Large" made a question of two without a word: a label forgotten, or a comma meant in one."""
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            f"question {spec!r}: label {position} of size is empty (labels are separated by single commas; one with a "
            "comma in it is written into the definition by hand)")):
        scaffold.scaffold("weld_check", [spec], root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("abstain, message", [
    ("verdict=Unsure", "--abstain 'verdict=Unsure': question verdict: abstain label 'Unsure' is not one of its choices"),
    ("ok=No", "--abstain 'ok=No': write FIELD=LABEL with FIELD a classification question (verdict) and LABEL one"),
    ("verdict", "--abstain 'verdict': write FIELD=LABEL"),
])
def test_an_abstain_label_that_does_not_fit_is_refused_and_nothing_written(tmp_path, monkeypatch, abstain, message):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(message)):
        scaffold.scaffold("weld_check", ["classification:verdict=Good,Bad,Not sure", "yes-no:ok"],
                          root=tmp_path, abstain=[abstain])
    assert list(tmp_path.iterdir()) == []


def test_two_abstain_labels_for_one_question_and_an_abstain_label_beside_one_class_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            "--abstain 'verdict=Bad': question verdict has an abstain label already ('Not sure'); a question has one")):
        scaffold.scaffold("weld_check", ["classification:verdict=Good,Bad,Not sure"], root=tmp_path,
                          abstain=["verdict=Not sure", "verdict=Bad"])
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(
            "question verdict: with the abstain label 'Not sure' it has one other label to choose; give two or more")):
        scaffold.scaffold("weld_check", ["classification:verdict=Yes,Not sure"], root=tmp_path,
                          abstain=["verdict=Not sure"])
    assert list(tmp_path.iterdir()) == []


def test_a_removed_workflow_leaves_nothing_of_its_own_and_everything_else(tmp_path, monkeypatch):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    written = scaffold.scaffold("weld_check", ["yes-no:ok"], root=tmp_path)
    (tmp_path / "sample_data" / "weld_check" / "page-1.jpg").write_bytes(b"added by hand")
    (tmp_path / "workflows" / "other.py").write_text("# another workflow\n")
    snapshots = tmp_path / scaffold.SNAPSHOTS
    snapshots.parent.mkdir(parents=True)
    entry = "# name: test_snapshot[{}]\n  dict({{\n    'x': 1,\n  }})\n# ---\n"
    snapshots.write_text("# serializer version: 1\n" + "".join(entry.format(case) for case in (
        "dev-ner", "dev-weld_check", "dev-weld_check_two", "prod-weld_check", "prod-welding")))
    module = tmp_path / "workflows" / "weld_check.py"
    definition = WorkflowDefinition(name="weld_check", title="t", description="d", label_attribute_name="l",
                                    questions=(FreeText(name="n"),))
    removed = scaffold.remove_workflow(definition.name, module, tmp_path, others=[])
    assert {tmp_path / "sample_data" / "weld_check", tmp_path / "lambda_src" / "weld_check_pre_labeling"} <= set(removed)
    assert not any(path.exists() for path in written)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "tests/__snapshots__/test_workflow_stacks.ambr", "workflows/other.py"]
    assert snapshots.read_text() == "# serializer version: 1\n" + "".join(
        entry.format(case) for case in ("dev-ner", "dev-weld_check_two", "prod-welding"))


def test_a_pre_labeling_package_another_workflow_runs_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    scaffold.scaffold("weld_check", ["yes-no:ok"], root=tmp_path)
    definition = WorkflowDefinition(name="weld_check", title="t", description="d", label_attribute_name="l",
                                    questions=(FreeText(name="n"),))
    sharing = replace(definition, name="weld_copy")  # runs weld_check_pre_labeling too
    sharing = replace(sharing, pre_labeling=definition.pre_labeling)
    scaffold.remove_workflow("weld_check", tmp_path / "workflows" / "weld_check.py", tmp_path, others=[sharing])
    assert (tmp_path / "lambda_src" / "weld_check_pre_labeling" / "handler.py").exists()
    assert not (tmp_path / "workflows" / "weld_check.py").exists()


def test_removing_a_workflow_that_does_not_exist_names_the_ones_that_do(capsys):
    assert scaffold.main(["no_such_flow", "--remove"]) == 2
    said = capsys.readouterr().err
    assert "no workflow is named 'no_such_flow' (the workflows: " in said and "welding" in said


BROKEN = ("from workflows import Classification, WorkflowDefinition\n"
          "WORKFLOW = WorkflowDefinition(name='broken_flow', title='t', description='d', label_attribute_name='l',\n"
          "    questions=(Classification(name='tone', choices=('Good', 'Bad', 'Meh'), abstain='Unsure'),))\n")
PROBLEM = "workflows/broken_flow.py: question tone: abstain label 'Unsure' is not one of its choices"


@pytest.fixture
def broken_flow(tmp_path, monkeypatch):
    """A scaffolded workflow whose definition was then edited by hand into one that does not hold."""
    monkeypatch.setattr(workflows, "definitions", lambda: {})
    written = scaffold.scaffold("broken_flow", ["classification:tone=Good,Bad,Meh"], root=tmp_path)
    monkeypatch.undo()
    (tmp_path / "workflows" / "broken_flow.py").write_text(BROKEN)
    monkeypatch.setattr(workflows, "__path__", [*workflows.__path__, str(tmp_path / "workflows")])
    monkeypatch.delitem(sys.modules, "workflows.broken_flow", raising=False)
    workflows.definitions.cache_clear()  # another test in this process may have found the workflows already
    return written


def test_a_workflow_whose_definition_does_not_hold_is_removed_by_name(tmp_path, broken_flow, capsys):
    """The workflow most worth removing is a broken one: --remove imported every definition and stopped with a
    traceback."""
    assert scaffold.main(["broken_flow", "--remove"], root=tmp_path) == 0
    assert not any(path.exists() for path in broken_flow)
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
    assert capsys.readouterr().err == f"its definition does not hold ({PROBLEM}): its files were found by name\n"


def test_a_definition_that_does_not_hold_is_named_in_one_line_by_the_other_commands(tmp_path, broken_flow, capsys):
    assert scaffold.main(["new_flow", "--question", "yes-no:ok"], root=tmp_path) == 2
    assert capsys.readouterr().err == (f"workflows.scaffold: {PROBLEM}: fix that file, or remove its workflow "
                                       "(--remove), first (nothing was written)\n")
    assert scaffold.main(["welding", "--remove"], root=tmp_path) == 2  # which packages it shares is not known
    assert capsys.readouterr().err == (f"workflows.scaffold: {PROBLEM}: fix that file, or remove its workflow, first "
                                       "(nothing was removed)\n")
    assert all(path.exists() for path in broken_flow) and not (tmp_path / "workflows" / "new_flow.py").exists()


def test_a_title_or_description_with_quotes_or_backslashes_makes_a_module_that_reads_back(tmp_path):
    """'Say "yes"' or 'C:\\Nobody' ended the definition module's docstring early: the scaffold stopped with a
    SyntaxError in the collection of its own tests."""
    import ast

    definition = WorkflowDefinition(name="q1", title='Files in C:\\Nobody', description='Say "yes" \\N"',
                                    label_attribute_name="l", questions=(FreeText(name="n"),))
    source = scaffold.Scaffold(definition, root=tmp_path).definition_module()
    assert ast.get_docstring(ast.parse(source)) == 'Files in C:\\Nobody: Say "yes" \\N"'


def test_recording_a_snapshot_selects_the_new_workflows_own_and_no_other(monkeypatch, tmp_path):
    """A workflow named "weld" recorded its snapshots with -k "test_snapshot and weld", which matched welding's too:
    a change to welding's stack would have been recorded with it, unseen."""
    (tmp_path / "workflows").mkdir()
    for stem in ("welding", "weld", "ner"):
        (tmp_path / "workflows" / f"{stem}.py").write_text("")
    asked, run = [], subprocess.run
    monkeypatch.setattr(scaffold.subprocess, "run",
                        lambda argv, **_: asked.append(argv) or subprocess.CompletedProcess(argv, 0, "", ""))
    scaffold.record_stack_snapshot("weld", root=tmp_path)
    selection = [arg for arg in asked[0] if "::" in arg]
    assert selection == scaffold.snapshot_tests("weld") and "-k" not in asked[0]  # its own ids, exactly
    collected = run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0", *selection],
        cwd=Path(scaffold.__file__).resolve().parent.parent, capture_output=True, text=True)
    assert "welding" not in collected.stdout  # in this repository, without a weld workflow: none of welding's


def test_an_image_workflows_sample_images_are_whole_pngs_its_manifest_names(tmp_path, monkeypatch):
    """The images a browser must show: each a whole PNG (decoded by Pillow, and accepted by gt_common.images'
    signature check), each different, each named by one manifest line under the data folder the stack deploys."""
    import io

    from PIL import Image

    from gt_common.images import image_format

    monkeypatch.setattr(workflows, "definitions", lambda: {})
    written = scaffold.scaffold("photo_check", ["classification:quality=Sharp,Blurry"], root=tmp_path, data="image")
    images = sorted(path for path in written if path.suffix == ".png")
    assert [path.name for path in images] == [f"photo_check-0{n}.png" for n in range(1, 5)]
    bodies = [path.read_bytes() for path in images]
    for body in bodies:
        assert image_format(body[:32]) == "PNG"
        with Image.open(io.BytesIO(body)) as image:
            image.load()  # every pixel decoded: a damaged stream or checksum raises
            assert (image.format, image.size, image.mode) == ("PNG", (480, 320), "RGB")
    assert len(set(bodies)) == 4
    lines = [json.loads(line) for line in (tmp_path / "sample_data" / "photo_check" / "manifest.jsonl").open()]
    assert [line["source-ref"] for line in lines] == [
        "${DATA_PREFIX_URI}/images/" + path.name for path in images]
    assert set(json.loads((tmp_path / "sample_data" / "photo_check" / "truth.json").read_text())) == {
        line["id"] for line in lines}  # every image goes to workers
    template = (tmp_path / "ui_templates" / "photo_check.liquid.html").read_text()
    assert '<img src="{{ task.input.image | grant_read_access }}"' in template
    assert 'id="item-image" data-zoomable>' in template and template.endswith("[[part:image-viewer]]\n")  # zooms
    assert "Look at the image" in (tmp_path / "workflows" / "photo_check.py").read_text()


def test_a_data_kind_the_scaffold_does_not_have_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(scaffold.ScaffoldError, match="data 'video': a data object is one of text, image"):
        scaffold.scaffold("clips", ["yes-no:ok"], root=tmp_path, data="video")
    assert list(tmp_path.iterdir()) == []
