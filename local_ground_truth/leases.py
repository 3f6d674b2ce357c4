"""Who is working on what: task leases, as Ground Truth hands out tasks.

A worker who opens an object holds a lease on one of its answer slots for the task time limit; an
object is offered to others only while its answers plus the other workers' live leases leave a slot
free. A lease ends when its holder submits, releases it, or lets it expire (the slot returns to the
pool). With ``path``, the live leases are also written there (by wall-clock expiry, rewritten whole on every
change) and read back when the table is made: a page open on a task across a restart of the runner keeps its
hold, instead of its object going to another worker and its answer being refused. The file is a convenience, not
a record: it is not flushed to disk (a power cut frees the slots, as a restart did before), and one that cannot be
read is left out with a warning.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AbstractSet, Callable, Iterable, Optional

from local_ground_truth.worker_names import same_person

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    object_id: str
    worker: str
    acquired: float
    expires: float


class LeaseTable:
    """Leases of one job. ``answered(object_id)`` tells which workers have answered an object."""

    def __init__(self, slots_per_object: int, lease_seconds: float, answered: Callable[[str], set[str]],
                 clock: Callable[[], float] = time.monotonic, path: Optional[Path] = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if slots_per_object < 1 or lease_seconds <= 0:
            raise ValueError("need at least one slot per object and a positive lease time")
        self.slots = slots_per_object
        self.lease_seconds = lease_seconds
        self._answered = answered
        self._clock, self._wall_clock = clock, wall_clock
        self._leases: dict[str, dict[str, Lease]] = {}
        self._lock = threading.Lock()
        self._path = path
        if path is not None:
            self._load(path)

    # -- kept across a restart ---------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            LOG.warning("leases %s left out (every unanswered slot is free): %s", path, error)
            return
        now, wall = self._clock(), self._wall_clock()
        try:
            for object_id, holders in kept.items():
                for worker, (acquired, expires) in holders.items():
                    if expires > wall and not self._has_answered(object_id, worker):
                        self._leases.setdefault(object_id, {})[worker] = Lease(
                            object_id, worker, now - (wall - acquired), now + min(expires - wall, self.lease_seconds))
        except (AttributeError, TypeError, ValueError) as error:
            self._leases.clear()
            LOG.warning("leases %s left out (every unanswered slot is free): not a leases file (%s)", path, error)

    def _save(self) -> None:
        """The live leases, by wall-clock time, to ``path`` (called holding the lock, after each change)."""
        if self._path is None:
            return
        now, wall = self._clock(), self._wall_clock()
        kept = {oid: {worker: [wall - (now - lease.acquired), wall + (lease.expires - now)]
                      for worker, lease in leases.items() if lease.expires > now}
                for oid, leases in self._leases.items()}
        temporary = self._path.with_name(self._path.name + ".tmp")
        try:
            temporary.write_text(json.dumps({oid: held for oid, held in kept.items() if held}), encoding="utf-8")
            os.replace(temporary, self._path)
        except OSError as error:  # a hold that is not kept only costs it after a restart
            LOG.warning("leases could not be kept in %s: %s", self._path, error)

    def _live(self, object_id: str, now: float) -> dict[str, Lease]:
        leases = self._leases.get(object_id, {})
        for worker in [w for w, lease in leases.items() if lease.expires <= now]:
            del leases[worker]  # expired: the slot goes back to the pool
        if not leases:
            # The table holds only objects leased now: an object's empty entry, left behind, made every request walk
            # every object ever leased (75 ms a lease and 300 ms a queue page at 100,000 objects).
            self._leases.pop(object_id, None)
        return leases

    def _has_answered(self, object_id: str, worker: str) -> bool:
        """Whether the person ``worker`` names answered the object, under any case of the name (one person, one
        answer: a job an earlier version kept may hold one person under two spellings)."""
        return _answered_by(self._answered(object_id), worker)

    def _has_room(self, object_id: str, worker: str, now: float) -> bool:
        answered = self._answered(object_id)
        if _answered_by(answered, worker):
            return False
        others = [w for w in self._live(object_id, now) if w != worker and w not in answered]
        return len(answered) + len(others) < self.slots

    def held(self, object_id: str, worker: str) -> Optional[Lease]:
        with self._lock:
            return self._live(object_id, self._clock()).get(worker)

    def seconds_left(self, object_id: str, worker: str) -> Optional[float]:
        """How long ``worker``'s lease on ``object_id`` still runs (None: they hold none)."""
        with self._lock:
            now = self._clock()
            lease = self._live(object_id, now).get(worker)
            return None if lease is None else lease.expires - now

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
            self._save()
            return lease

    def may_submit(self, object_id: str, worker: str) -> bool:
        """A live lease on an object that still lacks answers, or an expired lease (or none: a restart
        forgets leases) whose slot nobody else has taken since."""
        with self._lock:
            now = self._clock()
            if worker in self._live(object_id, now):
                answered = self._answered(object_id)
                return not _answered_by(answered, worker) and len(answered) < self.slots
            return self._has_room(object_id, worker, now)

    def release(self, object_id: str, worker: str) -> None:
        with self._lock:
            if self._leases.get(object_id, {}).pop(worker, None) is not None:
                self._live(object_id, self._clock())  # (drops the object's entry once no one holds it)
                self._save()

    def _takeable(self, object_id: str, worker: str, now: float) -> bool:
        return (worker in self._live(object_id, now) and not self._has_answered(object_id, worker)
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
                    if worker in self._live(oid, now) and not self._has_answered(oid, worker)]

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


def _answered_by(answered: AbstractSet[str], worker: str) -> bool:
    """``worker`` (the person, whatever the name's case) is among ``answered``."""
    return worker in answered or any(same_person(name, worker) for name in answered)
