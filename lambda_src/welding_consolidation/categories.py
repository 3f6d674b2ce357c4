"""The welding label categories: one definition, overridable per deployment.

The deployed function reads ``LABEL_CATEGORIES`` (a JSON list of strings) so the stack can pass
the same list it writes into the worker template; without it the seven categories below apply.
A malformed override raises instead of silently skipping every answer as "unknown category".
"""
from __future__ import annotations

import json
import os
from typing import Mapping

from gt_common.classification import ConfigurationError

ENV_VAR = "LABEL_CATEGORIES"

# The abstain answer: counted as a vote, but it loses ties against any real class.
NOT_SURE = "Not sure"

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "Good Weld",
    "Burn Through",
    "Contamination",
    "Lack of Fusion",
    "Lack of Shielding Gas",
    "High Travel Speed",
    NOT_SURE,
)


def label_categories(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The categories from ``LABEL_CATEGORIES`` if set, else ``DEFAULT_CATEGORIES``."""
    raw = environ.get(ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_CATEGORIES
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ConfigurationError(f"{ENV_VAR} is not valid JSON: {error}") from error
    if not isinstance(value, list) or not value:
        raise ConfigurationError(f"{ENV_VAR} must be a non-empty JSON list of strings")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigurationError(f"{ENV_VAR} must hold only non-empty strings")
    if len(set(value)) != len(value):
        raise ConfigurationError(f"{ENV_VAR} lists a category twice")
    return tuple(value)
