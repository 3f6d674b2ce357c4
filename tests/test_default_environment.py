"""The environment used when none is named is cdk.json's ``defaultEnvironment``, read in one place
(``stacks.cdk_json``): by the app, by the local runner and by ``scripts/synth.sh``."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.cdk_json import CDK_JSON_FILE, DEFAULT_ENVIRONMENT, default_environment
from tests.cdk_helpers import REPO_ROOT

OTHER = "qa"


def _project(folder: Path, default: object = OTHER) -> Path:
    """A cdk.json whose default environment is ``default``; its own environment refuses a setting, naming itself."""
    context = {"environments": {"dev": {}, OTHER: {"removalPolicy": "nope"}}}
    if default is not None:
        context[DEFAULT_ENVIRONMENT] = default
    (folder / CDK_JSON_FILE).write_text(json.dumps({"app": "python3 app.py", "context": context}))
    return folder / CDK_JSON_FILE


def test_the_helper_reads_the_default_from_the_file(tmp_path):
    assert default_environment(_project(tmp_path)) == OTHER
    assert default_environment() == json.loads((REPO_ROOT / CDK_JSON_FILE).read_text())["context"][DEFAULT_ENVIRONMENT]


@pytest.mark.parametrize("default", [None, "", 5])
def test_a_cdk_json_without_a_default_is_named_not_replaced(tmp_path, default):
    with pytest.raises(ValueError, match=f"context '{DEFAULT_ENVIRONMENT}' must name the environment"):
        default_environment(_project(tmp_path, default))


def test_the_app_without_env_synthesizes_the_default_of_cdk_json(tmp_path, monkeypatch):
    import aws_cdk as cdk

    import app as app_module

    monkeypatch.setattr(app_module, "CDK_JSON", _project(tmp_path))
    with pytest.raises(ValueError, match=f"environment '{OTHER}': removalPolicy"):
        app_module.build_app(cdk.App(context={"aws:cdk:bundling-stacks": []}))


def test_the_runner_without_env_uses_the_default_of_cdk_json(tmp_path, monkeypatch):
    from local_ground_truth import __main__ as cli

    monkeypatch.setattr(cli, "REPO_ROOT", _project(tmp_path).parent)
    assert cli.parse_args(["--workflow", "welding"]).env == OTHER
    assert cli.parse_args(["--workflow", "welding", "--env", "dev"]).env == "dev"
    assert cli.parse_args(["--workflow", "welding", "--cloud-assembly", "cdk.out"]).env is None


def test_synthesize_without_env_passes_the_default_of_the_apps_cdk_json(tmp_path):
    from local_ground_truth.stack_reader import synthesize

    _project(tmp_path)
    (tmp_path / "app.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['CDK_OUTDIR'], 'context.json').write_text(os.environ['CDK_CONTEXT_JSON'])\n")
    (tmp_path / "out").mkdir()
    out = synthesize(tmp_path / "out", repo_root=tmp_path)
    assert json.loads((out / "context.json").read_text())["env"] == OTHER


def _synth_script_project(folder: Path) -> Path:
    """A copy of the project's scripts and ``stacks.cdk_json`` with cdk.json's default ``OTHER``, whose setup does
    nothing and whose ``npx`` records the command it is given."""
    _project(folder)
    shutil.copytree(REPO_ROOT / "scripts", folder / "scripts", ignore=shutil.ignore_patterns("*.py"))
    (folder / "scripts" / "bootstrap.sh").write_text("#!/bin/sh\n")
    (folder / "stacks").mkdir()
    for name in ("__init__.py", "cdk_json.py"):
        shutil.copy(REPO_ROOT / "stacks" / name, folder / "stacks" / name)
    stubs = folder / "stubs"
    stubs.mkdir()
    (stubs / "npx").write_text('#!/bin/sh\necho "$@" > npx-args\nmkdir -p cdk.out\n'
                               "echo '{\"artifacts\": {}}' > cdk.out/manifest.json\n")
    (stubs / "npx").chmod(0o755)
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "activate").write_text(
        f'PATH="{stubs}:{Path(sys.executable).parent}:$PATH"\n')
    return folder


def test_synth_script_without_env_synthesizes_the_default_of_cdk_json(tmp_path):
    project = _synth_script_project(tmp_path)
    result = subprocess.run(["./scripts/synth.sh"], cwd=project, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    assert f"-c env={OTHER} " in (project / "npx-args").read_text()
    assert f"Synthesized environment '{OTHER}'" in result.stdout


def test_synth_script_stops_when_cdk_json_names_no_default(tmp_path):
    project = _synth_script_project(tmp_path)
    _project(project, default=None)
    result = subprocess.run(["./scripts/synth.sh"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"context '{DEFAULT_ENVIRONMENT}' must name the environment" in result.stderr
    assert not (project / "npx-args").exists()
