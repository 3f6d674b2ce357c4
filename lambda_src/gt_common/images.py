"""Checking that an S3 object is a whole image a worker's browser will show, from its first and last bytes.

Ground Truth shows images through ``grant_read_access`` in an ``<img>``: a missing, empty or
non-image object shows the worker a broken image and wastes the task, and a truncated one (an
upload cut short) shows part of the picture with the rest grey, which a worker may judge all the
same. Pre-labeling therefore checks each image it hands on with two ranged GETs, never the whole
object:

- the first ``SIGNATURE_BYTES`` bytes must start with the signature of a format every current
  browser shows: JPEG, PNG, GIF, WebP or AVIF. TIFF and PDF (formats Amazon Textract reads, so
  likely beside NER page images) and HEIC (a phone's photos) are named in the error, since browsers
  do not show them in ``<img>`` (Safari alone shows HEIC). SVG is not accepted: it is text with no
  fixed signature, and may carry script.
- the last ``END_BYTES`` bytes must hold the format's end (``FORMAT_ENDS``): JPEG's end-of-image
  marker, PNG's IEND chunk, GIF's trailer; a WebP's length is the one its RIFF header states.
  NUL bytes after the end (padding) are allowed. AVIF has no end marker and is checked by its
  signature only. A JPEG with data appended after the picture (a phone's motion photo carries its
  video there) is refused as well: from its last bytes it cannot be told from a truncated one.
- its width times height, from its header (``image_header``: JPEG, PNG and GIF), must be at most
  ``MAX_IMAGE_PIXELS``: a browser shows a larger one as a broken image (Chromium 156 decoded a PNG of
  20,000 x 20,000 pixels and none of 25,000 x 25,000, as PNG, JPEG or GIF alike). A WebP cannot be larger (16,383
  pixels a side at most); an AVIF's size is not read.

The first read is ``HEAD_BYTES``: the signature, a usual JPEG's frame header (after its EXIF block and colour
profile; one further on is not looked for, and the size is not checked), and the whole of a small image, which then
needs no second read.
"""
from __future__ import annotations

from typing import Callable

from . import image_header
from .s3uri import InputError, S3Location, error_code, read_error

SIGNATURE_BYTES = 32  # enough for every signature below, AVIF's brand list included
HEAD_BYTES = image_header.CHUNK_BYTES  # the first read: the signature, and the header that gives the size
END_BYTES = 4096  # the last bytes read for the format's end: room for padding after it
#: The most pixels an image may have: 2^28 (16,384 x 16,384), below the 400-625 million at which Chromium stopped
#: decoding (the module's docstring), leaving room for browsers with less.
MAX_IMAGE_PIXELS = 2 ** 28


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_avif(head: bytes) -> bool:
    # ISO-BMFF: a 4-byte box size, "ftyp", then the major brand and compatible brands (AVIF
    # files name "avif"/"avis" in one of them; the box fits in the bytes read).
    brands = head[8:SIGNATURE_BYTES]
    return head[4:8] == b"ftyp" and (b"avif" in brands or b"avis" in brands)


#: The major brands of HEIF files (HEIC photos among them), from their ``ftyp`` box.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
#: Formats a browser shows in <img>, each with its file signature.
SHOWN_FORMATS: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("JPEG", lambda head: head[:3] == b"\xff\xd8\xff"),
    ("PNG", lambda head: head[:8] == image_header.PNG_SIGNATURE),
    ("GIF", lambda head: head[:6] in (b"GIF87a", b"GIF89a")),
    ("WebP", _is_webp),
    ("AVIF", _is_avif),
)
#: Formats recognised only to say why they are refused.
NOT_SHOWN_FORMATS: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("TIFF", lambda head: head[:4] in (b"II*\x00", b"MM\x00*")),
    ("PDF", lambda head: head[:5] == b"%PDF-"),
    # A phone's photos (an iPhone's by default); only Safari shows them. AVIF, whose file type is the same box,
    # is recognised first.
    ("HEIC", lambda head: head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS),
)
SHOWN_NAMES = ", ".join(name for name, _ in SHOWN_FORMATS)
#: The file endings of the ``SHOWN_FORMATS``: where a file is judged by its name, not its bytes (a folder's listing,
#: a link on the review page).
SHOWN_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def _riff_length(head: bytes) -> int:
    """The length a RIFF file (WebP) states in its header: the chunk size plus its 8-byte header."""
    return int.from_bytes(head[4:8], "little") + 8


#: Per format, whether the object's last bytes (``tail``, trailing NULs removed) and its size show it whole.
FORMAT_ENDS: dict[str, Callable[[bytes, bytes, int | None], bool]] = {
    "JPEG": lambda head, tail, size: tail.endswith(b"\xff\xd9"),
    "PNG": lambda head, tail, size: b"IEND\xaeB`\x82" in tail,
    # A GIF's last block ends with a zero-length sub-block, then the trailer: 3b alone is common inside pixel data.
    "GIF": lambda head, tail, size: tail.endswith(b"\x00\x3b"),
    "WebP": lambda head, tail, size: size is None or size >= _riff_length(head),
    "AVIF": lambda head, tail, size: True,
}
FORMAT_END_NAMES = {
    "JPEG": "its end-of-image marker (ff d9)",
    "PNG": "its IEND chunk",
    "GIF": "its last block's end and trailer (00 3b)",
    "WebP": "the length its header states",
}


def image_format(head: bytes) -> str | None:
    """The browser-shown format whose signature ``head`` starts with, or None."""
    for name, matches in SHOWN_FORMATS:
        if matches(head):
            return name
    return None


def check_image(s3_client, location: S3Location, *, what: str = "image") -> str:
    """The format of the image at ``location``; InputError naming it when it is missing, empty, not an image
    or cut short."""
    head, size = _read_range(s3_client, location, what, 0, HEAD_BYTES)
    if not head:
        raise InputError(f"{what} {location.shown} is empty (0 bytes)")
    found = image_format(head)
    if found is not None:
        _check_whole(s3_client, location, what, found, head, size)
        _check_pixels(location, what, head)
        return found
    for name, matches in NOT_SHOWN_FORMATS:
        if matches(head):
            raise InputError(f"{what} {location.shown} is a {name} file, which browsers do not show; "
                             f"convert it to one of {SHOWN_NAMES}")
    raise InputError(f"{what} {location.shown} is not an image a browser shows ({SHOWN_NAMES}): "
                     f"it starts with bytes {head[:12].hex(' ')}")


def _read_range(s3_client, location: S3Location, what: str, start: int | None, length: int) -> tuple[bytes, int | None]:
    """``length`` bytes from ``start`` (None: the last ``length``) and the object's whole size (from
    Content-Range; None if not given)."""
    from botocore.exceptions import ClientError

    byte_range = f"bytes=-{length}" if start is None else f"bytes={start}-{start + length - 1}"
    try:
        response = s3_client.get_object(Bucket=location.bucket, Key=location.key, Range=byte_range)
        body = response["Body"].read(length)
    except ClientError as error:
        if error_code(error) in ("InvalidRange", "416"):  # S3's answer to a range of a 0-byte object
            raise InputError(f"{what} {location.shown} is empty (0 bytes)") from error
        raise read_error(error, location, what) from error
    size = response.get("ContentRange", "").rpartition("/")[2]
    return body, int(size) if size.isdigit() else None


def _check_whole(s3_client, location: S3Location, what: str, found: str, head: bytes, size: int | None) -> None:
    """InputError when the image's last bytes show it cut short (``FORMAT_ENDS``)."""
    if size is not None and size <= len(head):
        tail = head  # the first read held the whole object
    else:
        tail, tail_size = _read_range(s3_client, location, what, None, END_BYTES)
        size = size if size is not None else tail_size
    if FORMAT_ENDS[found](head, tail.rstrip(b"\0"), size):
        return
    length = f"{size:,} bytes" if size is not None else "its length"
    stated = f" ({_riff_length(head):,} stated)" if found == "WebP" else ""
    if found == "JPEG":  # from its end alone, a cut JPEG and one with data after the picture look the same
        raise InputError(f"{what} {location.shown} is a JPEG file that does not end as one: {length} end without "
                         f"{FORMAT_END_NAMES[found]}: it was cut short (upload it again whole) or has data after the "
                         "picture, such as a motion photo's video (save it as a plain JPEG)")
    raise InputError(f"{what} {location.shown} is a {found} file cut short: {length}{stated} end without "
                     f"{FORMAT_END_NAMES[found]}; upload it again whole")


def _check_pixels(location: S3Location, what: str, head: bytes) -> None:
    """InputError when the image's header, in its first bytes, gives more than ``MAX_IMAGE_PIXELS``. A header not
    among them says nothing: read no further for it (a JPEG's segments can be walked a chunk at a time for 16 MiB)."""
    size = image_header.pixel_size(image_header.bytes_reader(head))
    if size is None or size[0] * size[1] <= MAX_IMAGE_PIXELS:
        return
    width, height = size
    raise InputError(f"{what} {location.shown} is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} "
                     f"megapixels): browsers show an image of more than {MAX_IMAGE_PIXELS / 1e6:,.0f} megapixels as a "
                     "broken image; scale it down")
