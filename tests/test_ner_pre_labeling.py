"""The NER pre-labeling Lambda over a real S3 endpoint (moto's server on 127.0.0.1)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_common.s3uri import InputError
from ner_pre_labeling import handler

DATA = Path(__file__).resolve().parent.parent / "sample_data" / "ner"
PLACEHOLDER = "${DATA_PREFIX_URI}"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/ner"


@pytest.fixture(autouse=True)
def fresh_clients():
    handler.s3_client.cache_clear()  # pick up the test endpoint
    yield
    handler.s3_client.cache_clear()


def put(s3, bucket, key, body):
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def event(data_object):
    return {"version": "2018-10-06", "labelingJobArn": ARN, "dataObject": data_object}


def sample_line(bucket, number):
    """Manifest line ``number`` of the sample data, with its placeholder pointing at the test bucket."""
    line = (DATA / "manifest.jsonl").read_text(encoding="utf-8").splitlines()[number - 1]
    return json.loads(line.replace(PLACEHOLDER, f"s3://{bucket}/ner"))


def upload_sample(s3, bucket, number):
    name = f"abstract-{number:02d}"
    put(s3, bucket, f"ner/pages/{name}.jpg", (DATA / "pages" / f"{name}.jpg").read_bytes())
    put(s3, bucket, f"ner/abstracts/{name}.txt", (DATA / "abstracts" / f"{name}.txt").read_bytes())
    return sample_line(bucket, number)


def test_non_ascii_sample_abstract_round_trips_with_its_metadata(s3, bucket):
    line = upload_sample(s3, bucket, 1)
    result = handler.lambda_handler(event(line))
    expected_text = (DATA / "abstracts" / "abstract-01.txt").read_text(encoding="utf-8")
    assert result["isHumanAnnotationRequired"] == "true"
    task = result["taskInput"]
    assert task["taskObject"] == f"s3://{bucket}/ner/pages/abstract-01.jpg"
    assert task["text"] == expected_text
    assert all(ch in task["text"] for ch in "°µÅ—")
    assert task["metadata"] == {**line["metadata"], "text_file_s3_uri": f"s3://{bucket}/ner/abstracts/abstract-01.txt"}
    # Truth offsets are code points into exactly this text.
    truth = json.loads((DATA / "truth.json").read_text(encoding="utf-8"))["abstract-01"]
    last = truth["entities"][-1]
    assert task["text"][last["startOffset"]:last["endOffset"]].endswith("refining of the melt.")
    json.dumps(result)  # the response is plain JSON


def test_every_sample_line_is_accepted(s3, bucket):
    count = len((DATA / "manifest.jsonl").read_text(encoding="utf-8").splitlines())
    for number in range(1, count + 1):
        result = handler.lambda_handler(event(upload_sample(s3, bucket, number)))
        assert result["taskInput"]["metadata"]["Title"] and result["taskInput"]["text"]


def test_metadata_is_optional(s3, bucket):
    uri = put(s3, bucket, "a.txt", "Plain text.".encode())
    result = handler.lambda_handler(event({"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri}))
    assert result["taskInput"]["metadata"] == {"text_file_s3_uri": uri}
    assert result["taskInput"]["text"] == "Plain text."


def test_text_at_the_limit_is_accepted(s3, bucket):
    uri = put(s3, bucket, "big.txt", b"a" * handler.MAX_TEXT_BYTES)
    result = handler.lambda_handler(event({"source-ref": "s3://b/p.jpg", "text-file-s3-uri": uri}))
    assert len(result["taskInput"]["text"]) == handler.MAX_TEXT_BYTES


# -- bad input: each error names the thing at fault -----------------------------------------
@pytest.mark.parametrize("missing", ["source-ref", "text-file-s3-uri"])
def test_missing_key_is_named(s3, bucket, missing):
    line = {"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": f"s3://{bucket}/a.txt"}
    del line[missing]
    with pytest.raises(InputError, match=f"dataObject has no '{missing}'"):
        handler.lambda_handler(event(line))


def test_data_object_not_an_object():
    with pytest.raises(InputError, match="dataObject is missing or not an object"):
        handler.lambda_handler({"version": "2018-10-06", "dataObject": "s3://b/a.txt"})


@pytest.mark.parametrize("key, value", [
    ("source-ref", "https://example.com/p.jpg"),
    ("text-file-s3-uri", "/tmp/abstract.txt"),
    ("text-file-s3-uri", "s3://bucket-only"),
])
def test_non_s3_uri_is_named(s3, bucket, key, value):
    line = {"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": f"s3://{bucket}/a.txt", key: value}
    with pytest.raises(InputError, match=rf"dataObject.{key} '{value}' is not an S3 URI"):
        handler.lambda_handler(event(line))


def test_missing_text_file_names_the_uri(s3, bucket):
    uri = f"s3://{bucket}/ner/abstracts/nope.txt"
    with pytest.raises(InputError, match=f"abstract text file {uri} does not exist"):
        handler.lambda_handler(event({"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri}))


def test_text_file_that_is_not_utf8_names_the_uri(s3, bucket):
    uri = put(s3, bucket, "latin1.txt", "Ångström at 180 °C".encode("latin-1"))
    with pytest.raises(InputError, match=f"abstract text file {uri} is not UTF-8"):
        handler.lambda_handler(event({"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri}))


def test_oversized_text_file_names_the_uri_and_the_limit(s3, bucket):
    uri = put(s3, bucket, "huge.txt", b"a" * (handler.MAX_TEXT_BYTES + 1))
    with pytest.raises(InputError, match=rf"abstract text file {uri} is {handler.MAX_TEXT_BYTES + 1} bytes, "
                                         rf"over the {handler.MAX_TEXT_BYTES}-byte limit"):
        handler.lambda_handler(event({"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri}))


@pytest.mark.parametrize("metadata", [["Title", "x"], "Title: x", 7])
def test_metadata_that_is_not_an_object(s3, bucket, metadata):
    uri = put(s3, bucket, "a.txt", b"text")
    line = {"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri, "metadata": metadata}
    with pytest.raises(InputError, match=rf"dataObject.metadata is a {type(metadata).__name__}, not an object"):
        handler.lambda_handler(event(line))
