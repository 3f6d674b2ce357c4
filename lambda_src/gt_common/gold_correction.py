"""How gold objects correct the published confidence: per bin of confidence, by how far it lay above the gold
objects' accuracy there. Without numpy, for the functions that ship without it (the review's); the worker model
(``crowd_model``) applies the same rule to a batch's arrays.

A bin's record is ``[gold objects, labeled right, their confidences summed]``. Its gap is
``(summed - right) / (gold objects + GOLD_BIN_PRIOR)``: the confidence above the gold accuracy, shrunk towards
no correction. A label's confidence ``c`` in that bin becomes ``c - gap``, kept within ``[1 / classes, 1]``.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Iterable, Sequence

#: Edges of the confidence bins in which gold objects measure the confidence against the truth.
GOLD_BIN_EDGES = (0.5, 0.7, 0.9, 0.99)
#: Gold objects' worth, in each bin, of the model's own confidence: the correction is shrunk towards none
#: (on duck and face 10 beat 2 and 5: with a handful of gold objects a bin is mostly noise).
GOLD_BIN_PRIOR = 10.0
BINS = len(GOLD_BIN_EDGES) + 1


def bin_of(confidence: float) -> int:
    """The bin of ``GOLD_BIN_EDGES`` a confidence falls in."""
    return bisect_right(GOLD_BIN_EDGES, confidence)


def bins_of(gold: Iterable[tuple[float, bool]]) -> list[list[float]]:
    """The bins' records of gold objects given as ``(confidence of the label, labeled right)``."""
    table = [[0.0, 0.0, 0.0] for _ in range(BINS)]
    for confidence, right in gold:
        row = table[bin_of(confidence)]
        row[0] += 1.0
        row[1] += 1.0 if right else 0.0
        row[2] += confidence
    return table


def gaps(bins: Sequence[Sequence[float]]) -> list[float]:
    """Per bin, how far the confidence lies above the gold accuracy, shrunk towards none."""
    return [(float(summed) - float(right)) / (float(n) + GOLD_BIN_PRIOR) for n, right, summed in bins]


def corrected(confidence: float, bin_gaps: Sequence[float], n_classes: int) -> float:
    """A label's confidence less its bin's gap, within ``[1 / n_classes, 1]``."""
    return min(1.0, max(1.0 / max(n_classes, 1), confidence - bin_gaps[bin_of(confidence)]))
