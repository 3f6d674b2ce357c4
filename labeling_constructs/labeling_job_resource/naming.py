"""Labeling-job names: one deterministic name per configuration and generation.

``<key>-<label>-<config>-<generation>``, all lower case:

- ``key``: the resource's ``JobNameKey`` property, a short digest the construct computes at synth
  from its stack name and construct path. It never depends on a setting, so the IAM scope
  ``labeling-job/<key>-*`` of the resource's functions survives any rename and differs per stack
  (and so per environment).
- ``label``: a readable part (``JobNameLabel``: the label attribute or the caller's prefix),
  shortened to fit.
- ``config``: a digest of every resource property but the service token. The same
  configuration always gives the same name, so a retried Create or a rollback finds its job.
- ``generation``: labeling-job names are unique forever (stopped and failed jobs included), so a
  configuration whose job was stopped or failed gets the next generation.

SageMaker spells labeling-job ARNs in lower case; lower-case names keep name and ARN identical.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterator, Mapping

#: CreateLabelingJob's name rule (botocore model: LabelingJobName).
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_NAME_LENGTH = 63
KEY = re.compile(r"^[a-z0-9]{4,16}$")
CONFIG_DIGEST_LENGTH = 8
#: Stopped or failed jobs one configuration may leave behind before it needs a changed setting.
MAX_GENERATIONS = 50
KEY_PROPERTY = "JobNameKey"
LABEL_PROPERTY = "JobNameLabel"
_NOT_CONFIGURATION = ("ServiceToken",)  # a new provider function is not a new job


class NamingError(ValueError):
    """The properties cannot name a job; the message names the property."""


def key_of(properties: Mapping[str, Any]) -> str:
    key = str(properties.get(KEY_PROPERTY) or "")
    if not KEY.match(key):
        raise NamingError(f"{KEY_PROPERTY} {key!r} must be 4-16 lower-case letters and digits")
    return key


def has_key(properties: Mapping[str, Any] | None) -> bool:
    """Whether ``properties`` (e.g. those of an earlier version of the resource) carry a valid key."""
    return bool(properties) and bool(KEY.match(str(properties.get(KEY_PROPERTY) or "")))


def config_digest(properties: Mapping[str, Any]) -> str:
    config = {k: v for k, v in properties.items() if k not in _NOT_CONFIGURATION}
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:CONFIG_DIGEST_LENGTH]


def _readable(label: str, room: int) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return text[:room].rstrip("-") or "job"


def job_name(properties: Mapping[str, Any], generation: int) -> str:
    if not 0 <= generation < MAX_GENERATIONS:
        raise NamingError(f"generation {generation} is outside 0-{MAX_GENERATIONS - 1}")
    key = key_of(properties)
    tail = f"{config_digest(properties)}-{generation}"
    room = MAX_NAME_LENGTH - len(key) - len(tail) - 2
    name = f"{key}-{_readable(str(properties.get(LABEL_PROPERTY) or ''), room)}-{tail}"
    assert JOB_NAME.match(name) and len(name) <= MAX_NAME_LENGTH, name
    return name


def generations(properties: Mapping[str, Any]) -> Iterator[str]:
    """The configuration's job names, generation 0 first."""
    for generation in range(MAX_GENERATIONS):
        yield job_name(properties, generation)


def is_resource_job(name: str, key: str) -> bool:
    """Whether ``name`` is one of the names a resource with ``key`` gives its jobs."""
    return bool(JOB_NAME.match(name or "")) and len(name) <= MAX_NAME_LENGTH and name.lower().startswith(f"{key}-")
