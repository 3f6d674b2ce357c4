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
    """One figure reused for every plot of every invocation in this Lambda container."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.add_subplot()

    def render(self, series: SensorSeries) -> dict[str, tuple[str, bytes, int]]:
        """``{key: (title, png bytes, points drawn)}`` for current, electrode and voltage."""
        rendered = {}
        for key, attribute, title, y_label, colour in PLOTS:
            x, y = decimate(series.seconds, getattr(series, attribute))
            self.axes.clear()
            self.axes.plot(x, y, color=colour, linewidth=0.9)
            self.axes.set_title(title)
            self.axes.set_xlabel("Time (s)")
            self.axes.set_ylabel(y_label)
            self.axes.grid(True, alpha=0.3)
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
            rendered[key] = (title, buffer.getvalue(), len(x))
        return rendered
