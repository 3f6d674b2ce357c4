"""The app as the runner's tests synthesize it: the real app, with what the design's contracts 4 and 5
say a workflow stack has, added where the stacks on this branch do not have it yet.

    CDK_OUTDIR=... python -m tests.contract5_app     (as ``stack_reader.synthesize(app=...)`` runs it)

A BRIDGE, for as long as the generic workflow stack (built in parallel) has not landed:

- contract 5: a workflow stack without the ``WorkflowName`` and ``LabelingJobRequest`` outputs gets
  them, built from its own constructs exactly as the contract words them (the request through
  ``Stack.to_json_string``, its functions, role, bucket and the workforce's workteam as real
  references, so the intrinsics are the real ones);
- contract 4: a stack that uploads a worker template file with ``[[labels:...]]`` markers in it uploads
  ``definition.worker_template()`` instead.

Where a stack already has the outputs (or the template is already injected), nothing is added: once
the generic stack lands this module changes nothing and can be deleted, with the ``app=`` argument of
the ``runner_assembly`` fixture.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "lambda_src")]

import aws_cdk as cdk  # noqa: E402

import stacks  # noqa: E402
import workflows  # noqa: E402
from local_ground_truth.stack_reader import JOB_REQUEST_OUTPUT, WORKFLOW_NAME_OUTPUT  # noqa: E402


def _inject_templates(folder: Path) -> None:
    """Point each stack module's UI_TEMPLATE at the definition's injected template (same file name)."""
    by_file = {definition.template_path.name: definition for definition in workflows.definitions().values()}
    for module_info in pkgutil.iter_modules(stacks.__path__):
        module = importlib.import_module(f"stacks.{module_info.name}")
        template = getattr(module, "UI_TEMPLATE", None)
        if template is None or Path(template).name not in by_file:
            continue
        definition = by_file[Path(template).name]
        if "[[" not in Path(template).read_text(encoding="utf-8"):
            continue
        injected = folder / Path(template).name
        injected.write_text(definition.worker_template(), encoding="utf-8")
        module.UI_TEMPLATE = injected


def _add_outputs(app: cdk.App) -> None:
    definitions = workflows.definitions().values()
    workforce = next((child for child in app.node.children if hasattr(child, "workteam")), None)
    for stack in [child for child in app.node.children if isinstance(child, cdk.Stack)]:
        workflow = getattr(stack, "workflow", None)
        if workflow is None or stack.node.try_find_child(WORKFLOW_NAME_OUTPUT) is not None:
            continue
        [definition] = [d for d in definitions if stack.node.id.startswith(f"{d.stack_name}-")]
        task = workflow.execution_role.node.default_child.get_metadata("GroundTruthTask")
        workteam_arn = workforce.workteam.workteam_arn if workforce is not None else "arn:aws:sagemaker:::workteam/x"
        request = {
            "LabelAttributeName": definition.label_attribute_name,
            "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": stack.data.manifest_s3_uri}}},
            "OutputConfig": {"S3OutputPath": workflow.output_s3_uri},
            "RoleArn": workflow.execution_role.role_arn,
            "HumanTaskConfig": {
                "WorkteamArn": workteam_arn,
                "UiConfig": {"UiTemplateS3Uri": workflow.ui_template_s3_uri},
                "PreHumanTaskLambdaArn": workflow.pre_labeling_function.function_arn,
                "TaskTitle": definition.title,
                "TaskDescription": definition.description,
                "TaskKeywords": list(definition.keywords),
                "NumberOfHumanWorkersPerDataObject": task["NumberOfHumanWorkersPerDataObject"],
                "TaskTimeLimitInSeconds": task["TaskTimeLimitInSeconds"],
                "TaskAvailabilityLifetimeInSeconds": 864000,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": workflow.consolidation_function.function_arn},
            },
        }
        cdk.CfnOutput(stack, WORKFLOW_NAME_OUTPUT, value=definition.name)
        cdk.CfnOutput(stack, JOB_REQUEST_OUTPUT, value=stack.to_json_string(request))


def main() -> None:
    from app import build_app

    with tempfile.TemporaryDirectory() as folder:
        _inject_templates(Path(folder))
        app = build_app()
        _add_outputs(app)
        app.synth()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
