"""Lambda entry point: turn one abstract's manifest line into the worker task's input.

Event: ``{"version", "labelingJobArn", "dataObject": <the manifest line>}``; the line holds

- ``source-ref`` (or ``source``, as the welding sample names its object; never both): the S3 URI of the
  paper's rendered first page (shown beside the text);
- ``text-file-s3-uri``: the S3 URI of the abstract as UTF-8 text;
- ``metadata`` (optional): an object such as ``{"Title", "Author", "ISBN"}``, its values text or numbers.

Response: ``{"taskInput": {"taskObject": <source-ref>, "text": <the abstract, as shown>,
"metadata": {**metadata, "text_file_s3_uri": <uri>}}, "isHumanAnnotationRequired": "true"}``.

The text is returned exactly as the worker's page will hold it, so that span offsets (Unicode
code points, end exclusive) are offsets into ``taskInput.text``. The worker template passes the
text to the page in an autoescaped HTML attribute, and an HTML parser rewrites two things there:
it turns every CR LF and lone CR into LF, and U+0000 into U+FFFD. So the text is normalised here
first (``shown_text``): line endings become LF and a leading byte-order mark is dropped; a NUL
character is refused (it means the file is binary or UTF-16, not UTF-8 text), and so is a
bidirectional control character, which would show workers the text in another order than its offsets. The length of the
shown text, in code points, is recorded for consolidation (``gt_common.task_record``) when the
function has ``TASK_RECORDS_URI``.

The text file is read whole, so its size is bounded by ``gt_common.limits.MAX_TEXT_BYTES``,
checked against the object's ContentLength before the body is read. The page image must exist
and be a whole image a browser shows (``gt_common.images``; ranged GETs of its first and last bytes).
A line's gold answers (``gt_common.gold``: known answers the worker must not see) go into the task
record, never into the task input. Every unusable input raises ``InputError`` naming the key or the S3 URI at fault (as the manifest
wrote it) and the problem.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from gt_common.gold import gold_of_line, record_fields
from gt_common.images import check_image
from gt_common.labeling_job import data_object_of_event, job_name_of_event
from gt_common.limits import MAX_TEXT_BYTES
from gt_common.s3uri import InputError, S3Location, error_code, parse_s3_uri, read_object
from gt_common.shown_text import BIDI_CONTROLS, TEXT_FILE_KEY, TEXT_LENGTH_FIELD, is_visible
from gt_common.task_record import source_field, write_record

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
BYTE_ORDER_MARK = "\ufeff"


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3")


def _required(data_object: dict[str, Any], key: str) -> Any:
    if key not in data_object:
        raise InputError(f"dataObject has no '{key}' (keys: {sorted(data_object)})")
    if data_object[key] in (None, ""):
        raise InputError(f"dataObject's '{key}' is {json.dumps(data_object[key])}: give the S3 URI it names")
    return data_object[key]


def shown_text(text: str, location: S3Location) -> str:
    """``text`` as the worker's page holds it: LF line endings, no leading byte-order mark.

    Raises InputError (naming the file, line and column) for a NUL character, which HTML parsing
    would replace, for a bidirectional control (``BIDI_CONTROLS``), and for a text with nothing to tag.
    """
    nul = text.find("\0")
    if nul >= 0:
        raise InputError(f"abstract text file {location.shown} holds a NUL character ({_line_and_column(text, nul)}): "
                         "it is binary or UTF-16, not UTF-8 text")
    text = text.removeprefix(BYTE_ORDER_MARK).replace("\r\n", "\n").replace("\r", "\n")
    control = BIDI_CONTROLS.search(text)
    if control:
        character = control.group()
        raise InputError(f"abstract text file {location.shown} holds U+{ord(character):04X} "
                         f"{unicodedata.name(character)} ({_line_and_column(text, control.start())}): a bidirectional "
                         "control reorders how the text is shown, so the spans workers mark would not be the words "
                         "they see; remove it")
    if not text.strip():
        raise InputError(f"abstract text file {location.shown} holds no text")
    if not any(is_visible(character) for character in text):
        raise InputError(f"abstract text file {location.shown} holds no visible text, only spaces and invisible "
                         "characters (such as U+200B ZERO WIDTH SPACE): workers would see an empty text")
    return text


def _line_and_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def read_text(uri: str) -> str:
    """The abstract, as the worker will be shown it (``shown_text``)."""
    location = parse_s3_uri(uri, what=f"dataObject.{TEXT_FILE_KEY}")
    body = read_object(s3_client(), location, what="abstract text file", max_bytes=MAX_TEXT_BYTES)
    if len(body) > MAX_TEXT_BYTES:  # ContentLength missing or wrong: check what was actually read
        raise InputError(f"abstract text file {location.shown} is {len(body):,} bytes, "
                         f"over the {MAX_TEXT_BYTES:,}-byte limit")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"abstract text file {location.shown} is not UTF-8 text: {error}") from error
    return shown_text(text, location)


def record_shown_text(data_object: dict[str, Any], text: str, job: str) -> None:
    """Record the shown text's length, and the line's gold answers (``gt_common.gold``), for consolidation
    (nothing without TASK_RECORDS_URI).

    A failed write is logged, not raised: the record only lets consolidation check offsets
    against this text's length instead of the general limit, and losing the object from the job
    would cost more than that looser check.
    """
    try:
        record = {TEXT_LENGTH_FIELD: len(text), **record_fields(data_object)}
        location = write_record(s3_client(), data_object, record, job)
    except ClientError as error:
        LOG.error("could not write the task record of %s: %s", data_object.get(TEXT_FILE_KEY), error_code(error))
        return
    if location is not None:
        LOG.info("task record %s: %s %d", location.uri, TEXT_LENGTH_FIELD, len(text))


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    data_object = data_object_of_event(event)
    job = job_name_of_event(event)  # the task record's folder (gt_common.task_record)
    image_key = source_field(data_object, "dataObject")  # the page image: source-ref, or source as Ground Truth allows
    image_uri = _required(data_object, image_key)
    image = parse_s3_uri(image_uri, what=f"dataObject.{image_key}")
    text_uri = _required(data_object, TEXT_FILE_KEY)
    gold_of_line(data_object)  # a line's known answers are checked before anything is read
    metadata = data_object.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise InputError(f"dataObject.metadata is a {type(metadata).__name__}, not an object")
    for key, value in metadata.items():  # shown on the page as they are: a list or object would show as code
        if isinstance(value, (list, dict)):
            raise InputError(f"dataObject.metadata.{key} is a{'n object' if isinstance(value, dict) else ' list'}: "
                             "give text or a number, which the page shows")
    text = read_text(text_uri)
    check_image(s3_client(), image, what="page image")
    record_shown_text(data_object, text, job)
    LOG.info("abstract %s: %d characters", text_uri, len(text))
    return {
        "taskInput": {
            "taskObject": image_uri,
            "text": text,
            "metadata": {**metadata, "text_file_s3_uri": text_uri},
        },
        "isHumanAnnotationRequired": "true",
    }
