"""Task leases: a slot per answer, held for the task time limit, returned on expiry."""
from __future__ import annotations

import threading

from local_ground_truth.leases import LeaseTable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table(slots: int = 1, answered: dict | None = None, clock: Clock | None = None) -> LeaseTable:
    answered = answered if answered is not None else {}
    return LeaseTable(slots, 600, lambda oid: answered.get(oid, set()), clock=clock or Clock())


def test_one_slot_one_holder_and_the_holder_keeps_it():
    leases = table()
    first = leases.acquire("0", "ana")
    assert first is not None and leases.acquire("0", "bo") is None
    assert leases.acquire("0", "ana") == first  # re-opening does not extend or duplicate
    assert leases.available(["0", "1"], "bo") == ["1"] and leases.available(["0", "1"], "ana") == ["0", "1"]


def test_an_expired_lease_returns_its_slot_to_the_pool():
    clock = Clock()
    leases = table(clock=clock)
    leases.acquire("0", "ana")
    clock.now += 599
    assert leases.acquire("0", "bo") is None
    clock.now += 2
    assert leases.acquire("0", "bo") is not None
    assert leases.holders("0") == {"bo"}
    # ana's time ran out and bo holds the slot: ana may no longer submit; bo may.
    assert not leases.may_submit("0", "ana") and leases.may_submit("0", "bo")


def test_an_expired_lease_whose_slot_nobody_took_may_still_submit():
    clock = Clock()
    leases = table(clock=clock)
    leases.acquire("0", "ana")
    clock.now += 3600
    assert leases.may_submit("0", "ana")


def test_several_slots_count_answers_and_live_leases():
    answered = {"0": {"carl"}}
    leases = table(slots=3, answered=answered)
    assert leases.acquire("0", "ana") and leases.acquire("0", "bo")
    assert leases.acquire("0", "dan") is None  # carl answered, ana and bo hold the other two
    assert leases.acquire("0", "carl") is None  # nobody answers an object twice
    leases.release("0", "bo")
    assert leases.acquire("0", "dan") is not None


def test_a_holder_may_not_submit_to_an_object_that_filled_up_meanwhile():
    answered: dict[str, set[str]] = {}
    leases = table(answered=answered)
    leases.acquire("0", "ana")
    answered["0"] = {"bo"}  # e.g. after a restart, which forgets leases, bo took the slot and answered
    assert not leases.may_submit("0", "ana")


def test_concurrent_workers_never_share_a_slot():
    leases = table(slots=2)
    won: list[str] = []
    barrier = threading.Barrier(20)

    def race(worker: str) -> None:
        barrier.wait()
        if leases.acquire("0", worker):
            won.append(worker)

    threads = [threading.Thread(target=race, args=(f"w{number}",)) for number in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 2 and leases.holders("0") == set(won)
