"""Connections that would keep a team out: one address holding most of the server's connections, or requests sent
a byte at a time.

waitress closes a connection that sends nothing for ``channel_timeout`` seconds and caps the connections it holds
(``connection_limit``), but a client that sends one byte every few seconds is never silent, so a few hundred such
connections from one machine would hold every slot. ``guard(server)`` adds two rules to a waitress server:

- **a request arrives whole within ``request_seconds`` of its first byte** (headers and body; an answer is at most
  2 MB, which a slow link sends well within the default), else its connection is closed at the next maintenance
  pass (every ``cleanup_interval`` seconds). Waiting for the server's answer, or idle between requests on a kept-
  alive connection, does not count;
- **one address holds at most ``per_address`` connections** at a time, by default half the server's
  ``connection_limit`` (a browser opens about six per server, so half leaves room for a team behind one NAT
  address, and the other half for everyone else): a connection beyond that is closed as soon as it is accepted,
  and the others are untouched.

It subclasses waitress's channel and wraps its maintenance pass (waitress is pinned in requirements-dev.txt; these
are the hooks its own channel uses: ``__init__``, ``del_channel``, ``received``, ``maintenance``).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, Optional

from waitress.channel import HTTPChannel

REQUEST_SECONDS = 120


def guard(server: Any, request_seconds: float = REQUEST_SECONDS, per_address: Optional[int] = None) -> None:
    """Apply both rules to a waitress server made by ``create_server`` (before it serves); ``per_address`` None: half
    its connection limit."""
    if per_address is None:
        per_address = max(1, server.adj.connection_limit // 2)
    counts: Counter = Counter()
    lock = threading.Lock()

    class GuardedChannel(HTTPChannel):
        reading_since: Optional[float] = None  # when the request being received sent its first byte
        counted: Optional[str] = None  # the address this connection is counted under

        def __init__(self, *args, **kwargs):
            # Counted once waitress's own __init__ has set ``addr``: it registers the channel (``add_channel``)
            # before, when every connection would be counted under one address, None.
            super().__init__(*args, **kwargs)
            if self._fileno is None:  # already closed (and uncounted) while waitress set it up
                return
            address = self.addr[0] if isinstance(self.addr, tuple) and self.addr else str(self.addr)
            with lock:
                counts[address] += 1
                self.counted = address
                too_many = counts[address] > per_address
            if too_many:
                self.will_close = True  # closed on the next pass of the loop, before anything is read

        def del_channel(self, map=None):
            with lock:
                if self.counted is not None:
                    counts[self.counted] -= 1
                    if counts[self.counted] <= 0:
                        del counts[self.counted]
                    self.counted = None
            super().del_channel(map)

        def received(self, data):
            before = self.request
            result = super().received(data)
            if self.request is None:
                self.reading_since = None
            elif self.request is not before or self.reading_since is None:
                self.reading_since = time.time()
            return result

    maintenance = server.maintenance

    def guarded_maintenance(now):
        maintenance(now)
        cutoff = now - request_seconds
        for channel in list(server.active_channels.values()):
            since = getattr(channel, "reading_since", None)
            if since is not None and since < cutoff:
                channel.will_close = True

    server.channel_class = GuardedChannel
    server.maintenance = guarded_maintenance
