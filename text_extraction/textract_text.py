"""Amazon Textract text detection for one page image, and turning its LINE blocks into text.

Three ways to call Textract, all taking the client as an argument (so tests can use Stubber):

- :func:`detect_bytes`: synchronous ``DetectDocumentText`` with ``Document={"Bytes": ...}``;
- :func:`detect_s3_sync`: synchronous ``DetectDocumentText`` with ``Document={"S3Object": ...}``;
- :func:`detect_s3_async`: ``StartDocumentTextDetection`` on an S3 object, then
  ``GetDocumentTextDetection`` polled until the job leaves ``IN_PROGRESS`` and, once it has
  SUCCEEDED, followed through every ``NextToken`` so the Blocks of all result pages are collected.

Before a call, :func:`check_image_bytes` (local bytes) and :func:`check_s3_image` (three ranged GETs)
refuse what NER pre-labeling would refuse as a page image (``gt_common.images``): an empty, truncated
or non-image file, and any format but JPEG and PNG; and then, from the size in pixels its header gives
(``image_header``), an image Textract would refuse or find no text in (:func:`check_pixels`): over
``MAX_IMAGE_SIDE`` pixels on a side, or with a side under ``MIN_TEXT_HEIGHT`` pixels.

Each returns the list of Blocks. Every failure (a botocore ``ClientError`` or ``BotoCoreError``, a
job that FAILED or only partly succeeded, a job still running after ``timeout`` seconds, an image
over Textract's 10 MB limit or outside its limits in pixels) raises :class:`ExtractionError` whose
message names the image (its path or S3 URI) and the reason.

:func:`blocks_to_text` assembles the text; the rules are kept simple because an abstract is one
paragraph:

1. only Blocks with ``BlockType == "LINE"`` are used (PAGE and WORD blocks are ignored: the words
   are already in their lines);
2. lines are ordered by ``Page`` (1 when absent), then by their order in the response (Textract
   returns a page's lines in reading order);
3. each line's ``Text`` is cleaned so that NER pre-labeling takes it as it is: a bidirectional control
   (U+202A-U+202E, U+2066-U+2069, ``gt_common.shown_text.BIDI_CONTROLS``, which pre-labeling refuses) is
   dropped, a control character (tab, CR, LF, NUL, ...) becomes a space, runs of spaces become one, and
   the line is stripped; empty lines are dropped;
4. lines are joined with a single space, except that a line ending in a hyphen preceded by a
   letter (``"exam-"``) is joined without the hyphen and without a space to a next line starting
   with a lowercase letter (``"ple"``) -> ``"example"``. A genuinely hyphenated compound broken at
   its hyphen (``"well-"`` + ``"known"``) is therefore joined as ``"wellknown"``; a next line
   starting with an uppercase letter or a digit keeps the hyphen (``"COVID-"`` + ``"19"``) and
   gets a space;
5. the result has no trailing newline (like the sample data's ``abstracts/*.txt``).

:func:`check_text` refuses, naming the image, a text pre-labeling would refuse: one with nothing a
worker could see (no text, or only spaces and invisible characters) and one over
``gt_common.limits.MAX_TEXT_BYTES`` (it is not cut: a cut abstract would be labeled as if whole).
"""
from __future__ import annotations

import hashlib
import re
import time
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from gt_common import image_header, images
from gt_common.limits import MAX_TEXT_BYTES
from gt_common.s3uri import InputError, S3Location
from gt_common.shown_text import BIDI_CONTROLS, is_visible


# Textract's limits for a JPEG or PNG page, from "Set Quotas in Amazon Textract"
# (https://docs.aws.amazon.com/textract/latest/dg/limits-document.html), each checked before Textract is called:
#
# "For synchronous operations, JPEG, PNG, PDF, and TIFF files have a limit of 10 MB in memory. [...] For asynchronous
# operations, JPEG and PNG files have a limit of 10 MB in memory." (Bytes or S3Object alike; the API model caps
# Document.Bytes at the same 10,485,760 bytes.)
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# "Amazon Textract supports images with a resolution less than or equal to 10000 pixels on all sides." (One limit:
# the page gives none of its own for the synchronous or the asynchronous operations.)
MAX_IMAGE_SIDE = 10_000
# "The minimum height for text to be detected is 15 pixels. At 150 DPI, this would be the same as 8 point font."
# An image with a side shorter than that has no room for a line of such text, whichever way the line runs.
MIN_TEXT_HEIGHT = 15
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


def check_pixels(image: str, size: tuple[int, int] | None) -> None:
    """Raise ExtractionError naming ``image`` unless its ``(width, height)`` (``image_header.pixel_size``) is within
    Textract's limits: at most ``MAX_IMAGE_SIDE`` on each side, neither side under ``MIN_TEXT_HEIGHT``."""
    if size is None:
        raise ExtractionError(image, "its header gives no size in pixels (no PNG IHDR chunk or JPEG frame header "
                                     "before the image data), which Textract needs; save it again as a plain image")
    width, height = size
    pixels = f"{width:,} x {height:,} pixels"
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ExtractionError(image, f"image is {pixels}, over Textract's limit of {MAX_IMAGE_SIDE:,} pixels on a "
                                     "side; scale it down (a letter page scanned at 300 DPI is 2,550 x 3,300)")
    if min(width, height) < MIN_TEXT_HEIGHT:
        raise ExtractionError(image, f"image is {pixels}: a side under {MIN_TEXT_HEIGHT} pixels, the smallest height "
                                     "of text Textract detects; scan the page at a higher resolution")


def check_size(image: str, size: int) -> None:
    """Raise ExtractionError if an image of ``size`` bytes is over Textract's 10 MB limit."""
    if size > MAX_IMAGE_BYTES:
        raise ExtractionError(
            image, f"image is {size:,} bytes, over Textract's {MAX_IMAGE_BYTES:,}-byte (10 MB) limit")


#: The formats both Textract and a worker's browser read (Textract's others, PDF and TIFF, are not shown in <img>).
TEXTRACT_FORMATS = ("JPEG", "PNG")


def check_image_bytes(image: str, data: bytes) -> None:
    """Raise ExtractionError naming ``image`` unless ``data`` is a whole JPEG or PNG image, judged as NER
    pre-labeling judges the page image (``gt_common.images``: the format's signature and its end): an empty,
    truncated or mislabelled file would cost a Textract call and then fail in the labeling job. Then its size in
    pixels, from its header, must be within Textract's limits (:func:`check_pixels`)."""
    if not data:
        raise ExtractionError(image, "the file is empty (0 bytes)")
    head = data[:images.SIGNATURE_BYTES]
    found = images.image_format(head)
    if found not in TEXTRACT_FORMATS:
        other = found or next((name for name, matches in images.NOT_SHOWN_FORMATS if matches(head)), None)
        what = f"a {other} file" if other else f"not an image (it starts with bytes {head[:12].hex(' ')})"
        raise ExtractionError(image, f"the file is {what}, not a JPEG or PNG image; convert it to JPEG or PNG")
    if not images.FORMAT_ENDS[found](head, data[-images.END_BYTES:].rstrip(b"\0"), len(data)):
        raise ExtractionError(image, f"the file is a {found} image that does not end with "
                                     f"{images.FORMAT_END_NAMES[found]}: it was cut short, or (a JPEG) has data after "
                                     "the picture; save it again whole as a plain image")
    check_pixels(image, image_header.pixel_size(image_header.bytes_reader(data)))


def check_s3_image(s3, bucket: str, key: str) -> None:
    """As :func:`check_image_bytes` for an S3 object, with pre-labeling's own check (two ranged GETs), then its size
    in pixels from its header (a third)."""
    image = f"s3://{bucket}/{key}"
    try:
        found = images.check_image(s3, S3Location(bucket, key), what="the object")
    except InputError as error:
        raise ExtractionError(image, str(error).replace(f"the object {image} ", "the object ", 1)) from error
    except (ClientError, BotoCoreError) as error:
        raise ExtractionError(image, f"could not be read: {error}") from error
    if found not in TEXTRACT_FORMATS:
        raise ExtractionError(image, f"the object is a {found} image, which Textract does not read; "
                                     "convert it to JPEG or PNG")
    try:
        size = image_header.pixel_size(image_header.s3_reader(s3, bucket, key))
    except (ClientError, BotoCoreError) as error:
        raise ExtractionError(image, f"could not be read: {error}") from error
    check_pixels(image, size)


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


def start_token(bucket: str, key: str, etag: str) -> str:
    """StartDocumentTextDetection's ClientRequestToken for one version of one page (64 hex digits, within the
    token's 1-64 characters of [a-zA-Z0-9-_]): the same page gets the same job, a replaced scan (another ETag) a
    new one."""
    return hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode("utf-8")).hexdigest()


def detect_s3_async(
    textract,
    bucket: str,
    key: str,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    request_token: str | None = None,
) -> list[Block]:
    """StartDocumentTextDetection, poll GetDocumentTextDetection, return the Blocks of every page.

    ``request_token`` (``start_token``) makes the start idempotent: a start sent again (botocore retries one whose
    answer was lost to a network timeout) gets the job already started instead of starting, and billing, another.

    Polls every ``poll_interval`` seconds while the job is IN_PROGRESS and gives up (raising
    ExtractionError with the JobId) after ``timeout`` seconds. SUCCEEDED results are paginated:
    the first response's Blocks plus those of each ``NextToken`` request, in order.
    """
    image = f"s3://{bucket}/{key}"
    request = {"DocumentLocation": {"S3Object": {"Bucket": bucket, "Name": key}}}
    if request_token:
        request["ClientRequestToken"] = request_token
    try:
        started = textract.start_document_text_detection(**request)
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
    seen: set[str] = set()
    while next_token:
        if next_token in seen:  # a token answered before would repeat the same results for ever
            raise ExtractionError(image, f"Textract job {job_id}: GetDocumentTextDetection returned NextToken "
                                         f"{next_token[:40]!r} a second time; its results were not read whole")
        seen.add(next_token)
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


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(" {2,}")


def clean_line(text: str) -> str:
    """One line's text as the abstract holds it: no bidirectional control, control characters as single
    spaces, stripped (see the module doc)."""
    text = _CONTROLS.sub(" ", BIDI_CONTROLS.sub("", text))
    return _SPACES.sub(" ", text).strip()


def line_texts(blocks: Iterable[Block]) -> list[str]:
    """The cleaned, non-empty texts of the LINE blocks, ordered by Page then response order."""
    lines = [b for b in blocks if b.get("BlockType") == "LINE"]
    lines.sort(key=lambda b: b.get("Page") or 1)  # stable: response order within a page
    texts = (clean_line(str(b.get("Text") or "")) for b in lines)
    return [t for t in texts if t]


def check_text(image: str, text: str) -> None:
    """Raise ExtractionError naming ``image`` for a text NER pre-labeling would refuse (see the module doc)."""
    if not any(is_visible(character) for character in text):
        raise ExtractionError(image, "Textract found no text on the page (no LINE blocks with visible characters)")
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise ExtractionError(image, f"its text is {size:,} bytes (UTF-8), over the {MAX_TEXT_BYTES:,}-byte limit "
                                     "of NER pre-labeling; it was not written (not cut)")


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
