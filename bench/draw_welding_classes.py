"""The six welding classes side by side, as a worker sees them: `.venv/bin/python bench/draw_welding_classes.py`.

One column per class (the welding question's choices, its abstain label aside, in the definition's
order), the first sample run of each: its camera image, then its current, electrode-position and
voltage plots, each drawn by the pre-labeling Lambda's own parser and renderer
(``parse_sensor_csv`` + ``PlotRenderer``) from ``sample_data/welding`` at the pixel size the worker
page shows it. Writes bench/figures/welding-classes.png (``--out`` for another path) and, for the
default path, bench/results/welding_classes.md, which shows the figure and says how it was made.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MPLCONFIGDIR", "/tmp/mplconfig")

import workflows  # noqa: E402  (puts lambda_src on the import path)
from matplotlib import font_manager  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from welding_pre_labeling.plots import PLOTS, WIDTH_PX, PlotRenderer  # noqa: E402
from welding_pre_labeling.sensor_csv import parse_sensor_csv  # noqa: E402

WELDING = workflows.definition("welding")
DATA = WELDING.sample_data_dir
GAP, HEADER_PX, CAPTION_PX = 12, 34, 20
FIGURE = REPO / "bench" / "figures" / "welding-classes.png"
NOTE = REPO / "bench" / "results" / "welding_classes.md"


def first_run_of_each_class() -> list[tuple[str, str]]:
    """``[(class, run number)]`` in the question's order: the first dataset of each class in truth.json."""
    [question] = WELDING.questions
    truth = json.loads((DATA / "truth.json").read_text())
    first: dict[str, str] = {}
    for dataset, answer in truth.items():  # dataset-NN names run-NN's image and CSV
        first.setdefault(answer[question.name], dataset.removeprefix("dataset-"))
    return [(kind, first[kind]) for kind in question.choices if kind != question.abstain]


def column(kind: str, number: str, renderer: PlotRenderer, font: ImageFont.FreeTypeFont) -> Image.Image:
    csv = DATA / "sensor" / f"run-{number}.csv"
    rendered = renderer.render(parse_sensor_csv(csv.read_bytes(), str(csv.relative_to(REPO))))
    camera = Image.open(DATA / "images" / f"run-{number}.jpg").convert("RGB")
    camera = camera.resize((WIDTH_PX, round(camera.height * WIDTH_PX / camera.width)), Image.LANCZOS)
    panels = [(f"Camera image (run-{number})", camera)]
    panels += [(title, Image.open(io.BytesIO(png)).convert("RGB")) for title, png, _ in rendered.values()]
    height = HEADER_PX + sum(CAPTION_PX + image.height for _, image in panels)
    out = Image.new("RGB", (WIDTH_PX, height), "white")
    draw = ImageDraw.Draw(out)
    draw.text((0, 4), kind, fill="black", font=font.font_variant(size=22))
    y = HEADER_PX
    for caption, image in panels:
        draw.text((2, y + 2), caption, fill="#333333", font=font)
        out.paste(image, (0, y + CAPTION_PX))
        y += CAPTION_PX + image.height
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIGURE)
    args = parser.parse_args()
    assert [plot.key for plot in PLOTS] == ["current", "electrode", "voltage"]
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 14)
    renderer = PlotRenderer()
    runs = first_run_of_each_class()
    columns = [column(kind, number, renderer, font) for kind, number in runs]
    figure = Image.new("RGB", (len(columns) * WIDTH_PX + (len(columns) + 1) * GAP,
                               max(c.height for c in columns) + 2 * GAP), "white")
    for index, image in enumerate(columns):
        figure.paste(image, (GAP + index * (WIDTH_PX + GAP), GAP))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours without dithering: the plots stay crisp and the committed file stays small.
    figure.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out} ({figure.width}x{figure.height})")
    if args.out.resolve() == FIGURE:
        NOTE.write_text(note(runs))
        print(f"wrote {NOTE}")


def note(runs: list[tuple[str, str]]) -> str:
    shown = ", ".join(f"{kind} run-{number}" for kind, number in runs)
    return "\n".join([
        "# The six welding classes side by side",
        "",
        "Written by `bench/draw_welding_classes.py`; made with",
        "",
        "    .venv/bin/python bench/draw_welding_classes.py",
        "",
        f"The first sample run of each class ({shown}): the camera image, then the current, electrode-position",
        "and voltage plots as the pre-labeling Lambda draws them (its own parser and renderer, at the size the",
        "worker page shows them). Every run is on the same frame: the shaded bands are the procedure's",
        "nominal current and voltage, the shaded wedge its nominal travel speeds.",
        "",
        f"![The six welding classes](../figures/{FIGURE.name})",
        "",
    ])


if __name__ == "__main__":
    main()
