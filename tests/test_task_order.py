"""Each worker meets a job's objects in an order of their own: shuffled, the same on every visit."""
from __future__ import annotations

from local_ground_truth import task_order
from local_ground_truth.task_order import WorkerOrder, shuffled

IDS = [str(n) for n in range(18)]


def test_the_order_is_a_permutation_stable_per_worker_and_different_between_workers_and_jobs():
    ana = shuffled("job-a", "ana", IDS)
    assert sorted(ana, key=int) == IDS and ana != IDS
    assert shuffled("job-a", "ana", list(reversed(IDS))) == ana  # the manifest's order does not show through
    assert shuffled("job-a", "bo", IDS) != ana and shuffled("job-b", "ana", IDS) != ana


def test_the_manifests_class_pattern_does_not_survive_the_shuffle():
    """The sample data repeats six classes in order; in a worker's order, neighbours rarely keep that step."""
    for worker in ("ana", "bo", "李雷", "O'Brien"):
        order = [int(oid) for oid in shuffled("job", worker, IDS)]
        in_step = sum((b - a) % 6 == 1 for a, b in zip(order, order[1:]))
        assert in_step < len(order) // 2, worker


def test_skipped_objects_go_last_and_keep_their_number():
    order = WorkerOrder("job")
    first, second = order.order("ana", IDS)[:2]
    order.skip("ana", first)
    assert order.order("ana", IDS)[0] == second and order.order("ana", IDS)[-1] == first
    assert order.position("ana", first, IDS) == 1
    order.skip("ana", second)
    assert order.order("ana", IDS)[-2:] == [first, second]  # most recently skipped last
    assert order.order("bo", IDS) == shuffled("job", "bo", IDS)  # one worker's skips are theirs only


def test_the_order_follows_the_ids_as_pre_labeling_adds_them():
    order = WorkerOrder("job")
    some = tuple(IDS[:10])
    assert order.order("ana", some) == shuffled("job", "ana", some)
    more = tuple(IDS)  # pre-labeling stored the rest: a new tuple of ids
    assert order.order("ana", more) == shuffled("job", "ana", more)
    assert order.places("ana", more) == {oid: n for n, oid in enumerate(shuffled("job", "ana", more), 1)}
    assert list(order.iterate("ana", more)) == order.order("ana", more)
    assert order.order("ana", list(IDS)) == order.order("ana", more)  # equal ids, another object: the same order


def test_only_the_orders_of_the_workers_seen_last_are_kept_and_an_evicted_one_comes_back_the_same():
    """Each order holds every id (~10 MB at 100,000 objects), kept for every name ever seen: a team's shared link let
    anyone with it grow the runner by making up names."""
    ids = [str(n) for n in range(50)]
    order = WorkerOrder("job")
    first = order.order("ada", ids)
    for n in range(task_order.KEPT_ORDERS + 10):
        order.order(f"made-up-{n}", ids)
    assert len(order._orders) == task_order.KEPT_ORDERS and "ada" not in order._orders
    assert order.order("ada", ids) == first and order.position("ada", first[3], ids) == 4
