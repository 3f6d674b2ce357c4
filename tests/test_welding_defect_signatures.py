"""The per-class differences the worker instructions name are in the welding sample data.

Every CSV is parsed by the pre-labeling Lambda's own parser and measured against the welding
procedure the plots draw (``welding_pre_labeling.procedure``: the shaded bands, the travel wedge,
the shared time axis): the committed sample data, and the CSVs the generator writes from other
seeds (so a signature that only one lucky draw shows fails here). What the instructions
(ui_templates/welding.liquid.html) tell a worker to look for in a class is present in every run of
that class, and absent from the runs of the classes the instructions contrast it with; the
instructions themselves state no number, so these measurements and the plots share one source.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import workflows
from welding_pre_labeling.plots import elapsed_seconds
from welding_pre_labeling.procedure import (
    CURRENT, NOMINAL_TRAVEL_MM_S, SEAM_MM, TRAVEL_MM_S, VOLTAGE, Level,
)
from welding_pre_labeling.sensor_csv import SensorSeries, parse_sensor_csv

from tests.test_welding_sample_data import load_generator

WELDING = workflows.definition("welding")
[QUESTION] = WELDING.questions
DATA = WELDING.sample_data_dir
IN_BAND = 0.99  # "inside the band": all but the odd ripple
LOCAL_STRETCH = 0.3  # "one stretch of the run": its disturbances lie within this share of the run's time
PARTS = 5  # "over the whole run": disturbed in every fifth of it
DWELL_S = 2.0  # "the position line goes flat": the torch covers under a tenth of the nominal speed this long


OTHER_SEEDS = (1, 2, 3)  # the generator's output besides the committed sample (which uses its default seed)


def runs(data: Path = DATA) -> list[tuple[str, str, SensorSeries]]:
    """``[(class, CSV name, series)]`` of a generated data set, its classes read from its truth.json."""
    truth = json.loads((data / "truth.json").read_text())
    out = []
    for dataset, answer in truth.items():
        csv = data / "sensor" / f"run-{dataset.removeprefix('dataset-')}.csv"
        out.append((answer[QUESTION.name], csv.name, parse_sensor_csv(csv.read_bytes(), str(csv))))
    return out


RUNS = runs()


@pytest.fixture(scope="module", params=OTHER_SEEDS, ids=[f"seed-{seed}" for seed in OTHER_SEEDS])
def generated(request, tmp_path_factory) -> list[tuple[str, str, SensorSeries]]:
    """The runs the generator writes from another seed, read back from its CSVs."""
    out = tmp_path_factory.mktemp(f"welding-seed-{request.param}")
    load_generator().generate(out, seed=request.param)
    return runs(out)


# -- measurements, in the terms the instructions use ------------------------------------------------
def in_band_share(values: np.ndarray, level: Level) -> float:
    return float(((values >= level.band.low) & (values <= level.band.high)).mean())


def spikes(values: np.ndarray, level: Level) -> np.ndarray:
    """Samples that jump away from the trace's level around them (its 1 s running median) by more than
    the band's width, i.e. out of the band from its middle: the spikes and dips a worker sees, whatever
    level the trace sits at (a steady arc's ripple stays well inside half the band)."""
    padded = np.pad(values, 5, mode="edge")
    local = np.median(sliding_window_view(padded, 11), axis=1)
    return np.abs(values - local) > level.band.width


def travel_speed(series: SensorSeries) -> float:
    return float((series.electrode_mm[-1] - series.electrode_mm[0]) / elapsed_seconds(series)[-1])


def dwell(series: SensorSeries) -> tuple[float, float] | None:
    """The longest stretch of at least DWELL_S where the torch moves under a tenth of the nominal speed."""
    t, position = elapsed_seconds(series), series.electrode_mm
    ahead = np.searchsorted(t, t + 1.0)  # speed over the next second
    valid = ahead < len(t)
    slow = np.zeros(len(t), dtype=bool)
    slow[valid] = (position[ahead[valid]] - position[valid]) / (t[ahead[valid]] - t[valid]) < 0.1 * NOMINAL_TRAVEL_MM_S
    best, start = None, None
    for index, flag in enumerate(np.append(slow, False)):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            # The last slow window starts about a second before the torch moves off.
            stretch = (float(t[start]), float(t[index - 1]) + 1.0)
            if stretch[1] - stretch[0] >= DWELL_S and (best is None or stretch[1] - stretch[0] > best[1] - best[0]):
                best = stretch
            start = None
    return best


def arc_breaks(series: SensorSeries) -> np.ndarray:
    """Times the arc is out: current near zero while the voltage is far above its band (open circuit)."""
    out = (series.current_a < 0.1 * CURRENT.band.low) & (series.voltage_v > VOLTAGE.band.high + 3 * VOLTAGE.band.width)
    return elapsed_seconds(series)[out]


@dataclass(frozen=True)
class Signature:
    in_bands: bool  # current and voltage steady inside their bands
    dwell: bool
    arc_break: bool
    disturbance: str  # "none", "local" (one stretch) or "global" (every part of the run)
    low_heat: bool  # current and voltage below their bands
    travel: str  # "slow", "normal" or "fast" against the wedge
    short_run: bool  # ends before half the nominal time of the seam


def disturbance(series: SensorSeries) -> str:
    t = elapsed_seconds(series)
    hit = spikes(series.current_a, CURRENT) | spikes(series.voltage_v, VOLTAGE)
    if hit.sum() < 3:
        return "none"
    parts = np.minimum((t / t[-1] * PARTS).astype(int), PARTS - 1)
    if len(set(parts[hit])) == PARTS:
        return "global"
    times = t[hit]
    return "local" if times[-1] - times[0] <= LOCAL_STRETCH * t[-1] else "scattered"


def signature(series: SensorSeries) -> Signature:
    speed = travel_speed(series)
    return Signature(
        in_bands=min(in_band_share(series.current_a, CURRENT), in_band_share(series.voltage_v, VOLTAGE)) >= IN_BAND,
        dwell=dwell(series) is not None,
        arc_break=arc_breaks(series).size > 0,
        disturbance=disturbance(series),
        low_heat=series.current_a.mean() < CURRENT.band.low and series.voltage_v.mean() < VOLTAGE.band.low,
        travel="slow" if speed < TRAVEL_MM_S.low else "fast" if speed > TRAVEL_MM_S.high else "normal",
        short_run=elapsed_seconds(series)[-1] < 0.5 * SEAM_MM / NOMINAL_TRAVEL_MM_S,
    )


#: What the instructions' "Plots:" paragraph says of each class; None: the instructions say nothing
#: either way (a burn-through's climbing current and broken arc disturb its trace; its dwell slows it).
EXPECTED = {
    "Good Weld": dict(in_bands=True, dwell=False, arc_break=False, disturbance="none", low_heat=False,
                      travel="normal", short_run=False),
    "Burn Through": dict(in_bands=False, dwell=True, arc_break=True, disturbance=None, low_heat=False,
                         travel=None, short_run=False),
    "Contamination": dict(in_bands=False, dwell=False, arc_break=False, disturbance="local", low_heat=False,
                          travel="normal", short_run=False),
    "Lack of Fusion": dict(in_bands=False, dwell=False, arc_break=False, disturbance="none", low_heat=True,
                           travel="normal", short_run=False),
    "Lack of Shielding Gas": dict(in_bands=False, dwell=False, arc_break=False, disturbance="global",
                                  low_heat=False, travel="normal", short_run=False),
    "High Travel Speed": dict(in_bands=True, dwell=False, arc_break=False, disturbance="none", low_heat=False,
                              travel="fast", short_run=True),
}


def test_every_class_of_the_definition_has_an_expected_signature_and_sample_runs():
    classes = [choice for choice in QUESTION.choices if choice != QUESTION.abstain]
    assert list(EXPECTED) == classes
    assert {kind for kind, _, _ in RUNS} == set(classes)


def differences(kind: str, series: SensorSeries) -> dict[str, tuple]:
    """``{measurement: (measured, expected)}`` where the run differs from what the instructions say of its class."""
    measured = signature(series)
    return {key: (getattr(measured, key), value) for key, value in EXPECTED[kind].items()
            if value is not None and getattr(measured, key) != value}


@pytest.mark.parametrize("kind, name, series", RUNS, ids=[f"{name}-{kind}" for kind, name, _ in RUNS])
def test_each_run_shows_what_the_instructions_say_of_its_class(kind, name, series):
    assert differences(kind, series) == {}


def test_the_generator_writes_every_class_as_the_instructions_say_from_any_seed(generated):
    assert {kind for kind, _, _ in generated} == set(EXPECTED)
    wrong = {f"{name} ({kind})": found for kind, name, series in generated if (found := differences(kind, series))}
    assert wrong == {}


# -- the finer points the instructions make --------------------------------------------------------
def of(kind: str) -> list[SensorSeries]:
    return [series for k, _, series in RUNS if k == kind]


@pytest.mark.parametrize("series", of("Burn Through"))
def test_burn_through_dwells_with_high_current_then_the_arc_breaks(series):
    t = elapsed_seconds(series)
    start, end = dwell(series)
    breaks = arc_breaks(series)
    assert start + DWELL_S <= breaks[0] <= end + 0.5  # the arc breaks after the torch has dwelled, at its end
    before = (t >= start - 2) & (t < start)
    during = (t >= start) & (t < breaks[0])  # dwelling with the arc still burning
    assert series.current_a[before].mean() > CURRENT.band.high  # current has risen above its band
    assert series.current_a[during].mean() >= series.current_a[before].mean()  # stays high or keeps climbing
    assert breaks[-1] - breaks[0] < 2.0  # for a moment
    after = t > breaks[-1] + 0.5
    assert (series.electrode_mm[after][-1] - series.electrode_mm[after][0]) > 0.5 * NOMINAL_TRAVEL_MM_S * (
        t[after][-1] - t[after][0])  # and the weld goes on


@pytest.mark.parametrize("series", of("Contamination"))
def test_contamination_is_steady_inside_the_bands_outside_its_stretch(series):
    t = elapsed_seconds(series)
    hit = spikes(series.current_a, CURRENT) | spikes(series.voltage_v, VOLTAGE)
    outside = (t < t[hit][0] - 0.5) | (t > t[hit][-1] + 0.5)
    assert outside.mean() > 1 - LOCAL_STRETCH - 0.05
    assert in_band_share(series.current_a[outside], CURRENT) >= IN_BAND
    assert in_band_share(series.voltage_v[outside], VOLTAGE) >= IN_BAND
    inside = ~outside
    assert in_band_share(series.voltage_v[inside], VOLTAGE) < 0.9  # out of its band in the stretch


@pytest.mark.parametrize("series", of("Lack of Shielding Gas"))
def test_no_shielding_gas_leaves_the_bands_in_every_part_of_the_run(series):
    t = elapsed_seconds(series)
    parts = np.minimum((t / t[-1] * PARTS).astype(int), PARTS - 1)
    for part in range(PARTS):
        here = parts == part
        assert in_band_share(series.current_a[here], CURRENT) < 0.8
        assert in_band_share(series.voltage_v[here], VOLTAGE) < 0.8


def test_high_travel_speed_is_steeper_over_a_shorter_time_than_a_good_weld():
    good, fast = of("Good Weld"), of("High Travel Speed")
    assert min(map(travel_speed, fast)) > 2 * max(map(travel_speed, good))
    assert max(elapsed_seconds(s)[-1] for s in fast) < 0.5 * min(elapsed_seconds(s)[-1] for s in good)


def test_good_welds_cover_the_seam_at_the_nominal_speed():
    for series in of("Good Weld"):
        travelled = series.electrode_mm[-1] - series.electrode_mm[0]
        assert travelled == pytest.approx(SEAM_MM, abs=2)
        assert SEAM_MM / TRAVEL_MM_S.high <= elapsed_seconds(series)[-1] <= SEAM_MM / TRAVEL_MM_S.low


# -- the instructions: qualitative, so the plots' bands are their only numbers -----------------------
class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside, self.text = [], {"full-instructions": [], "short-instructions": []}

    def handle_starttag(self, tag, attrs):
        self.inside.append(tag)

    def handle_endtag(self, tag):
        while self.inside and self.inside.pop() != tag:
            pass

    def handle_data(self, data):
        for region in self.text:
            if region in self.inside:
                self.text[region].append(data)


def test_the_instructions_state_no_number_and_describe_the_plots_bands():
    parser = _Text()
    parser.feed(WELDING.template_path.read_text(encoding="utf-8"))
    for region, chunks in parser.text.items():
        text = " ".join(" ".join(chunks).split())
        assert text, region
        assert not re.search(r"\d", text), f"{region} states a number: the procedure's values live in procedure.py"
        assert "band" in text and "wedge" in text, region  # what the plots draw behind the traces
