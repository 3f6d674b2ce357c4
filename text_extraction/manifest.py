"""The augmented manifest: one JSON line per image, and the optional per-image metadata file.

A line has the shape of ``sample_data/ner/manifest.jsonl``::

    {"source-ref": "s3://bucket/ner/pages/abstract-01.jpg",
     "text-file-s3-uri": "s3://bucket/ner/abstracts/abstract-01.txt",
     "metadata": {"Title": "...", "Author": "...", "ISBN": "..."}}

The metadata file (``--metadata FILE``) is a JSON object mapping an image's file name (for example
``"abstract-01.jpg"``) to an object; an image without an entry gets ``{}``. Lines are written as
UTF-8 without escaping non-ASCII characters, one per line, each ending in a newline.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gt_common.s3uri import is_s3_uri

from .sources import SourceError, split_s3_uri


def load_metadata(path: Path) -> dict[str, dict[str, Any]]:
    """Read the metadata file; raise SourceError naming the file if it is not the expected shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SourceError(f"metadata file {path} could not be read: {error.strerror or error}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"metadata file {path} is not UTF-8 JSON: {error}") from error
    if not isinstance(data, dict):
        raise SourceError(f"metadata file {path} must hold a JSON object mapping image file names to objects")
    for name, value in data.items():
        if not isinstance(value, dict):
            raise SourceError(f"metadata file {path}: the entry for {name!r} is not a JSON object")
    return data


def manifest_line(source_ref: str, text_uri: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"source-ref": source_ref, "text-file-s3-uri": text_uri, "metadata": dict(metadata or {})}


def to_jsonl(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def write_manifest(lines: list[dict[str, Any]], destination: str, *, s3=None) -> None:
    """Write the lines to a local path or, for ``s3://bucket/key``, with PutObject through ``s3``."""
    body = to_jsonl(lines).encode("utf-8")
    if is_s3_uri(destination):
        bucket, key = split_s3_uri(destination, what="manifest location")
        if not key or key.endswith("/"):
            raise SourceError(f"manifest location {destination} must name an object, not a prefix")
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/jsonlines")
    else:
        path = Path(destination)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
