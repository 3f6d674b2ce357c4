"""Reading a CSV body of plain decimal numbers in whole-array passes, bit-exact with ``float()``.

A logger's rows (``12,0.40,151.0,22.04``) are read here without a per-cell call: every cell is read
at once, one character position at a time from its end, each digit adding its place value to the
cell's integer (exact in a float for at most ``MAX_CHARS`` characters); dividing that integer by the
power of ten of the cell's decimals is one correctly rounded operation, which is what
``float(cell)`` gives.

Anything else (a sign other than a leading ``-``, an exponent, spaces, a blank line, a cell without
digits, a row of another width, a longer cell) returns None: the general parser then reads the body
and names what is wrong, so this path never decides whether a file is valid, only reads one that is.
"""
from __future__ import annotations

import numpy as np

MAX_CHARS = 15  # characters per cell: at most 15 digits, below 2**53, so every cell's integer is exact
_POWERS = 10.0 ** np.arange(MAX_CHARS + 1)  # exact floats
_COMMA, _NEWLINE, _DOT, _MINUS, _ZERO = (ord(c) for c in ",\n.-0")


def plain_decimal_table(body: bytes) -> np.ndarray | None:
    """``body`` (rows ending in ``\\n``, the last one may not) as a (rows, columns) float array, or None."""
    if not body or body.startswith(b"\n") or b"\n\n" in body:
        return None
    if not body.endswith(b"\n"):
        body += b"\n"
    raw = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero((raw == _COMMA) | (raw == _NEWLINE)).astype(np.int32)  # each cell's separator
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    lengths = ends - starts
    if lengths.min() < 1 or lengths.max() > MAX_CHARS:
        return None
    cells_per_row = np.diff(np.flatnonzero(raw[ends] == _NEWLINE), prepend=-1)
    width = int(cells_per_row[0])
    if (cells_per_row != width).any():
        return None
    integers, place = np.zeros(ends.size), np.ones(ends.size)
    digits, dots, decimals = (np.zeros(ends.size, dtype=np.int8) for _ in range(3))
    negative = np.zeros(ends.size, dtype=bool)
    for back in range(1, int(lengths.max()) + 1):  # the last character of every cell, then the one before...
        chars = raw[ends - back]
        inside = lengths >= back
        digit = chars - np.uint8(_ZERO)  # wraps below '0': only digits are < 10
        is_digit = (digit < 10) & inside
        integers += np.where(is_digit, digit * place, 0.0)
        place[is_digit] *= 10
        digits += is_digit
        is_dot = (chars == _DOT) & inside
        decimals[is_dot] = digits[is_dot]  # the digits after the dot
        dots += is_dot
        is_minus = (chars == _MINUS) & inside
        if is_minus.any():
            if (is_minus & (lengths != back)).any():  # a minus sign only as a cell's first character
                return None
            negative |= is_minus
        if (inside & ~(is_digit | is_dot | is_minus)).any():
            return None
    if digits.min() < 1 or dots.max() > 1:
        return None
    values = integers / _POWERS[decimals]
    values[negative] *= -1.0
    return values.reshape(-1, width)
