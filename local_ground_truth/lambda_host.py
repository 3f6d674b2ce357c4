"""The stack's Lambda functions run on this machine, each in processes of its own.

A ``LocalFunction`` is a pool of "execution environments": worker processes that import the
function's handler once from its staged asset folder, with the environment variables the stack
declares and the local S3 endpoint, and then serve invocations, as a warm Lambda does. Processes
are started with ``spawn`` (never ``fork``: the runner has threads serving workers). A handler that
raises fails that invocation only; one that exceeds the function's timeout or kills its process fails
that invocation and the environments are started afresh, as Lambda would. So does one whose environment
holds more memory than the function's ``MemorySize``: Lambda ends it ("Runtime exited with error: signal:
killed"), so the runner does too, and says so, rather than pass here a function that fails in AWS. An
environment's peak memory (its resident set's) is looked at every ``MEMORY_CHECK_SECONDS`` while a handler runs
and again when it returns, so a peak freed in between still counts; like Lambda's figure, it counts the
interpreter and what the handler imported (30-80 MB for this project's functions). An environment whose runner
is gone (killed with -9) ends itself. As in Lambda, an environment's init (importing the handler) is not counted in
the function's timeout: it has ``INIT_SECONDS`` of its own (a cold start on a loaded machine failed a function whose
timeout was shorter than its imports).
"""
from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Optional

from gt_common import response_size
from gt_common.limits import MAX_RESPONSE_BYTES
from local_ground_truth.stack_reader import FunctionSpec

_HANDLER: Callable | None = None
_MEMORY: tuple[int, Any] = (0, None)  # the function's MemorySize, and where a kill for it records the peak
_SPEC: FunctionSpec | None = None  # the function this environment runs


class LocalContext:
    """The part of Lambda's context object a handler reads: its function's name and memory, a request id, and the
    time left before the function's timeout (``get_remaining_time_in_millis``)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.logical_id
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = uuid.uuid4().hex
        self._ends = time.monotonic() + spec.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))
#: How often a stop is looked for while invocations are in flight.
STOP_CHECK_SECONDS = 0.1
INIT_SECONDS = 10  # Lambda's limit on an environment's init, which the function's timeout does not count
#: How often an environment looks at its peak memory (and whether the runner still lives) while it runs.
MEMORY_CHECK_SECONDS = 0.02


def load_handler(spec: FunctionSpec, endpoint: str, access_key: Optional[str] = None) -> Callable:
    """Import a function from its staged asset folder, with its declared environment; ``access_key``: the key its
    S3 requests are signed with, which the runner's endpoint holds to the function's role (``function_grants``).

    Only what the function would have in AWS may be imported (its package, ``gt_common``, its locked
    requirements or what its bundle installed, the runtime's standard library and SDK): the runner's own
    virtualenv holds much more, and a function leaning on it would pass here and fail on import in AWS.
    """
    from labeling_constructs.lambda_dependencies import bundled_modules, guard_imports

    os.environ.update(spec.environment)
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    if access_key is not None:
        os.environ.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY="local")
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
    if str(spec.asset_dir) not in sys.path:
        if bundled_modules(spec.asset_dir):
            # A bundle's compiled packages are built for the Lambda runtime's Python: the same versions from this
            # interpreter come first (``stack_reader`` checked that it has them); the bundle's own code after.
            sys.path.append(str(spec.asset_dir))
        else:
            sys.path.insert(0, str(spec.asset_dir))
    module_name, function_name = spec.handler.rsplit(".", 1)
    guard_imports(spec.asset_dir / module_name.partition(".")[0])
    return getattr(importlib.import_module(module_name), function_name)


def _peak_mb() -> int:
    """The most memory this process has held so far (its peak resident set), in MiB (Lambda's MB), rounded up.

    On Linux, /proc's VmHWM: getrusage's ru_maxrss would also count the runner's memory, which a spawned process
    shares between its fork and its exec."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 2**10)  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB elsewhere
    return math.ceil(peak / (2**20 if sys.platform == "darwin" else 2**10))


def _over_memory() -> None:
    """Kill this environment, as Lambda does, if it has ever held more than the function's MemorySize."""
    limit, exceeded = _MEMORY
    used = _peak_mb()
    if used > limit:
        exceeded.value = used
        os.kill(os.getpid(), signal.SIGKILL)


def _watch(parent: int) -> None:
    """While the environment lives: end it if it passes its memory (while a handler runs, as Lambda does), or if
    the runner that started it is gone (killed with -9, it cannot end its environments itself)."""
    while True:
        _over_memory()
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(MEMORY_CHECK_SECONDS)


def _init_environment(spec: FunctionSpec, endpoint: str, access_key: Optional[str], exceeded, parent: int, initializing,
                      init_done, init_begun) -> None:
    with initializing.get_lock():
        initializing.value += 1
        init_begun.value += 1
    try:
        _start_environment(spec, endpoint, access_key, exceeded, parent)
    finally:  # the invocations waiting for this environment count their time from now
        with initializing.get_lock():
            initializing.value -= 1
            init_done.value = time.monotonic()  # one clock for every process (Linux: CLOCK_MONOTONIC)


def _start_environment(spec: FunctionSpec, endpoint: str, access_key: Optional[str], exceeded, parent: int) -> None:
    global _HANDLER, _MEMORY, _SPEC
    _MEMORY, _SPEC = (spec.memory_mb, exceeded), spec
    threading.Thread(target=_watch, args=(parent,), name="watch", daemon=True).start()
    # Ctrl-C, and a SIGTERM sent to the runner's process group (`kill -- -PGID`, a service manager's stop), reach
    # every process of the group: the runner decides what stops, not its Lambdas. Its stop lets an invocation in
    # flight finish (a consolidation cut short would report its objects failed) or abandons it; SIGKILL ends all.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _HANDLER = load_handler(spec, endpoint, access_key)


def _ready() -> bool:
    return _HANDLER is not None


def _invoke(event: dict[str, Any]) -> tuple[bool, Any]:
    try:
        outcome = True, _HANDLER(event, LocalContext(_SPEC))
    except Exception as error:  # noqa: BLE001 - reported per invocation, the job goes on
        outcome = False, f"{type(error).__name__}: {error}"
    _over_memory()  # a peak between two of the watcher's looks (one long call holds the GIL) still counts
    return outcome if not outcome[0] else _returnable(outcome[1])


def _returnable(response: Any) -> tuple[bool, Any]:
    """What Lambda makes of a handler's return value: the response if its runtime can send it (JSON, at most
    ``MAX_RESPONSE_BYTES``), else the invocation's failure, as Lambda names it."""
    try:
        size = response_size.size_of(response)
    except (TypeError, ValueError) as error:
        return False, f"Runtime.MarshalError: Unable to marshal response: {error}"
    if size > MAX_RESPONSE_BYTES:
        return False, (f"Function.ResponseSizeTooLarge: the response is {size:,} bytes, over the {MAX_RESPONSE_BYTES:,} "
                       "Lambda returns from one invocation")
    return True, response


class LocalFunction:
    """One workflow function and its warm execution environments; ``access_key`` as ``load_handler``'s."""

    def __init__(self, spec: FunctionSpec, endpoint: str, environments: int = 1, access_key: Optional[str] = None) -> None:
        self.spec, self.endpoint, self.environments = spec, endpoint, max(1, environments)
        self.access_key = access_key
        self._pool: ProcessPoolExecutor | None = None
        context = multiprocessing.get_context("spawn")
        self._context = context
        self._exceeded = context.Value("q", 0, lock=False)  # MB an environment held when killed for it; 0: none
        self._new_init_counters()
        self._running: set[Future] = set()  # invocations submitted and not done yet
        self._running_lock = threading.Lock()

    def _new_init_counters(self) -> None:
        """The counters of one pool's environments' inits (a new pool's: an environment killed in its init never
        counts itself out)."""
        self._initializing = self._context.Value("i", 0)  # environments importing their handler now
        self._init_done = self._context.Value("d", 0.0)  # when an environment last finished its init (monotonic)
        self._init_begun = self._context.Value("i", 0, lock=False)  # environments that have begun their init
        self._spawned = 0  # processes the pool has started (read after each submit)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._new_init_counters()
            self._pool = ProcessPoolExecutor(
                max_workers=self.environments, mp_context=self._context,
                initializer=_init_environment,
                initargs=(self.spec, self.endpoint, self.access_key, self._exceeded, os.getpid(), self._initializing,
                          self._init_done, self._init_begun))
        return self._pool

    def _death(self, error: BaseException) -> str:
        """Why an environment died: over its memory (as its watchdog recorded), else what the pool said."""
        used, self._exceeded.value = self._exceeded.value, 0
        if used:
            return (f"the function ran out of memory: {used:,} MB used, over its MemorySize of {self.spec.memory_mb:,} MB "
                    "(Lambda ends such an invocation: Runtime exited with error: signal: killed)")
        return f"the function's process died: {error}"

    def _restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()  # a stuck handler would otherwise keep running
            pool.shutdown(wait=False, cancel_futures=True)

    def _starting(self) -> bool:
        """An environment is in its init: importing its handler, or (a process the pool started that has not begun
        its init yet) starting its interpreter, which takes seconds on a loaded machine; counted, a timeout of a few
        seconds failed the first invocation of a new environment."""
        return bool(self._initializing.value) or self._init_begun.value < self._spawned

    def _deadline(self, since: float) -> float:
        """When what has waited since ``since`` times out: the function's timeout from then or from the end of an
        environment's init since then (init is not the invocation's time); while an environment is still in its
        init, no sooner than ``INIT_SECONDS`` more."""
        timeout = self.spec.timeout_seconds
        deadline = max(since, self._init_done.value) + timeout
        return max(deadline, since + INIT_SECONDS + timeout) if self._starting() else deadline

    def _wait_seconds(self, since: float, stop: Optional[threading.Event]) -> float:
        """How long to wait for an outcome before looking again: until the deadline, but while an environment is in
        its init only ``STOP_CHECK_SECONDS`` (its end moves the deadline to the timeout after it: waited out whole,
        a stuck handler in a new environment took ``INIT_SECONDS`` more to time out), and as often with a stop."""
        wait_for = self._deadline(since) - time.monotonic()
        if stop is not None or self._starting():
            wait_for = min(wait_for, STOP_CHECK_SECONDS)
        return max(wait_for, 0.0)

    def _submit(self, call: Callable[..., Any], *args: Any) -> Future:
        pool = self._executor()
        future = pool.submit(call, *args)
        # The pool starts a process when no idle one takes the call: counted, so its start is known to be init.
        self._spawned = max(self._spawned, len(getattr(pool, "_processes", None) or ()))
        return future

    def start(self) -> Future:
        """Start an execution environment now (its handler imported) without invoking it, so that the first
        invocation finds it warm; the future is done when it is ready."""
        return self._submit(_ready)

    def submit(self, event: dict[str, Any]) -> Future:
        future = self._submit(_invoke, event)
        with self._running_lock:
            self._running.add(future)
        future.add_done_callback(self._invocation_done)
        return future

    def _invocation_done(self, future: Future) -> None:
        with self._running_lock:
            self._running.discard(future)

    def result(self, future: Future, stop: Optional[threading.Event] = None) -> Optional[tuple[bool, Any]]:
        """``(True, response)`` or ``(False, why it failed)`` of a submitted invocation; None if ``stop`` was set
        first (checked every ``STOP_CHECK_SECONDS``; the environments are then ended with the invocation)."""
        since = time.monotonic()
        while True:
            try:
                return future.result(timeout=self._wait_seconds(since, stop))
            except KeyboardInterrupt:
                # A stop (Ctrl-C) while this thread waits: nobody will see this outcome (a consolidation batch so
                # interrupted runs again, under its own name, when the job resumes), so the environment is ended now
                # rather than waited for when the function is closed.
                self._restart()
                raise
            except FutureTimeout:
                if stop is not None and stop.is_set():
                    self._restart()
                    return None
                if time.monotonic() < self._deadline(since):
                    continue
                self._restart()
                return False, f"Task timed out after {self.spec.timeout_seconds} seconds"
            except BrokenProcessPool as error:
                reason = self._death(error)
                self._restart()
                return False, reason

    def invoke(self, event: dict[str, Any]) -> tuple[bool, Any]:
        return self.result(self.submit(event))

    def invoke_all(self, events: Iterable[tuple[str, dict[str, Any]]],
                   stop: Optional[threading.Event] = None) -> Iterator[tuple[str, tuple[bool, Any]]]:
        """``(name, outcome)`` for each ``(name, event)``, invoked in parallel, in completion order.

        If an invocation kills its process, or every environment is stuck past the function's timeout, the
        ones still to come are run one by one, so only the ones at fault fail. Once ``stop`` is set no more
        outcomes come (checked every ``STOP_CHECK_SECONDS``): the environments are ended with the invocations
        in flight, so a slow or stuck handler never holds up a stop, and those events' outcomes are never seen.
        """
        by_name = dict(events)
        pending = {self.submit(event): name for name, event in by_name.items()}
        since = time.monotonic()  # for the next outcome
        one_by_one: list[str] = []
        while pending and not one_by_one:
            done, _ = wait(pending, timeout=self._wait_seconds(since, stop), return_when=FIRST_COMPLETED)
            if stop is not None and stop.is_set():
                self._restart()
                return
            if not done:
                if time.monotonic() >= self._deadline(since):  # every environment is stuck past the timeout
                    self._restart()
                    one_by_one = list(pending.values())
                continue
            since = time.monotonic()
            for future in done:
                name = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:  # it took the invocations in flight with it: run one by one, they say who
                    self._exceeded.value = 0
                    self._restart()
                    one_by_one = [name, *pending.values()]
                    break
                yield name, outcome
        for name in one_by_one:
            outcome = self.result(self.submit(by_name[name]), stop)
            if outcome is None:
                return
            yield name, outcome

    def close(self) -> None:
        """End the environments: an invocation still running is waited for; idle environments are ended at once, as
        Lambda ends one (nothing of an invocation is left in them), rather than waited for while each interpreter
        tears itself down (0.2 to 0.8 s of a runner's stop, measured)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        with self._running_lock:
            idle = not self._running
        if idle:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
