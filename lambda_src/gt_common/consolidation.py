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

How, at Ground Truth's limit (100,000 objects x 9 workers in one batch): the payload is parsed entry
by entry (``payload_entries``: the whole list's Python objects would take gigabytes), each
annotation kept as three integers (object, worker, source), and each distinct
``annotationData.content`` text decoded once, only when a worker's latest answer uses it
(``read_batch``, ``BatchAnswers``): the answers of a classification hold as many distinct texts as
it has labels. Every answer is still judged: a bad text is skipped, and logged, for each answer that
sent it.
"""
from __future__ import annotations

import gc
import json
import logging
import re
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TypeVar


from . import strict_json
from .limits import MAX_ANSWER_FILE_BYTES
from .s3uri import InputError, parse_s3_uri, read_object

LOG = logging.getLogger(__name__)
T = TypeVar("T")
NO_WORKER = "(none)"  # names the worker in a log line about an annotation that has no usable workerId


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


_WHITESPACE = re.compile(r"[ \t\n\r]*")
#: The payload is Ground Truth's, not a worker's: parsed as Python's json module parses it.
_PAYLOAD_DECODER = json.JSONDecoder()


def payload_text(event: dict[str, Any], s3_client) -> tuple[str, str]:
    """``(the payload file's text, its URI)``: the file named by ``event["payload"]["s3Uri"]``,
    decoded as ``json.loads`` decodes bytes (UTF-8, or UTF-16/32 by JSON's detection)."""
    location = parse_s3_uri(checked_event(event)["payload"]["s3Uri"], what="payload.s3Uri")
    body = read_object(s3_client, location, what="consolidation payload")
    try:
        return body.decode(json.detect_encoding(body), "surrogatepass"), location.uri
    except UnicodeDecodeError as error:
        raise InputError(f"consolidation payload {location.uri} is not valid JSON: {describe(error)}") from error


def payload_entries(text: str, uri: str = "payload") -> Iterator[Any]:
    """The payload's entries one at a time, parsed as ``json.loads`` parses the whole list.

    Parsing entry by entry keeps one entry's objects in memory at a time instead of the whole
    payload's (100,000 objects x 9 answers hold 2 GB of them). A text that is not JSON, or not a
    list, raises InputError naming ``uri`` once the entries before the fault were given: a caller
    that consumes every entry before answering (``read_batch``) answers nothing from it.
    """
    def invalid(message: str, position: int) -> InputError:
        error = json.JSONDecodeError(message, text, position)
        return InputError(f"consolidation payload {uri} is not valid JSON: {describe(error)}")

    position = _WHITESPACE.match(text, 0).end()
    if text[position:position + 1] != "[":
        try:
            json.loads(text)
        except (ValueError, RecursionError) as error:
            raise InputError(f"consolidation payload {uri} is not valid JSON: {describe(error)}") from error
        raise InputError(f"consolidation payload {uri} is not a JSON list")
    position = _WHITESPACE.match(text, position + 1).end()
    if text[position:position + 1] == "]":
        position = _WHITESPACE.match(text, position + 1).end()
        if position != len(text):
            raise invalid("Extra data", position)
        return
    while True:
        try:
            entry, position = _PAYLOAD_DECODER.raw_decode(text, position)
        except (ValueError, RecursionError) as error:
            raise InputError(f"consolidation payload {uri} is not valid JSON: {describe(error)}") from None
        yield entry
        position = _WHITESPACE.match(text, position).end()
        separator = text[position:position + 1]
        if separator == ",":
            position = _WHITESPACE.match(text, position + 1).end()
        elif separator == "]":
            position = _WHITESPACE.match(text, position + 1).end()
            if position != len(text):
                raise invalid("Extra data", position)
            return
        else:
            raise invalid("Expecting ',' delimiter", position)


def _form_of(raw: Any, where: str) -> dict[str, Any]:
    """A worker's form from its JSON text (or the value already parsed into the payload), checked strictly."""
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


def decode_form(annotation_data: Any, s3_client) -> dict[str, Any]:
    """Turn one ``annotationData`` into the submitted form dict (bare or one-item-list shape)."""
    if not isinstance(annotation_data, dict):
        raise InputError("annotationData is not an object")
    if "content" in annotation_data:
        return _form_of(annotation_data["content"], "annotationData.content")
    if "s3Uri" in annotation_data:
        location = parse_s3_uri(annotation_data["s3Uri"], what="annotationData.s3Uri")
        raw = read_object(s3_client, location, what="annotation", max_bytes=MAX_ANSWER_FILE_BYTES)
        return _form_of(raw, location.uri)
    raise InputError("annotationData has neither content nor s3Uri")


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


def _latest_per_worker(annotations: list[tuple[str | None, Any]], problems: list[tuple[str, str]]
                       ) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Each worker's last annotation in payload order, and (worker, problem) for the rest
    (after ``problems``, those found while gathering)."""
    problems = list(problems)
    last = {worker_id: position for position, (worker_id, _) in enumerate(annotations)}
    kept = []
    for position, (worker_id, annotation) in enumerate(annotations):
        if worker_id is None:
            problems.append((NO_WORKER, f"annotation {position} has no workerId (a non-empty string)"))
        elif last[worker_id] == position:
            kept.append((worker_id, annotation))
        else:
            problems.append((worker_id, f"annotation {position} is superseded by the same worker's "
                                        f"later annotation {last[worker_id]} (the last in payload order counts)"))
    return kept, problems


class BatchAnswers:
    """A batch's answers, compactly: one row per kept answer in three integer arrays (its object, its
    worker, its form: ``array('q')``, 8 bytes each), each distinct form decoded once.

    A batch of 100,000 objects x 9 workers holds 900,000 answers but only a handful of distinct
    forms (a classification has as many as it has labels): a form is a shared, read-only dict, and an
    answer costs three integers instead of a dict per answer. Answers are in the order of
    ``read_answers``: objects in first-appearance order, each object's answers in payload order of
    each worker's latest annotation. ``items()`` gives the same batch as ``DataObjectAnswers``.
    (Plain Python: a function without numpy, expert review's, reads its payload through it.)
    """

    def __init__(self, object_ids: list[str], data_objects: list[dict[str, Any]], worker_ids: list[str],
                 forms: list[dict[str, Any]], objects: array, workers: array, form_of: array,
                 skipped: Optional[list[list[str]]] = None, items: Optional[Sequence[DataObjectAnswers]] = None):
        self.object_ids, self.data_objects = object_ids, data_objects
        self.worker_ids, self.forms = worker_ids, forms
        self.objects, self.workers, self.form_of = objects, workers, form_of
        self.skipped = skipped if skipped is not None else [[] for _ in object_ids]  # per object, as DataObjectAnswers
        self._items = items

    def __len__(self) -> int:
        return len(self.object_ids)

    def skip(self, obj: int, worker_id: str, problem: str) -> None:
        """Record (and log) that a worker's answer on object ``obj`` (an index), or part of it, is not used."""
        if self._items is not None:
            self._items[obj].skip(worker_id, problem)
            return
        reason = f"object {self.object_ids[obj]}, worker {worker_id}: {problem}"
        LOG.warning("skipping annotation: %s", reason)
        self.skipped[obj].append(reason)

    def items(self) -> list[DataObjectAnswers]:
        """The batch as one ``DataObjectAnswers`` per object (forms shared, not copied)."""
        if self._items is not None:
            return list(self._items)
        answers: list[list[WorkerAnswer]] = [[] for _ in self.object_ids]
        for obj, worker, form in zip(self.objects, self.workers, self.form_of):
            answers[obj].append(WorkerAnswer(self.worker_ids[worker], self.forms[form]))
        return [DataObjectAnswers(object_id, data_object, kept, skipped) for object_id, data_object, kept, skipped
                in zip(self.object_ids, self.data_objects, answers, self.skipped)]

    @classmethod
    def from_items(cls, items: Sequence[DataObjectAnswers]) -> "BatchAnswers":
        """The answers of ``items`` (skips are recorded on the items themselves)."""
        worker_index: dict[str, int] = {}
        form_index: dict[int, int] = {}
        forms: list[dict[str, Any]] = []
        objects, workers, form_of = array("q"), array("q"), array("q")
        for obj, item in enumerate(items):
            for answer in item.answers:
                objects.append(obj)
                workers.append(worker_index.setdefault(answer.worker_id, len(worker_index)))
                form = form_index.get(id(answer.form))
                if form is None:
                    form = form_index[id(answer.form)] = len(forms)
                    forms.append(answer.form)
                form_of.append(form)
        return cls([item.dataset_object_id for item in items], [item.data_object for item in items],
                   list(worker_index), forms, objects, workers, form_of, [item.skipped for item in items], list(items))


class _Reader:
    """``read_batch``'s state while the payload streams by: per annotation three integers (object,
    worker, source), where a source is a distinct ``annotationData.content`` text (decoded later, once,
    and only when some worker's latest answer uses it) or any other ``annotationData`` as it came.

    An object is *plain* when it has one entry whose annotations each name a worker, no worker twice:
    every annotation of it counts, in payload order. The others (rare) are sorted out at the end.
    """

    def __init__(self) -> None:
        self.object_index: dict[str, int] = {}
        self.data_objects: list[dict[str, Any]] = []
        self.worker_index: dict[str, int] = {}
        self.sources: list[Any] = []
        self.texts: dict[str, int] = {}  # a content text -> its source index
        self.objects, self.workers, self.source_of = array("q"), array("q"), array("q")
        self.ranges: dict[int, list[range]] = {}  # per object not plain, the rows of each of its entries
        self.problems: dict[int, list[tuple[str, str]]] = {}  # per object, found while gathering
        self.first_rows: list[range] = []  # per object, the rows of its first entry

    def add(self, index: int, entry: Any) -> None:
        object_id = _object_id(entry)
        if object_id is None:
            LOG.error("payload entry %d has no usable datasetObjectId; it cannot be answered", index)
            return
        data_object = entry.get("dataObject")
        if not isinstance(data_object, dict):
            data_object = {}
        start = len(self.objects)
        obj = self.object_index.get(object_id)
        if obj is None:
            obj = self.object_index[object_id] = len(self.data_objects)
            self.data_objects.append(data_object)
            self.first_rows.append(range(start, start))
        else:
            LOG.warning("payload entry %d repeats object %s: its annotations are merged into the object's%s",
                        index, object_id, "" if data_object == self.data_objects[obj]
                        else " (its dataObject differs; the first entry's is kept)")
            self.ranges.setdefault(obj, [self.first_rows[obj]])
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            self.problems.setdefault(obj, []).append(
                (NO_WORKER, f"payload entry {index}: annotations is missing or not a list"))
            self.ranges.setdefault(obj, [self.first_rows[obj]])
            return
        worker_index, texts = self.worker_index, self.texts
        plain = True
        for annotation in annotations:  # the common shape first: a worker id and a content text
            try:
                worker_id, text = annotation["workerId"], annotation["annotationData"]["content"]
            except (TypeError, KeyError, IndexError):
                worker_id = text = None
            if type(worker_id) is str and worker_id and type(text) is str:
                worker = worker_index.get(worker_id)
                if worker is None:
                    worker = worker_index[worker_id] = len(worker_index)
                source = texts.get(text)
                if source is None:
                    source = texts[text] = len(self.sources)
                    self.sources.append(text)
            else:
                worker_id = _worker_id(annotation)
                worker = -1 if worker_id is None else worker_index.setdefault(worker_id, len(worker_index))
                plain = plain and worker >= 0
                source = self._source(annotation)
            self.objects.append(obj)
            self.workers.append(worker)
            self.source_of.append(source)
        rows = range(start, len(self.objects))
        if plain and len(set(self.workers[start:])) != len(rows):
            plain = False  # a worker listed twice
        if obj in self.ranges:
            self.ranges[obj].append(rows)
        elif plain:
            self.first_rows[obj] = rows
        else:
            self.first_rows[obj] = rows
            self.ranges[obj] = [rows]

    def _source(self, annotation: Any) -> int:
        data = annotation.get("annotationData") if isinstance(annotation, dict) else None
        text = data.get("content") if isinstance(data, dict) else None
        if isinstance(text, str):
            source = self.texts.get(text)
            if source is None:
                source = self.texts[text] = len(self.sources)
                self.sources.append(text)
            return source
        self.sources.append(_AnnotationData(data) if isinstance(annotation, dict) else _NOT_AN_ANNOTATION)
        return len(self.sources) - 1


@dataclass(frozen=True)
class _AnnotationData:
    value: Any  # an annotationData other than a content text: read as it is, answer by answer


_NOT_AN_ANNOTATION = object()  # an annotation that is not an object: it has no worker, so it is never read


def read_batch(entries: Iterable[Any], s3_client) -> BatchAnswers:
    """Every object of the payload (first-appearance order) with each worker's latest readable
    answer, as ``BatchAnswers``; every annotation not used is logged and listed in ``skipped``.

    The same rules as ``read_answers`` (it is this, as ``DataObjectAnswers``), with each distinct
    ``annotationData.content`` text decoded once however many answers share it.
    """
    reader = _Reader()
    for index, entry in enumerate(entries):
        reader.add(index, entry)
    object_ids = list(reader.object_index)
    worker_ids = list(reader.worker_index)
    objects, workers, sources = reader.objects, reader.workers, reader.source_of
    problems: dict[int, list[tuple[str, str]]] = {}
    if reader.ranges:  # some objects are not plain: each worker's latest annotation of each, rows in object order
        kept: list[int] = []
        for obj, rows in enumerate(reader.first_rows):
            if obj not in reader.ranges:
                kept.extend(rows)
                continue
            annotations = [(None if workers[row] < 0 else worker_ids[workers[row]], row)
                           for part in reader.ranges[obj] for row in part]
            latest, found = _latest_per_worker(annotations, reader.problems.get(obj, []))
            kept.extend(row for _, row in latest)
            if found:
                problems[obj] = found
        objects = array("q", (objects[row] for row in kept))
        workers = array("q", (workers[row] for row in kept))
        sources = array("q", (sources[row] for row in kept))
    del reader.texts

    # Each source a kept answer uses, decoded once.
    failed: dict[int, str] = {}  # a source that is no form -> why
    form_of_source = [-1] * len(reader.sources)
    forms: list[dict[str, Any]] = []
    for source in sorted(set(sources)):
        value = reader.sources[source]
        try:
            form = (_form_of(value, "annotationData.content") if isinstance(value, str)
                    else decode_form(value.value, s3_client))
        except Exception as error:  # noqa: BLE001 - whatever one answer does, only it is lost
            failed[source] = describe(error)
            continue
        form_of_source[source] = len(forms)
        forms.append(form)
    del reader.sources
    form_of = array("q", map(form_of_source.__getitem__, sources))
    if failed:  # answers whose form could not be read, each logged; the others kept
        for row, source in enumerate(sources):
            if source in failed:
                problems.setdefault(objects[row], []).append((worker_ids[workers[row]], failed[source]))
        rows = [row for row, form in enumerate(form_of) if form >= 0]
        objects = array("q", (objects[row] for row in rows))
        workers = array("q", (workers[row] for row in rows))
        form_of = array("q", (form_of[row] for row in rows))
    batch = BatchAnswers(object_ids, reader.data_objects, worker_ids, forms, objects, workers, form_of)
    for obj in sorted(problems):
        for worker_id, problem in problems[obj]:
            batch.skip(obj, worker_id, problem)
    return batch


def read_answers(entries: Iterable[Any], s3_client) -> list[DataObjectAnswers]:
    """One ``DataObjectAnswers`` per object of the payload (first-appearance order), with each
    worker's latest readable answer; every annotation not used is logged and listed in ``skipped``
    (``read_batch``, as one object per data object)."""
    return read_batch(entries, s3_client).items()


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


def checked_event(event: Any) -> dict[str, Any]:
    """``event`` if it is shaped as Ground Truth's consolidation event (an object whose ``payload`` names its
    ``s3Uri``); an InputError saying what it is otherwise (a list or a string payload failed as AttributeError deep
    inside)."""
    if not isinstance(event, dict):
        raise InputError(f"a consolidation event is a JSON object, not {type(event).__name__}")
    payload = event.get("payload")
    if not isinstance(payload, dict) or "s3Uri" not in payload:
        raise InputError("consolidation event has no payload.s3Uri")
    return event


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
    return consolidate_answers_event(event, s3_client, lambda batch: consolidate_batch(batch.items()))


def consolidate_answers_event(
    event: dict[str, Any],
    s3_client,
    consolidate_batch: Callable[[BatchAnswers], dict[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """``consolidate_batch_event`` with the batch given as ``BatchAnswers`` (compact: what the generic
    consolidation reads a batch of 100,000 objects with)."""
    label_attribute_name = label_attribute_name_of(checked_event(event))
    with cycle_collection_paused():
        batch = read_batch(payload_entries(*payload_text(event, s3_client)), s3_client)
        labels = consolidate_batch(batch)
        response = []
        for object_id in batch.object_ids:
            label = labels.get(object_id)
            if label is None:
                LOG.error("object %s got no consolidated label", object_id)
                continue
            response.append(response_entry(object_id, label_attribute_name, label))
    return response


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector paused for a batch: a batch makes millions of small objects that form no
    cycles (parsed JSON, labels, the response), which reference counting frees, and the collector would
    walk them again and again as they pile up (a fifth of the CPU of a 100,000-object batch)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
