"""An S3 endpoint on 127.0.0.1 (persistent: see ``s3_store``) and the stack's BucketDeployments replayed into it."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Optional

import boto3
from botocore.exceptions import ClientError

from local_ground_truth import function_grants, s3_store
from local_ground_truth.stack_reader import WorkflowSpec

_REPO = Path(__file__).resolve().parent.parent
LOG = logging.getLogger(__name__)
#: The key this process signs with, per endpoint it started (``s3_endpoint``; ``client`` uses it).
_CLIENT_KEYS: dict[str, str] = {}


@contextmanager
def s3_endpoint(url: str | None = None, store: Path | None = None, grants: Optional[Mapping[str, Optional[list]]] = None,
                on_lost: Optional[Callable[[], None]] = None, clients: Iterable[str] = (),
                started: Optional[subprocess.Popen] = None) -> Iterator[str]:
    """``url`` as given, or a moto S3 server on a free 127.0.0.1 port for the duration.

    Conditional writes (PutObject ``If-Match`` / ``If-None-Match``) are atomic there, as in S3
    (``conditional_writes``). With ``store``, the server keeps every bucket in that folder (``s3_store``): whatever it
    accepted is on disk before it answered, and it starts with what an earlier run left there.
    ``grants``: per access key a function signs with, its role's S3 statements, which the server holds its requests to
    (``function_grants``; None: not checked). The server answers only those keys, this process's own (``client``
    signs with it) and ``clients``: any other process of the machine reaches 127.0.0.1, and the job's answers are
    in these buckets (``endpoint_guard``).
    Connections stay open between requests (``keep_alive``): a client's requests reuse one.
    The server runs in a child process of its own: in this process it would compete for the GIL
    with the runner (and its pre-labeling pool's results), which slowed every request. Its life is this process's:
    it ends when this context closes its stdin, or this process dies; it ignores SIGINT and SIGTERM, so a signal sent
    to every process at once (``pkill``, a service manager's stop) stops the runner, which finishes its batch through
    the endpoint and then ends it, instead of taking the endpoint away under it. Should the endpoint end while in use
    (killed outright, out of memory), that is logged as an error and ``on_lost`` is called (the runner stops itself
    then, at once, rather than serving answers it can no longer save).
    ``started``: the server process ``start_endpoint(store)`` started earlier (it has loaded ``store`` meanwhile);
    this context hands it its keys and ends it as its own.
    """
    if url:
        yield url
        return
    runner_key = "runner." + secrets.token_hex(12)  # this process's key with the endpoint (``client``)
    server = started or start_endpoint(store)
    stopping = threading.Event()
    served = ""
    try:
        keys = {"grants": dict(grants or {}), "clients": [runner_key, *clients], "token": function_grants.RUN_TOKEN}
        server.stdin.write(json.dumps(keys).encode() + b"\n")  # one line; the pipe then stays open
        server.stdin.flush()
        line = server.stdout.readline().decode().strip()  # the port, once the socket is listening
        if not line.isdigit():
            raise RuntimeError(f"the local S3 endpoint did not start (exit code {server.poll()})")
        threading.Thread(target=_watch, args=(server, stopping, on_lost), name="s3-endpoint-watch", daemon=True).start()
        served = f"http://127.0.0.1:{line}"
        _CLIENT_KEYS[served] = runner_key
        yield served
    finally:
        stopping.set()
        stop_endpoint(server)
        _CLIENT_KEYS.pop(served, None)


def start_endpoint(store: Path | None) -> subprocess.Popen:
    """The endpoint's server process, started: it loads ``store`` (seconds for a large job) and then waits for its keys
    (``s3_endpoint(started=...)``), so the loading can go on while the runner does something else. Ended by
    ``stop_endpoint`` when it is never handed over."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "local_ground_truth.local_s3", "--keys-on-stdin", "--lives-with-parent"] + (
        ["--store", str(store)] if store else [])
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)


def _watch(server: subprocess.Popen, stopping: threading.Event, on_lost: Optional[Callable[[], None]]) -> None:
    """Say so, and call ``on_lost``, when the endpoint ends before it was asked to."""
    code = server.wait()
    if not stopping.is_set():
        LOG.error("the local S3 endpoint (process %s) ended while in use (%s); everything it acknowledged is on disk",
                  server.pid, exit_status(code))
        if on_lost is not None:
            on_lost()


def exit_status(code: int) -> str:
    """A process's exit code as words: "killed by SIGKILL", "exit code 1"."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def stop_endpoint(server: subprocess.Popen) -> None:
    """End the endpoint: its stdin closed is its signal to exit; killed if it has not within 5 s."""
    try:
        server.stdin.close()
    except OSError:
        pass
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    try:
        server.stdout.close()
    except OSError:
        pass


def moto_s3_app():
    """moto's S3 as a WSGI application. moto lists its own package folder on every request to route it; the folder
    does not change, so it is listed once."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    return DomainDispatcherApplication(create_backend_app)


def keep_alive_server(app):
    """``app`` served on a free 127.0.0.1 port, a thread per connection, a connection kept open between a
    client's requests (``keep_alive``); ``serve_forever`` starts it."""
    from werkzeug.serving import make_server

    from local_ground_truth.keep_alive import KeepAliveRequestHandler

    return make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAliveRequestHandler)


def _serve(store: Path | None, keys_on_stdin: bool = False, lives_with_parent: bool = False) -> None:
    """Child process: moto's S3 on 127.0.0.1, port printed on stdout; ends when stdin closes. With
    ``keys_on_stdin``, the run's keys are the first line of stdin (JSON: ``grants``, each function's access key
    and its role's statements, ``clients``, the runner's key, and ``token``, the run's part of every function's key),
    and only they are answered. With
    ``lives_with_parent``, SIGINT and SIGTERM are ignored: only the parent ends it (by closing stdin, or by dying)."""
    from local_ground_truth import conditional_writes, s3_store
    from local_ground_truth.endpoint_guard import EndpointGuard

    conditional_writes.install()  # If-Match / If-None-Match checked and written as one step, as S3 does
    logging.basicConfig(level=logging.INFO, format="local S3: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    app = moto_s3_app()
    if store is not None:
        disk = s3_store.DiskStore(store)
        s3_store.load(disk)
        app = s3_store.WriteThroughApp(app, disk)
    keys = json.loads(sys.stdin.buffer.readline() or b"{}") if keys_on_stdin else {}
    # the run's SDK clients only, never a web page nor another process of the machine; functions within their grants
    guard = EndpointGuard(app, keys.get("grants"), keys.get("clients") if keys_on_stdin else None, keys.get("token"))
    server = keep_alive_server(guard)
    guard.listening_on(server.server_port)

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    if lives_with_parent:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(server.server_port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def client(endpoint: str, config=None):
    """An S3 client of ``endpoint``: for an endpoint this process started (``s3_endpoint``), signing with the run's
    key, which that endpoint asks of every request; for another, with the environment's credentials (a local one
    accepts any: "local" when there are none; real ones in the environment are left alone)."""
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    key = _CLIENT_KEYS.get(endpoint)
    if key is not None:
        return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
                            aws_secret_access_key="local", config=config)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)


@dataclass(frozen=True)
class _DeployedFile:
    """One file of a deployment's asset as it lands in the bucket (its markers replaced)."""
    path: Path
    markers: Mapping[str, str]

    def body(self) -> bytes:
        body = self.path.read_bytes()
        if self.markers:
            text = body.decode("utf-8", errors="strict") if _is_text(body) else None
            if text is not None:
                for marker, value in self.markers.items():
                    text = text.replace(marker, value)
                body = text.encode("utf-8")
        return body


@dataclass
class DeploymentPlan:
    """What replaying a stack's BucketDeployments would write, worked out against the buckets and not yet written:
    a resume refused for its changed settings must leave the job's bucket as its tasks were made from."""
    files: dict[tuple[str, str], _DeployedFile] = field(default_factory=dict)  # every file the deployments hold
    writes: dict[tuple[str, str], Optional[_DeployedFile]] = field(default_factory=dict)  # None: deleted (pruned)
    replaced: list[str] = field(default_factory=list)
    count: int = 0
    etags: dict[tuple[str, str], str] = field(default_factory=dict)  # of each file written

    def rewrites(self, bucket: str, key: str) -> bool:
        """Whether applying the plan writes the object anew (it was not there, or there with other content)."""
        return self.writes.get((bucket, key)) is not None

    def replaced_besides(self, bucket: str, key: str) -> list[str]:
        """``replaced``, leaving out one object (the job's manifest, when it only grew)."""
        left_out = {_replaced_entry(bucket, key, how) for how in ("changed", "removed")}
        return [entry for entry in self.replaced if entry not in left_out]

    def body_of(self, bucket: str, key: str) -> Optional[bytes]:
        """The object as the deployments leave it; None for one they do not hold."""
        deployed = self.files.get((bucket, key))
        return None if deployed is None else deployed.body()

    def apply(self, s3) -> int:
        """Write it; returns the number of files the deployments hold."""
        for (bucket, key), deployed in self.writes.items():
            if deployed is None:
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=deployed.body())
        return self.count


def _replaced_entry(bucket: str, key: str, how: str) -> str:
    """How ``DeploymentPlan.replaced`` names an object the deployments change or remove."""
    return f"s3://{bucket}/{key} ({how})"


def asset_files(folder: Path, relative: str = "", above: frozenset = frozenset()) -> Iterator[tuple[str, Path]]:
    """The files an asset folder's zip holds, by their path in it, as the CDK CLI zips it (every file, hidden ones
    too, links followed, to files and to folders alike: a data folder's link to a folder of its own is uploaded as
    that folder's files under the link's name; ``Path.rglob`` passed over it). A link back to a folder it is in is
    not walked again (``above``: the real paths of the folders it is in)."""
    real = os.path.realpath(folder)
    if real in above:
        return
    for entry in os.scandir(folder):
        if entry.is_dir():  # (a link to a folder too)
            yield from asset_files(Path(entry.path), f"{relative}{entry.name}/", above | {real})
        elif entry.is_file():
            yield f"{relative}{entry.name}", Path(entry.path)


def plan_deployment(spec: WorkflowSpec, s3, store: Optional[Path] = None) -> DeploymentPlan:
    """Replaying every BucketDeployment as its handler would: files with markers replaced, and with ``Prune`` the
    objects under its prefix that its sources no longer hold deleted. Objects already there with the same content
    are left alone (a resumed job rewrites nothing); ``replaced`` gets the ``s3://`` URI of each object that was
    there with other content (changed) or would be deleted (removed), with which. Only the stack's buckets are
    created (empty) meanwhile.

    A pruning deployment owns its prefix, so it lists it; any other owns only its files, so each is looked up
    (HEAD): the data, template and manifest deployments of a workflow share the bucket's root with the job's
    output, and listing it for each of them read every answer the job holds (a resumed job of 10,200 answers
    spent 26 s there).

    ``store``: the folder the runner's own endpoint keeps the buckets in (``s3_store``), where every write it
    acknowledged is in place: what the buckets hold is read there instead, without a request (the listing of a data
    folder of 3,400 files took 3.3 s through the endpoint)."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in sorted(set(spec.buckets.values()) | {d.bucket for d in spec.deployments}):
        if name not in existing:
            s3.create_bucket(Bucket=name)
    plan = DeploymentPlan()
    for deployment in spec.deployments:
        bucket = deployment.bucket
        files: dict[str, _DeployedFile] = {}
        for asset_dir, markers in zip(deployment.asset_dirs, deployment.markers):
            for relative, path in sorted(asset_files(Path(asset_dir))):
                files[deployment.prefix + relative] = _DeployedFile(path, markers)
                plan.count += 1
        if store is not None:
            stored = _stored_digests(store, bucket, deployment.prefix if deployment.prune else None, files)
        elif deployment.prune:
            stored = _listed_etags(s3, bucket, deployment.prefix)
        else:
            stored = _looked_up_etags(s3, bucket, files)
        for (written_bucket, key), deployed in plan.writes.items():  # an earlier deployment's, as if written
            if written_bucket == bucket and (key.startswith(deployment.prefix) if deployment.prune else key in files):
                if deployed is None:
                    stored.pop(key, None)
                else:
                    stored[key] = plan.etags[(bucket, key)]
        for key, deployed in files.items():
            plan.files[(bucket, key)] = deployed
            etag = hashlib.md5(deployed.body(), usedforsecurity=False).hexdigest()
            if stored.get(key) != etag:
                plan.writes[(bucket, key)] = deployed
                plan.etags[(bucket, key)] = etag
                if key in stored:
                    plan.replaced.append(_replaced_entry(bucket, key, "changed"))
        if deployment.prune:
            for key in sorted(set(stored) - set(files)):
                plan.writes[(bucket, key)] = None
                plan.files.pop((bucket, key), None)
                plan.replaced.append(_replaced_entry(bucket, key, "removed"))
    return plan


def _listed_etags(s3, bucket: str, prefix: str) -> dict[str, str]:
    """Every object under ``prefix``, by key: its ETag."""
    return {item["Key"]: item["ETag"].strip('"')
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])}


def _looked_up_etags(s3, bucket: str, keys: Iterable[str]) -> dict[str, str]:
    """Those of ``keys`` the bucket holds, by key: its ETag."""
    found = {}
    for key in keys:
        try:
            found[key] = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
    return found


def _stored_digests(store: Path, bucket: str, prefix: Optional[str], keys: Iterable[str]) -> dict[str, str]:
    """As ``_listed_etags`` (every object under ``prefix``) or, with ``prefix`` None, ``_looked_up_etags`` (those of
    ``keys``), read from the endpoint's folder: each object's MD5, which is a single PUT's ETag (an object uploaded in
    parts is compared by its content all the same)."""
    if prefix is not None:
        paths = s3_store.stored_objects(store / bucket, prefix)
    else:
        paths = {key: s3_store.object_path(store, bucket, key) for key in keys}
    found = {}
    for key, path in paths.items():
        try:
            with open(path, "rb") as handle:
                found[key] = hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
        except (FileNotFoundError, NotADirectoryError):
            continue
    return found


def deploy(spec: WorkflowSpec, s3, replaced: Optional[list[str]] = None) -> int:
    """Replay the stack's BucketDeployments (``plan_deployment``) at once. Returns the number of files the
    deployments hold; ``replaced``, when given, gets the objects that were there with other content or deleted."""
    plan = plan_deployment(spec, s3)
    if replaced is not None:
        replaced.extend(plan.replaced)
    return plan.apply(s3)


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m local_ground_truth.local_s3")
    parser.add_argument("--store", type=Path, help="keep every bucket in this folder (default: memory only)")
    parser.add_argument("--keys-on-stdin", action="store_true",
                        help="read the run's keys (JSON: grants, each function's key and its role's S3 statements; "
                             "clients, the runner's key) from stdin's first line, and answer only them")
    parser.add_argument("--lives-with-parent", action="store_true",
                        help="ignore SIGINT and SIGTERM: end only when stdin closes (the parent's stop, or its death)")
    arguments = parser.parse_args()
    _serve(arguments.store, arguments.keys_on_stdin, arguments.lives_with_parent)
