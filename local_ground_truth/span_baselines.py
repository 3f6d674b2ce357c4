"""Per-token majority vote: the naive way to merge span answers, kept as a benchmark baseline.

Every character gets the label most workers gave it (no label counts as an answer, and wins
ties so a split vote leaves text untagged); spans are the maximal runs of one label.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional, Sequence


def token_majority_vote(answers: Sequence[Sequence[dict[str, Any]]], text_length: int) -> list[dict[str, Any]]:
    """``answers``: each worker's entity list; returns entities in the submitted-answer shape."""
    votes = [Counter() for _ in range(text_length)]
    for entities in answers:
        tags: list[Optional[str]] = [None] * text_length
        for entity in entities:
            for index in range(max(entity["startOffset"], 0), min(entity["endOffset"], text_length)):
                tags[index] = entity["label"]
        for index, tag in enumerate(tags):
            votes[index][tag] += 1
    chosen = [min(counts.items(), key=lambda kv: (-kv[1], kv[0] is not None, kv[0] or ""))[0]
              for counts in votes]
    spans, index = [], 0
    while index < text_length:
        if chosen[index] is None:
            index += 1
            continue
        end = index
        while end < text_length and chosen[end] == chosen[index]:
            end += 1
        spans.append({"label": chosen[index], "startOffset": index, "endOffset": end})
        index = end
    return spans
