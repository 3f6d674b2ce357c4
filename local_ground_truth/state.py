"""The job's folder in the bucket mirrored on disk, so an embedded (in-memory) endpoint can resume."""
from __future__ import annotations

from pathlib import Path


def restore(s3, bucket: str, prefix: str, folder: Path) -> int:
    """Upload what an earlier run saved under ``folder`` back to ``prefix``."""
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        s3.put_object(Bucket=bucket, Key=prefix + path.relative_to(folder).as_posix(), Body=path.read_bytes())
        count += 1
    return count


def save(s3, bucket: str, prefix: str, folder: Path) -> int:
    """Write every object under ``prefix`` to ``folder`` (same relative layout)."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            target = folder / item["Key"][len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            count += 1
    return count
