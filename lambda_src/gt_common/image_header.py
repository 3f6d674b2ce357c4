"""An image's width and height in pixels, read from its header (no image library, nothing decoded): JPEG, PNG, GIF.

PNG: the IHDR chunk, which the format puts first, holds the width and height (bytes 16-24). GIF: its logical screen
(bytes 6-10, little-endian), which every frame is drawn within. JPEG: the frame
header (an SOFn marker segment: baseline, progressive, lossless, ...) holds them; it comes after the segments an
image may start with (JFIF, EXIF, an ICC profile), so the marker segments are walked from the start, each skipped
by the length it states: only a segment's first 4 bytes are read, never its content. An S3 object is read by
ranged GETs of ``CHUNK_BYTES`` (one for a usual scan; a camera's EXIF block may take a second), as
``gt_common.images`` reads an image's first chunk.

:func:`pixel_size` returns ``(width, height)``, or None when the header gives none: no IHDR or frame header where
the format puts it, or a zero side (a JPEG whose height is given only after its image data, which Textract does
not read either). Used by pre-labeling (``gt_common.images``: an image too large for a browser to decode) and by
text extraction (Textract's limits).
"""
from __future__ import annotations

from typing import Callable

from botocore.exceptions import ClientError

from gt_common.s3uri import error_code

Reader = Callable[[int, int], bytes]  # read(start, length): up to ``length`` bytes from ``start`` (fewer at the end)

CHUNK_BYTES = 64 * 1024  # one ranged GET: a JPEG's segments before its frame header are usually well within it
MAX_SEGMENTS = 1024  # a walk that finds no frame header in this many segments (or fill bytes) is given up
#: ... or this far into the file: a camera's EXIF and colour profile end well before, while segments of 64 KiB each
#: (a file made to be walked) would otherwise cost a thousand ranged GETs.
MAX_WALK_BYTES = 16 * 1024 * 1024

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG's frame header markers SOF0-SOF15, less DHT (c4), JPG (c8) and DAC (cc), which share the range.
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_NO_LENGTH = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM and RSTn: a marker alone, no length after it
JPEG_DATA = frozenset([0xD9, 0xDA])  # EOI, SOS: the image's data (or its end) came before any frame header


def pixel_size(read: Reader) -> tuple[int, int] | None:
    """``(width, height)`` of the JPEG, PNG or GIF ``read`` reads, or None when its header gives none."""
    head = read(0, 24)
    if head.startswith(PNG_SIGNATURE):
        return _png_size(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(read)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
        return (width, height) if width and height else None
    return None


def _png_size(head: bytes) -> tuple[int, int] | None:
    if head[12:16] != b"IHDR" or len(head) < 24:
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return (width, height) if width and height else None


def _jpeg_size(read: Reader) -> tuple[int, int] | None:
    position = 2  # after SOI
    for _ in range(MAX_SEGMENTS):
        if position > MAX_WALK_BYTES:
            return None
        head = read(position, 4)
        if len(head) < 2 or head[0] != 0xFF:
            return None
        marker = head[1]
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
        elif marker in JPEG_NO_LENGTH:
            position += 2
        elif marker in JPEG_DATA or len(head) < 4:
            return None
        elif marker in JPEG_FRAME_MARKERS:
            frame = read(position + 4, 5)  # precision, height, width
            if len(frame) < 5:
                return None
            height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
            return (width, height) if width and height else None
        else:
            length = int.from_bytes(head[2:4], "big")
            if length < 2:
                return None
            position += 2 + length
    return None


def bytes_reader(data: bytes) -> Reader:
    """A Reader over bytes in memory (a local page, read whole before it is sent to Textract)."""
    return lambda start, length: data[start:start + length]


def s3_reader(s3, bucket: str, key: str) -> Reader:
    """A Reader over an S3 object by ranged GETs of ``CHUNK_BYTES``, each chunk read once. A botocore error is raised
    as it is; a start past the object's end reads nothing."""
    chunks: dict[int, bytes] = {}

    def chunk(index: int) -> bytes:
        if index not in chunks:
            start = index * CHUNK_BYTES
            try:
                response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + CHUNK_BYTES - 1}")
                chunks[index] = response["Body"].read()
            except ClientError as error:
                if error_code(error) not in ("InvalidRange", "416"):  # S3's answer to a range past the end
                    raise
                chunks[index] = b""
        return chunks[index]

    def read(start: int, length: int) -> bytes:
        data = b""
        while length > 0:
            index, offset = divmod(start, CHUNK_BYTES)
            piece = chunk(index)[offset:offset + length]
            if not piece:
                break
            data += piece
            start, length = start + len(piece), length - len(piece)
        return data

    return read
