"""Reusable L3 constructs for SageMaker Ground Truth custom labeling workflows.

- ``ManifestBucket``: the job's bucket (or an existing one), its sample data and input manifest.
- ``PrivateWorkteam``: a Cognito-backed private workteam (or an existing one) and its portal step.
- ``CustomLabelingWorkflow``: the pre-labeling and consolidation functions (made from
  ``FunctionProps`` over secure defaults, or existing ones), the execution role, the worker
  template and the labeling job.
- ``ExpertReview``: a review labeling job on an experts' workteam for what a workflow's crowd could
  not settle, started by EventBridge when the workflow's job completes, and one final manifest.

Each class's docstring lists its props, their defaults and the resources it exposes. The code of
the custom resources lives beside the construct that uses it (``labeling_job_resource/``,
``workteam_portal_resource/``: boto3 only, each an asset of its own folder). ``lambda_code`` is
this project's bundler for Lambda packages (``package_function_props``).

Named ``labeling_constructs`` rather than ``constructs``: a top-level package called ``constructs``
would shadow the ``constructs`` library that aws-cdk-lib itself imports.

The constructs are imported on first use (PEP 562), so ``labeling_constructs.lambda_dependencies``
and the custom-resource packages can be imported without loading aws_cdk (the local runner's
Lambda processes and the job resource's tests do).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CustomLabelingWorkflow": ".custom_labeling_workflow",
    "ExpertReview": ".expert_review",
    "GROUND_TRUTH_CORS_RULE": ".manifest_bucket",
    "JobSettingError": ".labeling_job_resource.job_settings",
    "RUNTIME": ".lambda_code",
    "package_function_props": ".lambda_code",
    "python_lambda_code": ".lambda_code",
    "DATA_PREFIX_PLACEHOLDER": ".data_prefix",
    "ManifestBucket": ".manifest_bucket",
    "PrivateWorkteam": ".private_workteam",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .custom_labeling_workflow import CustomLabelingWorkflow
    from .expert_review import ExpertReview
    from .labeling_job_resource.job_settings import JobSettingError
    from .lambda_code import RUNTIME, package_function_props, python_lambda_code
    from .data_prefix import DATA_PREFIX_PLACEHOLDER
    from .manifest_bucket import GROUND_TRUTH_CORS_RULE, ManifestBucket
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
