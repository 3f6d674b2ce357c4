"""Amazon Textract text detection for one page image, and turning its LINE blocks into text.

Three ways to call Textract, all taking the client as an argument (so tests can use Stubber):

- :func:`detect_bytes`: synchronous ``DetectDocumentText`` with ``Document={"Bytes": ...}``;
- :func:`detect_s3_sync`: synchronous ``DetectDocumentText`` with ``Document={"S3Object": ...}``;
- :func:`detect_s3_async`: ``StartDocumentTextDetection`` on an S3 object, then
  ``GetDocumentTextDetection`` polled until the job leaves ``IN_PROGRESS`` and, once it has
  SUCCEEDED, followed through every ``NextToken`` so the Blocks of all result pages are collected.

Each returns the list of Blocks. Every failure (a botocore ``ClientError`` or ``BotoCoreError``, a
job that FAILED or only partly succeeded, a job still running after ``timeout`` seconds, an image
over Textract's 10 MB limit) raises :class:`ExtractionError` whose message names the image (its
path or S3 URI) and the reason.

:func:`blocks_to_text` assembles the text; the rules are kept simple because an abstract is one
paragraph:

1. only Blocks with ``BlockType == "LINE"`` are used (PAGE and WORD blocks are ignored: the words
   are already in their lines);
2. lines are ordered by ``Page`` (1 when absent), then by their order in the response (Textract
   returns a page's lines in reading order);
3. each line's ``Text`` is stripped; empty lines are dropped;
4. lines are joined with a single space, except that a line ending in a hyphen preceded by a
   letter (``"exam-"``) is joined without the hyphen and without a space to a next line starting
   with a lowercase letter (``"ple"``) -> ``"example"``. A genuinely hyphenated compound broken at
   its hyphen (``"well-"`` + ``"known"``) is therefore joined as ``"wellknown"``; a next line
   starting with an uppercase letter or a digit keeps the hyphen (``"COVID-"`` + ``"19"``) and
   gets a space;
5. the result has no trailing newline (like the sample data's ``abstracts/*.txt``).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

# Textract's limit for a JPEG/PNG image, synchronous (Bytes or S3Object) and asynchronous alike;
# the API model caps Document.Bytes at the same 10,485,760 bytes.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_TIMEOUT = 900.0

Block = dict[str, Any]


class ExtractionError(Exception):
    """Text detection failed for one image; ``str()`` names the image and the reason."""

    def __init__(self, image: str, reason: str):
        super().__init__(f"{image}: {reason}")
        self.image = image
        self.reason = reason


def _client_error_reason(operation: str, error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "Unknown")
        message = details.get("Message")
        return f"Textract {operation} failed: {code}" + (f": {message}" if message else "")
    return f"Textract {operation} failed: {error}"


def check_size(image: str, size: int) -> None:
    """Raise ExtractionError if an image of ``size`` bytes is over Textract's 10 MB limit."""
    if size > MAX_IMAGE_BYTES:
        raise ExtractionError(
            image, f"image is {size:,} bytes, over Textract's {MAX_IMAGE_BYTES:,}-byte (10 MB) limit")


def detect_bytes(textract, data: bytes, *, image: str) -> list[Block]:
    """Synchronous DetectDocumentText on in-memory image bytes; ``image`` names it in errors."""
    check_size(image, len(data))
    try:
        response = textract.detect_document_text(Document={"Bytes": data})
    except (ClientError, BotoCoreError) as error:
        raise ExtractionError(image, _client_error_reason("DetectDocumentText", error)) from error
    return list(response.get("Blocks", []))


def detect_s3_sync(textract, bucket: str, key: str) -> list[Block]:
    """Synchronous DetectDocumentText on an S3 object (Textract reads it with the caller's rights)."""
    image = f"s3://{bucket}/{key}"
    try:
        response = textract.detect_document_text(Document={"S3Object": {"Bucket": bucket, "Name": key}})
    except (ClientError, BotoCoreError) as error:
        raise ExtractionError(image, _client_error_reason("DetectDocumentText", error)) from error
    return list(response.get("Blocks", []))


def detect_s3_async(
    textract,
    bucket: str,
    key: str,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Block]:
    """StartDocumentTextDetection, poll GetDocumentTextDetection, return the Blocks of every page.

    Polls every ``poll_interval`` seconds while the job is IN_PROGRESS and gives up (raising
    ExtractionError with the JobId) after ``timeout`` seconds. SUCCEEDED results are paginated:
    the first response's Blocks plus those of each ``NextToken`` request, in order.
    """
    image = f"s3://{bucket}/{key}"
    try:
        started = textract.start_document_text_detection(
            DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}})
    except (ClientError, BotoCoreError) as error:
        raise ExtractionError(image, _client_error_reason("StartDocumentTextDetection", error)) from error
    job_id = started["JobId"]

    deadline = clock() + timeout
    while True:
        response = _get_results(textract, image, job_id, None)
        status = response.get("JobStatus")
        if status != "IN_PROGRESS":
            break
        if clock() >= deadline:
            raise ExtractionError(image, f"Textract job {job_id} still IN_PROGRESS after {timeout:g} s")
        sleep(poll_interval)

    if status != "SUCCEEDED":
        reason = response.get("StatusMessage") or _warnings_text(response) or "no StatusMessage"
        raise ExtractionError(image, f"Textract job {job_id} {status}: {reason}")

    blocks = list(response.get("Blocks", []))
    next_token = response.get("NextToken")
    while next_token:
        response = _get_results(textract, image, job_id, next_token)
        blocks.extend(response.get("Blocks", []))
        next_token = response.get("NextToken")
    return blocks


def _get_results(textract, image: str, job_id: str, next_token: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"JobId": job_id}
    if next_token:
        kwargs["NextToken"] = next_token
    try:
        return textract.get_document_text_detection(**kwargs)
    except (ClientError, BotoCoreError) as error:
        raise ExtractionError(
            image, _client_error_reason(f"GetDocumentTextDetection (job {job_id})", error)) from error


def _warnings_text(response: dict[str, Any]) -> str:
    return "; ".join(
        f"{w.get('ErrorCode', 'warning')} on pages {w.get('Pages', [])}" for w in response.get("Warnings", []))


def line_texts(blocks: Iterable[Block]) -> list[str]:
    """The stripped, non-empty texts of the LINE blocks, ordered by Page then response order."""
    lines = [b for b in blocks if b.get("BlockType") == "LINE"]
    lines.sort(key=lambda b: b.get("Page") or 1)  # stable: response order within a page
    texts = (str(b.get("Text") or "").strip() for b in lines)
    return [t for t in texts if t]


def join_lines(lines: Iterable[str]) -> str:
    """Join lines with single spaces, rejoining a word hyphenated at a line end (see module doc)."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif len(text) >= 2 and text.endswith("-") and text[-2].isalpha() and line[0].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text


def blocks_to_text(blocks: Iterable[Block]) -> str:
    """The page text as one paragraph: LINE blocks in order, joined as :func:`join_lines` does."""
    return join_lines(line_texts(blocks))
