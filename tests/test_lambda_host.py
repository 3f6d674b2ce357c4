"""The runner's Lambda host: a handler past the function's timeout or one that kills its process fails its own
invocation only, and a stop is prompt whatever the handlers do."""
from __future__ import annotations

import dataclasses
import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from local_ground_truth.lambda_host import INIT_SECONDS, LocalFunction
from local_ground_truth.stack_reader import FunctionSpec

# Each event says what its invocation does: "sleep" seconds, "crash" (kill its own process), else echo it.
HANDLER = '''
import multiprocessing.util, os, time

time.sleep(float(os.environ.get("INIT_SLEEP", "0")))  # what a heavy import costs an environment's init
if os.environ.get("EXIT_SLEEP"):  # what an environment's own exit costs (its interpreter torn down)
    multiprocessing.util.Finalize(None, time.sleep, args=(float(os.environ["EXIT_SLEEP"]),), exitpriority=100)

def lambda_handler(event, context):
    if event.get("crash"):
        os._exit(3)
    held = b"x" * (event.get("hold_mb", 0) * 2**20)  # written, so resident
    spike = len(b"x" * (event.get("spike_mb", 0) * 2**20))  # filled and freed in one call: a peak only
    time.sleep(event.get("sleep", 0))
    seen = {"left_ms": context.get_remaining_time_in_millis(), "memory": context.memory_limit_in_mb}
    if event.get("answer_bytes"):
        return "x" * event["answer_bytes"]
    if event.get("unsendable"):
        return {"a set": {1, 2}}
    return {"echo": event["name"], "pid": os.getpid(), **(seen if event.get("context") else {}),
            **({"held": len(held)} if held else {}),
            **({"spike": spike} if spike else {})}
'''
# As in Lambda, an environment's init (a spawned Python importing the handler: over a second on a loaded machine) is
# not counted in the function's timeout.
TIMEOUT_SECONDS = 3
ROOMY_TIMEOUT = 60  # for the tests about something else than the timeout
MEMORY_MB = 128  # Lambda's smallest and default MemorySize; the probe's environment holds about 20 MB


@pytest.fixture
def function(tmp_path, request):
    """The probe function, with two environments and a timeout of ``TIMEOUT_SECONDS`` (or the test's parameter:
    a timeout, or ``(timeout, seconds each environment's init sleeps)``)."""
    timeout = getattr(request, "param", TIMEOUT_SECONDS)
    timeout, init_sleep, exit_sleep = (*timeout, 0)[:3] if isinstance(timeout, tuple) else (timeout, 0, 0)
    package = tmp_path / "asset" / "host_probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(textwrap.dedent(HANDLER))
    spec = FunctionSpec(logical_id="Probe", handler="host_probe.handler.lambda_handler", asset_dir=tmp_path / "asset",
                        environment={"INIT_SLEEP": str(init_sleep), "EXIT_SLEEP": str(exit_sleep or "")},
                        timeout_seconds=timeout, memory_mb=MEMORY_MB)
    local = LocalFunction(spec, "http://127.0.0.1:9", environments=2)
    yield local
    local.close()


def events(*specs: dict) -> list[tuple[str, dict]]:
    return [(spec["name"], spec) for spec in specs]


@pytest.mark.parametrize("function", [(1, 2.5)], indirect=True)
def test_an_environments_init_is_not_counted_in_the_timeout(function):
    """A function of a 1 s timeout whose imports take 2.5 s: each cold invocation failed "timed out"; in Lambda the
    init has INIT_SECONDS of its own."""
    ok, first = function.invoke({"name": "a", "context": True})
    assert ok and first["echo"] == "a"
    assert 0 < first["left_ms"] <= 1000 and first["memory"] == MEMORY_MB  # Lambda's context: the time left
    outcomes = dict(function.invoke_all(events({"name": "b"}, {"name": "c"}, {"name": "d"})))
    assert all(ok for ok, _ in outcomes.values()) and set(outcomes) == {"b", "c", "d"}
    assert function.invoke({"name": "slow", "sleep": 30}) == (False, "Task timed out after 1 seconds")


def test_a_handler_past_the_timeout_fails_that_invocation_and_the_next_one_runs_in_a_new_environment(function):
    ok, first = function.invoke({"name": "a"})
    assert ok and first["echo"] == "a"
    assert function.invoke({"name": "slow", "sleep": 60}) == (False, f"Task timed out after {TIMEOUT_SECONDS} seconds")
    ok, after = function.invoke({"name": "b"})
    assert ok, after
    assert after["echo"] == "b" and after["pid"] != first["pid"]  # the stuck environment was ended


def test_a_handler_stuck_in_a_new_environment_times_out_once_its_init_is_over_not_init_seconds_later(function):
    """A cold environment's init (here under a second) goes before the timeout; the timeout then runs from its end.
    The wait used to be planned once, for the longest init allowed, so a stuck handler in a new environment
    failed ``INIT_SECONDS`` (10 s) late, and each of the one-by-one runs after every environment was stuck did too."""
    started = time.monotonic()
    assert function.invoke({"name": "stuck", "sleep": 60}) == (False, f"Task timed out after {TIMEOUT_SECONDS} seconds")
    took = time.monotonic() - started
    assert TIMEOUT_SECONDS <= took < TIMEOUT_SECONDS + INIT_SECONDS - 2, f"timed out after {took:.1f} s"


def test_an_environment_slow_to_start_its_interpreter_is_in_its_init_not_in_the_invocations_time(
        function, tmp_path, monkeypatch):
    """An environment's process takes a while to start before it imports the handler (a new interpreter, on a loaded
    machine seconds): that is init too. Here each new process sleeps past the timeout as its interpreter starts
    (a sitecustomize on its path), before any of the handler's init; the invocation still runs."""
    slow_start = tmp_path / "slow_start"
    slow_start.mkdir()
    (slow_start / "sitecustomize.py").write_text(f"import time\ntime.sleep({TIMEOUT_SECONDS + 1})\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(slow_start), os.environ.get("PYTHONPATH")])))
    ok, first = function.invoke({"name": "a"})
    assert ok, first
    assert first["echo"] == "a"


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
def test_a_crash_fails_only_its_own_object_in_a_parallel_run(function):
    outcomes = dict(function.invoke_all(events({"name": "0"}, {"name": "boom", "crash": True}, {"name": "1"},
                                               {"name": "2", "sleep": 0.3}, {"name": "3"})))
    assert set(outcomes) == {"0", "boom", "1", "2", "3"}
    assert outcomes["boom"][0] is False and "process died" in outcomes["boom"][1]
    assert all(outcomes[name] == (True, {"echo": name, "pid": outcomes[name][1]["pid"]}) for name in "0123")


def test_when_every_environment_is_stuck_the_stuck_ones_time_out_and_the_rest_still_run(function):
    outcomes = dict(function.invoke_all(events({"name": "stuck-1", "sleep": 60}, {"name": "stuck-2", "sleep": 60},
                                               {"name": "fine"})))
    assert outcomes["stuck-1"][0] is False and outcomes["stuck-2"][0] is False
    assert "Task timed out" in outcomes["stuck-1"][1] and outcomes["fine"][0] is True


STOP_TEST_TIMEOUT = 3  # long enough that a stop which waited for the invocation under way would show


@pytest.mark.parametrize("function", [STOP_TEST_TIMEOUT], indirect=True)
@pytest.mark.parametrize("stop_after", [0.5, STOP_TEST_TIMEOUT + 0.5], ids=["in-parallel", "one-by-one"])
def test_a_stop_ends_the_run_at_once_even_while_handlers_are_stuck(function, stop_after):
    """At ``STOP_TEST_TIMEOUT + 0.5`` s every environment has been stuck past the timeout and the objects are run
    one by one: a stop must not wait for the one running (before, it was seen only between them)."""
    stop = threading.Event()
    timer = threading.Timer(stop_after, stop.set)
    timer.start()
    started = time.monotonic()
    outcomes = list(function.invoke_all(events(*({"name": str(n), "sleep": 60} for n in range(4))), stop))
    took = time.monotonic() - started - stop_after
    timer.cancel()
    assert took < 1.5, f"the stop took {took:.1f} s"
    assert all(ok is False for _, (ok, _) in outcomes)  # only timeouts came before the stop, never a response


@pytest.mark.parametrize("function", [(ROOMY_TIMEOUT, 0, 3600)], indirect=True)
def test_closing_ends_idle_environments_at_once_and_waits_for_an_invocation_under_way(function):
    """A runner's stop closes its functions: an idle environment is ended as Lambda ends one, not waited for while
    its interpreter tears down (here an exit that would take an hour); an invocation still running is waited for."""
    import os
    import signal

    assert function.invoke({"name": "warm"})[0]
    environments = list(function._executor()._processes)
    closing = threading.Thread(target=function.close, daemon=True)
    closing.start()
    closing.join(60)
    waited = closing.is_alive()
    for pid in environments:  # (an environment a failed test left exiting)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    closing.join()
    assert not waited, "closing waited for idle environments to exit by themselves"

    quick_exit = dataclasses.replace(function.spec, environment={**function.spec.environment, "EXIT_SLEEP": ""})
    busy = LocalFunction(quick_exit, function.endpoint, environments=1)
    running = busy.submit({"name": "under way", "sleep": 1})
    busy.close()
    assert running.result(timeout=0)[1]["echo"] == "under way"


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
def test_ctrl_c_while_waiting_for_an_invocation_ends_its_environment(function):
    """Nobody will see that invocation's outcome (a headless run's consolidation batch, run again on resume): its
    environment is ended with the interruption instead of being waited for when the function is closed."""
    import os
    import signal

    assert function.invoke({"name": "warm"})[0]
    environments = [process for process in function._executor()._processes.values()]
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as a terminal's runner gets it
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            function.invoke({"name": "stuck", "sleep": 60})
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert function._pool is None
    # Looked at until each is ended, not once after a join: the pool's own thread reaps them too, and a look between
    # its waitpid and its noting the exit code sees the process as alive (ECHILD), as a loaded CI run did.
    deadline = time.monotonic() + 30
    while any(process.is_alive() for process in environments) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process.is_alive() for process in environments)


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_stop_sent_to_the_whole_process_group_leaves_an_invocation_in_flight_to_finish(function, stop):
    """Ctrl-C and `kill -TERM -- -PGID` reach the Lambda environments too: they let the runner decide, and an
    invocation under way finishes (before, SIGTERM killed it and its objects were reported failed)."""
    import os
    import signal

    ok, first = function.invoke({"name": "warm"})
    assert ok
    running = function.submit({"name": "in flight", "sleep": 0.5})
    time.sleep(0.2)
    for pid in list(function._executor()._processes):  # every environment, as a signal to the group reaches them
        os.kill(pid, getattr(signal, stop))
    assert running.result(timeout=10) == (True, {"echo": "in flight", "pid": running.result()[1]["pid"]})


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
def test_an_environment_over_the_functions_memory_fails_its_invocation_as_lambda_would_and_says_so(function):
    ok, below = function.invoke({"name": "below", "hold_mb": 40, "sleep": 0.2})
    assert ok and below["held"] == 40 * 2**20
    ok, why = function.invoke({"name": "over", "hold_mb": 200, "sleep": 1})
    assert not ok and why.startswith("the function ran out of memory: ") and \
        why.endswith(f"MB used, over its MemorySize of {MEMORY_MB} MB (Lambda ends such an invocation: Runtime exited "
                     "with error: signal: killed)")
    assert int(why.split(": ")[1].split(" MB")[0].replace(",", "")) > MEMORY_MB
    ok, after = function.invoke({"name": "after"})
    assert ok and after["pid"] != below["pid"]  # a new environment


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
def test_in_a_parallel_run_only_the_invocation_over_memory_fails_and_a_crash_is_not_called_one(function):
    outcomes = dict(function.invoke_all(events({"name": "0"}, {"name": "big", "hold_mb": 200, "sleep": 1},
                                               {"name": "boom", "crash": True}, {"name": "1", "hold_mb": 10})))
    assert outcomes["0"][0] and outcomes["1"][0]
    assert "ran out of memory" in outcomes["big"][1]
    assert outcomes["boom"][1].startswith("the function's process died")


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
def test_a_peak_freed_before_the_watcher_looks_still_fails_the_invocation(function):
    ok, why = function.invoke({"name": "spike", "spike_mb": 300})
    assert not ok and why.startswith("the function ran out of memory: ")


RUNNER_KILLED_WITH_9 = """
import sys, time
from pathlib import Path
from local_ground_truth.lambda_host import LocalFunction
from local_ground_truth.stack_reader import FunctionSpec

spec = FunctionSpec(logical_id="Probe", handler="host_probe.handler.lambda_handler", asset_dir=Path(sys.argv[1]),
                    environment={}, timeout_seconds=60)
function = LocalFunction(spec, "http://127.0.0.1:9", environments=2)
pids = {function.invoke({"name": str(n), "sleep": 0.5})[1]["pid"] for n in range(4)}
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def test_environments_end_themselves_when_the_runner_is_killed_with_9(function, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    runner = subprocess.Popen([sys.executable, "-c", RUNNER_KILLED_WITH_9, str(tmp_path / "asset")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    pids = [int(pid) for pid in runner.stdout.readline().split()]
    assert pids and all(_running(pid) for pid in pids)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in pids)


@pytest.mark.parametrize("function", [ROOMY_TIMEOUT], indirect=True)
def test_a_response_lambda_could_not_send_fails_its_invocation_and_no_other(function):
    """A consolidation of 40,000 welding objects answers 9.9 MB: Lambda fails such an invocation (its responses are
    at most 6 MB), and the local runner returned it as if all was well."""
    from gt_common.limits import MAX_RESPONSE_BYTES

    outcomes = dict(function.invoke_all(events({"name": "big", "answer_bytes": MAX_RESPONSE_BYTES},
                                               {"name": "fits", "answer_bytes": MAX_RESPONSE_BYTES - 2},
                                               {"name": "set", "unsendable": True}, {"name": "fine"})))
    assert outcomes["big"] == (False, f"Function.ResponseSizeTooLarge: the response is {MAX_RESPONSE_BYTES + 2:,} "
                                      f"bytes, over the {MAX_RESPONSE_BYTES:,} Lambda returns from one invocation")
    assert outcomes["fits"] == (True, "x" * (MAX_RESPONSE_BYTES - 2))  # with its quotes, exactly the limit
    assert outcomes["set"][0] is False and outcomes["set"][1].startswith("Runtime.MarshalError: Unable to marshal")
    assert outcomes["fine"][0] is True
