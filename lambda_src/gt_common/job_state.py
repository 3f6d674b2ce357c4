"""Per-job state that outlives one consolidation batch, kept in S3 beside the job's output.

Ground Truth calls the consolidation Lambda once per batch, possibly for several batches at the
same time. Each batch writes **its own** file and readers **merge every batch's file on read**,
so concurrent batches never overwrite each other's updates and no lock or conditional write is
needed. A retried batch rewrites its own file (same name), so retries never count twice, and it
leaves its own earlier file out of what it reads.

Layout, for ``outputConfig`` = ``s3://<output>/<job>/annotations``::

    s3://<output>/<job>/annotations/consolidation-state/<kind>/<batch id>.json
    s3://<output>/<job>/quality-report/<question>.json      (job-level reports, see job_quality)

``kind`` names the statistic (``worker-model``, ``quality-<question>``); the batch id comes from the
payload's file name, which Ground Truth makes unique per batch. Files are small (a few numbers
per worker), so reading all of them each batch stays cheap for the jobs Ground Truth runs.

An earlier batch's file is data, not trusted code: it is parsed as strict JSON (no ``NaN`` or
``Infinity``, no numbers out of range, bounded nesting and size) and checked by its reader
(``earlier_batches(..., check=...)``: right shape, counts finite, non-negative and within what a
Ground Truth job can produce, see ``count``). A file that fails is logged and left out on its
own: the other batches' files still count, and the batch goes on.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from . import strict_json
from .s3uri import InputError, S3Location, parse_s3_uri

LOG = logging.getLogger(__name__)
STATE_FOLDER = "consolidation-state"
# A state file is a few numbers per worker; one far larger is not a batch's statistics.
MAX_STATE_FILE_BYTES = 16 * 1024 * 1024


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
        payload = parse_s3_uri((event.get("payload") or {}).get("s3Uri"), what="payload.s3Uri")
        name = payload.key.rsplit("/", 1)[-1].removesuffix(".json")
        # The iteration folder keeps batch ids of later iterations apart from the first's.
        iteration = payload.key.rsplit("/", 2)[-2] if payload.key.count("/") >= 2 else ""
        batch_id = re.sub(r"[^A-Za-z0-9._-]", "_", f"{iteration}-{name}" if iteration else name)
        return cls(output.bucket, f"{output.key.rstrip('/')}/{STATE_FOLDER}/", batch_id)

    @property
    def job_prefix(self) -> str:
        """``<output>/<job>/``: the folder that holds ``annotations/`` and ``manifests/``."""
        annotations = self.prefix[: -len(STATE_FOLDER) - 1]
        return annotations[: -len("annotations/")] if annotations.endswith("/annotations/") else annotations

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

    def earlier_batches(self, s3_client, kind: str,
                        check: Optional[Callable[[dict[str, Any]], None]] = None) -> Iterator[dict[str, Any]]:
        """Every other batch's file of ``kind`` that reads as strict JSON and passes ``check``
        (which raises ValueError saying what is wrong); any other file is logged and left out."""
        own = self.key(kind)
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


def _describe(error: BaseException) -> str:
    return str(error)[:300] if isinstance(error, ValueError) else f"{type(error).__name__}: {str(error)[:300]}"


def state_for_event(event: dict[str, Any]) -> JobState | None:
    """The job's state location, or None (logged) when the event lacks what names it."""
    try:
        return JobState.for_event(event)
    except InputError as error:
        LOG.warning("no job state for this batch (%s): workers start from scratch", error)
        return None
