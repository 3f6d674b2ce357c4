"""The runner's S3 endpoint keeps its buckets on disk: written before it answers, loaded when it starts."""
from __future__ import annotations

import errno
import os
import signal
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_ground_truth import local_s3, s3_store
from local_ground_truth.s3_store import object_path
from tests.runner_helpers import endpoint_pids

BUCKET = "store-test"


def test_each_write_is_on_disk_when_the_endpoint_answers_and_is_there_after_a_restart(tmp_path):
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="plots/run-01/current.png", Body=b"\x89PNG...", ContentType="image/png",
                      Metadata={"source-etag": "abc"})
        assert object_path(store, BUCKET, "plots/run-01/current.png").read_bytes() == b"\x89PNG..."
        s3.copy_object(Bucket=BUCKET, Key="copy.png", CopySource={"Bucket": BUCKET, "Key": "plots/run-01/current.png"})
        for key in ("gone", "gone-too", "gone-three"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        s3.delete_object(Bucket=BUCKET, Key="gone")
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "gone-too"}, {"Key": "gone-three"}]})
        assert not object_path(store, BUCKET, "gone-too").exists()
        etag = s3.head_object(Bucket=BUCKET, Key="copy.png")["ETag"]
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == ["copy.png", "plots/run-01/current.png"]
        head = s3.head_object(Bucket=BUCKET, Key="plots/run-01/current.png")
        assert head["ContentType"] == "image/png" and head["Metadata"] == {"source-etag": "abc"}
        assert s3.head_object(Bucket=BUCKET, Key="copy.png")["ETag"] == etag


HOSTILE_KEYS = ["../outside", "a/../../b", "./x", "a//b", "trailing/", "100%/done", "%2E%2E", "ünï/cödé",
                "images/" + "scan%20of%20weld%20" * 12 + ".jpg", "a" * 1000, "ü" * 300 + "/x%+", "%+" * 200, "/lead",
                "output/job/annotations/worker-response/iteration-1/7/w.json", "output/job/x"]


def test_no_key_leaves_the_folder_and_every_key_comes_back_as_it_was(tmp_path):
    """Every hostile key in one bucket (two keys must not land on one file either), and a restart reads them back."""
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        for key in HOSTILE_KEYS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode(), ContentType="image/jpeg")  # (metadata kept too)
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files and all(store / BUCKET in path.parents or store / ".metadata" / BUCKET in path.parents for path in files)
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        listed = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
                  for o in page["Contents"]]
        assert listed == sorted(HOSTILE_KEYS, key=str.encode)  # S3's order: by the keys' UTF-8 bytes
        for key in HOSTILE_KEYS:
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == key.encode(), key
            assert s3.head_object(Bucket=BUCKET, Key=key)["ContentType"] == "image/jpeg", key


def test_the_store_read_from_disk_lists_and_reads_what_the_endpoint_serves(tmp_path):
    """The runner reads its job back from the endpoint's folder (``StoredBucket``), not with a request per file: for
    every prefix it lists the keys a listing of the endpoint gives, in its order, and reads the same bytes; keys the
    file system cannot hold as named (escaped, cut into pieces) come back whole."""
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        for key in HOSTILE_KEYS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=f"body of {key}".encode(), ContentType="text/plain")
        stored = s3_store.StoredBucket(store, BUCKET)
        for prefix in ["", "a", "a/", "a//", "output/", "output/job/annotations/", "output/j", "images/scan%20",
                       "ü" * 300, "ü" * 300 + "/", "%", "%+%+", "/", "trailing/", "nowhere/", "../"]:
            listed = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
                      for item in page.get("Contents", [])]
            assert stored.keys(prefix) == listed, prefix
        assert len(stored.keys("")) == len(HOSTILE_KEYS)
        for key in HOSTILE_KEYS:
            assert stored.read(key) == s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == f"body of {key}".encode()
        with pytest.raises(FileNotFoundError):
            stored.read("output/job/absent.json")


def _resident_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_large_objects_are_served_from_their_files_not_held_in_the_endpoints_memory(tmp_path):
    """moto holds every object under 5 MB in memory: a data folder of one-megabyte images grew the endpoint by its
    whole size, when written and again at every start (20,000 photos: 20 GB). Objects from 64 KiB on are served
    from the store's file, with the same bytes, ETag and ranges, written or loaded; a newer version replaces them."""
    import hashlib

    store, megabyte = tmp_path / "s3", 1 << 20
    bodies = {f"images/{number:03d}.jpg": os.urandom(megabyte) for number in range(120)}
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        [pid] = endpoint_pids(store)
        started = _resident_mb(pid)
        for key, body in bodies.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        assert _resident_mb(pid) - started < 60  # 120 MB written (it grew by ~150 MB before)
        assert s3.get_object(Bucket=BUCKET, Key="images/004.jpg")["Body"].read() == bodies["images/004.jpg"]
        s3.copy_object(Bucket=BUCKET, Key="copy.jpg", CopySource={"Bucket": BUCKET, "Key": "images/005.jpg"})
        s3.put_object(Bucket=BUCKET, Key="images/006.jpg", Body=b"small now")  # a newer version, in memory
        bodies.update({"copy.jpg": bodies["images/005.jpg"], "images/006.jpg": b"small now"})
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        [pid] = endpoint_pids(store)
        assert _resident_mb(pid) < started + 30  # loaded without its 120 MB (before: ~60 MB more than at the start)
        listed = {item["Key"]: item["ETag"].strip('"') for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET) for item in page["Contents"]}
        assert listed == {key: hashlib.md5(body).hexdigest() for key, body in bodies.items()}
        assert s3.get_object(Bucket=BUCKET, Key="images/007.jpg", Range="bytes=10-19")["Body"].read() == \
            bodies["images/007.jpg"][10:20]
        assert s3.head_object(Bucket=BUCKET, Key="images/008.jpg")["ContentLength"] == megabyte
        replacement = os.urandom(megabyte)
        s3.put_object(Bucket=BUCKET, Key="images/008.jpg", Body=replacement)
        assert s3.get_object(Bucket=BUCKET, Key="images/008.jpg")["Body"].read() == replacement
        assert object_path(store, BUCKET, "images/008.jpg").read_bytes() == replacement


def test_a_value_served_from_a_file_another_version_replaced_is_refused_not_mixed(tmp_path):
    """A GET that raced a PUT of its key must not send the newer bytes under the older version's ETag and length:
    the read fails (a 500 the SDK retries, as moto fails a read of a replaced key's closed buffer)."""
    path = tmp_path / "object"
    path.write_bytes(b"old version")
    value = s3_store.StoredValue(path)
    value.seek(4)
    assert value.read(3) == b"ver" and value.read() == b"sion"
    staged = tmp_path / "staged"
    staged.write_bytes(b"new version!")
    os.replace(staged, path)
    value.seek(0)
    with pytest.raises(s3_store.ReplacedOnDisk, match="replaced by a newer version"):
        value.read()
    value.seek(0)
    value.truncate()
    value.write(b"written by moto")  # a write makes it a value of its own, in memory
    value.seek(0)
    assert value.read() == b"written by moto"


def test_a_key_that_is_also_a_folder_is_refused_and_never_half_stored(tmp_path):
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="a/b", Body=b"file")
        with pytest.raises(ClientError, match="InvalidArgument"):
            s3.put_object(Bucket=BUCKET, Key="a/b/c", Body=b"under a file")
        with pytest.raises(ClientError, match="InvalidArgument"):
            s3.put_object(Bucket=BUCKET, Key="a", Body=b"over a folder")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["a/b"]  # memory matches disk


def test_a_sigkill_of_the_endpoint_loses_no_acknowledged_write_and_tears_no_file(tmp_path):
    store = tmp_path / "s3"
    acknowledged: dict[str, bytes] = {}
    with local_s3.s3_endpoint(store=store) as endpoint:
        # One attempt per write: a write the kill cut off fails at once (the SDK's retries would wait ~9 s on a
        # dead endpoint, and add nothing here: what counts is what the endpoint acknowledged).
        s3 = local_s3.client(endpoint, config=Config(retries={"total_max_attempts": 1}))
        s3.create_bucket(Bucket=BUCKET)
        stop = threading.Event()

        def write(writer: int) -> None:
            number = 0
            while not stop.is_set():
                key, body = f"w{writer}/{number % 7}", f"{writer}:{number}:".encode() * 5000
                try:
                    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                except Exception:  # noqa: BLE001 - the endpoint died under this write: never acknowledged
                    return
                acknowledged[key] = body  # overwrites: the latest acknowledged version of each key
                number += 1

        threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 20 and any(thread.is_alive() for thread in threads):
            time.sleep(0.001)
        assert len(acknowledged) >= 20, "the writers failed before the kill"
        [pid] = endpoint_pids(store)
        os.kill(pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join()
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        for key, body in acknowledged.items():
            stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            # The acknowledged version, or a later one whose answer the kill cut off; never a torn file.
            writer, number, _ = stored[: stored.index(b":", stored.index(b":") + 1) + 1].split(b":")
            assert stored == f"{writer.decode()}:{number.decode()}:".encode() * 5000
            assert int(number) >= int(body.split(b":")[1])
    assert not any((store / ".partial").iterdir())  # a killed write's leftovers are cleared at start


def test_concurrent_writes_of_one_key_leave_on_disk_what_the_endpoint_serves(tmp_path):
    # Writes of different keys are made durable at once; those of one key are ordered, so the disk never
    # ends with an older version than the one the endpoint serves (and serves again after a restart).
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)

        def write(writer: int) -> None:
            for number in range(15):
                s3.put_object(Bucket=BUCKET, Key="shared/latest.json", Body=f"{writer}:{number}".encode())
                s3.put_object(Bucket=BUCKET, Key=f"own/{writer}/{number}.json", Body=f"{writer}:{number}".encode())

        threads = [threading.Thread(target=write, args=(writer,)) for writer in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        served = s3.get_object(Bucket=BUCKET, Key="shared/latest.json")["Body"].read()
        assert object_path(store, BUCKET, "shared/latest.json").read_bytes() == served
        assert served.split(b":")[1] == b"14"  # some writer's last write
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        assert s3.get_object(Bucket=BUCKET, Key="shared/latest.json")["Body"].read() == served
        keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="own/")
                for o in page.get("Contents", [])}
        assert keys == {f"own/{writer}/{number}.json" for writer in range(6) for number in range(15)}


def test_a_delete_emptying_a_folder_while_another_key_is_written_into_it_loses_neither(tmp_path):
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        s3.create_bucket(Bucket=BUCKET)

        def churn(writer: int) -> None:  # each writer empties and refills the shared folder
            for number in range(20):
                key = f"folder/{writer}-{number}"
                s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
                s3.delete_object(Bucket=BUCKET, Key=key)
            s3.put_object(Bucket=BUCKET, Key=f"folder/{writer}-kept", Body=b"kept")

        threads = [threading.Thread(target=churn, args=(writer,)) for writer in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="folder/")["Contents"]) == [
            f"folder/{writer}-kept" for writer in range(4)]


def _disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_the_full_disk_refuses_leaves_the_old_object_and_no_partial_file(tmp_path, monkeypatch):
    """The object was renamed into place before its metadata was written: when the disk filled up in between, the
    write was refused (the worker told "nothing was recorded") and the object still counted after a restart."""
    store = s3_store.DiskStore(tmp_path / "s3")
    store.save(BUCKET, "kept", b"old", {"Content-Type": "application/json", "x-amz-meta-v": "1"})
    real_staged, calls = s3_store.staged, []

    def metadata_finds_the_disk_full(data, folder):
        calls.append(data)
        if len(calls) == 2:  # the object's bytes fit, its metadata does not
            _disk_full()
        return real_staged(data, folder)

    monkeypatch.setattr(s3_store, "staged", metadata_finds_the_disk_full)
    for key in ("kept", "new"):
        calls.clear()
        with pytest.raises(OSError, match="No space left"):
            store.save(BUCKET, key, b"refused", {"Content-Type": "application/json", "x-amz-meta-v": "2"})
    assert not object_path(store.root, BUCKET, "new").exists()
    assert {key: (path.read_bytes(), meta) for key, path, meta in store.objects(BUCKET)} == {
        "kept": (b"old", {"content-type": "application/json", "x-amz-meta-v": "1"})}
    assert list(store.temporary.iterdir()) == []


def test_a_staged_file_the_full_disk_cut_short_is_removed(tmp_path, monkeypatch):
    """Written and not synced: the half-written temporary file stayed, holding the space just freed."""
    store = s3_store.DiskStore(tmp_path / "s3")
    monkeypatch.setattr(s3_store.os, "fsync", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.save(BUCKET, "x", b"data" * 1000, {})
    assert list(store.temporary.iterdir()) == [] and not object_path(store.root, BUCKET, "x").exists()


def test_a_full_disk_is_refused_at_once_and_not_retried_by_the_sdk(tmp_path):
    """Refused as a 500, the SDK retried the write four times: a worker heard of the full disk only after ~10 s."""
    import http.server

    status, headers, _, body = s3_store._refusal(OSError(errno.ENOSPC, "No space left on device"))
    assert status == "507 Insufficient Storage" and b"No space left on device" in body[0]
    assert s3_store._refusal(OSError(errno.EIO, "I/O error"))[0] == "500 Internal Server Error"  # may pass: retried
    requests = []

    class FullDisk(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            requests.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(int(status.split()[0]))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[0])

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FullDisk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s3 = local_s3.client(f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(ClientError, match="InsufficientStorage"):
            s3.put_object(Bucket=BUCKET, Key="answer.json", Body=b"{}")
        assert len(requests) == 1
    finally:
        server.shutdown()
        server.server_close()
