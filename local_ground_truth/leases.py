"""Who is working on what: task leases, as Ground Truth hands out tasks.

A worker who opens an object holds a lease on one of its answer slots for the task time limit; an
object is offered to others only while its answers plus the other workers' live leases leave a slot
free. A lease ends when its holder submits, releases it, or lets it expire (the slot returns to the
pool). Leases live in memory: after a restart, every slot that has no answer is free again.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import AbstractSet, Callable, Iterable, Optional


@dataclass(frozen=True)
class Lease:
    object_id: str
    worker: str
    acquired: float
    expires: float


class LeaseTable:
    """Leases of one job. ``answered(object_id)`` tells which workers have answered an object."""

    def __init__(self, slots_per_object: int, lease_seconds: float, answered: Callable[[str], set[str]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if slots_per_object < 1 or lease_seconds <= 0:
            raise ValueError("need at least one slot per object and a positive lease time")
        self.slots = slots_per_object
        self.lease_seconds = lease_seconds
        self._answered = answered
        self._clock = clock
        self._leases: dict[str, dict[str, Lease]] = {}
        self._lock = threading.Lock()

    def _live(self, object_id: str, now: float) -> dict[str, Lease]:
        leases = self._leases.get(object_id, {})
        for worker in [w for w, lease in leases.items() if lease.expires <= now]:
            del leases[worker]  # expired: the slot goes back to the pool
        return leases

    def _has_room(self, object_id: str, worker: str, now: float) -> bool:
        answered = self._answered(object_id)
        if worker in answered:
            return False
        others = [w for w in self._live(object_id, now) if w != worker and w not in answered]
        return len(answered) + len(others) < self.slots

    def held(self, object_id: str, worker: str) -> Optional[Lease]:
        with self._lock:
            return self._live(object_id, self._clock()).get(worker)

    def acquire(self, object_id: str, worker: str) -> Optional[Lease]:
        """The worker's lease on ``object_id`` (kept if already held), or None when no slot is free."""
        with self._lock:
            now = self._clock()
            current = self._live(object_id, now).get(worker)
            if current is not None:
                return current
            if not self._has_room(object_id, worker, now):
                return None
            lease = Lease(object_id, worker, now, now + self.lease_seconds)
            self._leases.setdefault(object_id, {})[worker] = lease
            return lease

    def may_submit(self, object_id: str, worker: str) -> bool:
        """A live lease on an object that still lacks answers, or an expired lease (or none: a restart
        forgets leases) whose slot nobody else has taken since."""
        with self._lock:
            now = self._clock()
            if worker in self._live(object_id, now):
                answered = self._answered(object_id)
                return worker not in answered and len(answered) < self.slots
            return self._has_room(object_id, worker, now)

    def release(self, object_id: str, worker: str) -> None:
        with self._lock:
            self._leases.get(object_id, {}).pop(worker, None)

    def _takeable(self, object_id: str, worker: str, now: float) -> bool:
        return (worker in self._live(object_id, now) and worker not in self._answered(object_id)
                or self._has_room(object_id, worker, now))

    def can_take(self, object_id: str, worker: str) -> bool:
        """``worker`` holds ``object_id`` or could lease it now."""
        with self._lock:
            return self._takeable(object_id, worker, self._clock())

    def available(self, object_ids: Iterable[str], worker: str, limit: Optional[int] = None) -> list[str]:
        """The objects ``worker`` holds or could lease now, in the given order (the first ``limit`` of them: the
        rest of ``object_ids`` is then not read)."""
        found: list[str] = []
        with self._lock:
            now = self._clock()
            for oid in object_ids:
                if limit is not None and len(found) >= limit:
                    break
                if self._takeable(oid, worker, now):
                    found.append(oid)
        return found

    def held_by(self, worker: str) -> list[str]:
        """The objects ``worker`` holds a live lease on and has not answered."""
        with self._lock:
            now = self._clock()
            return [oid for oid in list(self._leases)
                    if worker in self._live(oid, now) and worker not in self._answered(oid)]

    def count_available(self, object_ids: AbstractSet[str], worker: str, in_flight: Iterable[str],
                        full: AbstractSet[str]) -> int:
        """How many of ``object_ids`` ``worker`` holds or could lease now. ``in_flight``: the objects with some of
        their answers; ``full``: those with all (no one can lease one; its holder, if any, still holds it). Every
        other object has room, so only the in-flight and leased ones are looked at one by one (late in a job of
        100,000 objects, a few hundred instead of every one)."""
        with self._lock:
            now = self._clock()
            leased = set(self._leases)
            looked = (set(in_flight) | leased) - full
            blocked = sum(1 for oid in looked if oid in object_ids and not self._takeable(oid, worker, now))
            held_full = sum(1 for oid in leased & full if oid in object_ids and self._takeable(oid, worker, now))
            return len(object_ids) - blocked - (len(full & object_ids) - held_full)

    def holders(self, object_id: str) -> set[str]:
        with self._lock:
            return set(self._live(object_id, self._clock()))

    def every_holder(self) -> dict[str, set[str]]:
        """The objects leased now and who holds them (only leased objects are looked at)."""
        with self._lock:
            now = self._clock()
            return {oid: set(live) for oid in list(self._leases) if (live := self._live(oid, now))}
