"""Noisy simulated workers answering from the sample data's known truth (headless runs).

Classification: with probability ``accuracy`` the true class, otherwise another category at random.
Spans (NER): each true span is missed with probability ``(1 - accuracy) / 2``, relabelled with the
same probability, and its boundaries jittered by a word now and then; the yes/no judgement is
flipped with probability ``1 - accuracy``. As the template refuses a tag that overlaps one already
made, a jittered span that would overlap the previous one starts where that one ends.
"""
from __future__ import annotations

import random
import re
from typing import Any

WELDING_CATEGORIES = ["Good Weld", "Burn Through", "Contamination", "Lack of Fusion", "Lack of Shielding Gas",
                      "High Travel Speed", "Not sure"]
SECTION_LABELS = ["Background", "Objectives", "Methods", "Results", "Limitations", "Conclusions"]


def classification_answer(truth: str, accuracy: float, rng: random.Random,
                          categories: list[str] = WELDING_CATEGORIES) -> dict[str, Any]:
    label = truth if rng.random() < accuracy else rng.choice([c for c in categories if c != truth])
    return {"WeldingClassification": {"label": label}}


def _word_starts(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", text)]


def _jitter(offset: int, starts: list[int], text_length: int, rng: random.Random) -> int:
    """Move a boundary one word left or right, as a careless mouse selection does."""
    if rng.random() > 0.3:
        return offset
    candidates = [s for s in starts if 0 < abs(s - offset) <= 15]
    return min(max(rng.choice(candidates), 0), text_length) if candidates else offset


def span_answer(truth: dict[str, Any], text: str, accuracy: float, rng: random.Random) -> dict[str, Any]:
    starts = _word_starts(text)
    entities = []
    error = (1 - accuracy) / 2
    previous_end = 0
    for entity in sorted(truth["entities"], key=lambda e: (e["startOffset"], e["endOffset"])):
        if rng.random() < error:
            continue  # missed
        label = entity["label"] if rng.random() >= error else rng.choice(
            [lab for lab in SECTION_LABELS if lab != entity["label"]])
        start = max(_jitter(entity["startOffset"], starts, len(text), rng), previous_end)
        end = _jitter(entity["endOffset"], starts, len(text), rng)
        if end > start:
            entities.append({"label": label, "startOffset": start, "endOffset": end})
            previous_end = end
    good = truth["isGoodAbstract"]
    judged = good if rng.random() < accuracy else ("No" if good == "Yes" else "Yes")
    return {"abstract": {"entities": entities}, "isGoodAbstract": {"label": judged},
            "notes": rng.choice(["", "", "Clear structure.", "Hard to tell methods from results."])}
