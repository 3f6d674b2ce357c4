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
from collections import OrderedDict
from typing import Iterator, Sequence

#: How many workers' orders are kept made (the ones seen last); another's is made again when asked, the same order.
KEPT_ORDERS = 32


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
        # worker -> (the ids it was made from, those ids in the worker's order, id -> place); made again only when
        # the ids change (a digest and a sort per object: ~30 ms per request at 100,000 objects otherwise). The
        # ``KEPT_ORDERS`` workers seen last only: each order holds every id (~10 MB at 100,000 objects), and a
        # team's shared link lets anyone with it make up names.
        self._orders: OrderedDict[str, tuple[Sequence[str], tuple[str, ...], dict[str, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def _made(self, worker: str, object_ids: Sequence[str]) -> tuple[tuple[str, ...], dict[str, int]]:
        with self._lock:
            cached = self._orders.get(worker)
            if cached is not None:
                self._orders.move_to_end(worker)
        if cached is None or (cached[0] is not object_ids and tuple(cached[0]) != tuple(object_ids)):
            ordered = tuple(shuffled(self.job_name, worker, object_ids))
            cached = (object_ids, ordered, {oid: place for place, oid in enumerate(ordered, 1)})
            with self._lock:
                self._orders[worker] = cached
                self._orders.move_to_end(worker)
                while len(self._orders) > KEPT_ORDERS:
                    self._orders.popitem(last=False)
        return cached[1], cached[2]

    def places(self, worker: str, object_ids: Sequence[str]) -> dict[str, int]:
        """Each object's 1-based place in ``worker``'s order (skips aside: a task keeps its number)."""
        return self._made(worker, object_ids)[1]

    def iterate(self, worker: str, object_ids: Sequence[str]) -> Iterator[str]:
        """``object_ids`` in ``worker``'s order, the ones they skipped last (lazily: the first ones cost little)."""
        ordered, places = self._made(worker, object_ids)
        with self._lock:
            skipped = [oid for oid in self._skipped.get(worker, []) if oid in places]
        passed = set(skipped)
        yield from (oid for oid in ordered if oid not in passed) if passed else ordered
        yield from skipped

    def order(self, worker: str, object_ids: Sequence[str]) -> list[str]:
        """``object_ids`` in ``worker``'s order, the ones they skipped last."""
        return list(self.iterate(worker, object_ids))

    def skip(self, worker: str, object_id: str) -> None:
        with self._lock:
            skipped = self._skipped.setdefault(worker, [])
            if object_id in skipped:
                skipped.remove(object_id)
            skipped.append(object_id)

    def position(self, worker: str, object_id: str, object_ids: Sequence[str]) -> int:
        """1-based place of ``object_id`` in ``worker``'s order (skips aside: a task keeps its number)."""
        return self.places(worker, object_ids)[object_id]
