"""The job's confidence for an output manifest, without the expert review:

    ./scripts/job_confidence.sh output.manifest [--workflow NAME] [-o job-confidence.manifest]

Ground Truth's ``output.manifest`` (on AWS, or the local runner's) holds each batch's confidences, published
with what the job had learned by then; the review reads every label with the whole job's evidence instead
(``gt_common.job_confidence``: the temperature of the batch that had counted the most answers, the gold objects
of every batch). With review off nothing does, so this reads a manifest (a file, or ``-`` for standard input)
and writes it again with every choice question's confidence the job's (a MultiSelect's, choice by choice) and
the batch's kept as ``batch-confidence``: the same lines, the same labels, in the same order. A line that is not
a JSON object is written as it was and named on standard error; so is a value whose evidence cannot be read (it
keeps its batch's confidence). The workflow is the one whose label attribute the lines carry, unless ``--workflow``
names it.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from expert_review.manifests import dumps, parse_lines
from gt_common import job_confidence
from gt_common.questions import MultiSelect, choice_probability

import workflows
from workflows.model import WorkflowDefinition


class ReviseError(Exception):
    """What stops a revision, said in one line."""


def workflow_of(lines: Sequence[Optional[dict]], name: Optional[str]) -> WorkflowDefinition:
    """The workflow named, or the one whose label attribute the lines carry."""
    known = workflows.definitions()
    if name is not None:
        if name not in known:
            raise ReviseError(f"--workflow {name}: no such workflow (there are {', '.join(sorted(known))})")
        return known[name]
    carried = [d for d in known.values() if any(line and d.label_attribute_name in line for line in lines)]
    if len(carried) != 1:
        found = ", ".join(f"{d.name} ({d.label_attribute_name})" for d in carried) or "none"
        raise ReviseError(f"give --workflow: the lines carry the label attribute of {found}")
    return carried[0]


def confidences(lines: Sequence[Optional[dict]], definition: WorkflowDefinition) -> list[float]:
    """Every choice question's confidence in ``lines``, and each decided choice's of a MultiSelect as the confidence
    of its yes or no (its number is the probability that the choice applies: ``1 - p`` for a choice not chosen)."""
    found = []
    for line in lines:
        labels = line.get(definition.label_attribute_name) if isinstance(line, dict) else None
        for question in definition.questions:
            value = labels.get(question.name) if isinstance(labels, dict) else None
            if not isinstance(value, dict):
                continue
            confidence = value.get("confidence")
            if isinstance(question, MultiSelect) and isinstance(confidence, dict):
                chosen = value.get("labels") if isinstance(value.get("labels"), list) else []
                found.extend(choice_probability(float(p), choice in chosen) for choice, p in confidence.items()
                             if isinstance(p, (int, float)) and not isinstance(p, bool))
            elif isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
                found.append(float(confidence))
    return found


def revise_text(text: str, workflow: Optional[str] = None) -> tuple[str, str]:
    """The manifest ``text`` with the job's confidences, and a line saying what changed."""
    lines = parse_lines(text, "output manifest")
    values = [line.value for line in lines]
    definition = workflow_of(values, workflow)
    revised = job_confidence.revise_lines(values, definition.label_attribute_name, definition.questions)
    # A line the revision left alone is written as it was read, byte for byte.
    out = "".join(f"{line.raw if value is line.value else dumps(value)}\n" for line, value in zip(lines, revised))
    changed = sum(value is not line.value for line, value in zip(lines, revised))
    before, after = confidences(values, definition), confidences(revised, definition)
    summary = f"{definition.name}: {len(lines)} lines, {changed} with the job's confidence"
    if not changed:
        summary += (" (no value carries the worker model's evidence: consolidated before it was kept, in batches of "
                    f"over {job_confidence.MAX_EVIDENCE_OBJECTS:,} objects, or by majority vote; written as it was)")
    elif before:
        summary += f"; mean confidence {statistics.fmean(after):.3f} (as the batches published it: " \
                   f"{statistics.fmean(before):.3f})"
    return out, summary


def write_atomically(path: Path, text: str) -> None:
    """``text`` to ``path`` whole or not at all (the manifest read may be the one written)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="job_confidence.sh", description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", help="an output manifest (Ground Truth's output.manifest), or - for stdin")
    parser.add_argument("--workflow", help="the workflow whose job wrote it (default: the one its labels name)")
    parser.add_argument("-o", "--output", type=Path, help="where to write the manifest (default: standard output)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        if args.manifest == "-":
            text = sys.stdin.read()
        else:
            text = Path(args.manifest).read_text(encoding="utf-8")
        out, summary = revise_text(text, args.workflow)
        if args.output is None:
            sys.stdout.write(out)
        else:
            write_atomically(args.output, out)
    except (OSError, UnicodeDecodeError, ReviseError) as error:
        print(f"job_confidence: {args.manifest}: {error}", file=sys.stderr)
        return 2
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
