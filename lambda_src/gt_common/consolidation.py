"""Reading Ground Truth's consolidation request and shaping its response.

The payload (a JSON list in S3) holds one entry per data object; each annotation's
``annotationData`` is either ``{"content": "<form JSON as a string>"}`` or ``{"s3Uri": ...}``.
Element pages document the form wrapped in a one-item list, the payload shows it bare: both
are accepted.

Rules every consolidation function gets from here, so no workflow has to repeat them:

- **One bad answer never sinks the batch.** Any error reading one annotation (malformed or
  non-UTF-8 JSON, ``NaN``/``Infinity``, numbers out of range, nesting deeper than
  ``strict_json.MAX_DEPTH``, wrong types, an unreadable S3 object, or anything unexpected) skips
  that annotation and logs it with its object and worker. ``read_each`` gives a workflow's own
  reading of each form the same guarantee.
- **One answer per worker per object.** A worker listed more than once for an object counts once,
  with their *latest* answer. The payload carries no submission time, so the latest is the last
  annotation of that worker in payload order (across every entry of the object, see below); the
  earlier ones are logged as superseded and never read, even when the latest turns out unusable.
  ``DataObjectAnswers`` holds at most one answer per worker whichever way it is built.
- **One response entry per object.** Entries repeating a ``datasetObjectId`` are merged into one
  object (annotations in payload order, the first entry's ``dataObject``), answered once.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

from . import strict_json
from .s3uri import InputError, parse_s3_uri, read_object

LOG = logging.getLogger(__name__)
T = TypeVar("T")
NO_WORKER = "(none)"  # names the worker in a log line about an annotation that has no usable workerId
# A worker's form is a few kilobytes (a NER answer with 10,000 spans is under 1 MB); an answer file
# far larger is skipped unread rather than read into the function's memory.
MAX_ANSWER_FILE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class WorkerAnswer:
    worker_id: str
    form: dict[str, Any]


@dataclass
class DataObjectAnswers:
    """One data object of the batch; ``answers`` holds at most one answer per worker (the last given)."""

    dataset_object_id: str
    data_object: dict[str, Any]
    answers: list[WorkerAnswer] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each unusable annotation was skipped

    def __post_init__(self) -> None:
        latest = {answer.worker_id: index for index, answer in enumerate(self.answers)}
        if len(latest) != len(self.answers):
            for index, answer in enumerate(self.answers):
                if latest[answer.worker_id] != index:
                    self.skip(answer.worker_id, "superseded by the same worker's later answer")
            self.answers = [answer for index, answer in enumerate(self.answers)
                            if latest[answer.worker_id] == index]

    def skip(self, worker_id: str, problem: str) -> None:
        """Record (and log) that a worker's answer, or part of it, is not used, and why."""
        reason = f"object {self.dataset_object_id}, worker {worker_id}: {problem}"
        LOG.warning("skipping annotation: %s", reason)
        self.skipped.append(reason)


def describe(error: BaseException) -> str:
    """A short, log-safe description of why reading something failed."""
    if isinstance(error, InputError):
        return str(error)[:500]
    return f"{type(error).__name__}: {str(error)[:300]}"


def load_payload(event: dict[str, Any], s3_client) -> list[Any]:
    """Fetch and parse the payload file named by ``event["payload"]["s3Uri"]``.

    The payload is Ground Truth's, not a worker's: it is parsed as Python does (a worker's form
    given inline as an object is checked strictly later, in ``decode_form``); only a payload that
    cannot be read at all fails the batch.
    """
    payload = event.get("payload")
    if not isinstance(payload, dict) or "s3Uri" not in payload:
        raise InputError("consolidation event has no payload.s3Uri")
    location = parse_s3_uri(payload["s3Uri"], what="payload.s3Uri")
    body = read_object(s3_client, location, what="consolidation payload")
    try:
        entries = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InputError(f"consolidation payload {location.uri} is not valid JSON: {describe(error)}") from error
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
        raw = read_object(s3_client, location, what="annotation", max_bytes=MAX_ANSWER_FILE_BYTES)
        where = location.uri
    else:
        raise InputError("annotationData has neither content nor s3Uri")
    try:
        if isinstance(raw, (str, bytes)):
            form = strict_json.loads(raw)
        else:  # already parsed into the payload: the same rules apply
            strict_json.check(raw)
            form = raw
    except strict_json.JSONError as error:
        raise InputError(f"{where} {error}") from None
    if isinstance(form, list) and len(form) == 1:
        form = form[0]
    if not isinstance(form, dict):
        raise InputError(f"{where} is not a JSON object (or a one-item list of one)")
    return form


def _object_id(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    value = entry.get("datasetObjectId")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _worker_id(annotation: Any) -> str | None:
    value = annotation.get("workerId") if isinstance(annotation, dict) else None
    return value if isinstance(value, str) and value else None


@dataclass
class _Entry:
    """One object's annotations gathered from every payload entry that names it, in payload order."""

    data_object: dict[str, Any]
    annotations: list[tuple[str | None, Any]] = field(default_factory=list)  # (worker id, annotation)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (worker, problem) found while gathering


def _gather(entries: Iterable[Any]) -> dict[str, _Entry]:
    gathered: dict[str, _Entry] = {}
    for index, entry in enumerate(entries):
        object_id = _object_id(entry)
        if object_id is None:
            LOG.error("payload entry %d has no usable datasetObjectId; it cannot be answered", index)
            continue
        data_object = entry.get("dataObject")
        if not isinstance(data_object, dict):
            data_object = {}
        item = gathered.get(object_id)
        if item is None:
            item = gathered[object_id] = _Entry(data_object)
        else:
            LOG.warning("payload entry %d repeats object %s: its annotations are merged into the object's%s",
                        index, object_id, "" if data_object == item.data_object
                        else " (its dataObject differs; the first entry's is kept)")
        annotations = entry.get("annotations")
        if isinstance(annotations, list):
            item.annotations.extend((_worker_id(annotation), annotation) for annotation in annotations)
        else:
            item.problems.append((NO_WORKER, f"payload entry {index}: annotations is missing or not a list"))
    return gathered


def _latest_per_worker(item: _Entry) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Each worker's last annotation in payload order, and (worker, problem) for the rest."""
    problems = list(item.problems)
    last = {worker_id: position for position, (worker_id, _) in enumerate(item.annotations)}
    kept = []
    for position, (worker_id, annotation) in enumerate(item.annotations):
        if worker_id is None:
            problems.append((NO_WORKER, f"annotation {position} has no workerId (a non-empty string)"))
        elif last[worker_id] == position:
            kept.append((worker_id, annotation))
        else:
            problems.append((worker_id, f"annotation {position} is superseded by the same worker's "
                                        f"later annotation {last[worker_id]} (the last in payload order counts)"))
    return kept, problems


def read_answers(entries: Iterable[Any], s3_client) -> list[DataObjectAnswers]:
    """One ``DataObjectAnswers`` per object of the payload (first-appearance order), with each
    worker's latest readable answer; every annotation not used is logged and listed in ``skipped``."""
    objects: list[DataObjectAnswers] = []
    for object_id, item in _gather(entries).items():
        answers = DataObjectAnswers(object_id, item.data_object)
        kept, problems = _latest_per_worker(item)
        for worker_id, problem in problems:
            answers.skip(worker_id, problem)
        for worker_id, annotation in kept:
            try:
                form = decode_form(annotation.get("annotationData"), s3_client)
            except Exception as error:  # noqa: BLE001 - whatever one answer does, only it is lost
                answers.skip(worker_id, describe(error))
                continue
            answers.answers.append(WorkerAnswer(worker_id, form))
        objects.append(answers)
    return objects


def read_each(item: DataObjectAnswers, read: Callable[[WorkerAnswer], T]) -> list[tuple[WorkerAnswer, T]]:
    """``read`` applied to each of the object's answers; an answer it fails on (any exception)
    is skipped and logged with its object and worker, the others are kept."""
    results = []
    for answer in item.answers:
        try:
            results.append((answer, read(answer)))
        except Exception as error:  # noqa: BLE001 - one worker's form never fails the batch
            item.skip(answer.worker_id, describe(error))
    return results


def response_entry(dataset_object_id: str, label_attribute_name: str, label: dict[str, Any]) -> dict[str, Any]:
    """One element of the list Ground Truth expects back from consolidation."""
    return {
        "datasetObjectId": dataset_object_id,
        "consolidatedAnnotation": {"content": {label_attribute_name: label}},
    }


def workers_per_object(event: dict[str, Any]) -> int | None:
    """The job's workers per data object, the event's ``maxHumanWorkersPerDataObject``: the bound
    of how many answers an object can have. None (logged) when the event has no positive integer."""
    value = event.get("maxHumanWorkersPerDataObject")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        LOG.warning("consolidation event has no usable maxHumanWorkersPerDataObject (%.40r)", value)
        return None
    return value


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
    is logged, the others are answered. The response has exactly one entry per object.
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
