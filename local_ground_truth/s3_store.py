"""A persistent local S3: moto's S3 server, every accepted write on disk before the client hears OK.

moto keeps objects in memory only. The local runner's endpoint wraps it so that each request that
changes an object (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject(s), CreateBucket,
DeleteBucket) is written through to a folder *before its response is sent*:

    <root>/<bucket>/<key>                    the object's bytes, the key's "/" as folders
    <root>/.metadata/<bucket>/<key>.json     its metadata, only when it has more than the default

Each file is written under a temporary name (in ``<root>/.partial/``), flushed to the disk (fsync) and renamed over the old one,
and the folder is synced too; so a ``kill -9`` of the runner or of the endpoint at any instant leaves
either the old or the new object, never a torn one, and never loses an object a client was told was
stored. At start the folder is loaded back into moto: a job resumes exactly where it stopped. The runner itself
reads its job back from the folder (``StoredBucket``), not through the endpoint: the folder holds every
acknowledged write, and a request per file cost a resume of 10,200 answers 49 s.

The objects touched by a request are taken from moto's own backend calls (its ``put_object`` and
``delete_object``), not from parsing the request, so every way of writing an object is covered the way
moto resolves it. Key segments are file names with ``%`` escaped (and ``..``, ``.`` and empty
segments escaped too, so no key can leave the folder; one too long for a file name is stored as several); a key that is both an object and the folder of another key (``a`` and
``a/b``), which S3 allows and a file system cannot hold, is refused with an error naming it.
"""
from __future__ import annotations

import errno
import io
import json
import logging
import os
import shutil
import threading
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import unquote

LOG = logging.getLogger(__name__)
METADATA_FOLDER = ".metadata"  # S3 bucket names cannot start with ".": no bucket collides with these
TEMPORARY_FOLDER = ".partial"
_DEFAULT_METADATA = {"content-type": "binary/octet-stream"}
# What S3 returns with an object; moto also keeps request details (checksums) that are not metadata.
_KEPT_HEADERS = ("content-type", "content-encoding", "content-language", "content-disposition", "cache-control",
                 "expires")
_touched = threading.local()
#: Keys share this many locks (by a hash of bucket and key). Writes of different keys run at once, so
#: their fsyncs overlap (the file system commits them together) instead of queueing behind one lock.
KEY_LOCKS = 256
#: How often a write makes its folder again when deletes of other keys keep emptying and removing it.
_FOLDER_RACE_ATTEMPTS = 50
#: Objects from this size on are read from their file when served, not held in the endpoint's memory (moto keeps
#: every object under 5 MB in memory: a data folder of 20,000 one-megabyte images took 20 GB). Smaller ones (a
#: job's answers, task inputs, settings) stay in memory: they are many, small and read often.
SERVED_FROM_DISK_FROM = 64 * 1024


# -- keys <-> paths ------------------------------------------------------------------------------
def _segment(part: str) -> str:
    """A key segment as a file name: ``%`` escaped first, so escaped and literal never collide."""
    if part == "":
        return "%00"
    if part in (".", ".."):
        return "%2E" * len(part)
    return part.replace("%", "%25")


def _unsegment(part: str) -> str:
    if part == "%00":
        return ""
    return unquote(part)


#: A file name holds 255 bytes and an S3 key segment up to 1,024 (escaping makes it longer still): a longer one is
#: stored as several names, each but the last ending in ``_CONTINUED`` (which no escaped segment ends in: a literal
#: "%" is written "%25"), each at most ``_NAME_BYTES`` (room for the metadata file's ".json").
_CONTINUED = "%+"
_NAME_BYTES = 250


def _names(part: str) -> list[str]:
    """The file names one key segment is stored as: one, or a long one's pieces in order."""
    name = _segment(part)
    if len(name.encode("utf-8")) <= _NAME_BYTES:
        return [name]
    pieces, current, size = [], "", 0
    for char in name:  # whole characters: a piece is valid UTF-8
        width = len(char.encode("utf-8"))
        if size + width > _NAME_BYTES - len(_CONTINUED):
            pieces.append(current + _CONTINUED)
            current, size = "", 0
        current, size = current + char, size + width
    return [*pieces, current]


def object_path(root: Path, bucket: str, key: str) -> Path:
    return root.joinpath(bucket, *(name for part in key.split("/") for name in _names(part)))


def metadata_path(root: Path, bucket: str, key: str) -> Path:
    path = object_path(root / METADATA_FOLDER, bucket, key)
    return path.with_name(path.name + ".json")


# -- atomic files --------------------------------------------------------------------------------
def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes, temporary_folder: Path) -> None:
    """``path`` holds ``data`` or its old content, whatever instant the process dies."""
    put_in_place(staged(data, temporary_folder), path)


def staged(data: bytes, temporary_folder: Path) -> Path:
    """``data`` in a new file of ``temporary_folder``, on the disk (fsync); nothing is left of it when that fails
    (a full disk), so a write refused for want of space does not hold on to the space it took."""
    temporary = temporary_folder / uuid.uuid4().hex  # same file system: the rename is atomic
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def put_in_place(temporary: Path, path: Path) -> None:
    """Rename the staged file ``temporary`` over ``path`` (its folders made as needed) and sync the folder.

    A key that is also the folder of another key is refused by the file system itself (making a folder
    where an object is, renaming over a folder): no look at every folder above the key per write.
    """
    try:
        # A delete of another key may remove the (empty) folder between our mkdir and rename, or while mkdir
        # runs (it then reports the folder as existing and not a folder): make it again.
        for attempt in range(_FOLDER_RACE_ATTEMPTS):
            last = attempt == _FOLDER_RACE_ATTEMPTS - 1
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError, FileNotFoundError):
                blocking = next((parent for parent in reversed(path.parents) if parent.is_file()), None)
                if blocking is not None:
                    raise FileExistsError(f"{blocking} is an object, so it cannot also be a folder of objects") from None
                if last:
                    raise
                continue
            try:
                os.replace(temporary, path)
                break
            except IsADirectoryError:
                raise IsADirectoryError(f"{path} is a folder of objects, so it cannot also be an object") from None
            except FileNotFoundError:
                if last:
                    raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _remove(path: Path, stop_at: Path) -> None:
    """Delete ``path`` and the folders it leaves empty, up to (not including) ``stop_at``."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    try:
        _fsync_folder(path.parent)
    except FileNotFoundError:  # another delete already removed the emptied folder: the entry is gone with it
        return
    folder = path.parent
    while folder != stop_at and stop_at in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty
            break
        folder = folder.parent


# -- the store -----------------------------------------------------------------------------------
class DiskStore:
    """The folder side: write, delete and enumerate objects."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.temporary = self.root / TEMPORARY_FOLDER
        shutil.rmtree(self.temporary, ignore_errors=True)  # writes a killed process never renamed
        self.temporary.mkdir(parents=True)
        # One writer at a time per key: whoever holds a key's lock reads moto's current version and writes
        # it, so the last write of a key to reach the disk is moto's latest (``WriteThroughApp._persist``).
        self._key_locks = [threading.RLock() for _ in range(KEY_LOCKS)]
        self._buckets_lock = threading.Lock()

    def lock_of(self, bucket: str, key: str) -> threading.RLock:
        return self._key_locks[zlib.crc32(f"{bucket}\0{key}".encode()) % KEY_LOCKS]

    def save(self, bucket: str, key: str, data: bytes, metadata: dict[str, str]) -> None:
        extra = {name.lower(): value for name, value in metadata.items()
                 if (name.lower() in _KEPT_HEADERS or name.lower().startswith("x-amz-meta-"))
                 and _DEFAULT_METADATA.get(name.lower()) != value}
        with self.lock_of(bucket, key):
            # Both files are on the disk before either is put in place: a full disk refuses the write with the old
            # object (and its metadata) left as they were, instead of keeping the object it refused.
            body = staged(data, self.temporary)
            try:
                described = staged(json.dumps(extra, sort_keys=True).encode(), self.temporary) if extra else None
            except BaseException:
                body.unlink(missing_ok=True)
                raise
            try:
                put_in_place(body, object_path(self.root, bucket, key))
            except BaseException:
                if described is not None:
                    described.unlink(missing_ok=True)
                raise
            meta = metadata_path(self.root, bucket, key)
            if described is not None:
                put_in_place(described, meta)
            else:
                _remove(meta, self.root / METADATA_FOLDER / bucket)

    def delete(self, bucket: str, key: str) -> None:
        with self.lock_of(bucket, key):
            _remove(object_path(self.root, bucket, key), self.root / bucket)
            _remove(metadata_path(self.root, bucket, key), self.root / METADATA_FOLDER / bucket)

    def create_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def delete_bucket(self, bucket: str) -> None:
        with self._buckets_lock:
            for folder in (self.root / bucket, self.root / METADATA_FOLDER / bucket):
                shutil.rmtree(folder, ignore_errors=True)

    def buckets(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name not in (METADATA_FOLDER, TEMPORARY_FOLDER))

    def objects(self, bucket: str) -> Iterable[tuple[str, Path, dict[str, str]]]:
        """``(key, path, metadata)`` of every object of ``bucket``."""
        described = stored_objects(self.root / METADATA_FOLDER / bucket, suffix=".json")  # one walk, not a look per key
        for key, path in sorted(stored_objects(self.root / bucket).items()):
            meta = described.get(key)
            if meta is None:
                yield key, Path(path), {}
            else:
                with open(meta, encoding="utf-8") as handle:
                    yield key, Path(path), json.load(handle)


def stored_objects(folder: Path, prefix: str = "", suffix: str = "") -> dict[str, str]:
    """Every object under ``prefix`` of the bucket kept in ``folder`` (``<root>/<bucket>``), by key, from one walk of
    the folders the prefix can be in (no per-file path arithmetic: a job's folder of answers holds tens of
    thousands): each key's file, as a path string. ``suffix``: the files' names end with it after the key's (the
    metadata's ``.json``)."""
    whole = prefix.rpartition("/")[0] if "/" in prefix else None  # the prefix's complete segments
    start = folder if whole is None else object_path(folder.parent, folder.name, whole)
    found: dict[str, str] = {}
    pending = [(str(start), "" if whole is None else whole + "/", "")]  # (folder, its key so far, a long segment's start)
    while pending:
        current, key, piece = pending.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name.endswith(_CONTINUED):  # a long segment's piece: the next name goes on with it
                    pending.append((entry.path, key, piece + entry.name[:-len(_CONTINUED)]))
                else:
                    pending.append((entry.path, key + _unsegment(piece + entry.name) + "/", ""))
            elif entry.is_file(follow_symlinks=False) and entry.name.endswith(suffix):
                name = key + _unsegment(piece + entry.name[:len(entry.name) - len(suffix)])
                if name.startswith(prefix):
                    found[name] = entry.path
    return found


class StoredBucket:
    """A bucket as the runner's endpoint keeps it (``DiskStore``), read from the disk without a request.

    Every write the endpoint acknowledged is in place there before its answer (and never torn), so this reads what
    a GET would. The runner reads its job back this way at start: through the endpoint, a job of 10,200 answers
    took 49 s of listing and GETs (``bench/results/restart.md``)."""

    def __init__(self, root: Path, bucket: str) -> None:
        self.root, self.bucket = Path(root), bucket

    def keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix``, in S3's order (a listing's)."""
        return sorted(stored_objects(self.root / self.bucket, prefix))

    def read(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError naming its path when there is none."""
        return object_path(self.root, self.bucket, key).read_bytes()


class ReplacedOnDisk(OSError):
    """A served value whose file a newer version has replaced (a GET that raced a PUT of its key: retried)."""


class StoredValue:
    """The buffer of a moto object (``FakeKey._value_buffer``) that is the store's file of it: what moto reads
    (``seek``, ``read``) comes from the file; a write makes it a value in memory again (moto writing a key anew).

    Each read opens the file and checks it is still the one this value was made from (its inode): a newer version
    of the key renamed over it makes the read fail (moto's own buffer of a replaced key is closed the same way),
    never serve another version's bytes under this one's ETag and length."""

    def __init__(self, path: Path, status: os.stat_result | None = None) -> None:
        status = status or path.stat()
        self.path, self.size, self._file = path, status.st_size, (status.st_dev, status.st_ino)
        self._position = 0
        self._memory: io.BytesIO | None = None

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._memory is not None:
            return self._memory.seek(offset, whence)
        self._position = {0: offset, 1: self._position + offset, 2: self.size + offset}[whence]
        return self._position

    def read(self, size: int = -1) -> bytes:
        if self._memory is not None:
            return self._memory.read(size)
        with open(self.path, "rb") as handle:
            status = os.fstat(handle.fileno())
            if (status.st_dev, status.st_ino) != self._file:
                raise ReplacedOnDisk(f"{self.path} was replaced by a newer version of its key")
            handle.seek(self._position)
            data = handle.read(size if size is not None and size >= 0 else -1)
        self._position += len(data)
        return data

    def _in_memory(self) -> io.BytesIO:
        if self._memory is None:
            self._memory = io.BytesIO()
        return self._memory

    def truncate(self, size: int | None = None) -> int:
        return self._in_memory().truncate(0 if size is None else size)

    def write(self, data: bytes) -> int:
        return self._in_memory().write(data)

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()


def serve_from_disk(found: Any, path: Path) -> None:
    """Let moto's object ``found`` read its value from ``path`` (the store's file of it) from now on, when it is large
    enough to matter (``SERVED_FROM_DISK_FROM``); its buffer in memory is freed."""
    if found.size < SERVED_FROM_DISK_FROM:
        return
    stored = StoredValue(path)
    if stored.size != found.size:  # not this version's file (cannot happen under the key's lock): keep the memory
        return
    with found.lock:
        found.etag  # noqa: B018  (computed from the bytes in memory now, not read back from the disk later)
        _replace_buffer(found, stored)


def _replace_buffer(found: Any, stored: StoredValue) -> None:
    previous, found._value_buffer = found._value_buffer, stored
    previous.close()


# -- moto integration ----------------------------------------------------------------------------
def _record(kind: str, bucket: str, key: str | None = None) -> None:
    events = getattr(_touched, "events", None)
    if events is not None:
        events.append((kind, bucket, key))


def _patch_backend() -> None:
    """Make moto's S3 backend report every object and bucket it changes (once per process)."""
    from moto.s3.models import S3Backend

    if getattr(S3Backend, "_local_store_patched", False):
        return
    put_object, delete_object = S3Backend.put_object, S3Backend.delete_object
    create_bucket, delete_bucket = S3Backend.create_bucket, S3Backend.delete_bucket

    def recording_put(self, bucket_name, key_name, *args, **kwargs):
        result = put_object(self, bucket_name, key_name, *args, **kwargs)
        _record("object", bucket_name, key_name)
        return result

    def recording_delete(self, bucket_name, key_name, *args, **kwargs):
        result = delete_object(self, bucket_name, key_name, *args, **kwargs)
        _record("object", bucket_name, key_name)
        return result

    def recording_create_bucket(self, bucket_name, *args, **kwargs):
        result = create_bucket(self, bucket_name, *args, **kwargs)
        _record("bucket", bucket_name)
        return result

    def recording_delete_bucket(self, bucket_name, *args, **kwargs):
        result = delete_bucket(self, bucket_name, *args, **kwargs)
        _record("bucket-deleted", bucket_name)
        return result

    S3Backend.put_object, S3Backend.delete_object = recording_put, recording_delete
    S3Backend.create_bucket, S3Backend.delete_bucket = recording_create_bucket, recording_delete_bucket
    S3Backend._local_store_patched = True


def _backend_of(bucket: str):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    partition, account = s3_backends.bucket_accounts.get(bucket, ("aws", DEFAULT_ACCOUNT_ID))
    return s3_backends[account][partition]


def _current_object(bucket: str, key: str):
    """moto's current version of ``bucket/key``, or None when there is none (or it is a delete marker)."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import FakeKey

    try:
        found = _backend_of(bucket).get_bucket(bucket).keys.get(key)
    except MissingBucket:
        return None
    return found if isinstance(found, FakeKey) else None


class WriteThroughApp:
    """WSGI middleware: the response of a request that changed objects is held until they are on disk."""

    def __init__(self, app: Callable, store: DiskStore) -> None:
        _patch_backend()
        self.app = app
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
            return self.app(environ, start_response)
        _touched.events = []
        captured: list[tuple] = []
        written: list[bytes] = []

        def capture(status, headers, exc_info=None):
            captured[:] = [(status, headers, exc_info)]
            return written.append

        try:
            result = self.app(environ, capture)
            try:
                body = written + list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            events, _touched.events = _touched.events, None
            status, headers, exc_info = captured[0]
            try:
                self._persist(events)
            except (OSError, ValueError) as error:  # ValueError: a NUL in a key
                LOG.error("local S3 store could not persist a write: %s", error)
                self._match_disk(events)
                status, headers, exc_info, body = _refusal(error)
            start_response(status, headers, exc_info)
            return body
        finally:
            _touched.events = None

    def _persist(self, events: list[tuple[str, str, str | None]]) -> None:
        for kind, bucket, key in dict.fromkeys(events):  # each target once, in order
            if kind == "bucket":
                self.store.create_bucket(bucket)
            elif kind == "bucket-deleted":
                self.store.delete_bucket(bucket)
            else:
                with self.store.lock_of(bucket, key):  # read and written under the key's lock: never an older version last
                    found = _current_object(bucket, key)
                    if found is None:
                        self.store.delete(bucket, key)
                    else:
                        self.store.save(bucket, key, found.value, dict(found.metadata))
                        serve_from_disk(found, object_path(self.store.root, bucket, key))


    def _match_disk(self, events: list[tuple[str, str, str | None]]) -> None:
        """After a failed write, make moto hold what the disk holds: what was refused was never stored."""
        for kind, bucket, key in dict.fromkeys(events):
            if kind != "object":
                continue
            path = object_path(self.store.root, bucket, key)
            backend = _backend_of(bucket)
            if path.is_file():
                meta = metadata_path(self.store.root, bucket, key)
                restored = backend.put_object(bucket, key, path.read_bytes(), disable_notification=True)
                if meta.is_file():
                    restored.set_metadata(json.loads(meta.read_text()))
            elif _current_object(bucket, key) is not None:
                backend.get_bucket(bucket).keys.pop(key)


def _refusal(error: Exception):
    """S3's error response: 400 for a key the folder cannot hold, 507 for a full disk (an SDK retries neither: a
    worker heard of a full disk only after four retries, ~10 s), else 500."""
    if isinstance(error, (FileExistsError, IsADirectoryError, NotADirectoryError, ValueError)):
        code, status = "InvalidArgument", "400 Bad Request"
    elif isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        code, status = "InsufficientStorage", "507 Insufficient Storage"
    else:
        code, status = "InternalError", "500 Internal Server Error"
    message = str(error).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>the local store could not keep the object on disk: {message}</Message></Error>").encode()
    return status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], None, [body]


def load(store: DiskStore, region: str = "us-east-1") -> int:
    """Put every stored bucket and object back into moto's backend; the number of objects loaded."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    count = 0
    for bucket in store.buckets():
        if bucket not in s3_backends.bucket_accounts:
            backend.create_bucket(bucket, region)
        for key, path, metadata in store.objects(bucket):
            status = path.stat()
            large = status.st_size >= SERVED_FROM_DISK_FROM  # read from its file when served, never held here
            stored = backend.put_object(bucket, key, b"" if large else path.read_bytes(), disable_notification=True)
            if large:
                _replace_buffer(stored, StoredValue(path, status))
                stored.contentsize = status.st_size  # its ETag is worked out from the file when asked
            if metadata:
                stored.set_metadata(dict(metadata))
            count += 1
    return count
