"""What a workflow stack declares, read from its synthesized template (no second copy of settings).

The local runner synthesizes the app (bundling skipped: this machine's virtualenv has the
Lambdas' dependencies) and takes from the chosen stack's template: each workflow Lambda's handler,
staged asset folder and environment; the task settings the workflow construct records as
``GroundTruthTask`` metadata; and every BucketDeployment's sources, destination and deploy-time
markers, so the local bucket gets exactly what ``cdk deploy`` would upload.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_METADATA_KEY = "GroundTruthTask"  # labeling_constructs.custom_labeling_workflow.TASK_METADATA_KEY
STACKS = {"welding": "WeldingLabeling", "ner": "NerLabeling"}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # "package.module.function"
    asset_dir: Path
    environment: dict[str, str]
    timeout_seconds: int = 3  # Lambda's default when a function declares none


@dataclass(frozen=True)
class DeploymentSpec:
    """One BucketDeployment: asset folders copied under ``prefix``, with markers substituted."""

    asset_dirs: list[Path]
    markers: list[dict[str, Any]]  # per source: marker -> CloudFormation value (e.g. {"Ref": bucket})
    bucket_logical_id: str
    prefix: str
    prune: bool = True  # BucketDeployment's default: objects under the prefix the sources lack are deleted


@dataclass(frozen=True)
class WorkflowSpec:
    stack_name: str
    task: dict[str, Any]
    pre_labeling: FunctionSpec
    consolidation: FunctionSpec
    deployments: list[DeploymentSpec] = field(default_factory=list)

    @property
    def label_attribute_name(self) -> str:
        return self.task["LabelAttributeName"]

    @property
    def workers_per_object(self) -> int:
        return int(self.task["NumberOfHumanWorkersPerDataObject"])


def synthesize(outdir: Path, env_name: str = "dev", repo_root: Path = REPO_ROOT) -> Path:
    """Run the CDK app (as ``cdk synth`` would, bundling skipped) into ``outdir``; return it."""
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({"env": env_name, "aws:cdk:bundling-stacks": [],
                                       "aws:cdk:enable-asset-metadata": True}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run([sys.executable, "app.py"], cwd=repo_root, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"synthesizing the app failed:\n{result.stderr[-4000:]}")
    return outdir


def read_workflow(assembly_dir: Path, stack_name: str) -> WorkflowSpec:
    template_path = assembly_dir / f"{stack_name}.template.json"
    if not template_path.exists():
        available = sorted(p.name.removesuffix(".template.json") for p in assembly_dir.glob("*.template.json"))
        raise ValueError(f"stack {stack_name} is not in {assembly_dir} (stacks: {available})")
    resources = json.loads(template_path.read_text())["Resources"]
    tasks = [r["Metadata"][TASK_METADATA_KEY] for r in resources.values() if TASK_METADATA_KEY in r.get("Metadata", {})]
    if len(tasks) != 1:
        raise ValueError(f"stack {stack_name} declares {len(tasks)} labeling workflows; the runner handles one")
    task = tasks[0]

    def function(logical_id: str) -> FunctionSpec:
        resource = resources[logical_id]
        return FunctionSpec(
            logical_id=logical_id,
            handler=resource["Properties"]["Handler"],
            asset_dir=assembly_dir / resource["Metadata"]["aws:asset:path"],
            environment=dict(resource["Properties"].get("Environment", {}).get("Variables", {})),
            timeout_seconds=int(resource["Properties"].get("Timeout", 3)),
        )

    deployments = []
    for resource in resources.values():
        if resource["Type"] != "Custom::CDKBucketDeployment":
            continue
        props = resource["Properties"]
        deployments.append(DeploymentSpec(
            asset_dirs=[assembly_dir / f"asset.{key.removesuffix('.zip')}" for key in props["SourceObjectKeys"]],
            markers=props.get("SourceMarkers") or [{} for _ in props["SourceObjectKeys"]],
            bucket_logical_id=props["DestinationBucketName"]["Ref"],
            prefix=props.get("DestinationBucketKeyPrefix") or "",
            prune=str(props.get("Prune", True)).lower() != "false",
        ))
    return WorkflowSpec(
        stack_name=stack_name,
        task=task,
        pre_labeling=function(task["PreLabelingFunction"]),
        consolidation=function(task["ConsolidationFunction"]),
        deployments=deployments,
    )
