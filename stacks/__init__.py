"""The app's stacks: the shared workforce, and one ``WorkflowStack`` per workflow definition.

The stack classes are imported when first named (``from stacks import WorkflowStack``), so that the modules here
that import no aws_cdk (``cdk_json``, ``outputs``) serve the local runner and the scripts without starting jsii."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "EnvironmentConfig": ".environment_config",
    "load_environment": ".environment_config",
    "WorkflowStack": ".workflow_stack",
    "LabelingWorkforceStack": ".workforce_stack",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
