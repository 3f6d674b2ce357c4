"""``--serve-review``: after a simulated crowd, an expert decides in the browser what it could not settle (a headless
run's routed objects otherwise waited for an expert no run could serve: a browser run of a simulated job is
refused, so that no person's answer joins simulated ones)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from local_ground_truth import __main__ as cli
from stacks.node_runtime import QUIET_NODE
from tests.runner_helpers import REPO_ROOT, ctrl_c_stops
from tests.test_local_runner_browser import page_for

ARGS = ["--workflow", "welding", "--simulate-workers", "3", "--accuracy", "0.5", "--seed", "3", "--review",
        "--serve-review", "--job-name", "reviewed", "--port", "0"]


class ServedReview:
    """The runner with ``--serve-review`` as a child process, once it serves the expert page."""

    def __init__(self, args: list[str], log: Path, out: Path) -> None:
        self.log, self.out = log, out
        env = {**os.environ, **QUIET_NODE}
        self.process = subprocess.Popen([sys.executable, "-m", "local_ground_truth", *args], cwd=REPO_ROOT, env=env,
                                        stdout=open(out, "wb"), stderr=open(log, "ab"), start_new_session=True,
                                        preexec_fn=ctrl_c_stops)
        deadline = time.monotonic() + 180
        while not (found := re.search(r"Experts: open (http://127\.0\.0\.1:\d+)/review and sign in", self.said())):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the expert page was not served:\n{self.said()[-3000:]}")
            time.sleep(0.2)
        self.url = found.group(1)

    def said(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> dict:
        """Ctrl-C; the summary it prints then."""
        os.killpg(self.process.pid, signal.SIGINT)
        assert self.process.wait(timeout=60) == 0
        return json.loads(self.out.read_text())


def test_an_expert_decides_in_the_browser_after_the_simulated_crowd_and_the_same_command_serves_the_rest(
        runner_assembly, browser, tmp_path):
    args = [*ARGS, "--state-dir", str(tmp_path / "job"), "--cloud-assembly", str(runner_assembly)]
    served = ServedReview(args, tmp_path / "runner-1.log", tmp_path / "summary-1.json")
    try:
        said = served.said()
        awaiting = int(re.search(r"; (\d+) awaits? review now", said).group(1))
        assert awaiting > 0 and "job complete: 18 of 18 objects consolidated" in said
        page = page_for(browser)
        page.goto(f"{served.url}/review")
        page.fill("input[name=reviewer]", "Bo")
        page.keyboard.press("Enter")
        page.wait_for_url("**/review/Bo**")
        first = page.locator("a[href*='/object/']").first
        object_id = first.get_attribute("href").rsplit("/", 1)[1]
        first.click()
        page.wait_for_url(f"**/object/{object_id}")
        page.locator("input[type=radio]").first.check()
        page.get_by_role("button", name="Save this decision").click()
        page.wait_for_url("**?saved=*")
        # No person's answer joins the simulated ones: the crowd gave every object all the answers it asks for.
        with urllib.request.urlopen(f"{served.url}/worker/ana", timeout=30) as response:
            assert "You answered 0 of 18; 0 waiting" in response.read().decode()
    finally:
        summary = served.stop()
    assert summary["review"]["decided"] == 1 and summary["review"]["awaiting"] == awaiting - 1
    final = [json.loads(line) for line in Path(summary["review"]["final_manifest"]).read_text().splitlines()]
    assert "Bo" in json.dumps(final[int(object_id)])  # the decision, with who made it

    served = ServedReview(args, tmp_path / "runner-2.log", tmp_path / "summary-2.json")
    try:
        assert f"; {awaiting - 1} {'awaits' if awaiting - 1 == 1 else 'await'} review now" in served.said()
        assert "/18 [" not in served.said()  # nothing pre-labeled or simulated again
    finally:
        summary = served.stop()
    assert summary["review"]["decided"] == 1


@pytest.mark.parametrize("argv, problem", [
    (["--serve-review"], "--serve-review serves experts after a simulated crowd (--simulate-workers N)"),
    (["--simulate-workers", "3", "--no-review", "--serve-review"], "leave out --no-review"),
])
def test_serve_review_without_a_simulated_crowd_or_with_review_off_is_refused(argv, problem, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(argv)
    assert problem in capsys.readouterr().err


def test_serve_review_with_the_environments_review_off_is_refused_before_the_crowd_is_simulated(
        runner_assembly, tmp_path, capsys):
    argv = ["--workflow", "welding", "--simulate-workers", "3", "--serve-review", "--state-dir", str(tmp_path / "job"),
            "--cloud-assembly", str(runner_assembly)]  # dev: review off unless --review
    assert cli.main(argv) == 2
    said = capsys.readouterr().err
    assert "expert review is off in this environment: add --review" in said
    assert not (tmp_path / "job").exists()  # nothing deployed, pre-labeled or simulated
