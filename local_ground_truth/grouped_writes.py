"""Items written in groups: at most ``size`` per write, and none waiting longer than ``wait`` seconds.

Pre-labeling stores its responses this way (a 1,000-object job makes tens of writes, not 1,000). A group is
written when it is full, or, by a timer of its own, once its oldest item has waited ``wait`` seconds: an
item never waits for the next one to arrive (when the last objects in flight are slow ones, the responses
before them would otherwise wait for them, and so would the workers who could label those objects).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Executor, Future
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")


class GroupedWrites(Generic[Item]):
    """``write(group)`` submitted to ``executor`` for each group of added items; ``close()`` writes the rest
    and returns every write's future (in order)."""

    def __init__(self, write: Callable[[list[Item]], object], executor: Executor, size: int, wait: float) -> None:
        self._write, self._executor, self.size, self.wait = write, executor, size, wait
        self._lock = threading.Lock()
        self._group: list[Item] = []
        self._oldest = 0.0
        self._writes: list[Future] = []
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._write_when_due, name="grouped-writes", daemon=True)
        self._timer.start()

    def add(self, item: Item) -> None:
        with self._lock:
            if not self._group:
                self._oldest = time.monotonic()
            self._group.append(item)
            if len(self._group) >= self.size:
                self._submit()

    def close(self) -> list[Future]:
        self._closed.set()
        self._timer.join()
        with self._lock:
            if self._group:
                self._submit()
            return list(self._writes)

    def _write_when_due(self) -> None:
        while not self._closed.wait(self.wait / 4):
            with self._lock:
                if self._group and time.monotonic() - self._oldest >= self.wait:
                    self._submit()

    def _submit(self) -> None:  # holding the lock
        self._writes.append(self._executor.submit(self._write, self._group))
        self._group = []
