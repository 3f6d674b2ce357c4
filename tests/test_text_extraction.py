"""The text-extraction CLI (`python -m text_extraction`): Textract through botocore's Stubber (which
validates every request and response against the real API model), S3 through the moto server."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import threading
import time
import zlib
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from text_extraction import textract_text
from text_extraction.__main__ import main
from text_extraction.batch import Job, run_batch
from text_extraction.sources import Image, SourceError, list_s3_images
from text_extraction.textract_text import ExtractionError, blocks_to_text, join_lines



def jpeg(width: int = 1275, height: int = 1650, body: bytes = b"fake page", *, before_frame: bytes = b"") -> bytes:
    """A JPEG's structure around made-up image data: SOI, a JFIF segment, ``before_frame`` (more segments), the frame
    header (SOF0) with its size in pixels, then ``body`` and EOI."""
    jfif = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    frame = b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + \
        b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + jfif + before_frame + frame + body + b"\xff\xd9"


def png(width: int = 1275, height: int = 1650, body: bytes = b"fake page") -> bytes:
    """A PNG's signature, IHDR chunk (its size in pixels) and IEND chunk around made-up image data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + body + chunk(b"IEND", b"")


JPEG = jpeg()
JPEG_B = jpeg(body=b"another page")
PNG = png()
JOB_A = "5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
JOB_B = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"


# -- realistic Textract blocks ---------------------------------------------------------------

def _geometry(top: float) -> dict:
    return {"BoundingBox": {"Width": 0.8, "Height": 0.02, "Left": 0.1, "Top": top},
            "Polygon": [{"X": 0.1, "Y": top}, {"X": 0.9, "Y": top},
                        {"X": 0.9, "Y": top + 0.02}, {"X": 0.1, "Y": top + 0.02}]}


def page_blocks(lines: list[str], page: int = 1, prefix: str = "b") -> list[dict]:
    """A PAGE block, then for each line a LINE block followed by its WORD blocks (Textract's order)."""
    blocks: list[dict] = []
    line_ids = []
    for n, text in enumerate(lines):
        line_id = f"{prefix}{page}-line-{n}"
        word_ids = [f"{line_id}-w{k}" for k, _ in enumerate(text.split())]
        line_ids.append(line_id)
        blocks.append({"BlockType": "LINE", "Id": line_id, "Text": text, "Page": page, "Confidence": 99.4,
                       "Geometry": _geometry(0.1 + 0.03 * n),
                       "Relationships": [{"Type": "CHILD", "Ids": word_ids}]})
        blocks.extend({"BlockType": "WORD", "Id": word_id, "Text": word, "TextType": "PRINTED", "Page": page,
                       "Confidence": 98.7}
                      for word_id, word in zip(word_ids, text.split()))
    page_block = {"BlockType": "PAGE", "Id": f"{prefix}{page}-page", "Page": page, "Geometry": _geometry(0.0),
                  "Relationships": [{"Type": "CHILD", "Ids": line_ids}]}
    return [page_block, *blocks]


def detect_response(lines: list[str]) -> dict:
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": page_blocks(lines),
            "DetectDocumentTextModelVersion": "1.0"}


def get_response(status: str, blocks: list[dict] | None = None, *, pages: int = 1, next_token: str | None = None,
                 message: str | None = None) -> dict:
    response: dict = {"JobStatus": status, "DetectDocumentTextModelVersion": "1.0"}
    if status != "IN_PROGRESS":
        response["DocumentMetadata"] = {"Pages": pages}
    if blocks is not None:
        response["Blocks"] = blocks
    if next_token:
        response["NextToken"] = next_token
    if message:
        response["StatusMessage"] = message
    return response


@pytest.fixture
def textract():
    client = boto3.client("textract", region_name="us-east-1")
    with Stubber(client) as stubber:
        client.stubber = stubber  # the tests queue responses on it
        yield client
        stubber.assert_no_pending_responses()


def add_async_success(textract, bucket: str, key: str, job_id: str, lines: list[str]) -> None:
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": job_id},
                      {"DocumentLocation": {"S3Object": {"Bucket": bucket, "Name": key}}, "ClientRequestToken": ANY})
    stub.add_response("get_document_text_detection", get_response("SUCCEEDED", page_blocks(lines)), {"JobId": job_id})


def no_sleep(seconds: float) -> None:
    assert seconds == 0


# -- text assembly ------------------------------------------------------------------------------

def test_line_blocks_are_joined_with_single_spaces_ignoring_page_and_word_blocks():
    blocks = page_blocks(["Recycled aluminium alloys  ", "accumulate trace elements.", "We measured it."])
    assert blocks_to_text(blocks) == "Recycled aluminium alloys accumulate trace elements. We measured it."


def test_hyphenated_line_end_is_rejoined_only_before_a_lowercase_start():
    assert join_lines(["an exam-", "ple of this"]) == "an example of this"
    assert join_lines(["SARS-CoV-", "2 and COVID-", "19 cases"]) == "SARS-CoV- 2 and COVID- 19 cases"
    assert join_lines(["the Al-", "Si alloy"]) == "the Al- Si alloy"
    assert join_lines(["a range 2 -", "remelting"]) == "a range 2 - remelting"
    assert join_lines(["-", "x"]) == "- x"
    assert join_lines(["Ångström-", "ähnlich"]) == "Ångströmähnlich"  # Unicode letters count too
    assert blocks_to_text(page_blocks(["grain-bound-", "ary segregation"])) == "grain-boundary segregation"


def test_lines_are_ordered_by_page_then_response_order():
    blocks = page_blocks(["second page, first line", "second page, second line"], page=2) + \
        page_blocks(["first page"], page=1)
    assert blocks_to_text(blocks) == "first page second page, first line second page, second line"


# -- synchronous detection of local images (CLI end to end) --------------------------------------

def make_pages(folder: Path, names: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in names.items():
        (folder / name).write_bytes(data)
    return folder


def run_cli(argv: list[str], **clients) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, sleep=no_sleep, **clients)
    return code, out.getvalue(), err.getvalue()


def read_manifest(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_local_folder_writes_text_files_and_manifest(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"abstract-01.jpg": JPEG, "abstract-02.png": PNG, "notes.txt": b"skip me"})
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"abstract-01.jpg": {"Title": "Grain-boundary segregation",
                                                        "Author": "Ingrid Søndergaard", "ISBN": "978-1-9876-0001-8"}},
                                   ensure_ascii=False), encoding="utf-8")
    textract.stubber.add_response("detect_document_text",
                                  detect_response(["Recycled aluminium at 180 °C is exam-", "ined by atom-probe."]),
                                  {"Document": {"Bytes": JPEG}})
    textract.stubber.add_response("detect_document_text", detect_response(["Pollinators visit", "gardens."]),
                                  {"Document": {"Bytes": PNG}})

    out_dir = tmp_path / "out"
    code, out, err = run_cli([str(pages), "--s3-prefix", "s3://gt-data/ner/", "--output-dir", str(out_dir),
                              "--metadata", str(metadata), "--workers", "1", "--no-progress"], textract=textract)

    assert code == 0, err
    assert (out_dir / "abstracts" / "abstract-01.txt").read_bytes() == \
        "Recycled aluminium at 180 °C is examined by atom-probe.".encode("utf-8")
    assert (out_dir / "abstracts" / "abstract-02.txt").read_text(encoding="utf-8") == "Pollinators visit gardens."
    assert read_manifest(out_dir / "manifest.jsonl") == [
        {"source-ref": "s3://gt-data/ner/pages/abstract-01.jpg",
         "text-file-s3-uri": "s3://gt-data/ner/abstracts/abstract-01.txt",
         "metadata": {"Title": "Grain-boundary segregation", "Author": "Ingrid Søndergaard",
                      "ISBN": "978-1-9876-0001-8"}},
        {"source-ref": "s3://gt-data/ner/pages/abstract-02.png",
         "text-file-s3-uri": "s3://gt-data/ner/abstracts/abstract-02.txt",
         "metadata": {}},
    ]
    assert "Søndergaard" in (out_dir / "manifest.jsonl").read_text(encoding="utf-8")  # not \u-escaped
    assert "manifest" in out and not (out_dir / "pages").exists()


def test_local_manifest_line_matches_the_sample_manifest_shape(tmp_path, textract):
    sample = json.loads(Path(__file__).resolve().parent.parent.joinpath(
        "sample_data", "ner", "manifest.jsonl").read_text(encoding="utf-8").splitlines()[0])
    pages = make_pages(tmp_path / "in", {"abstract-01.jpg": JPEG})
    textract.stubber.add_response("detect_document_text", detect_response(["text"]), {"Document": {"Bytes": JPEG}})
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps({"abstract-01.jpg": sample["metadata"]}), encoding="utf-8")
    manifest = tmp_path / "elsewhere" / "in.manifest"
    code, _, err = run_cli([str(pages), "--s3-prefix", "${DATA_PREFIX_URI}", "--output-dir", str(tmp_path / "out"),
                            "--manifest", str(manifest), "--metadata", str(metadata), "--copy-pages",
                            "--no-progress"], textract=textract)
    assert code == 0, err
    assert read_manifest(manifest) == [sample]  # same keys, URIs and metadata as the shipped sample
    assert (tmp_path / "out" / "pages" / "abstract-01.jpg").read_bytes() == JPEG


def test_client_error_names_the_image_and_reason_and_the_batch_goes_on(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.jpg": JPEG_B, "c.png": PNG})
    stub = textract.stubber
    stub.add_client_error("detect_document_text", service_error_code="UnsupportedDocumentException",
                          service_message="Request has unsupported document format", http_status_code=400,
                          expected_params={"Document": {"Bytes": JPEG}})
    stub.add_response("detect_document_text", detect_response(["Bee text."]), {"Document": {"Bytes": JPEG_B}})
    stub.add_client_error("detect_document_text", service_error_code="InvalidParameterException",
                          service_message="Request has invalid parameters", http_status_code=400,
                          expected_params={"Document": {"Bytes": PNG}})

    out_dir = tmp_path / "out"
    code, _, err = run_cli([str(pages), "--s3-prefix", "s3://gt-data/ner", "--output-dir", str(out_dir),
                            "--workers", "1", "--no-progress"], textract=textract)

    assert code == 1
    a, c = pages / "a.jpg", pages / "c.png"
    assert f"{a}: Textract DetectDocumentText failed: UnsupportedDocumentException: " \
           "Request has unsupported document format" in err
    assert f"{c}: Textract DetectDocumentText failed: InvalidParameterException: Request has invalid parameters" in err
    assert "2 of 3 image(s) failed" in err
    assert (out_dir / "abstracts" / "b.txt").read_text(encoding="utf-8") == "Bee text."
    assert not (out_dir / "abstracts" / "a.txt").exists()
    assert [line["source-ref"] for line in read_manifest(out_dir / "manifest.jsonl")] == ["s3://gt-data/ner/pages/b.jpg"]


def test_image_over_10_mb_is_refused_by_name_without_calling_textract(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"small.jpg": JPEG})
    with open(pages / "huge.jpg", "wb") as handle:
        handle.truncate(textract_text.MAX_IMAGE_BYTES + 1)
    textract.stubber.add_response("detect_document_text", detect_response(["ok"]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli([str(pages), "--s3-prefix", "s3://gt-data/x", "--output-dir", str(tmp_path / "out"),
                            "--workers", "1", "--no-progress"], textract=textract)
    assert code == 1
    assert f"{pages / 'huge.jpg'}: image is 10,485,761 bytes, over Textract's 10,485,760-byte (10 MB) limit" in err
    assert (tmp_path / "out" / "abstracts" / "small.txt").exists()


def test_page_without_text_is_a_failure(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"blank.jpg": JPEG})
    textract.stubber.add_response("detect_document_text", detect_response([]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli([str(pages), "--s3-prefix", "s3://gt-data/x", "--output-dir", str(tmp_path / "out"),
                            "--no-progress"], textract=textract)
    assert code == 1
    assert f"{pages / 'blank.jpg'}: Textract found no text" in err
    assert "manifest was not written" in err and not (tmp_path / "out" / "manifest.jsonl").exists()


@pytest.mark.parametrize("argv, message", [
    (["IN", "--output-dir", "OUT"], "needs --s3-prefix and --output-dir"),
    (["IN", "--s3-prefix", "gt-data/ner", "--output-dir", "OUT"], "is not s3://bucket/prefix"),
    (["IN", "--s3-prefix", "s3://b/p", "--output-dir", "OUT", "--sync"], "only apply to an S3 INPUT"),
    (["s3://b/pages/", "--output-dir", "OUT"], "only apply to a local INPUT"),
    (["s3://b/pages/", "--workers", "0"], "--workers must be at least 1"),
])
def test_unusable_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv, textract=object(), s3=object())
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_unusable_input_exits_2(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "a.png": PNG})
    base = ["--s3-prefix", "s3://b/p", "--output-dir", str(tmp_path / "out"), "--no-progress"]
    code, _, err = run_cli([str(pages), *base], textract=textract)
    assert code == 2 and "would both write a.txt" in err
    code, _, err = run_cli([str(tmp_path / "missing"), *base], textract=textract)
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli([str(make_pages(tmp_path / "empty", {})), *base], textract=textract)
    assert code == 2 and "no .jpg, .jpeg or .png images" in err
    bad = tmp_path / "meta.json"
    bad.write_text('["not", "an", "object"]', encoding="utf-8")
    code, _, err = run_cli([str(pages), *base, "--metadata", str(bad)], textract=textract)
    assert code == 2 and f"metadata file {bad}" in err


# -- asynchronous jobs on S3 objects ----------------------------------------------------------------

def test_async_job_results_are_followed_through_next_token(textract):
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_A},
                      {"DocumentLocation": {"S3Object": {"Bucket": "gt-data", "Name": "pages/p1.jpg"}}})
    stub.add_response("get_document_text_detection",
                      get_response("SUCCEEDED", page_blocks(["First result page, whose last word is hy-"]),
                                   next_token="token-page-2"),
                      {"JobId": JOB_A})
    stub.add_response("get_document_text_detection",
                      get_response("SUCCEEDED", page_blocks(["phenated; second result page."], prefix="c"),
                                   next_token="token-page-3"),
                      {"JobId": JOB_A, "NextToken": "token-page-2"})
    stub.add_response("get_document_text_detection",
                      get_response("SUCCEEDED", page_blocks(["Third."], prefix="d")),
                      {"JobId": JOB_A, "NextToken": "token-page-3"})

    blocks = textract_text.detect_s3_async(textract, "gt-data", "pages/p1.jpg", poll_interval=0, sleep=no_sleep)

    assert blocks_to_text(blocks) == "First result page, whose last word is hyphenated; second result page. Third."


def test_async_job_is_polled_while_in_progress(textract):
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_A},
                      {"DocumentLocation": {"S3Object": {"Bucket": "gt-data", "Name": "p.png"}}})
    for _ in range(2):
        stub.add_response("get_document_text_detection", get_response("IN_PROGRESS"), {"JobId": JOB_A})
    stub.add_response("get_document_text_detection", get_response("SUCCEEDED", page_blocks(["Done at last."])),
                      {"JobId": JOB_A})
    sleeps: list[float] = []

    blocks = textract_text.detect_s3_async(textract, "gt-data", "p.png", poll_interval=0.25, sleep=sleeps.append)

    assert blocks_to_text(blocks) == "Done at last."
    assert sleeps == [0.25, 0.25]


def test_async_job_still_running_after_timeout_names_the_image(textract):
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_A},
                      {"DocumentLocation": {"S3Object": {"Bucket": "gt-data", "Name": "slow.jpg"}}})
    for _ in range(3):
        stub.add_response("get_document_text_detection", get_response("IN_PROGRESS"), {"JobId": JOB_A})
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(ExtractionError) as error:
        textract_text.detect_s3_async(textract, "gt-data", "slow.jpg", poll_interval=5, timeout=10,
                                      sleep=sleep, clock=lambda: now[0])
    assert str(error.value) == f"s3://gt-data/slow.jpg: Textract job {JOB_A} still IN_PROGRESS after 10 s"


def test_failed_job_names_the_image_and_status_message(textract):
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_A},
                      {"DocumentLocation": {"S3Object": {"Bucket": "gt-data", "Name": "pages/bad.jpg"}}})
    stub.add_response("get_document_text_detection",
                      get_response("FAILED", message="Unable to get object metadata from S3. Check object key, "
                                                     "region and/or access permissions."),
                      {"JobId": JOB_A})
    with pytest.raises(ExtractionError) as error:
        textract_text.detect_s3_async(textract, "gt-data", "pages/bad.jpg", poll_interval=0, sleep=no_sleep)
    assert error.value.image == "s3://gt-data/pages/bad.jpg"
    assert str(error.value) == (f"s3://gt-data/pages/bad.jpg: Textract job {JOB_A} FAILED: Unable to get object "
                                "metadata from S3. Check object key, region and/or access permissions.")


def test_a_pages_job_is_started_with_a_token_of_that_version_of_the_page(s3, bucket, textract):
    """A start whose answer is lost (a network timeout) is sent again by botocore's retries: without a
    ClientRequestToken Textract starts, and bills, a second job for the page. The token names the page's version:
    sent again it is the same, for a replaced scan (another ETag) another."""
    s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=JPEG)
    etag = s3.head_object(Bucket=bucket, Key="ner/pages/a.jpg")["ETag"].strip('"')
    token = textract_text.start_token(bucket, "ner/pages/a.jpg", etag)
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", token)  # StartDocumentTextDetection's rule for the token
    assert token == textract_text.start_token(bucket, "ner/pages/a.jpg", etag)
    assert token != textract_text.start_token(bucket, "ner/pages/a.jpg", etag + "0")
    assert token != textract_text.start_token(bucket, "ner/pages/b.jpg", etag)
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_A},
                      {"DocumentLocation": {"S3Object": {"Bucket": bucket, "Name": "ner/pages/a.jpg"}},
                       "ClientRequestToken": token})
    stub.add_response("get_document_text_detection", get_response("SUCCEEDED", page_blocks(["A."])), {"JobId": JOB_A})
    code, _, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--no-progress"],
                           textract=textract, s3=s3)
    assert code == 0, err


def test_start_and_get_client_errors_name_the_image(textract):
    stub = textract.stubber
    stub.add_client_error("start_document_text_detection", service_error_code="InvalidS3ObjectException",
                          service_message="Unable to get object metadata from S3.", http_status_code=400)
    stub.add_response("start_document_text_detection", {"JobId": JOB_B})
    stub.add_client_error("get_document_text_detection", service_error_code="InvalidJobIdException",
                          service_message="An invalid job identifier was passed.", http_status_code=400)
    with pytest.raises(ExtractionError, match=r"^s3://gt-data/k1\.jpg: Textract StartDocumentTextDetection failed: "
                                              r"InvalidS3ObjectException: Unable to get object metadata from S3\.$"):
        textract_text.detect_s3_async(textract, "gt-data", "k1.jpg", poll_interval=0, sleep=no_sleep)
    with pytest.raises(ExtractionError, match=rf"^s3://gt-data/k2\.jpg: Textract GetDocumentTextDetection \(job {JOB_B}\) "
                                              r"failed: InvalidJobIdException: An invalid job identifier was passed\.$"):
        textract_text.detect_s3_async(textract, "gt-data", "k2.jpg", poll_interval=0, sleep=no_sleep)


def test_s3_listing_follows_every_list_objects_v2_page():
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("list_objects_v2", {
            "IsTruncated": True, "NextContinuationToken": "next-1", "KeyCount": 2, "Prefix": "ner/pages/",
            "Contents": [{"Key": "ner/pages/a.jpg", "Size": 10}, {"Key": "ner/pages/readme.md", "Size": 3}]},
            {"Bucket": "gt-data", "Prefix": "ner/pages/", "Delimiter": "/"})
        stub.add_response("list_objects_v2", {
            "IsTruncated": False, "KeyCount": 1, "Prefix": "ner/pages/",
            "Contents": [{"Key": "ner/pages/B.PNG", "Size": 20}]},
            {"Bucket": "gt-data", "Prefix": "ner/pages/", "Delimiter": "/", "ContinuationToken": "next-1"})
        listing = list_s3_images(s3, "gt-data", "ner/pages")
        stub.assert_no_pending_responses()
    assert [(i.name, i.key, i.size) for i in listing.images] == [("B.PNG", "ner/pages/B.PNG", 20),
                                                                  ("a.jpg", "ner/pages/a.jpg", 10)]
    assert listing.skipped == ["readme.md"] and listing.folders == []


def test_s3_prefix_end_to_end_with_async_jobs(s3, bucket, textract, tmp_path):
    for name, data in {"abstract-01.jpg": JPEG, "abstract-02.jpg": JPEG, "abstract-03.png": PNG}.items():
        s3.put_object(Bucket=bucket, Key=f"ner/pages/{name}", Body=data)
    s3.put_object(Bucket=bucket, Key="ner/pages/nested/abstract-99.jpg", Body=JPEG)  # not directly under
    s3.put_object(Bucket=bucket, Key="ner/other.jpg", Body=JPEG)  # outside the prefix
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"abstract-03.png": {"Title": "Telemonitoring"}}), encoding="utf-8")

    add_async_success(textract, bucket, "ner/pages/abstract-01.jpg", JOB_A, ["Magnesium seg-", "regates."])
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_B},
                      {"DocumentLocation": {"S3Object": {"Bucket": bucket, "Name": "ner/pages/abstract-02.jpg"}},
                       "ClientRequestToken": ANY})
    stub.add_response("get_document_text_detection", get_response("IN_PROGRESS"), {"JobId": JOB_B})
    stub.add_response("get_document_text_detection",
                      get_response("FAILED", message="Request has unsupported document format"), {"JobId": JOB_B})
    add_async_success(textract, bucket, "ner/pages/abstract-03.png", "job-3", ["Blood pressure –", "at home."])

    code, out, err = run_cli([f"s3://{bucket}/ner/pages/", "--metadata", str(metadata), "--poll-interval", "0",
                              "--workers", "1", "--no-progress"], textract=textract, s3=s3)

    assert code == 1
    assert (f"s3://{bucket}/ner/pages/abstract-02.jpg: Textract job {JOB_B} FAILED: "
            "Request has unsupported document format") in err
    body = s3.get_object(Bucket=bucket, Key="ner/abstracts/abstract-01.txt")
    assert body["Body"].read().decode("utf-8") == "Magnesium segregates."
    assert body["ContentType"] == "text/plain; charset=utf-8"
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/abstract-03.txt")["Body"].read().decode("utf-8") == \
        "Blood pressure – at home."
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="ner/abstracts/")["Contents"]}
    assert keys == {"ner/abstracts/abstract-01.txt", "ner/abstracts/abstract-03.txt"}
    manifest = s3.get_object(Bucket=bucket, Key="ner/manifest.jsonl")["Body"].read().decode("utf-8")
    assert [json.loads(line) for line in manifest.splitlines()] == [
        {"source-ref": f"s3://{bucket}/ner/pages/abstract-01.jpg",
         "text-file-s3-uri": f"s3://{bucket}/ner/abstracts/abstract-01.txt", "metadata": {}},
        {"source-ref": f"s3://{bucket}/ner/pages/abstract-03.png",
         "text-file-s3-uri": f"s3://{bucket}/ner/abstracts/abstract-03.txt", "metadata": {"Title": "Telemonitoring"}},
    ]
    assert f"s3://{bucket}/ner/manifest.jsonl" in out


def test_s3_prefix_with_sync_detection_and_explicit_outputs(s3, bucket, textract, tmp_path):
    s3.put_object(Bucket=bucket, Key="in/p.jpg", Body=JPEG)
    textract.stubber.add_response("detect_document_text", detect_response(["Synchronous", "text."]),
                                  {"Document": {"S3Object": {"Bucket": bucket, "Name": "in/p.jpg"}}})
    manifest = tmp_path / "local.manifest"
    code, _, err = run_cli([f"s3://{bucket}/in", "--sync", "--output-prefix", f"s3://{bucket}/texts/out",
                            "--manifest", str(manifest), "--no-progress"], textract=textract, s3=s3)
    assert code == 0, err
    assert s3.get_object(Bucket=bucket, Key="texts/out/p.txt")["Body"].read() == b"Synchronous text."
    assert read_manifest(manifest) == [{"source-ref": f"s3://{bucket}/in/p.jpg",
                                        "text-file-s3-uri": f"s3://{bucket}/texts/out/p.txt", "metadata": {}}]


def test_s3_sync_client_error_names_the_uri(s3, bucket, textract):
    s3.put_object(Bucket=bucket, Key="pages/p.jpg", Body=JPEG)
    textract.stubber.add_client_error("detect_document_text", service_error_code="AccessDeniedException",
                                      service_message="User is not authorized", http_status_code=400)
    code, _, err = run_cli([f"s3://{bucket}/pages/", "--sync", "--no-progress"], textract=textract, s3=s3)
    assert code == 1
    assert f"s3://{bucket}/pages/p.jpg: Textract DetectDocumentText failed: AccessDeniedException: " \
           "User is not authorized" in err


def test_missing_bucket_is_an_input_error(s3, textract):
    code, _, err = run_cli(["s3://t-no-such-bucket-here/pages/", "--no-progress"], textract=textract, s3=s3)
    assert code == 2
    assert "could not list s3://t-no-such-bucket-here/pages/: NoSuchBucket" in err


def test_local_cli_can_write_the_manifest_to_s3_via_the_client_factory(s3, bucket, textract, tmp_path, monkeypatch):
    import text_extraction.__main__ as cli

    monkeypatch.setattr(cli, "default_clients", lambda region: (textract, s3))
    pages = make_pages(tmp_path / "in", {"p.jpg": JPEG})
    textract.stubber.add_response("detect_document_text", detect_response(["Hello."]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli([str(pages), "--s3-prefix", f"s3://{bucket}/data", "--output-dir", str(tmp_path / "out"),
                            "--manifest", f"s3://{bucket}/data/manifest.jsonl", "--no-progress"])
    assert code == 0, err
    line = json.loads(s3.get_object(Bucket=bucket, Key="data/manifest.jsonl")["Body"].read())
    assert line["text-file-s3-uri"] == f"s3://{bucket}/data/abstracts/p.txt"


# -- the batch runner -----------------------------------------------------------------------------

def test_thread_pool_keeps_order_reports_failures_and_shows_progress(tmp_path):
    jobs = [Job(image=Image(name=f"p{n}.jpg", size=1, path=tmp_path / f"p{n}.jpg"),
                source_ref=f"s3://b/pages/p{n}.jpg", text_uri=f"s3://b/abstracts/p{n}.txt") for n in range(8)]
    threads = set()
    lock = threading.Lock()

    def process(job: Job) -> None:
        with lock:
            threads.add(threading.current_thread().name)
        if job.image.name in ("p2.jpg", "p5.jpg"):
            raise ExtractionError(job.image.label, "Textract DetectDocumentText failed: ThrottlingException")
        if job.image.name == "p6.jpg":
            raise RuntimeError("boom")

    stream = io.StringIO()
    result = run_batch(jobs, process, workers=3, progress=True, stream=stream)

    assert [job.image.name for job in result.succeeded] == ["p0.jpg", "p1.jpg", "p3.jpg", "p4.jpg", "p7.jpg"]
    assert [f.message for f in result.failed] == [
        f"{tmp_path / 'p2.jpg'}: Textract DetectDocumentText failed: ThrottlingException",
        f"{tmp_path / 'p5.jpg'}: Textract DetectDocumentText failed: ThrottlingException",
        f"{tmp_path / 'p6.jpg'}: unexpected RuntimeError: boom",
    ]
    assert all(name.startswith("textract") for name in threads)
    assert "8/8" in stream.getvalue()  # tqdm's bar reached the end


def test_extraction_error_is_not_a_source_error():
    assert not issubclass(ExtractionError, SourceError)


# -- hostile and sloppy input: what the tool writes must pass NER pre-labeling ---------------------------------

def local_argv(pages: Path, out_dir: Path, *extra: str) -> list[str]:
    return [str(pages), "--s3-prefix", "${DATA_PREFIX_URI}", "--output-dir", str(out_dir), "--workers", "1",
            "--no-progress", *extra]


def test_output_with_odd_names_and_dirty_text_passes_ner_pre_labeling(s3, bucket, textract, tmp_path):
    """End to end: the output folder uploaded as a data folder is (placeholder filled in), then every manifest
    line through the NER pre-labeling handler, which reads the texts and checks the pages on the S3 endpoint."""
    from ner_pre_labeling import handler

    names = ["abstract 01 (scan).jpg", "Résumé–ß #2?.png", "50%+off&x=1.jpg", "-dash[1]*.jpg"]
    pages = make_pages(tmp_path / "in", {name: PNG if name.endswith(".png") else JPEG for name in names})
    dirty = {  # what Textract's LINE texts could hold: bidirectional controls, NUL, tab, CR LF
        names[0]: ["Al\u202e–Si alloys\u202c at 180 °C", "seg-", "regate\tat\r\ngrain\x00boundaries."],
        names[1]: ["\u2067Pollinators\u2069 visit", "gardens."],
        names[2]: ["Fifty per cent."],
        names[3]: ["Dash."],
    }
    for name in sorted(names):
        textract.stubber.add_response("detect_document_text", detect_response(dirty[name]),
                                      {"Document": {"Bytes": PNG if name.endswith(".png") else JPEG}})
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({names[1]: {"Title": "<b>Bees</b> & \"gardens\"", "Year": 2024, "Open": True,
                                               "Note": None}}), encoding="utf-8")
    out_dir = tmp_path / "out"
    code, _, err = run_cli(local_argv(pages, out_dir, "--copy-pages", "--metadata", str(metadata)), textract=textract)
    assert code == 0, err

    for path in sorted(out_dir.rglob("*")):  # the folder as the stack or the local runner uploads it
        if path.is_file() and path.name != "manifest.jsonl":
            s3.put_object(Bucket=bucket, Key=f"ner/{path.relative_to(out_dir).as_posix()}", Body=path.read_bytes())
    manifest = (out_dir / "manifest.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line.replace("${DATA_PREFIX_URI}", f"s3://{bucket}/ner")) for line in manifest.splitlines()]
    assert len(lines) == 4 and all(set(line) == {"source-ref", "text-file-s3-uri", "metadata"} for line in lines)
    handler.s3_client.cache_clear()
    try:
        texts = {}
        for line in lines:
            task = handler.lambda_handler({"version": "2018-10-06", "dataObject": line,
                                           "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/x"})
            texts[line["source-ref"].rpartition("/")[2]] = task["taskInput"]["text"]
    finally:
        handler.s3_client.cache_clear()
    assert texts == {
        names[0]: "Al–Si alloys at 180 °C segregate at grain boundaries.",
        names[1]: "Pollinators visit gardens.",
        names[2]: "Fifty per cent.",
        names[3]: "Dash.",
    }
    assert lines[[line["source-ref"].endswith(".png") for line in lines].index(True)]["metadata"]["Title"] == \
        "<b>Bees</b> & \"gardens\""


def test_empty_truncated_and_mislabelled_pages_fail_by_name_without_a_textract_call(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {
        "empty.jpg": b"",
        "cut.jpg": JPEG[:-2],  # no end-of-image marker
        "scan.jpg": b"%PDF-1.7\n...",  # a PDF under an image's name
        "._abstract.jpg": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ",  # macOS's AppleDouble companion file
        "good.jpg": JPEG,
    })
    textract.stubber.add_response("detect_document_text", detect_response(["Fine."]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(pages, tmp_path / "out"), textract=textract)
    assert code == 1
    assert f"{pages / 'empty.jpg'}: the file is empty (0 bytes)" in err
    assert f"{pages / 'cut.jpg'}: the file is a JPEG image that does not end with its end-of-image marker" in err
    assert f"{pages / 'scan.jpg'}: the file is a PDF file, not a JPEG or PNG image" in err
    assert f"{pages / '._abstract.jpg'}: the file is not an image (it starts with bytes 00 05 16 07" in err
    assert "4 of 5 image(s) failed" in err
    assert [line["source-ref"] for line in read_manifest(tmp_path / "out" / "manifest.jsonl")] == \
        ["${DATA_PREFIX_URI}/pages/good.jpg"]


def test_s3_pages_are_checked_as_pre_labeling_checks_them_before_textract(s3, bucket, textract):
    s3.put_object(Bucket=bucket, Key="ner/pages/empty.jpg", Body=b"")
    s3.put_object(Bucket=bucket, Key="ner/pages/cut.png", Body=PNG[:-12])
    s3.put_object(Bucket=bucket, Key="ner/pages/good.jpg", Body=JPEG)
    add_async_success(textract, bucket, "ner/pages/good.jpg", JOB_A, ["Good."])
    code, _, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--workers", "1", "--no-progress"],
                           textract=textract, s3=s3)
    assert code == 1
    assert f"s3://{bucket}/ner/pages/empty.jpg: the object is empty (0 bytes)" in err
    assert f"s3://{bucket}/ner/pages/cut.png: the object is a PNG file cut short" in err
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/good.txt")["Body"].read() == b"Good."


def test_text_is_cleaned_and_refused_when_pre_labeling_would_refuse_it(tmp_path, textract, monkeypatch):
    assert textract_text.clean_line("a\u202ab\u202c\tc\r\nd\x00  e\u2066") == "ab c d e"
    assert blocks_to_text(page_blocks(["\u200b\u200b", "\u200e"])) == "\u200b\u200b \u200e"  # nothing visible
    pages = make_pages(tmp_path / "in", {"invisible.jpg": JPEG, "long.png": PNG})
    textract.stubber.add_response("detect_document_text", detect_response(["\u200b", "\u2066\u2069 \u200e"]),
                                  {"Document": {"Bytes": JPEG}})
    textract.stubber.add_response("detect_document_text", detect_response(["é" * 60, "x" * 10]),
                                  {"Document": {"Bytes": PNG}})
    monkeypatch.setattr(textract_text, "MAX_TEXT_BYTES", 100)  # the real limit (1,000,000 bytes) in small
    code, _, err = run_cli(local_argv(pages, tmp_path / "out"), textract=textract)
    assert code == 1
    assert f"{pages / 'invisible.jpg'}: Textract found no text on the page" in err
    assert f"{pages / 'long.png'}: its text is 131 bytes (UTF-8), over the 100-byte limit of NER pre-labeling; " \
           "it was not written (not cut)" in err
    assert not (tmp_path / "out" / "abstracts").exists()


def test_names_that_cannot_be_s3_keys_fail_alone_and_are_quoted(tmp_path, textract):
    folder = make_pages(tmp_path / "in", {"ok.jpg": JPEG, "line\nbreak.jpg": JPEG, "\x1b[31mred.jpg": JPEG})
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"), "wb") as handle:  # Latin-1 bytes: not UTF-8
        handle.write(JPEG)
    textract.stubber.add_response("detect_document_text", detect_response(["Fine."]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(folder, tmp_path / "out"), textract=textract)
    assert code == 1
    assert f"{folder}/caf\\xe9.jpg: its name is not UTF-8 text, which an S3 key must be; rename it" in err
    assert repr(f"{folder}/line\nbreak.jpg") + ": its name holds the control character U+000A; rename it" in err
    assert repr(f"{folder}/\x1b[31mred.jpg") + ": its name holds the control character U+001B" in err
    assert "\x1b" not in err and "line\nbreak" not in err
    assert [line["source-ref"] for line in read_manifest(tmp_path / "out" / "manifest.jsonl")] == \
        ["${DATA_PREFIX_URI}/pages/ok.jpg"]


@pytest.mark.parametrize("body, message", [
    ('{"a.jpg": {"Year": NaN}}', "NaN is not a JSON number"),
    ('{"a.jpg": {"Year": -Infinity}}', "-Infinity is not a JSON number"),
    ('{"a.jpg": {"Authors": ["A", "B"]}}', "'a.jpg' has 'Authors' as a list; give text or a number"),
    ('{"a.jpg": {"Title": {"en": "x"}}}', "'a.jpg' has 'Title' as a JSON object"),
])
def test_metadata_pre_labeling_or_json_would_refuse_is_refused_up_front(tmp_path, textract, body, message):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG})
    metadata = tmp_path / "m.json"
    metadata.write_text(body, encoding="utf-8")
    code, _, err = run_cli(local_argv(pages, tmp_path / "out", "--metadata", str(metadata)), textract=textract)
    assert code == 2 and f"metadata file {metadata}" in err and message in err


def test_metadata_with_a_byte_order_mark_is_read(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG})
    metadata = tmp_path / "m.json"
    metadata.write_bytes("\ufeff".encode() + b'{"a.jpg": {"Title": "T"}}')  # as Windows Notepad saves UTF-8
    textract.stubber.add_response("detect_document_text", detect_response(["x"]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(pages, tmp_path / "out", "--metadata", str(metadata)), textract=textract)
    assert code == 0, err
    assert read_manifest(tmp_path / "out" / "manifest.jsonl")[0]["metadata"] == {"Title": "T"}


def test_metadata_names_an_image_whatever_unicode_form_either_is_in(tmp_path, textract):
    """macOS keeps "é" in a file name decomposed (e + U+0301); typed into metadata.json it is one character: the
    entry was reported as naming no input image and the page went without its metadata."""
    pages = make_pages(tmp_path / "in", {"re\u0301sume\u0301.jpg": JPEG})
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps({"r\u00e9sum\u00e9.jpg": {"Title": "T"}}, ensure_ascii=False), encoding="utf-8")
    textract.stubber.add_response("detect_document_text", detect_response(["x"]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(pages, tmp_path / "out", "--metadata", str(metadata)), textract=textract)
    assert code == 0, err
    assert "names files that are not input images" not in err
    assert read_manifest(tmp_path / "out" / "manifest.jsonl")[0]["metadata"] == {"Title": "T"}

    metadata.write_text(json.dumps({"r\u00e9sum\u00e9.jpg": {}, "re\u0301sume\u0301.jpg": {}}), encoding="utf-8")
    code, _, err = run_cli(local_argv(pages, tmp_path / "out", "--metadata", str(metadata)), textract=textract)
    assert code == 2 and "is written twice (once with composed accents, once with combining ones)" in err


def test_manifest_line_over_ground_truths_limit_fails_that_image_only(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.jpg": JPEG_B})
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps({"a.jpg": {"Abstract": "x" * 100_000}}), encoding="utf-8")
    textract.stubber.add_response("detect_document_text", detect_response(["B."]), {"Document": {"Bytes": JPEG_B}})
    code, _, err = run_cli(local_argv(pages, tmp_path / "out", "--metadata", str(metadata)), textract=textract)
    assert code == 1
    assert f"{pages / 'a.jpg'}: its manifest line would be 100," in err and "over Ground Truth's 100,000-byte" in err
    assert len(read_manifest(tmp_path / "out" / "manifest.jsonl")) == 1


def test_other_files_are_named_as_skipped(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.tif": b"II*\x00", "c.pdf": b"%PDF-", "metadata.json": b"{}"})
    (pages / "sub").mkdir()
    (pages / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    textract.stubber.add_response("detect_document_text", detect_response(["x"]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(pages, tmp_path / "out"), textract=textract)
    assert code == 0, err
    assert f"warning: skipped 4 file(s) in {pages} that are not .jpg, .jpeg or .png: b.tif, c.pdf, gone.jpg, " \
           "metadata.json" in err


def test_repeated_next_token_is_an_error_not_an_endless_loop(textract):
    stub = textract.stubber
    stub.add_response("start_document_text_detection", {"JobId": JOB_A})
    stub.add_response("get_document_text_detection", get_response("SUCCEEDED", page_blocks(["a"]), next_token="t1"))
    stub.add_response("get_document_text_detection",
                      get_response("SUCCEEDED", page_blocks(["b"], prefix="c"), next_token="t1"),
                      {"JobId": JOB_A, "NextToken": "t1"})
    with pytest.raises(ExtractionError, match="returned NextToken 't1' a second time"):
        textract_text.detect_s3_async(textract, "gt-data", "p.jpg", poll_interval=0, sleep=no_sleep)


# -- running again, Ctrl-C -------------------------------------------------------------------------------------

def test_running_again_reads_only_images_without_a_text_file(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.jpg": JPEG_B, "c.png": PNG})
    out_dir = tmp_path / "out"
    stub = textract.stubber
    stub.add_response("detect_document_text", detect_response(["A."]), {"Document": {"Bytes": JPEG}})
    stub.add_client_error("detect_document_text", service_error_code="ThrottlingException", http_status_code=400,
                          expected_params={"Document": {"Bytes": JPEG_B}})
    stub.add_response("detect_document_text", detect_response(["C."]), {"Document": {"Bytes": PNG}})
    code, _, _ = run_cli(local_argv(pages, out_dir), textract=textract)
    assert code == 1 and len(read_manifest(out_dir / "manifest.jsonl")) == 2

    stub.add_response("detect_document_text", detect_response(["B."]), {"Document": {"Bytes": JPEG_B}})
    code, out, err = run_cli(local_argv(pages, out_dir), textract=textract)  # only b.jpg is read
    assert code == 0, err
    assert "3 image(s) with their text file (2 of them already there, not read again" in out
    assert [line["text-file-s3-uri"] for line in read_manifest(out_dir / "manifest.jsonl")] == [
        "${DATA_PREFIX_URI}/abstracts/a.txt", "${DATA_PREFIX_URI}/abstracts/b.txt",
        "${DATA_PREFIX_URI}/abstracts/c.txt"]  # the whole batch, each once
    assert (out_dir / "abstracts" / "b.txt").read_text(encoding="utf-8") == "B."

    for data, text in ((JPEG, "A again."), (JPEG_B, "B again."), (PNG, "C again.")):
        stub.add_response("detect_document_text", detect_response([text]), {"Document": {"Bytes": data}})
    code, _, err = run_cli(local_argv(pages, out_dir, "--overwrite"), textract=textract)
    assert code == 0, err
    assert (out_dir / "abstracts" / "c.txt").read_text(encoding="utf-8") == "C again."
    assert sorted(p.name for p in (out_dir / "abstracts").iterdir()) == ["a.txt", "b.txt", "c.txt"]  # no .part left


def test_append_keeps_the_manifests_lines_and_adds_new_pages_at_its_end(tmp_path, textract):
    """A labeling job under way numbers its objects by manifest line and takes only lines added at the end: with
    --append, pages added to the folder (one sorting before the others) get lines after the earlier ones, which stay
    byte for byte (another editor's line ends, a last line without its newline)."""
    pages = make_pages(tmp_path / "in", {"p-2.jpg": JPEG, "p-3.png": PNG})
    out_dir = tmp_path / "out"
    stub = textract.stubber
    stub.add_response("detect_document_text", detect_response(["Two."]), {"Document": {"Bytes": JPEG}})
    stub.add_response("detect_document_text", detect_response(["Three."]), {"Document": {"Bytes": PNG}})
    code, _, err = run_cli(local_argv(pages, out_dir, "--append"), textract=textract)  # no manifest yet: written
    assert code == 0, err
    manifest = out_dir / "manifest.jsonl"
    earlier = manifest.read_bytes().replace(b"\n", b"\r\n").removesuffix(b"\r\n")
    manifest.write_bytes(earlier)
    make_pages(pages, {"p-1.jpg": JPEG_B})
    stub.add_response("detect_document_text", detect_response(["One."]), {"Document": {"Bytes": JPEG_B}})
    code, out, err = run_cli(local_argv(pages, out_dir, "--append"), textract=textract)
    assert code == 0, err
    assert f"{manifest}: 1 line(s) added at its end (3 in all)" in out
    body = manifest.read_bytes()
    assert body.startswith(earlier + b"\r\n")
    assert [json.loads(line)["source-ref"] for line in body.decode().split("\n") if line.strip()] == [
        "${DATA_PREFIX_URI}/pages/p-2.jpg", "${DATA_PREFIX_URI}/pages/p-3.png", "${DATA_PREFIX_URI}/pages/p-1.jpg"]
    code, out, err = run_cli(local_argv(pages, out_dir, "--append"), textract=textract)  # nothing new: nothing read
    assert code == 0 and ": 0 line(s) added at its end (3 in all)" in out and manifest.read_bytes() == body
    # Without --append the manifest is written anew, in the pages' order (a job under way would refuse it).
    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)
    assert [line["source-ref"].rsplit("/", 1)[1] for line in read_manifest(manifest)] == ["p-1.jpg", "p-2.jpg",
                                                                                          "p-3.png"]


def test_append_to_a_manifest_that_is_not_json_leaves_it_and_says_why(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"p.jpg": JPEG})
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "manifest.jsonl").write_bytes(b'{"source-ref": "s3://b/p/q.jpg"}\n{"source-ref": \n')
    textract.stubber.add_response("detect_document_text", detect_response(["P."]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(pages, out_dir, "--append"), textract=textract)
    assert code == 1 and f"could not write the manifest to {out_dir / 'manifest.jsonl'}" in err
    assert "line 2 is not JSON" in err
    assert (out_dir / "manifest.jsonl").read_bytes() == b'{"source-ref": "s3://b/p/q.jpg"}\n{"source-ref": \n'
    assert (out_dir / "abstracts" / "p.txt").read_text(encoding="utf-8") == "P."  # the text is kept all the same


def test_append_on_s3_adds_to_the_manifest_object(s3, bucket, textract):
    s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=JPEG)
    s3.put_object(Bucket=bucket, Key="ner/abstracts/a.txt", Body=b"Written before.")
    earlier = json.dumps({"source-ref": f"s3://{bucket}/ner/pages/a.jpg", "text-file-s3-uri": "kept as it was"})
    s3.put_object(Bucket=bucket, Key="ner/manifest.jsonl", Body=earlier.encode() + b"\n")
    s3.put_object(Bucket=bucket, Key="ner/pages/b.jpg", Body=JPEG_B)
    add_async_success(textract, bucket, "ner/pages/b.jpg", JOB_B, ["Bee."])
    code, out, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--no-progress", "--append"],
                             textract=textract, s3=s3)
    assert code == 0, err
    lines = s3.get_object(Bucket=bucket, Key="ner/manifest.jsonl")["Body"].read().decode("utf-8").splitlines()
    assert lines[0] == earlier and json.loads(lines[1])["source-ref"] == f"s3://{bucket}/ner/pages/b.jpg"
    assert "1 line(s) added at its end (2 in all)" in out


def test_append_on_s3_writes_the_manifest_object_there_is_none_yet(s3, bucket, textract):
    s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=JPEG)
    add_async_success(textract, bucket, "ner/pages/a.jpg", JOB_A, ["Ay."])
    code, out, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--no-progress", "--append"],
                             textract=textract, s3=s3)
    assert code == 0, err
    [line] = s3.get_object(Bucket=bucket, Key="ner/manifest.jsonl")["Body"].read().decode("utf-8").splitlines()
    assert json.loads(line)["source-ref"] == f"s3://{bucket}/ner/pages/a.jpg" and "(1 in all)" in out


def test_running_again_on_s3_keeps_texts_already_written(s3, bucket, textract):
    s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=JPEG)
    s3.put_object(Bucket=bucket, Key="ner/pages/b.jpg", Body=JPEG_B)
    s3.put_object(Bucket=bucket, Key="ner/abstracts/a.txt", Body=b"Written before.")
    add_async_success(textract, bucket, "ner/pages/b.jpg", JOB_B, ["Bee."])
    code, out, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--no-progress"],
                             textract=textract, s3=s3)
    assert code == 0, err
    assert "(1 of them already there" in out
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/a.txt")["Body"].read() == b"Written before."
    manifest = s3.get_object(Bucket=bucket, Key="ner/manifest.jsonl")["Body"].read().decode("utf-8")
    assert len(manifest.splitlines()) == 2


def test_ctrl_c_starts_no_other_image_and_keeps_what_is_done(tmp_path):
    jobs = [Job(image=Image(name=f"p{n:02}.jpg", size=1, path=tmp_path / f"p{n:02}.jpg"),
                source_ref=f"s3://b/pages/p{n:02}.jpg", text_uri=f"s3://b/abstracts/p{n:02}.txt") for n in range(60)]
    started = []
    stop = threading.Event()

    def process(job: Job) -> str:
        started.append(job)
        if len(started) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered to the main thread
        time.sleep(0.05)
        return "read"

    # Python's own Ctrl-C handler, as the CLI runs with (a test process may ignore SIGINT, as xdist's workers do)
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run_batch(jobs, process, workers=2, progress=False, stream=io.StringIO(), stop=stop)
    except KeyboardInterrupt:
        pytest.fail(f"Ctrl-C escaped the batch after {len(started)} of 60 jobs had started")
    finally:
        signal.signal(signal.SIGINT, handler)
    assert result.interrupted and stop.is_set()
    assert len(started) < 10  # without the fix every one of the 60 jobs ran before Ctrl-C was seen
    assert len(result.succeeded) == len(started) and len(result.not_done) == 60 - len(started)
    assert result.succeeded == jobs[:len(started)]


def test_ctrl_c_writes_the_manifest_of_what_is_done_and_exits_130(tmp_path, textract):
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.jpg": JPEG_B, "c.png": PNG})
    stub = textract.stubber
    stub.add_response("detect_document_text", detect_response(["A."]), {"Document": {"Bytes": JPEG}})

    def ctrl_c_on_b(params, **_):  # Ctrl-C while b.jpg is being read (one worker: in the main thread)
        if params["Document"]["Bytes"] == JPEG_B:
            raise KeyboardInterrupt

    textract.meta.events.register("provide-client-params.textract.DetectDocumentText", ctrl_c_on_b)
    try:
        code, _, err = run_cli(local_argv(pages, tmp_path / "out"), textract=textract)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the CLI: no manifest, no message")
    assert code == 130, err
    assert "interrupted: 2 of 3 image(s) not read; run the same command again" in err
    assert [line["source-ref"] for line in read_manifest(tmp_path / "out" / "manifest.jsonl")] == \
        ["${DATA_PREFIX_URI}/pages/a.jpg"]


def test_async_polling_stops_when_the_batch_is_interrupted(textract, monkeypatch):
    from text_extraction.batch import Interrupted, s3_processor

    stop = threading.Event()
    monkeypatch.setattr(textract_text, "check_s3_image", lambda *args: None)
    textract.stubber.add_response("start_document_text_detection", {"JobId": JOB_A})
    textract.stubber.add_response("get_document_text_detection", get_response("IN_PROGRESS"))

    class NoText:  # no text object yet
        def head_object(self, **_):
            from botocore.exceptions import ClientError
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")

    process = s3_processor(textract, NoText(), text_bucket="gt-data", poll_interval=5, stop=stop,
                           sleep=lambda seconds: stop.set())  # Ctrl-C while the job is polled
    job = Job(image=Image(name="p.jpg", size=10, bucket="gt-data", key="p.jpg"), source_ref="s3://gt-data/p.jpg",
              text_uri="s3://gt-data/abstracts/p.txt")
    with pytest.raises(Interrupted):
        process(job)


def test_copy_pages_into_the_folder_they_are_in(tmp_path, textract):
    data = tmp_path / "my-abstracts"
    pages = make_pages(data / "pages", {"a.jpg": JPEG})
    textract.stubber.add_response("detect_document_text", detect_response(["A."]), {"Document": {"Bytes": JPEG}})
    code, _, err = run_cli(local_argv(pages, data, "--copy-pages"), textract=textract)  # output beside the pages
    assert code == 0, err
    assert (data / "pages" / "a.jpg").read_bytes() == JPEG and (data / "abstracts" / "a.txt").exists()


# -- Textract's limits in pixels -------------------------------------------------------------------------------

JPEG_NO_FRAME = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake page\xff\xd9"  # signature and end, but no frame header


def app1(size: int) -> bytes:
    """An APP1 (EXIF) segment of ``size`` bytes in all, as a camera writes before the frame header."""
    return b"\xff\xe1" + (size - 2).to_bytes(2, "big") + b"Exif\x00\x00" + bytes(size - 10)


def test_pages_outside_textracts_pixel_limits_fail_by_name_before_textract(tmp_path, textract):
    """Textract reads a JPEG or PNG of at most 10,000 pixels on a side and detects no text under 15 pixels high:
    such a page was sent all the same, to be refused by Textract or come back without text. Each is named with its
    size and the limit, before any call, and the rest of the batch goes on; a page at the limits is read."""
    pages = make_pages(tmp_path / "in", {
        "wide.png": png(10_001, 2_000),
        "tall.jpg": jpeg(3_000, 12_000, before_frame=app1(30_000)),
        "strip.jpg": jpeg(2_000, 14),
        "no-frame.jpg": JPEG_NO_FRAME,
        "edge.png": png(10_000, 15),
        "good.jpg": JPEG,
    })
    for data in (png(10_000, 15), JPEG):  # in name order: edge.png, good.jpg
        textract.stubber.add_response("detect_document_text", detect_response(["Read."]), {"Document": {"Bytes": data}})
    code, _, err = run_cli(local_argv(pages, tmp_path / "out"), textract=textract)
    assert code == 1
    assert f"{pages / 'wide.png'}: image is 10,001 x 2,000 pixels, over Textract's limit of 10,000 pixels on a " \
           "side; scale it down" in err
    assert f"{pages / 'tall.jpg'}: image is 3,000 x 12,000 pixels, over Textract's limit of 10,000 pixels" in err
    assert f"{pages / 'strip.jpg'}: image is 2,000 x 14 pixels: a side under 15 pixels, the smallest height of " \
           "text Textract detects" in err
    assert f"{pages / 'no-frame.jpg'}: its header gives no size in pixels" in err
    assert "4 of 6 image(s) failed" in err
    assert [line["source-ref"] for line in read_manifest(tmp_path / "out" / "manifest.jsonl")] == \
        ["${DATA_PREFIX_URI}/pages/edge.png", "${DATA_PREFIX_URI}/pages/good.jpg"]


def test_s3_pages_outside_textracts_pixel_limits_fail_by_name_before_textract(s3, bucket, textract):
    """As above for S3 objects, read by ranged GETs: a camera's frame header past the first 64 KiB read is found."""
    s3.put_object(Bucket=bucket, Key="ner/pages/camera.jpg", Body=jpeg(12_000, 9_000, before_frame=app1(60_000) * 2))
    s3.put_object(Bucket=bucket, Key="ner/pages/tiny.png", Body=png(14, 14))
    s3.put_object(Bucket=bucket, Key="ner/pages/good.jpg", Body=JPEG)
    add_async_success(textract, bucket, "ner/pages/good.jpg", JOB_A, ["Good."])
    code, _, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--workers", "1", "--no-progress"],
                           textract=textract, s3=s3)
    assert code == 1
    assert f"s3://{bucket}/ner/pages/camera.jpg: image is 12,000 x 9,000 pixels, over Textract's limit of 10,000 " \
           "pixels on a side" in err
    assert f"s3://{bucket}/ner/pages/tiny.png: image is 14 x 14 pixels: a side under 15 pixels" in err
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/good.txt")["Body"].read() == b"Good."


def test_pixel_size_is_read_from_the_headers_real_encoders_write():
    """The header reader against Pillow's JPEGs (baseline, progressive, a 150 KB ICC profile in many segments before
    the frame header) and PNG; over S3 it reads only the 64 KiB chunks the walk reaches."""
    from PIL import Image as Picture

    from gt_common.image_header import CHUNK_BYTES, bytes_reader, pixel_size, s3_reader

    class RangedObject:  # GetObject with a Range, as S3 answers it
        def __init__(self, data: bytes):
            self.data, self.ranges = data, []

        def get_object(self, Bucket, Key, Range):  # noqa: N803 - boto3's names
            start, end = map(int, Range.removeprefix("bytes=").split("-"))
            self.ranges.append(start)
            return {"Body": io.BytesIO(self.data[start:end + 1])}

    for options, chunks in (({"format": "JPEG"}, 1), ({"format": "JPEG", "progressive": True}, 1),
                            ({"format": "JPEG", "icc_profile": bytes(150_000)}, 3), ({"format": "PNG"}, 1)):
        encoded = io.BytesIO()
        Picture.new("RGB", (321, 123), "white").save(encoded, **options)
        data = encoded.getvalue()
        assert pixel_size(bytes_reader(data)) == (321, 123), options
        s3 = RangedObject(data)
        assert pixel_size(s3_reader(s3, "b", "k")) == (321, 123), options
        assert s3.ranges == [n * CHUNK_BYTES for n in range(chunks)], options
    assert pixel_size(bytes_reader(JPEG_NO_FRAME)) is None
    assert pixel_size(bytes_reader(png(0, 10))) is None
    # A file made to be walked (a thousand 64 KiB segments before any frame header): given up after 16 MiB, a few
    # hundred ranged GETs rather than a thousand.
    walked = b"\xff\xd8" + (b"\xff\xe2\xff\xff" + bytes(0xFFFF - 2)) * 1000 + b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10"
    s3 = RangedObject(walked)
    assert pixel_size(s3_reader(s3, "b", "k")) is None and len(s3.ranges) <= 16 * 1024 * 1024 // CHUNK_BYTES + 2


# -- what is skipped is named ----------------------------------------------------------------------------------

def test_s3_objects_that_are_not_images_are_named_as_skipped(s3, bucket, textract):
    """Objects under the prefix that are not images were skipped without a word: a user who named the wrong prefix
    saw nothing read and no reason. One warning line names how many, the first ten, and the folders not looked
    into."""
    s3.put_object(Bucket=bucket, Key="ner/pages/", Body=b"")  # the S3 console's folder object: not named
    s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=JPEG)
    s3.put_object(Bucket=bucket, Key="ner/pages/notes.pdf", Body=b"%PDF-1.7")
    for n in range(1, 13):
        s3.put_object(Bucket=bucket, Key=f"ner/pages/scan-{n:02}.tif", Body=b"II*\x00")
    s3.put_object(Bucket=bucket, Key="ner/pages/nested/b.jpg", Body=JPEG)
    add_async_success(textract, bucket, "ner/pages/a.jpg", JOB_A, ["A."])
    code, _, err = run_cli([f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--no-progress"],
                           textract=textract, s3=s3)
    assert code == 0, err
    [warning] = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning.startswith(
        f"warning: skipped 13 object(s) under s3://{bucket}/ner/pages/ that are not .jpg, .jpeg or .png: notes.pdf, "
        + ", ".join(f"scan-{n:02}.tif" for n in range(1, 10)) + " and 3 more (")
    assert warning.endswith(f"; 1 folder(s) under s3://{bucket}/ner/pages/, not looked into (only images directly "
                            "inside are read): nested/")

    code, _, err = run_cli([f"s3://{bucket}/ner/", "--no-progress"], textract=textract, s3=s3)  # the wrong prefix
    assert code == 2
    assert f"warning: skipped 1 object(s) under s3://{bucket}/ner/ that are not .jpg, .jpeg or .png: manifest.jsonl" \
           in err
    assert f"2 folder(s) under s3://{bucket}/ner/, not looked into (only images directly inside are read): " \
           "abstracts/, pages/" in err
    assert f"error: no .jpg, .jpeg or .png images directly under s3://{bucket}/ner/" in err


# -- names a disk takes for one --------------------------------------------------------------------------------

def test_names_one_disk_takes_for_one_file_are_refused_before_anything_is_written(tmp_path, textract):
    """On a disk that ignores case (macOS's, Windows's) Page1.txt and page1.txt are one file, as on macOS's are
    an accent composed and combining: the second page's text overwrote the first's, and the manifest named one text
    for two pages. Refused before anything is written or read, naming both images."""
    pages = make_pages(tmp_path / "in", {"Page1.png": PNG, "page1.jpg": JPEG, "page2.jpg": JPEG_B})
    out_dir = tmp_path / "out"
    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)  # the stubber answers no call
    assert code == 2
    assert f"error: {pages / 'Page1.png'} and {pages / 'page1.jpg'} would write Page1.txt and page1.txt, one file " \
           "on a disk that ignores case (macOS, Windows); rename one of them" in err
    assert not out_dir.exists()

    pages = make_pages(tmp_path / "accents", {"r\u00e9sum\u00e9.jpg": JPEG, "re\u0301sume\u0301.png": PNG})
    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)
    assert code == 2
    assert str(pages / "r\u00e9sum\u00e9.jpg") in err and str(pages / "re\u0301sume\u0301.png") in err
    assert "an accent written two ways: one file on a macOS disk; rename one of them" in err
    assert not out_dir.exists()


# -- a scan replaced since its text was made -------------------------------------------------------------------

JPEG_C = jpeg(body=b"a rescan of the page")


def test_a_replaced_scan_is_read_again_and_unchanged_ones_are_kept(tmp_path, textract):
    """A text kept from an earlier run was reused even when its scan had since been replaced: the labeling job got
    the old page's text beside the new page. The folder records each text's scan (SHA-256); a changed one is read
    again, and said so."""
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.jpg": JPEG_B})
    out_dir = tmp_path / "out"
    stub = textract.stubber
    stub.add_response("detect_document_text", detect_response(["A."]), {"Document": {"Bytes": JPEG}})
    stub.add_response("detect_document_text", detect_response(["B."]), {"Document": {"Bytes": JPEG_B}})
    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)
    assert code == 0, err
    record = out_dir / ".text-sources.json"
    assert json.loads(record.read_text(encoding="utf-8")) == {
        "abstracts/a.txt": {"image": "a.jpg", "sha256": hashlib.sha256(JPEG).hexdigest()},
        "abstracts/b.txt": {"image": "b.jpg", "sha256": hashlib.sha256(JPEG_B).hexdigest()}}

    (pages / "b.jpg").write_bytes(JPEG_C)  # rescanned under the same name
    stub.add_response("detect_document_text", detect_response(["B rescanned."]), {"Document": {"Bytes": JPEG_C}})
    code, out, err = run_cli(local_argv(pages, out_dir), textract=textract)  # a.jpg is not read again
    assert code == 0, err
    assert "note: read again 1 image(s) replaced since their text was made (another SHA-256 than the text was made " \
           f"from): {pages / 'b.jpg'}" in err
    assert "(1 of them already there, not read again" in out
    assert (out_dir / "abstracts" / "b.txt").read_text(encoding="utf-8") == "B rescanned."
    assert (out_dir / "abstracts" / "a.txt").read_text(encoding="utf-8") == "A."
    assert json.loads(record.read_text(encoding="utf-8"))["abstracts/b.txt"]["sha256"] == \
        hashlib.sha256(JPEG_C).hexdigest()

    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)  # nothing changed: nothing read
    assert code == 0 and "note:" not in err, err


def test_an_output_folder_from_before_the_record_is_resumed_without_reading_its_pages_again(tmp_path, textract):
    """A folder an earlier version wrote has texts and no record: its texts are kept (not every page paid for
    again), said once, and recorded as the scans are now, so a later replacement is seen."""
    pages = make_pages(tmp_path / "in", {"a.jpg": JPEG, "b.jpg": JPEG_B, "c.png": PNG})
    out_dir = tmp_path / "out"
    (out_dir / "abstracts").mkdir(parents=True)
    (out_dir / "abstracts" / "a.txt").write_text("A from before.", encoding="utf-8")
    (out_dir / "abstracts" / "b.txt").write_text("B from before.", encoding="utf-8")
    textract.stubber.add_response("detect_document_text", detect_response(["C."]), {"Document": {"Bytes": PNG}})
    code, out, err = run_cli(local_argv(pages, out_dir), textract=textract)  # only c.png is read
    assert code == 0, err
    assert err.count("carry no record") == 1
    assert "note: 2 text(s) already there carry no record of the scan they were made from (written before scans " \
           "were recorded): taken as made from the scans as they are now; their scans are recorded now" in err
    assert "(2 of them already there, not read again" in out
    assert (out_dir / "abstracts" / "a.txt").read_text(encoding="utf-8") == "A from before."
    assert sorted(json.loads((out_dir / ".text-sources.json").read_text(encoding="utf-8"))) == \
        ["abstracts/a.txt", "abstracts/b.txt", "abstracts/c.txt"]

    (pages / "a.jpg").write_bytes(JPEG_C)
    textract.stubber.add_response("detect_document_text", detect_response(["A rescanned."]),
                                  {"Document": {"Bytes": JPEG_C}})
    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)
    assert code == 0, err
    assert "read again 1 image(s) replaced" in err and "carry no record" not in err
    assert (out_dir / "abstracts" / "a.txt").read_text(encoding="utf-8") == "A rescanned."

    record = out_dir / ".text-sources.json"
    record.write_text("{not JSON", encoding="utf-8")  # damaged: named, and taken as no record (nothing read again)
    code, _, err = run_cli(local_argv(pages, out_dir), textract=textract)
    assert code == 0, err
    assert f"warning: {record} could not be read: " in err and "note: 3 text(s) already there carry no record" in err
    assert len(json.loads(record.read_text(encoding="utf-8"))) == 3


def test_s3_a_replaced_scan_is_read_again_by_its_etag(s3, bucket, textract):
    """In S3 a text object keeps its image's ETag as its metadata: a page replaced since is read again; a text
    written before (no such metadata) is kept, said once."""
    s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=JPEG)
    s3.put_object(Bucket=bucket, Key="ner/pages/b.jpg", Body=JPEG_B)
    s3.put_object(Bucket=bucket, Key="ner/pages/c.png", Body=PNG)
    s3.put_object(Bucket=bucket, Key="ner/abstracts/c.txt", Body=b"C from before.")  # no record of its scan
    add_async_success(textract, bucket, "ner/pages/a.jpg", JOB_A, ["A."])
    add_async_success(textract, bucket, "ner/pages/b.jpg", JOB_B, ["B."])
    argv = [f"s3://{bucket}/ner/pages/", "--poll-interval", "0", "--workers", "1", "--no-progress"]
    code, _, err = run_cli(argv, textract=textract, s3=s3)
    assert code == 0, err
    assert "note: 1 text(s) already there carry no record of the scan they were made from" in err
    etag = s3.head_object(Bucket=bucket, Key="ner/pages/a.jpg")["ETag"].strip('"')
    assert s3.head_object(Bucket=bucket, Key="ner/abstracts/a.txt")["Metadata"] == {"source-etag": etag}
    # The older text now carries its scan's ETag too (its bytes as they were): a later rescan of c is seen.
    c_etag = s3.head_object(Bucket=bucket, Key="ner/pages/c.png")["ETag"].strip('"')
    assert s3.head_object(Bucket=bucket, Key="ner/abstracts/c.txt")["Metadata"] == {"source-etag": c_etag}

    s3.put_object(Bucket=bucket, Key="ner/pages/b.jpg", Body=JPEG_C)  # rescanned under the same name
    add_async_success(textract, bucket, "ner/pages/b.jpg", "job-3", ["B rescanned."])
    code, out, err = run_cli(argv, textract=textract, s3=s3)
    assert code == 0, err
    assert "note: read again 1 image(s) replaced since their text was made (another ETag than the text was made " \
           f"from): s3://{bucket}/ner/pages/b.jpg" in err
    assert "(2 of them already there" in out
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/b.txt")["Body"].read() == b"B rescanned."
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/a.txt")["Body"].read() == b"A."
    assert s3.get_object(Bucket=bucket, Key="ner/abstracts/c.txt")["Body"].read() == b"C from before."
    assert "carry no record" not in err  # said once, on the run that recorded it
