"""Checking that an S3 object is an image a worker's browser will show, from its first bytes only.

Ground Truth shows images through ``grant_read_access`` in an ``<img>``: a missing, empty or
non-image object shows the worker a broken image and wastes the task. Pre-labeling therefore
checks each image it hands on with one ranged GET of the first ``SIGNATURE_BYTES`` bytes (never
the whole object) and accepts it only if it starts with the signature of a format every current
browser shows: JPEG, PNG, GIF, WebP or AVIF. TIFF and PDF (formats Amazon Textract reads, so
likely beside NER page images) are named in the error, since browsers do not show them in
``<img>``. SVG is not accepted: it is text with no fixed signature, and may carry script.
"""
from __future__ import annotations

from typing import Callable

from .s3uri import InputError, S3Location, error_code, read_error

SIGNATURE_BYTES = 32  # enough for every signature below, AVIF's brand list included


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_avif(head: bytes) -> bool:
    # ISO-BMFF: a 4-byte box size, "ftyp", then the major brand and compatible brands (AVIF
    # files name "avif"/"avis" in one of them; the box fits in the bytes read).
    brands = head[8:SIGNATURE_BYTES]
    return head[4:8] == b"ftyp" and (b"avif" in brands or b"avis" in brands)


#: Formats a browser shows in <img>, each with its file signature.
SHOWN_FORMATS: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("JPEG", lambda head: head[:3] == b"\xff\xd8\xff"),
    ("PNG", lambda head: head[:8] == b"\x89PNG\r\n\x1a\n"),
    ("GIF", lambda head: head[:6] in (b"GIF87a", b"GIF89a")),
    ("WebP", _is_webp),
    ("AVIF", _is_avif),
)
#: Formats recognised only to say why they are refused.
NOT_SHOWN_FORMATS: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("TIFF", lambda head: head[:4] in (b"II*\x00", b"MM\x00*")),
    ("PDF", lambda head: head[:5] == b"%PDF-"),
)
SHOWN_NAMES = ", ".join(name for name, _ in SHOWN_FORMATS)


def image_format(head: bytes) -> str | None:
    """The browser-shown format whose signature ``head`` starts with, or None."""
    for name, matches in SHOWN_FORMATS:
        if matches(head):
            return name
    return None


def check_image(s3_client, location: S3Location, *, what: str = "image") -> str:
    """The format of the image at ``location``; InputError naming it when it is missing, empty or not an image."""
    from botocore.exceptions import ClientError

    try:
        response = s3_client.get_object(Bucket=location.bucket, Key=location.key,
                                        Range=f"bytes=0-{SIGNATURE_BYTES - 1}")
        head = response["Body"].read(SIGNATURE_BYTES)
    except ClientError as error:
        if error_code(error) in ("InvalidRange", "416"):  # S3's answer to a range of a 0-byte object
            raise InputError(f"{what} {location.shown} is empty (0 bytes)") from error
        raise read_error(error, location, what) from error
    if not head:
        raise InputError(f"{what} {location.shown} is empty (0 bytes)")
    found = image_format(head)
    if found is not None:
        return found
    for name, matches in NOT_SHOWN_FORMATS:
        if matches(head):
            raise InputError(f"{what} {location.shown} is a {name} file, which browsers do not show; "
                             f"convert it to one of {SHOWN_NAMES}")
    raise InputError(f"{what} {location.shown} is not an image a browser shows ({SHOWN_NAMES}): "
                     f"it starts with bytes {head[:12].hex(' ')}")
