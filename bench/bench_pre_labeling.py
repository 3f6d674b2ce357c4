"""Benchmark (not a test): welding pre-labeling per item against what the seed did.

    .venv/bin/python bench/bench_pre_labeling.py [--rows 20000] [--repeat 7] [--previous c9c9ac6]

Baseline, as the seed sample: `pandas.read_csv(header=None)` and three separate default
`matplotlib.pyplot` figures, each saved as PNG. Ours: the Lambda's own parsing and rendering
(`parse_sensor_csv` + `PlotRenderer.render`). Previous: the same two functions of the Lambda at git
revision ``--previous`` (by default the plots before issue 10's fixed frames), loaded beside ours.
All turn the same CSV bytes into three PNGs, in the same process and run, alternating, and the
medians are compared. A 1,000,000-row CSV through our path shows the decimation bound. Results go
to bench/results/pre_labeling.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import io
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

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from welding_pre_labeling.plots import HEIGHT_PX, MAX_BUCKETS, WIDTH_PX, PlotRenderer  # noqa: E402
from welding_pre_labeling.sensor_csv import parse_sensor_csv  # noqa: E402
from previous_code import lambda_tree  # noqa: E402

#: main when issue 10's plots were branched off it: autoscaled axes, 640x260 px, titled.
BEFORE_ISSUE_10_PLOTS = "c9c9ac6"


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


def ours(renderer: PlotRenderer, data: bytes, parse=parse_sensor_csv) -> list[bytes]:
    return [png for _, png, _ in renderer.render(parse(data, "s3://bench/run.csv")).values()]


def previous_pre_labeling(revision: str, folder: Path):
    """``(PlotRenderer(), parse_sensor_csv)`` of the welding Lambda at ``revision``, imported beside today's
    under another package name (its own modules refer to each other by that name)."""
    package = lambda_tree(revision, folder) / "welding_pre_labeling"
    alias = folder / "previous_welding_pre_labeling"
    shutil.copytree(package, alias)
    for module in alias.glob("*.py"):
        module.write_text(module.read_text().replace("welding_pre_labeling.", "previous_welding_pre_labeling."))
    sys.path.insert(0, str(folder))
    plots = importlib.import_module("previous_welding_pre_labeling.plots")
    parser = importlib.import_module("previous_welding_pre_labeling.sensor_csv")
    return plots.PlotRenderer(), parser.parse_sensor_csv


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--previous", default=BEFORE_ISSUE_10_PLOTS, help="git revision of the code compared with")
    args = parser.parse_args()
    load = os.getloadavg()[0]  # the machine is shared: the same-run comparison is what counts
    data = make_csv(args.rows)
    renderer = PlotRenderer()
    folder = tempfile.mkdtemp(prefix="bench-pre-labeling-")
    try:
        previous_renderer, previous_parse = previous_pre_labeling(args.previous, Path(folder))
        seed_baseline(data), ours(renderer, data), ours(previous_renderer, data, previous_parse)  # warm all three
        baseline, before, project = [], [], []
        for _ in range(args.repeat):
            baseline.append(timed(seed_baseline, data))
            before.append(timed(ours, previous_renderer, data, previous_parse))
            project.append(timed(ours, renderer, data))
    finally:
        shutil.rmtree(folder)
    base_s, before_s, ours_s = (statistics.median(times) for times in (baseline, before, project))
    previous_note = " (main before issue 10's plots: autoscaled, 640x260 px, titled)" \
        if args.previous == BEFORE_ISSUE_10_PLOTS else ""
    million = make_high_rate_csv(1_000_000)
    million_s = statistics.median(timed(ours, renderer, million) for _ in range(3))
    parse_s = statistics.median(timed(parse_sensor_csv, million, "s3://bench/run.csv") for _ in range(3))
    report = "\n".join([
        f"## Per item, {args.rows:,}-row CSV -> three PNGs ({datetime.date.today()}, {os.cpu_count()} cores, "
        f"load {load:.1f} at start, {args.repeat} alternating runs, medians)",
        "",
        "| path | seconds per item |",
        "| --- | --- |",
        f"| seed baseline: `pandas.read_csv` + three default pyplot figures | {base_s:.3f} |",
        f"| the code at `{args.previous}`{previous_note} | {before_s:.3f} |",
        f"| this project: numpy parse + three persistent Agg figures ({WIDTH_PX}x{HEIGHT_PX} px, fixed frames and "
        f"nominal bands) + min/max decimation | {ours_s:.3f} |",
        f"| speed-up over the seed (target at least 3x) | {base_s / ours_s:.1f}x |",
        f"| this project against `{args.previous}` (target: not slower) | {before_s / ours_s:.2f}x |",
        "",
        f"## 1,000,000-row CSV ({len(million) / 1e6:.0f} MB: 100 s of a 10 kHz logger, headered), this project's path",
        "",
        "| step | seconds |",
        "| --- | --- |",
        f"| parse only | {parse_s:.2f} |",
        f"| parse + three plots (at most {2 * MAX_BUCKETS:,} points drawn each) | {million_s:.2f} |",
        "",
    ])
    print(report)
    (REPO / "bench" / "results" / "pre_labeling.md").write_text(
        "# Welding pre-labeling speed\n\nWritten by `bench/bench_pre_labeling.py`.\n\n" + report)


if __name__ == "__main__":
    main()
