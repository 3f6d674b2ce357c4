"""Running text detection over a batch of images: one job per image, a progress bar, failures kept.

A :class:`Job` says where one image's text goes (a local file or an S3 object) and what its
manifest line will hold. :func:`run_batch` runs a ``process(job)`` callable over every job, on a
small thread pool when ``workers > 1``, with a tqdm progress bar over the images. An exception from
one job is recorded as that job's failure (its message names the image) and the batch goes on.

Ctrl-C stops the batch: images not started are not started, the ones Textract is reading are
finished (an asynchronous job stops polling), and the result says which images were not done.

:func:`local_processor` and :func:`s3_processor` build the ``process`` callables for the two
kinds of input; the Textract and S3 clients are passed in. Before Textract is called, an image is
checked: its manifest line must be one Ground Truth takes (``manifest.line_problem``), a local
image's name one an S3 key can be (``sources.name_problem``), and the image a whole JPEG or PNG
(``textract_text.check_image_bytes`` and ``check_s3_image``). An image whose text file already
exists (a non-empty local file, or an S3 object) is not read again unless ``overwrite``: its line is
kept, so running the same command again after Ctrl-C or failures reads only what is left. Text files
are written whole or not at all (``manifest.write_atomically``). A kept text whose scan has changed
since it was made (another SHA-256 than ``record`` keeps for it, or another ETag than its object's
metadata names) is read again (REDONE); one with no record (an older run's) is kept (UNRECORDED).
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from gt_common.s3uri import error_code, is_not_found

from . import textract_text
from .manifest import line_problem, manifest_line, write_atomically
from .record import SOURCE_ETAG, file_sha256, sha256
from .sources import Image, name_problem
from .textract_text import ExtractionError

READ = "read"  # process(job)'s outcomes: Textract read the page and its text was written,
KEPT = "kept"  # or its text file was already there, made from the scan as it is now (not read again),
REDONE = "redone"  # or it was there but made from another scan (since replaced): read again,
UNRECORDED = "kept-unrecorded"  # or it was there with no record of its scan (an older run's): taken as unchanged


class Interrupted(Exception):
    """A job given up because the batch is stopping (Ctrl-C): not done, and not a failure."""


@dataclass
class Job:
    image: Image
    source_ref: str
    text_uri: str
    text_path: Path | None = None  # local output (local input); None: text_uri is written with PutObject
    page_copy: Path | None = None  # local input with --copy-pages: where the image is copied
    metadata: dict[str, Any] = field(default_factory=dict)
    made_from: str | None = None  # (local) the scan's SHA-256 its kept text was recorded as made from; None: unknown
    source: str = ""  # the scan as it is now, once known: its SHA-256 (local) or ETag (S3); what the text is made from

    def manifest_line(self) -> dict[str, Any]:
        return manifest_line(self.source_ref, self.text_uri, self.metadata)


@dataclass
class Failure:
    job: Job
    message: str


@dataclass
class BatchResult:
    succeeded: list[Job]  # in the jobs' order: read now, or kept from an earlier run
    failed: list[Failure]
    kept: int = 0  # how many of ``succeeded`` had their text already
    not_done: list[Job] = field(default_factory=list)  # left when the batch was interrupted
    redone: list[Job] = field(default_factory=list)  # of ``succeeded``: read again, their scan changed since
    unrecorded: list[Job] = field(default_factory=list)  # of the kept: no record of the scan their text came from
    interrupted: bool = False


def text_or_fail(image: Image, blocks: list[dict[str, Any]]) -> str:
    text = textract_text.blocks_to_text(blocks)
    textract_text.check_text(image.label, text)
    return text


def check_job(job: Job) -> None:
    """The checks made before anything is read: the image's name (local) and its manifest line."""
    problem = (name_problem(job.image.name) if job.image.path is not None else None) or \
        line_problem(job.manifest_line())
    if problem:
        raise ExtractionError(job.image.label, problem)


def copy_page(job: Job) -> None:
    """--copy-pages: copy the image to its place in the output, unless it is that file already."""
    target = job.page_copy
    if target is None or (target.exists() and os.path.samefile(job.image.path, target)):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job.image.path, target)


def compared(made_from: str | None, source: str) -> str:
    """A kept text's outcome from what it was made from and the scan as it is now: KEPT when they are the same,
    REDONE when they differ, UNRECORDED when nothing was recorded (an older run's text: taken as unchanged)."""
    if made_from is None:
        return UNRECORDED
    return KEPT if made_from == source else REDONE


def local_processor(textract, *, overwrite: bool = False) -> Callable[[Job], str]:
    """Read the image, DetectDocumentText on its bytes, write the text file (and copy the page). A text already
    there is kept unless its scan's SHA-256 differs from the one ``job.made_from`` records."""

    def process(job: Job) -> str:
        image = job.image
        check_job(job)
        outcome = READ
        if not overwrite and job.text_path.is_file() and job.text_path.stat().st_size > 0:
            try:
                job.source = file_sha256(image.path)
            except OSError as error:
                raise ExtractionError(image.label, f"could not be read: {error.strerror or error}") from error
            outcome = compared(job.made_from, job.source)
        if outcome in (READ, REDONE):
            textract_text.check_size(image.label, image.size)
            try:
                data = image.path.read_bytes()
            except OSError as error:
                raise ExtractionError(image.label, f"could not be read: {error.strerror or error}") from error
            textract_text.check_size(image.label, len(data))
            textract_text.check_image_bytes(image.label, data)
            text = text_or_fail(image, textract_text.detect_bytes(textract, data, image=image.label))
            try:
                write_atomically(job.text_path, text.encode("utf-8"))
            except OSError as error:
                raise ExtractionError(image.label, f"could not write the output: {error}") from error
            job.source = sha256(data)  # the bytes Textract read, not the file as it may be by now
        try:
            copy_page(job)
        except OSError as error:
            raise ExtractionError(image.label, f"could not copy the page: {error}") from error
        return outcome

    return process


def s3_processor(textract, s3, *, text_bucket: str, use_sync: bool = False, overwrite: bool = False,
                 poll_interval: float = textract_text.DEFAULT_POLL_INTERVAL,
                 timeout: float = textract_text.DEFAULT_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep,
                 stop: threading.Event | None = None) -> Callable[[Job], str]:
    """Textract on the S3 object (async job, or DetectDocumentText if ``use_sync``), PutObject the text with the
    image's ETag as its ``SOURCE_ETAG`` metadata. A text already there is kept unless that metadata names another
    ETag than the image's now. ``stop`` set (Ctrl-C): a job still polling is given up (``Interrupted``)."""

    def pause(seconds: float) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted()
        sleep(seconds)
        if stop is not None and stop.is_set():
            raise Interrupted()

    def process(job: Job) -> str:
        image = job.image
        check_job(job)
        key = job.text_uri[len(f"s3://{text_bucket}/"):]
        job.source = image.etag
        outcome = READ
        if not overwrite:
            there = _head(s3, text_bucket, key, image)
            if there is not None:
                outcome = compared(there.get("Metadata", {}).get(SOURCE_ETAG), image.etag)
                if outcome == UNRECORDED and image.etag:
                    _record_source(s3, text_bucket, key, there, image)
                if outcome in (KEPT, UNRECORDED):
                    return outcome
        textract_text.check_size(image.label, image.size)
        textract_text.check_s3_image(s3, image.bucket, image.key)
        if use_sync:
            blocks = textract_text.detect_s3_sync(textract, image.bucket, image.key)
        else:
            blocks = textract_text.detect_s3_async(
                textract, image.bucket, image.key, poll_interval=poll_interval, timeout=timeout, sleep=pause,
                request_token=textract_text.start_token(image.bucket, image.key, image.etag))
        text = text_or_fail(image, blocks)
        try:
            s3.put_object(Bucket=text_bucket, Key=key, Body=text.encode("utf-8"),
                          ContentType="text/plain; charset=utf-8",
                          Metadata={SOURCE_ETAG: image.etag} if image.etag else {})
        except ClientError as error:
            details = error.response.get("Error", {})
            raise ExtractionError(image.label, f"could not write {job.text_uri}: "
                                  f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}") from error
        except BotoCoreError as error:
            raise ExtractionError(image.label, f"could not write {job.text_uri}: {error}") from error
        return outcome

    return process


def _record_source(s3, bucket: str, key: str, there: dict[str, Any], image: Image) -> None:
    """Give an older run's text (no record of its scan) its scan's ETag, as a text made now has it: the object copied
    onto itself with that metadata, its bytes and type unchanged, only if it is still the object just looked at
    (``CopySourceIfMatch``), so a later replacement of the scan is seen. A copy S3 refuses leaves it as it was."""
    try:
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                       CopySourceIfMatch=there.get("ETag", "*"), MetadataDirective="REPLACE",
                       Metadata={**there.get("Metadata", {}), SOURCE_ETAG: image.etag},
                       ContentType=there.get("ContentType", "text/plain; charset=utf-8"))
    except (ClientError, BotoCoreError):
        pass  # still kept; the next run says again that it carries no record


def _head(s3, bucket: str, key: str, image: Image) -> dict[str, Any] | None:
    """The text object's HeadObject answer (its user metadata among it), or None when it is not there yet."""
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise ExtractionError(image.label, f"could not check s3://{bucket}/{key}: {error_code(error)}") from error
    except BotoCoreError as error:
        raise ExtractionError(image.label, f"could not check s3://{bucket}/{key}: {error}") from error


def _failure(job: Job, error: BaseException) -> Failure:
    if isinstance(error, ExtractionError):
        return Failure(job, str(error))
    return Failure(job, f"{job.image.label}: unexpected {type(error).__name__}: {error}")


def run_batch(jobs: list[Job], process: Callable[[Job], Any], *, workers: int = 1,
              progress: bool = True, stream=None, stop: threading.Event | None = None) -> BatchResult:
    """Run ``process`` over ``jobs``; successes keep the jobs' order, failures are reported as they happen.

    Ctrl-C (KeyboardInterrupt) sets ``stop``, starts no other job and waits for the running ones; the result
    is then ``interrupted``, with the jobs not done in ``not_done``."""
    stream = stream if stream is not None else sys.stderr
    stop = stop if stop is not None else threading.Event()
    errors: dict[int, Failure] = {}
    outcomes: dict[int, Any] = {}
    interrupted = False
    bar = tqdm(total=len(jobs), desc="Textract", unit="image", disable=not progress, file=stream)

    def record(index: int, outcome: Any, error: BaseException | None) -> None:
        if isinstance(error, Interrupted):
            return  # not done
        if error is not None:
            errors[index] = _failure(jobs[index], error)
            bar.write(f"error: {errors[index].message}", file=stream)
        else:
            outcomes[index] = outcome
        bar.update(1)

    def record_future(index: int, future) -> None:
        error = future.exception()
        record(index, None if error else future.result(), error)

    with bar:
        if workers <= 1:
            try:
                for index, job in enumerate(jobs):
                    try:
                        outcome = process(job)
                    except Exception as error:  # noqa: BLE001 - one bad image never stops the batch
                        record(index, None, error)
                    else:
                        record(index, outcome, None)
            except KeyboardInterrupt:
                stop.set()
                interrupted = True
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textract") as pool:
                futures: dict[Any, int] = {}
                try:
                    for index, job in enumerate(jobs):  # (inside the try: a Ctrl-C while submitting is one too)
                        futures[pool.submit(process, job)] = index
                    for future in as_completed(futures):
                        record_future(futures[future], future)
                except KeyboardInterrupt:
                    stop.set()
                    interrupted = True
                    bar.write("interrupted: waiting for the images being read", file=stream)
                    pool.shutdown(wait=True, cancel_futures=True)  # no other job starts; the running ones end
                    for future, index in futures.items():
                        if index not in errors and index not in outcomes and future.done() and not future.cancelled():
                            record_future(index, future)
    return BatchResult(
        succeeded=[job for index, job in enumerate(jobs) if index in outcomes],
        failed=[errors[index] for index in sorted(errors)],
        kept=sum(1 for outcome in outcomes.values() if outcome in (KEPT, UNRECORDED)),
        not_done=[job for index, job in enumerate(jobs) if index not in outcomes and index not in errors],
        interrupted=interrupted,
        redone=[job for index, job in enumerate(jobs) if outcomes.get(index) == REDONE],
        unrecorded=[job for index, job in enumerate(jobs) if outcomes.get(index) == UNRECORDED],
    )
