"""Parsing and reading S3 URIs, with errors that name the URI at fault."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


class InputError(ValueError):
    """A data object or annotation is unusable; the message names the thing at fault and why."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: object, *, what: str = "value") -> S3Location:
    """Split ``s3://bucket/key``; raise InputError naming ``what`` and the value otherwise."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise InputError(f"{what} {uri!r} is not an S3 URI (expected s3://bucket/key)")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise InputError(f"{what} {uri!r} is not an S3 URI with both a bucket and a key")
    return S3Location(bucket, unquote(key))


def read_object(s3_client, location: S3Location, *, what: str = "object", max_bytes: int | None = None) -> bytes:
    """Return an object's bytes, turning S3's errors into an InputError that names the URI."""
    from botocore.exceptions import ClientError

    try:
        response = s3_client.get_object(Bucket=location.bucket, Key=location.key)
        if max_bytes is not None and response.get("ContentLength", 0) > max_bytes:
            raise InputError(
                f"{what} {location.uri} is {response['ContentLength']} bytes, over the {max_bytes}-byte limit")
        return response["Body"].read()
    except ClientError as error:
        raise read_error(error, location, what) from error


def read_error(error, location: S3Location, what: str) -> InputError:
    """The InputError for a failed read of ``location``: names the URI and what S3 said."""
    code = error.response.get("Error", {}).get("Code", "Unknown")
    if code in ("NoSuchKey", "404", "NotFound"):
        return InputError(f"{what} {location.uri} does not exist")
    if code in ("NoSuchBucket",):
        return InputError(f"{what} {location.uri}: bucket {location.bucket} does not exist")
    if code in ("AccessDenied", "403"):
        return InputError(f"{what} {location.uri}: access denied to the function's role")
    return InputError(f"{what} {location.uri} could not be read: {code}")
