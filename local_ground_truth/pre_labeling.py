"""The job's pre-labeling while the runner runs: a thread that pre-labels the manifest's objects (and those that join
the job later), and what it tells the terminal and keeps in the job's folder of the objects it failed or skipped."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Optional

from local_ground_truth.job import LocalJob, source_of
from local_ground_truth.requester import RequesterLog, printable, report_prefix
from local_ground_truth.s3_store import write_atomically
from local_ground_truth.terminal import say
from local_ground_truth.wording import counted


class PreLabeling:
    """The job's pre-labeling, in a thread of its own while the job is used (workers label what is stored)."""

    def __init__(self, job: LocalJob, processes: Optional[int], log: RequesterLog) -> None:
        self.job, self.processes, self.log = job, processes, log
        self.error: Optional[str] = None  # why it stopped before the end, if it did
        self._stop = threading.Event()
        self._starting = threading.Lock()  # the two fields below and the thread
        self._running = True  # a pass is under way, or about to be
        self._again = False  # objects joined the job during a pass: one more follows it
        self._thread = threading.Thread(target=self._run, name="pre-labeling", daemon=True)
        self._thread.start()

    def ended(self) -> bool:
        """No more objects will be stored in this run, unless more join the job (done, failed or stopped)."""
        with self._starting:
            return not self._running

    def more(self) -> None:
        """Objects joined the job (``LocalJob.take_appended_lines``): pre-label them, after any pass under way."""
        with self._starting:
            if self._stop.is_set():
                return
            if self._running:
                self._again = True
                return
            self._running, self.error = True, None
            self._thread = threading.Thread(target=self._run, name="pre-labeling", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._starting:
            self._stop.set()  # what is stored stays; the same command pre-labels the rest
            thread = self._thread
        thread.join()

    def _run(self) -> None:
        try:
            while True:
                self._pass()
                with self._starting:
                    if not self._again or self._stop.is_set():
                        return
                    self._again = False
        finally:
            with self._starting:
                self._running = False

    def _pass(self) -> None:
        """Pre-label the manifest's objects not pre-labeled yet."""
        job = self.job
        try:
            job.pre_label(processes=self.processes, stop=self._stop)
        except Exception as error:  # noqa: BLE001 - the objects pre-labeled so far can still be labeled
            self.error = f"{type(error).__name__}: {error}"
            say(f"pre-labeling stopped: {self.error}. The {len(job.object_ids())} objects pre-labeled so far can be "
                 "labeled; run the same command again to pre-label the rest.")
            return
        if self._stop.is_set():
            return
        report_pre_labeling(job)
        say(f"pre-labeling done: {counted(len(job.object_ids()), 'object')} for workers")
        self.log.tell_if_complete()  # the last batch may have finished before the last objects turned out to be skipped


def report_pre_labeling(job: LocalJob) -> None:
    failures = job.pre_labeling_failures()
    for object_id, error in sorted(failures.items(), key=lambda item: int(item[0])):
        # Its source too: a timeout or a process that died does not name the data as an InputError does.
        say(f"pre-labeling failed for object {object_id}{_shown_source(job, object_id)}: {error}")
    kept = save_pre_labeling_failures(job, failures)
    if kept is not None:
        say(f"(the reasons are kept in {kept})")
    report_skipped(job)


def save_pre_labeling_failures(job: LocalJob, failures: dict[str, str]) -> Optional[Path]:
    """The reasons kept in the job's folder (``<job>-pre-labeling-failures.json``) for after the terminal is gone;
    without failures, an earlier run's file is removed (a fixed object is retried, and labelled, on the next run)."""
    if job.folder is None:
        return None
    path = Path(job.folder) / f"{report_prefix(job)}pre-labeling-failures.json"
    if not failures:
        path.unlink(missing_ok=True)
        return None
    kept = {object_id: {"source": source_of(job.lines[int(object_id)]), "error": error}
            for object_id, error in sorted(failures.items(), key=lambda item: int(item[0]))}
    write_atomically(path, json.dumps(kept, indent=2, ensure_ascii=False).encode("utf-8"), Path(job.folder))
    return path


def _shown_source(job: LocalJob, object_id: str) -> str:
    """" (<its source-ref or source>)" for a terminal line, or "" when the line has none."""
    source = source_of(job.lines[int(object_id)]).strip()
    return f" ({printable(source[:100])})" if source else ""


def report_skipped(job: LocalJob) -> None:
    """Say which objects pre-labeling excluded from human labeling, and what the output holds for them."""
    skipped = job.skipped_ids()
    for object_id in skipped:
        say(f"object {object_id} skipped{_shown_source(job, object_id)}: pre-labeling set isHumanAnnotationRequired to false, so "
             "no worker gets it and its output manifest line is its input line, as Ground Truth writes it")
    if skipped:
        for_workers = len(job.object_ids())
        say(f"{len(skipped)} of {counted(len(job.lines), 'object')} skipped by pre-labeling; {for_workers} "
            f"{'goes' if for_workers == 1 else 'go'} to workers")
