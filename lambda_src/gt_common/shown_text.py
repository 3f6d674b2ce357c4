"""How long each object's text was when pre-labeling showed it to the workers.

The offsets of a ``Spans`` answer are checked against it. Ground Truth's payload names only each
object's source, so pre-labeling writes a task record per data object (``gt_common.task_record``:
``{"textLength": <code points of the text as shown>}``), read here once per object per batch,
several at a time (a batch can hold thousands of objects). Without a usable record
(``TASK_RECORDS_URI`` unset, no record, an unreadable one, or no sound ``textLength``) offsets are
bounded by ``MAX_TEXT_BYTES``, the longest text pre-labeling lets through, and the log says so.
"""
from __future__ import annotations

import logging
import os
import re
import unicodedata
from typing import Any, Mapping, Optional

from .configuration import ConfigurationError
from .limits import MAX_TEXT_BYTES
from .s3uri import InputError
from .task_record import RECORDS_ENV, read_records, records_location

LOG = logging.getLogger(__name__)
#: The key of a NER manifest line that holds the S3 URI of the text shown to workers (pre-labeling reads it; text
#: extraction and the sample data's generator write it).
TEXT_FILE_KEY = "text-file-s3-uri"
TEXT_LENGTH_FIELD = "textLength"  # the key pre-labeling writes
# Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make a page show characters in another
# order than the text holds them (a "Trojan Source" trick). The marks U+200E/U+200F only hint a direction; allowed.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def is_visible(character: str) -> bool:
    """Whether a character shows: not a space (Z*), control (Cc) or format character (Cf: zero-width, marks). A
    text with none is refused by NER pre-labeling (workers would see an empty text), and by text extraction first."""
    return not character.isspace() and unicodedata.category(character) not in ("Cc", "Cf", "Zs", "Zl", "Zp")


def text_length_of(record: Optional[Mapping[str, Any]]) -> Optional[int]:
    """The record's text length, or None when it has no sound one (an integer in [0, MAX_TEXT_BYTES])."""
    value = record.get(TEXT_LENGTH_FIELD) if isinstance(record, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TEXT_BYTES:
        return None
    return value


def text_lengths(answered: Mapping[str, Any], s3_client, environ: Mapping[str, str] = os.environ,
                 records: Optional[Mapping[str, Optional[Mapping[str, Any]]]] = None, job: str = "") -> dict[str, int]:
    """Per object with answers (``answered``: ``{object id: dataObject}``), the code points its spans
    must end within. ``records``: the objects' task records already read (``task_record.read_records``),
    else they are read here (``job``'s)."""
    try:
        folder = records_location(environ)
    except InputError as error:  # the deployment's setting, not a worker's answer: fail loudly
        raise ConfigurationError(str(error)) from error
    if folder is None or s3_client is None:
        if answered:
            LOG.warning("%s is not set: span offsets of %d objects are bounded by MAX_TEXT_BYTES (%d code points) "
                        "only", RECORDS_ENV, len(answered), MAX_TEXT_BYTES)
        return {object_id: MAX_TEXT_BYTES for object_id in answered}
    if not answered:
        return {}
    if records is None:
        records = read_records(s3_client, dict(answered), job, environ)
    lengths = {}
    for object_id in answered:
        found = text_length_of(records.get(object_id))
        if found is None:
            LOG.warning("object %s: no task record with a usable %s; span offsets are bounded by MAX_TEXT_BYTES "
                        "(%d code points)", object_id, TEXT_LENGTH_FIELD, MAX_TEXT_BYTES)
            found = MAX_TEXT_BYTES
        lengths[object_id] = found
    return lengths
