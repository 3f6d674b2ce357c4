"""Adding lines to an input manifest the way a job under way can take them: at its end, every earlier byte kept.

A job numbers its objects by their lines, so the local runner takes a grown manifest only when its earlier lines are
as they were. The tools that write a manifest for the user (``local_ground_truth.folder_manifest`` for a folder of
files, ``text_extraction`` for page images and their texts) add to one with these two functions. No Lambda imports
this module (a function's bundle holds only the ``gt_common`` modules it reaches).
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from .task_record import SOURCE_REF  # the key of a line's data object in the image and text workflows' manifests


def source_refs(body: bytes, name: str) -> tuple[int, list[str]]:
    """How many objects the manifest ``body`` has (its lines that are not blank), and each line's ``source-ref`` (a
    line without one, such as a welding run's ``source``, names none); ValueError naming ``name`` and the line."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name} is not UTF-8 text ({error})") from None
    sources, objects = [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        objects += 1
        try:
            entry = json.loads(line)
        except ValueError as error:
            raise ValueError(f"{name} line {number} is not JSON ({error})") from None
        if isinstance(entry, dict) and isinstance(entry.get(SOURCE_REF), str):
            sources.append(entry[SOURCE_REF])
    return objects, sources


def appended(earlier: bytes, lines: Iterable[dict[str, Any]]) -> bytes:
    """``earlier`` as it is (a byte-order mark, CRLF line ends, a last line without its newline) and ``lines`` after
    it, a JSON object each (UTF-8, not escaped), each ending in a newline."""
    added = "".join(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n" for line in lines).encode("utf-8")
    if added and earlier and not earlier.endswith(b"\n"):
        earlier += b"\r\n" if b"\r\n" in earlier else b"\n"
    return earlier + added
