"""What the local-runner benches share: an app synthesized once, each tree's code run in a child process of
its own, a welding job against that tree's own S3 endpoint, and results files whose hand-written notes survive
a re-run."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
NOTES_MARKER = "<!-- notes written by hand: kept when the bench rewrites this file -->"


def extract(revision: str, into: Path) -> Path:
    """``revision``'s tree, extracted from git into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def write_keeping_notes(path: Path, text: str) -> None:
    """``text`` into ``path``, followed by whatever was written by hand below ``NOTES_MARKER`` there."""
    kept = path.read_text().partition(NOTES_MARKER)[2] if path.exists() else ""
    path.write_text(text + ("\n" + NOTES_MARKER + kept if kept else ""))


def assembly(given: Optional[Path], folder: Path) -> Path:
    """``given``, or the app synthesized into ``folder`` as the local runner synthesizes it."""
    if given is not None:
        return given
    sys.path.insert(0, str(REPO))
    from local_ground_truth.stack_reader import synthesize

    synthesize(folder / "cdk.out")
    return folder / "cdk.out"


def in_child(script: str, tree: Path, arguments: Sequence[str]) -> dict:
    """``script --child <tree> <arguments...> <out>`` run with only ``tree``'s code importable; what it wrote to
    ``out`` (JSON)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        subprocess.run([sys.executable, str(Path(script).resolve()), "--child", str(tree), *map(str, arguments),
                        str(out)], check=True, env=env, cwd=tree)
        return json.loads(out.read_text())


@contextmanager
def welding_job_endpoint(tree: Path, assembly_dir: Path, prefix: str) -> Iterator[tuple]:
    """In a child: ``tree``'s code first on the import path, and ``(spec, store, endpoint, s3)``: the welding
    stack (3 workers per object) deployed to a new endpoint of that tree keeping its bucket in ``store``."""
    sys.path.insert(0, str(tree))
    from local_ground_truth import local_s3
    from local_ground_truth.stack_reader import read_workflow

    assert Path(local_s3.__file__).is_relative_to(tree), local_s3.__file__
    spec = read_workflow(assembly_dir, "welding")
    spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=3))
    store = Path(tempfile.mkdtemp(prefix=prefix)) / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        yield spec, store, endpoint, s3


def put_large_manifest(spec, s3, lines: int) -> None:
    """The job's input manifest with ``lines`` lines, each naming one of the 18 sample runs in turn."""
    manifest = spec.task.manifest
    body = "".join(json.dumps({"source": f"s3://{manifest.bucket}/welding/datasets/dataset-{i % 18 + 1:02d}.json",
                               "line": i}) + "\n" for i in range(lines))
    s3.put_object(Bucket=manifest.bucket, Key=manifest.key, Body=body.encode())


def add_tree_arguments(parser, before: str, results: str, child_values: int) -> None:
    """The options every such bench takes: the commit to compare with, an app already synthesized, where the
    results go (``results``: a file of bench/results), and the hidden ``--child`` with ``child_values`` values."""
    import argparse

    parser.add_argument("--before", default=before, help=f"the commit to compare with (default {before})")
    parser.add_argument("--cloud-assembly", type=Path, help="an app already synthesized (default: synthesized here)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / results)
    parser.add_argument("--child", nargs=child_values, help=argparse.SUPPRESS)
