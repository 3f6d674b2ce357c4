"""Benchmark (not a test): full-app synth time against the bare CDK floor, and bundled asset sizes.

    .venv/bin/python bench/bench_synth.py [--repeat 3]

The floor is `python -c "import aws_cdk as c; c.App().synth()"`: what any CDK Python app pays
(jsii starting Node, loading aws-cdk-lib). Both are timed in the same run, alternating, so machine
noise hits them alike. The app is synthesized with every environment's stack, cdk-nag on, and
asset bundling skipped (as `cdk synth` does when assets are already bundled; bundling itself is
measured once, separately, together with the asset sizes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FLOOR = [PYTHON, "-c", "import aws_cdk as c; c.App().synth()"]
APP = [PYTHON, "app.py"]  # as `cdk synth` runs it; bundling skipped through the context below
LAMBDA_LIMIT = 262_144_000


def timed(command: list[str], outdir: str) -> float:
    env = {**os.environ, "CDK_OUTDIR": outdir, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []})}
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bundle_sizes() -> dict[str, tuple[int, float, str]]:
    """Bundle each project Lambda package for real; return (unzipped bytes, seconds, shared modules
    carried) per package. The custom resources' code is an asset of its own folder, not bundled."""
    sys.path.insert(0, str(REPO))
    from labeling_constructs.lambda_code import LAMBDA_SRC, LocalPythonBundler
    from labeling_constructs.lambda_dependencies import SHARED_PACKAGE

    sizes = {}
    for package in sorted(p.name for p in LAMBDA_SRC.iterdir() if p.is_dir() and p.name != SHARED_PACKAGE
                          and not p.name.startswith((".", "__"))):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            LocalPythonBundler(package).try_bundle(out)
            shared = sorted(path.stem for path in (Path(out) / SHARED_PACKAGE).glob("*.py") if path.stem != "__init__")
            sizes[package] = (folder_size(Path(out)), time.perf_counter() - start, ", ".join(shared))
    for folder in ("labeling_job_resource", "workteam_portal_resource"):
        path = REPO / "labeling_constructs" / folder
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        sizes[f"{folder} (own folder, not bundled)"] = (size, 0.0, "none")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-bundling", action="store_true")
    args = parser.parse_args()

    floor, full = [], []
    with tempfile.TemporaryDirectory() as tmp:
        timed(FLOOR, f"{tmp}/warm")  # first run warms the disk cache for both
        for i in range(args.repeat):
            floor.append(timed(FLOOR, f"{tmp}/floor{i}"))
            full.append(timed(APP, f"{tmp}/app{i}"))
    floor_s, full_s = statistics.median(floor), statistics.median(full)
    lines = [
        f"## Synthesis ({datetime.date.today()}, {os.cpu_count()} cores, {args.repeat} alternating runs, medians)",
        "",
        "| what | seconds |",
        "| --- | --- |",
        f"| floor: `import aws_cdk; App().synth()` | {floor_s:.2f} |",
        f"| full app: every stack, cdk-nag on, bundling skipped | {full_s:.2f} |",
        f"| ratio (target at most 2x) | {full_s / floor_s:.2f}x |",
        "",
    ]
    if not args.skip_bundling:
        lines += ["## Bundled Lambda assets (unzipped; Lambda's limit is 262,144,000 bytes, target for pre-labeling at most 120 MB)", "",
                  "| package | bytes | MB | bundling seconds | gt_common modules carried |",
                  "| --- | --- | --- | --- | --- |"]
        for package, (size, seconds, shared) in bundle_sizes().items():
            lines.append(f"| {package} | {size:,} | {size / 1e6:.1f} | {seconds:.1f} | {shared} |")
        lines.append("")
    report = "\n".join(lines)
    print(report)
    (REPO / "bench" / "results" / "synth.md").write_text(
        "# Synthesis time and asset sizes\n\nWritten by `bench/bench_synth.py`.\n\n" + report)


if __name__ == "__main__":
    main()
