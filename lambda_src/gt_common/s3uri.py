"""Parsing and reading S3 URIs, with errors that name the URI at fault.

A manifest's S3 URIs are read the way Ground Truth reads them: literally. ``s3://bucket/key``
is split at the first ``/`` after the bucket and everything after it is the object key, byte for
byte: no percent-decoding (a key may hold a literal ``%20``), no query or fragment (``?`` and
``#`` are ordinary key characters). AWS's own Ground Truth Lambda examples do the same
(``Key = urlparse(uri).path[1:]``), manifests list keys as S3 stores them, and
``grant_read_access`` takes that same URI. So ``S3Location.uri`` is always the URI exactly as
the manifest wrote it, and every error names that.
"""
from __future__ import annotations

from dataclasses import dataclass

S3_SCHEME = "s3://"


#: The longest message an ``InputError`` keeps, a last guard (errors quote at most the start of a long value): it names
#: the object first, and quoting a 1 MB line whole made a 2 MB message, past what Lambda returns as an error and logs
#: as one event, so the part that names the object could be lost.
MAX_MESSAGE_CHARACTERS = 10_000


class InputError(ValueError):
    """A data object or annotation is unusable; the message names the thing at fault and why (the middle of a
    message over ``MAX_MESSAGE_CHARACTERS`` is left out, and says how much)."""

    def __init__(self, message: object = "", *args: object) -> None:
        text = str(message)
        if len(text) > MAX_MESSAGE_CHARACTERS:
            tail = MAX_MESSAGE_CHARACTERS // 5
            text = (f"{text[:MAX_MESSAGE_CHARACTERS - tail]} [... {len(text) - MAX_MESSAGE_CHARACTERS:,} characters "
                    f"left out ...] {text[-tail:]}")
        super().__init__(text, *args)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """``s3://bucket/key``: for a parsed URI, exactly the string that was parsed."""
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    @property
    def shown(self) -> str:
        """The URI for a message: as written, quoted only when it holds characters that would
        hide or forge part of it in a log line (whitespace at either end, control characters)."""
        uri = self.uri
        if uri != uri.strip() or not uri.isprintable():
            return repr(uri)
        return uri


def is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(S3_SCHEME)


def parse_s3_uri(uri: object, *, what: str = "value", folder: bool = False) -> S3Location:
    """Split ``s3://bucket/key`` literally; raise InputError naming ``what`` and the value otherwise.

    With ``folder``, the URI names a prefix and its key may be empty (``s3://bucket`` is the whole
    bucket)."""
    if not is_s3_uri(uri):
        expected = "s3://bucket/prefix/" if folder else "s3://bucket/key"
        raise InputError(f"{what} {uri!r} is not an S3 URI (expected {expected})")
    bucket, _, key = uri[len(S3_SCHEME):].partition("/")
    if not bucket:
        raise InputError(f"{what} {uri!r} has no bucket name")
    if not key and not folder:
        raise InputError(f"{what} {uri!r} is not an S3 URI with both a bucket and a key")
    return S3Location(bucket, key)


def get_object(s3_client, location: S3Location, *, what: str = "object", max_bytes: int | None = None,
               limit_reason: str = "", **conditions) -> dict | None:
    """GetObject of ``location`` (with ``conditions`` such as IfNoneMatch): the response, its body unread, or None
    when a condition answers "not modified". S3's errors, and an object over ``max_bytes`` (its body closed unread;
    ``limit_reason`` says why that limit), become an InputError that names the URI."""
    from botocore.exceptions import ClientError

    try:
        response = s3_client.get_object(Bucket=location.bucket, Key=location.key, **conditions)
    except ClientError as error:
        if conditions and error_code(error) in ("304", "NotModified"):
            return None
        raise read_error(error, location, what) from error
    size = response.get("ContentLength", 0)
    if max_bytes is not None and size > max_bytes:
        response["Body"].close()
        raise InputError(f"{what} {location.shown} is {size:,} bytes, over the {max_bytes:,}-byte limit{limit_reason}")
    return response


def read_object(s3_client, location: S3Location, *, what: str = "object", max_bytes: int | None = None) -> bytes:
    """Return an object's bytes, turning S3's errors into an InputError that names the URI."""
    from botocore.exceptions import ClientError

    response = get_object(s3_client, location, what=what, max_bytes=max_bytes)
    try:
        return response["Body"].read()
    except ClientError as error:
        raise read_error(error, location, what) from error


def error_code(error) -> str:
    """S3's error code from a botocore ClientError ("Unknown" when it has none)."""
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def is_not_found(error) -> bool:
    """Whether a botocore ClientError says the object is not there (GetObject's NoSuchKey, HeadObject's 404)."""
    return error_code(error) in ("NoSuchKey", "404", "NotFound")


def read_error(error, location: S3Location, what: str) -> InputError:
    """The InputError for a failed read of ``location``: names the URI and what S3 said."""
    code = error_code(error)
    if is_not_found(error):
        return InputError(f"{what} {location.shown} does not exist")
    if code in ("NoSuchBucket",):
        return InputError(f"{what} {location.shown}: bucket {location.bucket} does not exist")
    if code in ("AccessDenied", "403"):
        return InputError(f"{what} {location.shown}: access denied to the function's role")
    return InputError(f"{what} {location.shown} could not be read: {code}")
