"""Benchmark (not a test): the runner's S3 endpoint's memory over a bucket of images, now and before.

    .venv/bin/python bench/bench_endpoint_memory.py [--images 500] [--megabytes 1] [--before 859ec35]

A store folder holding ``--images`` random files of ``--megabytes`` each (a data folder of photos, as deployed) and
the 18 sample runs' small files beside them is loaded by the endpoint of each tree (this one, and ``--before``
extracted from git, each run with only its own code importable), which then lists the bucket (every ETag) and serves
each image once. Measured: the endpoint process's resident memory (VmRSS) after it started and after serving, and
its peak (VmHWM). The floor: the same endpoint over the small files alone (no images). Results go to
``bench/results/endpoint_memory.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from tree_runs import extract, in_child, write_keeping_notes  # noqa: E402

BEFORE = "859ec35"  # main before large objects were served from the store's files
BUCKET = "data-bucket"


def child(tree: Path, store: Path, out: Path) -> None:
    """In a child process whose code is ``tree``'s: start the endpoint over ``store``, list, read every image."""
    sys.path.insert(0, str(tree))
    from local_ground_truth import local_s3

    assert Path(local_s3.__file__).is_relative_to(tree), local_s3.__file__

    def memory(pid: int) -> dict[str, int]:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
        return {name: int(fields[name].split()[0]) // 1024 for name in ("VmRSS", "VmHWM")}

    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        [pid] = [int(folder.name) for folder in Path("/proc").iterdir() if folder.name.isdigit()
                 and b"local_ground_truth.local_s3" in _command(folder) and str(store).encode() in _command(folder)]
        started = memory(pid)
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
                for item in page.get("Contents", [])]
        for key in keys:
            if key.startswith("images/"):
                s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        served = memory(pid)
    out.write_text(json.dumps({"started": started, "served": served, "objects": len(keys)}))


def _command(folder: Path) -> bytes:
    try:
        return (folder / "cmdline").read_bytes()
    except OSError:
        return b""


def make_store(folder: Path, images: int, megabytes: float) -> Path:
    """A store folder as the endpoint keeps one: the sample welding files, and ``images`` random images."""
    bucket = folder / BUCKET
    shutil.copytree(REPO / "sample_data" / "welding", bucket / "welding")
    (bucket / "images").mkdir()
    for number in range(images):
        (bucket / "images" / f"photo-{number:05d}.jpg").write_bytes(os.urandom(int(megabytes * (1 << 20))))
    return folder


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--before", default=BEFORE)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-endpoint-memory-"))
    try:
        images = make_store(work / "images", args.images, args.megabytes)
        small = make_store(work / "small", 0, 0)
        before = extract(args.before, work / "before")
        results = {
            "now": in_child(__file__, REPO, [images]),
            "before": in_child(__file__, before, [images]),
            "floor": in_child(__file__, REPO, [small]),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data = args.images * args.megabytes
    rows = "\n".join(
        f"| {name} | {result['started']['VmRSS']:,} MB | {result['served']['VmRSS']:,} MB | {result['served']['VmHWM']:,} MB |"
        for name, result in (("now", results["now"]), (f"before (`{args.before}`)", results["before"]),
                             ("floor: the small files alone, now", results["floor"])))
    text = f"""# The local S3 endpoint's memory over a bucket of images

Written by `bench/bench_endpoint_memory.py`:

    .venv/bin/python bench/bench_endpoint_memory.py --images {args.images} --megabytes {args.megabytes:g}

{datetime.date.today().isoformat()}, {os.cpu_count()} cores. A store of {args.images:,} random images of {args.megabytes:g} MB
({data:,.0f} MB) beside the welding sample's files ({results['now']['objects']:,} objects), loaded by the endpoint of
each tree, which then lists the bucket and serves every image once.

| endpoint | resident after start | resident after serving | peak |
| --- | --- | --- | --- |
{rows}
"""
    write_keeping_notes(REPO / "bench" / "results" / "endpoint_memory.md", text)
    print(text)


if __name__ == "__main__":
    main()
