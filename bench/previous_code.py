"""An earlier revision's Lambda code, run beside today's in the same benchmark run.

``lambda_tree(revision, into)`` extracts that revision's ``lambda_src`` from git; ``run_handler``
invokes a consolidation handler of any tree (today's or an extracted one) in a fresh child process
whose only Lambda code is that tree's, as a warm Lambda runs it (its S3 client made before the
measured calls), against a local S3 endpoint. The child reports each invocation's wall and CPU
time, its response, and the process's peak memory (VmHWM).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent

#: The last revision before issue 9 (welding and NER consolidated by packages of their own).
BEFORE_ISSUE_9 = "3e8fc2f"


def lambda_tree(revision: str, into: Path) -> Path:
    """``revision``'s lambda_src, extracted from git into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "lambda_src"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "lambda_src"


_CHILD = """
import importlib, json, logging, os, sys, time
from pathlib import Path

def peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

config = json.loads(Path(sys.argv[1]).read_text())
sys.path.insert(0, config["lambda_src"])
logging.disable(logging.WARNING)
os.environ.update(config["environment"])
handler = importlib.import_module(config["package"] + ".handler")
assert handler.__file__.startswith(config["lambda_src"]), handler.__file__
handler.s3_client()
rss_before = peak_mb()
runs = []
for event in config["events"]:
    started, cpu = time.perf_counter(), time.process_time()
    refused = None
    try:
        response = handler.lambda_handler(event, None)
    except Exception as error:  # a batch whose labels Lambda could not return: still measured, and said so
        if type(error).__name__ != "ResponseTooLarge":
            raise
        response, refused = error.response, str(error)
    runs.append({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "response": response,
                 "refused": refused})
Path(sys.argv[2]).write_text(json.dumps({"runs": runs, "rss_before_mb": rss_before, "peak_rss_mb": peak_mb()}))
"""


def run_handler(lambda_src: Path, package: str, environment: Mapping[str, str], events: Sequence[dict],
                endpoint: str) -> dict[str, Any]:
    """``{"runs": [{"seconds", "cpu", "response", "refused"}], "rss_before_mb", "peak_rss_mb"}`` of ``events``
    through ``package``'s handler of ``lambda_src``, in one child process (``refused``: why Lambda could not have
    returned the labels, which are kept all the same: ``gt_common.response_size``)."""
    with tempfile.TemporaryDirectory() as folder:
        config, out = Path(folder) / "config.json", Path(folder) / "out.json"
        config.write_text(json.dumps({"lambda_src": str(lambda_src), "package": package,
                                      "environment": dict(environment), "events": list(events)}))
        env = {key: value for key, value in os.environ.items()
               if key not in ("PYTHONPATH", "CONSOLIDATION_METHOD", "LABEL_CATEGORIES", "WORKFLOW_QUESTIONS",
                              "TASK_RECORDS_URI")}
        env["AWS_ENDPOINT_URL_S3"] = endpoint
        subprocess.run([sys.executable, "-c", _CHILD, str(config), str(out)], check=True, env=env,
                       cwd=tempfile.gettempdir())
        return json.loads(out.read_text())


def compare_entities(now: Sequence[dict], before: Sequence[dict]) -> tuple[bool, int]:
    """``(same spans, confidences that differ)``: whether both lists hold the same spans (labels and
    offsets, in order), and how many of their confidences differ. Before issue 9 a confidence could
    differ by 0.0001 from one process to the next (weights were summed in a set's order, which the
    hash seed changes); callers report such differences rather than hide them."""
    spans = [(e["label"], e["startOffset"], e["endOffset"]) for e in now]
    if spans != [(e["label"], e["startOffset"], e["endOffset"]) for e in before]:
        return False, 0
    return True, sum(a["confidence"] != b["confidence"] for a, b in zip(now, before))
