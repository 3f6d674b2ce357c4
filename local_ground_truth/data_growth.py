"""More data for a job while it runs: a served job on a data folder (``--data``) watches the folder's manifest, and
lines added at its end join the job without a restart, as the same command would take them at its start.

The watch is a poll of the file's size, modification time and inode (no dependency, and the same on every file system): a
change is taken once the file has stayed the same for one more poll, so an editor or a copy writing it in parts is
read whole. What to do with a change is the caller's (``__main__.take_more_data``: the app synthesized with the folder
again, its deployment checked like a resumed job's, the new objects pre-labeled); a change that cannot be taken is
said and the job goes on as it was.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable, Optional

LOG = logging.getLogger(__name__)

#: How often the manifest is looked at: a line added becomes a task a few seconds (and its pre-labeling) later.
POLL_SECONDS = 0.5


def signature(path: Path) -> Optional[tuple[int, int, int]]:
    """What tells one version of the file from another: (size, modification time, inode; a rename over it is a new
    inode); None while there is no such file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class ManifestWatch:
    """Calls ``take`` (in its own thread) each time ``manifest`` changed and then stayed the same for a poll.
    ``seen``: the file's ``signature`` when the job read it (a change since then is taken at the first poll)."""

    def __init__(self, manifest: Path, take: Callable[[], None], seen: Optional[tuple[int, int, int]],
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.manifest, self._take, self._poll = manifest, take, poll_seconds
        self._seen = seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="data-watch", daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        """``stop`` was called: a change being taken may fail for it (a Ctrl-C reaches the app being synthesized)."""
        return self._stop.is_set()

    def stop(self) -> None:
        """No change is taken after this returns (one being taken is finished first)."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            now = signature(self.manifest)
            if now == self._seen or now is None:  # a manifest removed for a moment (saved by rename) is not a change
                continue
            if self._stop.wait(self._poll) or signature(self.manifest) != now:
                continue  # still being written: taken once it settles
            self._seen = now
            try:
                self._take()
            except Exception:  # noqa: BLE001 - a change that could not be taken never stops the job
                LOG.exception("the change of %s could not be taken; the job goes on as it was", self.manifest)
