"""Running text detection over a batch of images: one job per image, a progress bar, failures kept.

A :class:`Job` says where one image's text goes (a local file or an S3 object) and what its
manifest line will hold. :func:`run_batch` runs a ``process(job)`` callable over every job, on a
small thread pool when ``workers > 1``, with a tqdm progress bar over the images. An exception from
one job is recorded as that job's failure (its message names the image) and the batch goes on.

:func:`local_processor` and :func:`s3_processor` build the ``process`` callables for the two
kinds of input; the Textract and S3 clients are passed in.
"""
from __future__ import annotations

import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from . import textract_text
from .manifest import manifest_line
from .sources import Image
from .textract_text import ExtractionError


@dataclass
class Job:
    image: Image
    source_ref: str
    text_uri: str
    text_path: Path | None = None  # local output (local input); None: text_uri is written with PutObject
    page_copy: Path | None = None  # local input with --copy-pages: where the image is copied
    metadata: dict[str, Any] = field(default_factory=dict)

    def manifest_line(self) -> dict[str, Any]:
        return manifest_line(self.source_ref, self.text_uri, self.metadata)


@dataclass
class Failure:
    job: Job
    message: str


@dataclass
class BatchResult:
    succeeded: list[Job]
    failed: list[Failure]


def text_or_fail(image: Image, blocks: list[dict[str, Any]]) -> str:
    text = textract_text.blocks_to_text(blocks)
    if not text:
        raise ExtractionError(image.label, "Textract found no text on the page (no LINE blocks)")
    return text


def local_processor(textract) -> Callable[[Job], None]:
    """Read the image, DetectDocumentText on its bytes, write the text file (and copy the page)."""

    def process(job: Job) -> None:
        image = job.image
        textract_text.check_size(image.label, image.size)
        try:
            data = image.path.read_bytes()
        except OSError as error:
            raise ExtractionError(image.label, f"could not be read: {error.strerror or error}") from error
        text = text_or_fail(image, textract_text.detect_bytes(textract, data, image=image.label))
        try:
            job.text_path.parent.mkdir(parents=True, exist_ok=True)
            job.text_path.write_text(text, encoding="utf-8")
            if job.page_copy is not None:
                job.page_copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(image.path, job.page_copy)
        except OSError as error:
            raise ExtractionError(image.label, f"could not write the output: {error}") from error

    return process


def s3_processor(textract, s3, *, text_bucket: str, use_sync: bool = False,
                 poll_interval: float = textract_text.DEFAULT_POLL_INTERVAL,
                 timeout: float = textract_text.DEFAULT_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep) -> Callable[[Job], None]:
    """Textract on the S3 object (async job, or DetectDocumentText if ``use_sync``), PutObject the text."""

    def process(job: Job) -> None:
        image = job.image
        textract_text.check_size(image.label, image.size)
        if use_sync:
            blocks = textract_text.detect_s3_sync(textract, image.bucket, image.key)
        else:
            blocks = textract_text.detect_s3_async(textract, image.bucket, image.key,
                                                   poll_interval=poll_interval, timeout=timeout, sleep=sleep)
        text = text_or_fail(image, blocks)
        key = job.text_uri[len(f"s3://{text_bucket}/"):]
        try:
            s3.put_object(Bucket=text_bucket, Key=key, Body=text.encode("utf-8"),
                          ContentType="text/plain; charset=utf-8")
        except ClientError as error:
            details = error.response.get("Error", {})
            raise ExtractionError(image.label, f"could not write {job.text_uri}: "
                                  f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}") from error
        except BotoCoreError as error:
            raise ExtractionError(image.label, f"could not write {job.text_uri}: {error}") from error

    return process


def _failure(job: Job, error: BaseException) -> Failure:
    if isinstance(error, ExtractionError):
        return Failure(job, str(error))
    return Failure(job, f"{job.image.label}: unexpected {type(error).__name__}: {error}")


def run_batch(jobs: list[Job], process: Callable[[Job], None], *, workers: int = 1,
              progress: bool = True, stream=None) -> BatchResult:
    """Run ``process`` over ``jobs``; successes keep the jobs' order, failures are reported as they happen."""
    stream = stream if stream is not None else sys.stderr
    errors: dict[int, Failure] = {}
    bar = tqdm(total=len(jobs), desc="Textract", unit="image", disable=not progress, file=stream)

    def record(index: int, error: BaseException | None) -> None:
        if error is not None:
            errors[index] = _failure(jobs[index], error)
            bar.write(f"error: {errors[index].message}", file=stream)
        bar.update(1)

    with bar:
        if workers <= 1:
            for index, job in enumerate(jobs):
                try:
                    process(job)
                except Exception as error:  # noqa: BLE001 - one bad image never stops the batch
                    record(index, error)
                else:
                    record(index, None)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textract") as pool:
                futures = {pool.submit(process, job): index for index, job in enumerate(jobs)}
                for future in as_completed(futures):
                    record(futures[future], future.exception())
    return BatchResult(
        succeeded=[job for index, job in enumerate(jobs) if index not in errors],
        failed=[errors[index] for index in sorted(errors)],
    )
