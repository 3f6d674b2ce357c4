"""Counts in words, confidences in figures, as the runner's lines and pages write them, and text made safe for a terminal
line."""
from __future__ import annotations

import math


def counted(number: int, noun: str, plural: str = "") -> str:
    """"1 answer", "3 answers", "0 texts"; ``plural`` where it is not ``noun`` + "s" ("1 class", "7 classes")."""
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (a newline, an escape, a joiner) escaped: no control
    sequence reaches the terminal."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def shown_confidence(probability: float) -> str:
    """A confidence in two places, cut rather than rounded: a label under a routing threshold never reads as the
    threshold (0.8961, routed under 0.9, read "0.90"). The tiny addition keeps 0.29 from reading 0.28 (0.29 * 100 is
    28.999... in floating point)."""
    return f"{math.floor(probability * 100 + 1e-9) / 100:.2f}"
