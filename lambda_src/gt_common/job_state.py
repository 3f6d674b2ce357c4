"""Per-job state that outlives one consolidation batch, kept in S3 beside the job's output.

Ground Truth calls the consolidation Lambda once per batch, possibly for several batches at the
same time. Each kind of statistic (``worker-model``, ``quality-<question>``) is kept as **one merged
snapshot** of the job, so reading what earlier batches learned costs one GET of one bounded object
(and one GET of this batch's own record), whether it is the second batch or the thousandth::

    s3://<output>/<job>/annotations/consolidation-state/snapshots/<kind>.json   the job's sum
    s3://<output>/<job>/annotations/consolidation-state/<kind>/<batch id>.json  a batch's own record
    s3://<output>/<job>/quality-report/<question>.json      (job-level reports, see job_quality)

The batch id comes from the payload's file name, which Ground Truth makes unique per batch.

How a batch adds its contribution (``fold``), so that concurrent batches lose nothing and a retried
batch never counts twice:

1. Read the snapshot (its ETag kept) and this batch's own record (normally absent).
2. Write the snapshot with this batch's contribution under ``pending[<batch id>]``, conditionally:
   ``If-Match: <ETag>`` (``If-None-Match: *`` for the first). When another batch wrote first, S3
   answers 412 PreconditionFailed (or 409 ConditionalRequestConflict): read again, merge again, retry.
3. Write this batch's own record (its contribution, as it went into the snapshot).
4. Move the contribution from ``pending`` into ``total``, again conditionally (retried the same way).

A retried batch finds its earlier contribution either still in ``pending`` (the attempt stopped
before step 4) or in its own record (it did not): it replaces it, never adds a second one, and the
statistics it starts from leave it out (``earlier_total``). ``pending`` only holds batches between
steps 2 and 4 (about as many as run at once), so the snapshot's size does not grow with the number
of batches. S3 documents these conditional writes as PutObject with ``s3:PutObject`` (and
``s3:GetObject`` for ``If-Match``): no other permission.

Jobs started before the snapshot existed have only the per-batch records (``<kind>/<batch id>.json``,
written by every batch then, each its own contribution). When a kind has no snapshot, those records
are listed and read **once**, folded into the first snapshot and counted as confirmed contributions
(so a retry of such a batch replaces its own as above). A snapshot that is corrupt is logged and
rebuilt the same way from the records (what only it held, contributions still pending, is lost).

Stored state is data, not trusted code: parsed as strict JSON (no ``NaN`` or ``Infinity``, no numbers
out of range, bounded nesting and size) and checked by the kind's ``Ledger.check`` (right shape,
counts finite, non-negative and within what a Ground Truth job can produce, see ``count``). A record
that fails is logged and left out on its own; the batch goes on.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple, Optional

from . import strict_json
from .limits import MAX_OBJECTS_PER_JOB
from .output_layout import ANNOTATIONS
from .s3uri import InputError, S3Location, parse_s3_uri

LOG = logging.getLogger(__name__)
STATE_FOLDER = "consolidation-state"
SNAPSHOT_FOLDER = "snapshots"  # no kind is named so: kinds are "worker-model" and "quality-<question>"
SNAPSHOT_VERSION = 1
# A state file is a few numbers per worker; one far larger is not a job's statistics.
MAX_STATE_FILE_BYTES = 16 * 1024 * 1024
#: How often a conditional write is tried again after another batch wrote first. Each retry means
#: another batch's write succeeded, so this many in a row only happens with that many batches at once.
MAX_CONFLICTS = 50
#: S3's answers to a conditional write whose condition no longer holds (412, 409, and 404 for
#: ``If-Match`` on an object that is gone): read again and retry.
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404"})
MISSING_CODES = frozenset({"NoSuchKey", "404"})
#: Keys of a document's top level that name its format rather than count anything: equal in every part, never
#: summed. Only there: deeper, keys are names (a question, a worker, a class may be called "kind").
IDENTITY_KEYS = frozenset({"version", "kind"})
#: Stored sums are rounded to this many decimals (what each batch's counts are rounded to), so a
#: contribution taken out again leaves exact zeros, not -1e-17.
SUM_DIGITS = 6


def count(value: Any, where: str, maximum: float) -> float:
    """A stored count: a number (not a bool) in ``[0, maximum]``; ValueError naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} is {type(value).__name__}, not a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{where} is not finite")
    if value < 0:
        raise ValueError(f"{where} is negative")
    if value > maximum:  # exact for any int, however large
        raise ValueError(f"{where} is above {maximum:,.0f}, more than a Ground Truth job can hold")
    return float(value)


def mapping(value: Any, where: str) -> dict:
    """``value`` if it is a JSON object; ValueError naming ``where`` otherwise."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} is {type(value).__name__}, not an object")
    return value


@dataclass(frozen=True)
class JobState:
    bucket: str
    prefix: str  # ends with "/"
    batch_id: str

    @classmethod
    def for_event(cls, event: dict[str, Any]) -> "JobState":
        """The state location of the event's job, and this batch's id."""
        output = parse_s3_uri(event.get("outputConfig"), what="outputConfig")
        payload = event.get("payload")
        if not isinstance(payload, dict):
            raise InputError("consolidation event has no payload.s3Uri")
        payload = parse_s3_uri(payload.get("s3Uri"), what="payload.s3Uri")
        name = payload.key.rsplit("/", 1)[-1].removesuffix(".json")
        # The iteration folder keeps batch ids of later iterations apart from the first's.
        iteration = payload.key.rsplit("/", 2)[-2] if payload.key.count("/") >= 2 else ""
        batch_id = re.sub(r"[^A-Za-z0-9._-]", "_", f"{iteration}-{name}" if iteration else name)
        return cls(output.bucket, f"{output.key.rstrip('/')}/{STATE_FOLDER}/", batch_id)

    @property
    def job_prefix(self) -> str:
        """``<output>/<job>/``: the folder that holds ``annotations/`` and ``manifests/``."""
        annotations = self.prefix[: -len(STATE_FOLDER) - 1]
        return annotations[: -len(ANNOTATIONS)] if annotations.endswith(f"/{ANNOTATIONS}") else annotations

    def key(self, kind: str, batch_id: str | None = None) -> str:
        return f"{self.prefix}{kind}/{batch_id or self.batch_id}.json"

    def uri(self, kind: str) -> str:
        return S3Location(self.bucket, self.key(kind)).uri

    def write(self, s3_client, kind: str, value: dict[str, Any]) -> bool:
        """Save this batch's file of ``kind``; False (logged) when it could not be saved.

        The labels matter more than the history: a failed save loses this batch's statistics for
        later batches, never the batch. ``allow_nan=False``: nothing is written that a later batch
        would have to refuse.
        """
        try:
            body = json.dumps(value, allow_nan=False).encode()
            s3_client.put_object(Bucket=self.bucket, Key=self.key(kind), Body=body, ContentType="application/json")
        except Exception as error:  # noqa: BLE001 - see above
            LOG.error("state file %s not saved: %s", self.uri(kind), _describe(error))
            return False
        return True

    def snapshot_key(self, kind: str) -> str:
        return f"{self.prefix}{SNAPSHOT_FOLDER}/{kind}.json"

    # -- the merged snapshot (see the module docstring) --------------------------------------------
    def earlier_total(self, s3_client, ledger: Ledger) -> tuple[Optional[dict[str, Any]], Optional[_Snapshot]]:
        """The sum of every other batch's contribution of ``ledger``'s kind (None when there is none, or
        it could not be read: logged), and the read it came from (for ``fold``)."""
        snapshot = self._read(s3_client, ledger)
        if snapshot is None:
            return None, None
        try:
            return self._others(snapshot, ledger), snapshot
        except ValueError as error:  # checked parts add up; a last guard against shapes that do not
            LOG.error("snapshot %s does not add up (%s): starting from nothing", self._snapshot_uri(ledger.kind),
                      _describe(error))
            return None, None

    def fold(self, s3_client, ledger: Ledger, contribution: dict[str, Any],
             read: Optional[_Snapshot] = None) -> Optional[tuple[dict[str, Any], int]]:
        """Add this batch's ``contribution`` to the job's snapshot (replacing an earlier attempt's);
        ``(the job's sum, the number of batches in it)``, or None (logged) when the snapshot could not
        be read or written. ``read``: the snapshot ``earlier_total`` returned, when nothing was written since."""
        try:
            return self._fold(s3_client, ledger, contribution, read)
        except ValueError as error:  # checked parts add up; a last guard against shapes that do not
            LOG.error("this batch's contribution to %s not added: %s", self._snapshot_uri(ledger.kind),
                      _describe(error))
            return None

    def _fold(self, s3_client, ledger: Ledger, contribution: dict[str, Any],
              read: Optional[_Snapshot]) -> Optional[tuple[dict[str, Any], int]]:
        token = uuid.uuid4().hex
        snapshot = read
        for _ in range(MAX_CONFLICTS):  # steps 1 and 2
            snapshot = snapshot or self._read(s3_client, ledger)
            if snapshot is None:
                return None
            document = self._with_contribution(snapshot, ledger, contribution, token)
            if document is None:  # unreadable own record: adding again might count it twice
                return self._reported(snapshot, ledger)
            written = self._put_snapshot(s3_client, ledger.kind, document, snapshot.etag)
            if written is None:
                return None
            if written is not False:
                break
            LOG.info("snapshot %s: another batch wrote first; reading it again", self._snapshot_uri(ledger.kind))
            snapshot = None  # read again, merge again
        else:
            LOG.error("snapshot %s not updated: another batch wrote first %d times in a row",
                      self._snapshot_uri(ledger.kind), MAX_CONFLICTS)
            return None
        current = _Snapshot(document, written)
        # Step 3: the record of what went in, for a retry of this batch after step 4. Without it the
        # contribution stays pending: counted, and replaced by a retry.
        if not self.write(s3_client, ledger.kind, contribution):
            return self._reported(current, ledger)
        for _ in range(MAX_CONFLICTS):  # step 4
            entry = current.pending.get(self.batch_id)
            if not isinstance(entry, dict) or entry.get("attempt") != token:
                break  # a later attempt of this batch replaced this one: it confirms its own
            confirmed = dict(current.document, pending={k: v for k, v in current.pending.items() if k != self.batch_id},
                             total=ledger.sum([current.document["total"], entry["value"]]))
            written = self._put_snapshot(s3_client, ledger.kind, confirmed, current.etag)
            if written is None:
                break  # stays pending (logged): counted, and moved by a retry of this batch
            if written is not False:
                current = _Snapshot(confirmed, written)
                break
            again = self._read(s3_client, ledger, own=False)
            if again is None:
                break
            current = again
        return self._reported(current, ledger)

    def _reported(self, snapshot: _Snapshot, ledger: Ledger) -> tuple[dict[str, Any], int]:
        """The job's sum as a report sees it: the confirmed total and every pending contribution."""
        total = ledger.sum([snapshot.document["total"], *(entry["value"] for entry in snapshot.pending.values())])
        return total, int(snapshot.document["batches"])

    def _others(self, snapshot: _Snapshot, ledger: Ledger) -> Optional[dict[str, Any]]:
        """Every batch's contribution but this batch's own."""
        parts = [snapshot.document["total"]]
        parts += [entry["value"] for batch, entry in snapshot.pending.items() if batch != self.batch_id]
        if self.batch_id not in snapshot.pending and isinstance(snapshot.own, dict):
            parts.append(negated(snapshot.own))  # confirmed earlier by an attempt of this batch
        elif isinstance(snapshot.own, _Unreadable) and self.batch_id not in snapshot.pending:
            LOG.warning("this batch's own record of %s cannot be read (%s): an earlier attempt of it may be in "
                        "what it starts from", ledger.kind, snapshot.own.problem)
        return ledger.sum(parts)

    def _with_contribution(self, snapshot: _Snapshot, ledger: Ledger, contribution: dict[str, Any],
                           token: str) -> Optional[dict[str, Any]]:
        document = dict(snapshot.document, pending=dict(snapshot.pending))
        if self.batch_id in document["pending"]:
            pass  # an earlier attempt stopped before confirming: replaced below
        elif isinstance(snapshot.own, _Unreadable):
            LOG.error("this batch's contribution to %s is not added: its own record from an earlier attempt "
                      "cannot be read (%s), so the job's sum may already hold it", self._snapshot_uri(ledger.kind),
                      snapshot.own.problem)
            return None
        elif isinstance(snapshot.own, dict):  # confirmed by an earlier attempt: take it out again
            document["total"] = ledger.sum([document["total"], negated(snapshot.own)])
        else:
            document["batches"] = int(document["batches"]) + 1
        document["pending"][self.batch_id] = {"attempt": token, "value": contribution}
        return document

    def _read(self, s3_client, ledger: Ledger, own: bool = True) -> Optional[_Snapshot]:
        """The kind's snapshot (built from the per-batch records when there is none or it is corrupt),
        with this batch's own record when ``own``; None (logged) when S3 could not be read."""
        key = self.snapshot_key(ledger.kind)
        try:
            response = s3_client.get_object(Bucket=self.bucket, Key=key)
        except Exception as error:  # noqa: BLE001 - state is an aid to consolidation, not a requirement
            if _code(error) not in MISSING_CODES:
                LOG.error("snapshot %s could not be read: %s", self._snapshot_uri(ledger.kind), _describe(error))
                return None
            snapshot = _Snapshot(self._rebuilt(s3_client, ledger, "there is none yet"), None)
        else:
            etag = response["ETag"]
            try:
                if int(response.get("ContentLength", 0)) > MAX_STATE_FILE_BYTES:
                    raise ValueError(f"is over the {MAX_STATE_FILE_BYTES}-byte limit")
                document = _check_snapshot(strict_json.loads(response["Body"].read()), ledger)
            except Exception as error:  # noqa: BLE001 - rebuilt below, never fatal
                LOG.error("snapshot %s is unusable (%s): rebuilding it from the batches' records",
                          self._snapshot_uri(ledger.kind), _describe(error))
                document = self._rebuilt(s3_client, ledger, "it was unusable")
            snapshot = _Snapshot(document, etag)
        if own:
            snapshot.own = self._own_record(s3_client, ledger)
        return snapshot

    def _rebuilt(self, s3_client, ledger: Ledger, why: str) -> dict[str, Any]:
        """A snapshot holding every batch record of the kind (read once: records of jobs started before
        snapshots, or the records of a snapshot that was lost), each a confirmed contribution."""
        records = list(self.earlier_batches(s3_client, ledger.kind, check=ledger.check, include_own=True))
        if records:
            LOG.info("snapshot %s built from %d batch records (%s)", self._snapshot_uri(ledger.kind), len(records), why)
        return {"version": SNAPSHOT_VERSION, "kind": ledger.kind, "batches": len(records),
                "total": ledger.sum(records), "pending": {}}

    def _own_record(self, s3_client, ledger: Ledger) -> Any:
        try:
            response = s3_client.get_object(Bucket=self.bucket, Key=self.key(ledger.kind))
        except Exception as error:  # noqa: BLE001
            if _code(error) in MISSING_CODES:
                return None
            return _Unreadable(_describe(error))
        try:
            if int(response.get("ContentLength", 0)) > MAX_STATE_FILE_BYTES:
                raise ValueError(f"is over the {MAX_STATE_FILE_BYTES}-byte limit")
            value = mapping(strict_json.loads(response["Body"].read()), "the record")
            ledger.check(value)
        except Exception as error:  # noqa: BLE001
            return _Unreadable(_describe(error))
        return value

    def _put_snapshot(self, s3_client, kind: str, document: dict[str, Any], etag: Optional[str]):
        """The new ETag; False when another batch wrote first (the condition failed); None (logged)
        when the write failed otherwise."""
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            body = json.dumps(document, allow_nan=False).encode()
            response = s3_client.put_object(Bucket=self.bucket, Key=self.snapshot_key(kind), Body=body,
                                            ContentType="application/json", **condition)
        except Exception as error:  # noqa: BLE001 - the labels matter more than the history
            if _code(error) in CONFLICT_CODES:
                return False
            LOG.error("snapshot %s not saved: %s", self._snapshot_uri(kind), _describe(error))
            return None
        return response["ETag"]

    def _snapshot_uri(self, kind: str) -> str:
        return S3Location(self.bucket, self.snapshot_key(kind)).uri

    def earlier_batches(self, s3_client, kind: str,
                        check: Optional[Callable[[dict[str, Any]], None]] = None,
                        include_own: bool = False) -> Iterator[dict[str, Any]]:
        """Every other batch's record of ``kind`` (this batch's too with ``include_own``) that reads as
        strict JSON and passes ``check`` (which raises ValueError saying what is wrong); any other file
        is logged and left out. One request per record: ``_rebuilt`` calls it once per job and kind."""
        own = None if include_own else self.key(kind)
        for key, size in self._listed(s3_client, f"{self.prefix}{kind}/"):
            if key == own or not key.endswith(".json"):
                continue
            try:
                if size > MAX_STATE_FILE_BYTES:
                    raise ValueError(f"is {size} bytes, over the {MAX_STATE_FILE_BYTES}-byte limit")
                body = s3_client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                value = mapping(strict_json.loads(body), "the file")
                if check is not None:
                    check(value)
            except Exception as error:  # noqa: BLE001 - one unusable file is left out, never fatal
                LOG.warning("ignoring state file s3://%s/%s: %s", self.bucket, key, _describe(error))
                continue
            yield value

    def _listed(self, s3_client, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every object under ``prefix``; a listing that fails part-way is logged
        and what was listed is used (the batch goes on with less history, never fails)."""
        listed: list[tuple[str, int]] = []
        try:
            for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                listed.extend((item["Key"], int(item.get("Size", 0))) for item in page.get("Contents", []))
        except Exception as error:  # noqa: BLE001 - state is an aid to consolidation, not a requirement
            LOG.warning("could not list state s3://%s/%s (%s): using the %d files listed",
                        self.bucket, prefix, _describe(error), len(listed))
        return listed


class Ledger(NamedTuple):
    """How one kind of statistics adds up across batches."""

    kind: str
    #: Raises ValueError naming the first thing wrong with a stored sum or contribution.
    check: Callable[[dict[str, Any]], None]
    #: The sum of several documents of this kind (some may be ``negated``); defaults to ``tree_sum``.
    merge: Callable[[list[dict[str, Any]]], dict[str, Any]] = None  # type: ignore[assignment]

    def sum(self, parts: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
        parts = [part for part in parts if part is not None]
        if not parts:
            return None
        return tidy((self.merge or tree_sum)(parts))


def tree_sum(parts: list[Any]) -> Any:
    """The leaf-wise sum of JSON documents of one shape: objects by key (a key one part lacks counts as
    nothing), lists element by element (an empty list as nothing), numbers added, ``IDENTITY_KEYS`` and
    other text equal in every part. ValueError when the shapes do not add up."""
    total: Any = None
    for part in parts:
        total = _add(total, part, "the document")
    return total


def _add(a: Any, b: Any, where: str, top: bool = True) -> Any:
    if a is None:
        return json.loads(json.dumps(b))  # a copy: the sum never aliases a part
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        identity = IDENTITY_KEYS if top else frozenset()
        for key, value in b.items():
            if key in identity and key in a and a[key] != value:
                raise ValueError(f"{where}: {key} {str(a[key])[:20]} and {str(value)[:20]} do not add up")
            a[key] = a[key] if key in identity and key in a else _add(a.get(key), value, f"{where}[{key[:60]!r}]",
                                                                        top=False)
        return a
    if isinstance(a, list) and isinstance(b, list):
        if not a or not b:
            return a or json.loads(json.dumps(b))
        if len(a) != len(b):
            raise ValueError(f"{where}: lists of {len(a)} and {len(b)} do not add up")
        return [_add(x, y, f"{where}[{i}]", top=False) for i, (x, y) in enumerate(zip(a, b))]
    if _number(a) and _number(b):
        return a + b
    if a == b and isinstance(a, (str, bool)):
        return a
    raise ValueError(f"{where}: {type(a).__name__} and {type(b).__name__} do not add up")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def negated(value: Any, top: bool = True) -> Any:
    """``value`` with every count negated (the top level's ``IDENTITY_KEYS`` and text kept): adding it takes
    ``value`` out."""
    if isinstance(value, dict):
        return {key: item if top and key in IDENTITY_KEYS else negated(item, top=False) for key, item in value.items()}
    if isinstance(value, list):
        return [negated(item, top=False) for item in value]
    return -value if _number(value) else value


def tidy(value: Any) -> Any:
    """Sums rounded to ``SUM_DIGITS`` decimals (integers stay integers), so what was added and taken out
    again is exactly zero."""
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tidy(item) for item in value]
    if isinstance(value, float):
        value = round(value, SUM_DIGITS)
        return 0.0 if value == 0 else value  # never -0.0
    return value


class _Unreadable:
    """This batch's own record exists but cannot be read: whether it is in the sum is unknown."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


@dataclass
class _Snapshot:
    """One read of a kind's snapshot, and of this batch's own record."""

    document: dict[str, Any]  # {"version", "kind", "batches", "total", "pending": {batch: {"attempt", "value"}}}
    etag: Optional[str]  # None: there is no snapshot yet (the next write creates it: If-None-Match: *)
    own: Any = None  # this batch's own record: None (absent), its value, or _Unreadable
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> dict[str, Any]:
        return self.document["pending"]


def _describe(error: BaseException) -> str:
    return str(error)[:300] if isinstance(error, ValueError) else f"{type(error).__name__}: {str(error)[:300]}"


def _code(error: BaseException) -> str:
    """S3's error code of a botocore ClientError ("" for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str((response.get("Error") or {}).get("Code", "")) or str(
        (response.get("ResponseMetadata") or {}).get("HTTPStatusCode", ""))


def _check_snapshot(value: Any, ledger: Ledger) -> dict[str, Any]:
    """The snapshot document if sound; ValueError naming the first thing wrong."""
    document = mapping(value, "the snapshot")
    if document.get("version") != SNAPSHOT_VERSION or document.get("kind") != ledger.kind:
        raise ValueError(f"version {str(document.get('version'))[:20]} of kind {str(document.get('kind'))[:60]!r} "
                         f"is not version {SNAPSHOT_VERSION} of {ledger.kind!r}")
    batches = document.get("batches")
    if not isinstance(batches, int) or isinstance(batches, bool):
        raise ValueError("batches is not an integer")
    count(batches, "batches", MAX_OBJECTS_PER_JOB)  # a batch holds at least one object
    if document.get("total") is not None:
        ledger.check(mapping(document["total"], "total"))
    for batch, entry in mapping(document.get("pending"), "pending").items():
        entry = mapping(entry, f"pending[{batch[:60]!r}]")
        if not isinstance(entry.get("attempt"), str):
            raise ValueError(f"pending[{batch[:60]!r}] has no attempt")
        ledger.check(mapping(entry.get("value"), f"pending[{batch[:60]!r}]"))
    return {**document, "total": document.get("total"), "pending": dict(document["pending"])}


def state_for_event(event: dict[str, Any]) -> JobState | None:
    """The job's state location, or None (logged) when the event lacks what names it."""
    try:
        return JobState.for_event(event)
    except InputError as error:
        LOG.warning("no job state for this batch (%s): workers start from scratch", error)
        return None
