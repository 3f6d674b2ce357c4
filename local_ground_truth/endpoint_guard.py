"""Who may use the runner's S3 endpoint: this machine's SDK clients, never a web page.

moto's server checks no signature: on its own it stores an unsigned ``PUT`` of a new key, and a browser form
``POST`` from any web site a worker visits (a "simple" cross-site request: no preflight) uploads into a bucket,
while its CORS answers let any site read what a forged presigned URL returns. The job's answers and state live
in those buckets, so the endpoint answers only requests that

- are addressed to it by name (``Host`` 127.0.0.1 or localhost with its port: a DNS-rebound site's name is
  refused);
- change something only with an ``Authorization`` header signed as the AWS SDKs sign (the runner, its Lambdas
  and any CLI do; a page cannot add one to a cross-site form or without a preflight);
- when the endpoint is the runner's own (``clients`` given), read or write anything only signed with one of the
  run's access keys: the runner's, drawn at random as it starts the endpoint, and its functions' (each with the
  run's ``function_grants.RUN_TOKEN``). Every process of the machine reaches 127.0.0.1, and the job's answers are in
  these buckets: a key of the run is known only to the runner and the processes it starts. The signature itself is
  not checked (the keys are the secret);
- never get CORS: preflights are refused and no ``Access-Control-*`` header is sent, so no other site reads a
  response. Workers' pages never reach the endpoint: their images come through the worker server
  (``media_links``).

- stay within their grants when a workflow function sends them: a request signed with a function's access key is
  decided against that function's role, as IAM would (``function_grants``), and refused as S3 refuses it
  (``AccessDenied``) when the role does not allow it.

Every response also carries ``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy: sandbox``: an
HTML object opened from the endpoint runs nothing.
"""
from __future__ import annotations

import io
import re
from urllib.parse import unquote
from typing import Any, Callable, Iterable, Mapping, Optional
from xml.sax.saxutils import escape

from local_ground_truth import function_grants
from local_ground_truth.keep_alive import BadRequestBody, read_body

#: Methods that only read.
READS = frozenset({"GET", "HEAD"})
SIGNED = "AWS4-HMAC-SHA256 "
HARDENING = [("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", "sandbox")]


class EndpointGuard:
    """WSGI middleware in front of the endpoint's application; ``hosts`` (``host:port``) set once it listens."""

    def __init__(self, app: Callable, grants: Optional[Mapping[str, Optional[list]]] = None,
                 clients: Optional[Iterable[str]] = None, run_token: Optional[str] = None) -> None:
        """``grants``: per function's access key, its role's statements (None: not checked); ``clients``: the other
        access keys of the run (the runner's); ``run_token``: the run's part of its functions' keys
        (``function_grants.RUN_TOKEN``). With ``clients``, a request signed with no key of the run is refused."""
        self.app = app
        self.hosts: frozenset[str] = frozenset()
        self.grants = dict(grants or {})  # access key -> the statements its function's role has
        self.keys = None if clients is None else frozenset(clients) | frozenset(self.grants)
        self.run_token = run_token

    def of_the_run(self, key: Optional[str]) -> bool:
        """Whether ``key`` is one of the run's: given, or a function's key with the run's token."""
        return key is not None and (key in self.keys or bool(self.run_token) and key.startswith(
            function_grants.ACCESS_KEY_PREFIX) and key.endswith("." + self.run_token))

    def listening_on(self, port: int) -> None:
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        refused = self.refusal(environ) or self.outside_grants(environ)
        if refused is not None:
            return _denied(start_response, refused)

        def hardened(status, headers, exc_info=None):
            kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
            return start_response(status, kept + HARDENING, exc_info)

        return self.app(environ, hardened)

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why this request is refused, or None."""
        host = environ.get("HTTP_HOST", "")
        if host not in self.hosts:
            return f"requests must be addressed to {' or '.join(sorted(self.hosts))}, not {host[:100]!r}"
        method = environ.get("REQUEST_METHOD", "")
        if method == "OPTIONS":
            return "no cross-origin requests are served"
        if method not in READS and not environ.get("HTTP_AUTHORIZATION", "").startswith(SIGNED):
            return f"a {method[:20]} must be signed as the AWS SDKs sign it (Authorization: AWS4-HMAC-SHA256 ...)"
        if self.keys is not None and not self.of_the_run(_access_key(environ)):
            return ("this is a local labeling job's endpoint: it answers only the job's runner and its functions, "
                    "which sign with keys of their own")
        return None

    def outside_grants(self, environ: dict[str, Any]) -> Optional[str]:
        """Why a function's request is refused by its role (``function_grants``), or None."""
        if not self.grants:
            return None  # no function is checked here: no request's key is looked for
        key = _access_key(environ)
        statements = self.grants.get(key) if key else None
        if statements is None:
            return None
        function = function_grants.function_of(key)
        method = environ.get("REQUEST_METHOD", "")
        # WSGI hands the path percent-decoded, its bytes as Latin-1; S3 keys are UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        query = environ.get("QUERY_STRING", "")
        headers = {"x-amz-copy-source": environ.get("HTTP_X_AMZ_COPY_SOURCE", "")}
        body = None
        if method == "POST" and re.search(r"(^|&)delete(=|&|$)", query):  # DeleteObjects: its keys are in the body
            try:
                body = read_body(environ)
            except BadRequestBody as error:
                return f"function {function}: {error}"
            environ["wsgi.input"] = io.BytesIO(body)
        try:
            needed = function_grants.requested(method, path, query, headers, body)
        except function_grants.UnknownRequest as error:
            return f"function {function}: {error} is not a request the local endpoint can check against its role"
        for request in needed:
            if not function_grants.decide(statements, request):
                return (f"function {function}'s role does not allow {function_grants.describe(request)} "
                        "(in AWS its request is refused too)")
        return None


def _access_key(environ: dict[str, Any]) -> Optional[str]:
    """The access key a request is signed with: its Authorization header's, or a presigned URL's (Signature Version 4,
    or 2 as boto3 presigns S3 URLs by default)."""
    found = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if found is None:
        found = re.search(r"(?:^|&)X-Amz-Credential=([^/&%]+)(?:/|%2F)", environ.get("QUERY_STRING", ""), re.I)
    if found is None:
        found = re.search(r"(?:^|&)AWSAccessKeyId=([^&]+)", environ.get("QUERY_STRING", ""))
    return unquote(found.group(1)) if found else None


def _denied(start_response: Callable, reason: str) -> list[bytes]:
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>local S3 endpoint: {escape(reason)}</Message></Error>").encode()
    start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                                     *HARDENING])
    return [body]
