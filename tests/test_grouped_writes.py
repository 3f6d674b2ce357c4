"""Pre-labeling responses are stored in groups: full groups at once, and none waits for the next response."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from local_ground_truth.grouped_writes import GroupedWrites


class Recorder:
    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.lock = threading.Lock()
        self.written = threading.Event()

    def write(self, group: list[int]) -> int:
        with self.lock:
            self.groups.append(list(group))
        self.written.set()
        return len(group)


def test_a_full_group_is_written_at_once_and_close_writes_the_rest_in_order():
    recorder = Recorder()
    with ThreadPoolExecutor(1) as executor:
        writes = GroupedWrites(recorder.write, executor, size=3, wait=3600)
        for item in range(7):
            writes.add(item)
        assert recorder.written.wait(10)  # the first full group, long before its wait is over
        futures = writes.close()
    assert recorder.groups == [[0, 1, 2], [3, 4, 5], [6]]
    assert [future.result() for future in futures] == [3, 3, 1]


def test_a_group_is_written_once_its_oldest_item_has_waited_without_another_item_coming():
    recorder = Recorder()
    with ThreadPoolExecutor(1) as executor:
        writes = GroupedWrites(recorder.write, executor, size=50, wait=0.2)
        started = time.monotonic()
        writes.add(1)
        writes.add(2)
        assert recorder.written.wait(10), "the items waited for an item that never came"
        waited = time.monotonic() - started
        assert recorder.groups == [[1, 2]] and waited >= 0.2
        assert writes.close() and recorder.groups == [[1, 2]]  # nothing left: no empty write


def test_items_added_from_many_threads_are_each_written_once():
    recorder = Recorder()
    with ThreadPoolExecutor(4) as executor:
        writes = GroupedWrites(recorder.write, executor, size=7, wait=0.01)

        def add(start: int) -> None:
            for item in range(start, start + 500):
                writes.add(item)

        threads = [threading.Thread(target=add, args=(start,)) for start in range(0, 4000, 500)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for future in writes.close():
            future.result()
    items = [item for group in recorder.groups for item in group]
    assert sorted(items) == list(range(4000)) and all(1 <= len(group) <= 7 for group in recorder.groups)
