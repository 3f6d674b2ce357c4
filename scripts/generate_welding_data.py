#!/usr/bin/env python3
"""Generate the welding sample data, deterministically: `python scripts/generate_welding_data.py [--out DIR]`.

Each run is a camera-like JPEG of the bead and a header-less sensor CSV in the seed's layout:
time (units of 100 ms), electrode position along the seam (mm), current (A), voltage (V), wire
feed speed (m/min, ignored by readers). The welding procedure (nominal current, voltage and
travel-speed windows, seam length) is the one the plots draw as shaded bands,
``lambda_src/welding_pre_labeling/procedure.py``: good runs are welded inside it, and each defect
leaves it the way the worker instructions (ui_templates/welding.liquid.html) say the plots show it:

| class (``workflows/welding.py``) | sensor signature | bead |
| --- | --- | --- |
| `GOOD_WELD` | current and voltage steady inside their bands, nominal travel over the whole seam | even, regular ripples |
| `BURN_THROUGH` | current climbs above its band; the torch dwells (position flat for 4-6 s) with current high and climbing; at the end of the dwell the arc breaks (current collapses, voltage jumps to open circuit), then re-ignites and the torch moves on | a hole with dark rims where the torch dwelled |
| `CONTAMINATION` | spikes and dips (voltage up, current down) only in one stretch of 15-25% of the seam; steady elsewhere | spatter and discoloured patches in that stretch only |
| `LACK_OF_FUSION` | steady but low heat input: current and voltage below their bands over the whole seam | narrow, ropey bead with dark unfused toes |
| `LACK_OF_SHIELDING_GAS` | an unstable arc from start to end: current and voltage wander and leave their bands everywhere | porosity along the whole seam, sooty |
| `HIGH_TRAVEL_SPEED` | travel at 2.75x the nominal speed: a steep position line, the seam done in well under half the time; current and voltage in their bands | thin, discontinuous bead |

The classes are the choices of the welding workflow's question (workflows/welding.py), its abstain
label ("cannot tell") aside; ``DEFECTS`` says what each looks like, and a class of the definition it
does not describe (or a description of a class the definition lacks) is an error, never a silent guess.

Writes images/, sensor/, datasets/ (dataset JSON per run), manifest.jsonl and truth.json
(``{"dataset-NN": {"<question>": "<class>"}}``, the truth file format of ``local_ground_truth.truth``).
`${DATA_PREFIX_URI}` in datasets and manifest is filled in at deploy time by ManifestBucket.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

import workflows  # noqa: E402  (puts lambda_src on the import path)
from gt_common.questions import Classification  # noqa: E402
from welding_pre_labeling.procedure import (  # noqa: E402
    CURRENT, NOMINAL_TRAVEL_MM_S, OPEN_CIRCUIT_V, SEAM_MM, TRAVEL_MM_S, VOLTAGE,
)
from workflows import welding  # noqa: E402
from labeling_constructs.data_prefix import DATA_PREFIX_PLACEHOLDER as PLACEHOLDER  # noqa: E402
from workflows.model import truth_key  # noqa: E402

WORKFLOW = workflows.definition("welding")
RUNS_PER_CLASS = 3
DEFAULT_OUT = WORKFLOW.sample_data_dir
WIDTH, HEIGHT = 480, 320
SEAM_PX = (24, WIDTH - 24)  # where the seam's start and end are in the camera image
STEP_S = 0.1  # the seed layout's time unit: one row per 100 ms
CURRENT_RIPPLE_A = CURRENT.band.width / 8  # a steady arc: 4 standard deviations inside its band
VOLTAGE_RIPPLE_V = VOLTAGE.band.width / 16


# -- what each class looks like ---------------------------------------------------------------
@dataclass
class Trace:
    seconds: np.ndarray
    position: np.ndarray  # mm along the seam
    current: np.ndarray
    voltage: np.ndarray
    dwell: Optional[slice] = None  # rows where the torch stands still
    local_mm: Optional[tuple[float, float]] = None  # the stretch of seam a local defect lies in


def _burn_through_trace(trace: Trace, rng: np.random.Generator) -> None:
    """Heat builds up: current climbs above its band, keeps climbing while the torch dwells, and at the
    end of the dwell the arc breaks through the plate (current collapses, open-circuit voltage), then
    re-ignites and the torch moves on, still hot."""
    rows, dwell = trace.current.size, trace.dwell
    above = CURRENT.band.high
    climb = np.interp(np.arange(rows), [0, dwell.start, dwell.stop, dwell.stop + 1, rows - 1],
                      [CURRENT.band.middle, above + 20, above + 40, above + 25, above + 25])
    trace.current += climb - CURRENT.band.middle
    broken = slice(dwell.stop - 2, dwell.stop + int(rng.integers(6, 12)))
    size = broken.stop - broken.start
    trace.current[broken] = rng.uniform(0, 12, size)
    trace.voltage[broken] = OPEN_CIRCUIT_V + rng.normal(0, 1.5, size)
    trace.local_mm = (float(trace.position[dwell.start]), float(trace.position[dwell.stop - 1]))


def _contamination_trace(trace: Trace, rng: np.random.Generator) -> None:
    """Spikes and dips only in one stretch of the seam (where the plate was dirty); steady elsewhere."""
    rows = trace.current.size
    length = int(rows * rng.uniform(0.15, 0.25))
    start = int(rng.integers(int(rows * 0.15), int(rows * 0.85) - length))
    hits = start + rng.choice(length, size=length // 3, replace=False)
    trace.voltage[hits] += rng.uniform(5, 14, hits.size)
    trace.current[hits] -= rng.uniform(20, 60, hits.size)
    trace.local_mm = (float(trace.position[start]), float(trace.position[start + length - 1]))


def _lack_of_fusion_trace(trace: Trace, rng: np.random.Generator) -> None:
    """Too little heat, steadily: current and voltage well below their bands over the whole seam."""
    rows = trace.current.size
    trace.current = CURRENT.band.low - 45 + rng.normal(0, 2.0, rows)
    trace.voltage = VOLTAGE.band.low - 2.5 + rng.normal(0, 0.25, rows)


def _no_shielding_gas_trace(trace: Trace, rng: np.random.Generator) -> None:
    """An unstable arc from start to end: both signals wander and leave their bands all along the seam."""
    rows = trace.current.size
    trace.voltage += rng.normal(0, 2.2, rows) + 1.5 * np.sin(trace.seconds * rng.uniform(1.5, 3.0))
    trace.current += rng.normal(0, 12, rows)


def _seam_x(mm: float) -> int:
    return int(SEAM_PX[0] + (SEAM_PX[1] - SEAM_PX[0]) * mm / SEAM_MM)


def _unfused_toes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int,
                  trace: Trace) -> None:
    for offset in (-half_width - 2, half_width + 2):
        draw.line([SEAM_PX[0], centre + offset, SEAM_PX[1], centre + offset], fill=(25, 25, 25, 255), width=3)


def _holes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int,
           trace: Trace) -> None:
    """Burnt through where the torch dwelled: a hole with dark, rounded rims, sometimes a smaller one beside it."""
    where = _seam_x(sum(trace.local_mm) / 2)
    for index in range(int(rng.integers(1, 3))):
        cx = where + (0 if index == 0 else int(rng.choice([-1, 1]) * rng.integers(22, 30)))
        r = int(rng.integers(11, 16)) if index == 0 else int(rng.integers(6, 9))
        draw.ellipse([cx - r - 5, centre - r - 5, cx + r + 5, centre + r + 5], fill=(70, 45, 30, 210))
        draw.ellipse([cx - r, centre - r, cx + r, centre + r], fill=(8, 8, 8, 255))


def _spatter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int,
             trace: Trace) -> None:
    """Spatter, pores and discoloured patches only in the contaminated stretch."""
    left, right = (_seam_x(mm) for mm in trace.local_mm)
    for _ in range(45):
        cx, cy = int(rng.integers(left, right + 1)), int(centre + rng.normal(0, 35))
        r = int(rng.integers(1, 5))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(40, 30, 25, 230))
    for _ in range(3):
        cx = int(rng.integers(left, right + 1))
        draw.ellipse([cx - 22, centre - 18, cx + 22, centre + 18], fill=(90, 60, 30, 110))


def _porosity(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int,
              trace: Trace) -> None:
    draw.rectangle([20, centre - 40, WIDTH - 20, centre + 40], fill=(30, 30, 30, 70))
    for _ in range(70):
        cx, cy = int(rng.integers(SEAM_PX[0] + 2, SEAM_PX[1] - 2)), int(centre + rng.normal(0, half_width / 2.5))
        r = int(rng.integers(1, 4))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(15, 15, 15, 255))


@dataclass(frozen=True)
class Defect:
    """One class: its sensor signature and its bead (see the table in the module docstring)."""

    trace: Optional[Callable[[Trace, np.random.Generator], None]] = None
    bead: Optional[Callable[[ImageDraw.ImageDraw, np.random.Generator, int, int, Trace], None]] = None
    travel_mm_s: Optional[float] = None  # None: a nominal speed, drawn per run inside the procedure's window
    dwell_s: Optional[tuple[float, float]] = None  # the torch stands still this long (range), part-way along
    bead_half_width: int = 22
    ripple_step: int = 7
    gaps: bool = False  # a discontinuous bead
    wobble: float = 1.0  # spread of the bead's width along the seam


DEFECTS: dict[str, Defect] = {
    welding.GOOD_WELD: Defect(),
    welding.BURN_THROUGH: Defect(trace=_burn_through_trace, bead=_holes, dwell_s=(4.0, 6.0)),
    welding.CONTAMINATION: Defect(trace=_contamination_trace, bead=_spatter),
    welding.LACK_OF_FUSION: Defect(trace=_lack_of_fusion_trace, bead=_unfused_toes, bead_half_width=13, wobble=3),
    welding.LACK_OF_SHIELDING_GAS: Defect(trace=_no_shielding_gas_trace, bead=_porosity),
    welding.HIGH_TRAVEL_SPEED: Defect(travel_mm_s=2.75 * NOMINAL_TRAVEL_MM_S, bead_half_width=9, ripple_step=12,
                                      gaps=True, wobble=3),
}


def welding_question(definition=WORKFLOW) -> Classification:
    [question] = [q for q in definition.questions if isinstance(q, Classification)]
    return question


def classes(question: Optional[Classification] = None) -> list[str]:
    """The classes to generate: the question's choices but its abstain label, each one ``DEFECTS`` describes."""
    question = question or welding_question()
    wanted = [choice for choice in question.choices if choice != question.abstain]
    missing = [name for name in wanted if name not in DEFECTS]
    stale = [name for name in DEFECTS if name not in wanted]
    if missing or stale:
        raise SystemExit(f"generate_welding_data: the welding question's classes and DEFECTS differ: "
                         f"not described: {missing or 'none'}; described but not a class: {stale or 'none'}")
    return wanted


def deployed_truth_key(line: dict, index: int) -> str:
    """The truth key of a manifest line as deployed (the placeholder is an s3:// prefix by then)."""
    return truth_key({key: value.replace(PLACEHOLDER, "s3://deployed") if isinstance(value, str) else value
                      for key, value in line.items()}, index)


# -- sensor traces ----------------------------------------------------------------------------
def sensor_trace(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, Trace]:
    """Rows of (time in 100 ms, electrode position mm, current A, voltage V, wire feed m/min), and the trace."""
    defect = DEFECTS[kind]
    margin = TRAVEL_MM_S.width / 6  # nominal runs stay clear of the window's edges
    speed = defect.travel_mm_s or rng.uniform(TRAVEL_MM_S.low + margin, TRAVEL_MM_S.high - margin)  # mm/s
    moving = int(SEAM_MM / speed / STEP_S)
    step = np.full(moving, speed * STEP_S)
    dwell = None
    if defect.dwell_s is not None:
        rows = int(rng.uniform(*defect.dwell_s) / STEP_S)
        start = int(moving * rng.uniform(0.55, 0.7))
        step = np.concatenate([step[:start], np.zeros(rows), step[start:]])
        dwell = slice(start, start + rows)
    rows = step.size
    t = np.arange(rows, dtype=float)  # units of 100 ms
    position = np.concatenate([[0.0], step.cumsum()[:-1]]) + rng.normal(0, 0.05, rows).cumsum() * 0.1
    trace = Trace(t * STEP_S, position, CURRENT.band.middle + rng.normal(0, CURRENT_RIPPLE_A, rows),
                  VOLTAGE.band.middle + rng.normal(0, VOLTAGE_RIPPLE_V, rows), dwell=dwell)
    wire = 8 + rng.normal(0, 0.05, rows)
    if defect.trace is not None:
        defect.trace(trace, rng)
    return np.column_stack([t, position, trace.current, np.clip(trace.voltage, 0, None), wire]), trace


def csv_text(rows: np.ndarray) -> str:
    return "".join(f"{int(r[0])},{r[1]:.2f},{r[2]:.1f},{r[3]:.2f},{r[4]:.2f}\n" for r in rows)


# -- camera image -----------------------------------------------------------------------------
def bead_image(kind: str, trace: Trace, rng: np.random.Generator) -> bytes:
    """A top view of a plate with a horizontal bead (the seam from left to right), drawn with the defect's look."""
    defect = DEFECTS[kind]
    x = np.arange(WIDTH)
    brushed = rng.normal(0, 6, (HEIGHT, 1)) + rng.normal(0, 4, (HEIGHT, WIDTH)) * 0.5
    plate = np.clip(120 + brushed + 10 * np.sin(x / 90.0), 0, 255)
    rgb = np.stack([plate * 0.97, plate, plate * 1.04], axis=-1)
    image = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(image, "RGBA")
    centre = HEIGHT // 2
    half_width = defect.bead_half_width
    # Heat tint beside the bead.
    draw.rectangle([20, centre - half_width - 14, WIDTH - 20, centre + half_width + 14], fill=(140, 110, 70, 60))
    for i, cx in enumerate(range(SEAM_PX[0], SEAM_PX[1], defect.ripple_step)):
        if defect.gaps and rng.random() < 0.18:
            continue  # discontinuous bead
        wobble = rng.normal(0, defect.wobble)
        w = max(half_width + wobble, 2.0)  # a ripple narrows, never inverts
        shade = 200 + int(rng.integers(-12, 12))
        draw.ellipse([cx - 9, centre - w, cx + 9, centre + w], fill=(shade, shade - 8, shade - 20, 255),
                     outline=(90, 85, 80, 255))
    if defect.bead is not None:
        defect.bead(draw, rng, centre, half_width, trace)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=False)
    return buffer.getvalue()


# -- the data set -----------------------------------------------------------------------------
def generate(out: Path, seed: int = 20261125) -> dict[str, dict[str, str]]:
    question = welding_question()
    kinds = classes(question)
    rng = np.random.default_rng(seed)
    for folder in ("images", "sensor", "datasets"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    truth, manifest = {}, []
    number = 0
    for repeat in range(RUNS_PER_CLASS):
        for kind in kinds:
            number += 1
            run = f"run-{number:02d}"
            dataset = f"dataset-{number:02d}"
            rows, trace = sensor_trace(kind, rng)
            (out / "sensor" / f"{run}.csv").write_text(csv_text(rows))
            (out / "images" / f"{run}.jpg").write_bytes(bead_image(kind, trace, rng))
            (out / "datasets" / f"{dataset}.json").write_text(json.dumps({
                "image": {"s3Path": f"{PLACEHOLDER}/images/{run}.jpg"},
                "sensor_data": {"s3Path": f"{PLACEHOLDER}/sensor/{run}.csv"},
            }, indent=2) + "\n")
            line = {"source": f"{PLACEHOLDER}/datasets/{dataset}.json"}
            manifest.append(json.dumps(line))
            truth[deployed_truth_key(line, len(manifest) - 1)] = {question.name: kind}
    (out / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    truth = generate(args.out)
    print(f"wrote {len(truth)} welding runs to {args.out}")


if __name__ == "__main__":
    main()
