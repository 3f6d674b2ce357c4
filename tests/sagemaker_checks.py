"""Requests held to the SageMaker API model, as botocore has it: its own client-side validation,
plus the constraints that validation leaves out (max lengths and items, patterns, enums)."""
from __future__ import annotations

import re
from typing import Any

import boto3
from botocore.validate import validate_parameters


def check_constraints(value: Any, shape, path: str) -> None:
    """The model's constraints botocore's client-side validation leaves out: max, pattern, enum."""
    meta = shape.metadata
    if shape.type_name == "structure":
        for key, item in value.items():
            check_constraints(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list":
        assert len(value) <= meta.get("max", len(value)), f"{path}: more than {meta['max']} items"
        for index, item in enumerate(value):
            check_constraints(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string":
        assert len(value) <= meta.get("max", len(value)), f"{path}: longer than {meta['max']}"
        if "pattern" in meta and _python_regex(meta["pattern"]):
            assert re.fullmatch(meta["pattern"], value), f"{path}: {value!r} does not match {meta['pattern']}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif shape.type_name in ("integer", "long"):
        assert meta.get("min", value) <= value <= meta.get("max", value), f"{path}: {value} out of range"


def _python_regex(pattern: str) -> bool:
    """Whether Python's re reads the model's (Java) pattern; Unicode classes such as \\p{L} it cannot."""
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def check_create_labeling_job(request: dict[str, Any]) -> None:
    """Raise (botocore's ParamValidationError, or AssertionError naming the field) unless ``request``
    is a CreateLabelingJob input the SageMaker model accepts."""
    shape = boto3.client("sagemaker", region_name="us-east-1").meta.service_model.operation_model(
        "CreateLabelingJob").input_shape
    validate_parameters(request, shape)
    check_constraints(request, shape, "CreateLabelingJob")
