"""A job's raw answers as a table: every worker's answer to every object, one row each, for a spreadsheet.

    ./scripts/answers_csv.sh ANSWERS_FOLDER [-o answers.csv]

``ANSWERS_FOLDER`` is a job's worker-response folder as Ground Truth lays it out
(``annotations/worker-response/iteration-1/<object>/<file>.json``: the local runner names it in its ``job complete``
line; a job on AWS writes it under its output path, to copy down with ``aws s3 cp --recursive``), or any folder above
it. Where ``labels_csv`` tables what the crowd settled, this tables what each worker said: to audit a label, see how
a worker answers, or analyse the answers elsewhere.

Columns: ``object`` (its id: the answer's folder), ``worker``, ``started`` (when the worker took the task: Ground
Truth's ``acceptanceTime``) and ``submitted`` (UTC, as recorded),
``seconds`` (time spent), then per question (each key of the answers, in the order they first come) what the worker
gave: a category's label, a multi-select's labels joined by ``"; "``, the labels of the ticked boxes or radio buttons
joined by ``"; "`` (a question's buttons, each a field ``<question>:<label>``, in one column; empty when none), free
text as typed, tagged spans as JSON (``[[label, start, end], ...]``), and anything else as JSON. Rows are in object
order, then submission order. A file that is not a worker-response file is named and left out (the other answers are
written; the exit status is then 1). Cells are made safe for a spreadsheet as ``labels_csv`` makes them
(``labels_csv.as_cell``).
"""
from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Optional

from gt_common.answers import switched_on
from gt_common.output_layout import WORKER_RESPONSES, worker_response_answers
from gt_common.questions import BUTTON_SEPARATOR, button_label
from local_ground_truth.labels_csv import write_table
from local_ground_truth.wording import counted

FIXED_COLUMNS = ("object", "worker", "started", "submitted", "seconds")
#: The folder Ground Truth keeps the answers in (``<output>/<job>/annotations/worker-response/iteration-N/<object>/``).
WORKER_RESPONSES_FOLDER = PurePosixPath(WORKER_RESPONSES).parent.name


def answer_cell(value: Any) -> Any:
    """What a worker gave for one question, as one cell (by the shape the crowd element submits)."""
    if isinstance(value, str):  # crowd-input, crowd-text-area
        return value
    if isinstance(value, Mapping):
        if set(value) == {"label"} and isinstance(value["label"], str):  # crowd-classifier
            return value["label"]
        if set(value) == {"labels"} and isinstance(value["labels"], list):  # crowd-classifier-multi-select
            return "; ".join(str(label) for label in value["labels"])
        if set(value) == {"entities"} and isinstance(value["entities"], list):  # crowd-entity-annotation
            return json.dumps([[entity.get("label"), entity.get("startOffset"), entity.get("endOffset")]
                               for entity in value["entities"] if isinstance(entity, Mapping)], ensure_ascii=False)
        ticked = switched_on(dict(value))  # crowd-checkbox, crowd-radio-button: {<value>: true | false, ...}
        if ticked is not None:
            return "; ".join(ticked)
    return json.dumps(value, ensure_ascii=False)


def answer_rows(answers: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's columns and rows from ``(object id, answer)`` pairs (an answer as a worker-response file holds it:
    ``workerId``, ``answerContent``, ``submissionTime``, ...), sorted by object, then submission."""
    questions: dict[str, None] = {}
    table = []
    in_order = sorted(answers, key=lambda item: (_object_order(item[0]), str(item[1].get("submissionTime", ""))))
    for object_id, answer in in_order:
        content = answer.get("answerContent") or {}
        row: dict[str, Any] = {"object": object_id, "worker": answer.get("workerId", ""),
                               "started": answer.get("acceptanceTime", ""), "submitted": answer.get("submissionTime", ""),
                               "seconds": answer.get("timeSpentInSeconds", "")}
        for question, cell in question_cells(content).items():
            questions.setdefault(question, None)
            row[f"answer: {question}"] = cell
        table.append(row)
    return [*FIXED_COLUMNS, *(f"answer: {question}" for question in questions)], table


def question_cells(content: Mapping[str, Any]) -> dict[str, Any]:
    """An answer's cell per question: each field as ``answer_cell`` has it, and a question's crowd-radio-buttons or
    crowd-checkboxes, each a field of its own (``gt_common.questions.button_name``: ``<question>:<label>``), as one
    cell naming the ones ticked."""
    cells: dict[str, Any] = {}
    ticked: dict[str, list[str]] = {}
    for name, value in content.items():
        question, separator, _label = name.partition(BUTTON_SEPARATOR)
        if separator and isinstance(value, Mapping) and len(value) == 1 and isinstance(next(iter(value.values())), bool):
            ((submitted, on),) = value.items()
            ticked.setdefault(question, [])
            if on:
                ticked[question].append(button_label(question, name, submitted))
            cells.setdefault(question, "")
        else:
            cells[name] = answer_cell(value)
    for question, labels in ticked.items():
        cells[question] = "; ".join(labels)
    return cells


def _object_order(object_id: str) -> tuple[int, Any]:
    return (0, int(object_id)) if object_id.isascii() and object_id.isdigit() else (1, object_id)


def write_csv(answers: Iterable[tuple[str, Mapping[str, Any]]], out: io.TextIOBase) -> int:
    """Write the table; the number of rows."""
    return write_table(*answer_rows(answers), out)


def read_folder(folder: Path) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
    """Every answer of the worker-response files under ``folder`` with its object id (the file's folder), and what
    was left out, each named with the reason. Files under a ``worker-response`` folder; when there is none (a job's
    answers copied down to a folder of another name, ``aws s3 cp --recursive .../iteration-1/ ./answers``), the files
    laid out as its are: ``<object>/<file>.json``, or ``iteration-<n>/<object>/<file>.json``."""
    above = folder.resolve().parts  # resolved once: per file it was a quarter of the time at 30,000 answers
    found = [(path, path.relative_to(folder).parts) for path in sorted(folder.rglob("*.json"))]
    found = [(path, inside) for path, inside in found
             if path.is_file() and not any(part.startswith(".") for part in inside)]
    chosen = [path for path, inside in found if WORKER_RESPONSES_FOLDER in (*above, *inside[:-2])]
    if not chosen:  # a job's other files (batches, reports, manifests) are left out only beside a worker-response
        chosen = [path for path, inside in found
                  if len(inside) == 2 or len(inside) == 3 and re.fullmatch(r"iteration-\d+", inside[0])]
    answers, left_out = [], []
    for path in chosen:
        try:
            in_file = worker_response_answers(path.read_bytes())
        except (OSError, ValueError) as error:
            left_out.append(f"{path}: {str(error)[:200]}")
            continue
        answers.extend((path.parent.name, answer) for answer in in_file)
    return answers, left_out


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/answers_csv.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a job's worker-response folder (or a folder above it, or a copy "
                                                  "of its iteration folder under any name)")
    parser.add_argument("-o", "--output", type=Path, help="the CSV file to write (default: standard output)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not args.folder.is_dir():
        parser.exit(2, f"{parser.prog}: error: {args.folder} is not a folder\n")
    answers, left_out = read_folder(args.folder)
    for problem in left_out:
        print(f"left out {problem}", file=sys.stderr)
    if not answers:
        parser.exit(2, f"{parser.prog}: error: no worker-response file under {args.folder} (a job's answers are in "
                       f"{WORKER_RESPONSES}<object>/ of its output folder)\n")
    table = io.StringIO()
    count = write_csv(answers, table)
    try:
        if args.output is None:
            sys.stdout.write(table.getvalue())
        else:
            with args.output.open("w", encoding="utf-8-sig", newline="") as out:  # the BOM: Excel reads it as UTF-8
                out.write(table.getvalue())
    except OSError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    if args.output is not None:
        print(f"{counted(count, 'answer')} written to {args.output}", file=sys.stderr)
    return 1 if left_out else 0


if __name__ == "__main__":
    sys.exit(main())
