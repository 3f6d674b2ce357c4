"""gt_common.s3uri: manifest S3 URIs are read literally, as Ground Truth reads them, and named as written."""
from __future__ import annotations

import pytest

from gt_common.s3uri import InputError, parse_s3_uri, read_object

LITERAL_KEYS = ["a%20b.json", "a b.json", "a+b.json", "a?versionId=1", "a#frag", "dir//a", "/leading", "Schweißnaht/ö.txt",
                "%E2%82%AC.txt", "a%2Fb"]


@pytest.mark.parametrize("key", LITERAL_KEYS)
def test_the_key_is_everything_after_the_bucket_byte_for_byte(key):
    uri = f"s3://bucket/{key}"
    location = parse_s3_uri(uri)
    assert (location.bucket, location.key) == ("bucket", key)
    assert location.uri == uri and location.shown == uri


@pytest.mark.parametrize("key", LITERAL_KEYS)
def test_each_literal_key_is_found_in_s3(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert read_object(s3, parse_s3_uri(f"s3://{bucket}/{key}")) == key.encode()


def test_a_percent_sequence_is_not_decoded_into_another_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b.json", Body=b"the decoded name")
    uri = f"s3://{bucket}/a%20b.json"
    with pytest.raises(InputError) as raised:
        read_object(s3, parse_s3_uri(uri), what="dataset file")
    assert str(raised.value) == f"dataset file {uri} does not exist"


@pytest.mark.parametrize("key", ["trailing ", "new\nline", "tab\there", "bell\x07"])
def test_a_uri_that_would_hide_or_forge_part_of_a_log_line_is_quoted(s3, bucket, key):
    uri = f"s3://{bucket}/{key}"
    assert parse_s3_uri(uri).shown == repr(uri)
    with pytest.raises(InputError) as raised:
        read_object(s3, parse_s3_uri(uri), what="dataset file")
    assert str(raised.value) == f"dataset file {uri!r} does not exist"


@pytest.mark.parametrize("value, message", [
    ("https://bucket/key", "is not an S3 URI"),
    ("s3://bucket", "is not an S3 URI with both a bucket and a key"),
    ("s3://bucket/", "is not an S3 URI with both a bucket and a key"),
    ("s3:///key", "has no bucket name"),
    (None, "is not an S3 URI"),
])
def test_non_uris_are_named(value, message):
    with pytest.raises(InputError, match=rf"dataObject.source-ref {value!r} {message}"):
        parse_s3_uri(value, what="dataObject.source-ref")
