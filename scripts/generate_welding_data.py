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

Writes images/, sensor/, datasets/ (dataset JSON per run), manifest.jsonl and truth.json.
`${DATA_PREFIX_URI}` in datasets and manifest is filled in at deploy time by ManifestBucket.
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["Good Weld", "Burn Through", "Contamination", "Lack of Fusion", "Lack of Shielding Gas", "High Travel Speed"]
RUNS_PER_CLASS = 3
PLACEHOLDER = "${DATA_PREFIX_URI}"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data" / "welding"
WIDTH, HEIGHT = 480, 320


# -- sensor traces ----------------------------------------------------------------------------
def sensor_trace(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Rows of (time in 100 ms, electrode position mm, current A, voltage V, wire feed m/min)."""
    speed = 11.0 if kind == "High Travel Speed" else rng.uniform(3.6, 4.4)  # mm/s
    seam_mm = 120.0
    rows = int(seam_mm / speed * 10)
    t = np.arange(rows, dtype=float)  # units of 100 ms
    seconds = t / 10
    position = speed * seconds + rng.normal(0, 0.05, rows).cumsum() * 0.1
    current = 150 + rng.normal(0, 2.5, rows)
    voltage = 22 + rng.normal(0, 0.25, rows)
    wire = 8 + rng.normal(0, 0.05, rows)
    if kind == "Burn Through":
        current += np.linspace(0, 50, rows)
        hole = int(rows * rng.uniform(0.65, 0.8))
        span = slice(hole, hole + int(rng.integers(8, 15)))
        current[span] = rng.uniform(0, 12, span.stop - span.start)
        voltage[span] = 45 + rng.normal(0, 1.5, span.stop - span.start)
        current[hole - 5:hole] += 25  # the spike just before the arc breaks through
    elif kind == "Contamination":
        spikes = rng.choice(rows, size=rows // 12, replace=False)
        voltage[spikes] += rng.uniform(5, 14, spikes.size)
        current[spikes] -= rng.uniform(20, 60, spikes.size)
    elif kind == "Lack of Fusion":
        current = 95 + rng.normal(0, 2.0, rows)
        voltage = 17.5 + rng.normal(0, 0.25, rows)
    elif kind == "Lack of Shielding Gas":
        voltage += rng.normal(0, 2.2, rows) + 1.5 * np.sin(seconds * rng.uniform(1.5, 3.0))
        current += rng.normal(0, 12, rows)
    elif kind == "High Travel Speed":
        current -= 10
    return np.column_stack([t, position, current, np.clip(voltage, 0, None), wire])


def csv_text(rows: np.ndarray) -> str:
    return "".join(f"{int(r[0])},{r[1]:.2f},{r[2]:.1f},{r[3]:.2f},{r[4]:.2f}\n" for r in rows)


# -- camera image -----------------------------------------------------------------------------
def bead_image(kind: str, rng: np.random.Generator) -> bytes:
    """A top view of a plate with a horizontal bead, drawn with the defect's look."""
    x = np.arange(WIDTH)
    brushed = rng.normal(0, 6, (HEIGHT, 1)) + rng.normal(0, 4, (HEIGHT, WIDTH)) * 0.5
    plate = np.clip(120 + brushed + 10 * np.sin(x / 90.0), 0, 255)
    rgb = np.stack([plate * 0.97, plate, plate * 1.04], axis=-1)
    image = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(image, "RGBA")
    centre = HEIGHT // 2
    half_width = {"Lack of Fusion": 13, "High Travel Speed": 9}.get(kind, 22)
    # Heat tint beside the bead.
    draw.rectangle([20, centre - half_width - 14, WIDTH - 20, centre + half_width + 14], fill=(140, 110, 70, 60))
    step = 7 if kind != "High Travel Speed" else 12
    for i, cx in enumerate(range(24, WIDTH - 24, step)):
        if kind == "High Travel Speed" and rng.random() < 0.18:
            continue  # discontinuous bead
        wobble = rng.normal(0, 3 if kind in ("Lack of Fusion", "High Travel Speed") else 1)
        w = half_width + wobble
        shade = 200 + int(rng.integers(-12, 12))
        draw.ellipse([cx - 9, centre - w, cx + 9, centre + w], fill=(shade, shade - 8, shade - 20, 255),
                     outline=(90, 85, 80, 255))
    if kind == "Lack of Fusion":
        for offset in (-half_width - 2, half_width + 2):
            draw.line([24, centre + offset, WIDTH - 24, centre + offset], fill=(25, 25, 25, 255), width=3)
    if kind == "Burn Through":
        for _ in range(int(rng.integers(2, 4))):
            cx = int(rng.integers(WIDTH * 0.55, WIDTH - 60))
            r = int(rng.integers(8, 15))
            draw.ellipse([cx - r - 4, centre - r - 4, cx + r + 4, centre + r + 4], fill=(255, 150, 40, 200))
            draw.ellipse([cx - r, centre - r, cx + r, centre + r], fill=(8, 8, 8, 255))
    if kind == "Contamination":
        for _ in range(60):
            cx, cy = int(rng.integers(20, WIDTH - 20)), int(centre + rng.normal(0, 45))
            r = int(rng.integers(1, 5))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(40, 30, 25, 230))
        for _ in range(4):
            cx = int(rng.integers(40, WIDTH - 40))
            draw.ellipse([cx - 25, centre - 18, cx + 25, centre + 18], fill=(90, 60, 30, 110))
    if kind == "Lack of Shielding Gas":
        draw.rectangle([20, centre - 40, WIDTH - 20, centre + 40], fill=(30, 30, 30, 70))
        for _ in range(70):
            cx, cy = int(rng.integers(26, WIDTH - 26)), int(centre + rng.normal(0, half_width / 2.5))
            r = int(rng.integers(1, 4))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(15, 15, 15, 255))
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=False)
    return buffer.getvalue()


# -- the data set -----------------------------------------------------------------------------
def generate(out: Path, seed: int = 20261125) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    for folder in ("images", "sensor", "datasets"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    truth, manifest = {}, []
    number = 0
    for repeat in range(RUNS_PER_CLASS):
        for kind in CLASSES:
            number += 1
            run = f"run-{number:02d}"
            dataset = f"dataset-{number:02d}"
            (out / "images" / f"{run}.jpg").write_bytes(bead_image(kind, rng))
            (out / "sensor" / f"{run}.csv").write_text(csv_text(sensor_trace(kind, rng)))
            (out / "datasets" / f"{dataset}.json").write_text(json.dumps({
                "image": {"s3Path": f"{PLACEHOLDER}/images/{run}.jpg"},
                "sensor_data": {"s3Path": f"{PLACEHOLDER}/sensor/{run}.csv"},
            }, indent=2) + "\n")
            manifest.append(json.dumps({"source": f"{PLACEHOLDER}/datasets/{dataset}.json"}))
            truth[dataset] = kind
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
