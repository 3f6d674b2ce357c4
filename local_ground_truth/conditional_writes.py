"""Conditional writes made atomic in the local S3 endpoint, as S3 makes them.

S3 documents PutObject with ``If-None-Match: *`` (write only if the key does not exist) and
``If-Match: <ETag>`` (write only if the object is still that version): a writer whose condition no
longer holds gets 412 PreconditionFailed, so read-merge-write loops (the consolidation's job
snapshots, ``gt_common.job_state``) lose no update. moto's server checks both headers, but checks
then writes without a lock, and serves requests on several threads: two writers holding the same
ETag can both pass the check, and the second silently overwrites the first.

``install`` wraps moto's PutObject handler so that the check and the write of one key happen under
that key's lock: of two writers with the same ETag exactly one succeeds, the other gets 412. Every
PutObject of the key takes the lock (an unconditional write must not land between another's check
and write either). With the write-through store (``s3_store``) the response is still held until
the object is on disk, so a conditional write is as durable as any other.
"""
from __future__ import annotations

import threading
import zlib

#: Keys share this many locks (by a hash of bucket and key): bounded memory, rare false sharing.
LOCKS = 256
_locks = [threading.Lock() for _ in range(LOCKS)]


def lock_of(bucket: str, key: str) -> threading.Lock:
    return _locks[zlib.crc32(f"{bucket}\0{key}".encode()) % LOCKS]


def install() -> None:
    """Make moto's PutObject check-and-write atomic per key (once per process)."""
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_atomic_conditional_writes", False):
        return
    put_object = S3Response.put_object

    def atomic_put_object(self, *args, **kwargs):
        with lock_of(self.bucket_name, self.parse_key_name()):
            return put_object(self, *args, **kwargs)

    atomic_put_object.__wrapped__ = put_object
    S3Response.put_object = atomic_put_object
    S3Response._atomic_conditional_writes = True
