"""A consolidation response within Lambda's 6 MB (``limits.MAX_RESPONSE_BYTES``).

Ground Truth reads the consolidation function's labels from its return value, and Lambda fails an invocation
whose response is larger: every object of the batch then fails, with a message that names no object. Measured
with this project's functions: welding's labels take about 480 bytes an object with the worker model's evidence
(10,000 objects: 4.8 MB) and about 250 without it (some 25,000 objects fill 6 MB); NER's, with spans and notes, a
few KB. So ``fitted`` measures the response as Lambda's runtime writes it and, when it is too large, drops the
evidence (every value's ``evidence``, a MultiSelect's for all its choices: the values keep their batch's confidence;
only the job's revision of it is lost, ``job_confidence``),
and when that is not enough fails at once, saying how large the batch and its response are.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Optional, Sequence

from .job_confidence import EVIDENCE_KEY
from .limits import MAX_RESPONSE_BYTES

LOG = logging.getLogger(__name__)


class ResponseTooLarge(ValueError):
    """A batch whose labels do not fit in one Lambda response (``response``: those labels, for a caller that is not
    Lambda, as a benchmark)."""

    def __init__(self, message: str, response: list[Any]) -> None:
        super().__init__(message)
        self.response = response


def size_of(response: Any) -> int:
    """Bytes of ``response`` as the Python runtime sends it (``json.dumps`` with its default separators)."""
    return len(json.dumps(response).encode("utf-8"))


def _without_evidence(entry: Any) -> Any:
    """One response entry with every question's value under its label attribute without ``evidence`` (the entry
    itself when none has any)."""
    try:
        content = entry["consolidatedAnnotation"]["content"]
    except (KeyError, TypeError):
        return entry
    if not any(isinstance(value, dict) and EVIDENCE_KEY in value
               for labels in content.values() if isinstance(labels, dict) for value in labels.values()):
        return entry
    stripped = {}
    for attribute, labels in content.items():
        if isinstance(labels, dict):
            labels = {name: ({k: v for k, v in value.items() if k != EVIDENCE_KEY} if isinstance(value, dict)
                             else value) for name, value in labels.items()}
        stripped[attribute] = labels
    return {**entry, "consolidatedAnnotation": {**entry["consolidatedAnnotation"], "content": stripped}}


def _measured(response: Sequence[Any], limit: int) -> tuple[int, Optional[int]]:
    """``(bytes, None)``: ``response`` as the runtime writes it (``size_of``) is within ``limit``; else ``(bytes so
    far, the index of the entry that passed it)``, measured no further (100,000 objects' labels are 21 MB)."""
    size = 2 + 2 * max(len(response) - 1, 0)  # the brackets and the ", " between entries
    for index, entry in enumerate(response):
        size += len(json.dumps(entry).encode("utf-8"))
        if size > limit:
            return size, index
    return size, None


def fitted(response: Sequence[Any], limit: Optional[int] = None) -> list[Any]:
    """``response`` if Lambda can return it (``limit``: ``MAX_RESPONSE_BYTES``), else without the worker model's
    evidence; ``ResponseTooLarge`` when even that is too large."""
    limit = MAX_RESPONSE_BYTES if limit is None else limit
    _, passed = _measured(response, limit)
    if passed is None:
        return list(response)
    lighter = [_without_evidence(entry) for entry in response]
    if any(a is not b for a, b in zip(lighter, response)):
        size, passed_lighter = _measured(lighter, limit)
        if passed_lighter is None:
            LOG.warning("the labels of %d objects pass Lambda's %d-byte response with the worker model's evidence "
                        "(by object %d of them): sent without it (%d bytes; the review keeps these objects' batch "
                        "confidence)", len(response), limit, passed + 1, size)
            return lighter
        passed = passed_lighter
    raise ResponseTooLarge(
        f"the labels of this batch's {len(response)} objects pass the {limit} bytes Lambda returns from one "
        f"invocation by object {passed + 1} of them: Ground Truth would get none of them", lighter)
