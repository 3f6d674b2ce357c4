"""What each text in a local output folder was made from, so a re-run sees a scan replaced since.

The record is ``OUTPUT_DIR/.text-sources.json``, a JSON object mapping a text file's path in the folder
(``"abstracts/abstract-01.txt"``) to the SHA-256 of the image bytes Textract read for it::

    {"abstracts/abstract-01.txt": {"image": "abstract-01.jpg", "sha256": "9f86d0..."}}

It is written after each run (whole or not at all), with an entry for every image done: read now, or kept with an
unchanged scan, or kept without an entry (a folder written before the record was kept: its scans are taken as
unchanged and recorded as they are now). A text in S3 keeps the same fact as its own user metadata instead
(``SOURCE_ETAG``: the image's ETag), which the HeadObject that finds the text returns.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .manifest import write_atomically

RECORD_NAME = ".text-sources.json"
SOURCE_ETAG = "source-etag"  # a text object's user metadata (x-amz-meta-source-etag): the ETag of its image


class RecordError(ValueError):
    """The record file is there but unreadable; the message names it."""


def record_path(output_dir: Path) -> Path:
    return output_dir / RECORD_NAME


def load_record(path: Path) -> dict[str, dict[str, str]]:
    """The record at ``path`` ({} when there is none); RecordError when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RecordError(f"{path} could not be read: {error}") from error
    if not isinstance(data, dict) or not all(isinstance(entry, dict) for entry in data.values()):
        raise RecordError(f"{path} is not a record of this tool's (a JSON object of objects)")
    return data


def write_record(path: Path, record: dict[str, dict[str, str]]) -> None:
    body = json.dumps(dict(sorted(record.items())), ensure_ascii=False, indent=1) + "\n"
    write_atomically(path, body.encode("utf-8"))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in pieces (a kept page is hashed, not held)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
