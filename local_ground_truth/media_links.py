"""``grant_read_access`` for the local runner: signed links to the job's files, served by the worker server.

Ground Truth turns ``{{ s3_uri | grant_read_access }}`` into a presigned HTTPS URL of S3. The runner's
S3 endpoint listens on 127.0.0.1 only (it holds every answer and must not be reachable from the
network), so a presigned URL of it would reach nothing from a worker's own machine. Instead a page
gets ``<worker server>/media/<token>``, where the token names the bucket and key and carries an
expiry and an HMAC of both under a secret of this run (``MediaLinks``): like a presigned URL, a
link grants one object for a while and cannot be made or changed without the secret. The server
checks the link (``MediaLinks.open``) and streams the object from the endpoint.

Expiries are rounded up to a half hour, so a task page rendered twice within one gets the same
links and the browser reuses the images it holds; a link is good for 60 to 90 minutes (a presigned
URL of Ground Truth's for 60), and dies with the runner (a new run has a new secret: a page opened
before a restart loads its images again on reload).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from typing import Callable, Optional

PREFIX = "/media/"
LIFETIME_SECONDS = 3600  # at least this long, as Ground Truth's presigned URLs
ROUNDING_SECONDS = 1800  # expiries rounded up to this: one link per object and half hour
_SIGNATURE_BYTES = 16
MAX_TOKEN_CHARS = 4096  # a bucket name (63) and an S3 key (1,024 bytes) encoded, with room to spare


class MediaRefused(Exception):
    """A link that is not one of this run's, or has expired; the reason says which."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MediaLinks:
    """Makes and checks this run's links (``secret``: a new random one unless given; ``clock``: seconds)."""

    def __init__(self, secret: Optional[bytes] = None, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return _encode(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest()[:_SIGNATURE_BYTES])

    def token(self, bucket: str, key: str) -> str:
        """``<payload>.<signature>``: the payload is ``[bucket, key, expiry]`` as JSON, base64url."""
        expires = math.ceil((self._clock() + LIFETIME_SECONDS) / ROUNDING_SECONDS) * ROUNDING_SECONDS
        payload = _encode(json.dumps([bucket, key, expires], separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def url(self, origin: str, bucket: str, key: str) -> str:
        """The link on the server at ``origin`` (``http://host:port``)."""
        return f"{origin.rstrip('/')}{PREFIX}{self.token(bucket, key)}"

    def open(self, token: str) -> tuple[str, str, float]:
        """``(bucket, key, seconds left)`` of one of this run's links; ``MediaRefused`` otherwise."""
        if len(token) > MAX_TOKEN_CHARS or not token.isascii() or token.count(".") != 1:
            raise MediaRefused("not a link to a file of this job")
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise MediaRefused("not a link to a file of this job (the server may have restarted: reload the page)")
        try:
            bucket, key, expires = json.loads(_decode(payload))
        except (ValueError, TypeError):  # signed by us, so never; said all the same
            raise MediaRefused("not a link to a file of this job") from None
        left = float(expires) - self._clock()
        if left <= 0:
            raise MediaRefused("this link has expired: reload the page for a new one")
        return str(bucket), str(key), left
