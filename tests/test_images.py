"""gt_common.images: is an S3 object a whole image a browser shows? Checked from its first and last bytes, over
the local S3 endpoint."""
from __future__ import annotations

from pathlib import Path

import pytest

from gt_common.images import END_BYTES, HEAD_BYTES, MAX_IMAGE_PIXELS, check_image, image_format
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


def big_jpeg(size: int) -> bytes:
    """The sample JPEG grown to ``size`` bytes with APP15 segments (a valid JPEG any browser shows)."""
    segments = b""
    while len(SAMPLE_JPEG) + len(segments) < size:
        segments += b"\xff\xef\xff\xff" + b"\x00" * 0xfffd
    return SAMPLE_JPEG[:2] + segments + SAMPLE_JPEG[2:]


def test_a_real_image_is_accepted_reading_only_its_first_and_last_bytes(s3, bucket):
    location = put(s3, bucket, "pages/big.jpg", big_jpeg(5_000_000))
    ranges = []
    s3.meta.events.register("before-send.s3.GetObject", lambda request, **_: ranges.append(request.headers.get("Range")))
    assert check_image(s3, location, what="page image") == "JPEG"
    assert [r.decode() if isinstance(r, bytes) else r for r in ranges] == [f"bytes=0-{HEAD_BYTES - 1}",
                                                                          f"bytes=-{END_BYTES}"]


def test_an_image_smaller_than_the_first_read_is_read_once(s3, bucket):
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"  # header, no pixels: what matters is that it ends
    ranges = []
    s3.meta.events.register("before-send.s3.GetObject", lambda request, **_: ranges.append(request.headers.get("Range")))
    assert check_image(s3, put(s3, bucket, "tiny.gif", gif)) == "GIF"
    assert len(ranges) == 1


PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
WHOLE = {
    "JPEG": SAMPLE_JPEG,
    "PNG": SIGNATURES["PNG"] + b"\x00" * 100 + PNG_END,
    "GIF": SIGNATURES["GIF"] + b"\x00" * 100 + b";",
    "WebP": b"RIFF" + (200 - 8).to_bytes(4, "little") + b"WEBPVP8 " + b"\x01" * 184,
}


@pytest.mark.parametrize("name", list(WHOLE))
def test_a_whole_image_of_each_format_passes_and_padding_after_its_end_is_allowed(s3, bucket, name):
    assert check_image(s3, put(s3, bucket, "whole", WHOLE[name])) == name
    assert check_image(s3, put(s3, bucket, "padded", WHOLE[name] + b"\x00" * 1000)) == name


@pytest.mark.parametrize("name, ending", [
    ("PNG", r"end without its IEND chunk; upload it again whole$"),
    ("GIF", r"end without its last block's end and trailer \(00 3b\); upload it again whole$"),
    ("WebP", r"\(200 stated\) end without the length its header states; upload it again whole$"),
])
def test_an_image_cut_short_is_named_with_its_length(s3, bucket, name, ending):
    cut = WHOLE[name][:len(WHOLE[name]) * 2 // 3]
    with pytest.raises(InputError, match=rf"^page image s3://{bucket}/cut is a {name} file cut short: "
                                         rf"{len(cut):,} bytes {ending}"):
        check_image(s3, put(s3, bucket, "cut", cut), what="page image")


@pytest.mark.parametrize("body", [big_jpeg(300_000)[:-10_000], SAMPLE_JPEG[:len(SAMPLE_JPEG) // 2], b"\xff\xd8\xff\xe0",
                                  SAMPLE_JPEG + b"ftypmp42 a motion photo's video"])
def test_a_jpeg_that_does_not_end_as_one_is_refused_saying_both_ways_it_happens(s3, bucket, body):
    with pytest.raises(InputError, match=rf"^image s3://{bucket}/p.jpg is a JPEG file that does not end as one: "
                                         rf"{len(body):,} bytes end without its end-of-image marker \(ff d9\): it was "
                                         r"cut short \(upload it again whole\) or has data after the picture, such as "
                                         r"a motion photo's video \(save it as a plain JPEG\)$"):
        check_image(s3, put(s3, bucket, "p.jpg", body))


def test_a_gif_cut_just_after_a_3b_byte_in_its_pixels_is_refused(s3, bucket):
    cut = SIGNATURES["GIF"] + b"\x2c" + b"\x07" * 50 + b"\x3b"  # 3b inside image data, no block end before it
    with pytest.raises(InputError, match="is a GIF file cut short"):
        check_image(s3, put(s3, bucket, "cut.gif", cut))


def test_avif_is_checked_by_its_signature_only(s3, bucket):
    assert check_image(s3, put(s3, bucket, "a.avif", SIGNATURES["AVIF"] + b"\x01" * 100)) == "AVIF"


@pytest.mark.parametrize("body, message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"\xff", r"is not an image a browser shows \(JPEG, PNG, GIF, WebP, AVIF\): it starts with bytes ff$"),
    (b"Not Found", r"is not an image a browser shows .*: it starts with bytes 4e 6f 74 20 46 6f 75 6e 64$"),
    (b"MM\x00*" + b"\x00" * 40, "is a TIFF file, which browsers do not show; convert it to one of JPEG, PNG, GIF, WebP, AVIF"),
    (b"%PDF-1.7\n%\xe2\xe3", "is a PDF file, which browsers do not show"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "is a HEIC file, which browsers do not show; convert"),
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


def png_of(width: int, height: int) -> bytes:
    """A PNG header stating ``width`` x ``height`` (its pixels do not matter: the size is read from the header)."""
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")
            + b"\x08\x00\x00\x00\x00" + b"\x00" * 100 + PNG_END)


def jpeg_of(width: int, height: int, before: int = 0) -> bytes:
    """A JPEG whose frame header states ``width`` x ``height``, after ``before`` bytes of APP15 segments."""
    segments = b""
    while len(segments) < before:
        segments += b"\xff\xef\xff\xff" + b"\x00" * 0xfffd
    frame = b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x03" + b"\x00" * 9
    return b"\xff\xd8" + segments + frame + b"\x00" * 100 + b"\xff\xd9"


def gif_of(width: int, height: int) -> bytes:
    return b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\x00" * 100 + b"\x00;"


@pytest.mark.parametrize("body, shown", [
    (png_of(40_000, 40_000), "40,000 x 40,000 pixels (1,600 megapixels)"),
    (jpeg_of(30_000, 25_000), "30,000 x 25,000 pixels (750 megapixels)"),
    (gif_of(65_535, 5_000), "65,535 x 5,000 pixels (328 megapixels)"),
])
def test_an_image_too_large_for_a_browser_to_show_is_named_with_its_size(s3, bucket, body, shown):
    """A 40,000 x 40,000 PNG passed and was a broken image on the worker's page (Chromium decodes none of 625
    megapixels)."""
    with pytest.raises(InputError) as error:
        check_image(s3, put(s3, bucket, "huge", body), what="camera image")
    assert str(error.value) == (f"camera image s3://{bucket}/huge is {shown}: browsers show an image of more than 268 "
                                "megapixels as a broken image; scale it down")


def test_sizes_up_to_the_limit_pass_and_a_frame_header_past_the_first_read_is_not_looked_for(s3, bucket):
    assert MAX_IMAGE_PIXELS == 16_384 * 16_384
    assert check_image(s3, put(s3, bucket, "edge.png", png_of(16_384, 16_384))) == "PNG"
    assert check_image(s3, put(s3, bucket, "wide.png", png_of(100_000, 100))) == "PNG"
    ranges = []
    s3.meta.events.register("before-send.s3.GetObject", lambda request, **_: ranges.append(request.headers.get("Range")))
    assert check_image(s3, put(s3, bucket, "far.jpg", jpeg_of(30_000, 30_000, before=HEAD_BYTES))) == "JPEG"
    assert len(ranges) == 2  # the first bytes and the last: no walk further for the size
