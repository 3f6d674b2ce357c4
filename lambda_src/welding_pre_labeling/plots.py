"""Rendering the three sensor plots as PNG bytes, on a frame every run of the job shares.

Each channel is drawn on the fixed range of ``procedure`` with the procedure's nominal window
shaded behind the trace, so an engineer reads a run by where its trace sits: inside the band,
below it, leaving it in one stretch or everywhere. The position plot shows travel speed as a
slope: the trace against a shaded wedge of the nominal speeds (dashed: the nominal speed), and the
run's mean speed written in its corner. Time runs from the run's first sample, in seconds, on one
axis for every run, so a short (fast) run ends early and a dwell lengthens the trace. Values
outside a fixed range widen that plot's range instead of being cut off: nothing is hidden.

Each PNG is drawn at the pixel size the worker page shows it at (``WIDTH_PX`` x ``HEIGHT_PX``,
the plot images' ``width``/``height`` in ``ui_templates/welding.liquid.html``), with tick labels
of about 12 px. Titles are the page's captions, not drawn in the image.

Uses matplotlib's object API on one reused Agg figure per plot (no pyplot state, no per-plot
figure set-up, no layout engine), and draws at most ~2 points per horizontal pixel: longer series
are reduced to a min/max envelope per pixel column, which looks the same as drawing every point.

Axes, ticks, labels, grid, band and wedge (the frame) cost most of a drawing and are the same for
every run drawn on the same ranges, so a frame is drawn once per container and kept as pixels;
each run restores it and draws only what is its own on top (trace, spines, speed text), in the
order a whole-figure draw uses, so the pixels equal a whole draw's. Ranges are snapped to 1/16 to
1/8 of a pixel (``snapped``) so that runs whose frames differ by less than a human could see share
one kept frame.
"""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass, replace

os.environ.setdefault("MPLCONFIGDIR", "/tmp")  # Lambda's home is read-only

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from welding_pre_labeling.procedure import (  # noqa: E402
    CURRENT, NOMINAL_TRAVEL_MM_S, TIME_AXIS_S, TRAVEL_AXIS_MM, TRAVEL_MM_S, VOLTAGE, Span,
)
from welding_pre_labeling.png import encode_png  # noqa: E402
from welding_pre_labeling.sensor_csv import SensorSeries  # noqa: E402

#: The size each plot is shown at on the worker page, in CSS pixels; drawn 1:1.
WIDTH_PX, HEIGHT_PX, DPI = 420, 180, 100
FONT_PT = 8.5  # ~12 px at 100 dpi
MAX_BUCKETS = WIDTH_PX  # one min/max pair per pixel column
BAND_COLOUR = "#cdebd3"  # the procedure's nominal window, behind every trace
MARGIN_PX = {"left": 56, "right": 12, "bottom": 34, "top": 10}
AXES_PX = (WIDTH_PX - MARGIN_PX["left"] - MARGIN_PX["right"], HEIGHT_PX - MARGIN_PX["bottom"] - MARGIN_PX["top"])
SNAP_PER_PX = 8  # ranges snap to a power of two between 1/16 and 1/8 of a pixel: no one sees the shift
KEPT_FRAMES = 32  # frames kept per plot (each ~300 kB of pixels): the newest ranges a container drew


@dataclass(frozen=True)
class Plot:
    key: str  # the taskInput key and the PNG's file name
    attribute: str  # the SensorSeries field drawn
    title: str  # shown by the page as the plot's caption
    y_label: str
    colour: str


PLOTS = (
    Plot("current", "current_a", "Welding current (A)", "Current (A)", "#c0392b"),
    Plot("electrode", "electrode_mm", "Electrode position (mm)", "Position (mm)", "#2c3e50"),
    Plot("voltage", "voltage_v", "Arc voltage (V)", "Voltage (V)", "#2471a3"),
)
TITLES = {plot.key: plot.title for plot in PLOTS}
LEVELS = {"current": CURRENT, "voltage": VOLTAGE}


@dataclass(frozen=True)
class Frame:
    """What one plot of one run is drawn on: its axis ranges, and for position the travel reference."""

    x: tuple[float, float]
    y: tuple[float, float]
    start_mm: float = 0.0  # position: where the nominal-speed wedge starts
    direction: float = 1.0  # position: +1 travelling towards higher positions, -1 towards lower
    speed_mm_s: float | None = None  # position: the run's mean travel speed (None for a run of one instant)


def decimate(x: np.ndarray, y: np.ndarray, buckets: int = MAX_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """Min/max envelope: at most ``2 * buckets`` points that draw like the full series, every row counted
    (the last bucket is padded with the last row, which leaves its min and max as they are)."""
    n = len(x)
    if n <= 2 * buckets:
        return x, y
    per = -(-n // buckets)  # rows per bucket, rounded up: the buckets cover the whole series
    columns = -(-n // per)
    pad = columns * per - n
    if pad:
        x = np.concatenate([x, np.repeat(x[-1:], pad)])
        y = np.concatenate([y, np.repeat(y[-1:], pad)])
    y_cols = y.reshape(columns, per)
    x_cols = x.reshape(columns, per)
    out_x = np.repeat(x_cols[:, per // 2], 2)
    out_y = np.column_stack([y_cols.min(axis=1), y_cols.max(axis=1)]).ravel()
    return out_x, out_y


def compact(value: float, _position=None) -> str:
    """A tick label that fits the fixed margin: 12500 as 12.5k."""
    return f"{value:g}" if abs(value) < 10_000 else f"{value / 1000:g}k"


def elapsed_seconds(series: SensorSeries) -> np.ndarray:
    """Time from the run's first sample: every run starts at 0 on the shared axis."""
    return series.seconds - series.seconds[0]


def _covering(fixed: Span, values: np.ndarray) -> tuple[float, float]:
    """The fixed range, widened (with a margin on the widened side) only as far as values leave it."""
    low, high = float(values.min()), float(values.max())
    if low >= fixed.low and high <= fixed.high:
        return fixed.low, fixed.high
    bottom, top = min(fixed.low, low), max(fixed.high, high)
    margin = 0.04 * (top - bottom)
    return bottom - (margin if low < fixed.low else 0.0), top + (margin if high > fixed.high else 0.0)


def frame(plot: Plot, series: SensorSeries, elapsed: np.ndarray) -> Frame:
    """The axis ranges of ``plot`` for this run: the job's fixed frame unless the run leaves it."""
    values = getattr(series, plot.attribute)
    x = (TIME_AXIS_S.low, max(TIME_AXIS_S.high, float(elapsed[-1])))
    if plot.key in LEVELS:
        return Frame(x=x, y=_covering(LEVELS[plot.key].axis, values))
    start = float(values[0])
    direction = 1.0 if values[-1] >= start else -1.0
    fixed = Span(start + TRAVEL_AXIS_MM.low, start + TRAVEL_AXIS_MM.high) if direction > 0 else \
        Span(start - TRAVEL_AXIS_MM.high, start - TRAVEL_AXIS_MM.low)
    duration = float(elapsed[-1])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        speed = float(values[-1] - start) / duration if duration > 0 else None
    if speed is not None and not np.isfinite(speed):
        speed = None
    return Frame(x=x, y=_covering(fixed, values), start_mm=start, direction=direction, speed_mm_s=speed)


def speed_text(speed: float | None) -> str:
    if speed is None:
        return ""
    return f"mean travel {abs(speed):.1f} mm/s" if abs(speed) < 1000 else f"mean travel {abs(speed):.3g} mm/s"


def _snap_step(extent: float, pixels: int) -> float:
    """The power of two in (1/16, 1/8] of one pixel of an axis ``extent`` data units long."""
    return 2.0 ** math.floor(math.log2(extent / pixels / SNAP_PER_PX))


def _snap(value: float, step: float) -> float:
    return round(value / step) * step  # exact: a power-of-two step leaves multiples of it exact floats


def snapped(shape: Frame) -> Frame:
    """``shape`` with its ranges (and the wedge's start) on a grid finer than 1/8 pixel, shifting nothing
    by more than 1/16 pixel. A whole-unit range (the procedure's fixed frames) is already on the grid and
    stays exactly as it is; the run's mean speed is its own and is not touched."""
    x_step = _snap_step(shape.x[1] - shape.x[0], AXES_PX[0])
    y_step = _snap_step(shape.y[1] - shape.y[0], AXES_PX[1])
    return replace(shape, x=(_snap(shape.x[0], x_step), _snap(shape.x[1], x_step)),
                   y=(_snap(shape.y[0], y_step), _snap(shape.y[1], y_step)), start_mm=_snap(shape.start_mm, y_step))


class PlotRenderer:
    """Three figures made once per Lambda container; each render only swaps data and ranges.

    Re-creating axes, ticks and text per plot (or running a layout engine) costs more than
    drawing the data, so labels, bands and fixed margins are set once, and each set of ranges'
    frame is drawn once and kept as pixels (at most ``KEPT_FRAMES`` per plot, newest kept).
    What a run draws itself is marked animated: a frame drawn with ``canvas.draw()`` leaves it out.
    """

    def __init__(self, kept_frames: int = KEPT_FRAMES) -> None:
        self._kept_frames = kept_frames
        self._frames: dict[str, OrderedDict] = {plot.key: OrderedDict() for plot in PLOTS}
        self._figures = {}
        for plot in PLOTS:
            figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
            FigureCanvasAgg(figure)
            figure.subplots_adjust(left=MARGIN_PX["left"] / WIDTH_PX, right=1 - MARGIN_PX["right"] / WIDTH_PX,
                                   bottom=MARGIN_PX["bottom"] / HEIGHT_PX, top=1 - MARGIN_PX["top"] / HEIGHT_PX)
            axes = figure.add_subplot()
            axes.tick_params(labelsize=FONT_PT, length=3, pad=2)
            axes.yaxis.set_major_formatter(FuncFormatter(compact))  # no offset text, no label wider than the margin
            axes.set_xlabel("Time (s)", fontsize=FONT_PT, labelpad=1)
            axes.set_ylabel(plot.y_label, fontsize=FONT_PT, labelpad=2)
            axes.grid(True, color="#000000", alpha=0.12, linewidth=0.6)
            axes.set_axisbelow(True)
            parts = {"axes": axes}
            if plot.key in LEVELS:
                band = LEVELS[plot.key].band
                axes.axhspan(band.low, band.high, color=BAND_COLOUR, linewidth=0, zorder=0.5)
            else:
                (parts["wedge"],) = axes.fill([0, 0, 0], [0, 0, 0], color=BAND_COLOUR, linewidth=0, zorder=0.5)
                (parts["nominal"],) = axes.plot([], [], color="#5d6d7e", linewidth=0.8, linestyle=(0, (4, 3)))
                parts["speed"] = axes.text(0.985, 0.05, "", transform=axes.transAxes, ha="right", va="bottom",
                                           fontsize=FONT_PT, color=plot.colour)
            (parts["line"],) = axes.plot([], [], color=plot.colour, linewidth=1.0)
            # Drawn per run above the kept frame, in a whole draw's z-order: trace (2), spines (2.5), text (3).
            parts["own"] = [parts["line"], *axes.spines.values()] + ([parts["speed"]] if "speed" in parts else [])
            for artist in parts["own"]:
                artist.set_animated(True)
            self._figures[plot.key] = (plot, figure, parts)

    def render(self, series: SensorSeries) -> dict[str, tuple[str, bytes, int]]:
        """``{key: (title, png bytes, points drawn)}`` for current, electrode and voltage."""
        elapsed = elapsed_seconds(series)
        rendered = {}
        for key, (plot, figure, parts) in self._figures.items():
            shape = frame(plot, series, elapsed)
            x, y = decimate(elapsed, getattr(series, plot.attribute))
            self._draw_frame(key, figure, parts, snapped(shape))
            parts["line"].set_data(x, y)
            if "speed" in parts:
                self._speed_text(parts["speed"], shape)
            for artist in parts["own"]:
                parts["axes"].draw_artist(artist)
            rendered[key] = (plot.title, encode_png(figure.canvas.buffer_rgba()), len(x))
        return rendered

    def _draw_frame(self, key: str, figure: Figure, parts: dict, shape: Frame) -> None:
        """Put the frame of ``shape`` on the canvas: the kept pixels, or drawn now and kept."""
        axes = parts["axes"]
        if axes.get_xlim() != shape.x or axes.get_ylim() != shape.y:  # setting limits costs even when unchanged
            axes.set_xlim(*shape.x)  # the trace is drawn through these limits, kept frame or not
            axes.set_ylim(*shape.y)
        frame_key = (shape.x, shape.y, shape.start_mm, shape.direction) if "wedge" in parts else (shape.x, shape.y)
        kept = self._frames[key]
        background = kept.get(frame_key)
        if background is not None:
            kept.move_to_end(frame_key)
            figure.canvas.restore_region(background)
            return
        if "wedge" in parts:
            self._travel_reference(parts, shape)
        figure.canvas.draw()  # everything but the animated artists
        kept[frame_key] = figure.canvas.copy_from_bbox(figure.bbox)
        if len(kept) > self._kept_frames:
            kept.popitem(last=False)

    @staticmethod
    def _travel_reference(parts: dict, shape: Frame) -> None:
        """The wedge of nominal travel speeds and the nominal line, from the run's start to the axis end."""
        end = shape.x[1]
        reach = lambda speed: shape.start_mm + shape.direction * speed * end  # noqa: E731
        parts["wedge"].set_xy([(0.0, shape.start_mm), (end, reach(TRAVEL_MM_S.high)), (end, reach(TRAVEL_MM_S.low))])
        parts["nominal"].set_data([0.0, end], [shape.start_mm, reach(NOMINAL_TRAVEL_MM_S)])

    @staticmethod
    def _speed_text(text, shape: Frame) -> None:
        """The run's mean speed, in the corner the trace leaves free (bottom when travelling up)."""
        text.set_text(speed_text(shape.speed_mm_s))
        text.set_y(0.05 if shape.direction > 0 else 0.95)
        text.set_verticalalignment("bottom" if shape.direction > 0 else "top")
