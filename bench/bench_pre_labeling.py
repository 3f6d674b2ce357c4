"""Benchmark (not a test): welding pre-labeling per item, against its floor and earlier code, in one run.

    .venv/bin/python bench/bench_pre_labeling.py [--rows 20000] [--items 16] [--rounds 3] [--repeat 15]
                                                 [--previous d05001f] [--before-plots c9c9ac6]

1. Whole handler: ``lambda_handler`` of this tree, of ``--previous`` (main before issue 12) and of a
   floor that makes the same seven S3 requests and nothing else, each in
   a child process of its own as a warm Lambda runs it (``previous_code.run_handler``), against moto's
   S3 server on 127.0.0.1 (in this process, so its work is not counted). Every item is another
   ``--rows``-row CSV (another noise seed) under a fresh plot prefix, so every item parses, draws and
   writes; the two trees alternate ``--rounds`` times. CPU time per item (``time.process_time`` in the
   child, all its threads); a container's first item (figures made, first frames drawn) is reported
   apart from the warm ones.
2. Parts, in this process, alternating, ``--repeat`` runs each, CPU time: parsing and drawing + PNG of
   this tree, ``--previous`` and ``--before-plots`` (loaded beside today's under other package names),
   the seed's pandas + pyplot, and the floors the issue names, measured beside them: pandas' C parser,
   three line plots without any text or ticks (Agg), three palette PNGs.
3. A 1,000,000-row CSV through this tree's parser and renderer (decimation bound).

The machine is shared (2 cores, several engineers): CPU time, not wall time, and min and median of
many runs; the load average is written with the results. Results go to bench/results/pre_labeling.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lambda_src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MPLCONFIGDIR", "/tmp/mplconfig")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import boto3  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from welding_pre_labeling.plots import HEIGHT_PX, MAX_BUCKETS, PLOTS, WIDTH_PX, PlotRenderer, decimate  # noqa: E402
from welding_pre_labeling.plots import elapsed_seconds  # noqa: E402
from welding_pre_labeling.sensor_csv import parse_sensor_csv  # noqa: E402
from previous_code import lambda_tree, run_handler  # noqa: E402

#: main when issue 12 was branched off it: issue 10's plots drawn whole per run, numpy's text parser.
BEFORE_ISSUE_12 = "d05001f"
#: main when issue 10's plots were branched off it: autoscaled axes, 640x260 px, titled.
BEFORE_ISSUE_10_PLOTS = "c9c9ac6"
CAMERA = REPO / "sample_data" / "welding" / "images" / "run-01.jpg"


def make_csv(rows: int, seed: int = 7) -> bytes:
    """The sample data's header-less layout (time in 100 ms steps), a fifth column the parser ignores."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    table = np.column_stack([t, t * 0.4 + rng.normal(0, 0.05, rows), 150 + rng.normal(0, 3, rows),
                             22 + rng.normal(0, 0.3, rows), 8 + rng.normal(0, 0.05, rows)])
    buffer = io.StringIO()
    np.savetxt(buffer, table, delimiter=",", fmt=["%d", "%.2f", "%.1f", "%.2f", "%.2f"])
    return buffer.getvalue().encode()


def make_high_rate_csv(rows: int, hertz: float = 10_000, seed: int = 7) -> bytes:
    """A logger sampling at ``hertz`` (headered, time in seconds): a million rows is 100 s of welding at
    4 mm/s, within what a welding sensor records (the parser refuses values beyond that)."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(rows) / hertz
    table = np.column_stack([seconds, seconds * 4.0 + rng.normal(0, 0.05, rows), 150 + rng.normal(0, 3, rows),
                             22 + rng.normal(0, 0.3, rows)])
    buffer = io.StringIO()
    np.savetxt(buffer, table, delimiter=",", fmt=["%.4f", "%.2f", "%.1f", "%.2f"],
               header="time_s,electrode_position_mm,current_a,voltage_v", comments="")
    return buffer.getvalue().encode()


# -- the floors, measured beside the code ------------------------------------------------------------

def pandas_parse(data: bytes) -> np.ndarray:
    """Floor of parsing: pandas' C parser, no checks."""
    return pd.read_csv(io.BytesIO(data), header=None, engine="c").to_numpy()


class BareLines:
    """Floor of drawing: three persistent Agg figures of the same size holding only the line (no axes,
    ticks, text, grid or band), each drawn whole."""

    def __init__(self) -> None:
        self.figures = []
        for plot in PLOTS:
            figure = Figure(figsize=(WIDTH_PX / DPI_FLOOR, HEIGHT_PX / DPI_FLOOR), dpi=DPI_FLOOR)
            FigureCanvasAgg(figure)
            axes = figure.add_axes((0.13, 0.19, 0.84, 0.75))
            axes.set_axis_off()
            (line,) = axes.plot([], [], color=plot.colour, linewidth=1.0)
            self.figures.append((plot, figure, axes, line))

    def draw(self, series) -> None:
        elapsed = elapsed_seconds(series)
        for plot, figure, axes, line in self.figures:
            x, y = decimate(elapsed, getattr(series, plot.attribute))
            line.set_data(x, y)
            axes.set_xlim(0, max(40.0, float(x[-1])))
            axes.set_ylim(float(y.min()) - 1, float(y.max()) + 1)
            figure.canvas.draw()


DPI_FLOOR = 100


def palette_pngs(images: list[Image.Image]) -> list[bytes]:
    """Floor of encoding: three already-quantised (palette) images as PNG, zlib level 1."""
    out = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        out.append(buffer.getvalue())
    return out


def seed_baseline(data: bytes) -> list[bytes]:
    """What the seed sample's pre-labeling did: pandas, then one default pyplot figure per plot."""
    frame = pd.read_csv(io.BytesIO(data), header=None)
    out = []
    for column, title in ((2, "Current"), (1, "Electrode position"), (3, "Voltage")):
        plt.figure()
        plt.plot(frame[0], frame[column])
        plt.title(title)
        buffer = io.BytesIO()
        plt.savefig(buffer, format="png")
        plt.close()
        out.append(buffer.getvalue())
    return out


# -- earlier code, beside today's ----------------------------------------------------------------------

def previous_package(revision: str, folder: Path) -> tuple[Path, str]:
    """``revision``'s lambda_src extracted into ``folder``, its welding package also copied under a name of
    its own (``welding_pre_labeling_<revision>``, its modules referring to each other by that name), so
    it imports beside today's. Returns (lambda_src, package name)."""
    tree = lambda_tree(revision, folder / revision)
    name = f"welding_pre_labeling_{revision}"
    alias = tree / name
    shutil.copytree(tree / "welding_pre_labeling", alias)
    for module in alias.glob("*.py"):
        module.write_text(module.read_text().replace("welding_pre_labeling.", f"{name}."))
    return tree, name


def load_parts(tree: Path, name: str):
    """``(PlotRenderer(), parse_sensor_csv)`` of an extracted tree's renamed package."""
    sys.path.insert(0, str(tree))
    try:
        plots = importlib.import_module(f"{name}.plots")
        parser = importlib.import_module(f"{name}.sensor_csv")
    finally:
        sys.path.remove(str(tree))
    return plots.PlotRenderer(), parser.parse_sensor_csv


def cpu(function, *args) -> float:
    started = time.process_time()
    function(*args)
    return time.process_time() - started


def ms(values: list[float]) -> str:
    return f"{min(values) * 1000:.1f} / {statistics.median(values) * 1000:.1f}"


# -- 1. the whole handler ------------------------------------------------------------------------------

#: Floor of the handler's S3 work: the same seven requests, with one client, and nothing else.
S3_FLOOR_HANDLER = """
import json
import os
from functools import lru_cache

import boto3
from botocore.exceptions import ClientError


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3")


def lambda_handler(event, context=None):
    s3 = s3_client()
    bucket, key = event["dataObject"]["source"][len("s3://"):].split("/", 1)
    dataset = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    image = dataset["image"]["s3Path"][len("s3://"):].split("/", 1)[1]
    csv = dataset["sensor_data"]["s3Path"][len("s3://"):].split("/", 1)[1]
    # gt_common.images' first read (HEAD_BYTES, 64 KiB) holds a sample camera image whole: no read of its end
    s3.get_object(Bucket=bucket, Key=image, Range="bytes=0-65535")["Body"].read()
    prefix = os.environ["DERIVED_DATA_PREFIX"] + csv
    try:
        s3.head_object(Bucket=bucket, Key=f"{prefix}/voltage.png")
    except ClientError:
        pass
    s3.get_object(Bucket=bucket, Key=csv)["Body"].read()
    for name in ("current", "electrode", "voltage"):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}.png", Body=bytes(15_000), ContentType="image/png",
                      Metadata={"source-etag": "floor"})
    return {"taskInput": {"voltage": {"file": f"s3://{bucket}/{prefix}/voltage.png"}}}
"""


def s3_floor_tree(folder: Path) -> Path:
    package = folder / "floor" / "s3_requests_floor"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(S3_FLOOR_HANDLER)
    return folder / "floor"


def upload_items(s3, bucket: str, rows: int, items: int) -> list[dict]:
    camera = CAMERA.read_bytes()
    s3.put_object(Bucket=bucket, Key="welding/images/run.jpg", Body=camera)
    events = []
    for item in range(items):
        s3.put_object(Bucket=bucket, Key=f"welding/sensor/run-{item:03d}.csv", Body=make_csv(rows, seed=100 + item))
        dataset = {"image": {"s3Path": f"s3://{bucket}/welding/images/run.jpg"},
                   "sensor_data": {"s3Path": f"s3://{bucket}/welding/sensor/run-{item:03d}.csv"}}
        s3.put_object(Bucket=bucket, Key=f"welding/datasets/dataset-{item:03d}.json", Body=json.dumps(dataset))
        events.append({"version": "2018-10-06", "labelingJobArn": "arn:aws:sagemaker:us-east-1:1:labeling-job/bench",
                       "dataObject": {"source": f"s3://{bucket}/welding/datasets/dataset-{item:03d}.json"}})
    return events


def whole_handler(trees: dict[str, tuple[Path, str]], rows: int, items: int, rounds: int) -> dict[str, dict]:
    """Per tree: {"first": [cpu of each container's first item], "warm": [cpu of every other item],
    "wall": [wall of the warm items]}."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench")
        events = upload_items(s3, "bench", rows, items)
        times = {label: {"first": [], "warm": [], "wall": []} for label in trees}
        for round_number in range(rounds):
            for label, (tree, package) in trees.items():
                environment = {"DERIVED_DATA_PREFIX": f"plots-{label}-{round_number}/"}
                result = run_handler(tree, package, environment, events, endpoint)
                responses = [run["response"] for run in result["runs"]]
                assert all(r["taskInput"]["voltage"]["file"].startswith("s3://bench/plots-") for r in responses)
                times[label]["first"].append(result["runs"][0]["cpu"])
                times[label]["warm"].extend(run["cpu"] for run in result["runs"][1:])
                times[label]["wall"].extend(run["seconds"] for run in result["runs"][1:])
        written = s3.list_objects_v2(Bucket="bench", Prefix="plots-")["KeyCount"]
        assert written == 3 * items * rounds * len(trees), written
        return times
    finally:
        server.stop()


# -- 2. the parts --------------------------------------------------------------------------------------

def parts(previous: dict[str, tuple], rows: int, repeat: int) -> dict[str, list[float]]:
    """CPU seconds per item of each part, runs alternating; each run another CSV (another noise seed)."""
    csvs = [make_csv(rows, seed=200 + index) for index in range(repeat)]
    renderer, floor_lines = PlotRenderer(), BareLines()
    series = [parse_sensor_csv(csv, "bench") for csv in csvs]
    palettes = [Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
                for _, png, _ in renderer.render(series[0]).values()]
    new_frame = PlotRenderer()
    steps = {
        "parse: this tree": lambda i: parse_sensor_csv(csvs[i], "bench"),
        "parse: floor, pandas C parser (no checks)": lambda i: pandas_parse(csvs[i]),
        "draw + PNG: this tree, frame kept": lambda i: renderer.render(series[i]),
        "draw + PNG: this tree, frame not yet kept": lambda i: (
            [kept.clear() for kept in new_frame._frames.values()], new_frame.render(series[i])),
        "draw: floor, three line plots without text (Agg)": lambda i: floor_lines.draw(series[i]),
        "PNG: floor, three palette PNGs": lambda i: palette_pngs(palettes),
    }
    for label, (renderer_then, parse_then) in previous.items():
        steps[f"parse: {label}"] = lambda i, parse_then=parse_then: parse_then(csvs[i], "bench")
        steps[f"draw + PNG: {label}"] = lambda i, r=renderer_then: r.render(series[i])
    steps["seed: pandas + three default pyplot figures"] = lambda i: seed_baseline(csvs[i])
    for step in steps.values():  # warm every path (imports, fonts, figures, first frames)
        step(0)
    times = {label: [] for label in steps}
    for index in range(repeat):
        for label, step in steps.items():
            if label.startswith("seed") and index >= 3:
                continue  # ~1 s each: three runs show it
            times[label].append(cpu(step, index))
    return times


def same_pictures(renderer_then) -> tuple[int, int, int, float]:
    """Every sample run drawn by this tree and by ``renderer_then``: (images, images pixel-identical,
    largest difference of one channel of one pixel, share of pixels differing at all)."""
    ours, images, identical, largest, differing, pixels = PlotRenderer(), 0, 0, 0, 0, 0
    for csv in sorted((REPO / "sample_data" / "welding" / "sensor").glob("*.csv")):
        series = parse_sensor_csv(csv.read_bytes(), csv.name)
        now, then = ours.render(series), renderer_then.render(series)
        for key in now:
            a = np.asarray(Image.open(io.BytesIO(now[key][1])).convert("RGBA")).astype(int)
            b = np.asarray(Image.open(io.BytesIO(then[key][1])).convert("RGBA")).astype(int)
            images += 1
            identical += bool(np.array_equal(a, b))
            largest = max(largest, int(np.abs(a - b).max()))
            differing += int((a != b).any(axis=2).sum())
            pixels += a.shape[0] * a.shape[1]
    return images, identical, largest, differing / pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=16, help="items per container (the first is cold)")
    parser.add_argument("--rounds", type=int, default=3, help="containers per tree, alternating")
    parser.add_argument("--repeat", type=int, default=15, help="runs of each part")
    parser.add_argument("--previous", default=BEFORE_ISSUE_12, help="git revision compared with (whole handler)")
    parser.add_argument("--before-plots", default=BEFORE_ISSUE_10_PLOTS, help="an older revision (parts only)")
    args = parser.parse_args()
    load_start = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="bench-pre-labeling-"))
    try:
        previous_tree = previous_package(args.previous, folder)
        older_tree = previous_package(args.before_plots, folder)
        trees = {"this tree": (REPO / "lambda_src", "welding_pre_labeling"),
                 f"`{args.previous}`": (previous_tree[0], "welding_pre_labeling"),
                 "s3 floor": (s3_floor_tree(folder), "s3_requests_floor")}
        handler = whole_handler(trees, args.rows, args.items, args.rounds)
        previous = {f"`{args.previous}`": load_parts(*previous_tree),
                    f"`{args.before_plots}`": load_parts(*older_tree)}
        part = parts(previous, args.rows, args.repeat)
        pictures = same_pictures(previous[f"`{args.previous}`"][0])
    finally:
        shutil.rmtree(folder)
    million = make_high_rate_csv(1_000_000)
    renderer = PlotRenderer()
    million_parse, million_all = [], []
    for _ in range(5):  # alternating, so both see the same load
        million_parse.append(cpu(parse_sensor_csv, million, "bench"))
        million_all.append(cpu(lambda: renderer.render(parse_sensor_csv(million, "bench"))))
    load_end = os.getloadavg()

    ours, before = handler["this tree"], handler[f"`{args.previous}`"]
    floor = {name: min(part[name]) for name in ("parse: floor, pandas C parser (no checks)",
                                               "draw: floor, three line plots without text (Agg)",
                                               "PNG: floor, three palette PNGs")}
    s3_floor = handler["s3 floor"]
    floor_sum = sum(floor.values()) + min(s3_floor["warm"])
    warm_min, warm_median = min(ours["warm"]), statistics.median(ours["warm"])
    lines = [
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} shared cores, "
        f"load average {load_start[0]:.1f} at the start and {load_end[0]:.1f} at the end (other engineers' "
        f"work): every figure is CPU time of the measuring process (all its threads), min / median of the runs.",
        "",
        f"Command: `.venv/bin/python bench/bench_pre_labeling.py --rows {args.rows} --items {args.items} "
        f"--rounds {args.rounds} --repeat {args.repeat} --previous {args.previous} "
        f"--before-plots {args.before_plots}`",
        "",
        f"## Whole handler per item: {args.rows:,}-row CSV to three PNGs written to S3 (moto on 127.0.0.1)",
        "",
        f"{args.items} items per container (each another CSV, so every item parses, draws and writes), "
        f"{args.rounds} containers per tree, alternating. Requests per item: the dataset, the camera image's "
        "first and last bytes, one plot HEAD (none drawn yet), the CSV, three PUTs (in parallel in this tree).",
        "",
        "| code | warm item, CPU ms (min / median) | warm item, wall ms (median) | first item of a container, CPU ms (min) |",
        "| --- | --- | --- | --- |",
        f"| this tree | {ms(ours['warm'])} | {statistics.median(ours['wall']) * 1000:.1f} | "
        f"{min(ours['first']) * 1000:.0f} |",
        f"| `{args.previous}` (main before issue 12) | {ms(before['warm'])} | "
        f"{statistics.median(before['wall']) * 1000:.1f} | {min(before['first']) * 1000:.0f} |",
        f"| floor, S3: the same seven requests alone (one boto3 client, nothing else) | {ms(s3_floor['warm'])} | "
        f"{statistics.median(s3_floor['wall']) * 1000:.1f} | {min(s3_floor['first']) * 1000:.0f} |",
        f"| floor, whole: the S3 floor + pandas parse + three text-free line plots + three palette PNGs (mins) | "
        f"{floor_sum * 1000:.1f} | | |",
        "",
        f"This tree against `{args.previous}`: {statistics.median(before['warm']) / warm_median:.1f}x less CPU "
        f"per warm item (medians); target at most 40 ms per item: {warm_median * 1000:.1f} ms median, "
        f"{warm_min * 1000:.1f} ms min; {warm_min / floor_sum:.2f}x the floor (mins).",
        "",
        f"## Parts, per item ({args.repeat} runs each, alternating, each run another CSV; the seed 3 runs)",
        "",
        "| part | CPU ms (min / median) |",
        "| --- | --- |",
    ]
    lines += [f"| {label} | {ms(values)} |" for label, values in part.items()]
    images, identical, largest, share = pictures
    lines += [
        "",
        f"## The same pictures as `{args.previous}`",
        "",
        f"Every sample run's three plots drawn by both: {identical} of {images} images pixel-identical; in the "
        f"others {share:.4%} of all pixels differ, by at most {largest} of 255 in one channel (ranges snapped "
        "by under 1/16 px: a start position of 0.01 mm draws the frame of 0.00 mm).",
        "",
        f"## 1,000,000-row CSV ({len(million) / 1e6:.0f} MB: 100 s of a 10 kHz logger, headered), this tree",
        "",
        "| step | CPU seconds (min of 5, alternating) |",
        "| --- | --- |",
        f"| parse only | {min(million_parse):.2f} |",
        f"| parse + three plots (at most {2 * MAX_BUCKETS:,} points drawn each) | {min(million_all):.2f} |",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    (REPO / "bench" / "results" / "pre_labeling.md").write_text(
        "# Welding pre-labeling speed\n\nWritten by `bench/bench_pre_labeling.py`.\n\n" + report)


if __name__ == "__main__":
    main()
