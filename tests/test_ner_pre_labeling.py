"""The NER pre-labeling Lambda over a real S3 endpoint (moto's server on 127.0.0.1)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_common import limits
from gt_common.s3uri import InputError
from gt_common.labeling_job import job_name_of_event
from gt_common.task_record import RECORDS_ENV, data_object_of, read_record
from ner_pre_labeling import handler

DATA = Path(__file__).resolve().parent.parent / "sample_data" / "ner"
PAGE_JPEG = (DATA / "pages" / "abstract-01.jpg").read_bytes()
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
    last = truth["abstract"][-1]
    assert task["text"][last["startOffset"]:last["endOffset"]].endswith("refining of the melt.")
    json.dumps(result)  # the response is plain JSON


def test_every_sample_line_is_accepted(s3, bucket):
    count = len((DATA / "manifest.jsonl").read_text(encoding="utf-8").splitlines())
    for number in range(1, count + 1):
        result = handler.lambda_handler(event(upload_sample(s3, bucket, number)))
        assert result["taskInput"]["metadata"]["Title"] and result["taskInput"]["text"]


def line_for(s3, bucket, text: bytes, page: bytes = PAGE_JPEG, name: str = "a") -> dict:
    """A manifest line whose page image and text file exist in ``bucket``."""
    return {"source-ref": put(s3, bucket, f"ner/pages/{name}.jpg", page),
            "text-file-s3-uri": put(s3, bucket, f"ner/abstracts/{name}.txt", text)}


def test_metadata_is_optional(s3, bucket):
    uri = put(s3, bucket, "a.txt", "Plain text.".encode())
    page = put(s3, bucket, "p.jpg", PAGE_JPEG)
    result = handler.lambda_handler(event({"source-ref": page, "text-file-s3-uri": uri}))
    assert result["taskInput"]["metadata"] == {"text_file_s3_uri": uri}
    assert result["taskInput"]["text"] == "Plain text."


def test_the_page_image_may_be_named_by_source_as_ground_truth_allows_but_not_twice(s3, bucket):
    line = line_for(s3, bucket, "Plain text.".encode())
    page = line.pop("source-ref")
    result = handler.lambda_handler(event({"source": page, **line}))
    assert result["taskInput"]["taskObject"] == page and result["taskInput"]["text"] == "Plain text."
    with pytest.raises(InputError, match="dataObject names its data object twice, by both 'source-ref' and 'source'"):
        handler.lambda_handler(event({"source": page, "source-ref": page, **line}))


def test_text_at_the_limit_is_accepted(s3, bucket):
    assert handler.MAX_TEXT_BYTES is limits.MAX_TEXT_BYTES  # one limit, shared with consolidation
    result = handler.lambda_handler(event(line_for(s3, bucket, b"a" * limits.MAX_TEXT_BYTES)))
    assert len(result["taskInput"]["text"]) == limits.MAX_TEXT_BYTES


# -- bad input: each error names the thing at fault -----------------------------------------
@pytest.mark.parametrize("missing", ["source-ref", "text-file-s3-uri"])
def test_missing_key_is_named(s3, bucket, missing):
    line = {"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": f"s3://{bucket}/a.txt"}
    del line[missing]
    said = "has neither 'source-ref' nor 'source'" if missing == "source-ref" else f"has no '{missing}'"
    with pytest.raises(InputError, match=f"dataObject {said}"):
        handler.lambda_handler(event(line))
    line[missing] = None  # there, but null: said so (it read "has no 'x' (keys: [..., 'x'])")
    with pytest.raises(InputError, match=f"dataObject's '{missing}' is null: give the S3 URI it names"):
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
    with pytest.raises(InputError, match=rf"abstract text file {uri} is {handler.MAX_TEXT_BYTES + 1:,} bytes, "
                                         rf"over the {handler.MAX_TEXT_BYTES:,}-byte limit"):
        handler.lambda_handler(event({"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri}))


@pytest.mark.parametrize("metadata", [["Title", "x"], "Title: x", 7])
def test_metadata_that_is_not_an_object(s3, bucket, metadata):
    uri = put(s3, bucket, "a.txt", b"text")
    line = {"source-ref": f"s3://{bucket}/p.jpg", "text-file-s3-uri": uri, "metadata": metadata}
    with pytest.raises(InputError, match=rf"dataObject.metadata is a {type(metadata).__name__}, not an object"):
        handler.lambda_handler(event(line))


# -- the text as the worker's page holds it -------------------------------------------------
@pytest.mark.parametrize("raw, shown", [
    (b"Background: a.\r\nMethods: b.\r\n", "Background: a.\nMethods: b.\n"),
    (b"Background: a.\rMethods: b.\r\rResults: c.", "Background: a.\nMethods: b.\n\nResults: c."),
    (b"\xef\xbb\xbfBackground: a.", "Background: a."),  # a byte-order mark is an encoding marker, not text
    ("</script><script>alert(1)</script> <!-- \"q\" 'q' 𝔼[X] 🌊".encode(),
     "</script><script>alert(1)</script> <!-- \"q\" 'q' 𝔼[X] 🌊"),  # markup is data: passed on unchanged
])
def test_text_is_returned_as_the_page_will_hold_it(s3, bucket, raw, shown):
    assert handler.lambda_handler(event(line_for(s3, bucket, raw)))["taskInput"]["text"] == shown


@pytest.mark.parametrize("raw, message", [
    (b"", "holds no text"),
    (b" \r\n\t\n", "holds no text"),
    (b"Background: a.\nMethods: b\x00c.", r"holds a NUL character \(line 2, column 11\): it is binary or UTF-16"),
    ("Background".encode("utf-16-le"), r"holds a NUL character \(line 1, column 2\)"),
    # A right-to-left override would show "Results" where the offsets hold "stluseR" (and so on).
    ("Methods: x.\r\nResults: \u202egnihton\u202c.".encode(),
     r"holds U\+202E RIGHT-TO-LEFT OVERRIDE \(line 2, column 10\): a bidirectional control reorders how the text "
     r"is shown, so the spans workers mark would not be the words they see; remove it$"),
    ("a \u2067isolate\u2069".encode(), r"holds U\+2067 RIGHT-TO-LEFT ISOLATE \(line 1, column 3\)"),
    (("\u200b" * 100 + "\u2060" * 10 + " \u200f \u200e\n").encode(),
     r"holds no visible text, only spaces and invisible characters \(such as U\+200B ZERO WIDTH SPACE\): workers "
     r"would see an empty text$"),
])
def test_text_that_cannot_be_shown_is_named(s3, bucket, raw, message):
    line = line_for(s3, bucket, raw)
    with pytest.raises(InputError, match=rf"abstract text file {line['text-file-s3-uri']} {message}"):
        handler.lambda_handler(event(line))


@pytest.mark.parametrize("value, kind", [(["a", {"b": 1}], "a list"), ({"first": "Ada"}, "an object")])
def test_metadata_that_the_page_would_show_as_code_is_refused_by_key(s3, bucket, value, kind):
    line = {**line_for(s3, bucket, b"Background: a."), "metadata": {"Title": "T", "Author": value}}
    with pytest.raises(InputError, match=rf"^dataObject.metadata.Author is {kind}: give text or a number"):
        handler.lambda_handler(event(line))


def test_direction_marks_are_text_a_page_shows_in_order(s3, bucket):
    text = "\u05e9\u05dc\u05d5\u05dd\u200e (shalom) \u200fok."
    assert handler.lambda_handler(event(line_for(s3, bucket, text.encode())))["taskInput"]["text"] == text


def test_shown_text_length_is_recorded_in_code_points(s3, bucket, monkeypatch):
    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/derived/task-records/")
    line = {**line_for(s3, bucket, "Résumé 🌊\r\n𝔼[X] ≈ 3.".encode()), "metadata": {"Title": "T"}}
    text = handler.lambda_handler(event(line))["taskInput"]["text"]
    assert text == "Résumé 🌊\n𝔼[X] ≈ 3."
    # 18 code points (the CR dropped); 20 UTF-16 units and 27 bytes would be the wrong counts.
    assert read_record(s3, data_object_of(line), job_name_of_event(event(line))) == {"textLength": 18}


def test_nothing_is_recorded_without_a_records_folder(s3, bucket, monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    handler.lambda_handler(event(line_for(s3, bucket, b"Background: a.")))
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == [
        "ner/abstracts/a.txt", "ner/pages/a.jpg"]


def test_a_record_that_cannot_be_written_does_not_lose_the_object(s3, bucket, monkeypatch, caplog):
    monkeypatch.setenv(RECORDS_ENV, "s3://no-such-records-bucket/records/")
    result = handler.lambda_handler(event(line_for(s3, bucket, b"Background: a.")))
    assert result["taskInput"]["text"] == "Background: a."
    assert "could not write the task record" in caplog.text and "NoSuchBucket" in caplog.text


# -- the page image must be an image --------------------------------------------------------
@pytest.mark.parametrize("page, message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"%PDF-1.7\n", "is a PDF file, which browsers do not show; convert it to one of JPEG, PNG, GIF, WebP, AVIF"),
    (b"<html>not found</html>", r"is not an image a browser shows \(JPEG, PNG, GIF, WebP, AVIF\)"),
])
def test_page_image_that_is_not_an_image_is_named(s3, bucket, page, message):
    line = line_for(s3, bucket, b"Background: a.", page=page)
    with pytest.raises(InputError, match=rf"page image {line['source-ref']} {message}"):
        handler.lambda_handler(event(line))


def test_missing_page_image_is_named(s3, bucket):
    line = line_for(s3, bucket, b"Background: a.")
    line["source-ref"] = f"s3://{bucket}/ner/pages/missing.jpg"
    with pytest.raises(InputError, match=rf"page image {line['source-ref']} does not exist"):
        handler.lambda_handler(event(line))


# -- S3 keys are read literally, as Ground Truth reads them ---------------------------------
def test_keys_with_a_literal_percent_sequence_are_found(s3, bucket):
    line = line_for(s3, bucket, b"Background: a.", name="abstract%2001")
    result = handler.lambda_handler(event(line))
    assert result["taskInput"]["taskObject"] == f"s3://{bucket}/ner/pages/abstract%2001.jpg"
    assert result["taskInput"]["metadata"]["text_file_s3_uri"] == f"s3://{bucket}/ner/abstracts/abstract%2001.txt"


def test_a_missing_text_file_is_named_exactly_as_written(s3, bucket):
    put(s3, bucket, "ner/abstracts/abstract 01.txt", b"decoded name exists")
    page = put(s3, bucket, "p.jpg", PAGE_JPEG)
    uri = f"s3://{bucket}/ner/abstracts/abstract%2001.txt"
    with pytest.raises(InputError) as raised:
        handler.lambda_handler(event({"source-ref": page, "text-file-s3-uri": uri}))
    assert str(raised.value) == f"abstract text file {uri} does not exist"
