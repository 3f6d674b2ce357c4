"""The runner's S3 endpoint serves this machine's SDK clients and no web page: a site a worker visits can neither
write into the job's buckets (an unsigned PUT, a cross-site form POST) nor read what it serves."""
from __future__ import annotations

import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_ground_truth import local_s3

BUCKET = "guarded-bucket"
EVIL = "http://evil.example"
FORM_BOUNDARY = "form-boundary"
# A browser's cross-site form upload (S3's POST Object): a "simple" request, sent without a preflight.
FORM = (f"--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nplanted\r\n--{FORM_BOUNDARY}\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n"
        f"{{\"answers\": []}}\r\n--{FORM_BOUNDARY}--\r\n").encode()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    with local_s3.s3_endpoint(store=tmp_path_factory.mktemp("store") / "s3") as url:
        s3 = local_s3.client(url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="answer.json", Body=b'{"answers": []}')
        yield url


def send(method: str, url: str, body: bytes | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={name.replace("_", "-"): value for name, value in headers.items()})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def keys(endpoint: str) -> list[str]:
    return [item["Key"] for item in local_s3.client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_the_sdk_reads_and_writes_and_a_presigned_url_serves_an_image_tag_with_no_cors(endpoint):
    s3 = local_s3.client(endpoint)
    s3.put_object(Bucket=BUCKET, Key="sdk.txt", Body=b"by the SDK")
    assert s3.get_object(Bucket=BUCKET, Key="sdk.txt")["Body"].read() == b"by the SDK"
    s3.delete_object(Bucket=BUCKET, Key="sdk.txt")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "answer.json"}, ExpiresIn=60)
    status, headers, body = send("GET", url, Origin=EVIL)
    assert status == 200 and body == b'{"answers": []}'
    assert not any(name.startswith("access-control-") for name in headers)  # no other site reads the response
    assert headers["x-content-type-options"] == "nosniff" and headers["content-security-policy"] == "sandbox"


@pytest.mark.parametrize("method, path, body, headers", [
    ("PUT", "/planted", b"x", {}),
    ("PUT", "/answer.json", b"overwritten", {}),
    ("DELETE", "/answer.json", None, {}),
    ("POST", "", FORM, {"Content_Type": f"multipart/form-data; boundary={FORM_BOUNDARY}", "Origin": EVIL}),
], ids=["unsigned-put", "unsigned-overwrite", "unsigned-delete", "cross-site-form-post"])
def test_an_unsigned_write_is_refused_with_the_reason_and_changes_nothing(endpoint, method, path, body, headers):
    status, _, reply = send(method, f"{endpoint}/{BUCKET}{path}", body, **headers)
    assert status == 403 and b"<Code>AccessDenied</Code>" in reply
    assert f"a {method} must be signed as the AWS SDKs sign it".encode() in reply
    assert sorted(keys(endpoint)) == ["answer.json"]
    assert local_s3.client(endpoint).get_object(Bucket=BUCKET, Key="answer.json")["Body"].read() == b'{"answers": []}'


def test_a_preflight_is_refused_without_cors_headers(endpoint):
    status, headers, reply = send("OPTIONS", f"{endpoint}/{BUCKET}/planted", Origin=EVIL,
                                  Access_Control_Request_Method="PUT")
    assert status == 403 and b"no cross-origin requests" in reply
    assert not any(name.startswith("access-control-") for name in headers)


def test_a_request_addressed_to_another_name_is_refused_even_signed(endpoint):
    """A site whose name was rebound to 127.0.0.1 sends its own name as Host, and may add any header."""
    status, _, reply = send("PUT", f"{endpoint}/{BUCKET}/planted", b"x", Host="rebound.evil.example:80",
                            Authorization="AWS4-HMAC-SHA256 Credential=a/20261128/us-east-1/s3/aws4_request, "
                                          "SignedHeaders=host, Signature=0")
    assert status == 403 and b"requests must be addressed to 127.0.0.1:" in reply and b"rebound.evil.example" in reply
    assert sorted(keys(endpoint)) == ["answer.json"]


@pytest.mark.parametrize("how", ["unsigned-read", "another-key", "a-functions-key-of-another-run", "presigned-by-another"])
def test_another_process_of_the_machine_neither_reads_nor_writes_the_jobs_buckets(endpoint, how):
    """Any process of the machine reaches 127.0.0.1: it listed and read every answer, and wrote one with any key in an
    SDK-shaped header. The endpoint answers the keys of its run only (the runner's, drawn as it started, and its
    functions', which carry the run's token)."""
    other = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=(
        "AKIAEXAMPLE" if how != "a-functions-key-of-another-run" else "function-PreLabeling.0123456789abcdef"),
        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
    if how == "unsigned-read":
        status, _, reply = send("GET", f"{endpoint}/{BUCKET}?list-type=2")
    elif how == "presigned-by-another":
        url = other.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "answer.json"}, ExpiresIn=60)
        status, _, reply = send("GET", url)
    else:
        with pytest.raises(ClientError, match="AccessDenied"):
            other.list_objects_v2(Bucket=BUCKET)
        with pytest.raises(ClientError, match="AccessDenied"):
            other.put_object(Bucket=BUCKET, Key="forged.json", Body=b'{"answers": []}')
        status, reply = 403, b"answers only the job's runner and its functions"
    assert status == 403 and b"answers only the job's runner and its functions" in reply
    assert sorted(keys(endpoint)) == ["answer.json"]  # the run's own client still reads


def test_the_runs_functions_and_the_keys_it_names_are_answered(tmp_path):
    """A function signs with its key of this run; a benchmark names the key its handlers sign with."""
    from local_ground_truth import function_grants

    with local_s3.s3_endpoint(store=tmp_path / "s3", grants={function_grants.access_key("Unchecked"): None},
                              clients=["bench-key"]) as url:
        local_s3.client(url).create_bucket(Bucket=BUCKET)
        # a function named in no grant still carries the run's token
        for key in (function_grants.access_key("Unchecked"), "bench-key", function_grants.access_key("NotGranted")):
            s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                              aws_secret_access_key="local")
            s3.put_object(Bucket=BUCKET, Key=f"{key}.txt", Body=b"x")
        assert len(keys(url)) == 3
