"""Reusable L3 constructs for SageMaker Ground Truth custom labeling workflows.

Named ``labeling_constructs`` rather than ``constructs``: a top-level package called ``constructs``
would shadow the ``constructs`` library that aws-cdk-lib itself imports.
"""
from .custom_labeling_workflow import ConsolidationMethod, CustomLabelingWorkflow, LabelingFunction
from .lambda_code import RUNTIME, python_lambda_code
from .manifest_bucket import DATA_PREFIX_PLACEHOLDER, ManifestBucket
from .private_workteam import PrivateWorkteam

__all__ = [
    "ConsolidationMethod",
    "CustomLabelingWorkflow",
    "DATA_PREFIX_PLACEHOLDER",
    "LabelingFunction",
    "ManifestBucket",
    "PrivateWorkteam",
    "RUNTIME",
    "python_lambda_code",
]
