"""The welding procedure a job's runs are judged against, and the fixed frame every plot is drawn on.

This is the one place these numbers are written. The plots draw them (``plots.py``): each channel
on a fixed y-range shared by every run of the job, with the procedure's nominal window shaded
behind the trace, so a low current or a spike shows by where the trace sits, not by its tick
numbers. The sample-data generator (``scripts/generate_welding_data.py``) welds its good runs inside
these windows and its defects outside them, and the tests measure the sample data against them.
The worker instructions name no number: they refer to the shaded bands and the frame the plots show.

The procedure is a MAG weld on steel plate: about 150 A and 22 V, travelling along a 120 mm seam
at 4 mm/s. A job whose parts are welded to another procedure changes the values here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    low: float
    high: float

    @property
    def middle(self) -> float:
        return (self.low + self.high) / 2

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class Level:
    """A channel read by its level: the y-range every run is drawn on, and the nominal window."""

    axis: Span
    band: Span
    unit: str


#: Welding current: the arc's nominal window, drawn from 0 A (no arc) up to room for a burn-through's rise.
CURRENT = Level(axis=Span(0.0, 250.0), band=Span(140.0, 160.0), unit="A")
#: Arc voltage: 0 V is a short circuit; the top leaves room for the open-circuit voltage of a broken arc.
VOLTAGE = Level(axis=Span(0.0, 50.0), band=Span(20.0, 24.0), unit="V")
#: A broken arc: the power source's open-circuit voltage, well above any burning arc.
OPEN_CIRCUIT_V = 45.0

#: Travel: the torch's speed along the seam, its nominal window, and the seam's length.
NOMINAL_TRAVEL_MM_S = 4.0
TRAVEL_MM_S = Span(3.4, 4.6)
SEAM_MM = 120.0
#: The position plot's y-range, relative to where the run starts (the seam plus a margin either side).
TRAVEL_AXIS_MM = Span(-10.0, 140.0)
#: The time axis every run shares, from its first sample: a seam at the slowest nominal speed, and a
#: few seconds' dwell, fit; a longer run widens its own axis (its trace then ends at the right edge).
TIME_AXIS_S = Span(0.0, 40.0)
