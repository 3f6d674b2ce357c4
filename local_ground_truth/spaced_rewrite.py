"""A file the runner rewrites whole as the job changes (the output and final manifests), spaced by its cost.

After every batch the output manifest is rewritten: one line per input line. At 100,000 lines that is
~40 MB and 1 to 2 s per rewrite while the batch itself takes ~0.1 s, so on a large job rewriting the
manifest was most of what consolidation did, and a reviewer's decision waited for the final manifest.
A rewrite that took under ``SPACE_ABOVE_SECONDS`` happens at once, as before; a costlier one waits
until ``SPACING`` times its duration has passed since it ended (rewriting then takes at most about
1/``SPACING`` of the time), and a change in between is written when that time comes. ``flush`` writes
at once whatever changed (the job completes, the runner stops, a caller reads the file next).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

LOG = logging.getLogger(__name__)

#: A rewrite that took less than this is never put off (small jobs: after every batch and decision).
SPACE_ABOVE_SECONDS = 0.1
#: A costlier one waits this many times its own duration after the last one ended.
SPACING = 20.0


class SpacedRewrite:
    """``changed()`` after each change of what ``write`` writes; ``flush()`` when it must be on disk now."""

    def __init__(self, write: Callable[[], None], name: str) -> None:
        self._write, self.name = write, name
        self._writing = threading.Lock()  # one rewrite at a time, each of the state at its start
        self._state = threading.Lock()  # the fields below
        self._pending = False
        self._last_end = float("-inf")
        self._last_cost = 0.0
        self._timer: Optional[threading.Timer] = None
        self.rewrites = 0

    def due_in(self) -> float:
        """Seconds until a rewrite may follow the last one (0 when it may now)."""
        with self._state:
            if self._last_cost < SPACE_ABOVE_SECONDS:
                return 0.0
            return max(0.0, self._last_end + SPACING * self._last_cost - time.monotonic())

    def changed(self) -> None:
        """What the file shows changed: rewrite it now if that is due, else once it is."""
        wait = self.due_in()
        with self._state:
            self._pending = True
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._when_due)
                    self._timer.daemon = True
                    self._timer.name = f"rewrite {self.name}"
                    self._timer.start()
                return
        self.flush()

    def changed_unwritten(self) -> None:
        """What the file shows changed, to be written by the next ``flush`` (or a rewrite already due), never now:
        for a change made while the runner stops, whose last flush writes the file once."""
        with self._state:
            self._pending = True

    def flush(self) -> None:
        """Rewrite now if anything changed since the last rewrite began."""
        with self._writing:
            with self._state:
                if not self._pending:
                    return
                self._pending = False
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            started = time.monotonic()
            try:
                self._write()
            except BaseException:
                with self._state:
                    self._pending = True  # still to write: the next change or flush tries again
                raise
            ended = time.monotonic()
            with self._state:
                self._last_end, self._last_cost = ended, ended - started
                self.rewrites += 1

    def _when_due(self) -> None:
        with self._state:
            self._timer = None
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - logged; the next change or the final flush writes it
            LOG.exception("rewriting the %s failed; it is written again after the next change", self.name)
