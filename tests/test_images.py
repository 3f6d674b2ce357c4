"""gt_common.images: is an S3 object an image a browser shows? Checked from its first bytes, over moto's S3."""
from __future__ import annotations

from pathlib import Path

import pytest

from gt_common.images import SIGNATURE_BYTES, check_image, image_format
from gt_common.s3uri import InputError, S3Location

SAMPLE_JPEG = (Path(__file__).resolve().parent.parent / "sample_data" / "ner" / "pages" / "abstract-01.jpg").read_bytes()

SIGNATURES = {
    "JPEG": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "GIF": b"GIF89a\x01\x00\x01\x00",
    "WebP": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "AVIF": b"\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1miaf",
}


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_each_browser_format_is_recognised(name):
    assert image_format(SIGNATURES[name]) == name


def test_avif_named_only_among_compatible_brands_is_recognised():
    assert image_format(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf") == "AVIF"


@pytest.mark.parametrize("head", [b"", b"\xff\xd8", b"GIF90a", b"RIFF\x00\x00\x00\x00WAVE", b"\x00\x00\x00\x18ftypmp42",
                                  b"<svg xmlns=", b"BM", b"II*\x00", b"%PDF-1.4", b"\x89PNG\r\n"])
def test_anything_else_is_not(head):
    assert image_format(head) is None


def put(s3, bucket, key, body):
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return S3Location(bucket, key)


def test_a_real_image_is_accepted_reading_only_its_first_bytes(s3, bucket):
    location = put(s3, bucket, "pages/big.jpg", SAMPLE_JPEG + b"\x00" * 5_000_000)
    ranges = []
    s3.meta.events.register("before-send.s3.GetObject", lambda request, **_: ranges.append(request.headers.get("Range")))
    assert check_image(s3, location, what="page image") == "JPEG"
    assert [r.decode() if isinstance(r, bytes) else r for r in ranges] == [f"bytes=0-{SIGNATURE_BYTES - 1}"]


@pytest.mark.parametrize("body, message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"\xff", r"is not an image a browser shows \(JPEG, PNG, GIF, WebP, AVIF\): it starts with bytes ff$"),
    (b"Not Found", r"is not an image a browser shows .*: it starts with bytes 4e 6f 74 20 46 6f 75 6e 64$"),
    (b"MM\x00*" + b"\x00" * 40, "is a TIFF file, which browsers do not show; convert it to one of JPEG, PNG, GIF, WebP, AVIF"),
    (b"%PDF-1.7\n%\xe2\xe3", "is a PDF file, which browsers do not show"),
])
def test_unusable_objects_are_named(s3, bucket, body, message):
    location = put(s3, bucket, "pages/p 1%20.jpg", body)
    with pytest.raises(InputError, match=rf"^page image s3://{bucket}/pages/p 1%20\.jpg {message}"):
        check_image(s3, location, what="page image")


def test_missing_object_and_bucket_are_named(s3, bucket):
    with pytest.raises(InputError, match=rf"^page image s3://{bucket}/nope.png does not exist$"):
        check_image(s3, S3Location(bucket, "nope.png"), what="page image")
    with pytest.raises(InputError, match=r"^page image s3://no-such-bucket-here/p.png: bucket no-such-bucket-here does not exist$"):
        check_image(s3, S3Location("no-such-bucket-here", "p.png"), what="page image")
