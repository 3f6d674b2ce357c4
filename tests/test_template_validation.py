"""CDK's built-in template validation: on where the app is synthesized to deploy (`cdk synth`, `cdk deploy`,
``./scripts/synth.sh``), where it finds nothing CDK itself does not acknowledge; off in the local runner's
synthesis, which deploys nothing (``stacks.node_runtime.NO_TEMPLATE_VALIDATION``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local_ground_truth.stack_reader import synthesize
from stacks.node_runtime import NO_TEMPLATE_VALIDATION, QUIET_NODE

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILT_IN = "CloudFormation Validate"  # the plugin's name in CDK's validation report


def plugin_reports(assembly: Path) -> dict[str, dict]:
    report = json.loads((assembly / "validation-report.json").read_text())
    return {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}


def test_the_app_as_cdk_synth_runs_it_is_validated_and_the_runners_synthesis_is_not(tmp_path, monkeypatch):
    deployed = tmp_path / "deployed"
    env = {name: value for name, value in os.environ.items() if name not in NO_TEMPLATE_VALIDATION}
    context = {"env": "prod", "aws:cdk:bundling-stacks": []}  # prod: every resource a workflow can have
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            env={**env, **QUIET_NODE, "CDK_OUTDIR": str(deployed),
                                 "CDK_CONTEXT_JSON": json.dumps(context)})
    assert result.returncode == 0, result.stderr
    reports = plugin_reports(deployed)
    assert reports[BUILT_IN]["conclusion"] == "success" and reports[BUILT_IN]["violations"] == []
    assert "AwsSolutions" in reports  # cdk-nag beside it
    assert "Template validation found issues" not in result.stderr

    for name in NO_TEMPLATE_VALIDATION:  # the tests' own setting (conftest) out of the way: the runner sets it
        monkeypatch.delenv(name, raising=False)
    local = plugin_reports(synthesize(tmp_path / "local", "dev"))
    assert BUILT_IN not in local and local["AwsSolutions"]["conclusion"] == "success"  # cdk-nag still on
