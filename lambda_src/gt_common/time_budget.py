"""How long an invocation may still compute. The consolidation handler sets the deadline from Lambda's context; the
worker model's fit stops iterating at it (the fit says it did not converge, as the quality report shows) so that a
batch whose answers carry little signal still gets its labels within the function's timeout: a batch of 100,000
objects answered at random ran EM to its 500-iteration cap, past the 300 s timeout, and failed whole on every retry.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Optional

#: Of the time an invocation has left when it starts, the share fitting may take: the rest reads what the fit
#: needs before it and writes the state, the reports and the response after it.
FIT_SHARE = 0.6

_DEADLINE: ContextVar[Optional[float]] = ContextVar("fit_deadline", default=None)


@contextmanager
def limit(context: Any) -> Iterator[None]:
    """Within it, the deadline set from a Lambda context's remaining time (none without one); after it, none again
    (a process that runs the handler runs other code too: a test suite, the local runner)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    token = _DEADLINE.set(time.monotonic() + FIT_SHARE * remaining() / 1000 if callable(remaining) else None)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def expired() -> bool:
    deadline = _DEADLINE.get()
    return deadline is not None and time.monotonic() >= deadline
