"""Benchmark (not a test): synth time as the README runs it, against the floor run the same way; asset sizes.

    .venv/bin/python bench/bench_synth.py [--repeat 5]

What is timed (wall clock, alternating in one run so machine noise hits every command alike; the
first round only warms disk caches and the bundled assets in cdk.out, and is not counted):

- the README's command, `./scripts/synth.sh` (the set-up check, then `npx cdk synth` of every stack,
  cdk-nag on, the Lambda assets bundled; already bundled assets are reused, as on any second run);
- the floor, run the same way: `npx cdk synth` of the bare CDK app `import aws_cdk; App().synth()`
  with one empty stack, which the CLI needs (what any CDK Python app synthesized by the CLI pays:
  npx, the CLI, Python, jsii starting Node, loading aws-cdk-lib), same interpreter and environment;
- the parts: `npx cdk --version` (the CLI's own start), `./scripts/bootstrap.sh` with nothing to
  install, and `python app.py` against `python -c "import aws_cdk; App().synth()"` without the CLI
  (bundling skipped), as earlier runs of this benchmark reported;
- the local runner's synthesis (``stack_reader.synthesize``: `python app.py`, bundling skipped, asset paths
  recorded), CDK's built-in template validation off as the runner runs it, and on as before.

Bundling itself is measured once, separately, with the asset sizes.
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
sys.path.insert(0, str(REPO))
from local_ground_truth.stack_reader import synthesis_context  # noqa: E402
from stacks.node_runtime import NO_TEMPLATE_VALIDATION  # noqa: E402

PYTHON = sys.executable
# The CLI refuses an app without stacks ("This app contains no stacks"): its floor holds one empty stack.
FLOOR_APP = f"{PYTHON} -c 'import aws_cdk as c; app = c.App(); c.Stack(app, \"Floor\"); app.synth()'"
LAMBDA_LIMIT = 262_144_000
RUNNER_SYNTH = ("from pathlib import Path; from local_ground_truth.stack_reader import synthesize; "
                "synthesize(Path('{out}'))")


def environment(**extra: str) -> dict[str, str]:
    """As `scripts/synth.sh` runs: the virtualenv's bin first on PATH, jsii's Node banner silenced."""
    venv_bin = str(Path(PYTHON).parent)
    base = {name: value for name, value in os.environ.items() if name not in NO_TEMPLATE_VALIDATION}
    return {**base, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(Path(venv_bin).parent),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **extra}


def timed(command: list[str], **extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=environment(**extra), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def commands(tmp: str, i: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    no_bundling = {"CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []})}
    # stack_reader.synthesize's context (its default environment is cdk.json's, dev)
    runner_context = {"CDK_CONTEXT_JSON": json.dumps(synthesis_context("dev"))}
    return {
        "readme": (["./scripts/synth.sh"], {}),
        "floor": (["npx", "cdk", "synth", "--app", FLOOR_APP, "--quiet", "--output", f"{tmp}/floor{i}"], {}),
        "cli": (["npx", "cdk", "--version"], {}),
        "bootstrap": (["./scripts/bootstrap.sh"], {}),
        "app": ([PYTHON, "app.py"], {"CDK_OUTDIR": f"{tmp}/app{i}", **no_bundling}),
        "bare": ([PYTHON, "-c", "import aws_cdk as c; c.App().synth()"], {"CDK_OUTDIR": f"{tmp}/bare{i}", **no_bundling}),
        "runner": ([PYTHON, "-c", RUNNER_SYNTH.format(out=f"{tmp}/runner{i}")], {}),
        "runner_validated": ([PYTHON, "app.py"], {"CDK_OUTDIR": f"{tmp}/validated{i}", **runner_context}),
    }


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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-bundling", action="store_true")
    args = parser.parse_args()

    times: dict[str, list[float]] = {}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for command, extra in commands(tmp, -1).values():  # warm-up: disk caches, the bundled assets in cdk.out
            timed(command, **extra)
        for i in range(args.repeat):
            for name, (command, extra) in commands(tmp, i).items():
                times.setdefault(name, []).append(timed(command, **extra))
    med = {name: statistics.median(values) for name, values in times.items()}
    low = {name: min(values) for name, values in times.items()}

    def row(what: str, name: str) -> str:
        return f"| {what} | {med[name]:.2f} | {low[name]:.2f} |"

    lines = [
        f"## Synthesis ({datetime.date.today()}, {os.cpu_count()} cores, load average {load[0]:.1f} at the start, "
        f"{args.repeat} alternating rounds after a warm-up, wall clock)",
        "",
        "| what | median s | min s |",
        "| --- | --- | --- |",
        row("**the README's command**: `./scripts/synth.sh` (set-up check, `npx cdk synth`, every stack, cdk-nag on, "
            "assets bundled and reused)", "readme"),
        row("**floor, run the same way**: `npx cdk synth --app \"python -c 'import aws_cdk; App().synth()'\"` "
            "(one empty stack: the CLI refuses an app without one)", "floor"),
        f"| **ratio** (target at most 2x) | **{med['readme'] / med['floor']:.2f}x** | {low['readme'] / low['floor']:.2f}x |",
        row("of which: `npx cdk --version` (the CLI's start, in both)", "cli"),
        row("`./scripts/bootstrap.sh`, nothing to install (in the README's command only)", "bootstrap"),
        row("`python app.py` alone, bundling skipped", "app"),
        row("`python -c 'import aws_cdk; App().synth()'` alone", "bare"),
        f"| ratio without the CLI (`app.py` / bare app) | {med['app'] / med['bare']:.2f}x | {low['app'] / low['bare']:.2f}x |",
        row("**the local runner's synthesis** (`stack_reader.synthesize`: `python app.py`, CDK's built-in template "
            "validation off, as the runner runs it)", "runner"),
        row("the same with the built-in validation on (the runner before; `cdk synth` keeps it)", "runner_validated"),
        f"| saved at each start of the local runner | {med['runner_validated'] - med['runner']:.2f} | "
        f"{low['runner_validated'] - low['runner']:.2f} |",
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
