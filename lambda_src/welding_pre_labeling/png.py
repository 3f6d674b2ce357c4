"""PNG bytes from an Agg canvas' RGBA pixels."""
from __future__ import annotations

import io

from PIL import Image

COMPRESS_LEVEL = 1  # zlib's fastest level: these flat-coloured plots compress well even so


def encode_png(rgba: memoryview) -> bytes:
    """``rgba`` (rows x columns x 4, as ``canvas.buffer_rgba()`` gives it) as a PNG."""
    height, width = rgba.shape[:2]
    image = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=COMPRESS_LEVEL)
    return buffer.getvalue()
