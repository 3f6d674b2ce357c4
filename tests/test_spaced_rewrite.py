"""Files rewritten whole from the job's state (the output and final manifests): at once while a rewrite is
cheap, spaced by its own cost once it is not, and never left behind at the end."""
from __future__ import annotations

import threading
import time

import pytest

from local_ground_truth import spaced_rewrite
from local_ground_truth.spaced_rewrite import SpacedRewrite
from tests.runner_helpers import job_name, local_job

GOOD = {"WeldingClassification": {"label": "Good Weld"}}


class Recorder:
    """A write that takes ``cost`` seconds and records what state it wrote."""

    def __init__(self, cost: float = 0.0) -> None:
        self.cost, self.state, self.written, self.fail = cost, 0, [], False

    def __call__(self) -> None:
        if self.fail:
            raise OSError("disk full")
        state = self.state
        time.sleep(self.cost)
        self.written.append(state)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def answer_and_consolidate(job, consolidator, object_id: str) -> None:
    """Every worker the object needs answers it; back once the background consolidation has run its batch
    (without ``wait_idle``, which would flush what is spaced)."""
    for worker in ("w1", "w2", "w3")[:job.spec.workers_per_object]:
        job.record_answer(object_id, worker, GOOD)
    consolidator.notify()
    with consolidator._changed:
        consolidator._changed.wait_for(lambda: consolidator._handled >= consolidator._requested, 60)


def test_a_cheap_rewrite_follows_every_change():
    write = Recorder()
    rewrite = SpacedRewrite(write, "manifest")
    for state in range(1, 6):
        write.state = state
        rewrite.changed()
    assert write.written == [1, 2, 3, 4, 5]


def test_a_costly_rewrite_waits_its_spacing_then_writes_the_latest_state_once(monkeypatch):
    monkeypatch.setattr(spaced_rewrite, "SPACE_ABOVE_SECONDS", 0.01)
    monkeypatch.setattr(spaced_rewrite, "SPACING", 5.0)
    write = Recorder(cost=0.05)
    rewrite = SpacedRewrite(write, "manifest")
    write.state = 1
    started = time.monotonic()
    rewrite.changed()  # the first rewrite: nothing to space it from
    ended = time.monotonic()
    assert write.written == [1]
    for state in (2, 3, 4):  # changes while it is not due: none written now
        write.state = state
        rewrite.changed()
    # Due 5 times what the write took (0.05 s asleep, more on a busy machine: at most what this test saw).
    assert write.written == [1] and 0 < rewrite.due_in() <= 5 * (ended - started)
    wait_for(lambda: len(write.written) == 2)
    assert write.written == [1, 4]  # one rewrite, of the state when it came due
    assert time.monotonic() - ended >= 5 * 0.05 - 0.01
    time.sleep(0.3)
    assert write.written == [1, 4]  # nothing changed since: no rewrite


def test_flush_writes_at_once_and_the_timer_does_not_write_again(monkeypatch):
    monkeypatch.setattr(spaced_rewrite, "SPACE_ABOVE_SECONDS", 0.01)
    monkeypatch.setattr(spaced_rewrite, "SPACING", 10.0)
    write = Recorder(cost=0.03)
    rewrite = SpacedRewrite(write, "manifest")
    rewrite.changed()
    write.state = 7
    rewrite.changed()
    assert write.written == [0]
    rewrite.flush()
    assert write.written == [0, 7]
    rewrite.flush()  # nothing changed: nothing written
    time.sleep(0.5)  # past the first spacing: the cancelled timer wrote nothing
    assert write.written == [0, 7]


def test_a_failed_rewrite_stays_pending_and_the_next_flush_writes_it():
    write = Recorder()
    rewrite = SpacedRewrite(write, "manifest")
    write.fail = True
    with pytest.raises(OSError):
        rewrite.changed()
    write.fail, write.state = False, 3
    rewrite.flush()
    assert write.written == [3]


def test_changes_from_many_threads_end_with_the_last_state_written(monkeypatch):
    monkeypatch.setattr(spaced_rewrite, "SPACE_ABOVE_SECONDS", 0.001)
    monkeypatch.setattr(spaced_rewrite, "SPACING", 3.0)
    write = Recorder(cost=0.002)
    rewrite = SpacedRewrite(write, "manifest")
    lock = threading.Lock()

    def change(n):
        for _ in range(50):
            with lock:
                write.state += 1
            rewrite.changed()

    threads = [threading.Thread(target=change, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rewrite.flush()
    assert write.written[-1] == 200 and write.written == sorted(write.written)
    assert len(write.written) < 200  # spaced: far fewer rewrites than changes


def test_a_large_jobs_manifest_is_spaced_in_the_background_and_complete_when_stopped(runner_assembly, tmp_path,
                                                                                       monkeypatch):
    """As at 100,000 lines: every rewrite counts as costly and its spacing is long, so batches consolidated in
    the background leave the output manifest behind; stopping writes every label."""
    from local_ground_truth.consolidator import Consolidator
    from local_ground_truth.stack_reader import read_workflow

    monkeypatch.setattr(spaced_rewrite, "SPACE_ABOVE_SECONDS", 0.0)
    monkeypatch.setattr(spaced_rewrite, "SPACING", 10_000.0)
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "spaced")) as job:
        labeled = lambda: [row for row in job.output_manifest() if "welding-quality" in row]  # noqa: E731
        assert labeled() == [] and job.output_manifest_rewrite.rewrites == 1  # pre-labeling's: spacing from it
        consolidator = Consolidator(job).start()
        for object_id in ("0", "1", "2"):
            answer_and_consolidate(job, consolidator, object_id)
        assert set(job.consolidated_labels()) == {"0", "1", "2"}
        assert labeled() == []  # three batches, none rewrote the manifest yet
        consolidator.stop(timeout=60)
        assert len(labeled()) == 3  # stopping wrote them


def test_the_quality_report_image_is_drawn_spaced_and_its_data_after_every_batch(runner_assembly, tmp_path,
                                                                               monkeypatch):
    """Drawing a report's image takes ~0.5 s: after the first batch it waits its spacing (here: until the stop),
    while the report's JSON beside it follows every batch."""
    import json

    from local_ground_truth.consolidator import Consolidator
    from local_ground_truth.requester import RequesterLog
    from local_ground_truth.stack_reader import read_workflow

    monkeypatch.setattr(spaced_rewrite, "SPACE_ABOVE_SECONDS", 0.0)
    monkeypatch.setattr(spaced_rewrite, "SPACING", 10_000.0)
    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "images")) as job:
        job.folder = tmp_path
        said: list[str] = []
        log = RequesterLog(job, said.append).attach()
        consolidator = Consolidator(job).start()
        for object_id in ("0", "1", "2"):
            answer_and_consolidate(job, consolidator, object_id)
            if object_id == "0":
                [question] = log.files.update(draw=False)
                png, data = log.files.paths(question)
                first = png.read_bytes()  # the first batch's image: drawn at once
        assert json.loads(data.read_text())["objects"] == 3  # the data follows every batch
        assert png.read_bytes() == first and log.images.rewrites == 1  # the image waits
        consolidator.stop(timeout=60)
        assert png.read_bytes() != first and log.images.rewrites == 2  # stopping drew it
        assert any(f"quality reports saved: {data} (image {png})" in line for line in said)


def test_a_rewrite_encodes_only_the_lines_labeled_since_the_one_before(runner_assembly, tmp_path, monkeypatch):
    """At 20,000 labeled lines encoding every line was most of a rewrite (and of a stop's): each line's text is kept
    while its label stays the same, and the file is the same as every line encoded anew."""
    import json

    from local_ground_truth.stack_reader import read_workflow

    spec = read_workflow(runner_assembly, "welding")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "encoded")) as job:  # pre-labeling wrote every line
        encoded: list[int] = []
        output_line = job._output_line
        monkeypatch.setattr(job, "_output_line", lambda index, entry: encoded.append(index) or output_line(index, entry))
        for object_id in ("4", "11"):
            job.record_answer(object_id, "w1", GOOD)
            job.consolidate()  # its batch, then the manifest rewritten
        assert encoded == [4, 11] and job.output_manifest_rewrite.rewrites >= 3
        written = job.s3.get_object(Bucket=job.bucket, Key=job.output_manifest_key)["Body"].read()
        assert written == "".join(json.dumps(row) + "\n" for row in job.output_lines()).encode()
        assert [index for index, row in enumerate(job.output_manifest()) if "welding-quality" in row] == [4, 11]
