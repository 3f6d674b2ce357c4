"""What pre-labeling showed or knew about a data object, kept so consolidation can use it.

Ground Truth hands the consolidation function only each data object's source (the payload's
``dataObject``: ``{"s3Uri": <source-ref>}`` or ``{"content": <source>}``), never the task input the
worker saw nor the rest of the manifest line. Some answers can only be checked against that input
(span offsets must lie inside the text that was shown), and a line's gold answers must reach the
worker model, so the pre-labeling function writes a small record per data object that has something
to keep, and the consolidation function reads it back by the same ``dataObject``:

    <TASK_RECORDS_URI><job name>/<sha256 of the dataObject>.json

The job's name comes from the events' ``labelingJobArn`` (both functions get it), so a record is only
ever read by the job that wrote it: a line that had gold in an earlier job never passes it on to a later
one. An object with nothing to keep (a welding run without gold) gets no record at all: the common case
costs no write, and a batch's consolidation lists the job's records folder once (``read_records``)
instead of asking for each object's record. An event without an ARN (a hand-made test event) uses
the folder itself.

``TASK_RECORDS_URI`` (an ``s3://bucket/prefix/`` folder) is set on both functions by the
``CustomLabelingWorkflow`` construct. Without it, or without a record, consolidation falls back to
the bounds it can check on its own (and logs that it did).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Optional

from . import strict_json
from .s3uri import InputError, S3Location, parse_s3_uri

LOG = logging.getLogger(__name__)
RECORDS_ENV = "TASK_RECORDS_URI"
READ_THREADS = 32  # records read at once: S3 latency, not CPU, bounds a batch of thousands
#: A listing page (up to 1,000 keys) costs about what one round of READ_THREADS reads does, so a batch
#: lists at most one page per READ_THREADS objects before it falls back to reading each object's record.
OBJECTS_PER_LISTED_PAGE = READ_THREADS
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


#: The two fields a manifest line names its data object by (Ground Truth: one of them, ``source-ref`` an S3 URI by
#: convention, ``source`` inline content or, in this project's welding data, a URI too).
SOURCE_REF, SOURCE = "source-ref", "source"
SOURCE_FIELDS = (SOURCE_REF, SOURCE)


def source_of(manifest_line: Mapping[str, Any], default: Any = None) -> Any:
    """The line's data object as written: its ``source-ref``, else its ``source``, else ``default``. Nothing is
    checked (``source_field`` refuses a line with neither or both)."""
    for name in SOURCE_FIELDS:
        if name in manifest_line:
            return manifest_line[name]
    return default


def source_field(manifest_line: Mapping[str, Any], what: str = "manifest line") -> str:
    """Which of ``SOURCE_FIELDS`` the line names its data object by; InputError, naming the line as ``what``, for
    neither or both (with both, pre-labeling read one object and the task record, gold and the review page another)."""
    present = [name for name in SOURCE_FIELDS if name in manifest_line]
    if len(present) == 2:
        raise InputError(f"{what} names its data object twice, by both 'source-ref' and 'source': Ground Truth takes "
                         "one; keep the one that names the object")
    if not present:
        raise InputError(f"{what} has neither 'source-ref' nor 'source' "
                         f"(keys: {', '.join(sorted(map(str, manifest_line)))[:200]})")
    return present[0]


def data_object_of(manifest_line: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dataObject`` Ground Truth puts in the consolidation payload for a manifest line."""
    field = source_field(manifest_line)
    return {"s3Uri": manifest_line[field]} if field == SOURCE_REF else {"content": manifest_line[field]}


def records_location(environ: Mapping[str, str] = os.environ) -> Optional[S3Location]:
    """The records folder from ``TASK_RECORDS_URI``, or None when the function has none."""
    uri = environ.get(RECORDS_ENV, "").strip()
    if not uri:
        return None
    folder = parse_s3_uri(uri if uri.endswith("/") else uri + "/", what=RECORDS_ENV)
    return folder


def job_folder(folder: S3Location, job: str) -> S3Location:
    """The records folder of one labeling job (``job`` "" : the folder itself)."""
    return S3Location(folder.bucket, f"{folder.key}{job}/" if job else folder.key)


def record_location(folder: S3Location, data_object: Mapping[str, Any], job: str = "") -> S3Location:
    digest = hashlib.sha256(json.dumps(data_object, sort_keys=True, ensure_ascii=True).encode()).hexdigest()
    return S3Location(folder.bucket, f"{job_folder(folder, job).key}{digest}.json")


def write_record(s3_client, manifest_line: Mapping[str, Any], record: Mapping[str, Any], job: str = "",
                 environ: Mapping[str, str] = os.environ) -> Optional[S3Location]:
    """Save ``record`` for the data object of ``manifest_line`` in ``job``'s folder (``labeling_job.job_name_of_event``);
    None (nothing written) without a folder, or when the record is empty: nothing to keep."""
    folder = records_location(environ)
    if folder is None or not record:
        return None
    location = record_location(folder, data_object_of(manifest_line), job)
    s3_client.put_object(Bucket=location.bucket, Key=location.key, ContentType="application/json",
                         Body=json.dumps(dict(record), allow_nan=False).encode())
    return location


def read_record(s3_client, data_object: Any, job: str = "",
                environ: Mapping[str, str] = os.environ) -> Optional[dict[str, Any]]:
    """The record pre-labeling wrote for ``data_object`` in ``job``; None when there is none (nothing to keep)
    or it is unusable (logged)."""
    folder = records_location(environ)
    if folder is None or not isinstance(data_object, dict):
        return None
    return _read_at(s3_client, record_location(folder, data_object, job), data_object)


def _read_at(s3_client, location: S3Location, data_object: Any) -> Optional[dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        body = s3_client.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        record = strict_json.loads(body)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in _MISSING_CODES:
            LOG.warning("task record %s for data object %.200s not readable: %s", location.uri, data_object, code)
        return None
    except strict_json.JSONError as error:
        LOG.warning("task record %s is not usable JSON: %.200s", location.uri, error)
        return None
    if not isinstance(record, dict):
        LOG.warning("task record %s is not a JSON object", location.uri)
        return None
    return record


def listed_records(s3_client, folder: S3Location, max_pages: int) -> Optional[set[str]]:
    """The keys directly in ``folder``, or None when they take more than ``max_pages`` pages or the
    listing fails (logged): the caller then reads each object's record instead."""
    keys: set[str] = set()
    arguments = {"Bucket": folder.bucket, "Prefix": folder.key, "Delimiter": "/"}
    try:
        for _ in range(max_pages):
            page = s3_client.list_objects_v2(**arguments)
            keys.update(item["Key"] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return keys
            arguments["ContinuationToken"] = page["NextContinuationToken"]
    except Exception as error:  # noqa: BLE001 - listing only saves requests; reading each record still works
        code = error.response.get("Error", {}).get("Code") if hasattr(error, "response") else type(error).__name__
        LOG.warning("task records folder %s could not be listed (%s); reading each object's record", folder.uri, code)
    return None


def read_records(s3_client, data_objects: Mapping[str, Any], job: str = "",
                 environ: Mapping[str, str] = os.environ) -> dict[str, Optional[dict[str, Any]]]:
    """Per object id, the record of its ``dataObject`` in ``job`` (None when it has none, or it is unusable,
    logged); {} without a records folder. The job's folder is listed first (at most one page per
    ``OBJECTS_PER_LISTED_PAGE`` objects) and only the records it holds are read, several at a time;
    a larger folder means reading each object's record. A record that cannot be read costs only itself."""
    folder = records_location(environ)
    if not data_objects or folder is None:
        return {}
    locations = {object_id: record_location(folder, data_object, job)
                 for object_id, data_object in data_objects.items() if isinstance(data_object, dict)}
    listed = listed_records(s3_client, job_folder(folder, job), math.ceil(len(data_objects) / OBJECTS_PER_LISTED_PAGE))
    wanted = {object_id: location for object_id, location in locations.items()
              if listed is None or location.key in listed}

    def one(object_id: str) -> Optional[dict[str, Any]]:
        try:
            return _read_at(s3_client, wanted[object_id], data_objects[object_id])
        except Exception as error:  # noqa: BLE001 - a record is a check's input; its absence is not fatal
            LOG.warning("task record of data object %.200s not readable: %s: %.300s", data_objects[object_id],
                        type(error).__name__, error)
            return None

    found: dict[str, Optional[dict[str, Any]]] = dict.fromkeys(data_objects)
    if wanted:
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(wanted))) as pool:
            found.update(zip(wanted, pool.map(one, wanted)))
    return found
