"""Kept plot frames: a run drawn on a frame kept from an earlier run is the image a fresh container
draws, pixel for pixel and byte for byte; ranges snap by less than a pixel and runs share a frame."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import workflows
from welding_pre_labeling.plots import AXES_PX, PLOTS, Frame, PlotRenderer, elapsed_seconds, frame, snapped
from welding_pre_labeling.sensor_csv import SensorSeries, parse_sensor_csv

REPO = Path(__file__).resolve().parent.parent
SAMPLE = workflows.definition("welding").sample_data_dir / "sensor"
RUNS = sorted(SAMPLE.glob("*.csv"))
#: The sample runs' frames are the procedure's; this run leaves them (a spike, a long run starting at 500 mm).
WIDENED_CSV = "".join(f"{t},{500 + t * 0.35:.2f},{1500 if t == 300 else 150},22.0\n" for t in range(600)).encode()

_FRESH = """
import json, sys
from pathlib import Path
from welding_pre_labeling.plots import PlotRenderer
from welding_pre_labeling.sensor_csv import parse_sensor_csv
rendered = PlotRenderer().render(parse_sensor_csv(Path(sys.argv[1]).read_bytes(), "fresh"))
Path(sys.argv[2]).write_text(json.dumps({key: png.hex() for key, (_, png, _) in rendered.items()}))
"""


def fresh_process_pngs(csv: bytes, tmp_path: Path) -> dict[str, bytes]:
    """The three PNGs of ``csv`` drawn by a new process's first renderer: no frame kept from anything."""
    source, out = tmp_path / "run.csv", tmp_path / "out.json"
    source.write_bytes(csv)
    subprocess.run([sys.executable, "-c", _FRESH, str(source), str(out)], check=True, cwd=tmp_path,
                   env={"PYTHONPATH": f"{REPO / 'lambda_src'}", "MPLCONFIGDIR": str(tmp_path / "mpl"),
                        "PATH": "/usr/bin:/bin"})
    return {key: bytes.fromhex(value) for key, value in json.loads(out.read_text()).items()}


def pngs(renderer: PlotRenderer, csv: bytes) -> dict[str, bytes]:
    return {key: png for key, (_, png, _) in renderer.render(parse_sensor_csv(csv, "test")).items()}


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_a_kept_frame_never_carries_one_run_into_the_next(tmp_path):
    """Runs of other classes, and a run on other (widened) ranges, drawn first in the same renderer: the
    last run's images are exactly those a fresh process draws for it alone."""
    renderer = PlotRenderer()
    last = RUNS[0].read_bytes()
    for earlier in (RUNS[3].read_bytes(), WIDENED_CSV, RUNS[5].read_bytes()):
        pngs(renderer, earlier)
    again = pngs(renderer, last)
    fresh = fresh_process_pngs(last, tmp_path)
    assert again.keys() == fresh.keys() == {plot.key for plot in PLOTS}
    for key in fresh:
        assert np.array_equal(pixels(again[key]), pixels(fresh[key])), key
        assert again[key] == fresh[key], key
    # ...and the widened run, drawn after the sample runs (its frame kept from the first time), likewise.
    assert pngs(renderer, WIDENED_CSV) == fresh_process_pngs(WIDENED_CSV, tmp_path)


def test_a_kept_frame_and_the_runs_own_drawing_equal_a_whole_figure_draw():
    """What ``render`` returns is what matplotlib draws for the whole figure (trace, spines and text included)."""
    renderer = PlotRenderer()
    for csv in (RUNS[0], RUNS[7]):
        rendered = pngs(renderer, csv.read_bytes())
        for key, (_, figure, _) in renderer._figures.items():
            whole = io.BytesIO()
            figure.savefig(whole, format="png")  # draws every artist, animated ones included
            assert np.array_equal(pixels(rendered[key]), pixels(whole.getvalue())), (csv.name, key)


def test_the_sample_runs_share_one_frame_per_plot_and_the_kept_frames_are_bounded():
    renderer = PlotRenderer(kept_frames=2)
    for csv in RUNS:
        pngs(renderer, csv.read_bytes())
    assert {key: len(kept) for key, kept in renderer._frames.items()} == {plot.key: 1 for plot in PLOTS}
    for start in (100, 200, 300):  # three other position frames: the oldest is let go
        pngs(renderer, "".join(f"{t},{start + t * 0.4:.2f},150,22\n" for t in range(300)).encode())
    assert len(renderer._frames["electrode"]) == 2


@pytest.mark.parametrize("x, y", [((0.0, 40.0), (0.0, 250.0)), ((0.0, 40.0), (-10.0, 140.0)), ((0.0, 40.0), (0.0, 50.0))])
def test_the_procedures_frames_are_not_moved(x, y):
    shape = Frame(x=x, y=y)
    assert snapped(shape) == shape


def test_snapping_moves_nothing_by_more_than_a_sixteenth_of_a_pixel():
    rng = np.random.default_rng(3)
    for _ in range(500):
        rows = int(rng.integers(2, 2000))
        seconds = np.cumsum(rng.uniform(0.01, 0.5, rows))
        position = rng.uniform(-500, 500) + np.cumsum(rng.normal(0.4, 0.3, rows))
        series = SensorSeries(seconds, position, rng.normal(150, 40, rows), rng.normal(22, 5, rows))
        for plot in PLOTS:
            shape = frame(plot, series, elapsed_seconds(series))
            moved = snapped(shape)
            x_px = (shape.x[1] - shape.x[0]) / AXES_PX[0]
            y_px = (shape.y[1] - shape.y[0]) / AXES_PX[1]
            assert max(abs(a - b) for a, b in zip(moved.x, shape.x)) <= x_px / 16
            assert max(abs(a - b) for a, b in zip(moved.y, shape.y)) <= y_px / 16
            assert abs(moved.start_mm - shape.start_mm) <= y_px / 16
            assert moved.speed_mm_s == shape.speed_mm_s and moved.direction == shape.direction
