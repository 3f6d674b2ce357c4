"""Counts in words, as the runner's lines and pages write them."""
from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """"1 answer", "3 answers", "0 texts"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
