"""Rendering the three sensor plots as PNG bytes, fast and bounded in time.

Uses matplotlib's object API on one reused Agg figure (no pyplot state, no per-plot figure
set-up), and draws at most ~2 points per horizontal pixel: longer series are reduced to a
min/max envelope per pixel column, which looks the same as drawing every point.
"""
from __future__ import annotations

import io
import os

os.environ.setdefault("MPLCONFIGDIR", "/tmp")  # Lambda's home is read-only

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from welding_pre_labeling.sensor_csv import SensorSeries  # noqa: E402

WIDTH_IN, HEIGHT_IN, DPI = 6.4, 2.6, 100
MAX_BUCKETS = int(WIDTH_IN * DPI)  # one min/max pair per pixel column

#: (taskInput key, series attribute, title with unit, y-axis label, colour)
PLOTS = (
    ("current", "current_a", "Welding current (A)", "Current (A)", "#c0392b"),
    ("electrode", "electrode_mm", "Electrode position (mm)", "Position (mm)", "#2c3e50"),
    ("voltage", "voltage_v", "Arc voltage (V)", "Voltage (V)", "#2471a3"),
)
TITLES = {key: title for key, _, title, _, _ in PLOTS}


def decimate(x: np.ndarray, y: np.ndarray, buckets: int = MAX_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """Min/max envelope: at most ``2 * buckets`` points that draw like the full series."""
    n = len(x)
    if n <= 2 * buckets:
        return x, y
    per = n // buckets
    usable = per * buckets
    y_cols = y[:usable].reshape(buckets, per)
    x_cols = x[:usable].reshape(buckets, per)
    out_x = np.repeat(x_cols[:, per // 2], 2)
    out_y = np.column_stack([y_cols.min(axis=1), y_cols.max(axis=1)]).ravel()
    return out_x, out_y


class PlotRenderer:
    """Three figures made once per Lambda container; each render only swaps the line's data.

    Re-creating axes, ticks and text per plot (or running a layout engine) costs more than
    drawing the data, so titles, labels and fixed margins are set once.
    """

    def __init__(self) -> None:
        self._plots = {}
        for key, attribute, title, y_label, colour in PLOTS:
            figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
            FigureCanvasAgg(figure)
            figure.subplots_adjust(left=0.11, right=0.98, bottom=0.19, top=0.88)
            axes = figure.add_subplot()
            (line,) = axes.plot([], [], color=colour, linewidth=0.9)
            axes.set_title(title)
            axes.set_xlabel("Time (s)")
            axes.set_ylabel(y_label)
            axes.grid(True, alpha=0.3)
            self._plots[key] = (attribute, title, figure, axes, line)

    def render(self, series: SensorSeries) -> dict[str, tuple[str, bytes, int]]:
        """``{key: (title, png bytes, points drawn)}`` for current, electrode and voltage."""
        rendered = {}
        for key, (attribute, title, figure, axes, line) in self._plots.items():
            x, y = decimate(series.seconds, getattr(series, attribute))
            line.set_data(x, y)
            axes.relim()
            axes.autoscale_view()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
            rendered[key] = (title, buffer.getvalue(), len(x))
        return rendered
