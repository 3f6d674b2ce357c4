#!/usr/bin/env python3
"""The CDK app: one stack per labeling workflow, for the environment named by ``-c env=<name>``."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

from stacks import WeldingLabelingStack, load_environment


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    environments = app.node.try_get_context("environments") or {}
    env_name = app.node.try_get_context("env") or app.node.try_get_context("defaultEnvironment") or "dev"
    config = load_environment(environments, env_name)

    welding = WeldingLabelingStack(app, f"WeldingLabeling-{config.name}", config=config)
    for stack in (welding,):
        cdk.Tags.of(stack).add("project", "ground-truth-custom-workflows")
        cdk.Tags.of(stack).add("environment", config.name)

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
