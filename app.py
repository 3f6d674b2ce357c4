#!/usr/bin/env python3
"""The CDK app, for the environment named by ``-c env=<name>``: the shared workforce and one stack
per workflow definition (``workflows/<name>.py``, stack ``<Name>Labeling-<env>``)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

import workflows
from stacks import LabelingWorkforceStack, WorkflowStack, load_environment
from stacks.cdk_json import CDK_JSON, DEFAULT_ENVIRONMENT, default_environment, file_context
from stacks.environment_config import data_folders

PROJECT = Path(__file__).resolve().parent
#: Context that names, per workflow, a folder of data to label in this synthesis (the local runner's ``--data``),
#: over the environment's ``data``.
DATA_CONTEXT = "data"


#: Where the CDK CLI hands an app its context (cx-api's CONTEXT_ENV and CONTEXT_OVERFLOW_LOCATION_ENV: the JSON,
#: and a file holding the keys that did not fit in the environment).
CLI_CONTEXT_ENV, CLI_CONTEXT_OVERFLOW_ENV = "CDK_CONTEXT_JSON", "CONTEXT_OVERFLOW_LOCATION_ENV"


def context_as_given(app: cdk.App, key: str):
    """``key`` of the context as the CDK CLI gave it, else as the app holds it. jsii drops a null inside an object on
    its way to Python, so `"createLabelingJob": null` in cdk.json reached the settings as no key at all: the
    default, a real labeling job, instead of the refusal the setting's check gives a null."""
    given = {}
    if os.environ.get(CLI_CONTEXT_ENV):
        given.update(json.loads(os.environ[CLI_CONTEXT_ENV]))
    if os.environ.get(CLI_CONTEXT_OVERFLOW_ENV):
        given.update(json.loads(Path(os.environ[CLI_CONTEXT_OVERFLOW_ENV]).read_text()))
    return given[key] if key in given else app.node.try_get_context(key)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    # The CLI passes cdk.json's context in; `python app.py` on its own reads the file. A cdk.json without
    # context.environments (a typo in the key) is named by load_environment, not a KeyError.
    environments = context_as_given(app, "environments")
    if environments is None:
        environments = file_context(CDK_JSON).get("environments")
    # An empty `-c env=` (a shell variable left unset) is refused as an unknown environment: falling back to the
    # default would synthesize, and deploy, another environment than the one meant.
    env_name = app.node.try_get_context("env")
    if env_name is None:
        env_name = context_as_given(app, DEFAULT_ENVIRONMENT) or default_environment(CDK_JSON)
    config = load_environment(environments, env_name)

    stacks = []
    workteam_arn, expert_workteam_arn = config.existing_workteam_arn, config.expert_workteam_arn
    if not workteam_arn:  # one private workforce per account and region: every workflow shares it
        workforce = LabelingWorkforceStack(app, f"LabelingWorkforce-{config.name}", config=config)
        workteam_arn = workforce.workteam.workteam_arn
        if workforce.expert_workteam is not None:
            expert_workteam_arn = workforce.expert_workteam.ref
        stacks.append(workforce)
    definitions = workflows.definitions()
    data = {**config.data, **data_folders(app.node.try_get_context(DATA_CONTEXT) or {}, f"context {DATA_CONTEXT!r}")}
    unknown = sorted(set(data) - set(definitions))
    if unknown:
        raise ValueError(f"environment {config.name!r}: data names no workflow of the app: {', '.join(unknown)} "
                         f"(the workflows: {', '.join(sorted(definitions))})")
    for definition in definitions.values():
        folder = data.get(definition.name)
        stacks.append(WorkflowStack(app, f"{definition.stack_name}-{config.name}", definition=definition,
                                    config=config, workteam_arn=workteam_arn,
                                    expert_workteam_arn=expert_workteam_arn,
                                    data_dir=None if folder is None else PROJECT / Path(folder).expanduser()))
    for stack in stacks:
        cdk.Tags.of(stack).add("project", "ground-truth-custom-workflows")
        cdk.Tags.of(stack).add("environment", config.name)

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    try:
        app = build_app()
    except ValueError as error:  # cdk.json or the context names something it cannot be: said in a line
        sys.exit(f"app.py: error: {error}")
    app.synth()
    # The cloud assembly is written. jsii's exit hook would now wait about a second for its Node
    # process to tear down (bench/results/synth.md); Node finishes that alone once stdin closes.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
