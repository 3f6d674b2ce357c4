"""One runner per job folder, and a plain word when something else holds what a runner needs.

Two runners serving one job folder each take answers and leases of their own: one worker could answer an object
on both, and each would consolidate what it alone holds. So a runner locks ``<state dir>/<job>.lock`` for as long
as it runs (``fcntl.flock``: the system releases it when the process ends, however it ends, so a runner killed
with -9 leaves nothing to clean up), and a second one is refused, naming the first's process. Jobs of one state
dir share its S3 store (``<state dir>/s3``: the stack's buckets, where each job's deployment writes the same input
manifest, and the store's temporary folder, which the endpoint clears as it starts), so a runner also locks the folder
(``.runner.lock``): a second job is refused there while the first runs, and may run once it has stopped.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


class InUse(Exception):
    """What a runner needs is held by another (a job folder, a port); the message says what and what to do."""


@contextmanager
def job_lock(folder: Path, job_name: str, *, runners_own: bool = False, say: Callable[[str], None] = print
             ) -> Iterator[None]:
    """Hold the job's lock and its folder's while the body runs; InUse if another runner holds either. A folder made
    here is its owner's alone (0700): it holds every answer, the team's keys and the job's store. ``runners_own``: the
    folder is the runner's default one (``.local-gt/<job>``), which an earlier version made open to other accounts: it
    is made so too, and ``say`` tells it. A folder given by the user keeps the permissions it has."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _held(folder / f"{job_name}.lock", os.getpid(),
               lambda holder: f"job {job_name} is being run by another runner (process {holder}) from {folder}: stop "
                              "that one first (its answers are kept), or run this one with another --job-name"):
        with _held(folder / FOLDER_LOCK, f"{os.getpid()} {job_name}", lambda holder: _folder_taken(folder, holder)):
            if runners_own:
                _owners_alone(folder, say)
            yield


FOLDER_LOCK = ".runner.lock"


def _owners_alone(folder: Path, say: Callable[[str], None]) -> None:
    status = folder.stat()
    mode = status.st_mode & 0o777
    if mode & 0o077 and status.st_uid == os.getuid():
        folder.chmod(0o700)
        say(f"job folder {folder}: other accounts of this machine could read it (mode {mode:o}, as an earlier version "
            "made it); it is now its owner's alone (700), as a new one is")


def _folder_taken(folder: Path, holder: str) -> str:
    pid, _, job = holder.partition(" ")
    return (f"another runner (process {pid}, job {job or 'unknown'}) is using {folder}: the jobs of one --state-dir "
            "share its S3 store, so run them one at a time, or give this one another --state-dir")


@contextmanager
def _held(path: Path, holder: object, refusal) -> Iterator[None]:
    """``path`` locked (``flock``) with ``holder`` written in it; InUse(``refusal(<what the holder wrote>)``) when
    another process holds it."""
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            handle.seek(0)
            raise InUse(refusal(handle.read().strip() or "unknown")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


def port_in_use(error: OSError, host: str, port: int) -> InUse | None:
    """The InUse to raise for a server that could not listen because the address is taken (else None)."""
    if error.errno != errno.EADDRINUSE:
        return None
    return InUse(f"port {port} on {host} is in use (another program, or another job's runner, listens on it): "
                 "give this one another --port")


def refuse_port_in_use(host: str, port: int) -> None:
    """InUse now if another program listens on ``port`` of ``host``: said before anything is synthesized, deployed or
    written to a job folder (the server binds it only once the job is ready, minutes later on a large job). Bound as
    the server binds (``SO_REUSEADDR``: a port a stopped runner left in TIME_WAIT is free) and released at once.
    Any other trouble with the address is left for the server to name."""
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return
    for family, kind, protocol, _name, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                refused = port_in_use(error, host, port)
                if refused is not None:
                    raise refused from None
