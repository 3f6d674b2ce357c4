"""Reading and writing JSON-lines manifests in S3, one line at a time: a line that is not a JSON
object is logged with its line number and kept as it was, never dropped and never fatal."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional, Union

from gt_common import job_confidence, strict_json
from gt_common.s3uri import S3Location, parse_s3_uri, read_error, read_object

from .jobs import output_manifest_uri

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManifestLine:
    number: int  # 0-based line number among the manifest's non-empty lines
    raw: str
    value: Optional[dict[str, Any]]  # None: not a JSON object (``problem`` says why)
    problem: Optional[str] = None


def workflow_output_lines(s3, job: dict[str, Any], questions) -> list[ManifestLine]:
    """A workflow job's output manifest (``job``: its DescribeLabelingJob), every choice question's confidence the
    whole job's (``gt_common.job_confidence``: its temperature and every gold object), not only its batch's: the
    lines the start routes by and the merge writes the final manifest from."""
    lines = read_manifest(s3, parse_s3_uri(output_manifest_uri(job), what="output manifest"), "output manifest")
    revised = job_confidence.revise_lines([line.value for line in lines], job["LabelAttributeName"], questions)
    return [line if value is line.value else replace(line, value=value) for line, value in zip(lines, revised)]


def parse_lines(text: str, what: str) -> list[ManifestLine]:
    lines = []
    # JSON Lines end at "\n" only: str.splitlines would also split inside a string at U+2028 or U+0085 and
    # shift every later line's number (the review matches answers to objects by it).
    for raw in (line.rstrip("\r") for line in text.split("\n") if line.strip()):
        number = len(lines)
        try:
            value = strict_json.loads(raw)
            problem = None if isinstance(value, dict) else "is not a JSON object"
        except strict_json.JSONError as error:
            value, problem = None, f"is not JSON ({error})"
        if problem:
            LOG.error("%s line %d %s; kept as it is", what, number, problem)
            value = None
        lines.append(ManifestLine(number, raw, value, problem))
    return lines


def read_manifest(s3, location: S3Location, what: str) -> list[ManifestLine]:
    body = read_object(s3, location, what=what)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:  # read on, each bad byte as U+FFFD, and said
        LOG.error("%s %s is not all UTF-8 (%s at byte %d): each bad byte is read as U+FFFD", what, location.shown,
                  error.reason, error.start)
        text = body.decode("utf-8", errors="replace")
    return parse_lines(text, f"{what} {location.shown}")


def dumps(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def write_manifest(s3, location: S3Location, lines: Iterable[Union[str, dict[str, Any]]]) -> int:
    body = "".join(f"{line if isinstance(line, str) else dumps(line)}\n" for line in lines)
    s3.put_object(Bucket=location.bucket, Key=location.key, Body=body.encode("utf-8"),
                  ContentType="application/jsonlines")
    return body.count("\n")


def exists(s3, location: S3Location, what: str) -> bool:
    """Whether the object is there, asked as a listing of its own key: the function is granted
    s3:ListBucket for exactly that key pattern (``s3:prefix``), so a missing object reads as missing
    rather than as access denied. The key sorts first among keys it is a prefix of."""
    from botocore.exceptions import ClientError

    try:
        listed = s3.list_objects_v2(Bucket=location.bucket, Prefix=location.key, MaxKeys=1)
    except ClientError as error:
        raise read_error(error, location, what) from error
    return any(item.get("Key") == location.key for item in listed.get("Contents", []))
