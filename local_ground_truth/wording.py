"""Counts in words, as the runner's lines and pages write them, and text made safe for a terminal line."""
from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """"1 answer", "3 answers", "0 texts"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (a newline, an escape, a joiner) escaped: no control
    sequence reaches the terminal."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
