"""The job's statistics as one snapshot per kind, updated with conditional writes (``gt_common.job_state``).

Pinned here: a batch reads the same few objects whatever the number of batches before it; two
batches at once both count (through the local runner's endpoint, whose conditional writes are atomic
as S3's are); a retried batch never counts twice, whether its earlier attempt stopped before or after
confirming; the records of a job started before snapshots are read once and folded in; the fit's
convergence is in the quality report.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

import workflows
from consolidation import handler
from gt_common import crowd_model, job_state, worker_model
from gt_common.job_state import JobState, Ledger, negated, tidy, tree_sum
from gt_common.task_record import RECORDS_ENV
from local_ground_truth import local_s3
from tests.consolidation_helpers import STATE, WORKER_MODEL, answered_by, configure, logged, read_json, run
from tests.test_constructs import sample_folder  # noqa: F401 - a fixture
from workflows.welding import BURN_THROUGH, CONTAMINATION, GOOD_WELD, LACK_OF_FUSION

SNAPSHOTS = f"{STATE}/snapshots"
QUALITY = "quality-WeldingClassification"
CLASSES = [GOOD_WELD, BURN_THROUGH, CONTAMINATION, LACK_OF_FUSION]
HANDLER_CLIENT = handler.s3_client  # tests replace it with a wrapped client


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    configure(monkeypatch, workflows.definition("welding").questions)
    yield
    HANDLER_CLIENT.cache_clear()


def weld(label):
    return {"WeldingClassification": {"label": label}}


def batch_of(first: int, n: int = 4):
    """Experts a, b right; c wrong on every third object."""
    entries = []
    for i in range(first, first + n):
        right = CLASSES[i % 4]
        entries.append(answered_by(i, {"a": weld(right), "b": weld(right),
                                       "c": weld(CLASSES[(i + 1) % 4] if i % 3 == 0 else right)}))
    return entries


def run_batch(s3, bucket, first, name):
    return run(s3, bucket, batch_of(first), batch=name, workers_per_object=3)


def snapshot(s3, bucket, kind):
    return read_json(s3, bucket, f"{SNAPSHOTS}/{kind}.json")


def records(s3, bucket, kind):
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{STATE}/{kind}/").get("Contents", [])
    return {item["Key"].rsplit("/", 1)[1]: read_json(s3, bucket, item["Key"]) for item in listed}


def assert_snapshot_is_the_sum_of_the_records(s3, bucket, batches):
    """Every kind's snapshot: confirmed, holding each batch once, equal to the sum of the batches' records."""
    for kind, ledger in ((worker_model.KIND, None), (QUALITY, "quality")):
        value = snapshot(s3, bucket, kind)
        own = records(s3, bucket, kind)
        assert value["pending"] == {} and value["batches"] == batches == len(own)
        if ledger is None:
            assert value["total"] == tidy(tree_sum(list(own.values())))
        else:  # integers: the statistics' own merge, exactly
            from gt_common.quality_report import merge_statistics
            assert {k: v for k, v in value["total"].items() if k != "fit"} == merge_statistics(list(own.values()))
            assert value["total"]["fit"]["fits"] == batches


class Counting:
    """A real client that counts its requests by operation and the bytes its GETs returned."""

    def __init__(self, client):
        self.client, self.calls, self.bytes = client, Counter(), 0

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name not in ("get_object", "put_object", "list_objects_v2", "get_paginator"):
            return method

        def counted(*args, **kwargs):
            self.calls[name] += 1
            result = method(*args, **kwargs)
            if name == "get_object":
                self.bytes += int(result.get("ContentLength", 0))
            return result
        return counted


def state_reads(s3, monkeypatch, bucket, first, name):
    counting = Counting(s3)
    monkeypatch.setattr(handler, "s3_client", lambda: counting)
    run_batch(counting, bucket, first, name)
    return counting


# -- reading costs the same for every batch --------------------------------------------------------------
def test_a_batch_reads_the_same_whatever_the_number_of_batches_before_it(s3, bucket, monkeypatch):
    costs = []
    for n in range(12):
        counting = state_reads(s3, monkeypatch, bucket, 4 * n, f"2026-01-01_00:{n:02d}:00")
        costs.append((counting.calls["get_object"], counting.calls["list_objects_v2"] + counting.calls["get_paginator"]))
    # The first batch lists the (empty) state folders; from the second on: the payload, and per kind
    # (worker model, quality) the snapshot and the batch's own (absent) record. No listing.
    assert costs[1] == costs[11] == (1 + 2 * 2, 0)
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 12)


# -- retries ---------------------------------------------------------------------------------------------
def test_a_retried_batch_replaces_its_confirmed_contribution(s3, bucket):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")  # Ground Truth sends the first batch again
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 2)
    report = read_json(s3, bucket, "job/quality-report/WeldingClassification.json")
    assert report["batches"] == 2 and report["objects"] == 8


class Killed(BaseException):
    """The Lambda stopped at this instant (a timeout, a crash): nothing after it runs."""


class KillOn:
    """The real client, killed at the ``n``-th PutObject of ``key`` (1-based)."""

    def __init__(self, client, key, n):
        self.client, self.key, self.n, self.seen = client, key, n, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_object(self, **kwargs):
        if kwargs["Key"] == self.key:
            self.seen += 1
            if self.seen == self.n:
                raise Killed
        return self.client.put_object(**kwargs)


@pytest.mark.parametrize("stop, key, n", [
    ("after adding, before its record", f"{WORKER_MODEL}/iteration-1-2026-01-01_00_01_00.json", 1),
    ("after its record, before confirming", f"{SNAPSHOTS}/worker-model.json", 2),
])
def test_a_batch_retried_after_a_kill_counts_once(s3, bucket, monkeypatch, stop, key, n):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    monkeypatch.setattr(handler, "s3_client", lambda: KillOn(s3, key, n))
    with pytest.raises(Killed):
        run_batch(s3, bucket, 4, "2026-01-01_00:01:00")
    assert list(snapshot(s3, bucket, worker_model.KIND)["pending"]) == ["iteration-1-2026-01-01_00_01_00"]
    monkeypatch.setattr(handler, "s3_client", lambda: s3)
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")  # the retry
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 2)


def test_a_batch_whose_own_record_cannot_be_read_is_not_added_again(s3, bucket, caplog):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    before = snapshot(s3, bucket, worker_model.KIND)
    s3.put_object(Bucket=bucket, Key=f"{WORKER_MODEL}/iteration-1-2026-01-01_00_00_00.json", Body=b"{broken")
    result = run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    assert len(result) == 4  # the batch is answered
    assert snapshot(s3, bucket, worker_model.KIND)["total"] == before["total"]
    assert logged(caplog, "contribution to", "worker-model.json is not added", "not valid JSON")


# -- jobs started before snapshots -------------------------------------------------------------------------
def test_the_records_of_a_job_started_before_snapshots_are_read_once_and_folded_in(s3, bucket, monkeypatch):
    for n in range(5):
        run_batch(s3, bucket, 4 * n, f"2026-01-01_00:{n:02d}:00")
    expected = {kind: snapshot(s3, bucket, kind)["total"] for kind in (worker_model.KIND, QUALITY)}
    for kind in (worker_model.KIND, QUALITY):  # what such a job holds: the per-batch files only
        s3.delete_object(Bucket=bucket, Key=f"{SNAPSHOTS}/{kind}.json")
    first = state_reads(s3, monkeypatch, bucket, 20, "2026-01-01_00:05:00")
    # Listed once per kind, each of the 5 records read once per kind.
    assert first.calls["get_paginator"] == 2 and first.calls["get_object"] == 1 + 2 * (2 + 5)
    second = state_reads(s3, monkeypatch, bucket, 24, "2026-01-01_00:06:00")
    assert second.calls["get_paginator"] == 0 and second.calls["get_object"] == 1 + 2 * 2
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 7)
    # The five old batches are in the sum exactly as they were.
    own = records(s3, bucket, worker_model.KIND)
    new = [own[f"iteration-1-2026-01-01_00_0{n}_00.json"] for n in (5, 6)]
    assert snapshot(s3, bucket, worker_model.KIND)["total"] == tidy(tree_sum([expected[worker_model.KIND], *new]))


def test_a_retry_of_a_batch_from_before_snapshots_replaces_its_record(s3, bucket):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")
    for kind in (worker_model.KIND, QUALITY):
        s3.delete_object(Bucket=bucket, Key=f"{SNAPSHOTS}/{kind}.json")
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")  # its record is folded in, then replaced
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 2)


# -- two batches at once, through the local runner's endpoint ----------------------------------------------
@pytest.fixture(scope="module")
def runner_endpoint(tmp_path_factory):
    """The local runner's own S3 endpoint (moto behind the write-through store), in its own process."""
    with local_s3.s3_endpoint(store=tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture
def runner_s3(runner_endpoint, request, monkeypatch):
    """A client of the runner's endpoint, a fresh bucket there, and the function using that endpoint."""
    client = local_s3.client(runner_endpoint)
    name = "r-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    client.create_bucket(Bucket=name)
    monkeypatch.setattr(handler, "s3_client", lambda: client)
    return client, name


def test_conditional_writes_are_atomic_in_the_runners_endpoint(runner_s3):
    """8 writers increment one counter with If-Match, retrying on 412: no increment is lost. Of 8 writers
    creating one key with If-None-Match: *, exactly one succeeds."""
    s3, bucket = runner_s3
    s3.put_object(Bucket=bucket, Key="counter", Body=b"0")

    def increment(times):
        for _ in range(times):
            while True:
                current = s3.get_object(Bucket=bucket, Key="counter")
                value = int(current["Body"].read())
                try:
                    s3.put_object(Bucket=bucket, Key="counter", Body=str(value + 1).encode(), IfMatch=current["ETag"])
                    break
                except ClientError as error:
                    assert error.response["Error"]["Code"] == "PreconditionFailed"

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(increment, [15] * 8))
    assert int(s3.get_object(Bucket=bucket, Key="counter")["Body"].read()) == 120

    barrier = threading.Barrier(8)

    def create(n):
        barrier.wait()
        try:
            s3.put_object(Bucket=bucket, Key="created", Body=str(n).encode(), IfNoneMatch="*")
            return True
        except ClientError as error:
            assert error.response["Error"]["Code"] == "PreconditionFailed"
            return False

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(create, range(8))) == 1


def test_the_per_key_lock_is_what_makes_them_atomic(monkeypatch):
    """moto checks the condition, then writes: with the check slowed down, concurrent writers holding one
    ETag all pass it and lose each other's updates; with ``conditional_writes.install`` none is lost."""
    import time

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response
    from werkzeug.serving import make_server

    from local_ground_truth import conditional_writes

    original = getattr(S3Response.put_object, "__wrapped__", S3Response.put_object)
    monkeypatch.setattr(S3Response, "put_object", original)
    monkeypatch.setattr(S3Response, "_atomic_conditional_writes", False, raising=False)
    get_object = S3Backend.get_object

    def slow_get_object(self, *args, **kwargs):  # widens the gap between moto's check and its write
        found = get_object(self, *args, **kwargs)
        time.sleep(0.005)
        return found

    monkeypatch.setattr(S3Backend, "get_object", slow_get_object)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s3 = local_s3.client(f"http://127.0.0.1:{server.server_port}")
        s3.create_bucket(Bucket="atomic-conditional-writes")

        def increments_kept():
            s3.put_object(Bucket="atomic-conditional-writes", Key="counter", Body=b"0")

            def increment(times):
                for _ in range(times):
                    while True:
                        current = s3.get_object(Bucket="atomic-conditional-writes", Key="counter")
                        body = str(int(current["Body"].read()) + 1).encode()
                        try:
                            s3.put_object(Bucket="atomic-conditional-writes", Key="counter", Body=body,
                                          IfMatch=current["ETag"])
                            break
                        except ClientError:
                            pass

            with ThreadPoolExecutor(6) as pool:
                list(pool.map(increment, [10] * 6))
            return int(s3.get_object(Bucket="atomic-conditional-writes", Key="counter")["Body"].read())

        assert increments_kept() < 60  # moto alone: updates lost
        conditional_writes.install()
        assert increments_kept() == 60
    finally:
        server.shutdown()


class Together:
    """The real client; each batch's first read of a snapshot waits until the other batch has read it
    too, so both start from the same version and both try to write on top of it."""

    def __init__(self, client, barrier):
        self.client, self.barrier, self.local = client, barrier, threading.local()

    def __getattr__(self, name):
        return getattr(self.client, name)

    def get_object(self, **kwargs):
        result = self.client.get_object(**kwargs)
        waited = getattr(self.local, "waited", set())
        if f"/{job_state.SNAPSHOT_FOLDER}/" in kwargs["Key"] and kwargs["Key"] not in waited:
            self.local.waited = waited | {kwargs["Key"]}
            self.barrier.wait(timeout=30)
        return result

    def put_object(self, **kwargs):
        return self.client.put_object(**kwargs)


def test_two_batches_at_once_both_count(runner_s3, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="gt_common.job_state")
    s3, bucket = runner_s3
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")  # the snapshots exist: both batches update them
    together = Together(s3, threading.Barrier(2))
    monkeypatch.setattr(handler, "s3_client", lambda: together)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda n: run_batch(together, bucket, 4 * n, f"2026-01-01_00:0{n}:00"), (1, 2)))
    assert [len(result) for result in results] == [4, 4]
    assert logged(caplog, "worker-model.json: another batch wrote first; reading it again")
    assert logged(caplog, f"{QUALITY}.json: another batch wrote first; reading it again")
    monkeypatch.setattr(handler, "s3_client", lambda: s3)
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 3)
    assert read_json(s3, bucket, "job/quality-report/WeldingClassification.json")["objects"] in (8, 12)


def test_the_first_two_batches_at_once_both_count(runner_s3, monkeypatch, caplog):
    """Neither finds a snapshot: both create it with If-None-Match: *, one is refused and merges again."""
    caplog.set_level(logging.INFO, logger="gt_common.job_state")
    s3, bucket = runner_s3
    barrier = threading.Barrier(2)

    class BothFirst(Together):
        def get_object(self, **kwargs):
            try:
                return self.client.get_object(**kwargs)
            finally:
                if kwargs["Key"].endswith("snapshots/worker-model.json") and not getattr(self.local, "waited", False):
                    self.local.waited = True
                    self.barrier.wait(timeout=30)

    both = BothFirst(s3, barrier)
    monkeypatch.setattr(handler, "s3_client", lambda: both)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda n: run_batch(both, bucket, 4 * n, f"2026-01-01_00:0{n}:00"), (0, 1)))
    assert logged(caplog, "worker-model.json: another batch wrote first")
    monkeypatch.setattr(handler, "s3_client", lambda: s3)
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 2)


# -- convergence in the quality report ---------------------------------------------------------------------
def test_the_quality_report_gives_each_batchs_fit_and_the_jobs(s3, bucket):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")
    convergence = read_json(s3, bucket, "job/quality-report/WeldingClassification.json")["convergence"]
    this = convergence["this_batch"]
    assert this["batch"] == "iteration-1-2026-01-01_00_01_00" and this["converged"] is True
    assert 1 <= this["iterations"] < crowd_model.MAX_ITERATIONS and this["temperature"] in crowd_model.TEMPERATURES
    assert convergence["job"]["fits"] == 2 and convergence["job"]["not_converged"] == 0


def test_a_fit_that_did_not_converge_is_reported_and_warned_about(s3, bucket, monkeypatch, caplog):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    monkeypatch.setattr(crowd_model, "MAX_ITERATIONS", 1)
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")
    convergence = read_json(s3, bucket, "job/quality-report/WeldingClassification.json")["convergence"]
    assert convergence["this_batch"]["converged"] is False and convergence["this_batch"]["iterations"] == 1
    assert convergence["job"]["fits"] == 2 and convergence["job"]["not_converged"] == 1
    assert logged(caplog, "WeldingClassification", "did not converge in this batch (1 iteration)")


def test_majority_vote_reports_no_fit(s3, bucket, monkeypatch):
    configure(monkeypatch, workflows.definition("welding").questions, "majority-vote")
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    assert "convergence" not in read_json(s3, bucket, "job/quality-report/WeldingClassification.json")


@pytest.mark.parametrize("fit, problem", [
    ({"fits": 1, "not_converged": 2, "iterations": 3}, "fit.not_converged is above 1"),
    ({"fits": 1, "not_converged": 0}, "does not hold fits, not_converged and iterations"),
    ({"fits": -1, "not_converged": 0, "iterations": 0}, "fit.fits is negative"),
    ({"fits": 1, "not_converged": 0, "iterations": 1.5}, "fit.iterations is not an integer"),
    ({"fits": 2, "not_converged": 0, "iterations": 10 ** 9}, "fit.iterations is above"),
    ([1], "fit is list, not an object"),
])
def test_stored_fit_counts_are_checked(fit, problem):
    from gt_common.job_quality import check_fit
    with pytest.raises(ValueError, match=problem):
        check_fit(fit)


# -- the arithmetic --------------------------------------------------------------------------------------
def test_a_contribution_taken_out_again_leaves_exact_zeros():
    a = {"version": 2, "questions": {"q": {"workers": {"w": {"x": {"x": 0.1, "y": 0.2}}}, "classes": {"x": 0.3},
                                           "temper": [1.1, 2.2]}}}
    b = {"version": 2, "questions": {"q": {"workers": {"w": {"x": {"x": 0.7}}, "v": {"y": {"y": 1.0}}},
                                           "classes": {"x": 0.7}, "temper": []}}}
    total = tidy(tree_sum([a, b]))
    assert total["questions"]["q"]["workers"]["w"]["x"] == {"x": 0.8, "y": 0.2}
    assert total["questions"]["q"]["temper"] == [1.1, 2.2] and total["version"] == 2
    back = tidy(tree_sum([total, negated(b)]))
    # a worker only b had stays, with nothing counted (no evidence either way)
    assert back["questions"]["q"]["workers"] == {"w": {"x": {"x": 0.1, "y": 0.2}}, "v": {"y": {"y": 0.0}}}
    assert back["questions"]["q"]["classes"] == {"x": 0.3} and back["questions"]["q"]["temper"] == [1.1, 2.2]
    left = tidy(tree_sum([total, negated(a), negated(b)]))
    assert left["questions"]["q"]["classes"] == {"x": 0.0} and left["questions"]["q"]["temper"] == [0.0, 0.0]


@pytest.mark.parametrize("a, b, problem", [
    ({"version": 1}, {"version": 2}, "version 1 and 2 do not add up"),
    ({"n": [1, 2]}, {"n": [1, 2, 3]}, "lists of 2 and 3 do not add up"),
    ({"n": "x"}, {"n": 1}, "str and int do not add up"),
    ({"n": {"m": 1}}, {"n": 1}, "dict and int do not add up"),
])
def test_documents_that_do_not_add_up_are_refused_by_name(a, b, problem):
    with pytest.raises(ValueError, match=problem):
        tree_sum([a, b])


@pytest.mark.parametrize("body, problem", [
    (b'{"version": 1, "kind": "k", "batches": 1, "total": null}', "pending is NoneType"),
    (b'{"version": 1, "kind": "other", "batches": 1, "total": null, "pending": {}}', "is not version 1 of 'k'"),
    (b'{"version": 1, "kind": "k", "batches": -1, "total": null, "pending": {}}', "batches is negative"),
    (b'{"version": 1, "kind": "k", "batches": 1.0, "total": null, "pending": {}}', "batches is not an integer"),
    (b'{"version": 1, "kind": "k", "batches": 1, "total": {"n": -1}, "pending": {}}', "n is negative"),
    (b'{"version": 1, "kind": "k", "batches": 1, "total": null, "pending": {"b": {"value": {"n": 1}}}}',
     "pending['b'] has no attempt"),
    (b'{"version": 1, "kind": "k", "batches": 1, "total": null, "pending": {"b": {"attempt": "t", "value": '
     b'{"n": "x"}}}}', "n is str"),
])
def test_a_corrupt_snapshot_is_rebuilt_from_the_records(s3, bucket, caplog, body, problem):
    ledger = Ledger("k", lambda value: job_state.count(value.get("n"), "n", 100))
    state = JobState(bucket, "job/annotations/consolidation-state/", "this-batch")
    s3.put_object(Bucket=bucket, Key=state.key("k", "earlier"), Body=b'{"n": 5}')
    s3.put_object(Bucket=bucket, Key=state.snapshot_key("k"), Body=body)
    assert state.fold(s3, ledger, {"n": 2}) == ({"n": 7}, 2)
    assert logged(caplog, "snapshot", "k.json is unusable", problem, "rebuilding")
    assert read_json(s3, bucket, state.snapshot_key("k"))["total"] == {"n": 7}


# -- IAM: conditional writes need no new permission ----------------------------------------------------------
def test_the_consolidation_role_already_holds_what_conditional_writes_need(sample_folder):
    """S3 documents PutObject with If-None-Match as needing s3:PutObject, and with If-Match s3:PutObject and
    s3:GetObject: the consolidation function's role has both where the snapshots live (its state folder in each
    job's output; it reads the whole output), with listing there (a missing snapshot reads as 404, not 403) and
    nothing else added for them."""
    from aws_cdk.assertions import Template

    from gt_common.job_state import STATE_FOLDER
    from gt_common.output_layout import ANNOTATIONS
    from labeling_constructs import ManifestBucket
    from tests.cdk_helpers import as_list
    from tests.test_constructs import actions_on, new_stack, role_statements, workflow

    stack = new_stack()
    data = ManifestBucket(stack, "Data", sample_data_dir=sample_folder)
    flow = workflow(stack, data, create_labeling_job=False)
    statements = role_statements(Template.from_stack(stack).to_json(), flow.consolidation_function.role)
    granted = actions_on(statements)
    output = flow.output_prefix
    state = f"/{output}*/{ANNOTATIONS}{STATE_FOLDER}/*"  # where gt_common.job_state keeps the snapshots
    for action, pattern in (("s3:GetObject", f"/{output}*"), ("s3:PutObject", state)):
        patterns = {resource["Fn::Join"][1][-1] for resource in granted[action] if isinstance(resource, dict)}
        assert pattern in patterns, (action, patterns)
    [listing] = [st for st in statements if "s3:ListBucket" in as_list(st["Action"])]
    assert f"{output}*" in json.dumps(listing["Condition"])
    assert not any(action.startswith("s3:Delete") for action in granted)


class FailOn(KillOn):
    """The real client; the ``n``-th PutObject of ``key`` fails as a network error does (the function goes on)."""

    def put_object(self, **kwargs):
        if kwargs["Key"] == self.key:
            self.seen += 1
            if self.seen == self.n:
                raise ConnectionError("connection reset")
        return self.client.put_object(**kwargs)


def test_a_confirmation_that_fails_leaves_the_contribution_pending_counted_and_a_retry_moves_it(
        s3, bucket, monkeypatch, caplog):
    run_batch(s3, bucket, 0, "2026-01-01_00:00:00")
    monkeypatch.setattr(handler, "s3_client", lambda: FailOn(s3, f"{SNAPSHOTS}/{QUALITY}.json", 2))
    assert len(run_batch(s3, bucket, 4, "2026-01-01_00:01:00")) == 4
    assert logged(caplog, f"{QUALITY}.json not saved", "ConnectionError: connection reset")
    assert list(snapshot(s3, bucket, QUALITY)["pending"]) == ["iteration-1-2026-01-01_00_01_00"]
    report = read_json(s3, bucket, "job/quality-report/WeldingClassification.json")
    assert report["batches"] == 2 and report["objects"] == 8  # counted while pending
    monkeypatch.setattr(handler, "s3_client", lambda: s3)
    run_batch(s3, bucket, 8, "2026-01-01_00:02:00")  # another batch: the pending one is kept
    run_batch(s3, bucket, 4, "2026-01-01_00:01:00")  # its retry confirms it
    assert_snapshot_is_the_sum_of_the_records(s3, bucket, 3)


def test_a_contribution_that_does_not_add_up_with_the_snapshot_is_logged_and_the_batch_goes_on(s3, bucket, caplog):
    ledger = Ledger("k", lambda value: None)  # checks nothing: only the sum can refuse
    state = JobState(bucket, "job/annotations/consolidation-state/", "this-batch")
    assert state.fold(s3, ledger, {"n": [1, 2]}) == ({"n": [1, 2]}, 1)
    other = JobState(bucket, "job/annotations/consolidation-state/", "other-batch")
    assert other.fold(s3, ledger, {"n": [1, 2, 3]}) is None
    assert logged(caplog, "contribution to", "k.json not added", "lists of 2 and 3 do not add up")
    assert read_json(s3, bucket, state.snapshot_key("k"))["total"] == {"n": [1, 2]}


def test_worker_memory_pairs_add_up_by_the_workers_they_name_and_a_retry_takes_its_own_back():
    from gt_common import worker_model
    from gt_common.job_state import negated

    def document(pairs):
        return {"version": worker_model.VERSION,
                "questions": {"q": {"workers": {}, "classes": {"A": 1.0}, "pairs": pairs}}}

    first = document([["a", "b", 3, 2], ["a", "c", 1, 1]])
    second = document([["a", "b", 2, 2], ["b", "c", 5, 0], ["c", "d", 1, 0], ["d", "e", 4, 4]])
    total = worker_model.merge_files([first, second])
    assert total["questions"]["q"]["pairs"] == [["a", "b", 5, 4], ["a", "c", 1, 1], ["b", "c", 5, 0],
                                                ["c", "d", 1, 0], ["d", "e", 4, 4]]
    # a retried batch's earlier attempt is taken out again: only the other batch's pairs remain
    again = worker_model.merge_files([total, negated(second)])
    assert again["questions"]["q"]["pairs"] == [["a", "b", 3, 2], ["a", "c", 1, 1]]
    assert again["questions"]["q"]["classes"] == {"A": 1.0}


def test_a_question_worker_or_class_named_like_a_format_key_adds_up():
    """A question named "kind" (or a local worker named "version") made every batch's worker model "not add up":
    the format keys were taken for format keys at every depth, and the worker memory learned nothing."""
    one = {"version": 2, "questions": {"kind": {"workers": {"version": {"a": {"a": 1.0}}}, "classes": {"kind": 2.0}}}}
    two = {"version": 2, "questions": {"kind": {"workers": {"version": {"a": {"a": 3.0}}}, "classes": {"kind": 1.0}}}}
    total = tree_sum([one, two])
    assert total == {"version": 2, "questions": {"kind": {"workers": {"version": {"a": {"a": 4.0}}},
                                                          "classes": {"kind": 3.0}}}}
    assert tree_sum([total, negated(two)]) == one  # a contribution taken out again
    with pytest.raises(ValueError, match="version 2 and 3 do not add up"):  # at the top: a format, never summed
        tree_sum([one, {**two, "version": 3}])
