"""The marker a data folder's text files (its manifest, the JSON files beside it) write for the folder's own address
in S3: ``ManifestBucket`` replaces it with ``s3://<bucket>/<data prefix>`` when it deploys the folder. Defined here
alone, importable without aws_cdk, for the tools that write data folders (the sample-data generators, text
extraction, the scaffold, ``local_ground_truth.folder_manifest``)."""
from __future__ import annotations

from typing import Optional

DATA_PREFIX_PLACEHOLDER = "${DATA_PREFIX_URI}"


#: The longest key S3 takes, in UTF-8 bytes.
MAX_KEY_BYTES = 1024


def name_problem(relative: str, prefix: str = "") -> Optional[str]:
    """Why a data folder's file named ``relative`` (its "/"-separated path in the folder; ``prefix``: the data prefix
    it goes under) cannot be uploaded and named in a manifest as it is called, in words ending "rename it" (or close);
    None when it can. A line break in a key is
    refused by the local S3 endpoint (the whole run ended on it) and splits every listing that prints the name; a
    marker in a name (``${DATA_PREFIX_URI}``) would be filled in by the deployment, naming a file that is not there."""
    if any(ord(character) < 32 or ord(character) == 127 for character in relative):
        return "its name holds a line break, a tab or another control character: rename it"
    if "${" in relative:
        return (f"its name holds '${{', which the deployment reads as the start of a marker such as "
                f"{DATA_PREFIX_PLACEHOLDER} and fills in: rename it")
    key = len((prefix + relative).encode("utf-8"))
    if key > MAX_KEY_BYTES:  # the local endpoint took it; S3 refuses it, and the deployment with it
        return (f"its key ({'the data prefix ' + repr(prefix) + ' and ' if prefix else ''}its path) is {key:,} bytes, "
                f"over S3's {MAX_KEY_BYTES:,}: rename it, or its folders, shorter")
    return None
