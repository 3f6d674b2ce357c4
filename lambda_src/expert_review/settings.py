"""The functions' configuration, read from their environment at each invocation; a wrong value
fails the invocation with the variable named (it is the deployment's fault, not the data's)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from gt_common.configuration import ConfigurationError
from gt_common.review import ReviewError, ReviewSettings, parse_settings
from gt_common.s3uri import S3Location, parse_s3_uri

#: The key every name of the workflow's jobs starts with (``<key>-...``).
CROWD_JOB_KEY_ENV = "CROWD_JOB_KEY"
#: The key every review job's name starts with.
REVIEW_JOB_KEY_ENV = "REVIEW_JOB_KEY"
#: The environment's review settings as JSON (``gt_common.review.ReviewSettings.as_json``): the threshold
#: and whether any abstention routes (``gt_common.review.needs_review``).
RULE_SETTINGS_ENV = "REVIEW_SETTINGS"
#: Where review manifests and the review jobs' output go: ``s3://bucket/prefix/``.
REVIEW_URI_ENV = "REVIEW_S3_URI"
#: CreateLabelingJob's request for a review job, all but the name and the manifest (JSON).
REVIEW_REQUEST_ENV = "REVIEW_JOB_REQUEST"

#: A job key, as the labeling-job resource checks it (``labeling_constructs/labeling_job_resource/naming.py``'s ``KEY``:
#: that function's code is its own folder, without ``gt_common``, so each keeps a copy; a test holds the two equal).
JOB_KEY = re.compile(r"^[a-z0-9]{4,16}$")


@dataclass(frozen=True)
class ReviewConfig:
    """The start and merge functions' configuration; ``rule`` is the environment's review rule."""
    crowd_key: str
    review_key: str
    rule: ReviewSettings  # which objects go to review
    review_location: S3Location  # a folder: its key is empty or ends with "/"
    request: dict[str, Any]


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def job_keys(environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    keys = _required(environ, CROWD_JOB_KEY_ENV), _required(environ, REVIEW_JOB_KEY_ENV)
    for name, key in zip((CROWD_JOB_KEY_ENV, REVIEW_JOB_KEY_ENV), keys):
        if not JOB_KEY.match(key):
            raise ConfigurationError(f"{name} {key!r} must be 4-16 lower-case letters and digits")
    if keys[0] == keys[1]:
        raise ConfigurationError(f"{CROWD_JOB_KEY_ENV} and {REVIEW_JOB_KEY_ENV} must differ")
    return keys


def review_location(environ: Mapping[str, str] = os.environ) -> S3Location:
    location = parse_s3_uri(_required(environ, REVIEW_URI_ENV), what=REVIEW_URI_ENV, folder=True)
    if location.key and not location.key.endswith("/"):
        raise ConfigurationError(f"{REVIEW_URI_ENV} {location.uri!r} must end with '/'")
    return location


def rule_settings(environ: Mapping[str, str] = os.environ) -> ReviewSettings:
    text = _required(environ, RULE_SETTINGS_ENV)
    try:
        return parse_settings(json.loads(text), RULE_SETTINGS_ENV)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{RULE_SETTINGS_ENV} is not JSON: {error}") from None
    except ReviewError as error:
        raise ConfigurationError(str(error)) from None


def review_request(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    try:
        request = json.loads(_required(environ, REVIEW_REQUEST_ENV))
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{REVIEW_REQUEST_ENV} is not JSON: {error}") from None
    if not isinstance(request, dict) or "HumanTaskConfig" not in request or "LabelingJobName" in request:
        raise ConfigurationError(f"{REVIEW_REQUEST_ENV} must be CreateLabelingJob's request without its name")
    return request


def settings(environ: Mapping[str, str] = os.environ) -> ReviewConfig:
    crowd_key, review_key = job_keys(environ)
    return ReviewConfig(crowd_key, review_key, rule_settings(environ), review_location(environ), review_request(environ))
