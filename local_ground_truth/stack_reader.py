"""What a workflow stack declares, read from its synthesized template (no second copy of settings).

The runner synthesizes the app (bundling skipped: this machine's virtualenv has the Lambdas'
dependencies), or reads one synthesized with bundling (``check_bundle_runs_here``), and finds the
workflow stacks by what every workflow stack tells the world, its outputs ``WorkflowName`` (the
workflow definition's name) and ``LabelingJobRequest`` (the ``CreateLabelingJob`` request of the
stack's job, without its name). From the chosen stack it takes:

- the task settings, from ``LabelingJobRequest``: label attribute, manifest, output path, UI template,
  title, workers per object, time limit, and the two functions (their ARNs name them);
- each of those functions' handler, staged asset folder, environment and timeout, from its resource;
- every BucketDeployment's sources, destination and deploy-time markers, so the local bucket gets
  exactly what ``cdk deploy`` would upload;
- the environment's expert-review settings, from the ``ReviewSettings`` output (``gt_common.review``);
  a stack without it has review off.

Deploy-time values (CloudFormation intrinsics) are resolved for this machine: a bucket's ``Ref`` is
its local bucket name, a function's ``Fn::GetAtt [id, Arn]`` an ARN ending in its logical id (which is
how the request's ``PreHumanTaskLambdaArn`` leads back to the function's resource), pseudo parameters
are a local account and region. A value the runner cannot resolve is an error naming where it is.
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from local_ground_truth.function_grants import FunctionGrants, read_grants
from stacks.cdk_json import CDK_JSON_FILE, default_environment
from stacks.node_runtime import NO_TEMPLATE_VALIDATION, QUIET_NODE
from stacks.outputs import JOB_REQUEST_OUTPUT, WORKFLOW_NAME_OUTPUT
from gt_common.review import REVIEW_SETTINGS_OUTPUT, ReviewError, ReviewSettings, parse_settings
from gt_common.s3uri import InputError, S3Location, parse_s3_uri

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"
FUNCTION_ARN_PREFIX = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:"
_PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": LOCAL_REGION, "AWS::AccountId": LOCAL_ACCOUNT,
                      "AWS::URLSuffix": "amazonaws.com"}


class StackError(ValueError):
    """A synthesized app or stack the runner cannot run; the message names the stack and the problem."""


def check_bundle_runs_here(stack_name: str, logical_id: str, asset_dir: Path) -> None:
    """A bundled asset (``cdk synth`` with bundling) holds packages built for the Lambda runtime's Python; its
    compiled ones are imported from this interpreter instead (``lambda_host.load_handler``), as the runner does
    for an app it synthesizes itself, so this interpreter must have each. Versions that differ are said."""
    import importlib.metadata

    from labeling_constructs.lambda_dependencies import PYTHON_VERSION, bundled_distributions

    differing = []
    for name, (version, compiled) in sorted(bundled_distributions(asset_dir).items()):
        if not compiled:
            continue  # pure Python: imported from the bundle when this interpreter has none
        try:
            here = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise StackError(
                f"stack {stack_name}: function {logical_id}'s bundle ({asset_dir}) holds {name} {version}, built for "
                f"the Lambda runtime's Python {PYTHON_VERSION}, which this Python cannot load, and this Python has no "
                f"{name}: install requirements-dev.txt (./scripts/bootstrap.sh), or let the runner synthesize the app "
                "itself (leave out --cloud-assembly)") from None
        if here != version:
            differing.append(f"{name} {here} (the bundle's: {version})")
    if differing:
        LOG.warning("stack %s: function %s's bundle is built for Python %s; it runs here with this Python's %s",
                    stack_name, logical_id, PYTHON_VERSION, ", ".join(differing))


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # "package.module.function"
    asset_dir: Path
    environment: dict[str, str]  # resolved for this machine
    timeout_seconds: int = 3  # Lambda's default when a function declares none
    memory_mb: int = 128  # MemorySize: Lambda's default when a function declares none
    # Its role's S3 permissions, which the local endpoint holds it to (``function_grants``).
    grants: FunctionGrants = field(default_factory=lambda: FunctionGrants(unchecked="its role was not read"))


@dataclass(frozen=True)
class DeploymentSpec:
    """One BucketDeployment: asset folders copied under ``prefix`` of ``bucket``, with markers substituted."""

    asset_dirs: list[Path]
    markers: list[dict[str, str]]  # per source: marker -> its deploy-time value, resolved
    bucket: str  # the local bucket name
    prefix: str
    prune: bool = True  # BucketDeployment's default: objects under the prefix the sources lack are deleted


@dataclass(frozen=True)
class TaskSettings:
    """What a labeling job of the workflow is, from the stack's ``LabelingJobRequest``."""

    label_attribute_name: str
    title: str
    description: str
    workers_per_object: int
    time_limit_seconds: int
    manifest: S3Location
    output_bucket: str
    output_prefix: str  # "" or ending in "/": the job writes under <output_prefix><job name>/
    ui_template: S3Location


@dataclass(frozen=True)
class WorkflowSpec:
    stack_name: str
    workflow: str  # the WorkflowName output: the name of the workflow's definition
    request: dict[str, Any]  # the CreateLabelingJob request, resolved for this machine
    task: TaskSettings
    pre_labeling: FunctionSpec
    consolidation: FunctionSpec
    deployments: list[DeploymentSpec] = field(default_factory=list)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> local name, of every bucket it uses
    review: ReviewSettings = field(default_factory=ReviewSettings)  # the environment's expert review

    @property
    def label_attribute_name(self) -> str:
        return self.task.label_attribute_name

    @property
    def workers_per_object(self) -> int:
        return self.task.workers_per_object


def synthesis_context(env_name: str, data: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The context the runner synthesizes the app with: the environment, bundling skipped, asset paths recorded,
    and (``data``) per workflow a folder of data to label instead of its sample data (app.py's ``data`` context)."""
    context: dict[str, Any] = {"env": env_name, "aws:cdk:bundling-stacks": [], "aws:cdk:enable-asset-metadata": True}
    if data:
        context["data"] = dict(data)
    return context


def synthesize(outdir: Path, env_name: Optional[str] = None, repo_root: Path = REPO_ROOT,
               data: Optional[Mapping[str, str]] = None) -> Path:
    """Run the CDK app (as ``cdk synth`` would, bundling skipped) into ``outdir``; return it. ``env_name``: default,
    the ``defaultEnvironment`` of the app's cdk.json. ``data``: as ``synthesis_context``'s."""
    if env_name is None:
        env_name = default_environment(repo_root / CDK_JSON_FILE)
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(synthesis_context(env_name, data)),
        **QUIET_NODE,
        **NO_TEMPLATE_VALIDATION,  # it deploys nothing
    }
    result = subprocess.run([sys.executable, "app.py"], cwd=repo_root, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"synthesizing the app ({env_name}) failed: {app_error(result.stderr)}\n"
                         "(./scripts/synth.sh shows app.py's whole output)")
    return outdir


_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit)(: |$)")


def app_error(stderr: str) -> str:
    """What app.py stopped with: the exception its traceback ends with (the message of a construct or definition
    that refused its input), without the traceback; else the last lines it wrote."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if "Traceback (most recent call last):" in stderr:
        starts = [index for index, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
        if starts:
            return "\n".join(lines[starts[-1]:])
    return "\n".join(lines[-20:])


def _templates(assembly_dir: Path) -> dict[str, dict[str, Any]]:
    """The stacks' templates by stack name: those the assembly's manifest lists (a synth into a folder that held
    another environment's app leaves its templates there, unlisted), or every template without a manifest."""
    manifest = Path(assembly_dir) / "manifest.json"
    if manifest.is_file():
        artifacts = json.loads(manifest.read_text()).get("artifacts", {})
        files = sorted(artifact["properties"]["templateFile"] for artifact in artifacts.values()
                       if artifact.get("type") == "aws:cloudformation:stack")
        paths = [Path(assembly_dir) / name for name in files]
    else:
        paths = sorted(Path(assembly_dir).glob("*.template.json"))
    return {path.name.removesuffix(".template.json"): json.loads(path.read_text()) for path in paths}


def workflow_stacks(assembly_dir: Path) -> dict[str, str]:
    """``{workflow name: stack name}`` of every stack with the ``WorkflowName`` and ``LabelingJobRequest`` outputs."""
    found: dict[str, str] = {}
    for stack_name, template in _templates(assembly_dir).items():
        outputs = template.get("Outputs", {})
        if WORKFLOW_NAME_OUTPUT not in outputs or JOB_REQUEST_OUTPUT not in outputs:
            continue
        name = outputs[WORKFLOW_NAME_OUTPUT].get("Value")
        if not isinstance(name, str) or not name:
            raise StackError(f"stack {stack_name}: its {WORKFLOW_NAME_OUTPUT} output is not a plain name: {name!r}")
        if name in found:
            raise StackError(f"stacks {found[name]} and {stack_name} both say they are workflow {name!r}")
        found[name] = stack_name
    return found


def read_workflow(assembly_dir: Path, workflow: str) -> WorkflowSpec:
    """The stack of ``workflow`` in the synthesized app, read for this machine."""
    stacks = workflow_stacks(assembly_dir)
    if workflow not in stacks:
        if not stacks:
            raise StackError(f"the synthesized app in {assembly_dir} has no workflow stack (a stack with the "
                             f"{WORKFLOW_NAME_OUTPUT} and {JOB_REQUEST_OUTPUT} outputs); its stacks are: "
                             f"{', '.join(_templates(assembly_dir)) or 'none'}")
        raise StackError(f"no workflow named {workflow!r} in the synthesized app; the workflows are: "
                         f"{', '.join(sorted(stacks))}")
    stack_name = stacks[workflow]
    template = _templates(assembly_dir)[stack_name]
    resources = template.get("Resources", {})
    resolver = _Resolver(stack_name, resources, template.get("Parameters", {}))

    request_value = template["Outputs"][JOB_REQUEST_OUTPUT]["Value"]
    try:
        request = json.loads(resolver.json_text(request_value, JOB_REQUEST_OUTPUT))
    except ValueError as error:
        raise StackError(f"stack {stack_name}: its {JOB_REQUEST_OUTPUT} output is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise StackError(f"stack {stack_name}: its {JOB_REQUEST_OUTPUT} output is not a JSON object")
    read = _RequestReader(stack_name, request)
    human = ("HumanTaskConfig",)
    output_bucket, output_prefix = _output_path(read.string("OutputConfig", "S3OutputPath"), stack_name)
    task = TaskSettings(
        label_attribute_name=read.string("LabelAttributeName"),
        title=read.string(*human, "TaskTitle"),
        description=read.string(*human, "TaskDescription"),
        workers_per_object=read.integer(*human, "NumberOfHumanWorkersPerDataObject"),
        time_limit_seconds=read.integer(*human, "TaskTimeLimitInSeconds"),
        manifest=read.s3_uri("InputConfig", "DataSource", "S3DataSource", "ManifestS3Uri"),
        output_bucket=output_bucket,
        output_prefix=output_prefix,
        ui_template=read.s3_uri(*human, "UiConfig", "UiTemplateS3Uri"),
    )

    def function(*path: str) -> FunctionSpec:
        arn = read.string(*path)
        logical_id = arn.removeprefix(FUNCTION_ARN_PREFIX)
        resource = resources.get(logical_id, {})
        if not arn.startswith(FUNCTION_ARN_PREFIX) or resource.get("Type") != "AWS::Lambda::Function":
            raise StackError(f"stack {stack_name}: {JOB_REQUEST_OUTPUT} {'.'.join(path)} is {arn!r}, not a "
                             "function of this stack; the runner runs only the stack's own functions")
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        if not asset:
            raise StackError(f"stack {stack_name}: function {logical_id} has no aws:asset:path metadata "
                             "(synthesize with aws:cdk:enable-asset-metadata)")
        properties = resource["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        check_bundle_runs_here(stack_name, logical_id, Path(assembly_dir) / asset)
        return FunctionSpec(
            logical_id=logical_id,
            handler=properties["Handler"],
            asset_dir=Path(assembly_dir) / asset,
            environment={name: resolver.string(value, f"function {logical_id} environment variable {name}")
                         for name, value in variables.items()},
            timeout_seconds=int(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            grants=read_grants(logical_id, resources, resolver.document),
        )

    pre_labeling = function(*human, "PreHumanTaskLambdaArn")
    consolidation = function(*human, "AnnotationConsolidationConfig", "AnnotationConsolidationLambdaArn")
    deployments = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "Custom::CDKBucketDeployment":
            continue
        props = resource["Properties"]
        where = f"bucket deployment {logical_id}"
        deployments.append(DeploymentSpec(
            asset_dirs=[Path(assembly_dir) / f"asset.{key.removesuffix('.zip')}" for key in props["SourceObjectKeys"]],
            markers=[{marker: resolver.string(value, f"{where} marker {marker}") for marker, value in markers.items()}
                     for markers in (props.get("SourceMarkers") or [{} for _ in props["SourceObjectKeys"]])],
            bucket=resolver.string(props["DestinationBucketName"], where),
            prefix=props.get("DestinationBucketKeyPrefix") or "",
            prune=str(props.get("Prune", True)).lower() != "false",
        ))
    return WorkflowSpec(stack_name=stack_name, workflow=workflow, request=request, task=task,
                        pre_labeling=pre_labeling, consolidation=consolidation, deployments=deployments,
                        buckets=dict(resolver.used_buckets), review=_review_settings(template, stack_name))


def _review_settings(template: Mapping[str, Any], stack_name: str) -> ReviewSettings:
    """The stack's ``ReviewSettings`` output (JSON); review off when the stack has none."""
    output = template.get("Outputs", {}).get(REVIEW_SETTINGS_OUTPUT)
    if output is None:
        return ReviewSettings()
    value = output.get("Value")
    try:
        return parse_settings(json.loads(value) if isinstance(value, str) else value,
                              f"stack {stack_name}: its {REVIEW_SETTINGS_OUTPUT} output")
    except ValueError as error:  # ReviewError, or JSON that does not parse
        raise StackError(str(error) if isinstance(error, ReviewError)
                         else f"stack {stack_name}: its {REVIEW_SETTINGS_OUTPUT} output is not JSON: {error}") from None


def _output_path(uri: str, stack_name: str) -> tuple[str, str]:
    """``S3OutputPath`` as (bucket, key prefix ending in "/" or empty): the path may name just a bucket, so it
    is read as the folder of a key in it."""
    try:
        location = parse_s3_uri(uri.rstrip("/") + "/-", what="S3OutputPath")
    except InputError:
        raise StackError(f"stack {stack_name}: {JOB_REQUEST_OUTPUT} S3OutputPath {uri!r} is not an S3 URI "
                         "(expected s3://bucket or s3://bucket/prefix/)") from None
    return location.bucket, location.key.removesuffix("-")


class _RequestReader:
    """Typed reads of the resolved request; a missing or mistyped field is an error naming its path."""

    def __init__(self, stack_name: str, request: Mapping[str, Any]) -> None:
        self.stack_name, self.request = stack_name, request

    def _get(self, path: tuple[str, ...]) -> Any:
        value: Any = self.request
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                raise StackError(f"stack {self.stack_name}: {JOB_REQUEST_OUTPUT} has no {'.'.join(path)}")
            value = value[key]
        return value

    def string(self, *path: str) -> str:
        value = self._get(path)
        if not isinstance(value, str) or not value:
            raise StackError(f"stack {self.stack_name}: {JOB_REQUEST_OUTPUT} {'.'.join(path)} is not a string: {value!r}")
        return value

    def integer(self, *path: str) -> int:
        value = self._get(path)
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if isinstance(value, bool) or number is None or str(number) != str(value).strip() or number < 1:
            raise StackError(f"stack {self.stack_name}: {JOB_REQUEST_OUTPUT} {'.'.join(path)} is not a positive "
                             f"whole number: {value!r}")
        return number

    def s3_uri(self, *path: str) -> S3Location:
        try:
            return parse_s3_uri(self.string(*path), what=f"stack {self.stack_name}: {JOB_REQUEST_OUTPUT} {'.'.join(path)}")
        except InputError as error:
            raise StackError(str(error)) from None


class _Resolver:
    """CloudFormation intrinsics of one template, resolved for this machine (see the module's docstring)."""

    def __init__(self, stack_name: str, resources: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
        self.stack_name, self.resources, self.parameters = stack_name, resources, parameters
        self.bucket_names = local_bucket_names([logical_id for logical_id, resource in resources.items()
                                                if resource.get("Type") == "AWS::S3::Bucket"])
        self.used_buckets: dict[str, str] = {}

    def _fail(self, value: Any, where: str) -> StackError:
        return StackError(f"stack {self.stack_name}: {where}: {json.dumps(value)[:300]} cannot be resolved locally")

    def string(self, value: Any, where: str) -> str:
        resolved = self.value(value, where)
        if not isinstance(resolved, str):
            raise self._fail(value, where)
        return resolved

    def json_text(self, value: Any, where: str) -> str:
        """A JSON document CDK wrote with ``Stack.to_json_string``: the literal parts are JSON text, each
        intrinsic part a value spliced into a string literal (so it is escaped as one here)."""
        if isinstance(value, dict) and set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(part if isinstance(part, str) else json.dumps(self.string(part, where))[1:-1]
                                  for part in parts)
        return self.string(value, where)

    def document(self, value: Any, where: str) -> Any:
        """A JSON document (a policy statement) with every intrinsic in it resolved."""
        if isinstance(value, dict) and len(value) == 1 and _is_intrinsic(next(iter(value))):
            return self.value(value, where)
        if isinstance(value, dict):
            return {key: self.document(item, where) for key, item in value.items()}
        if isinstance(value, list):
            return [self.document(item, where) for item in value]
        return value

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, list):
            return [self.value(item, where) for item in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise self._fail(value, where)
        [(function, argument)] = value.items()
        if function == "Ref" and isinstance(argument, str):
            return self._ref(argument, value, where)
        if function == "Fn::GetAtt":
            target, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._attribute(target, attribute, value, where)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            parts = self.value(argument[1], where)
            if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
                raise self._fail(value, where)
            return self.string(argument[0], where).join(parts)
        if function == "Fn::Select" and isinstance(argument, list) and len(argument) == 2:
            items = self.value(argument[1], where)
            index = int(self.string(argument[0], where))
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise self._fail(value, where)
            return items[index]
        if function == "Fn::Split" and isinstance(argument, list) and len(argument) == 2:
            return self.string(argument[1], where).split(self.string(argument[0], where))
        if function == "Fn::ImportValue":
            # Another stack's export (e.g. the shared workteam's ARN): a stand-in that names it.
            return f"imported:{self.string(argument, where)}"
        if function == "Fn::Sub":
            return self._sub(argument, value, where)
        raise self._fail(value, where)

    def _ref(self, name: str, value: Any, where: str) -> str:
        if name in _PSEUDO_PARAMETERS:
            return _PSEUDO_PARAMETERS[name]
        if name == "AWS::StackName":
            return self.stack_name
        if name in self.bucket_names:
            self.used_buckets[name] = self.bucket_names[name]
            return self.bucket_names[name]
        if name in self.resources:
            return name  # another resource's physical name: its logical id will do here
        default = self.parameters.get(name, {}).get("Default")
        if isinstance(default, str):
            return default
        raise self._fail(value, where)

    def _attribute(self, target: str, attribute: str, value: Any, where: str) -> str:
        resource_type = self.resources.get(target, {}).get("Type", "")
        if attribute != "Arn" or not resource_type:
            raise self._fail(value, where)
        if resource_type == "AWS::Lambda::Function":
            return FUNCTION_ARN_PREFIX + target
        if resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self._ref(target, value, where)}"
        if resource_type == "AWS::IAM::Role":
            return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{target}"
        service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else "local"
        return f"arn:aws:{service}:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{target}"

    def _sub(self, argument: Any, value: Any, where: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return self.string(variables[name], where)
            if "." in name:
                target, attribute = name.split(".", 1)
                return self._attribute(target, attribute, value, where)
            return self._ref(name, value, where)

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text).replace("${!", "${")


def _is_intrinsic(name: str) -> bool:
    return name == "Ref" or name.startswith("Fn::")


def local_bucket_names(logical_ids: list[str]) -> dict[str, str]:
    """A local bucket name per bucket of the stack (logical id -> name).

    Each job has an endpoint and folder of its own, so the construct's name is enough: the logical
    id in kebab case without CDK's hash suffix (``DataBucketE3889A50`` -> ``data-bucket``), unless
    two buckets would then share a name."""
    ids = sorted(set(logical_ids))
    short = {logical_id: _kebab(re.sub(r"[0-9A-F]{8}$", "", logical_id) or logical_id) for logical_id in ids}
    if len(set(short.values())) < len(short):
        short = {logical_id: _kebab(logical_id) for logical_id in ids}
    return {logical_id: name[:63].strip("-").ljust(3, "0") for logical_id, name in short.items()}


def _kebab(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()).strip("-")
