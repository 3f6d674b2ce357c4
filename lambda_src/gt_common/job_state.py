"""Per-job state that outlives one consolidation batch, kept in S3 beside the job's output.

Ground Truth calls the consolidation Lambda once per batch, possibly for several batches at the
same time. Each batch writes **its own** file and readers **merge every batch's file on read**,
so concurrent batches never overwrite each other's updates and no lock or conditional write is
needed. A retried batch rewrites its own file (same name), so retries never count twice, and it
leaves its own earlier file out of what it reads.

Layout, for ``outputConfig`` = ``s3://<output>/<job>/annotations``::

    s3://<output>/<job>/annotations/consolidation-state/<kind>/<batch id>.json
    s3://<output>/<job>/quality-report/<question>.json      (job-level reports, see job_quality)

``kind`` names the statistic (``worker-model``, ``quality``); the batch id comes from the
payload's file name, which Ground Truth makes unique per batch. Files are small (a few numbers
per worker), so reading all of them each batch stays cheap for the jobs Ground Truth runs.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterator

from .s3uri import InputError, S3Location, parse_s3_uri

LOG = logging.getLogger(__name__)
STATE_FOLDER = "consolidation-state"


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

    def write(self, s3_client, kind: str, value: dict[str, Any]) -> None:
        s3_client.put_object(Bucket=self.bucket, Key=self.key(kind), Body=json.dumps(value).encode(),
                             ContentType="application/json")

    def earlier_batches(self, s3_client, kind: str) -> Iterator[dict[str, Any]]:
        """Every other batch's file of ``kind``; an unreadable one is logged and left out."""
        own = self.key(kind)
        paginator = s3_client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}{kind}/"):
            for item in page.get("Contents", []):
                if item["Key"] == own or not item["Key"].endswith(".json"):
                    continue
                try:
                    body = s3_client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                    value = json.loads(body)
                    if not isinstance(value, dict):
                        raise ValueError("not a JSON object")
                except (ValueError, s3_client.exceptions.NoSuchKey) as error:
                    LOG.warning("ignoring state file s3://%s/%s: %s", self.bucket, item["Key"], error)
                    continue
                yield value


def state_for_event(event: dict[str, Any]) -> JobState | None:
    """The job's state location, or None (logged) when the event lacks what names it."""
    try:
        return JobState.for_event(event)
    except InputError as error:
        LOG.warning("no job state for this batch (%s): workers start from scratch", error)
        return None
