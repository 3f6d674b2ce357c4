"""Lambda entry point: turn one welding run's manifest line into the worker task's input.

Event: ``{"version", "labelingJobArn", "dataObject": <the manifest line>}``; the line holds the S3
URI of the run's dataset JSON in ``source`` (the welding convention) or ``source-ref``. The
dataset names the camera image and the sensor CSV. The three plots are written beside the data
under ``$DERIVED_DATA_PREFIX`` (set by the stack; without it the invocation fails), tagged with the CSV's ETag so a retry or a
second job over the same CSV does not render again.

A line's gold answers (``gt_common.gold``: known answers the worker must not see) go into the object's
task record (``gt_common.task_record``; a line without gold has none), never into the task input.

Every unusable input raises ``InputError`` naming the S3 URI at fault (exactly as the manifest or
dataset wrote it) and the problem, before anything is rendered:
- the dataset file: missing, not UTF-8, not JSON, nested too deeply to parse, holding
  ``NaN``/``Infinity`` (or a number too large for a float), not an object, or naming no
  ``image.s3Path`` / ``sensor_data.s3Path``;
- the camera image: missing, empty, not an image a browser shows, or cut short (``gt_common.images``);
- the sensor CSV: missing or breaking a rule of ``sensor_csv`` (named by line and column);
- a rendering failure nobody foresaw is still reported naming the CSV.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from gt_common.configuration import configured_derived_data_prefix
from gt_common.gold import gold_of_line, record_fields
from gt_common.images import check_image
from gt_common.labeling_job import data_object_of_event, job_name_of_event
from gt_common.s3uri import InputError, S3Location, error_code, get_object, parse_s3_uri, read_error, read_object
from gt_common.task_record import source_field, source_of, write_record
from welding_pre_labeling.plots import PLOTS, TITLES, PlotRenderer
from welding_pre_labeling.sensor_csv import parse_sensor_csv

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
ETAG_METADATA = "source-etag"  # S3 user metadata on each plot: the ETag of the CSV it was drawn from
MAX_DATASET_BYTES = 100_000  # a dataset file names two S3 paths: far more is not one (read whole, into memory)
# The largest sensor CSV read, in bytes and in values (rows x columns): parsing and drawing take ~75 bytes of memory
# per value (2,000,000 rows of 4 short values peaked at 614-661 MB, 1,000,000 of 8 at 582 MB; 3,900,000 of 4, a
# 50 MB file, at 1,022-1,217 MB), so a CSV inside both stays inside the function's 1,024 MB. A larger one is
# refused by name and size, not killed for its memory with no word of which CSV it was (a 288 MB CSV took 2.95 GB).
MAX_CSV_BYTES = 50_000_000
MAX_CSV_VALUES = 8_000_000


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3")


@lru_cache(maxsize=1)
def renderer() -> PlotRenderer:
    return PlotRenderer()


@lru_cache(maxsize=1)
def writers() -> ThreadPoolExecutor:
    """Threads that write a run's plots at once (a boto3 client is thread-safe; S3 answers each in parallel)."""
    return ThreadPoolExecutor(max_workers=len(PLOTS), thread_name_prefix="plot-writer")


def dataset_location(data_object: dict[str, Any]) -> S3Location:
    field = source_field(data_object, "dataObject")
    return parse_s3_uri(data_object[field], what=f"dataObject.{field}")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is too large for a float")
    return value


def parse_dataset(body: bytes, location: S3Location) -> dict[str, Any]:
    """The dataset file's JSON object: strict UTF-8 JSON (RFC 8259), nothing a float cannot hold."""
    try:
        text = body.decode("utf-8-sig")  # RFC 8259 lets a parser ignore a leading byte-order mark
    except UnicodeDecodeError as error:
        raise InputError(f"dataset file {location.shown} is not UTF-8 text: {error}") from error
    try:
        dataset = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as error:
        raise InputError(f"dataset file {location.shown} is nested too deeply to parse") from error
    except ValueError as error:
        raise InputError(f"dataset file {location.shown} is not valid JSON: {error}") from error
    if not isinstance(dataset, dict):
        raise InputError(f"dataset file {location.shown} is not a JSON object")
    return dataset


def read_dataset(location: S3Location) -> tuple[S3Location, S3Location]:
    """The image and CSV locations a dataset JSON names."""
    dataset = parse_dataset(read_object(s3_client(), location, what="dataset file", max_bytes=MAX_DATASET_BYTES),
                            location)
    uris = {}
    for key in ("image", "sensor_data"):
        entry = dataset.get(key)
        if not isinstance(entry, dict) or "s3Path" not in entry:
            raise InputError(f"dataset file {location.shown} has no {key}.s3Path")
        uris[key] = parse_s3_uri(entry["s3Path"], what=f"{key}.s3Path in dataset file {location.shown}")
    return uris["image"], uris["sensor_data"]


def _head(location: S3Location, what: str) -> dict[str, Any] | None:
    """HeadObject, or None if the object does not exist."""
    try:
        return s3_client().head_object(Bucket=location.bucket, Key=location.key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise InputError(f"{what} {location.shown} could not be checked: {error.response['Error'].get('Code')}") from error


def plot_locations(csv: S3Location) -> dict[str, S3Location]:
    """Where the CSV's plots go: a folder named by its whole key, so two CSVs never share plots ("run.csv",
    "run.CSV" and "run" once all drew into "run/", and workers saw one run's plots on the others)."""
    prefix = configured_derived_data_prefix()
    return {plot.key: S3Location(csv.bucket, f"{prefix}{csv.key}/{plot.key}.png") for plot in PLOTS}


def _current_source_etag(targets: dict[str, S3Location]) -> str | None:
    """The CSV ETag all the plots were drawn from, or None if any plot is missing or they disagree.

    A missing set costs one request; a set cut short (the plots are written in parallel, so any of
    them may be the one missing) is found by checking every plot before trusting it.
    """
    recorded = None
    for key in reversed(list(targets)):
        head = _head(targets[key], "plot")
        etag = head.get("Metadata", {}).get(ETAG_METADATA) if head else None
        if etag is None or recorded not in (None, etag):
            return None
        recorded = etag
    return recorded


def _read_csv(csv: S3Location, unless_etag: str | None) -> tuple[bytes, str] | None:
    """The CSV's bytes and ETag, or None when its ETag is ``unless_etag`` (one conditional GET)."""
    conditions = {} if unless_etag is None else {"IfNoneMatch": f'"{unless_etag}"'}
    response = get_object(s3_client(), csv, what="sensor CSV", max_bytes=MAX_CSV_BYTES,
                          limit_reason=" that pre-labeling reads (its memory): split or downsample the run",
                          **conditions)
    if response is None:
        return None
    try:
        return response["Body"].read(), response["ETag"].strip('"')
    except ClientError as error:
        raise read_error(error, csv, "sensor CSV") from error


def ensure_plots(csv: S3Location) -> dict[str, tuple[S3Location, str]]:
    """The plots for ``csv``, rendered only when missing or drawn from another version of the CSV.

    The plots' recorded CSV ETag is checked with a conditional GET (If-None-Match) of the CSV: it
    answers "not modified" without a body when they are current, and otherwise returns the CSV
    to render from together with its ETag, so the CSV is never both checked and read.
    """
    targets = plot_locations(csv)
    read = _read_csv(csv, _current_source_etag(targets))
    if read is None:
        LOG.info("plots of %s are current; not rendering again", csv.uri)
        return {key: (targets[key], TITLES[key]) for key in targets}
    body, etag = read
    values = body.count(b",") + body.count(b"\n") + 1  # an upper bound: separators + 1
    if values > MAX_CSV_VALUES:
        raise InputError(f"sensor CSV {csv.shown} holds about {values:,} values (rows x columns), over the "
                         f"{MAX_CSV_VALUES:,} that pre-labeling reads (its memory): split or downsample the run")
    series = parse_sensor_csv(body, csv.shown)
    try:
        rendered = renderer().render(series)
    except Exception as error:  # noqa: BLE001 - the checks above should make this unreachable; name the CSV if not
        LOG.exception("rendering the plots of %s failed", csv.shown)
        raise InputError(f"sensor CSV {csv.shown} could not be plotted ({type(error).__name__}: {error})") from error
    client = s3_client()
    writes = {key: writers().submit(client.put_object, Bucket=targets[key].bucket, Key=targets[key].key, Body=png,
                                    ContentType="image/png", Metadata={ETAG_METADATA: etag})
              for key, (_, png, _) in rendered.items()}
    wait(writes.values())  # every write finished before a failed one is raised: none left running
    for key, write in writes.items():
        write.result()
        LOG.info("wrote %s (%d of %d points drawn)", targets[key].uri, rendered[key][2], len(series))
    return {key: (targets[key], title) for key, (title, _, _) in rendered.items()}


def record_task(data_object: dict[str, Any], job: str) -> None:
    """Record the line's gold answers (``gt_common.gold``) for consolidation; nothing for a line without (or without
    TASK_RECORDS_URI). A failed write is logged: the object is still labeled, as an ordinary one."""
    try:
        location = write_record(s3_client(), data_object, record_fields(data_object), job)
    except ClientError as error:
        LOG.error("could not write the task record of %s: %s", source_of(data_object), error_code(error))
        return
    if location is not None:
        LOG.info("task record %s written", location.uri)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    data_object = data_object_of_event(event)
    dataset = dataset_location(data_object)
    job = job_name_of_event(event)  # the task record's folder (gt_common.task_record)
    gold_of_line(data_object)  # a line's known answers are checked before anything is read
    image, csv = read_dataset(dataset)
    try:
        check_image(s3_client(), image, what="camera image")
    except InputError as error:
        raise InputError(f"{error} (named by dataset file {dataset.shown})") from error
    plots = ensure_plots(csv)
    record_task(event["dataObject"], job)
    task_input = {"image": {"file": image.uri, "title": "Camera image"}}
    task_input.update({key: {"file": location.uri, "title": title} for key, (location, title) in plots.items()})
    return {"taskInput": task_input, "isHumanAnnotationRequired": "true"}
