"""Benchmark (not a test): the worker lease table late in a served job, against the code before, in one run.

    .venv/bin/python bench/bench_leases.py [--objects 10000] [--previous 0a0325e]

A served job takes a lease on every object a worker opens and gives it back when they answer. Before, the table kept
an empty entry for every object ever leased, so each later request walked them all. Here ``--objects`` objects are
each leased, answered and given back (as the server does, with the leases file it keeps), then a lease is taken and
given back 50 times and a worker's open tasks counted 10 times: CPU time, median, for this tree's
``local_ground_truth/leases.py`` and ``--previous``'s, loaded side by side. The floor is the same requests on a table
that never held a lease before (what a request costs with nothing to walk). Results go to bench/results/leases.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "leases.md"


def load(source: str, name: str):
    """The leases module of ``source`` (its text), as a module of its own."""
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def measure(module, objects: int) -> dict[str, float]:
    """Fill a table with ``objects`` answered objects, then time a lease taken and given back, and a count."""
    answered: dict[str, set[str]] = {}
    folder = Path(tempfile.mkdtemp())
    table = module.LeaseTable(3, 600, lambda oid: answered.get(oid, set()), path=folder / "leases.json")
    started = time.process_time()
    for number in range(objects):
        oid = str(number)
        table.acquire(oid, "ana")
        answered.setdefault(oid, set()).add("ana")
        table.release(oid, "ana")
    fill = time.process_time() - started
    ids = {str(number) for number in range(objects + 10)}
    cycles, counts = [], []
    for turn in range(50):
        oid = str(objects + turn % 10)
        started = time.process_time()
        table.acquire(oid, "bo")
        table.release(oid, "bo")
        cycles.append(time.process_time() - started)
    for _ in range(10):
        started = time.process_time()
        table.count_available(ids, "dee", [], set())
        counts.append(time.process_time() - started)
    return {"fill": fill, "cycle": statistics.median(cycles), "count": statistics.median(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--previous", default="0a0325e", help="the commit before the table forgot given-back objects")
    args = parser.parse_args()
    now = load((REPO / "local_ground_truth" / "leases.py").read_text(), "leases_now")
    before = load(subprocess.run(["git", "show", f"{args.previous}:local_ground_truth/leases.py"], cwd=REPO,
                                 check=True, capture_output=True, text=True).stdout, "leases_before")
    load_average = os.getloadavg()[0]
    floor = measure(now, 0)
    this, previous = measure(now, args.objects), measure(before, args.objects)
    ms = lambda seconds: f"{seconds * 1000:.2f}"  # noqa: E731
    RESULTS.write_text(
        "# Worker leases late in a served job\n\n"
        "Written by `bench/bench_leases.py`:\n\n"
        f"    .venv/bin/python bench/bench_leases.py --objects {args.objects} --previous {args.previous}\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 shared cores, load average {load_average:.1f}: "
        f"CPU time, medians. {args.objects:,} objects each leased, answered and given back first (3 slots an object, "
        "the leases file kept as the server keeps it).\n\n"
        "| code | a lease taken and given back, ms | a worker's open tasks counted, ms | the job's leases before, s |\n"
        "| --- | --- | --- | --- |\n"
        f"| this tree | {ms(this['cycle'])} | {ms(this['count'])} | {this['fill']:.1f} |\n"
        f"| `{args.previous}` (empty entries kept) | {ms(previous['cycle'])} | {ms(previous['count'])} | "
        f"{previous['fill']:.1f} |\n"
        f"| floor: a table that never held a lease | {ms(floor['cycle'])} | {ms(floor['count'])} | |\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    sys.exit(main())
