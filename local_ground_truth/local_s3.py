"""An S3 endpoint on 127.0.0.1 and the stack's BucketDeployments replayed into it."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import boto3

from local_ground_truth.stack_reader import WorkflowSpec


@contextmanager
def s3_endpoint(url: str | None = None) -> Iterator[str]:
    """``url`` as given, or an embedded moto server on a free 127.0.0.1 port for the duration."""
    if url:
        yield url
        return
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str):
    # Local endpoints accept any credentials; real ones in the environment are left alone.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return boto3.client("s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def bucket_names(spec: WorkflowSpec) -> dict[str, str]:
    """A local bucket name per destination bucket of the stack (logical id -> name)."""
    ids = sorted({d.bucket_logical_id for d in spec.deployments})
    return {logical_id: f"local-{spec.stack_name}-{logical_id}".lower()[:63] for logical_id in ids}


def _resolve(value: Any, buckets: dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in buckets:
        return buckets[value["Ref"]]
    if isinstance(value, str):
        return value
    raise ValueError(f"deploy-time value {value!r} cannot be resolved locally")


def deploy(spec: WorkflowSpec, s3, buckets: dict[str, str]) -> int:
    """Upload every deployment's files with markers replaced, as the BucketDeployment handler would."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in buckets.values():
        if name not in existing:
            s3.create_bucket(Bucket=name)
    count = 0
    for deployment in spec.deployments:
        bucket = buckets[deployment.bucket_logical_id]
        for asset_dir, markers in zip(deployment.asset_dirs, deployment.markers):
            values = {marker: _resolve(value, buckets) for marker, value in markers.items()}
            for path in sorted(p for p in Path(asset_dir).rglob("*") if p.is_file()):
                body = path.read_bytes()
                if values:
                    text = body.decode("utf-8", errors="strict") if _is_text(body) else None
                    if text is not None:
                        for marker, value in values.items():
                            text = text.replace(marker, value)
                        body = text.encode("utf-8")
                s3.put_object(Bucket=bucket, Key=deployment.prefix + path.relative_to(asset_dir).as_posix(), Body=body)
                count += 1
    return count


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
