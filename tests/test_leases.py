"""Task leases: a slot per answer, held for the task time limit, returned on expiry."""
from __future__ import annotations

import threading

import pytest

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


def test_the_open_count_and_the_first_open_objects_agree_with_the_whole_list():
    """``count_available`` (reading only in-flight and leased objects) and ``available`` with a limit give what
    the whole list gives, through answers, full objects (held or not), live, expired and foreign leases."""
    import random

    rng = random.Random(5)
    for _ in range(40):
        clock, answered = Clock(), {}
        leases = table(slots=rng.choice((1, 2, 3)), answered=answered, clock=clock)
        ids = [str(i) for i in range(60)]
        for oid in rng.sample(ids, 25):
            answered[oid] = set(rng.sample(["ana", "bo", "cy", "di"], rng.randint(1, 3)))
        for oid in rng.sample(ids, 20):
            leases.acquire(oid, rng.choice(["ana", "bo", "cy", "di"]))
        clock.now += rng.choice((0, 700))  # every lease so far expired, or none
        for oid in rng.sample(ids, 5):
            leases.acquire(oid, rng.choice(["ana", "bo"]))
        for oid in rng.sample(ids, 3):  # filled up while someone held it
            answered[oid] = set(rng.sample(["bo", "cy", "di"], leases.slots))
        full = {oid for oid, who in answered.items() if len(who) >= leases.slots}
        for worker in ("ana", "bo", "eve"):
            every = leases.available(ids, worker)
            assert leases.count_available(set(ids), worker, set(answered) - full, full) == len(every)
            assert leases.available(ids, worker, limit=4) == every[:4]
            assert set(leases.held_by(worker)) == {oid for oid in every if worker in leases.holders(oid)}


def test_the_first_open_objects_and_the_count_read_no_more_objects_than_they_need():
    """At 100,000 objects a worker's next task and queue must not look at every object (they once cost 0.3 s of
    CPU, and the queue page 46 s): the answers read are those of the objects passed over and of the touched ones."""
    read = []
    answered = {str(i): {"bo"} for i in range(10)}
    leases = LeaseTable(1, 600, lambda oid: read.append(oid) or answered.get(oid, set()), clock=Clock())
    ids = [str(i) for i in range(100_000)]
    leases.acquire("20", "cy")
    assert leases.available(iter(ids), "ana", limit=3) == ["10", "11", "12"]
    assert len(read) <= 2 * 13  # the ten full objects passed over and the three taken
    read.clear()
    assert leases.count_available(set(ids), "ana", [], set(answered)) == 100_000 - 11
    assert set(read) <= {"20"}  # the full objects are counted, not looked at


def test_leases_given_back_or_expired_leave_nothing_for_later_requests_to_walk():
    """An object's empty entry stayed in the table when its lease was given back or expired, so every request
    (taking a lease, "next task", the queue's count) walked every object ever leased: 75 ms a lease and 300 ms a queue
    page at 100,000. Only live leases are read now: 10,000 objects answered read none of them."""
    read = []
    answered: dict[str, set] = {}
    clock = Clock()
    leases = LeaseTable(1, 600, lambda oid: read.append(oid) or answered.get(oid, set()), clock=clock)
    for i in range(10_000):
        oid = str(i)
        assert leases.acquire(oid, "ana") is not None
        answered[oid] = {"ana"}
        leases.release(oid, "ana")  # answered: given back, as the server does
    leases.acquire("10000", "bo")
    clock.now += 700  # bo's lease expires unanswered
    leases.acquire("10001", "cy")
    read.clear()
    assert leases.held_by("ana") == [] and leases.every_holder() == {"10001": {"cy"}}
    assert leases.count_available({str(i) for i in range(10_005)}, "dee", [], set(answered)) == 4
    assert set(read) <= {"10000", "10001"}  # what is leased now, not the 10,000 answered before


def test_every_holder_is_the_live_leases_only():
    clock = Clock()
    leases = table(slots=2, clock=clock)
    leases.acquire("0", "ana")
    leases.acquire("0", "bo")
    clock.now += 700
    leases.acquire("1", "ana")
    assert leases.every_holder() == {"1": {"ana"}}  # "0"'s leases expired
    assert {oid: leases.holders(oid) for oid in ("0", "1", "2") if leases.holders(oid)} == leases.every_holder()


def test_leases_kept_in_a_file_survive_a_restart_and_expire_on_the_wall_clock(tmp_path):
    """A page open on a task across a restart kept nothing: its object went to another worker, whose answer was
    taken, and the first worker's was refused."""
    path, wall, answered = tmp_path / "job-leases.json", [1_000_000.0], {"2": {"bo"}}
    first = LeaseTable(1, 600, lambda oid: answered.get(oid, set()), clock=Clock(), path=path, wall_clock=lambda: wall[0])
    assert first.acquire("8", "ada") and first.acquire("9", "cy")
    first.release("9", "cy")
    wall[0] += 120  # the runner restarts two minutes later, with a new monotonic clock
    again = LeaseTable(1, 600, lambda oid: answered.get(oid, set()), clock=Clock(), path=path, wall_clock=lambda: wall[0])
    assert again.holders("8") == {"ada"} and again.acquire("8", "ivy") is None  # still Ada's
    assert again.may_submit("8", "ada") and again.acquire("9", "ivy")  # what was released is free
    lease = again.held("8", "ada")
    assert lease.expires - lease.acquired == pytest.approx(600)  # acquired 2 minutes before the restart


def test_a_kept_lease_that_expired_or_was_answered_meanwhile_is_not_restored(tmp_path):
    path, wall, answered = tmp_path / "job-leases.json", [1_000_000.0], {}
    table = LeaseTable(1, 600, lambda oid: answered.get(oid, set()), clock=Clock(), path=path, wall_clock=lambda: wall[0])
    table.acquire("1", "ada")
    table.acquire("2", "bo")
    answered["2"] = {"bo"}
    wall[0] += 60
    again = LeaseTable(1, 600, lambda oid: answered.get(oid, set()), clock=Clock(), path=path, wall_clock=lambda: wall[0])
    assert again.every_holder() == {"1": {"ada"}}
    wall[0] += 600
    assert LeaseTable(1, 600, lambda oid: set(), clock=Clock(), path=path, wall_clock=lambda: wall[0]).every_holder() == {}


@pytest.mark.parametrize("body", ["not json", '["a list"]', '{"1": {"ada": "soon"}}', '{"1": ["ada"]}'])
def test_a_leases_file_that_cannot_be_read_frees_every_slot_with_a_warning(tmp_path, body, caplog):
    path = tmp_path / "job-leases.json"
    path.write_text(body)
    table = LeaseTable(1, 600, lambda oid: set(), clock=Clock(), path=path)
    assert table.every_holder() == {} and "left out (every unanswered slot is free)" in caplog.text
    assert table.acquire("1", "bo")  # and the table works, writing the file anew
