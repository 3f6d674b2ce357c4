"""Lambda entry point: turn one abstract's manifest line into the worker task's input.

Event: ``{"version", "labelingJobArn", "dataObject": <the manifest line>}``; the line holds

- ``source-ref``: the S3 URI of the paper's rendered first page (shown beside the text);
- ``text-file-s3-uri``: the S3 URI of the abstract as UTF-8 text;
- ``metadata`` (optional): an object such as ``{"Title", "Author", "ISBN"}``.

Response: ``{"taskInput": {"taskObject": <source-ref>, "text": <the abstract>,
"metadata": {**metadata, "text_file_s3_uri": <uri>}}, "isHumanAnnotationRequired": "true"}``.

The text file is read whole, so its size is bounded: ``MAX_TEXT_BYTES`` (1,000,000 bytes, far
above any abstract and well inside the Lambda's memory and Ground Truth's task-input size) is
checked against the object's ContentLength before the body is read. Every unusable input raises
``InputError`` naming the key or S3 URI at fault and the problem.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import boto3

from gt_common.s3uri import InputError, parse_s3_uri, read_object

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
MAX_TEXT_BYTES = 1_000_000
IMAGE_KEY = "source-ref"
TEXT_KEY = "text-file-s3-uri"


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3")


def _required(data_object: dict[str, Any], key: str) -> Any:
    if key not in data_object or data_object[key] in (None, ""):
        raise InputError(f"dataObject has no '{key}' (keys: {sorted(data_object)})")
    return data_object[key]


def read_text(uri: str) -> str:
    location = parse_s3_uri(uri, what=f"dataObject.{TEXT_KEY}")
    body = read_object(s3_client(), location, what="abstract text file", max_bytes=MAX_TEXT_BYTES)
    if len(body) > MAX_TEXT_BYTES:  # ContentLength missing or wrong: check what was actually read
        raise InputError(f"abstract text file {location.uri} is {len(body)} bytes, "
                         f"over the {MAX_TEXT_BYTES}-byte limit")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"abstract text file {location.uri} is not UTF-8 text: {error}") from error


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InputError("event is not an object")
    data_object = event.get("dataObject")
    if not isinstance(data_object, dict):
        raise InputError("dataObject is missing or not an object")
    image_uri = _required(data_object, IMAGE_KEY)
    parse_s3_uri(image_uri, what=f"dataObject.{IMAGE_KEY}")
    text_uri = _required(data_object, TEXT_KEY)
    metadata = data_object.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise InputError(f"dataObject.metadata is a {type(metadata).__name__}, not an object")
    text = read_text(text_uri)
    LOG.info("abstract %s: %d characters", text_uri, len(text))
    return {
        "taskInput": {
            "taskObject": image_uri,
            "text": text,
            "metadata": {**metadata, "text_file_s3_uri": text_uri},
        },
        "isHumanAnnotationRequired": "true",
    }
