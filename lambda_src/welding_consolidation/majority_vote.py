"""Majority vote: the simplest ``VotingStrategy``, until a worker model replaces it.

Confidence is the winner's share of the usable votes (2 of 3 -> 0.667).

Ties are broken deterministically, so re-running a batch gives the same manifest:
1. a real class beats the abstain answer ("Not sure") - a tie between "Burn Through" and
   "Not sure" means one worker did see a defect, which is more useful to a reviewer;
2. among real classes, the alphabetically first (case-insensitive) wins.
The confidence stays the winner's share, so a tie always shows up as a low confidence
(1 of 2 -> 0.5) and can be sent to review by a confidence threshold.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from .categories import NOT_SURE
from .votes import Decision, Vote


def majority_vote(votes: Sequence[Vote], *, abstain: str = NOT_SURE) -> Decision:
    if not votes:
        return Decision(label=None, confidence=0.0)
    counts = Counter(vote.label for vote in votes)
    top = max(counts.values())
    tied = [label for label, count in counts.items() if count == top]
    winner = min(tied, key=lambda label: (label == abstain, label.casefold(), label))
    return Decision(label=winner, confidence=top / len(votes))
