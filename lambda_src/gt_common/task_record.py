"""What pre-labeling showed a worker, kept so consolidation can check answers against it.

Ground Truth hands the consolidation function only each data object's source (the payload's
``dataObject``: ``{"s3Uri": <source-ref>}`` or ``{"content": <source>}``), never the task input the
worker saw. Some answers can only be checked against that input (span offsets must lie inside the
text that was shown), so the pre-labeling function writes a small record per data object and the
consolidation function reads it back by the same ``dataObject``:

    <TASK_RECORDS_URI><sha256 of the dataObject>.json

``TASK_RECORDS_URI`` (an ``s3://bucket/prefix/`` folder) is set on both functions by the
``CustomLabelingWorkflow`` construct. Without it, or without a record, consolidation falls back to
the bounds it can check on its own (and logs that it did).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Optional

from . import strict_json
from .s3uri import InputError, S3Location, parse_s3_uri

LOG = logging.getLogger(__name__)
RECORDS_ENV = "TASK_RECORDS_URI"
READ_THREADS = 32  # records read at once: S3 latency, not CPU, bounds a batch of thousands


def data_object_of(manifest_line: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dataObject`` Ground Truth puts in the consolidation payload for a manifest line."""
    if "source-ref" in manifest_line:
        return {"s3Uri": manifest_line["source-ref"]}
    if "source" in manifest_line:
        return {"content": manifest_line["source"]}
    raise InputError(f"manifest line has neither 'source-ref' nor 'source' (keys: {sorted(manifest_line)})")


def records_location(environ: Mapping[str, str] = os.environ) -> Optional[S3Location]:
    """The records folder from ``TASK_RECORDS_URI``, or None when the function has none."""
    uri = environ.get(RECORDS_ENV, "").strip()
    if not uri:
        return None
    folder = parse_s3_uri(uri if uri.endswith("/") else uri + "/", what=RECORDS_ENV)
    return folder


def record_location(folder: S3Location, data_object: Mapping[str, Any]) -> S3Location:
    digest = hashlib.sha256(json.dumps(data_object, sort_keys=True, ensure_ascii=True).encode()).hexdigest()
    return S3Location(folder.bucket, f"{folder.key}{digest}.json")


def write_record(s3_client, manifest_line: Mapping[str, Any], record: Mapping[str, Any],
                 environ: Mapping[str, str] = os.environ) -> Optional[S3Location]:
    """Save ``record`` for the data object of ``manifest_line``; None (nothing written) without a folder."""
    folder = records_location(environ)
    if folder is None:
        return None
    location = record_location(folder, data_object_of(manifest_line))
    s3_client.put_object(Bucket=location.bucket, Key=location.key, ContentType="application/json",
                         Body=json.dumps(dict(record), allow_nan=False).encode())
    return location


def read_record(s3_client, data_object: Any, environ: Mapping[str, str] = os.environ) -> Optional[dict[str, Any]]:
    """The record pre-labeling wrote for ``data_object``; None (logged) when there is none or it is unusable."""
    from botocore.exceptions import ClientError

    folder = records_location(environ)
    if folder is None or not isinstance(data_object, dict):
        return None
    location = record_location(folder, data_object)
    try:
        body = s3_client.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        record = strict_json.loads(body)
    except ClientError as error:
        LOG.warning("no task record %s for data object %.200s: %s", location.uri, data_object,
                    error.response.get("Error", {}).get("Code"))
        return None
    except strict_json.JSONError as error:
        LOG.warning("task record %s is not usable JSON: %.200s", location.uri, error)
        return None
    if not isinstance(record, dict):
        LOG.warning("task record %s is not a JSON object", location.uri)
        return None
    return record


def read_records(s3_client, data_objects: Mapping[str, Any],
                 environ: Mapping[str, str] = os.environ) -> dict[str, Optional[dict[str, Any]]]:
    """Per object id, the record of its ``dataObject`` (None, logged, when missing or unusable), read
    several at a time; {} without a records folder. A record that cannot be read costs only itself."""
    if not data_objects or records_location(environ) is None:
        return {}

    def one(data_object: Any) -> Optional[dict[str, Any]]:
        try:
            return read_record(s3_client, data_object, environ)
        except Exception as error:  # noqa: BLE001 - a record is a check's input; its absence is not fatal
            LOG.warning("task record of data object %.200s not readable: %s: %.300s", data_object,
                        type(error).__name__, error)
            return None

    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(data_objects))) as pool:
        return dict(zip(data_objects, pool.map(one, data_objects.values())))
