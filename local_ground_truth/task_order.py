"""The order a worker meets a job's objects in: shuffled per worker, the same on every visit.

The manifest's order can carry a pattern (the sample data repeats its classes every six objects), and
a worker who sees it learns the answers from the position. Each worker gets the objects sorted by a
digest of (job, worker, object): deterministic (a reload, a restart or another tab shows the same
order), different per worker and per job, and independent of leases (it only orders what the lease
table offers). Objects a worker skipped go to the end of their order, most recently skipped last,
until the runner restarts (skips live in memory, as leases do).
"""
from __future__ import annotations

import hashlib
import threading
from typing import Sequence


def shuffled(job_name: str, worker: str, object_ids: Sequence[str]) -> list[str]:
    """``object_ids`` in ``worker``'s order for ``job_name``."""
    def rank(object_id: str) -> bytes:
        return hashlib.sha256("\0".join((job_name, worker, object_id)).encode("utf-8")).digest()

    return sorted(object_ids, key=rank)


class WorkerOrder:
    """Each worker's order of one job's objects, with the objects they skipped moved to the end."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self._skipped: dict[str, list[str]] = {}
        self._orders: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {}  # worker -> (ids, id -> place)
        self._lock = threading.Lock()

    def _places(self, worker: str, object_ids: Sequence[str]) -> dict[str, int]:
        ids = tuple(object_ids)
        with self._lock:
            cached = self._orders.get(worker)
        if cached is None or cached[0] != ids:
            cached = (ids, {oid: place for place, oid in enumerate(shuffled(self.job_name, worker, ids), 1)})
            with self._lock:
                self._orders[worker] = cached
        return cached[1]

    def order(self, worker: str, object_ids: Sequence[str]) -> list[str]:
        """``object_ids`` in ``worker``'s order, the ones they skipped last."""
        places = self._places(worker, object_ids)
        with self._lock:
            skipped = [oid for oid in self._skipped.get(worker, []) if oid in places]
        passed = set(skipped)
        return sorted((oid for oid in object_ids if oid not in passed), key=places.__getitem__) + skipped

    def skip(self, worker: str, object_id: str) -> None:
        with self._lock:
            skipped = self._skipped.setdefault(worker, [])
            if object_id in skipped:
                skipped.remove(object_id)
            skipped.append(object_id)

    def position(self, worker: str, object_id: str, object_ids: Sequence[str]) -> int:
        """1-based place of ``object_id`` in ``worker``'s order (skips aside: a task keeps its number)."""
        return self._places(worker, object_ids)[object_id]
