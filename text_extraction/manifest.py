"""The augmented manifest: one JSON line per image, and the optional per-image metadata file.

A line has the shape of ``sample_data/ner/manifest.jsonl``::

    {"source-ref": "s3://bucket/ner/pages/abstract-01.jpg",
     "text-file-s3-uri": "s3://bucket/ner/abstracts/abstract-01.txt",
     "metadata": {"Title": "...", "Author": "...", "ISBN": "..."}}

The metadata file (``--metadata FILE``) is a JSON object mapping an image's file name (for example
``"abstract-01.jpg"``) to an object; an image without an entry gets ``{}``. Names are matched in Unicode's
composed form (NFC, ``metadata_name``): macOS keeps "é" in a file name as "e" and a combining accent, while the
same name typed into the file is one character. Its values are what the
worker's page shows beside the text, so each is text, a number, true/false or null: a list or an
object is refused (NER pre-labeling refuses it), and so are NaN and Infinity, which are not JSON
and would make the manifest unreadable. A leading byte-order mark is dropped. Lines are written as
UTF-8 without escaping non-ASCII characters, one per line, each ending in a newline; a line over
Ground Truth's ``MAX_MANIFEST_LINE_BYTES`` is refused by :func:`line_problem`. A local manifest is written to
a temporary file beside it and then renamed into place, so it is never left half written.
"""
from __future__ import annotations

import json
import os
import threading
import unicodedata
from pathlib import Path
from typing import Any

from gt_common.limits import MAX_MANIFEST_LINE_BYTES
from gt_common.input_manifest import SOURCE_REF
from gt_common.s3uri import is_s3_uri
from gt_common.shown_text import TEXT_FILE_KEY

from .sources import SourceError, split_s3_uri


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def metadata_name(name: str) -> str:
    """An image's name as metadata is looked up by (and keyed in ``load_metadata``): its composed form (NFC)."""
    return unicodedata.normalize("NFC", name)


def load_metadata(path: Path) -> dict[str, dict[str, Any]]:
    """Read the metadata file, keyed by ``metadata_name``; raise SourceError naming the file (and the entry) if it
    is not the expected shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"), parse_constant=_not_json)
    except OSError as error:
        raise SourceError(f"metadata file {path} could not be read: {error.strerror or error}") from error
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError, as is NaN's
        raise SourceError(f"metadata file {path} is not UTF-8 JSON: {error}") from error
    if not isinstance(data, dict):
        raise SourceError(f"metadata file {path} must hold a JSON object mapping image file names to objects")
    for name, value in data.items():
        if not isinstance(value, dict):
            raise SourceError(f"metadata file {path}: the entry for {name!r} is not a JSON object")
        for key, item in value.items():
            if isinstance(item, (list, dict)):
                raise SourceError(f"metadata file {path}: {name!r} has {key!r} as a "
                                  f"{'list' if isinstance(item, list) else 'JSON object'}; give text or a number, "
                                  "which the worker's page shows")
    keyed: dict[str, dict[str, Any]] = {}
    for name, value in data.items():
        if metadata_name(name) in keyed:
            raise SourceError(f"metadata file {path}: {name!r} is written twice (once with composed accents, once "
                              "with combining ones); keep one entry")
        keyed[metadata_name(name)] = value
    return keyed


def manifest_line(source_ref: str, text_uri: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {SOURCE_REF: source_ref, TEXT_FILE_KEY: text_uri, "metadata": dict(metadata or {})}


def to_json(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, allow_nan=False)


def to_jsonl(lines: list[dict[str, Any]]) -> str:
    return "".join(to_json(line) + "\n" for line in lines)


def line_problem(line: dict[str, Any]) -> str | None:
    """Why Ground Truth would not take ``line``, or None: over ``MAX_MANIFEST_LINE_BYTES`` (long metadata)."""
    size = len(to_json(line).encode("utf-8"))
    if size > MAX_MANIFEST_LINE_BYTES:
        return (f"its manifest line would be {size:,} bytes, over Ground Truth's {MAX_MANIFEST_LINE_BYTES:,}-byte "
                "limit on a line; shorten its metadata")
    return None


def write_manifest(lines: list[dict[str, Any]], destination: str, *, s3=None) -> None:
    """Write the lines to a local path or, for ``s3://bucket/key``, with PutObject through ``s3``."""
    write_manifest_body(to_jsonl(lines).encode("utf-8"), destination, s3=s3)


def read_manifest(destination: str, *, s3=None) -> bytes | None:
    """The manifest at a local path or ``s3://bucket/key`` as it is now; None when there is none."""
    if is_s3_uri(destination):
        bucket, key = split_s3_uri(destination, what="manifest location")
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
    path = Path(destination)
    return path.read_bytes() if path.is_file() else None


def write_manifest_body(body: bytes, destination: str, *, s3=None) -> None:
    """Write a manifest's bytes to a local path or, for ``s3://bucket/key``, with PutObject through ``s3``."""
    if is_s3_uri(destination):
        bucket, key = split_s3_uri(destination, what="manifest location")
        if not key or key.endswith("/"):
            raise SourceError(f"manifest location {destination} must name an object, not a prefix")
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/jsonlines")
    else:
        write_atomically(Path(destination), body)


def write_atomically(path: Path, body: bytes) -> None:
    """Write ``body`` to a temporary file in ``path``'s folder and rename it over ``path``: an interrupted
    run leaves the old file or the new one, never part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named per process and thread (not tempfile's, which is private to the owner: the file keeps the umask's mode).
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        temporary.write_bytes(body)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
