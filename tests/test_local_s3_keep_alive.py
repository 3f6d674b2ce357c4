"""The runner's S3 endpoint serves many requests on one connection, and every request stays whole."""
from __future__ import annotations

import http.client
import io
import socket
from urllib.parse import urlsplit

import pytest

from local_ground_truth import local_s3

BUCKET = "keep-alive-test"
# Every request carries an SDK's kind of Authorization header with a key the endpoint was given (it refuses unsigned
# writes and other keys: endpoint_guard; it checks no signature).
KEY = "keep-alive-test"
PUBLIC = {"x-amz-acl": "public-read"}
SIGNED = {"Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20261128/us-east-1/s3/aws4_request, "
                           "SignedHeaders=host, Signature=0"}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """The endpoint, holding ``seq/1`` and ``seq/2`` (x 1000 and x 2000) for the tests that read them: each test may
    run in a test process of its own, with this fixture made again."""
    with local_s3.s3_endpoint(store=tmp_path_factory.mktemp("store") / "s3", clients=[KEY]) as url:
        s3 = local_s3.client(url)
        s3.create_bucket(Bucket=BUCKET)
        for number in (1, 2):
            s3.put_object(Bucket=BUCKET, Key=f"seq/{number}", Body=b"x" * (number * 1000), ACL="public-read")
        yield url


def _connection(endpoint: str) -> http.client.HTTPConnection:
    parts = urlsplit(endpoint)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def _exchange(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, path, body=body, headers={**PUBLIC, **SIGNED, **(headers or {})})
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_one_connection_serves_a_sequence_of_writes_and_reads(endpoint):
    connection = _connection(endpoint)
    for number in range(5):
        status, headers, _ = _exchange(connection, "PUT", f"/{BUCKET}/seq/{number}", body=b"x" * (number * 1000))
        assert status == 200 and headers.get("connection") != "close"
    socket_before = connection.sock
    for number in range(5):
        status, headers, body = _exchange(connection, "GET", f"/{BUCKET}/seq/{number}")
        assert status == 200 and body == b"x" * (number * 1000)
    status, headers, body = _exchange(connection, "HEAD", f"/{BUCKET}/seq/4")
    assert status == 200 and headers["content-length"] == "4000" and body == b""
    status, _, body = _exchange(connection, "GET", f"/{BUCKET}/no-such-key")
    assert status == 404 and b"NoSuchKey" in body
    status, _, body = _exchange(connection, "GET", f"/{BUCKET}/seq/3", headers={"Range": "bytes=10-19"})
    assert status == 206 and body == b"x" * 10
    assert connection.sock is socket_before  # never reconnected: every response left the connection usable


def test_metadata_names_with_underscores_survive_a_kept_alive_connection(endpoint):
    s3 = local_s3.client(endpoint)
    for number in range(3):  # the same client: the later requests reuse its connection
        s3.put_object(Bucket=BUCKET, Key=f"meta/{number}", Body=b"m", Metadata={"my_key": f"v{number}", "other-key": "o"})
        assert s3.head_object(Bucket=BUCKET, Key=f"meta/{number}")["Metadata"] == {"my_key": f"v{number}",
                                                                                   "other-key": "o"}


def test_a_chunked_body_is_read_whole_and_the_next_request_follows_it(endpoint):
    connection = _connection(endpoint)
    chunks = [b"first-", b"second-" * 1000, b"third"]
    connection.request("PUT", f"/{BUCKET}/chunked", body=iter(chunks), encode_chunked=True,
                       headers={"Transfer-Encoding": "chunked", **PUBLIC, **SIGNED})
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    status, _, body = _exchange(connection, "GET", f"/{BUCKET}/chunked")
    assert status == 200 and body == b"".join(chunks)


def test_a_body_the_handler_never_reads_does_not_become_the_next_request(endpoint):
    # A request the application refuses before reading its body (a bucket that does not exist):
    # the body is still consumed, so the next request on the connection is parsed as itself.
    connection = _connection(endpoint)
    hostile = b"GET /" + BUCKET.encode() + b"/seq/1 HTTP/1.1\r\nHost: x\r\n\r\n"
    status, _, _ = _exchange(connection, "PUT", "/no-such-bucket-here/key", body=hostile * 50)
    assert status == 404
    status, _, body = _exchange(connection, "GET", f"/{BUCKET}/seq/2")
    assert status == 200 and body == b"x" * 2000


def _head(endpoint: str, method: str, path: str, *lines: str) -> str:
    """A request's head, addressed to the endpoint, signed as ``SIGNED``."""
    return "".join(f"{line}\r\n" for line in [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(endpoint).netloc}",
                                                  f"Authorization: {SIGNED['Authorization']}", *lines]) + "\r\n"


def _raw(endpoint: str, request: bytes) -> bytes:
    parts = urlsplit(endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = io.BytesIO()
        while chunk := sock.recv(65536):
            received.write(chunk)
    return received.getvalue()


def test_a_body_shorter_than_its_length_is_refused_and_the_connection_closed(endpoint):
    reply = _raw(endpoint, (_head(endpoint, "PUT", f"/{BUCKET}/short", "Content-Length: 100") + "only ten b").encode())
    assert reply.startswith(b"HTTP/1.1 400") and b"Connection: close" in reply
    assert _exchange(_connection(endpoint), "GET", f"/{BUCKET}/short")[0] == 404  # nothing half-stored


@pytest.mark.parametrize("length", ["-5", "ten", "1e3", str(5 * 1024 ** 3 + 1)])
def test_a_length_that_is_not_a_number_is_refused(endpoint, length):
    reply = _raw(endpoint, (_head(endpoint, "PUT", f"/{BUCKET}/bad-length", f"Content-Length: {length}") + "abc").encode())
    assert reply.startswith(b"HTTP/1.1 400") and b"Content-Length" in reply


def test_a_client_asking_to_close_gets_its_answer_and_a_closed_connection(endpoint):
    reply = _raw(endpoint, _head(endpoint, "GET", f"/{BUCKET}/seq/1", "Connection: close").encode())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head and body == b"x" * 1000


def test_two_requests_sent_at_once_get_two_answers_in_order(endpoint):
    one = _head(endpoint, "GET", f"/{BUCKET}/seq/1").encode()
    two = _head(endpoint, "GET", f"/{BUCKET}/seq/2", "Connection: close").encode()
    reply = _raw(endpoint, one + two)
    assert reply.count(b"HTTP/1.1 200") == 2
    first = reply.index(b"x" * 1000)
    assert reply.index(b"x" * 2000) > first
