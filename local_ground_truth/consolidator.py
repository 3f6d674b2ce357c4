"""Consolidation in the background while workers label: submissions never wait for the Lambda.

A submission only records the answer (on disk before the worker hears OK) and wakes this thread;
the thread runs ``LocalJob.consolidate`` for whatever objects are ready by then, so answers that
arrive together are consolidated together, as Ground Truth batches them.
"""
from __future__ import annotations

import logging
import threading

from local_ground_truth.job import LocalJob

LOG = logging.getLogger(__name__)
#: How long a stop waits for the batch under way before it says that it waits (most batches take well under a
#: second; a large one or a slow consolidation function longer, and a stop must not look hung meanwhile).
QUIET_WAIT_SECONDS = 1.0


class Consolidator:
    def __init__(self, job: LocalJob) -> None:
        self.job = job
        self._changed = threading.Condition()
        self._requested = 0  # notifications so far
        self._handled = 0  # notifications covered by a finished consolidation
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="consolidation", daemon=True)

    def start(self) -> "Consolidator":
        self.notify()  # a resumed job may have objects ready (or a batch a kill interrupted)
        self._thread.start()
        return self

    def notify(self) -> None:
        with self._changed:
            self._requested += 1
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopping or self._handled < self._requested)
                if self._stopping:
                    return
                covering = self._requested
            try:
                self.job.consolidate(flush=False)  # a large manifest follows its own spacing (spaced_rewrite)
            except Exception:  # noqa: BLE001 - logged; the thread (and the job) go on
                LOG.exception("consolidation failed; it will be tried again with the next answer")
            with self._changed:
                self._handled = covering
                self._changed.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until everything submitted so far is consolidated and in the output manifest (or ``timeout``); True
        when idle."""
        with self._changed:
            idle = self._changed.wait_for(lambda: self._handled >= self._requested or self._stopping, timeout)
        if idle:
            self.job.flush_rewrites()
        return idle

    def stop(self, timeout: float | None = None) -> None:
        """Finish the batch under way (saying so if it takes a while), then write what the manifests have not
        shown yet."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            quiet = QUIET_WAIT_SECONDS if timeout is None else min(timeout, QUIET_WAIT_SECONDS)
            self._thread.join(quiet)
            if self._thread.is_alive():
                LOG.info("finishing the consolidation batch under way before stopping (a kill now loses nothing: "
                         "that batch runs again when the job is resumed)")
                self._thread.join(None if timeout is None else timeout - quiet)
        self.job.flush_rewrites()
