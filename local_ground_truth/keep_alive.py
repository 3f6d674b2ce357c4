"""The local S3 endpoint's request handler: moto's, serving many requests per connection (HTTP/1.1).

werkzeug's development server, under moto's handler, sends ``Connection: close`` with every response
because ``http.server`` cannot drain an unread request body before the next request line. Every
boto3 request then opens a new connection, and the endpoint spends a fifth of its CPU on that.
This handler reads each request's body in full before the application runs (so the next request
line is always where it should be), sends a length with every response, and keeps the connection
open unless the client asked to close it or a response could not be completed.

It is moto's ``MotoRequestHandler`` underneath, so request headers keep their spelling:
``x-amz-meta-my_key`` metadata survives (a WSGI server such as waitress drops every header with ``_``).
"""
from __future__ import annotations

import io
import logging
from typing import Any, Iterable

from moto.moto_server.werkzeug_app import MotoRequestHandler

LOG = logging.getLogger(__name__)
_REQUEST_LOG = logging.getLogger("werkzeug")
#: A connection idle this long is closed (clients reconnect on their next request).
IDLE_SECONDS = 60
_NO_BODY_STATUSES = {204, 304}
#: S3 takes at most 5 GiB in one request (larger objects are uploaded in parts).
MAX_BODY_BYTES = 5 * 1024 ** 3


class BadRequestBody(ValueError):
    """The request's body could not be read as its headers describe it."""


def read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body: ``Content-Length`` bytes, or every chunk of a chunked body."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug decodes the chunks
        try:
            return stream.read()
        except OSError as error:
            raise BadRequestBody(f"the chunked body is malformed: {error}") from error
    length_header = environ.get("CONTENT_LENGTH", "").strip()
    if not length_header:
        return b""
    if not length_header.isdigit():
        raise BadRequestBody(f"Content-Length {length_header[:40]!r} is not a number")
    length = int(length_header)
    if length > MAX_BODY_BYTES:
        raise BadRequestBody(f"Content-Length {length} is over S3's {MAX_BODY_BYTES}-byte limit for one request")
    parts, remaining = [], length
    while remaining:
        part = stream.read(min(remaining, 1 << 20))
        if not part:
            raise BadRequestBody(f"the connection closed {remaining} bytes before the body's end ({length})")
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


class KeepAliveRequestHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    # A response is written as headers, then body: with Nagle's algorithm the body would wait for the
    # client's delayed ACK of the headers (~40 ms) on a connection that stays open.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        try:
            body = read_body(environ)
        except BadRequestBody as error:
            self.close_connection = True
            self._respond_plain(400, f"Bad request body: {error}")
            return
        environ["wsgi.input"] = io.BytesIO(body)  # a chunked request stays "input terminated": read to the end
        try:
            status, headers, chunks = _call(self.server.app, environ)
        except Exception:  # noqa: BLE001 - the application failed before a byte was sent: a 500, then close
            LOG.exception("error serving %s %s", self.command, self.path)
            self.close_connection = True
            self._respond_plain(500, "Internal Server Error")
            return
        self._respond(status, headers, chunks)

    def _respond(self, status: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        has_body = self.command != "HEAD" and code >= 200 and code not in _NO_BODY_STATUSES
        names = {name.lower() for name, _ in headers}
        self.send_response(code, reason)
        for name, value in headers:
            if name.lower() in ("connection", "transfer-encoding"):
                continue  # hop by hop: this handler decides them
            self.send_header(name, value)
        if has_body and "content-length" not in names:
            self.send_header("Content-Length", str(sum(len(chunk) for chunk in chunks)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if has_body:
            for chunk in chunks:
                self.wfile.write(chunk)
        self.wfile.flush()

    def _respond_plain(self, code: int, text: str) -> None:
        body = text.encode()
        self._respond(f"{code} {'Bad Request' if code == 400 else 'Internal Server Error'}",
                      [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))], [body])

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if _REQUEST_LOG.isEnabledFor(logging.INFO):  # werkzeug formats the line even when nobody shows it
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # an idle kept-alive connection reaching IDLE_SECONDS, not an error
        super().log_error(format, *args)


def _call(app, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Run a WSGI application to the end: its status, headers and body chunks."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, list(headers)]
        return written.append  # WSGI's legacy write()

    result: Iterable[bytes] = app(environ, start_response)
    try:
        chunks = [chunk for chunk in result if chunk]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the application returned without calling start_response")
    return started[0], started[1], written + chunks
