#!/usr/bin/env python3
"""Generate the welding sample data, deterministically: `python scripts/generate_welding_data.py [--out DIR]`.

Each run is a camera-like JPEG of the bead and a header-less sensor CSV in the seed's layout:
time (units of 100 ms), electrode position along the seam (mm), current (A), voltage (V), wire
feed speed (m/min, ignored by readers). Each defect leaves the traces and the bead a welding
engineer would expect:

| class | sensor signature | bead |
| --- | --- | --- |
| Good Weld | ~150 A, ~22 V, steady travel ~4 mm/s | even, regular ripples |
| Burn Through | current climbs to ~200 A; at burn-through the arc breaks: current collapses, voltage jumps to open-circuit (~45 V) | holes with glowing rims |
| Contamination | erratic voltage spikes, current dips (spatter, arc instability) | dark spatter and discoloured patches |
| Lack of Fusion | low heat input: ~95 A, ~17.5 V | narrow, ropey bead with dark unfused toes |
| Lack of Shielding Gas | noisy, wandering voltage and current (unstable arc) | porosity: many small pores, sooty |
| High Travel Speed | travel ~11 mm/s (short run), slightly low current | thin, discontinuous bead |

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

import workflows  # noqa: E402
from gt_common.questions import Classification  # noqa: E402
from workflows.model import truth_key  # noqa: E402

WORKFLOW = workflows.definition("welding")
RUNS_PER_CLASS = 3
PLACEHOLDER = "${DATA_PREFIX_URI}"
DEFAULT_OUT = WORKFLOW.sample_data_dir
WIDTH, HEIGHT = 480, 320


# -- what each class looks like ---------------------------------------------------------------
@dataclass
class Trace:
    seconds: np.ndarray
    current: np.ndarray
    voltage: np.ndarray


def _burn_through_trace(trace: Trace, rng: np.random.Generator) -> None:
    rows = trace.current.size
    trace.current += np.linspace(0, 50, rows)
    hole = int(rows * rng.uniform(0.65, 0.8))
    span = slice(hole, hole + int(rng.integers(8, 15)))
    trace.current[span] = rng.uniform(0, 12, span.stop - span.start)
    trace.voltage[span] = 45 + rng.normal(0, 1.5, span.stop - span.start)
    trace.current[hole - 5:hole] += 25  # the spike just before the arc breaks through


def _contamination_trace(trace: Trace, rng: np.random.Generator) -> None:
    rows = trace.current.size
    spikes = rng.choice(rows, size=rows // 12, replace=False)
    trace.voltage[spikes] += rng.uniform(5, 14, spikes.size)
    trace.current[spikes] -= rng.uniform(20, 60, spikes.size)


def _lack_of_fusion_trace(trace: Trace, rng: np.random.Generator) -> None:
    rows = trace.current.size
    trace.current = 95 + rng.normal(0, 2.0, rows)
    trace.voltage = 17.5 + rng.normal(0, 0.25, rows)


def _no_shielding_gas_trace(trace: Trace, rng: np.random.Generator) -> None:
    rows = trace.current.size
    trace.voltage += rng.normal(0, 2.2, rows) + 1.5 * np.sin(trace.seconds * rng.uniform(1.5, 3.0))
    trace.current += rng.normal(0, 12, rows)


def _fast_travel_trace(trace: Trace, rng: np.random.Generator) -> None:
    trace.current -= 10


def _unfused_toes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int) -> None:
    for offset in (-half_width - 2, half_width + 2):
        draw.line([24, centre + offset, WIDTH - 24, centre + offset], fill=(25, 25, 25, 255), width=3)


def _holes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int) -> None:
    for _ in range(int(rng.integers(2, 4))):
        cx = int(rng.integers(WIDTH * 0.55, WIDTH - 60))
        r = int(rng.integers(8, 15))
        draw.ellipse([cx - r - 4, centre - r - 4, cx + r + 4, centre + r + 4], fill=(255, 150, 40, 200))
        draw.ellipse([cx - r, centre - r, cx + r, centre + r], fill=(8, 8, 8, 255))


def _spatter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int) -> None:
    for _ in range(60):
        cx, cy = int(rng.integers(20, WIDTH - 20)), int(centre + rng.normal(0, 45))
        r = int(rng.integers(1, 5))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(40, 30, 25, 230))
    for _ in range(4):
        cx = int(rng.integers(40, WIDTH - 40))
        draw.ellipse([cx - 25, centre - 18, cx + 25, centre + 18], fill=(90, 60, 30, 110))


def _porosity(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre: int, half_width: int) -> None:
    draw.rectangle([20, centre - 40, WIDTH - 20, centre + 40], fill=(30, 30, 30, 70))
    for _ in range(70):
        cx, cy = int(rng.integers(26, WIDTH - 26)), int(centre + rng.normal(0, half_width / 2.5))
        r = int(rng.integers(1, 4))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(15, 15, 15, 255))


@dataclass(frozen=True)
class Defect:
    """One class: its sensor signature and its bead (see the table in the module docstring)."""

    trace: Optional[Callable[[Trace, np.random.Generator], None]] = None
    bead: Optional[Callable[[ImageDraw.ImageDraw, np.random.Generator, int, int], None]] = None
    travel_mm_s: Optional[float] = None  # None: a normal 3.6-4.4 mm/s, drawn per run
    bead_half_width: int = 22
    ripple_step: int = 7
    gaps: bool = False  # a discontinuous bead
    wobble: float = 1.0  # spread of the bead's width along the seam


DEFECTS: dict[str, Defect] = {
    "Good Weld": Defect(),
    "Burn Through": Defect(trace=_burn_through_trace, bead=_holes),
    "Contamination": Defect(trace=_contamination_trace, bead=_spatter),
    "Lack of Fusion": Defect(trace=_lack_of_fusion_trace, bead=_unfused_toes, bead_half_width=13, wobble=3),
    "Lack of Shielding Gas": Defect(trace=_no_shielding_gas_trace, bead=_porosity),
    "High Travel Speed": Defect(trace=_fast_travel_trace, travel_mm_s=11.0, bead_half_width=9, ripple_step=12,
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
def sensor_trace(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Rows of (time in 100 ms, electrode position mm, current A, voltage V, wire feed m/min)."""
    defect = DEFECTS[kind]
    speed = defect.travel_mm_s if defect.travel_mm_s is not None else rng.uniform(3.6, 4.4)  # mm/s
    seam_mm = 120.0
    rows = int(seam_mm / speed * 10)
    t = np.arange(rows, dtype=float)  # units of 100 ms
    seconds = t / 10
    position = speed * seconds + rng.normal(0, 0.05, rows).cumsum() * 0.1
    trace = Trace(seconds, 150 + rng.normal(0, 2.5, rows), 22 + rng.normal(0, 0.25, rows))
    wire = 8 + rng.normal(0, 0.05, rows)
    if defect.trace is not None:
        defect.trace(trace, rng)
    return np.column_stack([t, position, trace.current, np.clip(trace.voltage, 0, None), wire])


def csv_text(rows: np.ndarray) -> str:
    return "".join(f"{int(r[0])},{r[1]:.2f},{r[2]:.1f},{r[3]:.2f},{r[4]:.2f}\n" for r in rows)


# -- camera image -----------------------------------------------------------------------------
def bead_image(kind: str, rng: np.random.Generator) -> bytes:
    """A top view of a plate with a horizontal bead, drawn with the defect's look."""
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
    for i, cx in enumerate(range(24, WIDTH - 24, defect.ripple_step)):
        if defect.gaps and rng.random() < 0.18:
            continue  # discontinuous bead
        wobble = rng.normal(0, defect.wobble)
        w = half_width + wobble
        shade = 200 + int(rng.integers(-12, 12))
        draw.ellipse([cx - 9, centre - w, cx + 9, centre + w], fill=(shade, shade - 8, shade - 20, 255),
                     outline=(90, 85, 80, 255))
    if defect.bead is not None:
        defect.bead(draw, rng, centre, half_width)
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
            (out / "images" / f"{run}.jpg").write_bytes(bead_image(kind, rng))
            (out / "sensor" / f"{run}.csv").write_text(csv_text(sensor_trace(kind, rng)))
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
