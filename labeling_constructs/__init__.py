"""Reusable L3 constructs for SageMaker Ground Truth custom labeling workflows.

Named ``labeling_constructs`` rather than ``constructs``: a top-level package called ``constructs``
would shadow the ``constructs`` library that aws-cdk-lib itself imports.

The constructs are imported on first use (PEP 562), so ``labeling_constructs.lambda_dependencies``
can be imported without loading aws_cdk (the local runner's Lambda processes do).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ConsolidationMethod": ".custom_labeling_workflow",
    "CustomLabelingWorkflow": ".custom_labeling_workflow",
    "LabelingFunction": ".custom_labeling_workflow",
    "RUNTIME": ".lambda_code",
    "python_lambda_code": ".lambda_code",
    "DATA_PREFIX_PLACEHOLDER": ".manifest_bucket",
    "ManifestBucket": ".manifest_bucket",
    "PrivateWorkteam": ".private_workteam",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .custom_labeling_workflow import ConsolidationMethod, CustomLabelingWorkflow, LabelingFunction
    from .lambda_code import RUNTIME, python_lambda_code
    from .manifest_bucket import DATA_PREFIX_PLACEHOLDER, ManifestBucket
    from .private_workteam import PrivateWorkteam


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
