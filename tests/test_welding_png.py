"""The plots' PNG writer: what a decoder reads back is the canvas, pixel for pixel."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from welding_pre_labeling.png import encode_png


def decoded(png: bytes) -> tuple[str, np.ndarray]:
    image = Image.open(io.BytesIO(png))
    image.load()  # reads every chunk: a bad CRC or a cut IDAT raises
    return image.mode, np.asarray(image.convert("RGBA"))


@pytest.mark.parametrize("opaque, mode", [(True, "RGB"), (False, "RGBA")])
def test_pixels_read_back_exactly(opaque, mode):
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    if opaque:
        pixels[:, :, 3] = 255
    else:
        pixels[3, 4, 3] = 254  # one pixel not opaque is enough to keep the alpha channel
    got_mode, got = decoded(encode_png(memoryview(pixels)))
    assert got_mode == mode
    assert np.array_equal(got, pixels)


def test_a_rendered_plot_is_the_canvas(tmp_path):
    from welding_pre_labeling.plots import PlotRenderer
    from welding_pre_labeling.sensor_csv import parse_sensor_csv

    renderer = PlotRenderer()
    rendered = renderer.render(parse_sensor_csv(b"0,0.0,150,22\n1,0.4,151,22\n2,0.8,149,22\n", "test"))
    for key, (_, figure, _) in renderer._figures.items():
        mode, pixels = decoded(rendered[key][1])
        assert mode == "RGB" and np.array_equal(pixels, np.asarray(figure.canvas.buffer_rgba())), key
