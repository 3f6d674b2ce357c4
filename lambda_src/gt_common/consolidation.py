"""Reading Ground Truth's consolidation request and shaping its response.

The payload (a JSON list in S3) holds one entry per data object; each annotation's
``annotationData`` is either ``{"content": "<form JSON as a string>"}`` or ``{"s3Uri": ...}``.
Element pages document the form wrapped in a one-item list, the payload shows it bare: both
are accepted. A malformed annotation is skipped and logged; it never drops its object.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .s3uri import InputError, parse_s3_uri, read_object

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerAnswer:
    worker_id: str
    form: dict[str, Any]


@dataclass
class DataObjectAnswers:
    dataset_object_id: str
    data_object: dict[str, Any]
    answers: list[WorkerAnswer] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each unusable annotation was skipped


def load_payload(event: dict[str, Any], s3_client) -> list[dict[str, Any]]:
    """Fetch and parse the payload file named by ``event["payload"]["s3Uri"]``."""
    payload = event.get("payload")
    if not isinstance(payload, dict) or "s3Uri" not in payload:
        raise InputError("consolidation event has no payload.s3Uri")
    location = parse_s3_uri(payload["s3Uri"], what="payload.s3Uri")
    body = read_object(s3_client, location, what="consolidation payload")
    try:
        entries = json.loads(body)
    except ValueError as error:
        raise InputError(f"consolidation payload {location.uri} is not valid JSON: {error}") from error
    if not isinstance(entries, list):
        raise InputError(f"consolidation payload {location.uri} is not a JSON list")
    return entries


def decode_form(annotation_data: Any, s3_client) -> dict[str, Any]:
    """Turn one ``annotationData`` into the submitted form dict (bare or one-item-list shape)."""
    if not isinstance(annotation_data, dict):
        raise InputError("annotationData is not an object")
    if "content" in annotation_data:
        raw = annotation_data["content"]
        where = "annotationData.content"
    elif "s3Uri" in annotation_data:
        location = parse_s3_uri(annotation_data["s3Uri"], what="annotationData.s3Uri")
        # Left as bytes: json.loads decodes them, so a non-UTF-8 file is a ValueError caught
        # below (a skipped annotation) instead of a UnicodeDecodeError that sinks the batch.
        raw = read_object(s3_client, location, what="annotation")
        where = location.uri
    else:
        raise InputError("annotationData has neither content nor s3Uri")
    if isinstance(raw, (str, bytes)):
        try:
            form = json.loads(raw)
        except ValueError as error:
            raise InputError(f"{where} is not valid JSON: {error}") from error
    else:
        form = raw
    if isinstance(form, list) and len(form) == 1:
        form = form[0]
    if not isinstance(form, dict):
        raise InputError(f"{where} is not a JSON object (or a one-item list of one)")
    return form


def read_answers(entries: Iterable[Any], s3_client) -> list[DataObjectAnswers]:
    """Every usable entry of the payload, with its decodable answers; bad annotations are logged."""
    objects: list[DataObjectAnswers] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "datasetObjectId" not in entry:
            LOG.error("payload entry %d has no datasetObjectId; it cannot be answered", index)
            continue
        item = DataObjectAnswers(str(entry["datasetObjectId"]), entry.get("dataObject") or {})
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            annotations = []
            item.skipped.append("annotations is missing or not a list")
        for annotation in annotations:
            worker_id = annotation.get("workerId", "unknown") if isinstance(annotation, dict) else "unknown"
            try:
                if not isinstance(annotation, dict):
                    raise InputError("annotation is not an object")
                form = decode_form(annotation.get("annotationData"), s3_client)
            except InputError as error:
                reason = f"object {item.dataset_object_id}, worker {worker_id}: {error}"
                LOG.warning("skipping annotation: %s", reason)
                item.skipped.append(reason)
                continue
            item.answers.append(WorkerAnswer(str(worker_id), form))
        objects.append(item)
    return objects


def response_entry(dataset_object_id: str, label_attribute_name: str, label: dict[str, Any]) -> dict[str, Any]:
    """One element of the list Ground Truth expects back from consolidation."""
    return {
        "datasetObjectId": dataset_object_id,
        "consolidatedAnnotation": {"content": {label_attribute_name: label}},
    }


def label_attribute_name_of(event: dict[str, Any]) -> str:
    name = event.get("labelAttributeName")
    if not isinstance(name, str) or not name:
        raise InputError("consolidation event has no labelAttributeName")
    return name


def consolidate_batch_event(
    event: dict[str, Any],
    s3_client,
    consolidate_batch: Callable[[list[DataObjectAnswers]], dict[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Read the batch's payload, decide it with ``consolidate_batch``, shape Ground Truth's response.

    ``consolidate_batch`` gets every object of the batch at once (so a worker model can weigh
    workers across objects) and returns ``{datasetObjectId: label}``; an object it leaves out
    is logged, the others are answered.
    """
    label_attribute_name = label_attribute_name_of(event)
    items = read_answers(load_payload(event, s3_client), s3_client)
    labels = consolidate_batch(items)
    response = []
    for item in items:
        if item.dataset_object_id not in labels:
            LOG.error("object %s got no consolidated label", item.dataset_object_id)
            continue
        response.append(response_entry(item.dataset_object_id, label_attribute_name, labels[item.dataset_object_id]))
    return response
