"""One labeling job run locally, writing what Ground Truth writes, where it writes it.

Everything the job produces lives in its S3 bucket under ``<OutputPrefix><job name>/`` (Ground
Truth's layout: ``annotations/worker-response/...``, ``annotations/consolidated-annotation/...``,
``annotations/intermediate/...``, ``manifests/output/output.manifest``) plus the runner's own
``local-runner/`` folder (the pre-labeling Lambda's responses, ``task-inputs/*.jsonl``, a line per
object). With the runner's own endpoint the bucket is kept on disk (``s3_store``), so this object is
rebuilt from it at start and a stopped or killed run resumes exactly:

- **Answers**: one per worker per object. A second submission of the same worker for the same
  object (a retry after a lost response, a second tab) is recognised and not written again.
- **Consolidation, exactly once per object**: a batch's payload is written first, then the
  consolidation Lambda runs, then the batch's outcome (``annotations/intermediate/<batch>.jsonl``).
  A payload without an outcome is a batch a kill interrupted: it is run again under the same name,
  so the Lambda replaces that batch's worker-model state instead of counting it twice.
- **One bad object never sinks the others**: when the Lambda fails a whole batch, each of its
  objects is consolidated again on its own; the ones that still fail are reported by id and reason.
- **Objects pre-labeling skips** (``isHumanAnnotationRequired: false`` in its response) are handled as
  the SageMaker developer guide describes. Its pre-annotation Lambda page ("Implications of
  isHumanAnnotationRequired"): the flag is optional, defaults to true, and false excludes the data object
  from labeling by human workers (the page shows a boolean; AWS's samples return the strings "true" and
  "false": both are read, anything else fails that object with the reason). Its "Output data" page: the
  output data file, written while the job runs, has one line per input manifest line, a labeled object's
  with its label, an object that has not been labeled "identically to the manifest file". So a skipped
  object is never offered to a worker, has no worker response, is in no consolidation payload (the
  post-annotation Lambda gets workers' annotations), and its output manifest line is its input line as it
  came: no label attribute, no ``-metadata``. The guide documents no label, metadata or other file for
  such an object, and this runner writes none (nor does it guess which of DescribeLabelingJob's
  ``LabelCounters`` counts it: the guide does not say); it reports the skipped objects instead. The same
  rule writes every other unlabeled line (pre-labeling or consolidation failed, not yet answered) as it came.
"""
from __future__ import annotations

import datetime
import json
import logging
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from gt_common import strict_json, task_record
from gt_common.output_layout import (
    CONSOLIDATION_REQUESTS, INTERMEDIATE, OUTPUT_MANIFEST, WORKER_RESPONSES, metadata_key, worker_response_answers,
)
from gt_common.s3uri import InputError, S3Location
from gt_common.task_record import data_object_of, job_folder, record_location, records_location
from local_ground_truth.grouped_writes import GroupedWrites
from local_ground_truth.function_grants import access_key
from local_ground_truth.lambda_host import LocalFunction
from local_ground_truth.s3_store import StoredBucket, object_path
from local_ground_truth.spaced_rewrite import SpacedRewrite
from local_ground_truth.stack_reader import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec, WorkflowSpec

LOG = logging.getLogger(__name__)
READ_THREADS = 4  # concurrent GETs when reading a job's files back at start
RESPONSE_WRITERS = 4  # writes of pre-labeling responses at once
#: Pre-labeling responses kept per write (one JSON line each): a 1,000-object job makes tens of writes, not 1,000, and
#: a resumed run reads as many files back. A kill loses at most the responses not yet written (run again on resume).
RESPONSES_PER_WRITE = 50
#: ... or fewer, once the oldest of them has waited this long (``GroupedWrites``): workers may label an object once it
#: is stored.
RESPONSES_WAIT_SECONDS = 0.5
ANSWER_LOCKS = 64  # (object, worker) pairs share this many locks, by hash
_NOT_ENCODED = object()  # an output manifest line not encoded yet (None is an unlabeled line's entry)


def _now(seconds_ago: float = 0.0) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class PreLabelReport:
    done: int = 0
    skipped: list[str] = field(default_factory=list)  # objects pre-labeling excluded from human labeling
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class ConsolidationReport:
    consolidated: int = 0
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchOutcome:
    """What one consolidation batch settled, as ``LocalJob.on_consolidated`` listeners hear it."""

    name: str  # the batch's payload name (Ground Truth's UTC stamp)
    labeled: dict[str, dict[str, Any]]  # object id -> {"datasetObjectId", "label", "creation-date"}
    failed: dict[str, str]  # object id -> why it could not be consolidated


class LocalJob:
    """A job of ``spec`` named ``job_name``; everything it writes goes to the stack's output bucket.

    ``store``: the folder the runner's endpoint keeps buckets in (None with another endpoint);
    ``folder``: the job's folder, where the runner keeps what is not in the bucket (its settings, the
    quality report images); by default the folder that holds ``store``.
    """

    def __init__(self, spec: WorkflowSpec, s3, endpoint: str, job_name: str, store: Optional[Path] = None,
                 folder: Optional[Path] = None, own_endpoint: bool = True) -> None:
        self.spec, self.s3, self.endpoint, self.job_name = spec, s3, endpoint, job_name
        self.own_endpoint = own_endpoint  # the runner's endpoint (``local_s3``), not one given with --endpoint
        self.bucket = spec.task.output_bucket
        self.store = store
        # The runner's own endpoint keeps the bucket in ``store``: the job's files are read back from there (a
        # request per file through the endpoint cost a restart of 10,200 answers 49 s).
        self._stored = StoredBucket(store, self.bucket) if store is not None and own_endpoint else None
        self.folder = folder if folder is not None else (store.parent if store is not None else None)
        self.root = job_root(spec, job_name)
        self.job_arn = f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:labeling-job/{job_name}"
        self.pre_report = PreLabelReport()
        self._lock = threading.RLock()  # the in-memory indexes below
        # One submission at a time per (object, worker): a second one waits, then finds the first recorded.
        self._answer_locks = [threading.Lock() for _ in range(ANSWER_LOCKS)]
        self._consolidating = threading.Lock()  # one batch at a time, as batches are numbered
        self._answers: dict[str, dict[str, dict[str, Any]]] = {}  # object id -> worker -> answer
        self._answer_count = 0  # answers in self._answers (progress after every answer must not count them all)
        # Kept as answers come, so that a worker's request need not read every answered object (100,000 late in a job):
        self._answered_by: dict[str, set[str]] = {}  # worker -> the objects they answered
        self._full: set[str] = set()  # objects answered by every worker they need
        self._full_frozen: Optional[frozenset[str]] = frozenset()  # a copy of it, made again once it changed
        self._in_flight: set[str] = set()  # objects with some of their answers, not all
        self._last_answer: dict[str, str] = {}  # worker -> their latest submission time
        self._labels: dict[str, dict[str, Any]] = {}  # object id -> {"label", "creation-date"}
        self._failed: dict[str, str] = {}  # objects consolidation failed in this run, and why
        self._task_inputs: dict[str, dict[str, Any]] = {}  # object id -> pre-labeling response
        self._skipped: set[str] = set()  # pre-labeled objects not for human labeling
        self._for_workers: Optional[tuple[tuple[str, ...], frozenset[str]]] = None  # object_id_tuple's and _set's
        self._batches: set[str] = set()  # payload names taken
        self._finished: set[str] = set()  # batches whose outcome is written
        self._consolidation: Optional[LocalFunction] = None
        self.lines = self._manifest_lines()
        # Per manifest line: (the label entry its output line was encoded with, that line's text) (``output_manifest_body``).
        self._encoded_lines: list[tuple[Any, str]] = []
        self._encoded_lock = threading.Lock()
        # The output manifest, rewritten as labels come (spaced on a large job: ``spaced_rewrite``); with it any
        # other file rewritten whole from the job's state (the review desk's final manifest), flushed together.
        self.output_manifest_rewrite = SpacedRewrite(self._put_output_manifest, "output manifest")
        self.rewrites: list[SpacedRewrite] = [self.output_manifest_rewrite]
        # Called after each batch, its labels written and the output manifest written or due (in the consolidating
        # thread; written at once when the batch completed the job).
        self.on_consolidated: list[Callable[[BatchOutcome], None]] = []
        # Called with (object id, worker, the answer's key) after an answer is written (in the answering thread).
        self.on_answer: list[Callable[[str, str, str], None]] = []
        self._load()
        self._adopt_legacy_task_records()

    # -- S3 helpers ------------------------------------------------------------------------------
    def uri(self, key: str) -> str:
        return S3Location(self.bucket, key).uri

    def local_path(self, key: str) -> Optional[Path]:
        """Where the runner's endpoint keeps ``key`` on disk (None with an external endpoint)."""
        if self.store is None:
            return None
        return object_path(self.store, self.bucket, key)

    def _put_json(self, key: str, value: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value).encode(), ContentType="application/json")

    def _get_json(self, key: str) -> Any:
        return json.loads(self._get_bytes(key))

    def _get_bytes(self, key: str) -> bytes:
        if self._stored is not None:
            return self._stored.read(key)
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _keys(self, prefix: str) -> list[str]:
        if self._stored is not None:
            return self._stored.keys(prefix)
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def _read_all(self, keys: list[str], read: Callable[[str], Any] | None = None) -> list[tuple[str, Any]]:
        if self._stored is not None:  # files on this machine's disk: threads would only contend for the GIL
            return [(key, (read or self._get_json)(key)) for key in keys]
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            return list(zip(keys, pool.map(read or self._get_json, keys)))

    # -- folders -------------------------------------------------------------------------------------
    @property
    def _responses(self) -> str:
        return f"{self.root}{WORKER_RESPONSES}"

    @property
    def answers_prefix(self) -> str:
        """The folder of workers' answers (one folder per object, one file per answer)."""
        return self._responses

    @property
    def _requests(self) -> str:
        return f"{self.root}{CONSOLIDATION_REQUESTS}"

    @property
    def _outcomes(self) -> str:
        return f"{self.root}{INTERMEDIATE}"

    @property
    def _task_input_folder(self) -> str:
        return f"{self.root}local-runner/task-inputs/"

    @property
    def output_manifest_key(self) -> str:
        return f"{self.root}{OUTPUT_MANIFEST}"

    # -- loading what an earlier run left --------------------------------------------------------------
    def _manifest_lines(self) -> list[dict[str, Any]]:
        manifest = self.spec.task.manifest
        return manifest_objects(self.s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read())

    def _load(self) -> None:
        """Read back what earlier runs stored. A file that cannot be what its folder holds (not JSON, the wrong
        shape, an object the manifest does not have: a disk error, a hand edit, a stray key) is left out with a
        warning naming its key and the problem, so one bad file never keeps the job from resuming; an object whose
        task input was left out is pre-labeled again."""
        for key, body in self._read_all(self._keys(self._task_input_folder), self._get_bytes):
            try:
                entries = _task_inputs_in(key, body)
            except ValueError as error:
                self._left_out(key, error)
                continue
            for object_id, response in entries:
                if self.is_object(object_id):
                    self._keep_task_input(object_id, response)
                else:
                    self._left_out(key, f"object {object_id!r} is not in the manifest")
        answer_files = []
        for key, body in self._read_all(self._keys(self._responses), self._get_bytes):
            object_id, _, name = key[len(self._responses):].partition("/")
            try:
                if not self.is_object(object_id) or not name or "/" in name:
                    raise ValueError(f"is not an answer file ({self._responses}<object>/<file>.json)")
                answer_files.append((key, object_id, worker_response_answers(body)))
            except ValueError as error:
                self._left_out(key, error)
        for key, object_id, answers in sorted(answer_files, key=lambda item: item[2][0].get("submissionTime", "")):
            for answer in answers:
                earlier = self._answers.setdefault(object_id, {}).get(answer["workerId"])
                if earlier is not None:  # only a run before this rule could have written two
                    LOG.warning("object %s has two answers of %r; the later one counts", object_id, answer["workerId"])
                self._answers[object_id][answer["workerId"]] = {**answer, "key": key}
                self._count_answer(object_id, answer["workerId"])
        for key in self._keys(self._requests):
            self._batches.add(key.rsplit("/", 1)[1].removesuffix(".json"))
        for key in sorted(self._keys(self._outcomes)):
            self._finished.add(key.rsplit("/", 1)[1].removesuffix(".jsonl"))
            body = self._get_bytes(key)
            for number, line in enumerate(body.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = strict_json.loads(line)
                    if not isinstance(entry, dict) or not self.is_object(str(entry.get("datasetObjectId"))):
                        raise ValueError("is not a label of an object in the manifest")
                except ValueError as error:
                    self._left_out(f"{key} line {number}", error)
                    continue
                self._labels[str(entry["datasetObjectId"])] = entry

    def _adopt_legacy_task_records(self) -> None:
        """Task records a runner from before records were kept per job wrote for this job's objects, copied into the
        job's folder, where the functions read them now.

        Pre-labeling wrote ``<TASK_RECORDS_URI><digest>.json`` until records went into a folder per labeling job
        (``<TASK_RECORDS_URI><job>/<digest>.json``, ``gt_common.task_record``). A job resumed from such a run
        pre-labels none of its objects again, so without this its records were never read again: a span's offsets
        went unchecked against the text it tagged, and a gold object's known answer was lost to every later batch
        (counted as an ordinary object, a miss never flagged nor routed to an expert). Only objects this job
        pre-labeled are copied, and only where the job's folder lacks their record and the flat one keeps something
        (an empty record, as welding's without gold were, is no longer written); the flat file stays where it is.
        One listing of the records folder when there is nothing to adopt."""
        try:
            folder = records_location(self.spec.consolidation.environment)
        except InputError:
            return  # the consolidation function names the setting when it runs
        if folder is None:
            return
        flat = {item["Key"] for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=folder.bucket, Prefix=folder.key, Delimiter="/")
                for item in page.get("Contents", []) if item["Key"].endswith(".json")}
        if not flat:
            return
        mine = job_folder(folder, self.job_name)
        kept = {item["Key"] for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=folder.bucket, Prefix=mine.key)
                for item in page.get("Contents", [])}
        adopted = 0
        for object_id in sorted(self.pre_labeled_ids(), key=int):
            try:
                data_object = data_object_of(self.lines[int(object_id)])
            except InputError:
                continue
            old, new = record_location(folder, data_object), record_location(folder, data_object, self.job_name)
            if old.key not in flat or new.key in kept:
                continue
            try:
                record = strict_json.loads(self.s3.get_object(Bucket=old.bucket, Key=old.key)["Body"].read())
            except ValueError:
                continue  # unreadable: as good as none (the functions log a record they cannot use)
            if isinstance(record, dict) and record:  # an empty one kept nothing (and is no longer written)
                self.s3.copy_object(Bucket=new.bucket, Key=new.key, CopySource={"Bucket": old.bucket, "Key": old.key})
                kept.add(new.key)
                adopted += 1
        if adopted:
            LOG.info("job %s: %d task records of an earlier runner's layout (%s<digest>.json) copied into the job's "
                     "records folder %s", self.job_name, adopted, folder.uri, mine.uri)

    def is_object(self, object_id: str) -> bool:
        """``object_id`` names a line of the manifest (as Ground Truth numbers them: 0, 1, ...). ASCII digits only:
        "²" or "①" are digits to ``str.isdigit`` that ``int`` refuses."""
        return (object_id.isascii() and object_id.isdigit() and object_id == str(int(object_id))
                and int(object_id) < len(self.lines))

    def _left_out(self, key: str, problem: Exception | str) -> None:
        LOG.warning("left out %s of the job's stored files: it %s", ascii(key)[1:-1], str(problem)[:300])

    # -- the input -------------------------------------------------------------------------------
    def manifest_lines(self) -> list[dict[str, Any]]:
        return self.lines

    def take_appended_lines(self) -> int:
        """Read the input manifest in the bucket again and take the lines added at its end since the job read it:
        new objects, numbered on from the last (pre-labeling them is ``pre_label``'s, which does every line not
        done). How many were taken; ValueError when a line the job holds changed (nothing is taken then)."""
        lines = self._manifest_lines()
        with self._lock:
            held = len(self.lines)
            if len(lines) < held or lines[:held] != self.lines:
                raise ValueError("the input manifest in the bucket no longer starts with the job's objects as they were")
            self.lines.extend(lines[held:])  # in place: pages and reports hold the list
        if len(lines) > held:
            for rewrite in self.rewrites:  # the output manifest, and the final one, get a line per new object
                rewrite.changed()
        return len(lines) - held

    def _keep_task_input(self, object_id: str, response: dict[str, Any]) -> None:
        with self._lock:
            self._task_inputs[object_id] = response
            self._for_workers = None
            if not human_annotation_required(response):
                self._skipped.add(object_id)

    def pre_labeled_ids(self) -> set[str]:
        """Objects pre-labeling answered for, skipped ones included."""
        with self._lock:
            return set(self._task_inputs)

    def is_for_workers(self, object_id: str) -> bool:
        with self._lock:
            return object_id in self._task_inputs and object_id not in self._skipped

    def object_ids(self) -> list[str]:
        """The objects workers label (pre-labeled, not skipped), in manifest order."""
        return list(self.object_id_tuple())

    def object_id_tuple(self) -> tuple[str, ...]:
        """``object_ids`` as one tuple, the same object until pre-labeling stores another (callers may keep what
        they derive from it while it is the same: every worker request reads it, and sorting 100,000 ids took
        36 ms)."""
        return self._object_ids_cached()[0]

    def object_id_set(self) -> frozenset[str]:
        """``object_ids`` as a set, kept as ``object_id_tuple`` is."""
        return self._object_ids_cached()[1]

    def _object_ids_cached(self) -> tuple[tuple[str, ...], frozenset[str]]:
        with self._lock:
            if self._for_workers is None:
                ids = tuple(sorted((oid for oid in self._task_inputs if oid not in self._skipped), key=int))
                self._for_workers = (ids, frozenset(ids))
            return self._for_workers

    def in_flight_object_ids(self) -> list[str]:
        """Objects with some of the answers they need, not all."""
        with self._lock:
            return list(self._in_flight)

    def full_object_ids(self) -> frozenset[str]:
        """Objects answered by every worker they need."""
        with self._lock:
            if self._full_frozen is None:  # a worker's queue page asks twice: copied once per answer at most
                self._full_frozen = frozenset(self._full)
            return self._full_frozen

    def _count_answer(self, object_id: str, worker_id: str) -> None:
        """(Holding the lock, after ``self._answers`` took the answer; a worker's second answer to one object, which
        only runs before the one-answer rule could have written, replaces the first and counts once.)"""
        answered = self._answered_by.setdefault(worker_id, set())
        if object_id not in answered:
            answered.add(object_id)
            self._answer_count += 1
        submitted = self._answers[object_id][worker_id].get("submissionTime", "")
        self._last_answer[worker_id] = max(self._last_answer.get(worker_id, ""), submitted)
        if len(self._answers[object_id]) >= self.spec.workers_per_object:
            if object_id not in self._full:
                self._full.add(object_id)
                self._full_frozen = None
            self._in_flight.discard(object_id)
        else:
            self._in_flight.add(object_id)

    def skipped_ids(self) -> list[str]:
        """Objects pre-labeling excluded from human labeling (isHumanAnnotationRequired false), in manifest order."""
        with self._lock:
            return sorted(self._skipped, key=int)

    def pre_label(self, processes: int | None = None, progress: bool = True,
                  stop: Optional[threading.Event] = None) -> PreLabelReport:
        """Run the stack's pre-labeling handler for every manifest line not yet done, in parallel.

        Responses are written to the bucket, RESPONSES_PER_WRITE per file, by a small pool of threads (the
        endpoint makes each write durable before it answers) while the next ones are computed; an object
        counts as pre-labeled (and goes to workers, if it is for them) once its response is stored, so workers
        may label while the rest is pre-labeled. ``self.pre_report`` follows as it goes. Setting ``stop`` ends
        it early (what is stored stays; a later run pre-labels the rest). The consolidation function's
        environment is started once the first responses are written, so the first batch finds it warm.
        """
        self.pre_report = report = PreLabelReport()
        pending = {str(i): line for i, line in enumerate(self.lines) if str(i) not in self._task_inputs}
        with self._lock:
            report.done = len(self.lines) - len(pending)
        stopped, handled = False, 0
        if pending:
            function = LocalFunction(self.spec.pre_labeling, self.endpoint, processes or _cores(),
                                     self._access_key(self.spec.pre_labeling))
            events = ((object_id, {"version": "2018-10-06", "labelingJobArn": self.job_arn, "dataObject": line})
                      for object_id, line in pending.items())
            try:
                with ThreadPoolExecutor(max_workers=RESPONSE_WRITERS, thread_name_prefix="task-input") as writer:
                    responses = GroupedWrites(self._store_pre_labeled, writer, RESPONSES_PER_WRITE, RESPONSES_WAIT_SECONDS)
                    try:
                        outcomes = function.invoke_all(events, stop)  # ends at once when stop is set
                        for object_id, (ok, result) in tqdm(outcomes, total=len(pending), desc="pre-labeling",
                                                            disable=not progress, file=sys.stderr):
                            if stop is not None and stop.is_set():
                                break
                            handled += 1
                            problem = None if not ok else _pre_labeling_problem(result)
                            if not ok or problem:
                                with self._lock:
                                    report.failed[object_id] = result if not ok else problem
                                continue
                            responses.add((object_id, result))
                    finally:
                        writes = responses.close()
                for write in writes:
                    write.result()  # a write the endpoint refused stops the job, as before
            finally:
                function.close()
            stopped = handled < len(pending)
        report.skipped = self.skipped_ids()
        if stopped:
            # The runner is stopping, and its last flush (``close``, or the worker server's stop) writes the output
            # manifest: once, not here and again there (at 20,000 lines a rewrite takes most of a second).
            self.output_manifest_rewrite.changed_unwritten()
        else:
            self.write_output_manifest()  # skipped objects are final now: the output holds their lines already
            self._warm_consolidation()  # a resumed job with nothing left to pre-label
        return report

    def _store_pre_labeled(self, responses: list[tuple[str, dict[str, Any]]]) -> None:
        stored = self._store_task_inputs(responses)
        with self._lock:
            self.pre_report.done += stored
        self._warm_consolidation()  # workers can answer now: batches will follow

    def _warm_consolidation(self) -> None:
        """Start the consolidation function's environment (once, if any batch can come), so that the first batch
        finds it warm."""
        if self._consolidation is not None:
            return  # started (read without the lock: a batch holds it while it runs)
        with self._consolidating:
            if self._consolidation is None and self.object_ids() and not self.is_complete():
                self._consolidation_function().start()

    def pre_labeling_finished(self) -> bool:
        """Every manifest line is pre-labeled (or failed pre-labeling in this run): no more tasks will come."""
        with self._lock:
            return len(self._task_inputs) + len(self.pre_report.failed) >= len(self.lines)

    def pre_labeling_failures(self) -> dict[str, str]:
        with self._lock:
            return dict(self.pre_report.failed)

    def _store_task_inputs(self, responses: list[tuple[str, dict[str, Any]]]) -> int:
        """Store pre-labeling responses in one file; then they count. The number stored."""
        body = "".join(json.dumps({"object": object_id, "response": response}) + "\n"
                       for object_id, response in responses)
        key = f"{self._task_input_folder}{responses[0][0]}-{uuid.uuid4().hex[:8]}.jsonl"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="application/x-ndjson")
        for object_id, response in responses:
            self._keep_task_input(object_id, response)
        return len(responses)

    def task_input(self, object_id: str) -> dict[str, Any]:
        with self._lock:
            return self._task_inputs[object_id]["taskInput"]

    # -- workers' answers -----------------------------------------------------------------------
    def record_answer(self, object_id: str, worker_id: str, answer: dict[str, Any],
                      accepted_at: str | None = None, seconds: float = 0.0) -> tuple[str, bool]:
        """Write one answer as Ground Truth does (one file per submission under worker-response).

        Returns ``(key, written)``: a worker who already answered this object gets the key of that
        answer and ``written`` False; nothing is written twice. The answer is in the bucket (on disk,
        with the runner's endpoint) when this returns, and only then counted (``answers``, consolidation).
        Answers of other workers or objects are written at the same time: only one (object, worker)
        pair's writes wait for each other.
        """
        with self._answer_locks[hash((object_id, worker_id)) % len(self._answer_locks)]:
            with self._lock:
                earlier = self._answers.get(object_id, {}).get(worker_id)
            if earlier is not None:
                return earlier["key"], False
            submitted = _now()
            key = f"{self._responses}{object_id}/{submitted.replace(':', '-')}-{uuid.uuid4().hex[:8]}.json"
            record = {
                "acceptanceTime": accepted_at or _now(seconds_ago=seconds),  # when the worker took the task
                "answerContent": answer,
                "submissionTime": submitted,
                "timeSpentInSeconds": round(seconds, 3),
                "workerId": worker_id,
                "workerMetadata": {"identityData": {"identityProviderType": "Local", "issuer": "local_ground_truth",
                                                    "sub": worker_id}},
            }
            self._put_json(key, {"answers": [record]})
            with self._lock:
                self._answers.setdefault(object_id, {})[worker_id] = {**record, "key": key}
                self._count_answer(object_id, worker_id)
        for listener in self.on_answer:
            try:
                listener(object_id, worker_id, key)
            except Exception:  # noqa: BLE001 - a listener (a printout) never undoes a recorded answer
                LOG.exception("after the answer %s: %r failed", key, listener)
        return key, True

    def answers(self) -> dict[str, list[dict[str, Any]]]:
        """Every recorded answer, by data object id (one per worker)."""
        with self._lock:
            return {oid: [{k: v for k, v in a.items() if k != "key"} for a in by_worker.values()]
                    for oid, by_worker in self._answers.items()}

    def workers_of(self, object_id: str) -> set[str]:
        with self._lock:
            return set(self._answers.get(object_id, {}))

    def answer_of(self, object_id: str, worker_id: str) -> Optional[dict[str, Any]]:
        """The ``answerContent`` this worker's recorded answer to this object holds, if there is one."""
        with self._lock:
            recorded = self._answers.get(object_id, {}).get(worker_id)
        return None if recorded is None else recorded["answerContent"]

    def answer_files(self, object_ids: Optional[Iterable[str]] = None) -> dict[str, dict[str, tuple[str, str]]]:
        """``{object id: {worker: (the answer's key, its submission time)}}`` of every recorded answer (of the
        answered ones among ``object_ids``, if given)."""
        with self._lock:
            chosen = self._answers.items() if object_ids is None else (
                (oid, self._answers[oid]) for oid in object_ids if oid in self._answers)
            return {oid: {worker: (a["key"], a.get("submissionTime", "")) for worker, a in by_worker.items()}
                    for oid, by_worker in chosen}

    def answer_counts(self) -> dict[str, int]:
        """How many answers each answered object has."""
        with self._lock:
            return {oid: len(by_worker) for oid, by_worker in self._answers.items()}

    def worker_activity(self) -> dict[str, tuple[int, str]]:
        """Per worker who answered: how many answers, and the latest one's submission time."""
        with self._lock:
            return {worker: (len(objects), self._last_answer.get(worker, "")) for worker, objects in
                    self._answered_by.items()}

    def answered_by(self, worker_id: str) -> set[str]:
        with self._lock:
            return set(self._answered_by.get(worker_id, ()))

    # -- consolidation and output ------------------------------------------------------------------
    def consolidated_labels(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._labels)

    def failed_objects(self) -> dict[str, str]:
        with self._lock:
            return dict(self._failed)

    def ready_objects(self) -> list[str]:
        """Objects answered by enough workers and neither consolidated nor failed in this run."""
        with self._lock:  # set differences: late in a large job, not a step per answered object
            return sorted(self._full.difference(self._labels, self._failed), key=int)

    def is_complete(self) -> bool:
        """Pre-labeling is finished and every object for workers has its label (or failed consolidation for
        good in this run)."""
        with self._lock:
            return self.pre_labeling_finished() and bool(self._task_inputs) and all(
                oid in self._labels or oid in self._failed for oid in self._task_inputs if oid not in self._skipped)

    def consolidate(self, flush: bool = True) -> ConsolidationReport:
        """Finish any batch a kill interrupted, then consolidate, as one batch, every ready object.

        As in Ground Truth, each object is consolidated once: the consolidation Lambda's worker model
        and quality statistics count every batch, so an object sent twice would count twice. ``flush``:
        the output manifest (and the other rewritten files) on disk before this returns; the background
        consolidation leaves a large one to its spacing (``spaced_rewrite``).
        """
        with self._consolidating:
            for stamp in self._interrupted_batches():
                payload = self._get_json(f"{self._requests}{stamp}.json")
                object_ids = [str(entry["datasetObjectId"]) for entry in payload]
                LOG.warning("batch %s was interrupted; running it again (%d objects)", stamp, len(object_ids))
                self._run_batch(object_ids, stamp)
            ready = self.ready_objects()
            if ready:
                self._run_batch(ready)
        if flush:
            self.flush_rewrites()
        return ConsolidationReport(consolidated=len(self._labels), failed=self.failed_objects())

    def _interrupted_batches(self) -> list[str]:
        with self._lock:
            return sorted(self._batches - self._finished)

    def _new_stamp(self) -> str:
        """Ground Truth's payload name (a UTC timestamp), made unique if a batch already has it."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d_%H:%M:%S")
        candidate, number = stamp, 1
        while candidate in self._batches:
            number += 1
            candidate = f"{stamp}.{number}"
        self._batches.add(candidate)
        return candidate

    def _consolidation_function(self) -> LocalFunction:
        if self._consolidation is None:
            self._consolidation = LocalFunction(self.spec.consolidation, self.endpoint,
                                                access_key=self._access_key(self.spec.consolidation))
        return self._consolidation

    def _access_key(self, function: FunctionSpec) -> Optional[str]:
        """The key the function signs with: its own on the runner's endpoint (held to its role's grants there), the
        runner's credentials on an endpoint of the requester's (``--endpoint``), which would not know it."""
        return access_key(function.logical_id) if self.own_endpoint else None

    def _run_batch(self, object_ids: list[str], stamp: str | None = None) -> None:
        unsendable: dict[str, str] = {}  # objects whose manifest line gives no data object: failed, not sent
        if stamp is None:
            payload = []
            with self._lock:
                for object_id in object_ids:
                    try:
                        data_object = data_object_of(self.lines[int(object_id)])
                    except InputError as error:
                        unsendable[object_id] = f"consolidation failed: {error}"
                        continue
                    payload.append({
                        "datasetObjectId": object_id, "dataObject": data_object,
                        "annotations": [{"workerId": a["workerId"],
                                         "annotationData": {"content": json.dumps(a["answerContent"])}}
                                        for a in _by_submission(self._answers[object_id].values())]})
            object_ids = [entry["datasetObjectId"] for entry in payload]
            # The stamp is taken once its payload exists: a stamp without one would read as an interrupted batch.
            stamp = self._new_stamp()
            written = False
            try:
                if payload:
                    self._put_json(f"{self._requests}{stamp}.json", payload)  # a kill from now on: "run it again"
                    written = True
            finally:
                if not written:
                    with self._lock:
                        self._batches.discard(stamp)
        if not object_ids:
            self._finish_batch(stamp, {}, unsendable)
            return
        payload_key = f"{self._requests}{stamp}.json"
        label = self.spec.label_attribute_name
        ok, response = self._consolidation_function().invoke({
            "version": "2018-10-06", "labelingJobArn": self.job_arn, "labelCategories": None,
            "labelAttributeName": label, "roleArn": "arn:aws:iam::000000000000:role/local",
            "outputConfig": self.uri(f"{self.root}annotations"),
            "maxHumanWorkersPerDataObject": self.spec.workers_per_object, "payload": {"s3Uri": self.uri(payload_key)},
        })
        failed: dict[str, str] = dict(unsendable)
        labels: dict[str, Any] = {}
        if ok:
            labels = _check_response(response, label, set(object_ids), failed)
        else:
            failed = {object_id: f"consolidation failed: {response}" for object_id in object_ids}
        created = _now()
        entries = {oid: {"datasetObjectId": oid, "label": value, "creation-date": created} for oid, value in labels.items()}
        # The batch's outcome: after it, this batch is never run again (its labels are final).
        self.s3.put_object(Bucket=self.bucket, Key=f"{self._outcomes}{stamp}.jsonl",
                           Body="".join(json.dumps(entry) + "\n" for entry in entries.values()).encode())
        with self._lock:
            self._finished.add(stamp)
            self._labels.update(entries)
        if not ok and len(object_ids) > 1:
            LOG.error("consolidation of %d objects failed (%s); consolidating each on its own", len(object_ids), response)
            self._failures(stamp, unsendable)
            for object_id in object_ids:
                self._run_batch([object_id])
            return
        self._finish_batch(stamp, entries, failed)

    def _finish_batch(self, stamp: str, entries: dict[str, Any], failed: dict[str, str]) -> None:
        """A batch's failures kept, the output manifest due for a rewrite (written now if the job is complete),
        and the batch's outcome told to the listeners."""
        self._failures(stamp, failed)
        self.output_manifest_rewrite.changed()
        if self.is_complete():  # the last batch: the output is final now, and said to be
            self.output_manifest_rewrite.flush()
        outcome = BatchOutcome(stamp, entries, failed)
        for listener in self.on_consolidated:
            try:
                listener(outcome)
            except Exception:  # noqa: BLE001 - a listener (a report, a printout) never undoes a batch
                LOG.exception("after batch %s: %r failed", stamp, listener)

    def _failures(self, stamp: str, failed: dict[str, str]) -> None:
        """Objects a batch could not consolidate, said and kept (``consolidation-failures/<stamp>.json``)."""
        if not failed:
            return
        for object_id, reason in sorted(failed.items(), key=lambda item: int(item[0])):
            LOG.error("object %s could not be consolidated: %s", object_id, reason)
        self._put_json(f"{self.root}local-runner/consolidation-failures/{stamp}.json", failed)
        with self._lock:
            self._failed.update(failed)

    def output_lines(self) -> list[dict[str, Any]]:
        """One line per input manifest line, as Ground Truth writes it: a labeled object's line with its
        label and ``<label>-metadata``, any other (skipped, failed, not yet labeled) exactly as it came."""
        return [self._output_line(index, entry) for index, entry in enumerate(self._label_entries())]

    def _label_entries(self) -> list[Optional[dict[str, Any]]]:
        """Per manifest line, its object's label entry (``{"label", "creation-date", ...}``), or None."""
        with self._lock:
            return [self._labels.get(str(index)) for index in range(len(self.lines))]

    def _output_line(self, index: int, entry: Optional[dict[str, Any]]) -> dict[str, Any]:
        line = self.lines[index]
        if entry is None:
            return line
        label = self.spec.label_attribute_name
        return {**line, label: entry["label"], metadata_key(label): {
            "type": "groundtruth/custom", "job-name": self.job_name, "human-annotated": "yes",
            "creation-date": entry["creation-date"]}}

    def output_manifest_body(self) -> bytes:
        """The output manifest's bytes: ``output_lines``, one JSON line each. Each line's text is kept while its label
        entry is the same, so a rewrite encodes only the lines labeled since the one before (encoding every line took
        most of a rewrite: 0.2 to 0.5 s at 20,000 labeled lines, on every rewrite and at every stop)."""
        entries = self._label_entries()
        with self._encoded_lock:
            encoded = self._encoded_lines
            if len(encoded) != len(entries):
                encoded[:] = [(_NOT_ENCODED, "")] * len(entries)
            for index, entry in enumerate(entries):
                if encoded[index][0] is not entry:
                    encoded[index] = (entry, json.dumps(self._output_line(index, entry)) + "\n")
            return "".join([text for _entry, text in encoded]).encode()

    def write_output_manifest(self) -> None:
        """The output manifest, written now: ``output_lines``, one JSON line each."""
        self.output_manifest_rewrite.changed()
        self.output_manifest_rewrite.flush()

    def flush_rewrites(self) -> None:
        """Every file rewritten from the job's state (the output manifest, the final one, the reports' images), if
        changed, on disk now. One that cannot be written (a full disk) is said and stays due, and the others are
        still written: each is made from the job's state, which is kept, so nothing is lost with it."""
        for rewrite in self.rewrites:
            try:
                rewrite.flush()
            except (OSError, BotoCoreError, ClientError) as error:
                LOG.error("the %s could not be written (%s); it is written again after the next change, or when the "
                          "job is run again", rewrite.name, error)
            except Exception:  # noqa: BLE001 - as above, with its traceback: not a trouble of the disk
                LOG.exception("the %s could not be written; it is written again after the next change, or when the "
                              "job is run again", rewrite.name)

    def _put_output_manifest(self) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.output_manifest_key, Body=self.output_manifest_body())

    def output_manifest(self) -> list[dict[str, Any]]:
        return _json_lines(self.s3.get_object(Bucket=self.bucket, Key=self.output_manifest_key)["Body"].read().decode())

    def progress(self) -> dict[str, Any]:
        """Counts for a progress line: objects for workers, skipped, answers, consolidated, failed."""
        with self._lock:
            return {"objects": len(self._task_inputs) - len(self._skipped), "skipped": len(self._skipped),
                    "answers": self._answer_count,
                    "consolidated": len(self._labels), "failed": len(self._failed)}

    def close(self) -> None:
        try:
            self.flush_rewrites()
        except Exception:  # noqa: BLE001 - the labels are in the batches' outcomes; the next run writes the files
            LOG.exception("the job's manifests could not be written on closing")
        if self._consolidation is not None:
            self._consolidation.close()
            self._consolidation = None


def store_failure(error: Exception) -> tuple[str, str]:
    """A write the job's store refused (``BotoCoreError`` or ``ClientError``): what it said, for the runner's log, and
    the kind of failure in words for the person whose answer or decision it was. Those words never hold the store's
    message: it names files on the runner's machine, and on a team's server the person is on another one."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        logged = error.response.get("Error", {}).get("Message", "") or str(error)
        said = {"InsufficientStorage": "the disk the job is kept on is full",
                "InvalidArgument": "the job's store cannot keep it where it goes"}.get(code, "the job's store failed")
        return logged, said
    return str(error), "the job's store did not answer"


def job_root(spec: WorkflowSpec, job_name: str) -> str:
    """The job's folder in its output bucket (``<output prefix><job>/``): its answers, state, reports and outputs."""
    return f"{spec.task.output_prefix}{job_name}/"


def source_of(line: dict[str, Any]) -> str:
    """A manifest line's ``source-ref`` or ``source``, as written ("" when it has neither; at most 200 characters of
    a source that is not a string)."""
    source = task_record.source_of(line, "")
    return source if isinstance(source, str) else json.dumps(source)[:200]


def _by_submission(answers: Any) -> list[dict[str, Any]]:
    """An object's answers in the order they were submitted (as a resumed run reads them back), whatever
    order their concurrent writes finished in."""
    return sorted(answers, key=lambda answer: answer.get("submissionTime", ""))


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def manifest_objects(body: bytes) -> list[Any]:
    """An input manifest's objects, one per line that is not blank (the job's object ids are their numbers); a
    requester's own upload may start with a byte-order mark."""
    return _json_lines(body.decode("utf-8-sig"))


def _json_lines(text: str) -> list[Any]:
    """A manifest's lines: they end at "\n" only (str.splitlines would also split inside a string at U+2028)."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def _task_inputs_in(key: str, body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``(object id, pre-labeling response)`` of a stored task-input file; ValueError saying what is wrong."""
    if key.endswith(".jsonl"):  # RESPONSES_PER_WRITE responses: {"object": <id>, "response": {...}} each
        entries = []
        for number, line in enumerate(body.splitlines(), 1):
            if line.strip():
                try:
                    entry = strict_json.loads(line)
                except strict_json.JSONError as error:
                    raise ValueError(f"has line {number}, which {error}") from None
                if not isinstance(entry, dict) or not isinstance(entry.get("response"), dict) or "object" not in entry:
                    raise ValueError(f"has line {number}, which is not {{\"object\": <id>, \"response\": {{...}}}}")
                entries.append((str(entry["object"]), entry["response"]))
        return entries
    response = strict_json.loads(body)  # <id>.json: one response (written by runs before RESPONSES_PER_WRITE)
    if not isinstance(response, dict):
        raise ValueError("is not a pre-labeling response (a JSON object)")
    return [(key.rsplit("/", 1)[1].removesuffix(".json"), response)]


HUMAN_ANNOTATION_FLAG = "isHumanAnnotationRequired"


def human_annotation_required(response: dict[str, Any]) -> bool:
    """The response's ``isHumanAnnotationRequired`` (optional, true by default): the developer guide shows a
    boolean, AWS's samples the strings "true"/"false"; both are read. ``_pre_labeling_problem`` refuses others."""
    flag = response.get(HUMAN_ANNOTATION_FLAG, True)
    return flag if isinstance(flag, bool) else str(flag).lower() != "false"


def _pre_labeling_problem(response: Any) -> Optional[str]:
    """Why a pre-labeling response is unusable, as Ground Truth would reject it; None when usable."""
    if not isinstance(response, dict):
        return f"the pre-labeling response is not a JSON object: {str(response)[:200]}"
    flag = response.get(HUMAN_ANNOTATION_FLAG, True)
    if not isinstance(flag, bool) and str(flag).lower() not in ("true", "false"):
        return f"the pre-labeling response's {HUMAN_ANNOTATION_FLAG} is {str(flag)[:60]!r}, not true or false"
    if human_annotation_required(response) and not isinstance(response.get("taskInput"), dict):
        return f"the pre-labeling response has no taskInput object: {str(response)[:200]}"
    return None


def _check_response(response: Any, label: str, expected: set[str], failed: dict[str, str]) -> dict[str, Any]:
    """What Ground Truth accepts from consolidation; a missing or malformed entry fails its object."""
    labels: dict[str, Any] = {}
    if not isinstance(response, list):
        for object_id in expected:
            failed[object_id] = "consolidation response is not a list"
        return labels
    for entry in response:
        try:
            object_id = str(entry["datasetObjectId"])
            value = entry["consolidatedAnnotation"]["content"][label]
        except (KeyError, TypeError):
            object_id = str(entry.get("datasetObjectId", "?")) if isinstance(entry, dict) else "?"
            if object_id in expected:
                failed[object_id] = f"malformed consolidation entry: {str(entry)[:200]}"
            continue
        if object_id not in expected:
            LOG.warning("consolidation answered object %s, which was not in the batch; ignored", object_id)
            continue
        if object_id in labels:
            LOG.warning("consolidation answered object %s twice; the first answer counts", object_id)
            continue
        labels[object_id] = value
    for object_id in expected - set(labels):
        failed.setdefault(object_id, "no consolidation entry for this object")
    return labels
